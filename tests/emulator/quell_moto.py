"""moto's server, with the gaps quell's tests meet closed in the open.

Started by the Rust test harness (tests/src/emulator.rs) and by `make demo`:

    .venv/bin/python tests/emulator/quell_moto.py [--port 0]

It binds 127.0.0.1 only, on the given port (0: a free one), and prints one line
`QUELL_MOTO_READY <port>` when it accepts connections.

What it adds to moto 5.2.5, and why:
  * Security Hub BatchUpdateFindings (moto answers 404), scoped as in AWS: the administrator
    (QUELL_MOTO_HUB_ADMIN, the central account) updates any member's finding in the region, a
    member only its own (AccessDeniedException in UnprocessedFindings).
  * Security Hub GetFindings filters (moto ignores them): Id, ProductArn, AwsAccountId,
    WorkflowStatus, RecordState, ComplianceSecurityControlId, ComplianceStatus and Region with
    EQUALS; the administrator sees the region's accounts, a member only its own; any other filter
    is refused. Pages as Security Hub's (moto returns everything): MaxResults 1 to 100 (100 unless
    asked, anything else InvalidInputException), the rest behind an opaque NextToken that holds
    only for the same filters (another is InvalidInputException).
  * Security Hub BatchImportFindings scoped as in AWS (moto takes anything): an account imports
    only into itself under its own product; AWS's own products' findings are seeded by the
    harness with `X-Quell-Seed: aws`, standing for AWS's integration. As in AWS, a finding's
    Region is the Region it is imported in (moto keeps whatever the finding says, or nothing).
  * The new Security Hub (OCSF), which moto does not have: BatchUpdateFindingsV2 and GetFindingsV2
    through moto's dispatch (so IAM in force judges securityhub:BatchUpdateFindingsV2). Findings
    are seeded as AWS's integrations produce them, with POST /_quell/securityhub-v2-findings
    {"findings": [OCSF findings]}. As AWS: MetadataUids or FindingIdentifiers (CloudAccountUid,
    FindingInfoUid, MetadataProductUid), never both, 1 to 100; StatusId and SeverityId among OCSF's
    ids, a Comment of 1 to 512 characters, something to set, else ValidationException; the
    administrator updates and reads its members' findings, a member only its own (another's is
    ResourceNotFoundException); a finding lives in its cloud.region (no home-Region aggregation:
    stricter than AWS with an aggregator). GetFindingsV2 filters with EQUALS on string fields and
    Eq on status_id, severity_id and compliance.status_id (anything else is refused), pages as
    GetFindings above.
  * Security Hub standards and AWS's integrations (moto has neither): BatchEnableStandards,
    BatchDisableStandards, GetEnabledStandards, EnableImportFindingsForProduct,
    DisableImportFindingsForProduct and ListEnabledProductsForImport, through moto's dispatch (so
    IAM in force judges them). As AWS: EnableSecurityHub enables the default standards (FSBP 1.0.0,
    CIS 1.2.0) unless EnableDefaultStandards is false and subscribes the account to AWS's
    integrations, DisableSecurityHub drops them all, every call needs Security Hub on in the
    account and Region (InvalidAccessException); only standards Security Hub offers and AWS's own
    products are taken (InvalidInputException), an account touches only its own subscriptions, 1
    to 25 items a batch, paging as GetFindings. The minutes AWS takes to enable or disable a
    standard are one read: the account's next GetEnabledStandards after a change finds it PENDING
    or DELETING, the one after READY or gone.
  * GuardDuty as AWS has it: one detector per account and Region (a second CreateDetector is
    BadRequestException; moto makes any number), and UpdateDetector's `features` change only the
    protection plans they name (moto replaces the whole list).
  * EC2 ModifyNetworkInterfaceAttribute on an attached interface: moto keeps reporting the
    instance's launch groups on the interface (its group_set is a union), so replacing an
    interface's groups never shows. As in AWS, the instance's groups become its interfaces' groups.
  * CloudTrail LookupEvents (moto has none). Tests seed the member account's management events
    with POST /_quell/cloudtrail-events {"account", "region", "events": [CloudTrail records]};
    LookupEvents answers from them, filtered by StartTime/EndTime and one LookupAttribute, newest
    first, 50 a page with NextToken, as CloudTrail does; two attributes, an unknown key or a
    MaxResults over 50 are refused as CloudTrail refuses them.
  * AWS Config DescribeAggregateComplianceByConfigRules and
    GetAggregateComplianceDetailsByConfigRule (moto has neither), through moto's dispatch (so IAM
    in force judges config:<Action>). Tests seed member accounts' rule evaluations with POST
    /_quell/config-evaluations {"account", "region", "evaluations": [{"rule", "resourceType",
    "resourceId", "compliance": COMPLIANT or NON_COMPLIANT, "annotation"?}]} (a later one of the
    same resource and rule replaces the earlier). As in AWS, the aggregator must be the caller's,
    in the caller's Region (NoSuchConfigurationAggregatorException), and sees only its sources'
    accounts and Regions (an organization source: any account, in its Regions); a rule of an
    account and Region is NON_COMPLIANT if any of its resources is; filters, required fields,
    Limit (at most 1000, and 100 for details: ValidationException) and opaque NextTokens
    (InvalidNextTokenException) as Config has them. Not modelled: a source account's aggregation
    authorization (the seed stands for evaluations the aggregator has collected).
  * IAM Access Analyzer UpdateFindings and GetFinding (moto has no Access Analyzer). Tests seed
    an analyzer's findings with POST /_quell/access-analyzer-findings {"analyzerArn", "findings":
    [{"id", "resource", "resourceType", "principal"?, "isPublic"?}]}; as in AWS, only the
    analyzer's own account may read or update them (others get AccessDeniedException), an unknown
    finding is ResourceNotFoundException, and UpdateFindings sets ACTIVE or ARCHIVED; the caller's
    IAM policies must allow access-analyzer:UpdateFindings or GetFinding on the analyzer.
  * AWS Config PutDeliveryChannel refuses a bucket no account has (NoSuchBucketException), as AWS
    does; moto only checks that one is named.
  * IAM Access Analyzer analyzers: CreateAnalyzer, GetAnalyzer, ListAnalyzers (by type, paged),
    DeleteAnalyzer, each account's own in its own Region. As in AWS: a name is a letter then
    letters, digits, `_.-` (1 to 255), the type one Access Analyzer has, a name already taken is
    ConflictException, a second account-level analyzer of one type ServiceQuotaExceededException
    (AWS's quota: 1 per type per account per Region), an organization analyzer only in the
    organization's management account (ValidationException; delegated administrators are not
    modelled). A new analyzer reads CREATING on the account's next read of it, ACTIVE after. Every
    Access Analyzer call is authorized as `access-analyzer:<Action>` on the analyzer's ARN by the
    caller's IAM policies, as moto authorizes the services it has.
  * Time passing for an IAM access key (moto dates a key at its creation, and marks it used only
    when it signs a request): POST /_quell/iam-key-age {"account", "accessKeyId", "createDate":
    ISO 8601, "lastUsed": ISO 8601 or null (never used)} sets what ListAccessKeys and
    GetAccessKeyLastUsed read. Only what time does: a key only gets older, no date is in the
    future, no use precedes the key, and its user is made at least as old as the key.
  * Time passing for an IAM user's console password (moto dates a login profile at its user's
    creation and never marks a password used): POST /_quell/iam-password-age {"account",
    "userName", "loginProfileCreate": ISO 8601 (optional), "passwordLastUsed": ISO 8601 or null
    (never used)} sets what GetLoginProfile's CreateDate and GetUser's PasswordLastUsed read. Only
    what time does: the profile only gets older (its user with it, as moto keeps one date for
    both), nothing is dated in the future, the password is not used before the profile exists,
    and a recorded use is not taken back. A user without a login profile is refused.
  * Security Hub imports visible late, as in AWS: POST /_quell/hub-import-delay {"seconds": n}; a
    finding imported after that (not a seeded AWS one) is absent from GetFindings and
    BatchUpdateFindings (FindingNotFound) for n seconds.
  * Fault injection, for tests of what quell does when AWS fails: POST /_quell/faults with a list
    of {"service", "action" (prefix of the call log's action), "account"?, "skip"?, "count",
    "status", "code", "message"?, "delay"?}; a matching call is answered with that error in its
    protocol's shape (or delayed by `delay` seconds); with `"pass": true` the call is answered as
    usual, `delay` seconds late (a slow service, for timeout tests). DELETE clears them.
  * IAM in force, when a test asks (POST /moto-api/reset-auth "0", moto's own switch): moto
    authorizes S3 calls under its operation names (GetPublicAccessBlock), not the IAM actions a
    policy grants (s3:GetBucketPublicAccessBlock); the IAM action is put back here, so a policy is
    judged by the names AWS judges it by, no looser. The SigV4 signature is not recomputed (moto
    disagrees with the Rust SDK on some bodies); the key must still be a known identity's.
    Where moto's policy evaluation is looser than IAM's, IAM's: a statement with NotResource applies
    to every resource but those (moto read a Deny with NotResource as an Allow of everything); a
    condition on a key the call puts in its request context is evaluated (StringEquals/Like,
    ArnEquals/Like, their Not forms, ForAnyValue/ForAllValues, IfExists), and a statement whose
    condition does not hold does not apply. The keys: events:TargetArn at PutTargets, and
    iam:PassedToService where a call passes a role. Conditions on other keys are moto's: taken as
    met. EventBridge rule calls are authorized on the rule's ARN (moto: `*`), and PutTargets checks
    the caller's iam:PassRole on each target's RoleArn, passed to events.amazonaws.com; the
    recorder's role at PutConfigurationRecorder is passed to config.amazonaws.com.
  * What SNS delivered (moto keeps it, serves it nowhere): GET /_quell/sns-messages lists each
    topic's published messages, so tests read the message a person would get.
  * CloudWatch Logs JSON filter patterns (`{ $.a.b = "x" && ... }`), which moto does not
    evaluate (FilterLogEvents returns every event for them): evaluated here as CloudWatch Logs
    does for the forms CloudTrail metric filters use (`=`, `!=`, `<`, `>`, `<=`, `>=` on strings
    with `*` wildcards and on numbers, EXISTS, NOT EXISTS, IS NULL/TRUE/FALSE, `&&`, `||`,
    parentheses; `*` the only wildcard; a number compares only with an unquoted number); where
    CloudWatch Logs' reading is not documented, the stricter one: an absent property, an object,
    an array or a boolean matches no comparison (IS TRUE/FALSE tests booleans). A JSON pattern this does not
    understand is InvalidParameterException, at PutMetricFilter as at FilterLogEvents (stricter than
    moto, which takes any text). Other patterns are moto's. FilterLogEvents is authorized against
    the log group in the form AWS's refusals name (`…:log-group:NAME:log-stream:`; moto
    authorizes every Logs call against `*`), so a policy that grants one log group grants no
    other, and one that names only the bare group ARN grants nothing.
  * A call log: every request is recorded as (account, service, action, target) and served at
    GET /_quell/calls (DELETE clears it), so tests assert on the calls made, not on "no error".
Nothing else is changed; everything else is moto as released.
"""

import argparse
import base64
import datetime
import hashlib
import io
import json
import os
import re
import sys
import threading
from xml.sax.saxutils import escape as _xml_escape
import time as _time
from urllib.parse import parse_qs

from moto.securityhub import urls as securityhub_urls
from moto.securityhub.models import securityhub_backends
from moto.securityhub.responses import SecurityHubResponse
from moto.server import DomainDispatcherApplication, create_backend_app
from moto.moto_server.werkzeug_app import MotoRequestHandler
from werkzeug.exceptions import HTTPException as _HTTPException
from werkzeug.serving import make_server

# ------------------------------------------------------------------ Security Hub


# Imports become visible to reads and updates only after a delay, as in AWS (an imported finding
# reaches the administrator's aggregated view some time later): POST /_quell/hub-import-delay
# {"seconds": n} sets it for later imports. (product ARN, id) -> time the finding is visible from.
_IMPORT_DELAY = {"seconds": 0.0}
_VISIBLE_AT = {}


def _visible(f):
    import time as _time

    return _time.time() >= _VISIBLE_AT.get((f.data.get("ProductArn"), f.id), 0)


def _region_findings(region):
    """Every finding of the region, in every account that has Security Hub state, once visible."""
    for _account, per_region in list(securityhub_backends.items()):
        if dict.__contains__(per_region, region):
            backend = dict.__getitem__(per_region, region)
            yield from [f for f in list(backend.findings) if _visible(f)]


def _now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _json_error(code, message, status=400):
    """An error answer of a JSON protocol. moto takes a handler's status from the headers'
    "status" (a bare `400, {}, body` goes out as 200, an error the SDKs would read as success)."""
    return status, {"status": status, "x-amzn-errortype": code}, json.dumps({"__type": code, "message": message})


def batch_update_findings(self):
    body = json.loads(self.body or "{}")
    processed, unprocessed = [], []
    identifiers = body.get("FindingIdentifiers") or []
    if not 1 <= len(identifiers) <= 100:
        return _json_error("InvalidInputException", "FindingIdentifiers must hold 1 to 100 items")
    for ident in identifiers:
        found = next(
            (
                f
                for f in _region_findings(self.region)
                if f.id == ident.get("Id") and f.data.get("ProductArn") == ident.get("ProductArn")
            ),
            None,
        )
        if found is None:
            unprocessed.append(
                {"FindingIdentifier": ident, "ErrorCode": "FindingNotFound", "ErrorMessage": "Finding Not Found"}
            )
            continue
        if not _may_see(self, found.data):
            unprocessed.append(
                {
                    "FindingIdentifier": ident,
                    "ErrorCode": "AccessDeniedException",
                    "ErrorMessage": f"account {self.current_account} may update only its own findings",
                }
            )
            continue
        data = found.data
        if "Workflow" in body:
            data["Workflow"] = {**(data.get("Workflow") or {}), **body["Workflow"]}
        if "Note" in body:
            note = body["Note"]
            data["Note"] = {"Text": note.get("Text"), "UpdatedBy": note.get("UpdatedBy"), "UpdatedAt": _now()}
        if "UserDefinedFields" in body:
            data["UserDefinedFields"] = {**(data.get("UserDefinedFields") or {}), **body["UserDefinedFields"]}
        for key in ("Severity", "VerificationState", "Confidence", "Criticality", "Types", "RelatedFindings"):
            if key in body:
                data[key] = body[key]
        data["UpdatedAt"] = _now()
        processed.append(ident)
    return 200, {}, json.dumps({"ProcessedFindings": processed, "UnprocessedFindings": unprocessed})


_FILTER_FIELDS = {
    "Id": lambda d: d.get("Id"),
    "ProductArn": lambda d: d.get("ProductArn"),
    "AwsAccountId": lambda d: d.get("AwsAccountId"),
    "WorkflowStatus": lambda d: (d.get("Workflow") or {}).get("Status"),
    "RecordState": lambda d: d.get("RecordState"),
    "ComplianceSecurityControlId": lambda d: (d.get("Compliance") or {}).get("SecurityControlId"),
    "ComplianceStatus": lambda d: (d.get("Compliance") or {}).get("Status"),
    "Region": lambda d: d.get("Region"),
}


def _page_token(offset, request):
    """An opaque token for the page at `offset` of the answer to `request` (what decides the
    answer's order and content, not the page size)."""
    digest = hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()[:16]
    return base64.urlsafe_b64encode(json.dumps({"offset": offset, "request": digest}).encode()).decode()


