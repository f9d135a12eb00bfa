//! `cloudtrail-restore-logging`: a trail that was stopped logs again; multi-region and log file
//! validation are turned back on where they were turned off. For an account-level finding, every
//! trail the account owns in the region is checked.
//!
//! CloudTrail.1 asks for a multi-Region trail that logs management events, read and write. A trail
//! whose event selectors leave management events out, or log only part of them (ReadOnly,
//! WriteOnly, excluded event sources, an advanced selector on `readOnly`), gets a selector that logs
//! every management event; its data-event selectors are kept as they are.

use aws_sdk_cloudtrail::types::{
    AdvancedEventSelector, AdvancedFieldSelector, DataResource, EventSelector, ReadWriteType,
};
use quell::remediation::Cached;
use quell::{
    AwsError, AwsResultExt, Finding, Member, Mode, NotApplicable, Remediation, ResourceKind, Spec,
    Step, Tags, Triggers,
};
use serde_json::{json, Value};

const START: &str = "cloudtrail:StartLogging";
const UPDATE: &str = "cloudtrail:UpdateTrail";
const STOP: &str = "cloudtrail:StopLogging";
const GET_SELECTORS: &str = "cloudtrail:GetEventSelectors";
const PUT_SELECTORS: &str = "cloudtrail:PutEventSelectors";
/// The name of the advanced event selector quell adds for management events.
pub const MANAGEMENT_SELECTOR: &str = "Management events (quell)";
/// CloudTrail's limit on basic event selectors per trail.
const MAX_SELECTORS: usize = 5;

#[derive(Debug, Clone, Default)]
pub struct CloudtrailRestoreLogging;

#[derive(Debug, Default)]
pub struct Target {
    /// The trail a finding names; `None`: every trail of the account in the region.
    pub trail: Option<String>,
    pub account: String,
    pub region: String,
    /// Whether the trails' event selectors are read and management events put back in them
    /// (cloudtrail:GetEventSelectors, cloudtrail:PutEventSelectors).
    event_selectors: bool,
    /// The trails `tags` read, for `plan` and `apply` of the same run; `apply` clears it so that
    /// the verification reads afresh.
    read: Cached<Vec<Trail>>,
}

impl Target {
    /// The trails' logging, multi-region and validation; not their event selectors (a caller
    /// whose role may not read them, as cloudtrail-alarm-response's).
    pub fn new(trail: Option<String>, account: &str, region: &str) -> Target {
        Target {
            trail,
            account: account.to_string(),
            region: region.to_string(),
            event_selectors: false,
            read: Cached::default(),
        }
    }

    /// Also the trails' event selectors: management events, read and write, are logged.
    pub fn with_event_selectors(mut self) -> Target {
        self.event_selectors = true;
        self
    }
}

#[derive(Debug, Clone)]
struct Trail {
    name: String,
    arn: String,
    multi_region: bool,
    validation: bool,
    logging: bool,
    /// DescribeTrails' HasCustomEventSelectors: with no selector at all, whether the trail logs
    /// nothing (custom) or CloudTrail's default, every management event.
    custom_selectors: bool,
    /// The event selectors as GetEventSelectors gives them ([`selectors_json`]); `None`: not read.
    selectors: Option<Value>,
}

impl Trail {
    /// What its event selectors leave out of management events, where they were read.
    fn management_gap(&self) -> Option<String> {
        self.selectors
            .as_ref()
            .and_then(|s| management_gap(s, self.custom_selectors))
    }
}

