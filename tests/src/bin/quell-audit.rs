//! The permission audit: a second, independent check of every function's IAM permissions, from
//! what the emulator saw rather than from what moto's IAM evaluation allowed.
//!
//! `make test` runs the suites with `QUELL_CALL_LOG_DIR` set: every emulator appends each call it
//! serves (with the role behind the caller's key) to a file there. This program then reads them all
//! and holds, for every function:
//! - every call made under its member role `quell-<id>` maps, through the table below, to an IAM
//!   action its member policy (Spec permissions and the shared core's) grants;
//! - every action its Spec declares was used by some test (no dead permission), unless
//!   [`UNEXERCISED`] names it with the reason no test can reach it;
//! - every undo-only action (`undo_permissions`) was used by the `quell-undo` role, and that role
//!   made no call its policy does not grant;
//! - the trail reader (`quell-trail-reader`) used each of its actions and nothing else.
//!
//! Usage: `quell-audit DIR`. Prints one row per function; exits 1 naming each violation.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::ExitCode;

use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct Call {
    #[serde(default)]
    principal: Option<String>,
    service: String,
    action: String,
    method: String,
    path: String,
}

/// Declared actions that no test can exercise on the emulator, each with the reason. Empty is
/// the goal; every entry is printed with the audit.
const UNEXERCISED: &[(&str, &str, &str)] = &[];

/// The actions AWS authorizes beside a call's own: a flow log to S3 sets up a log delivery
/// (logs:CreateLogDelivery, logs:DeleteLogDelivery; quell makes flow logs to S3 only), a recorder
/// passes its role (iam:PassRole).
fn alongside(action: &str) -> &'static [&'static str] {
    match action {
        "ec2:CreateFlowLogs" => &["logs:CreateLogDelivery", "logs:DeleteLogDelivery"],
        // The recorder's role is passed to AWS Config.
        "config:PutConfigurationRecorder" => &["iam:PassRole"],
        _ => &[],
    }
}