def _page_offset(token, request):
    """The offset a token of `_page_token` holds, or None when it is not one for this request."""
    try:
        decoded = json.loads(base64.urlsafe_b64decode(token.encode()))
        offset = decoded["offset"]
        digest = hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()[:16]
    except Exception:
        return None
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0 or decoded.get("request") != digest:
        return None
    return offset


def get_findings(self):
    body = json.loads(self.body or "{}")
    filters = body.get("Filters") or {}
    unknown = [k for k in filters if k not in _FILTER_FIELDS]
    if unknown:
        return _json_error("InvalidInputException", f"quell_moto does not filter on {unknown}")
    compared = {c.get("Comparison", "EQUALS") for conditions in filters.values() for c in conditions}
    if compared - {"EQUALS"}:
        return _json_error("InvalidInputException", f"quell_moto filters only with EQUALS, not {sorted(compared - {'EQUALS'})}")

    def keep(data):
        for key, conditions in filters.items():
            value = _FILTER_FIELDS[key](data)
            if not any(c.get("Comparison", "EQUALS") == "EQUALS" and c.get("Value") == value for c in conditions):
                return False
        return True

    # As Security Hub: 1 to 100 findings a page (100 unless asked), the rest behind a NextToken
    # that holds only for the same filters and sort.
    limit = body.get("MaxResults", 100)
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 100:
        return _json_error("InvalidInputException", f"MaxResults must be 1 to 100, not {limit!r}")
    request = {"Filters": filters, "SortCriteria": body.get("SortCriteria")}
    offset = 0
    if body.get("NextToken"):
        offset = _page_offset(str(body["NextToken"]), request)
        if offset is None:
            return _json_error("InvalidInputException", "Invalid NextToken")
    findings = [f.data for f in _region_findings(self.region) if keep(f.data) and _may_see(self, f.data)]
    reply = {"Findings": findings[offset : offset + limit]}
    if offset + limit < len(findings):
        reply["NextToken"] = _page_token(offset + limit, request)
    return 200, {}, json.dumps(reply)


# The Security Hub administrator of the emulated organization (the central account): it may read
# and update every member's findings in the region; a member only its own.
_HUB_ADMIN = os.environ.get("QUELL_MOTO_HUB_ADMIN", "123456789012")


def _may_see(self, data):
    return self.current_account == _HUB_ADMIN or data.get("AwsAccountId") == self.current_account


def batch_import_findings(self):
    """As AWS: an account imports only into itself, under its own product
    (`arn:…:securityhub:REGION:ACCOUNT:product/ACCOUNT/default`). Findings of AWS's own products
    (`::product/aws/…`) are made by AWS's integrations: the test harness seeds them with the header
    `X-Quell-Seed: aws`, which stands for that integration and which quell never sends."""
    body = json.loads(self.body or "{}")
    account = self.current_account
    seeding_as_aws = self.headers.get("X-Quell-Seed") == "aws"
    kept, refused = [], []
    for f in body.get("Findings", []):
        parts = (f.get("ProductArn") or "").split(":", 5)
        product_account = parts[4] if len(parts) == 6 else None
        own = product_account == account and parts[5] == f"product/{account}/default"
        by_aws = seeding_as_aws and product_account == "" and parts[5].startswith("product/aws/")
        if f.get("AwsAccountId") == account and (own or by_aws):
            # As AWS: Security Hub sets a finding's Region itself, to the Region it is imported in.
            kept.append(dict(f, Region=self.region))
        else:
            refused.append(
                {
                    "Id": f.get("Id", ""),
                    "ErrorCode": "AccessDeniedException",
                    "ErrorMessage": f"account {account} may import findings only into itself, under its own product",
                }
            )
    if _IMPORT_DELAY["seconds"] > 0 and not seeding_as_aws:
        import time as _time

        known = {(f.data.get("ProductArn"), f.id) for f in self.securityhub_backend.findings}
        for f in kept:
            key = (f.get("ProductArn"), f.get("Id"))
            if key not in known:
                _VISIBLE_AT[key] = _time.time() + _IMPORT_DELAY["seconds"]
    failed, succeeded, failures = self.securityhub_backend.batch_import_findings(findings=kept)
    failures = [{"Id": x.get("Id"), "ErrorCode": x.get("ErrorCode"), "ErrorMessage": x.get("ErrorMessage")} for x in failures]
    return 200, {}, json.dumps(
        {"FailedCount": failed + len(refused), "SuccessCount": succeeded, "FailedFindings": failures + refused}
    )


securityhub_urls.url_paths["{0}/findings/batchupdate$"] = SecurityHubResponse.dispatch
SecurityHubResponse.batch_import_findings = batch_import_findings
SecurityHubResponse.batch_update_findings = batch_update_findings
SecurityHubResponse.get_findings = get_findings

# ------------------------------------------------------------------ Security Hub, new (OCSF)

# The new Security Hub's findings: OCSF documents that AWS's integrations produce (there is no
# API to import one). Seeded with POST /_quell/securityhub-v2-findings {"findings": [OCSF]}; a
# later finding with the same metadata.uid replaces the earlier.
_V2_FINDINGS = []
_V2_LOCK = threading.Lock()
_V2_STATUS = {0: "Unknown", 1: "New", 2: "In Progress", 3: "Suppressed", 4: "Resolved", 5: "Archived", 99: "Other"}
_V2_SEVERITY = {0: "Unknown", 1: "Informational", 2: "Low", 3: "Medium", 4: "High", 5: "Critical", 6: "Fatal", 99: "Other"}


def seed_securityhub_v2(seed):
    findings = seed.get("findings")
    if not isinstance(findings, list) or not findings:
        return "findings: a non-empty list of OCSF findings"
    for f in findings:
        try:
            for value in (
                f["cloud"]["account"]["uid"],
                f["cloud"]["region"],
                f["metadata"]["uid"],
                f["metadata"]["product"]["uid"],
                f["finding_info"]["uid"],
            ):
                if not isinstance(value, str) or not value:
                    raise TypeError
        except (KeyError, TypeError):
            return "each finding needs cloud.account.uid, cloud.region, metadata.uid, metadata.product.uid and finding_info.uid"
    with _V2_LOCK:
        for f in findings:
            _V2_FINDINGS[:] = [g for g in _V2_FINDINGS if g["metadata"]["uid"] != f["metadata"]["uid"]]
            _V2_FINDINGS.append(json.loads(json.dumps(f)))
    return None


def _v2_visible(self, f):
    """As the new Security Hub: the administrator sees its members' findings, a member only its own;
    a finding is read and updated in its own Region (a home-Region aggregator is not modelled, so
    this is stricter than AWS with one, never looser)."""
    account = f["cloud"]["account"]["uid"]
    return f["cloud"]["region"] == self.region and (self.current_account == _HUB_ADMIN or account == self.current_account)


def _v2_identifier(f):
    return {
        "CloudAccountUid": f["cloud"]["account"]["uid"],
        "FindingInfoUid": f["finding_info"]["uid"],
        "MetadataProductUid": f["metadata"]["product"]["uid"],
    }


def _validation(message):
    return _json_error("ValidationException", message)


def batch_update_findings_v2(self):
    """BatchUpdateFindingsV2 as AWS validates it: MetadataUids or FindingIdentifiers (not both, 1 to
    100), a StatusId, SeverityId or Comment to set, StatusId and SeverityId among OCSF's ids, a
    Comment of 1 to 512 characters; a finding the caller may not see is ResourceNotFoundException
    in UnprocessedFindings."""
    body = json.loads(self.body or "{}")
    uids, idents = body.get("MetadataUids") or [], body.get("FindingIdentifiers") or []
    if not all(isinstance(u, str) and u for u in uids):
        return _validation("MetadataUids must be non-empty strings")
    if uids and idents:
        return _validation("Customers cannot use MetadataUids together with FindingIdentifiers")
    items = uids or idents
    if not 1 <= len(items) <= 100:
        return _validation("MetadataUids or FindingIdentifiers must hold 1 to 100 items")
    status, severity, comment = body.get("StatusId"), body.get("SeverityId"), body.get("Comment")
    if status is None and severity is None and comment is None:
        return _validation("at least one of StatusId, SeverityId or Comment is required")
    if status is not None and (isinstance(status, bool) or status not in _V2_STATUS):
        return _validation(f"StatusId {status!r} is not one of {sorted(_V2_STATUS)}")
    if severity is not None and (isinstance(severity, bool) or severity not in _V2_SEVERITY):
        return _validation(f"SeverityId {severity!r} is not one of {sorted(_V2_SEVERITY)}")
    if comment is not None and (not isinstance(comment, str) or not 1 <= len(comment) <= 512 or not comment.strip()):
        return _validation("Comment must be 1 to 512 characters, not only spaces")
    processed, unprocessed = [], []
    with _V2_LOCK:
        for item in items:
            if uids:
                key = {"MetadataUid": item}
                match = lambda f: f["metadata"]["uid"] == item  # noqa: E731
            else:
                key = {"FindingIdentifier": item}
                parts = [item.get(k) if isinstance(item, dict) else None for k in ("CloudAccountUid", "FindingInfoUid", "MetadataProductUid")]
                if not all(isinstance(p, str) and p for p in parts):
                    unprocessed.append(dict(key, ErrorCode="ValidationException", ErrorMessage="a FindingIdentifier needs CloudAccountUid, FindingInfoUid and MetadataProductUid"))
                    continue
                match = lambda f: _v2_identifier(f) == item  # noqa: E731
            found = next((f for f in _V2_FINDINGS if match(f) and _v2_visible(self, f)), None)
            if found is None:
                unprocessed.append(dict(key, ErrorCode="ResourceNotFoundException", ErrorMessage="Finding not found"))
                continue
            if status is not None:
                found["status_id"], found["status"] = status, _V2_STATUS[status]
            if severity is not None:
                found["severity_id"], found["severity"] = severity, _V2_SEVERITY[severity]
            if comment is not None:
                found["comment"] = comment
            now = datetime.datetime.now(datetime.timezone.utc)
            info = found.setdefault("finding_info", {})
            info["modified_time"] = int(now.timestamp() * 1000)
            info["modified_time_dt"] = now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"
            processed.append(dict(key, MetadataUid=found["metadata"]["uid"]))
    return 200, {}, json.dumps({"ProcessedFindings": processed, "UnprocessedFindings": unprocessed})


_V2_STRING_FIELDS = {
    "metadata.uid": lambda f: f["metadata"]["uid"],
    "metadata.product.uid": lambda f: f["metadata"]["product"]["uid"],
    "finding_info.uid": lambda f: f["finding_info"]["uid"],
    "cloud.account.uid": lambda f: f["cloud"]["account"]["uid"],
    "cloud.region": lambda f: f["cloud"]["region"],
    "compliance.control": lambda f: (f.get("compliance") or {}).get("control"),
    "compliance.status": lambda f: (f.get("compliance") or {}).get("status"),
    "comment": lambda f: f.get("comment"),
}
_V2_NUMBER_FIELDS = {
    "status_id": lambda f: f.get("status_id"),
    "severity_id": lambda f: f.get("severity_id"),
    "compliance.status_id": lambda f: (f.get("compliance") or {}).get("status_id"),
}


def _v2_composite(c):
    """A CompositeFilter as a predicate, or the reason it is refused: string filters with EQUALS and
    number filters with Eq on the fields above, joined by the filter's Operator (AND unless OR)."""
    tests = []
    for sf in c.get("StringFilters") or []:
        name, flt = sf.get("FieldName"), sf.get("Filter") or {}
        if name not in _V2_STRING_FIELDS or flt.get("Comparison", "EQUALS") != "EQUALS":
            return None, f"quell_moto filters strings only with EQUALS on {sorted(_V2_STRING_FIELDS)}, not {name} {flt.get('Comparison')}"
        tests.append(lambda f, n=name, v=flt.get("Value"): _V2_STRING_FIELDS[n](f) == v)
    for nf in c.get("NumberFilters") or []:
        name, flt = nf.get("FieldName"), nf.get("Filter") or {}
        if name not in _V2_NUMBER_FIELDS or set(flt) != {"Eq"}:
            return None, f"quell_moto filters numbers only with Eq on {sorted(_V2_NUMBER_FIELDS)}, not {name} {sorted(flt)}"
        tests.append(lambda f, n=name, v=flt["Eq"]: _V2_NUMBER_FIELDS[n](f) == v)
    other = [k for k in c if k not in ("StringFilters", "NumberFilters", "Operator") and c[k]]
    if other:
        return None, f"quell_moto does not filter with {other}"
    if c.get("Operator", "AND") == "OR":
        return (lambda f: any(t(f) for t in tests)), None
    return (lambda f: all(t(f) for t in tests)), None


def get_findings_v2(self):
    body = json.loads(self.body or "{}")
    filters = body.get("Filters") or {}
    preds = []
    for c in filters.get("CompositeFilters") or []:
        pred, why = _v2_composite(c)
        if why:
            return _validation(why)
        preds.append(pred)
    any_of = filters.get("CompositeOperator", "AND") == "OR"
    limit = body.get("MaxResults", 100)
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 100:
        return _validation(f"MaxResults must be 1 to 100, not {limit!r}")
    request = {"Filters": filters, "SortCriteria": body.get("SortCriteria")}
    offset = 0
    if body.get("NextToken"):
        offset = _page_offset(str(body["NextToken"]), request)
        if offset is None:
            return _validation("Invalid NextToken")
    with _V2_LOCK:
        found = [
            json.loads(json.dumps(f))
            for f in _V2_FINDINGS
            if _v2_visible(self, f) and (not preds or (any if any_of else all)(p(f) for p in preds))
        ]
    reply = {"Findings": found[offset : offset + limit]}
    if offset + limit < len(found):
        reply["NextToken"] = _page_token(offset + limit, request)
    return 200, {}, json.dumps(reply)


securityhub_urls.url_paths["{0}/findingsv2$"] = SecurityHubResponse.dispatch
securityhub_urls.url_paths["{0}/findingsv2/batchupdatev2$"] = SecurityHubResponse.dispatch
SecurityHubResponse.batch_update_findings_v2 = batch_update_findings_v2
SecurityHubResponse.get_findings_v2 = get_findings_v2

# ------------------------------------------------------------------ Security Hub standards and integrations

# moto 5.2.5 has no standards and no product integrations. As Security Hub: EnableSecurityHub
# enables the default standards (FSBP 1.0.0 and CIS 1.2.0) unless EnableDefaultStandards is false,
# and subscribes the account to AWS's own integrations; DisableSecurityHub disables them all.
# (account, region) -> {subscription ARN: [standards ARN, status]}, and -> [product subscription
# ARNs]. A standard is PENDING, or DELETING, for the account's next GetEnabledStandards, then READY
# or gone: AWS takes minutes for either, so the first read after a change never finds it done.
_STANDARDS = {}
_PRODUCTS = {}
_STD_LOCK = threading.Lock()
# The standards Security Hub offers (DescribeStandards), by the path their ARNs end with; CIS 1.2.0's
# ARN is the older `arn:aws:securityhub:::ruleset/…`.
_STANDARD_PATHS = (
    "aws-foundational-security-best-practices/v/1.0.0",
    "cis-aws-foundations-benchmark/v/1.2.0",
    "cis-aws-foundations-benchmark/v/1.4.0",
    "cis-aws-foundations-benchmark/v/3.0.0",
    "nist-800-53/v/5.0.0",
    "nist-800-171/v/2.0.0",
    "pci-dss/v/3.2.1",
    "pci-dss/v/4.0.1",
    "aws-resource-tagging-standard/v/1.0.0",
)
_DEFAULT_STANDARDS = ("aws-foundational-security-best-practices/v/1.0.0", "cis-aws-foundations-benchmark/v/1.2.0")
# AWS's own integrations an account is subscribed to when it enables Security Hub.
_AWS_PRODUCTS = (
    "access-analyzer", "config", "detective", "firewall-manager", "guardduty", "health",
    "inspector", "macie", "ssm-patch-manager",
)


