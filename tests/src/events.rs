//! Sample events from events/ and ../shared/reference-events/.

use serde_json::Value;

use crate::emulator::project_root;

/// The raw text of `events/<name>`.
pub fn text(name: &str) -> String {
    let path = project_root().join("events").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// `events/<name>` with every `(from, to)` replaced, so a test acts on its own resources.
pub fn load(name: &str, replace: &[(&str, &str)]) -> Value {
    let mut t = text(name);
    for (from, to) in replace {
        t = t.replace(from, to);
    }
    serde_json::from_str(&t).unwrap_or_else(|e| panic!("events/{name} is not JSON: {e}"))
}

/// Every file name in events/.
pub fn names() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(project_root().join("events"))
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().to_string())
                .filter(|n| n.ends_with(".json"))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}
