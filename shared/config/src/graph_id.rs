//! `GraphId`: the name a graph is served under (`/graphs/<graph_id>/...`).

use std::fmt;
use std::str::FromStr;
use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Longest accepted graph id, in bytes (ASCII only, so also in characters).
pub const GRAPH_ID_MAX_LEN: usize = 64;

/// Route names a graph id may not take: they would collide with server routes.
/// Compared case-insensitively, so `Healthz` is refused as well as `healthz`.
pub const RESERVED_GRAPH_IDS: [&str; 5] =
    ["graphs", "policies", "healthz", "openapi", "openapi.json"];

static GRAPH_ID_PATTERN: LazyLock<Regex> = LazyLock::new(|| {
    // A literal pattern; it compiles or the crate's tests fail.
    Regex::new(r"^[a-zA-Z0-9-]{1,64}$").expect("graph id pattern is a valid regex")
});

/// Why a string is not a valid [`GraphId`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GraphIdError {
    #[error("invalid graph id: it is empty (expected 1-{GRAPH_ID_MAX_LEN} characters from [a-zA-Z0-9-])")]
    Empty,
    #[error("invalid graph id {id:?}: {len} characters, at most {GRAPH_ID_MAX_LEN} are allowed")]
    TooLong { id: String, len: usize },
    #[error("invalid graph id {id:?}: it may not start with '_'")]
    LeadingUnderscore { id: String },
    #[error(
        "invalid graph id {id:?}: character {ch:?} is not allowed (only a-z, A-Z, 0-9 and '-')"
    )]
    InvalidCharacter { id: String, ch: char },
    #[error("invalid graph id {id:?}: it is a reserved route name (reserved: graphs, policies, healthz, openapi, openapi.json)")]
    Reserved { id: String },
}

/// A validated graph id: matches `^[a-zA-Z0-9-]{1,64}$`, does not start with `_` and is
/// not a reserved route name. Ordered by its string, so maps keyed by it serialize sorted.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GraphId(String);

impl GraphId {
    /// Validates `candidate` (same as `TryFrom<&str>` and `FromStr`).
    pub fn parse(candidate: &str) -> Result<Self, GraphIdError> {
        validate(candidate)?;
        Ok(GraphId(candidate.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

fn validate(candidate: &str) -> Result<(), GraphIdError> {
    // Reserved names first: `openapi.json` would otherwise be reported as a bad '.'.
    if RESERVED_GRAPH_IDS
        .iter()
        .any(|reserved| reserved.eq_ignore_ascii_case(candidate))
    {
        return Err(GraphIdError::Reserved {
            id: candidate.to_owned(),
        });
    }
    if candidate.is_empty() {
        return Err(GraphIdError::Empty);
    }
    if candidate.starts_with('_') {
        return Err(GraphIdError::LeadingUnderscore {
            id: candidate.to_owned(),
        });
    }
    if let Some(ch) = candidate
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
    {
        return Err(GraphIdError::InvalidCharacter {
            id: candidate.to_owned(),
            ch,
        });
    }
    let len = candidate.len();
    if len > GRAPH_ID_MAX_LEN {
        return Err(GraphIdError::TooLong {
            id: candidate.to_owned(),
            len,
        });
    }
    // The checks above are the documented regex spelled out for precise messages.
    debug_assert!(GRAPH_ID_PATTERN.is_match(candidate));
    Ok(())
}

impl TryFrom<&str> for GraphId {
    type Error = GraphIdError;

    fn try_from(value: &str) -> Result<Self, Self::Error> {
        GraphId::parse(value)
    }
}

impl TryFrom<String> for GraphId {
    type Error = GraphIdError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        validate(&value)?;
        Ok(GraphId(value))
    }
}

impl FromStr for GraphId {
    type Err = GraphIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        GraphId::parse(s)
    }
}

impl fmt::Display for GraphId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for GraphId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for GraphId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl From<GraphId> for String {
    fn from(id: GraphId) -> Self {
        id.0
    }
}

impl Serialize for GraphId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for GraphId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        GraphId::try_from(raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_id_accepts_letters_digits_and_dashes() {
        for ok in ["alpha", "Beta-2", "0", "a-b-c", "-leading-dash", "UPPER"] {
            let id = GraphId::try_from(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
            assert_eq!(id.as_str(), ok);
        }
    }

    #[test]
    fn graph_id_rejects_each_reserved_name() {
        for reserved in RESERVED_GRAPH_IDS {
            let err = GraphId::try_from(reserved).unwrap_err();
            assert!(
                matches!(err, GraphIdError::Reserved { .. }),
                "{reserved}: {err:?}"
            );
            assert!(err.to_string().contains("reserved"), "{err}");
        }
    }

    #[test]
    fn graph_id_rejects_reserved_names_in_any_case() {
        for reserved in ["Graphs", "HEALTHZ", "OpenAPI", "OPENAPI.JSON", "Policies"] {
            assert!(matches!(
                GraphId::try_from(reserved),
                Err(GraphIdError::Reserved { .. })
            ));
        }
    }

    #[test]
    fn graph_id_rejects_leading_underscore() {
        let err = GraphId::try_from("_internal").unwrap_err();
        assert!(matches!(err, GraphIdError::LeadingUnderscore { .. }));
        assert!(err.to_string().contains("'_'"), "{err}");
    }

    #[test]
    fn graph_id_accepts_64_characters_and_rejects_65() {
        let max = "a".repeat(64);
        assert!(GraphId::try_from(max.as_str()).is_ok());
        let too_long = "a".repeat(65);
        let err = GraphId::try_from(too_long.as_str()).unwrap_err();
        assert_eq!(
            err,
            GraphIdError::TooLong {
                id: too_long.clone(),
                len: 65
            }
        );
        assert!(err.to_string().contains("at most 64"), "{err}");
    }

    #[test]
    fn graph_id_rejects_empty() {
        assert_eq!(GraphId::try_from(""), Err(GraphIdError::Empty));
    }

    #[test]
    fn graph_id_rejects_bad_characters() {
        for (bad, ch) in [
            ("a_b", '_'),
            ("a.b", '.'),
            ("a/b", '/'),
            ("a b", ' '),
            ("caf\u{e9}", '\u{e9}'),
            ("a%2F", '%'),
            ("..", '.'),
        ] {
            let err = GraphId::try_from(bad).unwrap_err();
            assert_eq!(
                err,
                GraphIdError::InvalidCharacter {
                    id: bad.to_owned(),
                    ch
                },
                "{bad}"
            );
        }
    }

    #[test]
    fn graph_id_from_str_and_serde_validate() {
        assert!("alpha".parse::<GraphId>().is_ok());
        assert!("healthz".parse::<GraphId>().is_err());
        let id: GraphId = serde_yaml::from_str("alpha").unwrap();
        assert_eq!(id.to_string(), "alpha");
        let err = serde_yaml::from_str::<GraphId>("_bad").unwrap_err();
        assert!(err.to_string().contains("may not start with '_'"), "{err}");
    }
}