def _standards_arn(path, region):
    if path == "cis-aws-foundations-benchmark/v/1.2.0":
        return f"arn:aws:securityhub:::ruleset/{path}"
    return f"arn:aws:securityhub:{region}::standards/{path}"


def _hub_on(self):
    if not self.securityhub_backend.enabled:
        return _json_error("InvalidAccessException", f"Account {self.current_account} is not subscribed to AWS Security Hub", 401)
    return None


def _subscribe_defaults(self, standards):
    key = (self.current_account, self.region)
    with _STD_LOCK:
        _STANDARDS[key] = {}
        if standards:
            for path in _DEFAULT_STANDARDS:
                _STANDARDS[key][f"arn:aws:securityhub:{self.region}:{self.current_account}:subscription/{path}"] = [_standards_arn(path, self.region), "PENDING"]
        _PRODUCTS[key] = [f"arn:aws:securityhub:{self.region}:{self.current_account}:product-subscription/aws/{p}" for p in _AWS_PRODUCTS]


_moto_enable_hub = SecurityHubResponse.enable_security_hub
_moto_disable_hub = SecurityHubResponse.disable_security_hub


def enable_security_hub(self):
    was = self.securityhub_backend.enabled
    out = _moto_enable_hub(self)
    if not was:
        params = json.loads(self.body) if self.body else {}
        _subscribe_defaults(self, params.get("EnableDefaultStandards", True) is not False)
    return out


def disable_security_hub(self):
    out = _moto_disable_hub(self)
    with _STD_LOCK:
        _STANDARDS.pop((self.current_account, self.region), None)
        _PRODUCTS.pop((self.current_account, self.region), None)
    return out


def _subscription(sub, arn, status):
    return {"StandardsSubscriptionArn": sub, "StandardsArn": arn, "StandardsInput": {}, "StandardsStatus": status}


def batch_enable_standards(self):
    """BatchEnableStandards: 1 to 25 requests, each a standard Security Hub offers in the caller's
    Region (else InvalidInputException, nothing enabled), not one being disabled (DELETING:
    InvalidInputException, stricter than AWS's undocumented answer). The answer says PENDING, as
    AWS's does, and so does the account's next GetEnabledStandards; READY after that."""
    refused = _hub_on(self)
    if refused:
        return refused
    body = json.loads(self.body or "{}")
    requests = body.get("StandardsSubscriptionRequests")
    if not isinstance(requests, list) or not 1 <= len(requests) <= 25:
        return _json_error("InvalidInputException", "StandardsSubscriptionRequests must hold 1 to 25 items")
    chosen = []
    for r in requests:
        arn = r.get("StandardsArn") if isinstance(r, dict) else None
        path = next((p for p in _STANDARD_PATHS if arn == _standards_arn(p, self.region)), None)
        if path is None:
            return _json_error("InvalidInputException", f"StandardsArn {arn!r} is not a standard of Security Hub in {self.region}")
        chosen.append((f"arn:aws:securityhub:{self.region}:{self.current_account}:subscription/{path}", arn))
    with _STD_LOCK:
        mine = _STANDARDS.setdefault((self.current_account, self.region), {})
        busy = [sub for sub, _ in chosen if mine.get(sub, [None, None])[1] == "DELETING"]
        if busy:
            return _json_error("InvalidInputException", f"{busy[0]} is being disabled")
        for sub, arn in chosen:
            if sub not in mine:
                mine[sub] = [arn, "PENDING"]
    return 200, {}, json.dumps({"StandardsSubscriptions": [_subscription(s, a, "PENDING") for s, a in chosen]})


def batch_disable_standards(self):
    """BatchDisableStandards: 1 to 25 of the caller's own subscriptions (another's, or one not
    enabled, is InvalidInputException and nothing is disabled). Each is DELETING for the account's
    next GetEnabledStandards, then gone."""
    refused = _hub_on(self)
    if refused:
        return refused
    body = json.loads(self.body or "{}")
    subs = body.get("StandardsSubscriptionArns")
    if not isinstance(subs, list) or not 1 <= len(subs) <= 25:
        return _json_error("InvalidInputException", "StandardsSubscriptionArns must hold 1 to 25 items")
    with _STD_LOCK:
        mine = _STANDARDS.setdefault((self.current_account, self.region), {})
        unknown = [s for s in subs if s not in mine or mine[s][1] == "DELETING"]
        if unknown:
            return _json_error("InvalidInputException", f"no enabled standards subscription {unknown[0]!r} in account {self.current_account} in {self.region}")
        gone = []
        for s in dict.fromkeys(subs):
            mine[s][1] = "DELETING"
            gone.append((s, mine[s][0]))
    return 200, {}, json.dumps({"StandardsSubscriptions": [_subscription(s, a, "DELETING") for s, a in gone]})


def get_enabled_standards(self):
    """GetEnabledStandards: the caller's own subscriptions, or those of StandardsSubscriptionArns
    (1 to 25), with their status; MaxResults 1 to 100 and NextToken as GetFindings. Then what was
    PENDING is READY and what was DELETING gone."""
    refused = _hub_on(self)
    if refused:
        return refused
    body = json.loads(self.body or "{}")
    wanted = body.get("StandardsSubscriptionArns")
    if wanted is not None and (not isinstance(wanted, list) or not 1 <= len(wanted) <= 25):
        return _json_error("InvalidInputException", "StandardsSubscriptionArns must hold 1 to 25 items")
    limit = body.get("MaxResults", 10)
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 100:
        return _json_error("InvalidInputException", f"MaxResults must be 1 to 100, not {limit!r}")
    with _STD_LOCK:
        mine = _STANDARDS.get((self.current_account, self.region), {})
        found = [_subscription(s, a, st) for s, (a, st) in sorted(mine.items()) if wanted is None or s in wanted]
        for s in list(mine):
            if mine[s][1] == "PENDING":
                mine[s][1] = "READY"
            elif mine[s][1] == "DELETING":
                del mine[s]
    request = {"StandardsSubscriptionArns": wanted}
    offset = 0
    if body.get("NextToken"):
        offset = _page_offset(str(body["NextToken"]), request)
        if offset is None:
            return _json_error("InvalidInputException", "Invalid NextToken")
    reply = {"StandardsSubscriptions": found[offset : offset + limit]}
    if offset + limit < len(found):
        reply["NextToken"] = _page_token(offset + limit, request)
    return 200, {}, json.dumps(reply)


def enable_import_findings_for_product(self):
    """EnableImportFindingsForProduct: one of AWS's integrations in the caller's Region (another
    ProductArn is InvalidInputException); already enabled is ResourceConflictException."""
    refused = _hub_on(self)
    if refused:
        return refused
    arn = json.loads(self.body or "{}").get("ProductArn")
    prefix = f"arn:aws:securityhub:{self.region}::product/aws/"
    name = arn[len(prefix):] if isinstance(arn, str) and arn.startswith(prefix) else None
    if name not in _AWS_PRODUCTS:
        return _json_error("InvalidInputException", f"ProductArn {arn!r} is not a product of Security Hub in {self.region}")
    sub = f"arn:aws:securityhub:{self.region}:{self.current_account}:product-subscription/aws/{name}"
    with _STD_LOCK:
        mine = _PRODUCTS.setdefault((self.current_account, self.region), [])
        if sub in mine:
            return _json_error("ResourceConflictException", f"Account {self.current_account} is already subscribed to {arn}", 409)
        mine.append(sub)
    return 200, {}, json.dumps({"ProductSubscriptionArn": sub})


def disable_import_findings_for_product(self):
    """DisableImportFindingsForProduct: the caller's own subscription (another's, or one not
    enabled, is ResourceNotFoundException)."""
    refused = _hub_on(self)
    if refused:
        return refused
    from urllib.parse import unquote

    sub = (getattr(self, "uri_match", None) or {}).get("ProductSubscriptionArn") or unquote(self.path.split("/productSubscriptions/", 1)[-1])
    with _STD_LOCK:
        mine = _PRODUCTS.setdefault((self.current_account, self.region), [])
        if sub not in mine:
            return _json_error("ResourceNotFoundException", f"no product subscription {sub!r} in account {self.current_account} in {self.region}", 404)
        mine.remove(sub)
    return 200, {}, json.dumps({})


def list_enabled_products_for_import(self):
    """ListEnabledProductsForImport: the caller's own subscriptions, MaxResults 1 to 100 and
    NextToken as GetFindings."""
    refused = _hub_on(self)
    if refused:
        return refused
    q = self.querystring
    try:
        limit = int((q.get("MaxResults") or ["100"])[0])
    except ValueError:
        limit = 0
    if not 1 <= limit <= 100:
        return _json_error("InvalidInputException", "MaxResults must be 1 to 100")
    with _STD_LOCK:
        found = list(_PRODUCTS.get((self.current_account, self.region), []))
    offset = 0
    token = (q.get("NextToken") or [None])[0]
    if token:
        offset = _page_offset(token, {})
        if offset is None:
            return _json_error("InvalidInputException", "Invalid NextToken")
    reply = {"ProductSubscriptions": found[offset : offset + limit]}
    if offset + limit < len(found):
        reply["NextToken"] = _page_token(offset + limit, {})
    return 200, {}, json.dumps(reply)


for _path in ("standards/register", "standards/deregister", "standards/get", "productSubscriptions", "productSubscriptions/(?P<product_subscription>.+)"):
    securityhub_urls.url_paths["{0}/" + _path + "$"] = SecurityHubResponse.dispatch
SecurityHubResponse.enable_security_hub = enable_security_hub
SecurityHubResponse.disable_security_hub = disable_security_hub
SecurityHubResponse.batch_enable_standards = batch_enable_standards
SecurityHubResponse.batch_disable_standards = batch_disable_standards
SecurityHubResponse.get_enabled_standards = get_enabled_standards
SecurityHubResponse.enable_import_findings_for_product = enable_import_findings_for_product
SecurityHubResponse.disable_import_findings_for_product = disable_import_findings_for_product
SecurityHubResponse.list_enabled_products_for_import = list_enabled_products_for_import

# ------------------------------------------------------------------ GuardDuty

from moto.guardduty import models as _gd_models
from moto.guardduty.exceptions import GuardDutyException as _GuardDutyException

_gd_create = _gd_models.GuardDutyBackend.create_detector


def _create_detector(self, enable, finding_publishing_frequency, data_sources, tags, features):
    """As GuardDuty: one detector per account and Region (moto makes any number)."""
    if self.detectors:
        raise _GuardDutyException("BadRequestException", "The request is rejected because a detector already exists for the current account.")
    return _gd_create(self, enable, finding_publishing_frequency, data_sources, tags, features)


def _update_detector_features(self, enable, finding_publishing_frequency, data_sources, features):
    """As GuardDuty: UpdateDetector's `features` change the protection plans they name and keep
    the others (moto replaces the whole list)."""
    if features is not None:
        merged = {f.get("name"): dict(f) for f in (self.features or [])}
        for f in features:
            merged[f.get("name")] = {**merged.get(f.get("name"), {}), **f}
        features = list(merged.values())
    _gd_update(self, enable, finding_publishing_frequency, data_sources, features)


_gd_update = _gd_models.Detector.update
_gd_models.GuardDutyBackend.create_detector = _create_detector
_gd_models.Detector.update = _update_detector_features

# ------------------------------------------------------------------ EC2

from moto.ec2.models import EC2Backend  # noqa: E402

_original_modify_eni = EC2Backend.modify_network_interface_attribute


def _modify_network_interface_attribute(self, eni_id, group_ids, source_dest_check=None, description=None):
    _original_modify_eni(self, eni_id, group_ids, source_dest_check, description)
    eni = self.get_network_interface(eni_id)
    instance = getattr(eni, "instance", None)
    if group_ids and instance is not None:
        groups = []
        for nic in instance.nics.values():
            for g in nic._group_set:
                if g not in groups:
                    groups.append(g)
        instance.security_groups = groups


EC2Backend.modify_network_interface_attribute = _modify_network_interface_attribute

_original_modify_metadata = EC2Backend.modify_instance_metadata_options


def _modify_instance_metadata_options(
    self, instance_id, http_tokens=None, hop_limit=None, http_endpoint=None, dry_run=False, http_protocol=None, metadata_tags=None
):
    """As AWS does it: an option the call leaves out keeps its value (moto resets it to nothing)."""
    cur = self.get_instance(instance_id).metadata_options
    return _original_modify_metadata(
        self,
        instance_id,
        http_tokens=http_tokens if http_tokens is not None else cur.http_tokens,
        hop_limit=hop_limit if hop_limit is not None else cur.http_put_response_hop_limit,
        http_endpoint=http_endpoint if http_endpoint is not None else cur.http_endpoint,
        dry_run=dry_run,
        http_protocol=http_protocol if http_protocol is not None else cur.http_protocol_ipv6,
        metadata_tags=metadata_tags if metadata_tags is not None else cur.instance_metadata_tags,
    )


EC2Backend.modify_instance_metadata_options = _modify_instance_metadata_options

_original_revoke_egress = EC2Backend.revoke_security_group_egress


def _revoke_security_group_egress(self, **args):
    """As AWS: an IPv6 egress rule (::/0) is revoked as it was authorized, whether or not the VPC
    has an IPv6 block. moto accepts the rule, then drops IPv6 ranges from a revoke in such a VPC,
    so the rule could never go."""
    group = self.get_security_group_by_name_or_id(args.get("group_name_or_id"), args.get("vpc_id"))
    vpc = self.vpcs.get(group.vpc_id) if group is not None and group.vpc_id else None
    if vpc is None or vpc.get_cidr_block_association_set(ipv6=True):
        return _original_revoke_egress(self, **args)
    real = vpc.get_cidr_block_association_set
    vpc.get_cidr_block_association_set = lambda ipv6=False: [{"ipv6": "as AWS"}] if ipv6 else real(ipv6)
    try:
        return _original_revoke_egress(self, **args)
    finally:
        del vpc.get_cidr_block_association_set


EC2Backend.revoke_security_group_egress = _revoke_security_group_egress

from moto.ec2.responses.elastic_block_store import ElasticBlockStore as _EbsResponse  # noqa: E402
from moto.core.responses import ActionResult as _ActionResult  # noqa: E402


def _ec2_error(code, message):
    from moto.ec2.exceptions import EC2ClientError

    raise EC2ClientError(code, message)


def _describe_snapshots(self):
    """As EC2: OwnerIds (`self` or account ids) and RestorableByUserIds (`all`: the public ones; an
    account id: those it may restore, its own and those shared with it) narrow the list. moto
    ignores both, so a query for the public snapshots would return every snapshot."""
    snapshots = self.ec2_backend.describe_snapshots(
        snapshot_ids=self._get_param("SnapshotIds", []), filters=self._filters_from_querystring()
    )
    owners = self._get_param("OwnerIds", [])
    if owners:
        snapshots = [
            s for s in snapshots if s.owner_id in owners or ("self" in owners and s.owner_id == self.current_account)
        ]
    restorable = self._get_param("RestorableByUserIds", [])
    if restorable:
        def may_restore(s, who):
            if who == "all":
                return "all" in s.create_volume_permission_groups
            return who == s.owner_id or who in s.create_volume_permission_userids

        snapshots = [s for s in snapshots if any(may_restore(s, who) for who in restorable)]
    # As EC2: MaxResults (5 to 1000) pages the answer, NextToken continues it.
    limit = self._get_param("MaxResults")
    if limit is None:
        return _ActionResult({"Snapshots": snapshots})
    limit = int(limit)
    if not 5 <= limit <= 1000:
        return _ec2_error("InvalidParameterValue", f"MaxResults must be from 5 to 1000: {limit}")
    snapshots.sort(key=lambda s: s.id)
    start = int(self._get_param("NextToken") or 0)
    page = snapshots[start:start + limit]
    out = {"Snapshots": page}
    if start + limit < len(snapshots):
        out["NextToken"] = str(start + limit)
    return _ActionResult(out)


