"""A second EventBridge matcher for quell's routing test: moto's own (moto.events.models.EventPattern).

Reads {"patterns": [pattern, ...], "events": [event, ...]} on stdin and prints, for every
(pattern, event) pair, true/false/null: null where moto's matcher cannot judge the pair (moto
flattens objects but not arrays of objects, so a pattern path that crosses an array of objects in
the event, such as Security Hub's `detail.findings`, is outside the subset it supports).
"""

import json
import sys

from moto.events.models import EventPattern


def crosses_array_of_objects(pattern, event):
    """Whether a path of `pattern` passes through a list of objects in `event`."""
    if not isinstance(pattern, dict):
        return False
    for key, sub in pattern.items():
        if key == "$or":
            if any(crosses_array_of_objects(p, event) for p in sub):
                return True
            continue
        value = event.get(key) if isinstance(event, dict) else None
        if isinstance(value, list) and any(isinstance(v, dict) for v in value):
            return True
        if isinstance(sub, dict) and crosses_array_of_objects(sub, value if isinstance(value, dict) else {}):
            return True
    return False


def main():
    data = json.load(sys.stdin)
    out = []
    for pattern in data["patterns"]:
        matcher = EventPattern(json.dumps(pattern), pattern)
        row = []
        for event in data["events"]:
            if crosses_array_of_objects(pattern, event):
                row.append(None)
            else:
                row.append(bool(matcher.matches_event(event)))
        out.append(row)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
