"""Runs one Cloud Custodian policy the way an operator would and reports what it cost.

    python custodian_run.py CUSTODIAN POLICY.json OUTDIR ROLE_ARN REGION

Prints one JSON line: wall seconds from process start to exit, the peak resident memory of the
custodian process (getrusage of the waited child), its exit code, the resources it acted on, and
the tail of its stderr.
"""

import json
import os
import resource
import subprocess
import sys
import time


def main():
    custodian, policy, outdir, role, region = sys.argv[1:6]
    cmd = [custodian, "run", "-s", outdir, "--region", region, "--assume", role, "--cache-period", "0", policy]
    start = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, env=os.environ.copy())
    seconds = time.perf_counter() - start
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    acted = 0
    for root, _dirs, files in os.walk(outdir):
        if "resources.json" in files:
            with open(os.path.join(root, "resources.json")) as f:
                acted += len(json.load(f))
    print(json.dumps({"seconds": seconds, "maxrss_kb": rss, "rc": p.returncode, "resources": acted,
                      "stderr": p.stderr.decode("utf-8", "replace")[-1500:]}))


if __name__ == "__main__":
    main()