/// The IAM action AWS authorizes a call as: `service:Operation` for the JSON and query
/// protocols, and a table for the REST APIs whose operations have no name on the wire (S3,
/// S3 Control, Security Hub) or whose IAM name differs from the operation's.
fn iam_action(c: &Call) -> Option<String> {
    // The signing name is the IAM prefix for every service quell calls (access-analyzer too),
    // but CloudWatch's: it signs as `monitoring` and authorizes as `cloudwatch:`.
    let prefix = match c.service.as_str() {
        "monitoring" => "cloudwatch",
        s => s,
    };
    match c.service.as_str() {
        "s3" => s3_action(c).map(|a| format!("s3:{a}")),
        "securityhub" => {
            let op = match (c.method.as_str(), c.path.trim_end_matches('/')) {
                ("POST", "/findings/import") => "BatchImportFindings",
                ("PATCH", "/findings/batchupdate") => "BatchUpdateFindings",
                ("POST", "/findings") => "GetFindings",
                ("PATCH", "/findingsv2/batchupdatev2") => "BatchUpdateFindingsV2",
                ("POST", "/findingsv2") => "GetFindingsV2",
                ("GET", "/accounts") => "DescribeHub",
                ("POST", "/accounts") => "EnableSecurityHub",
                ("DELETE", "/accounts") => "DisableSecurityHub",
                ("POST", "/standards/register") => "BatchEnableStandards",
                ("POST", "/standards/deregister") => "BatchDisableStandards",
                ("POST", "/standards/get") => "GetEnabledStandards",
                ("GET", "/productSubscriptions") => "ListEnabledProductsForImport",
                ("POST", "/productSubscriptions") => "EnableImportFindingsForProduct",
                ("DELETE", p) if p.starts_with("/productSubscriptions/") => {
                    "DisableImportFindingsForProduct"
                }
                _ => return None,
            };
            Some(format!("securityhub:{op}"))
        }
        "guardduty" => {
            let path = c.path.trim_end_matches('/');
            let one = path
                .strip_prefix("/detector/")
                .is_some_and(|id| !id.is_empty() && !id.contains('/'));
            let op = match (c.method.as_str(), path) {
                ("GET", "/detector") => "ListDetectors",
                ("GET", p) if p.ends_with("/administrator") => "GetAdministratorAccount",
                ("POST", "/detector") => "CreateDetector",
                ("GET", _) if one => "GetDetector",
                ("POST", _) if one => "UpdateDetector",
                ("DELETE", _) if one => "DeleteDetector",
                _ => return None,
            };
            Some(format!("guardduty:{op}"))
        }
        "lambda" => {
            let parts: Vec<&str> = c.path.trim_matches('/').split('/').collect();
            // `/<api version>/functions/<name or ARN>[/<sub-resource>]`, `/<version>/tags/<ARN>`.
            let op = match (c.method.as_str(), &parts[1..]) {
                ("GET", ["tags", _]) => "ListTags",
                ("GET", ["functions", _, "concurrency"]) => "GetFunctionConcurrency",
                ("PUT", ["functions", _, "concurrency"]) => "PutFunctionConcurrency",
                ("DELETE", ["functions", _, "concurrency"]) => "DeleteFunctionConcurrency",
                ("GET", ["functions", _]) => "GetFunction",
                ("POST", ["functions", _, "versions"]) => "PublishVersion",
                ("GET", ["functions", _, "versions"]) => "ListVersionsByFunction",
                ("POST", ["functions"]) => "CreateFunction",
                ("GET", ["functions", _, "policy"]) => "GetPolicy",
                ("POST", ["functions", _, "policy"]) => "AddPermission",
                ("DELETE", ["functions", _, "policy", _]) => "RemovePermission",
                _ => return None,
            };
            Some(format!("lambda:{op}"))
        }
        "access-analyzer" => {
            let path = c.path.trim_end_matches('/');
            let op = match (c.method.as_str(), path) {
                ("PUT", "/finding") => "UpdateFindings",
                ("GET", p) if p.starts_with("/finding/") => "GetFinding",
                ("POST", "/finding") => "ListFindings",
                ("PUT", "/analyzer") => "CreateAnalyzer",
                ("GET", "/analyzer") => "ListAnalyzers",
                ("GET", p) if p.starts_with("/analyzer/") && !p[10..].contains('/') => {
                    "GetAnalyzer"
                }
                ("DELETE", p) if p.starts_with("/analyzer/") && !p[10..].contains('/') => {
                    "DeleteAnalyzer"
                }
                _ => return None,
            };
            Some(format!("access-analyzer:{op}"))
        }
        _ if c.action.contains(' ') || c.action.is_empty() => None,
        _ => Some(format!("{prefix}:{}", c.action)),
    }
}

/// S3 and S3 Control (both signed as `s3`), by method and sub-resource.
fn s3_action(c: &Call) -> Option<&'static str> {
    if c.path
        .starts_with("/v20180820/configuration/publicAccessBlock")
    {
        return match c.method.as_str() {
            "GET" => Some("GetAccountPublicAccessBlock"),
            "PUT" | "DELETE" => Some("PutAccountPublicAccessBlock"),
            _ => None,
        };
    }
    let path = c.path.trim_matches('/');
    if path.is_empty() || path.contains('/') {
        return None; // the service or an object: quell touches neither
    }
    // The shim describes a bucket call as "<METHOD> <sub-resource>" or "<METHOD> /<bucket>".
    let sub = c.action.split_once(' ').map(|(_, s)| s).unwrap_or("");
    let a = match (c.method.as_str(), sub) {
        ("GET", "publicAccessBlock") => "GetBucketPublicAccessBlock",
        ("PUT" | "DELETE", "publicAccessBlock") => "PutBucketPublicAccessBlock",
        ("GET", "encryption") => "GetEncryptionConfiguration",
        ("PUT" | "DELETE", "encryption") => "PutEncryptionConfiguration",
        ("GET", "policy") => "GetBucketPolicy",
        ("PUT", "policy") => "PutBucketPolicy",
        ("DELETE", "policy") => "DeleteBucketPolicy",
        ("GET", "policyStatus") => "GetBucketPolicyStatus",
        ("GET", "acl") => "GetBucketAcl",
        ("PUT", "acl") => "PutBucketAcl",
        ("GET", "tagging") => "GetBucketTagging",
        ("PUT" | "DELETE", "tagging") => "PutBucketTagging",
        ("GET", "ownershipControls") => "GetBucketOwnershipControls",
        ("PUT", "ownershipControls") => "PutBucketOwnershipControls",
        ("GET", "website") => "GetBucketWebsite",
        ("GET" | "HEAD", s) if s.starts_with('/') => "ListBucket",
        _ => return None,
    };
    Some(a)
}

