//! A JSON Schema (draft-04) validator for just the keywords the runtime spec's features schemas
//! use: no schema crate is a dependency. A keyword it does not know fails the validation instead
//! of being skipped, so a schema update cannot make the check silently weaker.

use serde_json::Value;
use std::path::{Path, PathBuf};

pub struct Validator {
    dir: PathBuf,
}

impl Validator {
    /// Schemas are files in `dir`; `$ref`s name them relative to it.
    pub fn new(dir: &Path) -> Self {
        Validator { dir: dir.into() }
    }

    /// Every violation of `file`'s schema by `doc`, as "path: problem".
    pub fn validate(&self, file: &str, doc: &Value) -> Vec<String> {
        let schema = self.load(file);
        let mut errors = Vec::new();
        self.check(file, &schema, doc, "$", &mut errors);
        errors
    }

    fn load(&self, file: &str) -> Value {
        let path = self.dir.join(file);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("read schema {}: {e}", path.display()));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// `file`: the schema document `schema` belongs to, against which a "#..." `$ref` resolves.
    fn check(&self, file: &str, schema: &Value, doc: &Value, at: &str, errors: &mut Vec<String>) {
        let obj = schema
            .as_object()
            .unwrap_or_else(|| panic!("{file}: schema at {at} is not an object"));
        if let Some(r) = obj.get("$ref").and_then(Value::as_str) {
            // draft-04: a $ref replaces the whole schema it sits in.
            let (target, pointer) = r.split_once('#').unwrap_or((r, ""));
            let target = if target.is_empty() { file } else { target };
            let root = self.load(target);
            let sub = root
                .pointer(pointer)
                .unwrap_or_else(|| panic!("{file}: $ref {r} resolves to nothing"));
            return self.check(target, sub, doc, at, errors);
        }
        for (key, want) in obj {
            match key.as_str() {
                "description" | "$schema" => {}
                "type" => {
                    let t = want.as_str().expect("type is a string");
                    if !has_type(doc, t) {
                        errors.push(format!("{at}: {doc} is not of type {t}"));
                    }
                }
                "enum" => {
                    if !want.as_array().expect("enum is an array").contains(doc) {
                        errors.push(format!("{at}: {doc} is not one of {want}"));
                    }
                }
                "pattern" => {
                    let p = want.as_str().expect("pattern is a string");
                    if let Some(s) = doc.as_str() {
                        if !pattern_matches(p, s) {
                            errors.push(format!("{at}: {s:?} does not match {p}"));
                        }
                    }
                }
                "required" => {
                    if let Some(d) = doc.as_object() {
                        for r in want.as_array().expect("required is an array") {
                            let r = r.as_str().expect("required names are strings");
                            if !d.contains_key(r) {
                                errors.push(format!("{at}: required property {r} is missing"));
                            }
                        }
                    }
                }
                "properties" => {
                    if let Some(d) = doc.as_object() {
                        let props = want.as_object().expect("properties is an object");
                        for (name, sub) in props {
                            if let Some(v) = d.get(name) {
                                self.check(file, sub, v, &format!("{at}.{name}"), errors);
                            }
                        }
                    }
                }
                "patternProperties" => {
                    let pats = want.as_object().expect("patternProperties is an object");
                    for (pat, sub) in pats {
                        // The only one the spec's schemas use (annotations: any non-empty key).
                        assert_eq!(pat, ".{1,}", "{file}: pattern {pat:?} is not implemented");
                        for (name, v) in doc.as_object().into_iter().flatten() {
                            if !name.is_empty() {
                                self.check(file, sub, v, &format!("{at}.{name}"), errors);
                            }
                        }
                    }
                }
                "items" => {
                    for (i, v) in doc.as_array().into_iter().flatten().enumerate() {
                        self.check(file, want, v, &format!("{at}[{i}]"), errors);
                    }
                }
                other => panic!("{file}: schema keyword {other:?} at {at} is not implemented"),
            }
        }
    }
}

fn has_type(v: &Value, t: &str) -> bool {
    match t {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "boolean" => v.is_boolean(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        "null" => v.is_null(),
        other => panic!("schema type {other:?} is not implemented"),
    }
}

/// The regular expressions of the features schema: `^`, `$`, literals and `[...]` classes with
/// ranges, each optionally followed by `+` (e.g. `^CAP_[A-Z_]+$`). Anything else panics.
pub fn pattern_matches(pattern: &str, s: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let (anchored_start, mut i) = (p.first() == Some(&'^'), 0);
    if anchored_start {
        i = 1;
    }
    // Compile into (char class, repeat) atoms.
    let mut atoms: Vec<(Vec<(char, char)>, bool)> = Vec::new();
    let mut anchored_end = false;
    while i < p.len() {
        let class = match p[i] {
            '$' if i == p.len() - 1 => {
                anchored_end = true;
                i += 1;
                continue;
            }
            '[' => {
                let mut ranges = Vec::new();
                i += 1;
                while p[i] != ']' {
                    if p.get(i + 1) == Some(&'-') && p.get(i + 2).is_some_and(|c| *c != ']') {
                        ranges.push((p[i], p[i + 2]));
                        i += 3;
                    } else {
                        ranges.push((p[i], p[i]));
                        i += 1;
                    }
                }
                ranges
            }
            c if c.is_alphanumeric() || c == '_' => vec![(c, c)],
            c => panic!("pattern {pattern:?}: {c:?} is not implemented"),
        };
        i += 1;
        let repeat = p.get(i) == Some(&'+');
        if repeat {
            i += 1;
        }
        atoms.push((class, repeat));
    }
    assert!(
        anchored_start && anchored_end,
        "pattern {pattern:?}: only ^...$ is implemented"
    );
    matches(&atoms, &s.chars().collect::<Vec<_>>())
}

fn matches(atoms: &[(Vec<(char, char)>, bool)], s: &[char]) -> bool {
    let Some(((class, repeat), rest)) = atoms.split_first() else {
        return s.is_empty();
    };
    let fits = |c: &char| class.iter().any(|(lo, hi)| lo <= c && c <= hi);
    let n = s.iter().take_while(|c| fits(c)).count();
    let max = if *repeat { n } else { n.min(1) };
    // Backtrack: a `+` atom may leave characters to the atoms after it.
    (1..=max).rev().any(|k| matches(rest, &s[k..]))
}