_EbsResponse.describe_snapshots = _describe_snapshots

# ------------------------------------------------------------------ RDS

from moto.rds.models import DBInstance as _DBInstance  # noqa: E402

_db_instance_init = _DBInstance.__init__


def _unique_dbi_resource_id(self, *args, **kwargs):
    """As RDS: every DB instance has its own resource id (DbiResourceId, the id AWS Config names it
    by): `db-` and 26 upper-case letters and digits. moto gives every instance the same one."""
    import secrets
    import string

    _db_instance_init(self, *args, **kwargs)
    alphabet = string.ascii_uppercase + string.digits
    self.dbi_resource_id = "db-" + "".join(secrets.choice(alphabet) for _ in range(26))


_DBInstance.__init__ = _unique_dbi_resource_id

# ------------------------------------------------------------------ CloudTrail trails

from moto.cloudtrail.models import CloudTrailBackend as _CloudTrailBackend  # noqa: E402
from moto.cloudtrail.models import Trail as _Trail  # noqa: E402
from moto.cloudtrail.exceptions import S3BucketDoesNotExistException  # noqa: E402


def _lets_service_write(bucket, service, account, acl=False):
    """Whether the bucket's policy lets the service principal `service` write the logs of
    `account` (s3:PutObject on `<bucket>/AWSLogs/<account>/…`, and with `acl` s3:GetBucketAcl on the
    bucket), and no statement denies it: CreateTrail asks it of any bucket (cloudtrail.amazonaws.com,
    with the ACL check), CreateFlowLogs of another account's (delivery.logs.amazonaws.com).
    Conditions are taken as met (they name the writing account or source, which is this one)."""
    import fnmatch

    if not bucket.policy:
        return False
    try:
        doc = json.loads(bucket.policy.decode() if isinstance(bucket.policy, bytes) else bucket.policy)
    except ValueError:
        return False
    statements = doc.get("Statement") or []
    if isinstance(statements, dict):
        statements = [statements]
    obj = f"arn:aws:s3:::{bucket.name}/AWSLogs/{account}/log"
    whole = f"arn:aws:s3:::{bucket.name}"

    def listed(value):
        return [value] if isinstance(value, str) else list(value or [])

    def grants(s, action, resource):
        principal = s.get("Principal") or {}
        if principal != "*":
            services = listed(principal.get("Service")) if isinstance(principal, dict) else []
            if service not in services:
                return False
        actions = listed(s.get("Action"))
        if not any(fnmatch.fnmatchcase(action, a) for a in actions):
            return False
        return any(fnmatch.fnmatchcase(resource, r) for r in listed(s.get("Resource")))

    def allowed(action, resource):
        if any(s.get("Effect") == "Deny" and grants(s, action, resource) for s in statements):
            return False
        return any(s.get("Effect") == "Allow" and grants(s, action, resource) for s in statements)

    return allowed("s3:PutObject", obj) and (not acl or allowed("s3:GetBucketAcl", whole))


def _check_trail_bucket(self):
    """As CloudTrail: the bucket may be any account's (an organization's log archive bucket), and
    its policy must let CloudTrail write (moto looks in the trail's own account, and at no policy)."""
    owner = _bucket_owner(self.bucket_name)
    if owner is None:
        raise S3BucketDoesNotExistException(f"S3 bucket {self.bucket_name} does not exist!")
    if not _lets_service_write(owner[1], "cloudtrail.amazonaws.com", self.account_id, acl=True):
        raise _JsonRESTError(
            "InsufficientS3BucketPolicyException",
            f"Incorrect S3 bucket policy is detected for bucket: {self.bucket_name}",
        )


_Trail.check_bucket_exists = _check_trail_bucket

_moto_create_trail = _CloudTrailBackend.create_trail


def _create_trail(self, name, *args, **kwargs):
    """As CloudTrail: a second trail by a name the account's Region holds is refused (moto
    replaces the first)."""
    if name in self.trails:
        raise _JsonRESTError(
            "TrailAlreadyExistsException",
            f"Trail {name} already exists for customer: {self.account_id}",
        )
    return _moto_create_trail(self, name, *args, **kwargs)


_CloudTrailBackend.create_trail = _create_trail

# ------------------------------------------------------------------ EC2 flow logs to S3

from moto.ec2.models.flow_logs import FlowLogs as _FlowLogs  # noqa: E402
from moto.ec2.models.flow_logs import FlowLogsBackend as _FlowLogsBackend  # noqa: E402
from moto.ec2.utils import random_flow_log_id as _random_flow_log_id  # noqa: E402

_moto_create_flow_logs = _FlowLogsBackend.create_flow_logs
_DEFAULT_FLOW_LOG_FORMAT = (
    "${version} ${account-id} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} "
    "${protocol} ${packets} ${bytes} ${start} ${end} ${action} ${log-status}"
)


def _create_flow_logs(self, resource_type, resource_ids, traffic_type, deliver_logs_permission_arn,
                      log_destination_type, log_destination, log_group_name, log_format,
                      max_aggregation_interval):
    """As EC2: flow logs may deliver to another account's bucket where its policy lets
    delivery.logs.amazonaws.com write, and are reported unsuccessful where it does not (moto looks
    for the bucket in the caller's account only)."""
    args = (resource_type, resource_ids, traffic_type, deliver_logs_permission_arn,
            log_destination_type, log_destination, log_group_name, log_format,
            max_aggregation_interval)
    parts = (log_destination or "").split(":", 5)
    if log_destination_type != "s3" or len(parts) != 6:
        return _moto_create_flow_logs(self, *args)
    bucket = parts[5].split("/", 1)[0]
    owner = _bucket_owner(bucket)
    if owner is None or owner[0] == self.account_id:
        return _moto_create_flow_logs(self, *args)
    if not _lets_service_write(owner[1], "delivery.logs.amazonaws.com", self.account_id):
        return [], [
            (rid, "400", f"Access Denied for LogDestination: {bucket}. Please check LogDestination permission")
            for rid in resource_ids
        ]
    self._validate_request(log_group_name, log_destination, log_destination_type,
                           max_aggregation_interval or 600, deliver_logs_permission_arn)
    made = []
    for rid in resource_ids:
        if resource_type == "VPC":
            self.get_vpc(rid)
        elif resource_type == "Subnet":
            self.get_subnet(rid)
        elif resource_type == "NetworkInterface":
            self.get_network_interface(rid)
        if any((fl.resource_id, fl.log_destination) == (rid, log_destination)
               for fl in self.describe_flow_logs()):
            from moto.ec2.exceptions import FlowLogAlreadyExists

            raise FlowLogAlreadyExists()
        fl = _FlowLogs(self, _random_flow_log_id(), rid, traffic_type, log_destination, None,
                       deliver_logs_permission_arn, max_aggregation_interval or 600, "s3",
                       log_format or _DEFAULT_FLOW_LOG_FORMAT, "SUCCESS", None)
        self.flow_logs[fl.id] = fl
        made.append(fl)
    return made, []


_FlowLogsBackend.create_flow_logs = _create_flow_logs


# ------------------------------------------------------------------ GuardDuty administrator association

# (member account, region) -> its GuardDuty administrator account (moto keeps no association).
_GD_ADMIN = {}
# (administrator account, region) -> {member account: {"email", "relationshipStatus"}}: the
# administrator's member list, which keeps a member that left (Removed), as GuardDuty's does.
_GD_MEMBERS = {}
# (member account, region) -> the invitation pending for it: {"accountId" (the administrator),
# "invitationId", "relationshipStatus", "invitedAt"}.
_GD_INVITATIONS = {}


def _gd_detector(account, region, detector_id):
    from moto.guardduty.models import guardduty_backends

    try:
        return guardduty_backends[account][region].get_detector(detector_id)
    except Exception:
        return None


def guardduty_association(call, environ, body, start_response):
    """CreateMembers (the administrator associates a member, as an organization's delegated
    administrator does an organization member; each account needs its email, as the API does; an
    invited member's kept record is not associated by it), InviteMembers, ListInvitations and
    AcceptAdministratorInvitation (an invited member: associated only when it accepts),
    GetMembers (the administrator's member list: a member that left reads Removed, an invited one
    carries invitedAt), DisassociateFromAdministratorAccount / DisassociateFromMasterAccount (the
    member leaves; any member may: the organization's auto-enable setting, which refuses it to an
    organization member, is not modelled), GetAdministratorAccount: each account and Region sees
    its own, each call judged by the caller's IAM policies. None: not one of these, moto answers."""
    path = environ.get("PATH_INFO", "")
    method = environ.get("REQUEST_METHOD", "")
    if path.rstrip("/") == "/invitation" and method == "GET":
        # ListInvitations: the invitation pending for the caller's account in the Region.
        denied = _iam_denied(call, environ, body, "ListInvitations", "*")
        if denied:
            return _json_response(start_response, "403 Forbidden", {"__type": "AccessDeniedException", "message": denied}, "AccessDeniedException")
        pending = _GD_INVITATIONS.get((call["account"], call["region"]))
        return _json_response(start_response, "200 OK", {"invitations": [pending] if pending else []})
    m = re.match(r"^/detector/([^/]+)/(member|member/get|member/invite|administrator/disassociate|master/disassociate|administrator)$", path)
    if not m:
        return None
    detector_id, what = m.group(1), m.group(2)
    account, region = call["account"], call["region"]
    action = {
        ("POST", "member"): "CreateMembers",
        ("POST", "member/get"): "GetMembers",
        ("POST", "member/invite"): "InviteMembers",
        ("POST", "administrator"): "AcceptAdministratorInvitation",
        ("POST", "administrator/disassociate"): "DisassociateFromAdministratorAccount",
        ("POST", "master/disassociate"): "DisassociateFromMasterAccount",
        ("GET", "administrator"): "GetAdministratorAccount",
    }.get((method, what))
    if action is None:
        return None
    arn = f"arn:aws:guardduty:{region}:{account}:detector/{detector_id}"
    denied = _iam_denied(call, environ, body, action, arn)
    if denied:
        return _json_response(start_response, "403 Forbidden", {"__type": "AccessDeniedException", "message": denied}, "AccessDeniedException")
    if _gd_detector(account, region, detector_id) is None:
        return _json_response(start_response, "400 Bad Request", {"__type": "BadRequestException", "message": "The request is rejected because the input detectorId is not owned by the current account."}, "BadRequestException")
    try:
        request = json.loads(body or b"{}")
    except ValueError:
        request = None
    if not isinstance(request, dict):
        return _json_response(start_response, "400 Bad Request", {"__type": "BadRequestException", "message": "The request body is not a JSON object."}, "BadRequestException")
    members = _GD_MEMBERS.setdefault((account, region), {})
    if action == "CreateMembers":
        details = request.get("accountDetails")
        if not isinstance(details, list) or not 1 <= len(details) <= 50:
            return _json_response(start_response, "400 Bad Request", {"__type": "BadRequestException", "message": "accountDetails: 1 to 50 accounts."}, "BadRequestException")
        unprocessed = []
        for d in details:
            member = d.get("accountId", "") if isinstance(d, dict) else ""
            email = d.get("email") if isinstance(d, dict) else None
            if not isinstance(email, str) or "@" not in email:
                return _json_response(start_response, "400 Bad Request", {"__type": "BadRequestException", "message": f"The request is rejected because the email of account {member} is missing or invalid."}, "BadRequestException")
            if not re.fullmatch(r"[0-9]{12}", member) or member == account:
                unprocessed.append({"accountId": member, "result": "The request is rejected because the account id is invalid."})
            elif (members.get(member) or {}).get("invitedAt"):
                # An invited member's record is kept after it leaves: only an invitation it
                # accepts associates it again.
                continue
            else:
                # As an organization's delegated administrator adds an organization member.
                _GD_ADMIN[(member, region)] = account
                members[member] = {"email": email, "relationshipStatus": "Enabled"}
        return _json_response(start_response, "200 OK", {"unprocessedAccounts": unprocessed})
    if action == "InviteMembers":
        ids = request.get("accountIds")
        if not isinstance(ids, list) or not 1 <= len(ids) <= 50:
            return _json_response(start_response, "400 Bad Request", {"__type": "BadRequestException", "message": "accountIds: 1 to 50 accounts."}, "BadRequestException")
        unprocessed = []
        for member in ids:
            record = members.get(member)
            if record is None:
                unprocessed.append({"accountId": member, "result": "The request is rejected because the account is not a member: CreateMembers first."})
                continue
            record["invitedAt"] = "2026-01-01T00:00:00.000Z"
            if _GD_ADMIN.get((member, region)) != account:
                record["relationshipStatus"] = "Invited"
                _GD_INVITATIONS[(member, region)] = {"accountId": account, "invitationId": f"inv-{account}-{member}", "relationshipStatus": "Invited", "invitedAt": record["invitedAt"]}
        return _json_response(start_response, "200 OK", {"unprocessedAccounts": unprocessed})
    if action == "AcceptAdministratorInvitation":
        invitation = _GD_INVITATIONS.get((account, region))
        admin, invitation_id = request.get("administratorId"), request.get("invitationId")
        if not invitation or invitation["accountId"] != admin or invitation["invitationId"] != invitation_id:
            return _json_response(start_response, "400 Bad Request", {"__type": "BadRequestException", "message": "The request is rejected because no such invitation is pending."}, "BadRequestException")
        _GD_INVITATIONS.pop((account, region), None)
        _GD_ADMIN[(account, region)] = admin
        _GD_MEMBERS.setdefault((admin, region), {}).setdefault(account, {"email": "", "relationshipStatus": "Enabled"})["relationshipStatus"] = "Enabled"
        return _json_response(start_response, "200 OK", {})
    if action == "GetMembers":
        ids = request.get("accountIds")
        if not isinstance(ids, list) or not 1 <= len(ids) <= 50:
            return _json_response(start_response, "400 Bad Request", {"__type": "BadRequestException", "message": "accountIds: 1 to 50 accounts."}, "BadRequestException")
        found, unprocessed = [], []
        for member in ids:
            record = members.get(member)
            if record is None:
                unprocessed.append({"accountId": member, "result": "The request is rejected because the current account is not the administrator of this account."})
            else:
                found.append(dict({"accountId": member, "detectorId": "", "administratorId": account, "masterId": account,
                                   "email": record["email"], "relationshipStatus": record["relationshipStatus"],
                                   "updatedAt": "2026-01-01T00:00:00.000Z"},
                                  **({"invitedAt": record["invitedAt"]} if record.get("invitedAt") else {})))
        return _json_response(start_response, "200 OK", {"members": found, "unprocessedAccounts": unprocessed})
    if action == "GetAdministratorAccount":
        admin = _GD_ADMIN.get((account, region))
        payload = {"administrator": {"accountId": admin, "relationshipStatus": "Enabled", "invitationId": "quell"}} if admin else {}
        return _json_response(start_response, "200 OK", payload)
    admin = _GD_ADMIN.pop((account, region), None)
    if admin is not None and account in _GD_MEMBERS.get((admin, region), {}):
        _GD_MEMBERS[(admin, region)][account]["relationshipStatus"] = "Removed"
    return _json_response(start_response, "200 OK", {})