/// The role name of an assumed-role ARN (`arn:aws:iam::<account>:role/<path>/<name>`).
fn role_name(arn: &str) -> Option<&str> {
    arn.split_once(":role/")
        .map(|(_, r)| r.rsplit('/').next().unwrap_or(r))
}

fn read_calls(dir: &Path) -> Result<Vec<Call>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        format!(
            "no call log at {} ({e}): run the suites with QUELL_CALL_LOG_DIR set (make test does)",
            dir.display()
        )
    })?;
    let mut calls = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.extension().and_then(|e| e.to_str()) != Some("jsonl") {
            continue;
        }
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        for (n, line) in text.lines().enumerate() {
            let call: Call = serde_json::from_str(line)
                .map_err(|e| format!("{}:{}: {e}", path.display(), n + 1))?;
            calls.push(call);
        }
    }
    Ok(calls)
}

fn main() -> ExitCode {
    let Some(dir) = std::env::args().nth(1) else {
        eprintln!("usage: quell-audit DIR (the QUELL_CALL_LOG_DIR of a test run)");
        return ExitCode::from(2);
    };
    match audit(Path::new(&dir)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(problems) => {
            for p in &problems {
                eprintln!("quell-audit: {p}");
            }
            eprintln!("quell-audit: {} problem(s)", problems.len());
            ExitCode::FAILURE
        }
    }
}

