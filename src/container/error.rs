//! The container layer's own errors, typed so that a caller can tell them apart without reading
//! their text; the text is runc's, which managers and tests match on.

use super::state::Status;

#[derive(Debug, PartialEq, Eq)]
pub enum Error {
    /// `container "<id>" does not exist` (runc's ErrNotExist), and why when rt knows more.
    NotFound {
        id: String,
        why: Option<&'static str>,
    },
    /// `container with id exists: <id>` (runc's ErrExist).
    Exists { id: String },
    /// The operation cannot be done in the container's status: runc's sentence for it.
    WrongState { status: Status, message: String },
}

impl Error {
    pub fn not_found(id: &str) -> Error {
        Error::NotFound {
            id: id.to_string(),
            why: None,
        }
    }

    pub fn wrong_state(status: Status, message: impl Into<String>) -> Error {
        Error::WrongState {
            status,
            message: message.into(),
        }
    }
}

/// The error for an operation the container's status does not allow (runc's words).
pub(super) fn wrong(status: Status, message: &str) -> Error {
    Error::wrong_state(status, message)
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::NotFound { id, why: None } => write!(f, "container \"{id}\" does not exist"),
            Error::NotFound { id, why: Some(w) } => {
                write!(f, "container \"{id}\" does not exist ({w})")
            }
            Error::Exists { id } => write!(f, "container with id exists: {id}"),
            Error::WrongState { message, .. } => f.write_str(message),
        }
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worded_as_runc_and_typed_through_anyhow() {
        let table = [
            (Error::not_found("c1"), "container \"c1\" does not exist"),
            (
                Error::NotFound {
                    id: "c1".into(),
                    why: Some("no state: a create did not finish"),
                },
                "container \"c1\" does not exist (no state: a create did not finish)",
            ),
            (
                Error::Exists { id: "c1".into() },
                "container with id exists: c1",
            ),
            (
                Error::wrong_state(Status::Stopped, "container not running"),
                "container not running",
            ),
        ];
        for (e, text) in table {
            assert_eq!(e.to_string(), text);
            let any = anyhow::Error::new(e).context("outer");
            assert!(any.chain().any(|c| c.downcast_ref::<Error>().is_some()));
            assert_eq!(crate::errno::words(&any), format!("outer: {text}"));
        }
    }
}