def _flow_log_delivery_denied(call, environ, body):
    """As EC2: a flow log to S3 sets up a log delivery, which AWS authorizes at CreateFlowLogs as
    logs:CreateLogDelivery and logs:DeleteLogDelivery; the reason the caller may not, or None."""
    from urllib.parse import parse_qs

    form = parse_qs(body.decode("utf-8", "replace"))
    if form.get("LogDestinationType") != ["s3"]:
        return None
    for action in ("logs:CreateLogDelivery", "logs:DeleteLogDelivery"):
        denied = _iam_denied(call, environ, body, action, "*")
        if denied:
            return denied
    return None

# ------------------------------------------------------------------ CloudTrail LookupEvents

from moto.cloudtrail import urls as cloudtrail_urls  # noqa: E402,F401
from moto.cloudtrail.responses import CloudTrailResponse  # noqa: E402

_TRAIL_EVENTS = {}  # (account, region) -> [record]


def _epoch(t):
    if isinstance(t, (int, float)):
        return float(t)
    return datetime.datetime.fromisoformat(str(t).replace("Z", "+00:00")).timestamp()


def lookup_events(self):
    body = json.loads(self.body or "{}")
    records = _TRAIL_EVENTS.get((self.current_account, self.region), [])
    start = _epoch(body["StartTime"]) if "StartTime" in body else None
    end = _epoch(body["EndTime"]) if "EndTime" in body else None
    attrs = body.get("LookupAttributes") or []
    keys = {
        "EventName": "eventName", "EventSource": "eventSource", "Username": None, "EventId": "eventID",
        "ResourceName": None, "ResourceType": None,
    }
    # As CloudTrail: one lookup attribute at most, of a known key; at most 50 events a page.
    if len(attrs) > 1:
        return _json_error("InvalidLookupAttributesException", "You cannot specify more than one lookup attribute.")
    if any(a.get("AttributeKey") not in keys for a in attrs):
        return _json_error("InvalidLookupAttributesException", f"quell_moto does not look up {attrs}")
    limit = int(body.get("MaxResults") or 50)
    if not 1 <= limit <= 50:
        return _json_error("InvalidMaxResultsException", "MaxResults is 1 to 50")
    out = []
    for r in records:
        t = _epoch(r["eventTime"])
        if (start is not None and t < start) or (end is not None and t > end):
            continue
        ok = True
        for a in attrs:
            k, v = a.get("AttributeKey"), a.get("AttributeValue")
            if k == "Username":
                ident = r.get("userIdentity") or {}
                ok = ok and v in (ident.get("userName"), ident.get("type") == "Root" and "root")
            elif k in ("ResourceName", "ResourceType"):
                field = "ARN" if k == "ResourceName" else "type"
                ok = ok and any(isinstance(x, dict) and x.get(field) == v for x in (r.get("resources") or []))
            elif k in keys:
                ok = ok and r.get(keys[k]) == v
        if not ok:
            continue
        ident = r.get("userIdentity") or {}
        out.append({
            "EventId": r.get("eventID"), "EventName": r.get("eventName"), "ReadOnly": str(r.get("readOnly", False)).lower(),
            "AccessKeyId": ident.get("accessKeyId"), "EventTime": t, "EventSource": r.get("eventSource"),
            "Username": ident.get("userName") or ("root" if ident.get("type") == "Root" else None),
            "Resources": [
                {"ResourceType": x.get("type"), "ResourceName": x.get("ARN") or x.get("arn")}
                for x in (r.get("resources") or [])
                if isinstance(x, dict)
            ],
            "CloudTrailEvent": json.dumps(r),
        })
    out.sort(key=lambda e: e["EventTime"], reverse=True)
    offset = int(body.get("NextToken") or 0)
    page = out[offset : offset + limit]
    reply = {"Events": page}
    if offset + limit < len(out):
        reply["NextToken"] = str(offset + limit)
    return json.dumps(reply)


CloudTrailResponse.lookup_events = lookup_events

# ------------------------------------------------------------------ CloudWatch Logs JSON filter patterns

from moto.logs import models as _logs_models  # noqa: E402
from moto.logs.exceptions import InvalidParameterException as _LogsInvalidParameter  # noqa: E402
from moto.logs.responses import LogsResponse  # noqa: E402

_JSON_TOKEN = re.compile(
    r"""\s*(?:(?P<sel>\$(?:\.[A-Za-z0-9_\-@:]+|\[\d+\])*)|(?P<op>&&|\|\||!=|<=|>=|=|<|>)|(?P<paren>[()])"""
    r"""|(?P<str>"(?:[^"\\]|\\.)*")|(?P<word>[^\s()&|=!<>"]+))"""
)
_MISSING = object()


class JsonFilter:
    """One CloudWatch Logs JSON filter pattern, parsed once: `matches(message)`."""

    def __init__(self, pattern):
        text = pattern.strip()
        if not (text.startswith("{") and text.endswith("}")):
            raise ValueError("a JSON filter pattern is enclosed in { }")
        self.tokens = self._lex(text[1:-1])
        self.pos = 0
        self.tree = self._or()
        if self.pos != len(self.tokens):
            raise ValueError(f"unexpected {self.tokens[self.pos][1]!r}")

    @staticmethod
    def _lex(text):
        out, i = [], 0
        while i < len(text):
            if text[i:].strip() == "":
                break
            m = _JSON_TOKEN.match(text, i)
            if not m or m.end() == i:
                raise ValueError(f"cannot read the pattern at {text[i:i + 20]!r}")
            kind = m.lastgroup
            out.append((kind, m.group(kind)))
            i = m.end()
        return out

    def _peek(self, kind=None, value=None):
        if self.pos >= len(self.tokens):
            return None
        k, v = self.tokens[self.pos]
        if (kind and k != kind) or (value is not None and v != value):
            return None
        return v

    def _take(self, kind=None, value=None):
        v = self._peek(kind, value)
        if v is None:
            raise ValueError(f"expected {value or kind} at token {self.pos}")
        self.pos += 1
        return v

    def _or(self):
        terms = [self._and()]
        while self._peek("op", "||"):
            self.pos += 1
            terms.append(self._and())
        return ("or", terms) if len(terms) > 1 else terms[0]

    def _and(self):
        terms = [self._unary()]
        while self._peek("op", "&&"):
            self.pos += 1
            terms.append(self._unary())
        return ("and", terms) if len(terms) > 1 else terms[0]

    def _unary(self):
        if self._peek("paren", "("):
            self.pos += 1
            inner = self._or()
            self._take("paren", ")")
            return inner
        sel = self._take("sel")
        path = re.findall(r"\.([A-Za-z0-9_\-@:]+)|\[(\d+)\]", sel)
        path = [int(i) if i else k for k, i in path]
        if self._peek("word", "NOT"):
            self.pos += 1
            self._take("word", "EXISTS")
            return ("missing", path)
        if self._peek("word", "EXISTS"):
            self.pos += 1
            return ("exists", path)
        if self._peek("word", "IS"):
            self.pos += 1
            what = self._take("word")
            if what not in ("NULL", "TRUE", "FALSE"):
                raise ValueError(f"IS {what} is not a filter pattern test")
            return ("is", path, {"NULL": None, "TRUE": True, "FALSE": False}[what])
        op = self._take("op")
        if op in ("&&", "||"):
            raise ValueError(f"{op} after a selector")
        if self._peek("str") is not None:
            value, quoted = json.loads(self._take("str")), True
        else:
            value, quoted = self._take("word"), False
            if value.startswith("%"):
                raise ValueError("quell_moto does not evaluate regular expressions in filter patterns")
        return ("cmp", path, op, value, quoted)

    @staticmethod
    def _get(doc, path):
        for step in path:
            if isinstance(step, int):
                if not isinstance(doc, list) or step >= len(doc):
                    return _MISSING
                doc = doc[step]
            else:
                if not isinstance(doc, dict) or step not in doc:
                    return _MISSING
                doc = doc[step]
        return doc

    def _eval(self, node, doc):
        kind = node[0]
        if kind == "or":
            return any(self._eval(n, doc) for n in node[1])
        if kind == "and":
            return all(self._eval(n, doc) for n in node[1])
        got = self._get(doc, node[1])
        if kind == "missing":
            return got is _MISSING
        if kind == "exists":
            return got is not _MISSING
        if kind == "is":
            return got is not _MISSING and got is node[2] if node[2] is not None else got is None
        _, _, op, value, quoted = node
        # The stricter reading wherever CloudWatch Logs' own is not certain: an absent property,
        # an object, an array or a boolean (IS TRUE/FALSE tests those) matches no comparison.
        if got is _MISSING or isinstance(got, (dict, list, bool)) or got is None:
            return False
        if isinstance(got, (int, float)):
            # A number compares with an unquoted number only.
            try:
                number = float(value)
            except ValueError:
                return False
            if quoted:
                return False
            return {"=": got == number, "!=": got != number, "<": got < number, ">": got > number,
                    "<=": got <= number, ">=": got >= number}[op]
        if op not in ("=", "!="):
            return False
        # `*` is the only wildcard: every other character is itself.
        same = re.fullmatch(".*".join(re.escape(p) for p in value.split("*")), got, re.S) is not None
        return same if op == "=" else not same

    def matches(self, message):
        try:
            doc = json.loads(message)
        except ValueError:
            return False
        return isinstance(doc, dict) and self._eval(self.tree, doc)


_MotoMessageFilter = _logs_models.EventMessageFilter


class _EventMessageFilter:
    def __init__(self, pattern):
        if pattern and pattern.strip().startswith("{"):
            try:
                self.inner = JsonFilter(pattern)
            except ValueError as e:
                raise _LogsInvalidParameter(f"Invalid filter pattern: {e}")
        else:
            self.inner = _MotoMessageFilter(pattern)

    def matches(self, message):
        return self.inner.matches(message)


_logs_models.EventMessageFilter = _EventMessageFilter
_moto_put_metric_filter = LogsResponse.put_metric_filter


def _put_metric_filter(self):
    pattern = self._get_param("filterPattern")
    if pattern and pattern.strip().startswith("{"):
        try:
            JsonFilter(pattern)
        except ValueError as e:
            raise _LogsInvalidParameter(f"Invalid metric filter pattern: {e}")
    return _moto_put_metric_filter(self)


LogsResponse.put_metric_filter = _put_metric_filter
_moto_logs_authorize = LogsResponse._authenticate_and_authorize_normal_action


def _logs_authorize(self, resource="*"):
    # As CloudWatch Logs: FilterLogEvents is authorized against the log group it reads.
    if (self.headers.get("X-Amz-Target") or "").endswith(".FilterLogEvents"):
        try:
            group = json.loads(self.body or "{}").get("logGroupName")
        except ValueError:
            group = None
        if group:
            # The form AWS's refusals name: a policy must grant `log-group:NAME:*` (the bare ARN
            # alone does not match it).
            resource = f"arn:aws:logs:{self.region}:{self.current_account}:log-group:{group}:log-stream:"
    return _moto_logs_authorize(self, resource)


LogsResponse._authenticate_and_authorize_normal_action = _logs_authorize

# As CloudWatch Logs: deleting a log group deletes its metric filters with it; a metric filter is put
# on a log group that exists (ResourceNotFoundException otherwise), and putting one by a name the
# group already has replaces it (moto keeps every filter of the account in one list, whatever
# happens to its group, and appends a second one of the same name).
from moto.logs.exceptions import ResourceNotFoundException as _LogsNotFound  # noqa: E402

_moto_delete_log_group = _logs_models.LogsBackend.delete_log_group
_moto_backend_put_metric_filter = _logs_models.LogsBackend.put_metric_filter


def _delete_log_group(self, log_group_name):
    _moto_delete_log_group(self, log_group_name)
    self.filters.metric_filters = [
        f for f in self.filters.metric_filters if f["logGroupName"] != log_group_name
    ]


def _backend_put_metric_filter(
    self, filter_name, filter_pattern, log_group_name, metric_transformations
):
    if log_group_name not in self.groups:
        raise _LogsNotFound("The specified log group does not exist.")
    self.filters.metric_filters = [
        f
        for f in self.filters.metric_filters
        if not (f["logGroupName"] == log_group_name and f["filterName"] == filter_name)
    ]
    return _moto_backend_put_metric_filter(
        self, filter_name, filter_pattern, log_group_name, metric_transformations
    )


_logs_models.LogsBackend.delete_log_group = _delete_log_group
_logs_models.LogsBackend.put_metric_filter = _backend_put_metric_filter

# ------------------------------------------------------------------ AWS Config aggregated compliance

from moto.config.responses import ConfigResponse  # noqa: E402
from moto.config.models import ConfigBackend as _ConfigBackend  # noqa: E402
from moto.core.exceptions import JsonRESTError as _JsonRESTError  # noqa: E402


def _bucket_owner(name):
    """The account of the emulator that has the S3 bucket `name`, and the bucket (bucket names
    are global); None where no account has it."""
    from moto.s3.models import s3_backends

    for account, per in list(dict.items(s3_backends)):
        for _, backend in list(dict.items(per)):
            bucket = getattr(backend, "buckets", {}).get(name)
            if bucket is not None:
                return account, bucket
    return None


def _bucket_exists(name):
    """Whether any account of the emulator has the S3 bucket `name` (bucket names are global)."""
    return _bucket_owner(name) is not None


_moto_put_delivery_channel = _ConfigBackend.put_delivery_channel


def _put_delivery_channel(self, delivery_channel):
    """As AWS Config: the channel's bucket must exist (moto checks only that it is named)."""
    name = delivery_channel.get("s3BucketName")
    if name and not _bucket_exists(name):
        raise _JsonRESTError("NoSuchBucketException", f"Cannot find a S3 bucket with the name {name}.")
    return _moto_put_delivery_channel(self, delivery_channel)


_ConfigBackend.put_delivery_channel = _put_delivery_channel

_moto_put_configuration_recorder = _ConfigBackend.put_configuration_recorder

# As IAM names it: AWS Config's service-linked role is AWSServiceRoleForConfig (moto capitalises
# only the services its table lists, and makes AWSServiceRoleForconfig).
import moto.iam.models as _iam_models  # noqa: E402

_iam_models.SERVICE_NAME_CONVERSION.setdefault("config", "Config")


def _put_configuration_recorder(self, config_recorder):
    """As AWS Config: the recorder's role must be a role of the account (moto assumes any ARN is
    one). The caller's iam:PassRole on it is judged before, with the request."""
    arn = config_recorder.get("roleARN") or ""
    from moto.iam.models import iam_backends

    parts = arn.split(":", 5)
    found = False
    if len(parts) == 6 and parts[2] == "iam" and parts[4] == self.account_id and parts[5].startswith("role/"):
        name = parts[5].rsplit("/", 1)[-1]
        try:
            role = iam_backends[self.account_id][parts[1]].get_role(name)
            found = role.arn == arn
        except Exception:
            found = False
    if not found:
        raise _JsonRESTError("InvalidRoleException", f"The role {arn} is not valid, or AWS Config cannot assume it.")
    return _moto_put_configuration_recorder(self, config_recorder)


_ConfigBackend.put_configuration_recorder = _put_configuration_recorder