fn audit(dir: &Path) -> Result<(), Vec<String>> {
    let calls = read_calls(dir).map_err(|e| vec![e])?;
    let specs = quell_tests::specs();
    let mut problems = Vec::new();
    let mut used: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let undo_grants: BTreeSet<&str> = specs
        .iter()
        .flat_map(|s| s.permissions.iter().chain(s.undo_permissions.iter()))
        .copied()
        .chain(quell::hub::MEMBER_PERMISSIONS.iter().copied())
        .collect();
    for c in &calls {
        let Some(role) = c.principal.as_deref().and_then(role_name) else {
            continue;
        };
        let grants: BTreeSet<&str> = if role == quell::member::UNDO_ROLE {
            undo_grants.clone()
        } else if role == quell::member::TRAIL_READER_ROLE {
            quell::member::TRAIL_READER_PERMISSIONS
                .iter()
                .copied()
                .collect()
        } else if let Some(s) = specs
            .iter()
            .find(|s| quell::Config::default().member_role_of(s.id) == role)
        {
            s.permissions
                .iter()
                .copied()
                .chain(quell::hub::MEMBER_PERMISSIONS.iter().copied())
                .collect()
        } else {
            continue; // the tests' own identities
        };
        *counts.entry(role.to_string()).or_default() += 1;
        let Some(action) = iam_action(c) else {
            problems.push(format!(
                "{role}: no IAM action known for the call {} {} {} {}: add it to quell-audit's table",
                c.service, c.method, c.path, c.action
            ));
            continue;
        };
        if !grants.contains(action.as_str()) {
            problems.push(format!(
                "{role}: called {action} ({} {}), which its policy does not grant",
                c.method, c.path
            ));
        }
        // The actions AWS authorizes at the same call (the emulator evaluates them there too, see
        // quell_moto.py): each must be granted, and counts as used.
        for dep in alongside(&action) {
            if !grants.contains(dep) {
                problems.push(format!(
                    "{role}: called {action}, which AWS also authorizes as {dep}, not granted"
                ));
            }
            used.entry(role.to_string())
                .or_default()
                .insert(dep.to_string());
        }
        used.entry(role.to_string()).or_default().insert(action);
    }
    if counts.is_empty() {
        problems.push(format!(
            "{} holds no call made by a quell role: the suites did not run with QUELL_CALL_LOG_DIR",
            dir.display()
        ));
    }
    let none = BTreeSet::new();
    println!(
        "{:<32} {:>6} {:>9} {:>6}  unused",
        "role", "calls", "declared", "used"
    );
    for s in &specs {
        let role = quell::Config::default().member_role_of(s.id);
        let seen = used.get(&role).unwrap_or(&none);
        let declared: BTreeSet<&str> = s.permissions.iter().copied().collect();
        let mut unused = Vec::new();
        for a in &declared {
            if seen.contains(*a) {
                continue;
            }
            match UNEXERCISED.iter().find(|(f, x, _)| *f == s.id && x == a) {
                Some((_, _, why)) => unused.push(format!("{a} (not exercised: {why})")),
                None => {
                    unused.push(a.to_string());
                    problems.push(format!(
                        "{}: declares {a}, which no test used: a dead permission, or an untested path",
                        s.id
                    ));
                }
            }
        }
        println!(
            "{:<32} {:>6} {:>9} {:>6}  {}",
            role,
            counts.get(&role).copied().unwrap_or(0),
            declared.len(),
            declared.iter().filter(|a| seen.contains(**a)).count(),
            unused.join(", ")
        );
    }
    let undo_seen = used.get(quell::member::UNDO_ROLE).unwrap_or(&none);
    let undo_only: BTreeSet<&str> = specs
        .iter()
        .flat_map(|s| s.undo_permissions.iter().copied())
        .collect();
    let undo_unused: Vec<&str> = undo_only
        .iter()
        .copied()
        .filter(|a| !undo_seen.contains(*a))
        .collect();
    for a in &undo_unused {
        problems.push(format!(
            "{}: the undo-only action {a} was never used by an undo in any test",
            quell::member::UNDO_ROLE
        ));
    }
    println!(
        "{:<32} {:>6} {:>9} {:>6}  {}",
        quell::member::UNDO_ROLE,
        counts.get(quell::member::UNDO_ROLE).copied().unwrap_or(0),
        undo_only.len(),
        undo_only.len() - undo_unused.len(),
        undo_unused.join(", ")
    );
    let reader = quell::member::TRAIL_READER_ROLE;
    let reader_seen = used.get(reader).unwrap_or(&none);
    let reader_unused: Vec<&str> = quell::member::TRAIL_READER_PERMISSIONS
        .iter()
        .copied()
        .filter(|a| !reader_seen.contains(*a))
        .collect();
    for a in &reader_unused {
        problems.push(format!("{reader}: declares {a}, which no test used"));
    }
    println!(
        "{:<32} {:>6} {:>9} {:>6}  {}",
        reader,
        counts.get(reader).copied().unwrap_or(0),
        quell::member::TRAIL_READER_PERMISSIONS.len(),
        quell::member::TRAIL_READER_PERMISSIONS.len() - reader_unused.len(),
        reader_unused.join(", ")
    );
    let mut used_shared: BTreeSet<&str> = BTreeSet::new();
    for seen in used.values() {
        for a in quell::hub::MEMBER_PERMISSIONS {
            if seen.contains(*a) {
                used_shared.insert(a);
            }
        }
    }
    for a in quell::hub::MEMBER_PERMISSIONS {
        if !used_shared.contains(a) {
            problems.push(format!(
                "the shared core's member action {a} was never used"
            ));
        }
    }
    println!(
        "{} calls read; {} made by quell's member roles",
        calls.len(),
        counts.values().sum::<usize>()
    );
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}
