//! Container ids: runc's allowed characters, never a path.

use anyhow::{bail, Result};

pub fn validate(id: &str) -> Result<()> {
    if id.is_empty() {
        bail!("invalid container id: the id must not be empty");
    }
    if id.len() > 1024 {
        bail!("invalid container id: longer than 1024 characters");
    }
    if id == "." || id == ".." {
        bail!("invalid container id {id:?}");
    }
    if let Some(c) = id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '+' | '-' | '.')))
    {
        bail!("invalid container id {id:?}: character {c:?} is not allowed (use [A-Za-z0-9_+.-])");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::validate;

    #[test]
    fn accepts_runc_ids() {
        for id in ["a", "abc-123", "x_y.z", "A+B", "..a", "a.."] {
            validate(id).unwrap_or_else(|e| panic!("{id}: {e}"));
        }
    }

    #[test]
    fn rejects_paths_and_odd_characters() {
        let long = "a".repeat(2000);
        for id in [
            "",
            ".",
            "..",
            "a/b",
            "../x",
            "a b",
            "é",
            "a\0",
            long.as_str(),
        ] {
            assert!(validate(id).is_err(), "{id:?} accepted");
        }
    }
}