def _recorder_role_denied(call, environ, body):
    """As AWS: giving a recorder a role passes it, which the caller's iam:PassRole on that role
    must allow; the reason it does not, or None."""
    try:
        arn = (json.loads(body or b"{}").get("ConfigurationRecorder") or {}).get("roleARN")
    except ValueError:
        return None
    return _iam_denied(call, environ, body, "iam:PassRole", arn, {"iam:PassedToService": ["config.amazonaws.com"]}) if arn else None

# (account, region, rule, resource type, resource id) -> the evaluation of that member account's
# rule, as POST /_quell/config-evaluations seeds it.
_CONFIG_EVALUATIONS = {}
_CONFIG_LOCK = threading.Lock()
_COMPLIANCE_TYPES = ("COMPLIANT", "NON_COMPLIANT")


def seed_config_evaluations(seed):
    """Evaluations of one member account's Config rules in one region: each {"rule",
    "resourceType", "resourceId", "compliance": COMPLIANT or NON_COMPLIANT, "annotation"?}; a later
    one of the same resource and rule replaces the earlier. Returns why it refused, or None."""
    import time as _time

    account, region = seed.get("account"), seed.get("region")
    if not (isinstance(account, str) and re.fullmatch(r"\d{12}", account)) or not region:
        return "a seed needs the member's 12-digit account and its region"
    evaluations = seed.get("evaluations") or []
    for e in evaluations:
        if not all(e.get(k) for k in ("rule", "resourceType", "resourceId")):
            return f"an evaluation needs rule, resourceType and resourceId: {e}"
        if e.get("compliance") not in _COMPLIANCE_TYPES:
            return f"compliance is COMPLIANT or NON_COMPLIANT, not {e.get('compliance')!r}"
    with _CONFIG_LOCK:
        for e in evaluations:
            now = _time.time()
            _CONFIG_EVALUATIONS[(account, region, e["rule"], e["resourceType"], e["resourceId"])] = {
                "account": account, "region": region, "rule": e["rule"], "resourceType": e["resourceType"],
                "resourceId": e["resourceId"], "compliance": e["compliance"], "annotation": e.get("annotation"),
                "recorded": now,
            }
    return None


def _config_invalid(field, value, constraint):
    shown = "null" if value is None else f"'{value}'"
    return _json_error(
        "ValidationException",
        f"1 validation error detected: Value {shown} at '{field}' failed to satisfy constraint: {constraint}",
    )


def _covers(aggregator, account, region):
    """Whether the aggregator's sources take in that account's Region: an account source its
    AccountIds in its Regions; an organization source any account in its Regions."""
    for source in aggregator.account_aggregation_sources or []:
        if account in (source.account_ids or []) and (source.all_aws_regions or region in (source.aws_regions or [])):
            return True
    org = aggregator.organization_aggregation_source
    return org is not None and bool(org.all_aws_regions or region in (org.aws_regions or []))


def _aggregated(self, body, limit_max):
    """The evaluations the caller's aggregator sees, and the page limit: or an error answer. As
    AWS: the request's parameters are validated first, then the aggregator must be one of the
    caller's account in the caller's Region."""
    name = body.get("ConfigurationAggregatorName")
    if not name:
        return None, None, _config_invalid("configurationAggregatorName", name, "Member must not be null")
    limit = body.get("Limit", 0)
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 0:
        return None, None, _config_invalid("limit", limit, "Member must have value greater than or equal to 0")
    if limit > limit_max:
        return None, None, _config_invalid("limit", limit, f"Member must have value less than or equal to {limit_max}")
    aggregator = self.config_backend.config_aggregators.get(name)
    if aggregator is None:
        return None, None, _json_error(
            "NoSuchConfigurationAggregatorException",
            "The configuration aggregator does not exist. Check the configuration aggregator name and try again.",
        )
    with _CONFIG_LOCK:
        seen = [dict(e) for e in _CONFIG_EVALUATIONS.values() if _covers(aggregator, e["account"], e["region"])]
    return seen, limit or limit_max, None


def _config_page(body, items, limit, request, key):
    """One page of `items` under `key`, with a NextToken when more remain; or an error answer."""
    offset = 0
    if body.get("NextToken"):
        offset = _page_offset(str(body["NextToken"]), request)
        if offset is None:
            return _json_error(
                "InvalidNextTokenException",
                "The nextToken provided is invalid",
            )
    reply = {key: items[offset : offset + limit]}
    if offset + limit < len(items):
        reply["NextToken"] = _page_token(offset + limit, request)
    return json.dumps(reply)


def describe_aggregate_compliance_by_config_rules(self):
    body = json.loads(self.body or "{}")
    filters = body.get("Filters") or {}
    if filters.get("ComplianceType") not in (None,) + _COMPLIANCE_TYPES:
        return _config_invalid(
            "filters.complianceType", filters.get("ComplianceType"), "Member must satisfy enum value set: [COMPLIANT, NON_COMPLIANT]"
        )
    seen, limit, error = _aggregated(self, body, 1000)
    if error:
        return error
    rules = {}
    for e in seen:
        rules.setdefault((e["rule"], e["account"], e["region"]), []).append(e)
    items = []
    for (rule, account, region), evaluations in sorted(rules.items()):
        failing = sum(1 for e in evaluations if e["compliance"] == "NON_COMPLIANT")
        compliance = {"ComplianceType": "NON_COMPLIANT" if failing else "COMPLIANT"}
        if failing:
            compliance["ComplianceContributorCount"] = {"CappedCount": failing, "CapExceeded": False}
        wanted = {
            "ConfigRuleName": rule, "ComplianceType": compliance["ComplianceType"], "AccountId": account, "AwsRegion": region,
        }
        if any(filters.get(k) not in (None, v) for k, v in wanted.items()):
            continue
        items.append({"ConfigRuleName": rule, "Compliance": compliance, "AccountId": account, "AwsRegion": region})
    request = {"op": "DescribeAggregateComplianceByConfigRules", "aggregator": body["ConfigurationAggregatorName"], "filters": filters}
    return _config_page(body, items, limit, request, "AggregateComplianceByConfigRules")


def get_aggregate_compliance_details_by_config_rule(self):
    body = json.loads(self.body or "{}")
    for key, field in (
        ("ConfigurationAggregatorName", "configurationAggregatorName"),
        ("ConfigRuleName", "configRuleName"),
        ("AccountId", "accountId"),
        ("AwsRegion", "awsRegion"),
    ):
        if not body.get(key):
            return _config_invalid(field, body.get(key), "Member must not be null")
    if not re.fullmatch(r"\d{12}", str(body["AccountId"])):
        return _config_invalid("accountId", body["AccountId"], "Member must satisfy regular expression pattern: \\d{12}")
    if body.get("ComplianceType") not in (None,) + _COMPLIANCE_TYPES:
        return _config_invalid(
            "complianceType", body.get("ComplianceType"), "Member must satisfy enum value set: [COMPLIANT, NON_COMPLIANT]"
        )
    seen, limit, error = _aggregated(self, body, 100)
    if error:
        return error
    chosen = [
        e
        for e in seen
        if (e["rule"], e["account"], e["region"]) == (body["ConfigRuleName"], body["AccountId"], body["AwsRegion"])
        and body.get("ComplianceType") in (None, e["compliance"])
    ]
    chosen.sort(key=lambda e: (e["resourceType"], e["resourceId"]))
    items = []
    for e in chosen:
        result = {
            "EvaluationResultIdentifier": {
                "EvaluationResultQualifier": {
                    "ConfigRuleName": e["rule"], "ResourceType": e["resourceType"], "ResourceId": e["resourceId"],
                },
                "OrderingTimestamp": e["recorded"],
            },
            "ComplianceType": e["compliance"],
            "ResultRecordedTime": e["recorded"],
            "ConfigRuleInvokedTime": e["recorded"],
            "AccountId": e["account"],
            "AwsRegion": e["region"],
        }
        if e.get("annotation"):
            result["Annotation"] = e["annotation"]
        items.append(result)
    request = {
        "op": "GetAggregateComplianceDetailsByConfigRule",
        **{k: body.get(k) for k in ("ConfigurationAggregatorName", "ConfigRuleName", "AccountId", "AwsRegion", "ComplianceType")},
    }
    return _config_page(body, items, limit, request, "AggregateEvaluationResults")


ConfigResponse.describe_aggregate_compliance_by_config_rules = describe_aggregate_compliance_by_config_rules
ConfigResponse.get_aggregate_compliance_details_by_config_rule = get_aggregate_compliance_details_by_config_rule

# ------------------------------------------------------------------ IAM Access Analyzer

_AA_FINDINGS = {}  # (analyzerArn, id) -> finding
_AA_LOCK = threading.Lock()


def _json_response(start_response, status, payload, error=None):
    data = json.dumps(payload).encode()
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(data))), ("x-amzn-requestid", "quell-aa")]
    if error:
        headers.append(("x-amzn-errortype", error))
    start_response(status, headers)
    return [data]


def _aa_error(start_response, status, code, message):
    return _json_response(start_response, status, {"__type": code, "message": message}, error=code)


_ANALYZERS = {}  # (account, region) -> {name: analyzer, with "_reads": reads since created}
_ANALYZER_TYPES = ("ACCOUNT", "ORGANIZATION", "ACCOUNT_UNUSED_ACCESS", "ORGANIZATION_UNUSED_ACCESS",
                   "ACCOUNT_INTERNAL_ACCESS", "ORGANIZATION_INTERNAL_ACCESS")
_ANALYZER_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,254}")


def _iam_denied(call, environ, body, action, resource, context=None):
    """Why the caller's IAM policies refuse `action` on `resource`, or None: the same evaluation
    moto applies to the calls it authorizes, for what it does not (Access Analyzer, which moto
    lacks; the actions AWS authorizes beside a call's own). `context`: the condition keys AWS puts
    in that authorization's request context (iam:PassedToService for a role passed)."""
    from moto.core.authorization import ActionAuthenticatorMixin
    from moto import settings as _settings

    if ActionAuthenticatorMixin.request_count < _settings.INITIAL_NO_AUTH_ACTION_COUNT:
        return None
    headers = {k[5:].replace("_", "-").title(): v for k, v in environ.items() if k.startswith("HTTP_")}
    # WSGI keeps these two out of HTTP_*; a signer may have signed them.
    for key, name in (("CONTENT_TYPE", "Content-Type"), ("CONTENT_LENGTH", "Content-Length")):
        if environ.get(key):
            headers[name] = environ[key]
    query = environ.get("QUERY_STRING", "")
    path = environ.get("PATH_INFO", "") + ("?" + query if query else "")
    try:
        req = _access_control.IAMRequest(
            account_id=call["account"], method=environ.get("REQUEST_METHOD", ""), path=path,
            data={}, body=body, headers=headers, action=action)
        if ":" in action:
            # Another service's action, authorized beside the call's own (moto prefixes the
            # action with the signing service's name).
            req._action = action
        req.check_signature()
        before = getattr(_CONTEXT, "values", None)
        _CONTEXT.values = context
        try:
            req.check_action_permitted(resource)
        finally:
            _CONTEXT.values = before
    except _HTTPException as e:  # moto's AccessDeniedError, or an unknown access key
        return getattr(e, "message", None) or str(e) or "access denied"
    return None


def _org_management(account):
    """Whether `account` is the management account of an organization moto holds."""
    try:
        from moto.organizations.models import organizations_backends
    except ImportError:
        return False
    for backend in list(organizations_backends.values()):
        for b in (backend.values() if hasattr(backend, "values") else [backend]):
            org = getattr(b, "org", None)
            if org is not None and getattr(org, "master_account_id", None) == account:
                return True
    return False


def _analyzer_view(a):
    return {k: v for k, v in a.items() if not k.startswith("_")}


def _read_analyzer(a):
    """What a read shows: CREATING on the first read after CreateAnalyzer, ACTIVE after."""
    a["_reads"] += 1
    if a["status"] == "CREATING" and a["_reads"] > 1:
        a["status"] = "ACTIVE"
    return _analyzer_view(a)


def analyzers(call, environ, body, start_response):
    """CreateAnalyzer (PUT /analyzer), ListAnalyzers (GET /analyzer), GetAnalyzer and
    DeleteAnalyzer (GET and DELETE /analyzer/{name}), the caller's account and Region only."""
    method, path = environ.get("REQUEST_METHOD", ""), environ.get("PATH_INFO", "").rstrip("/")
    account, region = call["account"], call["region"]
    key = (account, region)

    def arn(name):
        return f"arn:aws:access-analyzer:{region}:{account}:analyzer/{name}"

    def denied(action, resource):
        why = _iam_denied(call, environ, body, action, resource)
        return _aa_error(start_response, "403 Forbidden", "AccessDeniedException", why) if why else None

    if method == "PUT" and path == "/analyzer":
        try:
            req = json.loads(body or b"{}")
        except ValueError:
            return _aa_error(start_response, "400 Bad Request", "ValidationException", "the body is not JSON")
        name, kind = req.get("analyzerName"), req.get("type")
        if not isinstance(name, str) or not _ANALYZER_NAME.fullmatch(name):
            return _aa_error(start_response, "400 Bad Request", "ValidationException", f"analyzerName {name!r} must be a letter then letters, digits, _ . - (1 to 255)")
        if kind not in _ANALYZER_TYPES:
            return _aa_error(start_response, "400 Bad Request", "ValidationException", f"type {kind!r} is not one of {', '.join(_ANALYZER_TYPES)}")
        refused = denied("CreateAnalyzer", arn(name))
        if refused:
            return refused
        if kind.startswith("ORGANIZATION") and not _org_management(account):
            return _aa_error(start_response, "400 Bad Request", "ValidationException", f"account {account} is not the organization's management account: it cannot create a {kind} analyzer")
        with _AA_LOCK:
            mine = _ANALYZERS.setdefault(key, {})
            if name in mine:
                return _aa_error(start_response, "409 Conflict", "ConflictException", f"an analyzer named {name} already exists")
            if kind.startswith("ACCOUNT") and any(a["type"] == kind for a in mine.values()):
                return _aa_error(start_response, "402 Payment Required", "ServiceQuotaExceededException", f"account {account} already has a {kind} analyzer in {region} (quota: 1)")
            mine[name] = {"arn": arn(name), "name": name, "type": kind, "createdAt": _now(), "status": "CREATING",
                          "tags": req.get("tags") or {}, "_reads": 0}
        return _json_response(start_response, "200 OK", {"arn": arn(name)})
    if method == "GET" and path == "/analyzer":
        refused = denied("ListAnalyzers", f"arn:aws:access-analyzer:{region}:{account}:analyzer/*")
        if refused:
            return refused
        q = parse_qs(environ.get("QUERY_STRING", ""))
        kind = (q.get("type") or [None])[0]
        if kind is not None and kind not in _ANALYZER_TYPES:
            return _aa_error(start_response, "400 Bad Request", "ValidationException", f"type {kind!r} is not one of {', '.join(_ANALYZER_TYPES)}")
        try:
            limit = int((q.get("maxResults") or ["100"])[0])
            start = int((q.get("nextToken") or ["0"])[0])
        except ValueError:
            return _aa_error(start_response, "400 Bad Request", "ValidationException", "maxResults and nextToken must be numbers")
        with _AA_LOCK:
            listed = [_read_analyzer(a) for n, a in sorted(_ANALYZERS.get(key, {}).items()) if kind in (None, a["type"])]
        page = listed[start:start + max(1, limit)]
        out = {"analyzers": page}
        if start + len(page) < len(listed):
            out["nextToken"] = str(start + len(page))
        return _json_response(start_response, "200 OK", out)
    if method in ("GET", "DELETE") and path.startswith("/analyzer/") and "/" not in path[len("/analyzer/"):]:
        from urllib.parse import unquote

        name = unquote(path[len("/analyzer/"):])
        refused = denied("GetAnalyzer" if method == "GET" else "DeleteAnalyzer", arn(name))
        if refused:
            return refused
        with _AA_LOCK:
            a = _ANALYZERS.get(key, {}).get(name)
            if a is None:
                return _aa_error(start_response, "404 Not Found", "ResourceNotFoundException", f"no analyzer {name} in account {account} in {region}")
            if method == "GET":
                return _json_response(start_response, "200 OK", {"analyzer": _read_analyzer(a)})
            del _ANALYZERS[key][name]
        start_response("200 OK", [("Content-Length", "0"), ("x-amzn-requestid", "quell-aa")])
        return [b""]
    return None


