"""CloudFormation's per-template quotas, held against the central stack as CloudFormation sees it:
after the SAM transform (each EventBridge event of a function becomes a rule and a permission).
A template past them lints clean and fails only at deploy, so `make test` checks them here.

Usage: stack_limits.py TEMPLATE
"""

import os
import sys

from cfnlint.decode import decode
from samtranslator.translator.transform import transform

# https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html
LIMITS = {"Resources": 500, "Parameters": 200, "Outputs": 200}


class NoManagedPolicies:
    def load(self):
        return {}


def main(path):
    template, problems = decode(path)
    if problems:
        sys.exit(f"{path}: cannot be read: {problems}")
    before = len(template.get("Resources", {}))
    # The transform wants an S3 code location; where the code is built does not change the count.
    for r in template["Resources"].values():
        if r.get("Type") == "AWS::Serverless::Function":
            r["Properties"]["CodeUri"] = "s3://quell-artifacts/function.zip"
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    out = transform(template, {}, NoManagedPolicies())
    failed = False
    for section, limit in LIMITS.items():
        n = len(out.get(section, {}))
        print(f"{path}: {n} of {limit} {section.lower()} after the SAM transform"
              + (f" ({before} before it)" if section == "Resources" else ""))
        if n > limit:
            print(f"{path}: {section.lower()}: {n} is past CloudFormation's quota of {limit}; "
                  "the stack would fail to deploy", file=sys.stderr)
            failed = True
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
