//! docs/deploy.md is a procedure a reader follows to the letter: every command in it is held to the
//! templates it deploys. Each template it names exists and is one quell generates; each parameter
//! it passes is declared by that template; every parameter without a default is given; a stack
//! with named IAM roles gets CAPABILITY_NAMED_IAM; StackSets are service-managed and called as the
//! delegated administrator; and the steps come in the order the stacks depend on each other.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The templates `make generate` writes and cfn-lint checks.
const TEMPLATES: &[&str] = &[
    "template.yaml",
    "member/roles.yaml",
    "member/regional.yaml",
    "org/trail.yaml",
    "org/scp.yaml",
];

/// A template's parameters: name → whether it has a default.
fn parameters(template: &str) -> BTreeMap<String, bool> {
    let text = std::fs::read_to_string(root().join(template)).expect(template);
    let body = text.split("\nParameters:\n").nth(1).unwrap_or_default();
    let mut out = BTreeMap::new();
    let mut current: Option<String> = None;
    // Up to the next top-level key (Conditions:, Resources:, …).
    for line in body
        .lines()
        .take_while(|l| l.is_empty() || l.starts_with(' ') || l.starts_with('#'))
    {
        if let Some(name) = line
            .strip_prefix("  ")
            .filter(|l| !l.starts_with(' '))
            .and_then(|l| l.strip_suffix(':'))
        {
            current = Some(name.to_string());
            out.insert(name.to_string(), false);
        } else if line.trim_start().starts_with("Default:") {
            if let Some(c) = &current {
                out.insert(c.clone(), true);
            }
        }
    }
    out
}

/// The shell commands of the document's `sh` blocks, one per line.
fn commands(doc: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut inside = false;
    for line in doc.lines() {
        if line.starts_with("```") {
            inside = line == "```sh";
            continue;
        }
        if inside && !line.trim().is_empty() {
            out.push(line.to_string());
        }
    }
    out
}

fn flag<'a>(cmd: &'a str, name: &str) -> Option<&'a str> {
    let words: Vec<&str> = cmd.split_whitespace().collect();
    words
        .iter()
        .position(|w| *w == name)
        .and_then(|i| words.get(i + 1).copied())
}

/// The parameters a command passes: `ParameterKey=K,…` or, for `deploy`, `--parameter-overrides
/// K=V …`.
fn passed(cmd: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let deploy = cmd.contains("cloudformation deploy ");
    // The flag the words since the last one belong to.
    let mut flag = "";
    for w in cmd.split_whitespace() {
        if w.starts_with("--") {
            flag = w;
        } else if let Some(rest) = w.strip_prefix("ParameterKey=") {
            out.insert(rest.split(',').next().unwrap().to_string());
        } else if deploy && flag == "--parameter-overrides" {
            out.insert(w.split('=').next().unwrap().to_string());
        }
    }
    out
}