def access_analyzer(call, environ, body, start_response):
    """UpdateFindings (PUT /finding) and GetFinding (GET /finding/{id}?analyzerArn=), and the
    analyzers themselves ([`analyzers`]). As in AWS, an analyzer answers only in its own account
    and at its own region's endpoint: a call signed for another region does not find it."""
    method, path = environ.get("REQUEST_METHOD", ""), environ.get("PATH_INFO", "")
    if path.rstrip("/") == "/analyzer" or path.startswith("/analyzer/"):
        out = analyzers(call, environ, body, start_response)
        if out is not None:
            return out

    def elsewhere(arn):
        parts = arn.split(":")
        if len(parts) < 6:
            return f"{arn!r} is not an analyzer ARN"
        if parts[3] != call["region"]:
            return f"no analyzer {arn} in {call['region']}"
        return None
    if method == "PUT" and path == "/finding":
        req = json.loads(body or b"{}")
        arn, status = req.get("analyzerArn", ""), req.get("status")
        if status not in ("ACTIVE", "ARCHIVED"):
            return _aa_error(start_response, "400 Bad Request", "ValidationException", f"status {status!r} is not ACTIVE or ARCHIVED")
        if arn.split(":")[4:5] != [call["account"]]:
            return _aa_error(start_response, "403 Forbidden", "AccessDeniedException", f"account {call['account']} cannot update findings of {arn}")
        why = _iam_denied(call, environ, body, "UpdateFindings", arn)
        if why:
            return _aa_error(start_response, "403 Forbidden", "AccessDeniedException", why)
        if elsewhere(arn):
            return _aa_error(start_response, "404 Not Found", "ResourceNotFoundException", elsewhere(arn))
        with _AA_LOCK:
            missing = [i for i in req.get("ids", []) if (arn, i) not in _AA_FINDINGS]
            if missing:
                return _aa_error(start_response, "404 Not Found", "ResourceNotFoundException", f"no finding {missing[0]} in {arn}")
            for i in req.get("ids", []):
                _AA_FINDINGS[(arn, i)]["status"] = status
                _AA_FINDINGS[(arn, i)]["updatedAt"] = _now()
        start_response("200 OK", [("Content-Length", "0"), ("x-amzn-requestid", "quell-aa")])
        return [b""]
    if method == "GET" and path.startswith("/finding/"):
        fid = path[len("/finding/"):]
        arn = (parse_qs(environ.get("QUERY_STRING", "")).get("analyzerArn") or [""])[0]
        if arn.split(":")[4:5] != [call["account"]]:
            return _aa_error(start_response, "403 Forbidden", "AccessDeniedException", f"account {call['account']} cannot read findings of {arn}")
        why = _iam_denied(call, environ, body, "GetFinding", arn)
        if why:
            return _aa_error(start_response, "403 Forbidden", "AccessDeniedException", why)
        if elsewhere(arn):
            return _aa_error(start_response, "404 Not Found", "ResourceNotFoundException", elsewhere(arn))
        with _AA_LOCK:
            f = _AA_FINDINGS.get((arn, fid))
            f = dict(f) if f else None
        if f is None:
            return _aa_error(start_response, "404 Not Found", "ResourceNotFoundException", f"no finding {fid} in {arn}")
        return _json_response(start_response, "200 OK", {"finding": f})
    return _aa_error(start_response, "501 Not Implemented", "NotImplemented", f"quell_moto has no Access Analyzer {method} {path}")


def seed_access_analyzer(seed):
    arn = seed["analyzerArn"]
    with _AA_LOCK:
        for f in seed.get("findings", []):
            now = _now()
            _AA_FINDINGS[(arn, f["id"])] = {
                "id": f["id"], "resource": f.get("resource"), "resourceType": f.get("resourceType", "AWS::S3::Bucket"),
                "principal": f.get("principal") or {}, "isPublic": bool(f.get("isPublic", False)),
                "action": f.get("action") or [], "condition": {}, "status": "ACTIVE",
                "resourceOwnerAccount": f.get("resourceOwnerAccount") or arn.split(":")[4],
                "createdAt": now, "analyzedAt": now, "updatedAt": now,
            }


# ------------------------------------------------------------------ IAM access key age


def _utc_naive(text):
    """An ISO 8601 time as moto keeps IAM dates: naive, in UTC (a time without zone is UTC)."""
    t = datetime.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    return t.astimezone(datetime.timezone.utc).replace(tzinfo=None) if t.tzinfo else t


def age_access_key(seed):
    """Time passing for one user's access key: its CreateDate moves back to `createDate`, and its
    last use is `lastUsed` (null: never used). Only what time (and use) does: a key only gets older,
    nothing is dated in the future, a key is not used before it exists, and its user is made at
    least as old as the key. Returns why it refused, or None."""
    from moto.iam.models import AccessKeyLastUsed, iam_backends

    backend = iam_backends[seed["account"]]["aws"]
    key = backend.access_keys.get(seed.get("accessKeyId"))
    if key is None or key.user_name is None:
        return f"no access key {seed.get('accessKeyId')} of a user in account {seed['account']}"
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    created = _utc_naive(seed["createDate"])
    used = _utc_naive(seed["lastUsed"]) if seed.get("lastUsed") else None
    if created > key.create_date:
        return f"access key {key.access_key_id} was created at {key.create_date}: it can only get older"
    if used is not None and not created <= used <= now:
        return f"access key {key.access_key_id} cannot be used before {created} or after now"
    key.create_date = created
    key.last_used = AccessKeyLastUsed(timestamp=used, service="s3", region="us-east-1") if used else None
    user = backend.users.get(key.user_name)
    if user is not None and user.create_date > created:
        user.create_date = created
    return None


def age_password(seed):
    """Time passing for one user's console password: its login profile's CreateDate moves back to
    `loginProfileCreate` (moto keeps no date of its own for a login profile: it answers the user's
    CreateDate, so the user gets as old), and its last use is `passwordLastUsed` (null: never
    used). Only what time (and use) does: the profile only gets older, nothing is dated in the
    future, the password is not used before the profile exists, and a recorded use is neither
    taken back nor moved earlier. Returns why it refused, or None."""
    from moto.iam.models import iam_backends

    backend = iam_backends[seed["account"]]["aws"]
    user = backend.users.get(seed.get("userName"))
    if user is None:
        return f"no user {seed.get('userName')} in account {seed['account']}"
    if not user.password:
        return f"user {user.name} has no login profile"
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    current = _profile_created(user)
    created = _utc_naive(seed["loginProfileCreate"]) if seed.get("loginProfileCreate") else current
    used = _utc_naive(seed["passwordLastUsed"]) if seed.get("passwordLastUsed") else None
    if created > current:
        return f"the login profile of {user.name} was created at {current}: it can only get older"
    if used is not None and not created <= used <= now:
        return f"the password of {user.name} cannot be used before {created} or after now"
    if user.password_last_used is not None and (used is None or used < user.password_last_used):
        return f"the password of {user.name} was used at {user.password_last_used}: a use is not taken back"
    user.create_date = min(user.create_date, created)
    user.quell_profile_created = created
    user.password_last_used = used
    return None


def _profile_created(user):
    """When the user's login profile was made: moto keeps no date of its own for it (it answers the
    user's CreateDate), so one made later, as `quell undo` does, would look as old as the user."""
    return getattr(user, "quell_profile_created", None) or user.create_date


from moto.core.responses import ActionResult  # noqa: E402
from moto.iam.responses import IamResponse  # noqa: E402


def _login_profile(user):
    return ActionResult({
        "LoginProfile": {
            "UserName": user.name,
            "CreateDate": _profile_created(user),
            "PasswordResetRequired": user.password_reset_required,
        }
    })


def create_login_profile(self):
    """As AWS: a new login profile carries the PasswordResetRequired it was made with (moto drops
    it, and keeps a deleted profile's flag) and its own CreateDate, now."""
    user = self.backend.create_login_profile(self._get_param("UserName"), self._get_param("Password"))
    user.password_reset_required = str(self._get_param("PasswordResetRequired")).lower() == "true"
    user.quell_profile_created = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    return _login_profile(user)


def get_login_profile(self):
    return _login_profile(self.backend.get_login_profile(self._get_param("UserName")))


IamResponse.create_login_profile = create_login_profile
IamResponse.get_login_profile = get_login_profile


# ------------------------------------------------------------------ call log

_CALLS = []
_CALLS_LOCK = threading.Lock()
_CREDENTIAL = re.compile(r"Credential=([^/]+)/[^/]+/([^/]+)/([^/]+)/")


def _account_of(access_key):
    from moto.iam.models import get_account_id_from

    return get_account_id_from(access_key)


def _principal_of(account, access_key):
    """The role ARN behind an assumed-role key (the call log's attribution to a function), or None."""
    from moto.sts.models import sts_backends

    try:
        assumed = sts_backends[account]["aws"].get_assumed_role_from_access_key(access_key)
    except Exception:
        return None
    return assumed.role_arn if assumed else None


_CALL_LOG_FILE = None


def _persist(call):
    """With QUELL_CALL_LOG_DIR set, every call is also appended to <dir>/<pid>.jsonl, so that the
    permission audit (`quell-audit`, run by `make test` after the suites) sees every call of every
    test, including those a test cleared from the in-memory log."""
    global _CALL_LOG_FILE
    directory = os.environ.get("QUELL_CALL_LOG_DIR")
    if not directory:
        return
    if _CALL_LOG_FILE is None:
        os.makedirs(directory, exist_ok=True)
        _CALL_LOG_FILE = open(os.path.join(directory, f"{os.getpid()}.jsonl"), "a", buffering=1)
    _CALL_LOG_FILE.write(json.dumps(call) + "\n")


def _describe(environ, body):
    """(account, service, action, target) of one request."""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    m = _CREDENTIAL.search(auth)
    if not m:
        return None
    access_key, region, service = m.group(1), m.group(2), m.group(3)
    method = environ.get("REQUEST_METHOD", "")
    path = environ.get("PATH_INFO", "")
    query = environ.get("QUERY_STRING", "")
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        action = target.split(".")[-1]
    else:
        form = parse_qs(body.decode("utf-8", "replace")) if body and method == "POST" else {}
        action = (form.get("Action") or parse_qs(query).get("Action") or [None])[0]
        if action is None:
            sub = query.split("=")[0].split("&")[0]
            action = f"{method} {sub}" if sub else f"{method} {path}"
    account = _account_of(access_key)
    return {
        "account": account,
        "principal": _principal_of(account, access_key),
        "region": region,
        "service": service,
        "action": action,
        "method": method,
        "path": path,
    }


_FAULTS = []
_FAULTS_LOCK = threading.Lock()
_QUERY = {"sts", "sns", "iam", "ec2", "sqs", "autoscaling", "cloudwatch"}
_JSON = {"dynamodb", "cloudtrail", "logs", "events", "config"}


def _fault_for(call):
    with _FAULTS_LOCK:
        for f in _FAULTS:
            if f.get("count", 1) <= 0:
                continue
            if f.get("service") not in (None, call["service"]):
                continue
            if not str(call["action"]).startswith(f.get("action", "")):
                continue
            if f.get("account") not in (None, call["account"]):
                continue
            if f.get("skip", 0) > 0:
                f["skip"] -= 1
                continue
            f["count"] = f.get("count", 1) - 1
            return dict(f)
    return None


def _fault_response(fault, call, start_response):
    import time as _time

    if fault.get("delay"):
        _time.sleep(float(fault["delay"]))
    code, message = fault.get("code", "InternalError"), fault.get("message", "injected by quell_moto")
    status = int(fault.get("status", 500))
    service = call["service"]
    if service == "ec2":
        body = f"<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors><RequestID>quell-fault</RequestID></Response>"
        ctype, extra = "text/xml", []
    elif service in _QUERY:
        body = f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>quell-fault</RequestId></ErrorResponse>"
        ctype, extra = "text/xml", []
    elif service == "s3":
        body = f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code><Message>{message}</Message><RequestId>quell-fault</RequestId></Error>"
        ctype, extra = "application/xml", []
    else:
        body = json.dumps({"__type": code, "message": message})
        ctype, extra = "application/json", [("x-amzn-errortype", code)]
    data = body.encode()
    start_response(f"{status} Fault", [("Content-Type", ctype), ("Content-Length", str(len(data))), ("x-amzn-requestid", "quell-fault")] + extra)
    return [data]


# Seeds that may be refused (what time or AWS could not do): path -> function returning why, or None.
_REFUSING_SEEDS = {
    "/_quell/iam-key-age": age_access_key,
    "/_quell/iam-password-age": age_password,
    "/_quell/config-evaluations": seed_config_evaluations,
    "/_quell/securityhub-v2-findings": seed_securityhub_v2,
}