fn valid_trail_name(s: &str) -> bool {
    (3..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// The trails, from the run's cache when `tags` or `plan` read them already.
async fn trails(ct: &aws_sdk_cloudtrail::Client, t: &Target) -> Result<Vec<Trail>, AwsError> {
    if let Some(v) = t.read.get() {
        return Ok(v);
    }
    let v = read_trails(ct, t).await?;
    t.read.set(v.clone());
    Ok(v)
}

async fn read_trails(ct: &aws_sdk_cloudtrail::Client, t: &Target) -> Result<Vec<Trail>, AwsError> {
    let mut req = ct.describe_trails().include_shadow_trails(false);
    if let Some(name) = &t.trail {
        req = req.trail_name_list(name);
    }
    let out = req
        .send()
        .await
        .aws(|| format!("could not describe the trails of {}", t.account))?;
    let mut v = Vec::new();
    for tr in out.trail_list() {
        let arn = tr.trail_arn().unwrap_or_default().to_string();
        // Only trails this account owns and manages here (an organization trail is the
        // management account's to change).
        let owned = arn.split(':').nth(4) == Some(t.account.as_str());
        if !owned || tr.home_region().is_some_and(|h| h != t.region) {
            continue;
        }
        let name = tr.name().unwrap_or_default().to_string();
        let status = ct
            .get_trail_status()
            .name(&arn)
            .send()
            .await
            .aws(|| format!("could not read the status of trail {name}"))?;
        let selectors = if t.event_selectors {
            let out = ct
                .get_event_selectors()
                .trail_name(&arn)
                .send()
                .await
                .aws(|| format!("could not read the event selectors of trail {name}"))?;
            Some(selectors_json(
                out.event_selectors(),
                out.advanced_event_selectors(),
            ))
        } else {
            None
        };
        v.push(Trail {
            multi_region: tr.is_multi_region_trail().unwrap_or(false),
            validation: tr.log_file_validation_enabled().unwrap_or(false),
            logging: status.is_logging().unwrap_or(false),
            custom_selectors: tr.has_custom_event_selectors().unwrap_or(false),
            selectors,
            name,
            arn,
        });
    }
    Ok(v)
}

/// A trail's event selectors as JSON, in the API's shape: `{"EventSelectors": [...],
/// "AdvancedEventSelectors": [...]}`. This is what `quell undo` records and puts back.
pub fn selectors_json(basic: &[EventSelector], advanced: &[AdvancedEventSelector]) -> Value {
    let basic: Vec<Value> = basic
        .iter()
        .map(|s| {
            let data: Vec<Value> = s
                .data_resources()
                .iter()
                .map(|d| json!({"Type": d.r#type(), "Values": d.values()}))
                .collect();
            json!({
                "ReadWriteType": s.read_write_type().map(|r| r.as_str()),
                "IncludeManagementEvents": s.include_management_events(),
                "DataResources": data,
                "ExcludeManagementEventSources": s.exclude_management_event_sources(),
            })
        })
        .collect();
    let advanced: Vec<Value> = advanced
        .iter()
        .map(|a| {
            let fields: Vec<Value> = a
                .field_selectors()
                .iter()
                .map(|f| {
                    let mut o = serde_json::Map::new();
                    o.insert("Field".into(), json!(f.field()));
                    for (k, v) in [
                        ("Equals", f.equals()),
                        ("StartsWith", f.starts_with()),
                        ("EndsWith", f.ends_with()),
                        ("NotEquals", f.not_equals()),
                        ("NotStartsWith", f.not_starts_with()),
                        ("NotEndsWith", f.not_ends_with()),
                    ] {
                        if !v.is_empty() {
                            o.insert(k.into(), json!(v));
                        }
                    }
                    Value::Object(o)
                })
                .collect();
            json!({"Name": a.name(), "FieldSelectors": fields})
        })
        .collect();
    json!({"EventSelectors": basic, "AdvancedEventSelectors": advanced})
}

fn list(v: &Value) -> &[Value] {
    v.as_array().map(Vec::as_slice).unwrap_or_default()
}

fn strs(v: &Value) -> Vec<&str> {
    list(v).iter().filter_map(Value::as_str).collect()
}

/// An advanced selector's `eventCategory = Management` field, if it is one for management events.
fn is_management(selector: &Value) -> bool {
    list(&selector["FieldSelectors"])
        .iter()
        .any(|f| f["Field"] == "eventCategory" && strs(&f["Equals"]).contains(&"Management"))
}

/// What a trail's event selectors leave out of management events (read and write, from every
/// event source), or `None` when they log them all. With no selector at all a trail logs every
/// management event, unless DescribeTrails says it has custom selectors (`custom`).
pub fn management_gap(selectors: &Value, custom: bool) -> Option<String> {
    let basic = list(&selectors["EventSelectors"]);
    let advanced = list(&selectors["AdvancedEventSelectors"]);
    let (mut read, mut write) = (false, false);
    if !advanced.is_empty() {
        let management: Vec<&Value> = advanced.iter().filter(|a| is_management(a)).collect();
        if management.is_empty() {
            return Some("no advanced event selector logs management events".into());
        }
        for m in management {
            let rest: Vec<&Value> = list(&m["FieldSelectors"])
                .iter()
                .filter(|f| f["Field"] != "eventCategory")
                .collect();
            // Only `eventCategory = Management` exactly: every management event.
            let exact = list(&m["FieldSelectors"])
                .iter()
                .filter(|f| f["Field"] == "eventCategory")
                .all(|f| {
                    strs(&f["Equals"]) == ["Management"]
                        && f.as_object().is_some_and(|o| o.len() == 2)
                });
            match rest.as_slice() {
                _ if !exact => {}
                [] => {
                    (read, write) = (true, true);
                }
                [only]
                    if only["Field"] == "readOnly"
                        && only.as_object().is_some_and(|o| o.len() == 2) =>
                {
                    match strs(&only["Equals"]).as_slice() {
                        ["true"] => {
                            read = true;
                        }
                        ["false"] => {
                            write = true;
                        }
                        _ => {}
                    }
                }
                _ => {}
            }
        }
    } else if basic.is_empty() {
        return custom.then(|| "its event selectors log nothing".to_string());
    } else {
        if !basic
            .iter()
            .any(|s| s["IncludeManagementEvents"].as_bool().unwrap_or(true))
        {
            return Some("its event selectors exclude management events".into());
        }
        for s in basic {
            let included = s["IncludeManagementEvents"].as_bool().unwrap_or(true);
            let every_source = list(&s["ExcludeManagementEventSources"]).is_empty();
            if included && every_source {
                match s["ReadWriteType"].as_str().unwrap_or("All") {
                    "All" => {
                        (read, write) = (true, true);
                    }
                    "ReadOnly" => {
                        read = true;
                    }
                    "WriteOnly" => {
                        write = true;
                    }
                    _ => {}
                }
            }
        }
    }
    let what = match (read, write) {
        (true, true) => return None,
        (true, false) => "write",
        (false, true) => "read",
        (false, false) => "read or write",
    };
    Some(format!(
        "its event selectors do not log every {what} management event"
    ))
}

/// The selectors with every management event logged, read and write, by one selector, and every
/// data-event selector kept as it was (no longer logging management events itself, so that none
/// is logged twice).
pub fn with_management_events(selectors: &Value) -> Result<Value, String> {
    let advanced = list(&selectors["AdvancedEventSelectors"]);
    if !advanced.is_empty() {
        let mut kept: Vec<Value> = advanced
            .iter()
            .filter(|a| !is_management(a))
            .cloned()
            .collect();
        kept.push(json!({"Name": MANAGEMENT_SELECTOR, "FieldSelectors": [
            {"Field": "eventCategory", "Equals": ["Management"]}
        ]}));
        return Ok(json!({"AdvancedEventSelectors": kept}));
    }
    let mut kept: Vec<Value> = list(&selectors["EventSelectors"])
        .iter()
        .filter(|s| !list(&s["DataResources"]).is_empty())
        .map(|s| {
            let mut s = s.clone();
            s["IncludeManagementEvents"] = json!(false);
            s["ExcludeManagementEventSources"] = json!([]);
            s
        })
        .collect();
    if kept.len() >= MAX_SELECTORS {
        return Err(format!(
            "the trail has {} data-event selectors, and CloudTrail allows {MAX_SELECTORS}: a person must merge them, or move the trail to advanced event selectors",
            kept.len()
        ));
    }
    kept.push(json!({
        "ReadWriteType": "All",
        "IncludeManagementEvents": true,
        "DataResources": [],
        "ExcludeManagementEventSources": [],
    }));
    Ok(json!({"EventSelectors": kept}))
}

/// How many data-event selectors a fix keeps, for its step.
fn data_selectors(selectors: &Value) -> usize {
    let advanced = list(&selectors["AdvancedEventSelectors"]);
    if advanced.is_empty() {
        list(&selectors["EventSelectors"])
            .iter()
            .filter(|s| !list(&s["DataResources"]).is_empty())
            .count()
    } else {
        advanced.iter().filter(|a| !is_management(a)).count()
    }
}

/// A PutEventSelectors body: basic selectors, or advanced ones (never both).
#[derive(Debug)]
pub enum Selectors {
    Basic(Vec<EventSelector>),
    Advanced(Vec<AdvancedEventSelector>),
}

fn strings(v: &Value, what: &str) -> Result<Option<Vec<String>>, String> {
    match v {
        Value::Null => Ok(None),
        Value::Array(a) => a
            .iter()
            .map(|x| {
                x.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| format!("{what}: {x} is not a string"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        other => Err(format!("{what}: {other} is not a list")),
    }
}

fn non_empty(v: Option<Vec<String>>) -> Option<Vec<String>> {
    v.filter(|v| !v.is_empty())
}

/// Selectors in [`selectors_json`]'s shape, checked field by field, as the API takes them.
pub fn to_sdk(v: &Value) -> Result<Selectors, String> {
    let advanced = &v["AdvancedEventSelectors"];
    if !list(advanced).is_empty() {
        let mut out = Vec::new();
        for a in list(advanced) {
            let mut fields = Vec::new();
            let declared = a["FieldSelectors"]
                .as_array()
                .ok_or("an advanced event selector has no FieldSelectors")?;
            for f in declared {
                let field = f["Field"].as_str().ok_or("a field selector has no Field")?;
                fields.push(
                    AdvancedFieldSelector::builder()
                        .field(field)
                        .set_equals(non_empty(strings(&f["Equals"], "Equals")?))
                        .set_starts_with(non_empty(strings(&f["StartsWith"], "StartsWith")?))
                        .set_ends_with(non_empty(strings(&f["EndsWith"], "EndsWith")?))
                        .set_not_equals(non_empty(strings(&f["NotEquals"], "NotEquals")?))
                        .set_not_starts_with(non_empty(strings(
                            &f["NotStartsWith"],
                            "NotStartsWith",
                        )?))
                        .set_not_ends_with(non_empty(strings(&f["NotEndsWith"], "NotEndsWith")?))
                        .build()
                        .map_err(|e| e.to_string())?,
                );
            }
            let name = match &a["Name"] {
                Value::Null => None,
                Value::String(n) => Some(n.clone()),
                other => return Err(format!("Name: {other} is not a string")),
            };
            out.push(
                AdvancedEventSelector::builder()
                    .set_name(name)
                    .set_field_selectors(Some(fields))
                    .build()
                    .map_err(|e| e.to_string())?,
            );
        }
        return Ok(Selectors::Advanced(out));
    }
    if !(advanced.is_null() || advanced.is_array()) {
        return Err(format!("AdvancedEventSelectors: {advanced} is not a list"));
    }
    let basic = match &v["EventSelectors"] {
        Value::Null => &[][..],
        Value::Array(a) => a.as_slice(),
        other => return Err(format!("EventSelectors: {other} is not a list")),
    };
    let mut out = Vec::new();
    for s in basic {
        let rw = match &s["ReadWriteType"] {
            Value::Null => None,
            Value::String(r) if ["All", "ReadOnly", "WriteOnly"].contains(&r.as_str()) => {
                Some(ReadWriteType::from(r.as_str()))
            }
            other => {
                return Err(format!(
                    "ReadWriteType: {other} is not All, ReadOnly or WriteOnly"
                ))
            }
        };
        let include = match &s["IncludeManagementEvents"] {
            Value::Null => None,
            Value::Bool(b) => Some(*b),
            other => return Err(format!("IncludeManagementEvents: {other} is not a boolean")),
        };
        let data = match &s["DataResources"] {
            Value::Null => None,
            Value::Array(a) => {
                let mut v = Vec::new();
                for d in a {
                    let ty = match &d["Type"] {
                        Value::String(t) => t.clone(),
                        other => {
                            return Err(format!("DataResources Type: {other} is not a string"))
                        }
                    };
                    v.push(
                        DataResource::builder()
                            .r#type(ty)
                            .set_values(strings(&d["Values"], "Values")?)
                            .build(),
                    );
                }
                Some(v).filter(|v| !v.is_empty())
            }
            other => return Err(format!("DataResources: {other} is not a list")),
        };
        out.push(
            EventSelector::builder()
                .set_read_write_type(rw)
                .set_include_management_events(include)
                .set_data_resources(data)
                .set_exclude_management_event_sources(non_empty(strings(
                    &s["ExcludeManagementEventSources"],
                    "ExcludeManagementEventSources",
                )?))
                .build(),
        );
    }
    Ok(Selectors::Basic(out))
}

async fn put_selectors(
    ct: &aws_sdk_cloudtrail::Client,
    arn: &str,
    selectors: Selectors,
) -> Result<(), AwsError> {
    let req = ct.put_event_selectors().trail_name(arn);
    let req = match selectors {
        Selectors::Basic(b) => req.set_event_selectors(Some(b)),
        Selectors::Advanced(a) => req.set_advanced_event_selectors(Some(a)),
    };
    req.send()
        .await
        .aws(|| format!("could not put the event selectors of trail {arn}"))?;
    Ok(())
}

impl Remediation for CloudtrailRestoreLogging {
    const SPEC: Spec = Spec {
        id: "cloudtrail-restore-logging",
        summary: "Starts logging on a stopped trail, re-enables multi-region and log file validation where turned off, and logs every management event where its event selectors leave some out",
        resolved: "Stealth:IAMUser/CloudTrailLoggingDisabled, cloudtrail:StopLogging, cloudtrail-enabled, multi-region-cloudtrail-enabled, CloudTrail.1, CloudTrail.4, cis-1.2.0/2.1, cis-1.2.0/2.2, cis-1.4.0/3.1, cis-1.4.0/3.2, cis-3.0.0/3.1, cis-3.0.0/3.2, cis-5.0.0/3.1, cis-5.0.0/3.2 alike: for the named trail (else every trail the account owns whose home region is the finding's) DescribeTrails reads IsMultiRegionTrail and LogFileValidationEnabled true, GetTrailStatus IsLogging true, and GetEventSelectors log every management event, read and write, from every source. Never UNCONFIRMED: this check is the finding's whole check.",
        untouched: "Skips trails owned by another account (organization trails) or homed in another region; never creates a trail (none found: TrailNotFound failure, NOTIFIED); keeps data-event selectors and fails TooManyEventSelectors rather than exceed 5 basic selectors. A named trail tagged QUELL_EXEMPT_TAG (quell:exempt)=true is EXEMPT (NOTIFIED for GuardDuty and CloudTrail triggers); account-level findings read no tags. No plan_only; default enforce.",
        triggers: Triggers {
            guardduty: &["Stealth:IAMUser/CloudTrailLoggingDisabled"],
            config_rules: &["cloudtrail-enabled", "multi-region-cloudtrail-enabled"],
            securityhub_controls: &[
                "CloudTrail.1",
                "CloudTrail.4",
                "cis-1.2.0/2.1",
                "cis-1.2.0/2.2",
                "cis-1.4.0/3.1",
                "cis-1.4.0/3.2",
                "cis-3.0.0/3.1",
                "cis-3.0.0/3.2",
                "cis-5.0.0/3.1",
                "cis-5.0.0/3.2",
            ],
            // The calls that turn a trail's logging off, or part of it.
            cloudtrail_events: &[
                "cloudtrail:StopLogging",
                "cloudtrail:UpdateTrail",
                "cloudtrail:PutEventSelectors",
            ],
            ..Triggers::NONE
        },
        // StopLogging only for undo, when the trail was not logging before.
        permissions: &[
            "cloudtrail:DescribeTrails",
            "cloudtrail:GetTrailStatus",
            "cloudtrail:ListTags",
            GET_SELECTORS,
            START,
            UPDATE,
            PUT_SELECTORS,
        ],
        undo_permissions: &[STOP],
        default_mode: Mode::Enforce,
    };
    type Target = Target;
    type Clients = aws_sdk_cloudtrail::Client;

    fn clients(&self, member: &Member) -> aws_sdk_cloudtrail::Client {
        aws_sdk_cloudtrail::Client::new(member.config())
    }

    /// quell's own restore (UpdateTrail, PutEventSelectors, StartLogging through this function's
    /// role) coming back through CloudTrail: nothing to answer. An undo through `quell-undo` is not
    /// let go here: the undo hold answers it (EXEMPT).
    fn ignore(&self, f: &Finding) -> Option<String> {
        let own = f
            .caller
            .as_ref()
            .and_then(|c| c.arn.as_deref())
            .and_then(|arn| arn.splitn(6, ':').nth(5))
            .and_then(|res| res.strip_prefix("assumed-role/"))
            .and_then(|r| r.split('/').next())
            == Some("quell-cloudtrail-restore-logging");
        (f.by_quell && own).then(|| "quell's own restore of the trail".to_string())
    }

    fn target(&self, f: &Finding) -> Result<Target, NotApplicable> {
        let trail = match f.resource(&ResourceKind::CloudTrailTrail) {
            Some(r) if valid_trail_name(&r.id) => Some(r.id.clone()),
            Some(r) => return Err(NotApplicable(format!("`{}` is not a trail name", r.id))),
            None => None,
        };
        Ok(Target::new(trail, &f.account, &f.region).with_event_selectors())
    }

    fn describe(&self, t: &Target) -> String {
        match &t.trail {
            Some(n) => format!("trail {n}"),
            None => format!("the trails of {} in {}", t.account, t.region),
        }
    }

    async fn tags(&self, ct: &aws_sdk_cloudtrail::Client, t: &Target) -> Result<Tags, AwsError> {
        let Some(name) = &t.trail else {
            return Ok(Vec::new());
        };
        let arns: Vec<String> = trails(ct, t).await?.into_iter().map(|tr| tr.arn).collect();
        if arns.is_empty() {
            return Ok(Vec::new());
        }
        let out = ct
            .list_tags()
            .set_resource_id_list(Some(arns))
            .send()
            .await
            .aws(|| format!("could not read the tags of trail {name}"))?;
        Ok(out
            .resource_tag_list()
            .iter()
            .flat_map(|r| r.tags_list())
            .map(|t| {
                (
                    t.key().to_string(),
                    t.value().unwrap_or_default().to_string(),
                )
            })
            .collect())
    }

    async fn plan(
        &self,
        ct: &aws_sdk_cloudtrail::Client,
        t: &Target,
    ) -> Result<Vec<Step>, AwsError> {
        let all = trails(ct, t).await?;
        if all.is_empty() {
            return Err(AwsError::other(
                format!("could not restore {}", self.describe(t)),
                "TrailNotFound",
                "there is no trail of this account here: creating one needs a bucket and its policy, which a person must choose",
                false,
            ));
        }
        let mut steps = Vec::new();
        for tr in all {
            if !tr.logging {
                steps.push(Step::new(START, format!("trail={}", tr.name)));
            }
            let mut changes = Vec::new();
            if !tr.multi_region {
                changes.push("IsMultiRegionTrail=true");
            }
            if !tr.validation {
                changes.push("EnableLogFileValidation=true");
            }
            if !changes.is_empty() {
                steps.push(Step::new(
                    UPDATE,
                    format!("trail={} {}", tr.name, changes.join(" ")),
                ));
            }
            if let (Some(gap), Some(selectors)) = (tr.management_gap(), &tr.selectors) {
                if let Err(e) = with_management_events(selectors) {
                    return Err(AwsError::other(
                        format!("could not log management events on trail {}", tr.name),
                        "TooManyEventSelectors",
                        e,
                        false,
                    ));
                }
                steps.push(Step::new(
                    PUT_SELECTORS,
                    format!(
                        "trail={} management events ReadWriteType=All ({gap}), keeping its {} data-event selectors",
                        tr.name,
                        data_selectors(selectors)
                    ),
                ));
            }
        }
        Ok(steps)
    }

    async fn prior(
        &self,
        ct: &aws_sdk_cloudtrail::Client,
        t: &Target,
    ) -> Result<Option<serde_json::Value>, AwsError> {
        let all: Vec<serde_json::Value> = trails(ct, t)
            .await?
            .into_iter()
            .map(|tr| {
                let mut v = serde_json::json!({"arn": tr.arn, "name": tr.name, "multi_region": tr.multi_region,
                    "validation": tr.validation, "logging": tr.logging});
                // The selectors only where the change replaces them.
                if let (Some(_), Some(s)) = (tr.management_gap(), &tr.selectors) {
                    v["event_selectors"] = s.clone();
                }
                v
            })
            .collect();
        Ok(Some(
            serde_json::json!({"account": t.account, "region": t.region, "trails": all}),
        ))
    }

    /// Each trail's recorded settings put back; a trail that was not logging is stopped again
    /// (cloudtrail:StopLogging is in the member role for this only).
    async fn restore(
        &self,
        ct: &aws_sdk_cloudtrail::Client,
        prior: &serde_json::Value,
    ) -> Result<Vec<Step>, AwsError> {
        let trails = prior["trails"]
            .as_array()
            .ok_or_else(|| quell::remediation::invalid_prior("no recorded trails"))?;
        let mut steps = Vec::new();
        for tr in trails {
            let arn = quell::remediation::prior_field(tr, "arn", |a| {
                a.starts_with("arn:")
                    && a.split(':').nth(2) == Some("cloudtrail")
                    && a.rsplit_once(":trail/")
                        .is_some_and(|(_, n)| valid_trail_name(n))
            })?;
            let (Some(multi), Some(validation), Some(logging)) = (
                tr["multi_region"].as_bool(),
                tr["validation"].as_bool(),
                tr["logging"].as_bool(),
            ) else {
                return Err(quell::remediation::invalid_prior(format!(
                    "trail {arn}: settings missing"
                )));
            };
            // Checked before any call: a record that cannot be put back changes nothing.
            let selectors = tr
                .get("event_selectors")
                .filter(|s| !s.is_null())
                .map(|v| {
                    to_sdk(v).map_err(|e| {
                        quell::remediation::invalid_prior(format!(
                            "trail {arn}: the recorded event selectors: {e}"
                        ))
                    })
                })
                .transpose()?;
            ct.update_trail()
                .name(&arn)
                .is_multi_region_trail(multi)
                .enable_log_file_validation(validation)
                .send()
                .await
                .aws(|| format!("could not put back trail {arn}"))?;
            steps.push(Step::new(
                UPDATE,
                format!("trail={arn} IsMultiRegionTrail={multi} EnableLogFileValidation={validation}, as it was"),
            ));
            if let Some(selectors) = selectors {
                put_selectors(ct, &arn, selectors).await?;
                steps.push(Step::new(
                    PUT_SELECTORS,
                    format!("trail={arn} event selectors, as they were"),
                ));
            }
            if !logging {
                ct.stop_logging()
                    .name(&arn)
                    .send()
                    .await
                    .aws(|| format!("could not stop logging on trail {arn}"))?;
                steps.push(Step::new(
                    STOP,
                    format!("trail={arn} not logging, as it was"),
                ));
            }
        }
        Ok(steps)
    }

    async fn apply(
        &self,
        ct: &aws_sdk_cloudtrail::Client,
        t: &Target,
        _steps: &[Step],
    ) -> Result<(), AwsError> {
        let all = trails(ct, t).await?;
        // Whatever happens next, verification reads the trails afresh.
        t.read.clear();
        for tr in all {
            if !tr.multi_region || !tr.validation {
                ct.update_trail()
                    .name(&tr.arn)
                    .set_is_multi_region_trail(Some(true).filter(|_| !tr.multi_region))
                    .set_enable_log_file_validation(Some(true).filter(|_| !tr.validation))
                    .send()
                    .await
                    .aws(|| format!("could not update trail {}", tr.name))?;
            }
            if !tr.logging {
                ct.start_logging()
                    .name(&tr.arn)
                    .send()
                    .await
                    .aws(|| format!("could not start logging on trail {}", tr.name))?;
            }
            if let (Some(_), Some(selectors)) = (tr.management_gap(), &tr.selectors) {
                let fixed = with_management_events(selectors)
                    .and_then(|v| to_sdk(&v))
                    .map_err(|e| {
                        AwsError::other(
                            format!("could not log management events on trail {}", tr.name),
                            "TooManyEventSelectors",
                            e,
                            false,
                        )
                    })?;
                put_selectors(ct, &tr.arn, fixed).await?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_cloudtrail::operation::describe_trails::{
        DescribeTrailsError, DescribeTrailsOutput,
    };
    use aws_sdk_cloudtrail::operation::get_event_selectors::{
        GetEventSelectorsError, GetEventSelectorsOutput,
    };
    use aws_sdk_cloudtrail::operation::get_trail_status::GetTrailStatusOutput;
    use aws_sdk_cloudtrail::operation::list_tags::ListTagsOutput;
    use aws_sdk_cloudtrail::operation::put_event_selectors::PutEventSelectorsOutput;
    use aws_sdk_cloudtrail::operation::start_logging::{StartLoggingError, StartLoggingOutput};
    use aws_sdk_cloudtrail::operation::update_trail::UpdateTrailOutput;
    use aws_sdk_cloudtrail::types::{ResourceTag, Tag, Trail as SdkTrail};
    use aws_sdk_cloudtrail::Client;
    use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
    use aws_smithy_types::error::ErrorMetadata;
    use quell::remediation::execute;

    const ARN: &str = "arn:aws:cloudtrail:us-east-1:111111111111:trail/org-audit";

    fn described(multi: bool, validation: bool) -> DescribeTrailsOutput {
        DescribeTrailsOutput::builder()
            .trail_list(
                SdkTrail::builder()
                    .name("org-audit")
                    .trail_arn(ARN)
                    .home_region("us-east-1")
                    .is_multi_region_trail(multi)
                    .log_file_validation_enabled(validation)
                    .build(),
            )
            .build()
    }
    fn status(on: bool) -> GetTrailStatusOutput {
        GetTrailStatusOutput::builder().is_logging(on).build()
    }
    fn no_tags() -> Rule {
        mock!(Client::list_tags).then_output(|| {
            ListTagsOutput::builder()
                .resource_tag_list(ResourceTag::builder().resource_id(ARN).build())
                .build()
        })
    }
    fn t() -> Target {
        Target::new(Some("org-audit".into()), "111111111111", "us-east-1")
    }

    #[tokio::test]
    async fn restarts_and_repairs_then_verifies() {
        let d = mock!(Client::describe_trails)
            .sequence()
            .output(|| described(false, false))
            .output(|| described(true, true))
            .build();
        let s = mock!(Client::get_trail_status)
            .sequence()
            .output(|| status(false))
            .output(|| status(true))
            .build();
        let start =
            mock!(Client::start_logging).then_output(|| StartLoggingOutput::builder().build());
        let upd = mock!(Client::update_trail)
            .match_requests(|r| {
                r.is_multi_region_trail() == Some(true)
                    && r.enable_log_file_validation() == Some(true)
            })
            .then_output(|| UpdateTrailOutput::builder().build());
        let tags = no_tags();
        let ct = mock_client!(
            aws_sdk_cloudtrail,
            RuleMode::MatchAny,
            [&d, &s, &start, &upd, &tags]
        );
        let out = execute(
            &CloudtrailRestoreLogging,
            &ct,
            &t(),
            Mode::Enforce,
            "quell:exempt",
        )
        .await;
        assert_eq!(out.name(), "REMEDIATED", "{out:?}");
        assert_eq!((start.num_calls(), upd.num_calls()), (1, 1));
        // Read once (shared by the tag check, the plan and the change), once to verify.
        assert_eq!((d.num_calls(), s.num_calls()), (2, 2));
    }

    #[tokio::test]
    async fn guards_and_failures() {
        let start =
            mock!(Client::start_logging).then_output(|| StartLoggingOutput::builder().build());
        let d = mock!(Client::describe_trails).then_output(|| described(true, true));
        let s = mock!(Client::get_trail_status).then_output(|| status(true));
        let tags = no_tags();
        let ct = mock_client!(
            aws_sdk_cloudtrail,
            RuleMode::MatchAny,
            [&d, &s, &tags, &start]
        );
        assert_eq!(
            execute(&CloudtrailRestoreLogging, &ct, &t(), Mode::Enforce, "x")
                .await
                .name(),
            "ALREADY_COMPLIANT"
        );
        let s = mock!(Client::get_trail_status).then_output(|| status(false));
        let ct = mock_client!(
            aws_sdk_cloudtrail,
            RuleMode::MatchAny,
            [&d, &s, &tags, &start]
        );
        assert_eq!(
            execute(&CloudtrailRestoreLogging, &ct, &t(), Mode::DryRun, "x")
                .await
                .name(),
            "PLANNED"
        );
        let exempt = mock!(Client::list_tags).then_output(|| {
            ListTagsOutput::builder()
                .resource_tag_list(
                    ResourceTag::builder()
                        .resource_id(ARN)
                        .tags_list(
                            Tag::builder()
                                .key("quell:exempt")
                                .value("true")
                                .build()
                                .unwrap(),
                        )
                        .build(),
                )
                .build()
        });
        let ct = mock_client!(
            aws_sdk_cloudtrail,
            RuleMode::MatchAny,
            [&d, &s, &exempt, &start]
        );
        assert_eq!(
            execute(
                &CloudtrailRestoreLogging,
                &ct,
                &t(),
                Mode::Enforce,
                "quell:exempt"
            )
            .await
            .name(),
            "EXEMPT"
        );
        assert_eq!(start.num_calls(), 0);
        let deny = mock!(Client::start_logging).then_error(|| {
            StartLoggingError::generic(
                ErrorMetadata::builder()
                    .code("AccessDeniedException")
                    .build(),
            )
        });
        let ct = mock_client!(
            aws_sdk_cloudtrail,
            RuleMode::MatchAny,
            [&d, &s, &tags, &deny]
        );
        assert_eq!(
            execute(&CloudtrailRestoreLogging, &ct, &t(), Mode::Enforce, "x")
                .await
                .name(),
            "FAILED"
        );
        let d = mock!(Client::describe_trails).then_error(|| {
            DescribeTrailsError::generic(
                ErrorMetadata::builder().code("ThrottlingException").build(),
            )
        });
        let ct = mock_client!(aws_sdk_cloudtrail, RuleMode::MatchAny, [&d]);
        assert!(
            execute(&CloudtrailRestoreLogging, &ct, &t(), Mode::Enforce, "x")
                .await
                .is_retryable()
        );
        // No trail at all: a person must create one.
        let d =
            mock!(Client::describe_trails).then_output(|| DescribeTrailsOutput::builder().build());
        let ct = mock_client!(aws_sdk_cloudtrail, RuleMode::MatchAny, [&d]);
        let all = Target { trail: None, ..t() };
        let out = execute(&CloudtrailRestoreLogging, &ct, &all, Mode::Enforce, "x").await;
        assert!(
            matches!(&out, quell::Outcome::Failed { code: Some(c), retryable: false, .. } if c == "TrailNotFound"),
            "{out:?}"
        );
    }

    fn basic(rw: &str, include: bool, data: &[&str]) -> Value {
        let data: Vec<Value> = data
            .iter()
            .map(|v| json!({"Type": "AWS::S3::Object", "Values": [v]}))
            .collect();
        json!({"ReadWriteType": rw, "IncludeManagementEvents": include, "DataResources": data,
            "ExcludeManagementEventSources": []})
    }
    fn basic_set(selectors: Vec<Value>) -> Value {
        json!({"EventSelectors": selectors, "AdvancedEventSelectors": []})
    }
    fn advanced_set(selectors: Value) -> Value {
        json!({"EventSelectors": [], "AdvancedEventSelectors": selectors})
    }

    #[test]
    fn management_events_must_be_logged_read_and_write_from_every_source() {
        // No selector: CloudTrail's default, every management event; unless customised to none.
        let none = basic_set(vec![]);
        assert_eq!(management_gap(&none, false), None);
        assert!(management_gap(&none, true).is_some());
        assert_eq!(
            with_management_events(&none).unwrap(),
            json!({"EventSelectors": [basic("All", true, &[])]})
        );
        // AWS's default selector.
        assert_eq!(
            management_gap(&basic_set(vec![basic("All", true, &[])]), true),
            None
        );
        // Management events excluded, data events kept.
        let data_only = basic_set(vec![basic("All", false, &["arn:aws:s3:::logs/"])]);
        assert!(management_gap(&data_only, false)
            .unwrap()
            .contains("exclude management events"));
        let fixed = with_management_events(&data_only).unwrap();
        assert_eq!(
            fixed,
            json!({"EventSelectors": [basic("All", false, &["arn:aws:s3:::logs/"]), basic("All", true, &[])]})
        );
        assert_eq!(management_gap(&fixed, false), None);
        assert_eq!(data_selectors(&data_only), 1);
        // Read only: the management selector is replaced, the data selector keeps its own type
        // and stops logging management events itself, so that none is logged twice.
        let read_only = basic_set(vec![
            basic("ReadOnly", true, &[]),
            basic("WriteOnly", true, &["arn:aws:s3:::logs/"]),
        ]);
        assert_eq!(
            management_gap(&read_only, false),
            None,
            "read + write = all"
        );
        let read_only = basic_set(vec![basic("ReadOnly", true, &["arn:aws:s3:::logs/"])]);
        assert!(management_gap(&read_only, false)
            .unwrap()
            .contains("every write management event"));
        let fixed = with_management_events(&read_only).unwrap();
        assert_eq!(
            fixed,
            json!({"EventSelectors": [basic("ReadOnly", false, &["arn:aws:s3:::logs/"]), basic("All", true, &[])]})
        );
        assert_eq!(management_gap(&fixed, false), None);
        // Sources excluded: not every management event.
        let mut no_kms = basic("All", true, &[]);
        no_kms["ExcludeManagementEventSources"] = json!(["kms.amazonaws.com"]);
        let no_kms = basic_set(vec![no_kms]);
        assert!(management_gap(&no_kms, false).is_some());
        assert_eq!(
            with_management_events(&no_kms).unwrap(),
            json!({"EventSelectors": [basic("All", true, &[])]})
        );
        // Five data selectors: no room for a sixth.
        let full = basic_set(
            (0..5)
                .map(|i| basic("All", false, &[format!("arn:aws:s3:::b{i}/").as_str()]))
                .collect(),
        );
        assert!(with_management_events(&full).is_err());
    }

    #[test]
    fn advanced_selectors_keep_their_data_selectors() {
        let data = json!({"Name": "S3 writes", "FieldSelectors": [
            {"Field": "eventCategory", "Equals": ["Data"]},
            {"Field": "resources.type", "Equals": ["AWS::S3::Object"]}
        ]});
        let mgmt = |extra: Option<Value>| {
            let mut fields = vec![json!({"Field": "eventCategory", "Equals": ["Management"]})];
            fields.extend(extra);
            json!({"Name": "mgmt", "FieldSelectors": fields})
        };
        let only_data = advanced_set(json!([data]));
        assert!(management_gap(&only_data, false)
            .unwrap()
            .contains("no advanced event selector"));
        let fixed = with_management_events(&only_data).unwrap();
        assert_eq!(
            fixed,
            json!({"AdvancedEventSelectors": [data, {"Name": MANAGEMENT_SELECTOR, "FieldSelectors": [
                {"Field": "eventCategory", "Equals": ["Management"]}]}]})
        );
        assert_eq!(management_gap(&fixed, false), None);
        assert_eq!(
            management_gap(&advanced_set(json!([data, mgmt(None)])), false),
            None
        );
        let read = mgmt(Some(json!({"Field": "readOnly", "Equals": ["true"]})));
        let write = mgmt(Some(json!({"Field": "readOnly", "Equals": ["false"]})));
        assert!(management_gap(&advanced_set(json!([read])), false)
            .unwrap()
            .contains("write"));
        assert_eq!(
            management_gap(&advanced_set(json!([read, write])), false),
            None
        );
        let no_kms = mgmt(Some(
            json!({"Field": "eventSource", "NotEquals": ["kms.amazonaws.com"]}),
        ));
        let partial = advanced_set(json!([data, no_kms]));
        assert!(management_gap(&partial, false).is_some());
        let fixed = with_management_events(&partial).unwrap();
        assert_eq!(fixed["AdvancedEventSelectors"][0], data);
        assert_eq!(management_gap(&fixed, false), None);
    }

    #[test]
    fn selectors_go_to_the_api_and_back_unchanged() {
        let basic_json = basic_set(vec![
            basic("WriteOnly", false, &["arn:aws:s3:::logs/"]),
            basic("All", true, &[]),
        ]);
        let Selectors::Basic(b) = to_sdk(&basic_json).unwrap() else {
            panic!("basic selectors")
        };
        assert_eq!(b.len(), 2);
        assert_eq!(b[1].data_resources, None, "no empty list is sent");
        assert_eq!(selectors_json(&b, &[]), basic_json);
        let advanced_json = advanced_set(json!([{"Name": "S3", "FieldSelectors": [
            {"Field": "eventCategory", "Equals": ["Data"]},
            {"Field": "resources.ARN", "StartsWith": ["arn:aws:s3:::logs/"], "NotEndsWith": [".tmp"]}
        ]}]));
        let Selectors::Advanced(a) = to_sdk(&advanced_json).unwrap() else {
            panic!("advanced selectors")
        };
        assert_eq!(selectors_json(&[], &a), advanced_json);
        for bad in [
            basic_set(vec![json!({"ReadWriteType": "Sometimes"})]),
            basic_set(vec![json!({"IncludeManagementEvents": "yes"})]),
            basic_set(vec![json!({"DataResources": [{"Type": 5}]})]),
            json!({"EventSelectors": "all"}),
            advanced_set(json!([{"Name": "x"}])),
            advanced_set(json!([{"FieldSelectors": [{"Equals": ["Data"]}]}])),
        ] {
            assert!(to_sdk(&bad).is_err(), "{bad}");
        }
    }

    fn selectors_out(v: &Value) -> GetEventSelectorsOutput {
        let Selectors::Basic(b) = to_sdk(v).unwrap() else {
            panic!("basic selectors")
        };
        GetEventSelectorsOutput::builder()
            .trail_arn(ARN)
            .set_event_selectors(Some(b))
            .build()
    }

    #[tokio::test]
    async fn management_events_are_logged_again_and_undo_puts_the_selectors_back() {
        let seeded = basic_set(vec![basic("All", false, &["arn:aws:s3:::logs/"])]);
        let fixed = with_management_events(&seeded).unwrap();
        let d = mock!(Client::describe_trails).then_output(|| described(true, true));
        let s = mock!(Client::get_trail_status).then_output(|| status(true));
        let (was, now) = (seeded.clone(), fixed.clone());
        let g = mock!(Client::get_event_selectors)
            .match_requests(|r| r.trail_name() == Some(ARN))
            .sequence()
            .output(move || selectors_out(&was))
            .output(move || selectors_out(&now))
            .build();
        let put = mock!(Client::put_event_selectors)
            .match_requests(|r| {
                let s = r.event_selectors();
                r.trail_name() == Some(ARN)
                    && r.advanced_event_selectors().is_empty()
                    && s.len() == 2
                    && s[0].include_management_events() == Some(false)
                    && s[0].data_resources()[0].values() == ["arn:aws:s3:::logs/"]
                    && s[1].include_management_events() == Some(true)
                    && s[1].read_write_type() == Some(&ReadWriteType::All)
            })
            .then_output(|| PutEventSelectorsOutput::builder().build());
        let tags = no_tags();
        let ct = mock_client!(
            aws_sdk_cloudtrail,
            RuleMode::MatchAny,
            [&d, &s, &g, &put, &tags]
        );
        let target = t().with_event_selectors();
        let out = execute(
            &CloudtrailRestoreLogging,
            &ct,
            &target,
            Mode::Enforce,
            "quell:exempt",
        )
        .await;
        match &out {
            quell::Outcome::Remediated { steps } => {
                assert_eq!(steps.len(), 1, "{steps:?}");
                assert_eq!(steps[0].action, PUT_SELECTORS);
                assert!(steps[0]
                    .detail
                    .contains("keeping its 1 data-event selectors"));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!((put.num_calls(), g.num_calls()), (1, 2));

        // The prior records the selectors the change replaces; undo puts them back.
        let g = mock!(Client::get_event_selectors).then_output(move || selectors_out(&seeded));
        let ct = mock_client!(aws_sdk_cloudtrail, RuleMode::MatchAny, [&d, &s, &g]);
        let target = t().with_event_selectors();
        assert_eq!(
            CloudtrailRestoreLogging
                .plan(&ct, &target)
                .await
                .unwrap()
                .len(),
            1
        );
        let prior = CloudtrailRestoreLogging
            .prior(&ct, &target)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            prior["trails"][0]["event_selectors"],
            basic_set(vec![basic("All", false, &["arn:aws:s3:::logs/"])])
        );
        let upd = mock!(Client::update_trail).then_output(|| UpdateTrailOutput::builder().build());
        let back = mock!(Client::put_event_selectors)
            .match_requests(|r| {
                let s = r.event_selectors();
                s.len() == 1
                    && s[0].include_management_events() == Some(false)
                    && s[0].exclude_management_event_sources().is_empty()
            })
            .then_output(|| PutEventSelectorsOutput::builder().build());
        let ct = mock_client!(aws_sdk_cloudtrail, RuleMode::MatchAny, [&upd, &back]);
        let steps = CloudtrailRestoreLogging.restore(&ct, &prior).await.unwrap();
        assert_eq!(
            steps.iter().map(|s| s.action).collect::<Vec<_>>(),
            [UPDATE, PUT_SELECTORS]
        );
        assert_eq!(back.num_calls(), 1);
        // A record without selectors (before this was checked, or from the alarm response) puts
        // none back.
        let mut old = prior.clone();
        old["trails"][0]
            .as_object_mut()
            .unwrap()
            .remove("event_selectors");
        CloudtrailRestoreLogging.restore(&ct, &old).await.unwrap();
        assert_eq!(back.num_calls(), 1);
        // A recorded selector that is not valid calls nothing more.
        let mut bad = prior.clone();
        bad["trails"][0]["event_selectors"] = json!({"EventSelectors": [{"ReadWriteType": "x"}]});
        let e = CloudtrailRestoreLogging
            .restore(&ct, &bad)
            .await
            .unwrap_err();
        assert_eq!(e.code.as_deref(), Some("InvalidPriorState"));
        assert_eq!(
            (upd.num_calls(), back.num_calls()),
            (2, 1),
            "nothing called"
        );
    }

    #[tokio::test]
    async fn selectors_are_read_only_when_the_target_asks() {
        let d = mock!(Client::describe_trails).then_output(|| described(true, true));
        let s = mock!(Client::get_trail_status).then_output(|| status(true));
        let denied = mock!(Client::get_event_selectors).then_error(|| {
            GetEventSelectorsError::generic(
                ErrorMetadata::builder()
                    .code("AccessDeniedException")
                    .build(),
            )
        });
        let tags = no_tags();
        let ct = mock_client!(
            aws_sdk_cloudtrail,
            RuleMode::MatchAny,
            [&d, &s, &denied, &tags]
        );
        // As cloudtrail-alarm-response uses it: its role may not read selectors.
        assert_eq!(
            execute(&CloudtrailRestoreLogging, &ct, &t(), Mode::Enforce, "x")
                .await
                .name(),
            "ALREADY_COMPLIANT"
        );
        assert_eq!(denied.num_calls(), 0);
        assert_eq!(
            execute(
                &CloudtrailRestoreLogging,
                &ct,
                &t().with_event_selectors(),
                Mode::Enforce,
                "x"
            )
            .await
            .name(),
            "FAILED"
        );
        assert_eq!(denied.num_calls(), 1);
    }
}