#[test]
fn every_deploy_command_matches_the_templates_it_deploys() {
    let doc = std::fs::read_to_string(root().join("docs/deploy.md")).expect("docs/deploy.md");
    let cmds = commands(&doc);
    assert!(cmds.len() > 20, "{cmds:?}");
    let mut stack_sets: BTreeMap<String, String> = BTreeMap::new();
    let mut deployed: Vec<String> = Vec::new();
    let mut checked = 0;
    for cmd in &cmds {
        let template = if let Some(t) = flag(cmd, "--template-body") {
            Some(
                t.strip_prefix("file://")
                    .expect("a local template")
                    .to_string(),
            )
        } else {
            flag(cmd, "--template-file").map(str::to_string)
        };
        let stack_set = flag(cmd, "--stack-set-name").map(str::to_string);
        if cmd.contains("create-stack-set ") {
            let t = template
                .clone()
                .expect("create-stack-set names its template");
            stack_sets.insert(stack_set.clone().unwrap(), t);
            assert!(
                cmd.contains("--permission-model SERVICE_MANAGED"),
                "not service-managed: {cmd}"
            );
        }
        if cmd.contains("aws cloudformation") && stack_set.is_some() {
            assert!(
                cmd.contains("--call-as DELEGATED_ADMIN"),
                "a StackSet command not called as the delegated administrator: {cmd}"
            );
        }
        let template = template.or_else(|| {
            stack_set
                .as_ref()
                .and_then(|s| stack_sets.get(s).cloned())
                .filter(|_| !cmd.contains("delete-stack-set "))
        });
        let Some(template) = template else { continue };
        assert!(
            TEMPLATES.contains(&template.as_str()),
            "{template} is not a template quell generates: {cmd}"
        );
        let declared = parameters(&template);
        let given = passed(cmd);
        for p in &given {
            assert!(
                declared.contains_key(p),
                "{p} is not a parameter of {template}: {cmd}"
            );
        }
        let creates = cmd.contains("create-stack-set ") || cmd.contains("cloudformation deploy ");
        if creates {
            for (p, has_default) in &declared {
                assert!(
                    *has_default || given.contains(p),
                    "{template} needs {p}, which this command does not give: {cmd}"
                );
            }
            let text = std::fs::read_to_string(root().join(&template)).unwrap();
            if text.contains("RoleName:") {
                assert!(
                    cmd.contains("CAPABILITY_NAMED_IAM"),
                    "{template} names IAM roles: the command needs CAPABILITY_NAMED_IAM: {cmd}"
                );
            }
            deployed.push(template.clone());
        }
        checked += 1;
    }
    assert!(checked >= 8, "only {checked} commands were checked");
    // The central stack (make deploy) comes first: its EventBusArn is every member stack's input.
    let central = cmds
        .iter()
        .position(|c| c == "make deploy")
        .expect("make deploy");
    let first_member = cmds
        .iter()
        .position(|c| c.contains("member/roles.yaml"))
        .unwrap();
    assert!(central < first_member);
    assert_eq!(
        deployed,
        [
            "member/roles.yaml",
            "member/regional.yaml",
            "org/trail.yaml",
            "org/scp.yaml"
        ]
    );
    // The roles stack is deployed in one Region; the regional one in all of them.
    let instances = |set: &str| {
        cmds.iter()
            .find(|c| c.contains("create-stack-instances") && c.contains(set))
            .unwrap()
            .clone()
    };
    assert_eq!(
        flag(&instances("quell-member-roles"), "--regions"),
        Some("$HOME_REGION")
    );
    assert_eq!(
        flag(&instances("quell-member-regional"), "--regions"),
        Some("$REGIONS")
    );
    // Removal: the regional rules go before the roles they use, each StackSet after its instances.
    let at = |needle: &str| {
        cmds.iter()
            .position(|c| c.contains(needle))
            .unwrap_or_else(|| panic!("no `{needle}`"))
    };
    assert!(
        at("delete-stack-instances --stack-set-name quell-member-regional")
            < at("delete-stack-set --stack-set-name quell-member-regional")
    );
    assert!(
        at("delete-stack-set --stack-set-name quell-member-regional")
            < at("delete-stack-instances --stack-set-name quell-member-roles")
    );
    assert!(
        at("delete-stack-instances --stack-set-name quell-member-roles")
            < at("delete-stack-set --stack-set-name quell-member-roles")
    );
    assert!(at("sam delete") > at("delete-stack-set --stack-set-name quell-member-roles"));
}

#[test]
fn make_deploy_builds_with_cargo_lambda_and_deploys_with_the_committed_samconfig() {
    let makefile = std::fs::read_to_string(root().join("Makefile")).unwrap();
    let deploy = makefile
        .split("\ndeploy:")
        .nth(1)
        .expect("a deploy target")
        .split("\n\n")
        .next()
        .unwrap();
    assert!(deploy.contains("sam build") && deploy.contains("sam deploy"));
    let samconfig = std::fs::read_to_string(root().join("samconfig.toml")).unwrap();
    assert!(samconfig.contains("stack_name = \"quell\""));
    // The central stack names no IAM role (its functions' roles are generated under a path), so
    // CAPABILITY_IAM is enough; a named role would need CAPABILITY_NAMED_IAM here.
    let central = std::fs::read_to_string(root().join("template.yaml")).unwrap();
    assert!(!central.contains("RoleName:"));
    assert!(samconfig.contains("capabilities = \"CAPABILITY_IAM\""));
    // Every function is built by `sam build` through cargo lambda, from this workspace.
    let functions = central.matches("Type: AWS::Serverless::Function").count();
    assert!(functions >= 30);
    assert_eq!(
        central.matches("BuildMethod: rust-cargolambda").count(),
        functions
    );
    for dir in std::fs::read_dir(root().join("functions")).unwrap() {
        let name = dir.unwrap().file_name().into_string().unwrap();
        assert!(
            central.contains(&format!("        Binary: {name}\n")),
            "{name} is not built by sam build"
        );
    }
}