class CallLog:
    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path == "/_quell/cloudtrail-events" and environ.get("REQUEST_METHOD") == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            seed = json.loads(environ["wsgi.input"].read(length) or b"{}")
            _TRAIL_EVENTS.setdefault((seed["account"], seed["region"]), []).extend(seed.get("events", []))
            start_response("204 No Content", [("Content-Length", "0")])
            return [b""]
        if path == "/_quell/access-analyzer-findings" and environ.get("REQUEST_METHOD") == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            seed_access_analyzer(json.loads(environ["wsgi.input"].read(length) or b"{}"))
            start_response("204 No Content", [("Content-Length", "0")])
            return [b""]
        seed = _REFUSING_SEEDS.get(path)
        if seed and environ.get("REQUEST_METHOD") == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            refused = seed(json.loads(environ["wsgi.input"].read(length) or b"{}"))
            if refused:
                payload = json.dumps({"message": refused}).encode()
                start_response("400 Bad Request", [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))])
                return [payload]
            start_response("204 No Content", [("Content-Length", "0")])
            return [b""]
        if path == "/_quell/hub-import-delay" and environ.get("REQUEST_METHOD") == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            _IMPORT_DELAY["seconds"] = float(json.loads(environ["wsgi.input"].read(length) or b"{}").get("seconds", 0))
            start_response("204 No Content", [("Content-Length", "0")])
            return [b""]
        if path == "/_quell/faults":
            with _FAULTS_LOCK:
                if environ.get("REQUEST_METHOD") == "POST":
                    length = int(environ.get("CONTENT_LENGTH") or 0)
                    _FAULTS.extend(json.loads(environ["wsgi.input"].read(length) or b"[]"))
                else:
                    _FAULTS.clear()
            start_response("204 No Content", [("Content-Length", "0")])
            return [b""]
        if path == "/_quell/sns-messages":
            from moto.sns.models import sns_backends

            messages = []
            for account, per_region in list(sns_backends.items()):
                for region in list(per_region.keys()):
                    for arn, topic in list(dict.__getitem__(per_region, region).topics.items()):
                        for sent in list(getattr(topic, "sent_notifications", [])):
                            messages.append({"topic": arn, "message": sent[1], "subject": sent[2]})
            payload = json.dumps(messages).encode()
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))])
            return [payload]
        if path == "/_quell/calls":
            if environ.get("REQUEST_METHOD") == "DELETE":
                with _CALLS_LOCK:
                    _CALLS.clear()
                payload = b"[]"
            else:
                with _CALLS_LOCK:
                    payload = json.dumps(_CALLS).encode()
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))])
            return [payload]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        try:
            call = _describe(environ, body)
        except Exception:  # the log must never break a request
            call = None
        entry = None
        if call:
            fault = _fault_for(call)
            entry = dict(call, fault=fault.get("code") if fault else None)
            with _CALLS_LOCK:
                _CALLS.append(entry)
                _persist(dict(call, fault=fault.get("code") if fault else None))
            if fault and fault.get("pass"):
                # A slow answer, not an error: the real response, after the delay.
                _time.sleep(float(fault.get("delay", 0)))
            elif fault:
                return _fault_response(fault, call, start_response)
            if call["service"] == "access-analyzer":
                return access_analyzer(call, environ, body, start_response)
            if call["service"] == "guardduty":
                answered = guardduty_association(call, environ, body, start_response)
                if answered is not None:
                    return answered
            if call["service"] == "config" and call["action"] == "PutConfigurationRecorder":
                denied = _recorder_role_denied(call, environ, body)
                if denied:
                    return _json_response(start_response, "400 Bad Request", {"__type": "AccessDeniedException", "message": denied}, "AccessDeniedException")
            if call["service"] == "events" and call["action"] == "PutTargets":
                arns, roles = _put_targets_context(body)
                for role in roles:
                    denied = _iam_denied(call, environ, body, "iam:PassRole", role, {"iam:PassedToService": ["events.amazonaws.com"]})
                    if denied:
                        return _json_response(start_response, "400 Bad Request", {"__type": "AccessDeniedException", "message": denied}, "AccessDeniedException")
                # events:TargetArn is in the context while moto authorizes the call itself.
                _CONTEXT.values = {"events:TargetArn": arns}
                _REQUEST.entry = entry
                try:
                    return list(self.app(environ, start_response))
                finally:
                    _CONTEXT.values = None
            if call["service"] == "ec2" and call["action"] == "CreateFlowLogs":
                denied = _flow_log_delivery_denied(call, environ, body)
                if denied:
                    payload = (
                        '<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error>'
                        "<Code>UnauthorizedOperation</Code><Message>"
                        + _xml_escape(denied)
                        + "</Message></Error></Errors><RequestID>quell</RequestID></Response>"
                    ).encode()
                    start_response("403 Forbidden", [("Content-Type", "text/xml"), ("Content-Length", str(len(payload)))])
                    return [payload]
        if os.environ.get("QUELL_MOTO_DEBUG") and call:
            seen = {}

            def recording(status, headers, exc_info=None):
                seen["status"] = status
                return start_response(status, headers, exc_info)

            out = list(self.app(environ, recording))
            if not seen.get("status", "200").startswith("2"):
                print(f"{call['service']} {call['action']} -> {seen['status']}: {b''.join(out)[:600]!r}", file=sys.stderr, flush=True)
            return out
        _REQUEST.entry = entry
        return self.app(environ, start_response)


# ------------------------------------------------------------------ IAM in force: NotResource, conditions

import fnmatch as _fnmatch  # noqa: E402

from moto.iam import access_control as _ac  # noqa: E402

# The condition keys a call puts in its request context, as AWS does, for the duration of the call
# (this thread): {"events:TargetArn": [...]} at PutTargets, {"iam:PassedToService": [...]} where a
# call passes a role.
_CONTEXT = threading.local()


def _glob(pattern, value):
    """IAM's `*` and `?`, case-sensitive."""
    return _fnmatch.fnmatchcase(value, pattern.replace("[", "[[]"))


def _arn_like(pattern, value):
    """ArnLike: each of the six colon-separated parts matched on its own (the resource part keeps
    its colons), as IAM does."""
    p, v = pattern.split(":", 5), value.split(":", 5)
    return len(p) == len(v) == 6 and all(_glob(a, b) for a, b in zip(p, v))


_OPERATORS = {
    "StringEquals": lambda p, v: p == v,
    "StringLike": _glob,
    # As IAM: ArnEquals and ArnLike both match part by part, with wildcards.
    "ArnEquals": _arn_like,
    "ArnLike": _arn_like,
}

# An operator this does not evaluate, on a key the context holds: the statement is read the
# strictest way (an Allow does not grant, a Deny applies), never looser than IAM.
_UNKNOWN = object()


def _condition_holds(operator, policy_values, request_values, allow=False):
    """One condition operator on one key, as IAM evaluates it: a value matches when it matches any
    of the policy's; a negated operator (…Not…) holds when the value matches none. ForAnyValue:
    some request value must (none: false); ForAllValues: every one must (none: true); without a
    qualifier, a key with no value holds only for a negated operator or with IfExists, and with
    several values any one decides (the stricter reading for a Deny). Null: "true" holds when the
    key has no value, "false" when it has one."""
    qualifier, _, op = operator.rpartition(":")
    if op == "Null":
        value = policy_values[0] if isinstance(policy_values, list) and policy_values else policy_values
        wanted = str(value).lower() == "true"
        return (not request_values) == wanted
    if_exists = op.endswith("IfExists")
    op = op[: -len("IfExists")] if if_exists else op
    negated = "Not" in op
    base = _OPERATORS.get(op.replace("Not", ""))
    if base is None or qualifier not in ("", "ForAnyValue", "ForAllValues"):
        return _UNKNOWN
    wanted = policy_values if isinstance(policy_values, list) else [policy_values]

    def one(v):
        hit = any(base(str(w), str(v)) for w in wanted)
        return not hit if negated else hit

    if qualifier == "ForAnyValue":
        return any(one(v) for v in request_values)
    if qualifier == "ForAllValues":
        return all(one(v) for v in request_values)
    if not request_values:
        return if_exists or negated
    # Several values under an unqualified operator: the stricter reading, every one for an Allow,
    # any one for a Deny.
    return all(one(v) for v in request_values) if allow else any(one(v) for v in request_values)


_moto_statement_permitted = _ac.IAMPolicyStatement.is_action_permitted


def _statement_permitted(self, action, resource="*", principal=None, incoming_condition_values=None):
    """As IAM, where moto is looser or reads it otherwise:
    * NotResource: a statement applies to every resource but those it names (moto read a statement
      without Resource as a trust policy's, and a Deny with NotResource as an Allow of everything);
    * the conditions on a key the call's context holds (`_CONTEXT`, keys compared without regard
      to case, as IAM does) are evaluated, and a statement whose condition does not hold does not
      apply (moto denied outright); an operator this does not know reads the strictest way.
      Conditions on other keys are moto's reading: taken as met."""
    statement = self._statement
    ctx = {k.lower(): v for k, v in (getattr(_CONTEXT, "values", None) or {}).items()}
    conditions = statement.get("Condition") or {}
    judged = {}
    for operator, keys in conditions.items():
        for key, values in (keys or {}).items():
            if key.lower() in ctx:
                judged.setdefault(operator, {})[key] = _condition_holds(
                    operator, values, ctx[key.lower()], statement.get("Effect") == "Allow")
    if judged:
        results = [held for keys in judged.values() for held in keys.values()]
        if any(held is _UNKNOWN for held in results):
            if statement.get("Effect") == "Allow":
                return _ac.PermissionResult.NEUTRAL
        elif not all(results):
            return _ac.PermissionResult.NEUTRAL
        rest = {}
        for operator, keys in conditions.items():
            left = {k: v for k, v in (keys or {}).items() if k not in judged.get(operator, {})}
            if left:
                rest[operator] = left
        statement = dict(statement)
        if rest:
            statement["Condition"] = rest
        else:
            statement.pop("Condition", None)
    if "NotResource" in statement and "Resource" not in statement:
        if _ac.IAMPolicyStatement({"NotResource": statement["NotResource"]})._check_element_matches("NotResource", resource):
            return _ac.PermissionResult.NEUTRAL  # a resource it leaves out
        statement = dict(statement)
        statement.pop("NotResource")
        statement["Resource"] = "*"
    if statement is not self._statement:
        return _moto_statement_permitted(_ac.IAMPolicyStatement(statement), action, resource, principal, incoming_condition_values)
    return _moto_statement_permitted(self, action, resource, principal, incoming_condition_values)


_ac.IAMPolicyStatement.is_action_permitted = _statement_permitted


# ------------------------------------------------------------------ IAM in force: EventBridge rules

from moto.events.responses import EventsHandler as _EventsHandler  # noqa: E402

# The EventBridge actions AWS authorizes on the rule they name, and the parameter that names it.
_RULE_ACTIONS = {
    "PutRule": "Name", "DeleteRule": "Name", "EnableRule": "Name", "DisableRule": "Name",
    "DescribeRule": "Name", "PutTargets": "Rule", "RemoveTargets": "Rule", "ListTargetsByRule": "Rule",
}


def _events_resource(self):
    """As EventBridge: a rule's calls are authorized on the rule's ARN
    (`arn:aws:events:<Region>:<account>:rule/[<bus>/]<name>`), where moto authorized every call on
    `*`; so a Deny on quell's rules holds here as in AWS."""
    try:
        action = self._get_action()
        param = _RULE_ACTIONS.get(action)
        if not param:
            return "*"
        body = json.loads(self.body or "{}")
        name = body.get(param)
        if not isinstance(name, str) or not name:
            return "*"
        bus = body.get("EventBusName") or "default"
        account = self.current_account
        if bus.startswith("arn:"):
            parts = bus.split(":", 5)
            account = parts[4] if len(parts) == 6 and parts[4] else account
        bus = bus.rsplit("event-bus/", 1)[-1]
        path = name if bus == "default" else f"{bus}/{name}"
        return f"arn:aws:events:{self.region}:{account}:rule/{path}"
    except Exception:
        return "*"


_EventsHandler._determine_resource = _events_resource


def _put_targets_context(body):
    """PutTargets' request context, as AWS builds it: events:TargetArn, every target's ARN; and the
    roles it passes (each target's RoleArn)."""
    try:
        request = json.loads(body or b"{}")
    except ValueError:
        return [], []
    targets = request.get("Targets") if isinstance(request, dict) else None
    if not isinstance(targets, list):
        return [], []
    arns = [t.get("Arn") for t in targets if isinstance(t, dict) and isinstance(t.get("Arn"), str)]
    roles = [t.get("RoleArn") for t in targets if isinstance(t, dict) and isinstance(t.get("RoleArn"), str)]
    return arns, roles


# ------------------------------------------------------------------ IAM in force: S3 action names

from moto.iam import access_control as _access_control

# (method, bucket subresource) -> the IAM action AWS authorizes the call as.
_S3_IAM_ACTIONS = {
    ("GET", "publicAccessBlock"): "GetBucketPublicAccessBlock",
    ("PUT", "publicAccessBlock"): "PutBucketPublicAccessBlock",
    ("DELETE", "publicAccessBlock"): "PutBucketPublicAccessBlock",
    ("GET", "encryption"): "GetEncryptionConfiguration",
    ("PUT", "encryption"): "PutEncryptionConfiguration",
    ("DELETE", "encryption"): "PutEncryptionConfiguration",
    ("GET", "policyStatus"): "GetBucketPolicyStatus",
    ("GET", "ownershipControls"): "GetBucketOwnershipControls",
    ("PUT", "ownershipControls"): "PutBucketOwnershipControls",
    ("GET", "website"): "GetBucketWebsite",
    ("GET", "tagging"): "GetBucketTagging",
    ("PUT", "tagging"): "PutBucketTagging",
    ("DELETE", "tagging"): "PutBucketTagging",
    ("GET", "policy"): "GetBucketPolicy",
    ("PUT", "policy"): "PutBucketPolicy",
    ("DELETE", "policy"): "DeleteBucketPolicy",
    ("GET", "acl"): "GetBucketAcl",
    ("PUT", "acl"): "PutBucketAcl",
}

_s3_request_init = _access_control.S3IAMRequest.__init__


def _s3_request_with_iam_action(self, account_id, method, path, data, body, headers, action):
    _s3_request_init(self, account_id, method, path, data, body, headers, action)
    bare, _, query = path.partition("?")
    if bare.strip("/").count("/") != 0:
        return  # an object, not a bucket
    for part in query.split("&"):
        iam = _S3_IAM_ACTIONS.get((method, part.split("=", 1)[0]))
        if iam:
            self._action = f"s3:{iam}"
            return


_access_control.S3IAMRequest.__init__ = _s3_request_with_iam_action


# S3 Control's account-level Block Public Access, authorized by moto as s3:GetPublicAccessBlock.
_S3_CONTROL_IAM_ACTIONS = {
    "s3:GetPublicAccessBlock": "s3:GetAccountPublicAccessBlock",
    "s3:PutPublicAccessBlock": "s3:PutAccountPublicAccessBlock",
    "s3:DeletePublicAccessBlock": "s3:PutAccountPublicAccessBlock",
}

_iam_request_init = _access_control.IAMRequest.__init__


def _iam_request_with_iam_action(self, account_id, method, path, data, body, headers, action):
    _iam_request_init(self, account_id, method, path, data, body, headers, action)
    if "/configuration/publicAccessBlock" in path and self._action in _S3_CONTROL_IAM_ACTIONS:
        self._action = _S3_CONTROL_IAM_ACTIONS[self._action]
    # CloudWatch signs as `monitoring` and AWS authorizes it as `cloudwatch:` (moto asks the
    # policy for monitoring:GetMetricStatistics, which no policy names, so it denies everything).
    if self._action.startswith("monitoring:"):
        self._action = "cloudwatch:" + self._action.split(":", 1)[1]


_access_control.IAMRequest.__init__ = _iam_request_with_iam_action


def _known_identity_only(self):
    """moto recomputes SigV4 from its own view of the body and disagrees with the Rust SDK on some
    bodies (SNS Publish of a long JSON message): the signature is not recomputed. The access key
    must still be a known identity's (checked when the request is read) and its policies decide."""
    return None


_access_control.IAMRequestBase.check_signature = _known_identity_only


# The emulator's own time for each logged call: from its request line read (or, for the first
# request of a connection, from the connection's accept, so a new thread and socket count too) to
# its answer written (headers parsed, the app run, the response sent). `make bench` sets a
# function's first response beside the sum for its calls.
_REQUEST = threading.local()
_ACCEPTED = {}


class TimedRequestHandler(MotoRequestHandler):
    def handle_one_request(self):
        _REQUEST.started, _REQUEST.entry = None, None
        super().handle_one_request()
        started, entry = _REQUEST.started, _REQUEST.entry
        if started is not None and entry is not None:
            entry["ms"] = round((_time.perf_counter() - started) * 1e3, 3)

    def parse_request(self):
        _REQUEST.started = _ACCEPTED.pop(id(self.request), None) or _time.perf_counter()
        return super().parse_request()

    def finish(self):
        # A connection closed before any request: its accept time must not outlive its socket.
        _ACCEPTED.pop(id(self.request), None)
        super().finish()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    app = CallLog(DomainDispatcherApplication(create_backend_app))
    server = make_server("127.0.0.1", args.port, app, threaded=True, request_handler=TimedRequestHandler)
    accept = server.process_request

    def process_request(request, client_address):
        _ACCEPTED[id(request)] = _time.perf_counter()
        return accept(request, client_address)

    server.process_request = process_request
    print(f"QUELL_MOTO_READY {server.server_port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
