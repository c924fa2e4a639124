//! Bearer tokens: configured per actor from the environment, kept as SHA-256 hashes,
//! compared in constant time. The actor is always resolved from the token; nothing the
//! client sends (an `X-Actor-Id` header, a body field) can choose it.

use std::collections::BTreeSet;
use std::fmt;
use std::path::PathBuf;

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// `OMNIGRAPH_SERVER_BEARER_TOKEN`: one token, for the actor [`DEFAULT_ACTOR`].
pub const ENV_BEARER_TOKEN: &str = "OMNIGRAPH_SERVER_BEARER_TOKEN";
/// `OMNIGRAPH_SERVER_BEARER_TOKENS_FILE`: path of a JSON `{ "actor": "token" }` file.
pub const ENV_BEARER_TOKENS_FILE: &str = "OMNIGRAPH_SERVER_BEARER_TOKENS_FILE";
/// `OMNIGRAPH_SERVER_BEARER_TOKENS_JSON`: a JSON `{ "actor": "token" }` object.
pub const ENV_BEARER_TOKENS_JSON: &str = "OMNIGRAPH_SERVER_BEARER_TOKENS_JSON";
/// The actor of `OMNIGRAPH_SERVER_BEARER_TOKEN`.
pub const DEFAULT_ACTOR: &str = "default";

/// An authenticated actor's id, as configured beside its token.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ActorId(String);

impl ActorId {
    pub fn new(id: impl Into<String>) -> Self {
        ActorId(id.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ActorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A token configuration that must refuse start. Messages never contain a token.
#[derive(Debug, thiserror::Error)]
pub enum TokenConfigError {
    #[error("{source_name} is set but blank")]
    BlankValue { source_name: String },
    #[error("{source_name}: an actor id is blank")]
    BlankActor { source_name: String },
    #[error("{source_name}: the token of actor {actor:?} is blank")]
    BlankToken { source_name: String, actor: String },
    #[error("{source_name}: the token of actor {actor:?} contains whitespace")]
    TokenWithWhitespace { source_name: String, actor: String },
    #[error("actor {actor:?} is configured more than once")]
    DuplicateActor { actor: String },
    #[error("actors {first:?} and {second:?} have the same token; every actor needs its own")]
    DuplicateToken { first: String, second: String },
    #[error("cannot read {}: {source}", path.display())]
    ReadFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{source_name}: expected a JSON object {{\"actor\": \"token\"}}: {source}")]
    Json {
        source_name: String,
        #[source]
        source: serde_json::Error,
    },
}

/// Why a request's `Authorization` header does not authenticate (always a 401).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("missing Authorization header; expected `Authorization: Bearer <token>`")]
    MissingHeader,
    #[error("malformed Authorization header ({0}); expected `Authorization: Bearer <token>`")]
    Malformed(&'static str),
    #[error("unknown bearer token")]
    UnknownToken,
}

/// Where tokens come from; [`TokenSources::from_env`] reads the three variables.
#[derive(Debug, Clone, Default)]
pub struct TokenSources {
    pub bearer_token: Option<String>,
    pub tokens_file: Option<PathBuf>,
    pub tokens_json: Option<String>,
}

impl TokenSources {
    /// Reads the environment. A variable that is set (even to "") counts as given, so a
    /// blank value is reported instead of silently ignored.
    pub fn from_env() -> Self {
        TokenSources {
            bearer_token: std::env::var(ENV_BEARER_TOKEN).ok(),
            tokens_file: std::env::var_os(ENV_BEARER_TOKENS_FILE).map(PathBuf::from),
            tokens_json: std::env::var(ENV_BEARER_TOKENS_JSON).ok(),
        }
    }
}

struct TokenEntry {
    actor: ActorId,
    hash: [u8; 32],
}

/// The configured tokens, hashed. Empty when none is configured.
#[derive(Default)]
pub struct BearerTokens {
    entries: Vec<TokenEntry>,
}

impl fmt::Debug for BearerTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Hashes are not secrets, but they are nobody's business in a log either.
        f.debug_struct("BearerTokens")
            .field("actors", &self.actors().collect::<Vec<_>>())
            .finish()
    }
}

fn hash_token(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl BearerTokens {
    /// Reads the three environment variables (see [`TokenSources::from_env`]).
    pub fn from_env() -> Result<Self, TokenConfigError> {
        Self::from_sources(&TokenSources::from_env())
    }

    /// Merges every given source; blanks, duplicate actors and duplicate tokens are errors.
    pub fn from_sources(sources: &TokenSources) -> Result<Self, TokenConfigError> {
        let mut pairs: Vec<(String, String, String)> = Vec::new();
        if let Some(token) = &sources.bearer_token {
            if token.trim().is_empty() {
                return Err(TokenConfigError::BlankValue {
                    source_name: ENV_BEARER_TOKEN.to_owned(),
                });
            }
            pairs.push((
                ENV_BEARER_TOKEN.to_owned(),
                DEFAULT_ACTOR.to_owned(),
                token.clone(),
            ));
        }
        if let Some(path) = &sources.tokens_file {
            if path.as_os_str().is_empty() {
                return Err(TokenConfigError::BlankValue {
                    source_name: ENV_BEARER_TOKENS_FILE.to_owned(),
                });
            }
            let text =
                std::fs::read_to_string(path).map_err(|source| TokenConfigError::ReadFile {
                    path: path.clone(),
                    source,
                })?;
            let name = format!("{ENV_BEARER_TOKENS_FILE} ({})", path.display());
            pairs.extend(parse_token_json(&text, &name)?);
        }
        if let Some(json) = &sources.tokens_json {
            if json.trim().is_empty() {
                return Err(TokenConfigError::BlankValue {
                    source_name: ENV_BEARER_TOKENS_JSON.to_owned(),
                });
            }
            pairs.extend(parse_token_json(json, ENV_BEARER_TOKENS_JSON)?);
        }
        Self::build(pairs)
    }

    /// Tokens from explicit `(actor, token)` pairs (tests, embedding).
    pub fn from_pairs<A, T>(
        pairs: impl IntoIterator<Item = (A, T)>,
    ) -> Result<Self, TokenConfigError>
    where
        A: Into<String>,
        T: Into<String>,
    {
        Self::build(
            pairs
                .into_iter()
                .map(|(a, t)| ("configured tokens".to_owned(), a.into(), t.into()))
                .collect(),
        )
    }

    fn build(pairs: Vec<(String, String, String)>) -> Result<Self, TokenConfigError> {
        let mut entries: Vec<TokenEntry> = Vec::with_capacity(pairs.len());
        let mut actors = BTreeSet::new();
        for (source_name, actor, token) in pairs {
            let actor = actor.trim().to_owned();
            let token = token.trim();
            if actor.is_empty() {
                return Err(TokenConfigError::BlankActor { source_name });
            }
            if token.is_empty() {
                return Err(TokenConfigError::BlankToken { source_name, actor });
            }
            if token.chars().any(char::is_whitespace) {
                return Err(TokenConfigError::TokenWithWhitespace { source_name, actor });
            }
            if !actors.insert(actor.clone()) {
                return Err(TokenConfigError::DuplicateActor { actor });
            }
            let hash = hash_token(token);
            if let Some(first) = entries.iter().find(|e| e.hash == hash) {
                return Err(TokenConfigError::DuplicateToken {
                    first: first.actor.0.clone(),
                    second: actor,
                });
            }
            entries.push(TokenEntry {
                actor: ActorId(actor),
                hash,
            });
        }
        Ok(BearerTokens { entries })
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn actors(&self) -> impl Iterator<Item = &ActorId> {
        self.entries.iter().map(|e| &e.actor)
    }

    /// Like [`resolve`](Self::resolve), for a raw header value (HTTP header values are
    /// bytes; anything but visible ASCII is malformed).
    pub fn resolve_header(&self, authorization: Option<&[u8]>) -> Result<ActorId, AuthError> {
        let text = match authorization {
            None => None,
            Some(bytes) => Some(
                std::str::from_utf8(bytes)
                    .ok()
                    .filter(|t| t.bytes().all(|b| b == b'\t' || (0x20..0x7f).contains(&b)))
                    .ok_or(AuthError::Malformed("not visible ASCII"))?,
            ),
        };
        self.resolve(text)
    }

    /// Resolves an `Authorization` header value to its actor. The presented token's hash
    /// is compared with every configured hash in constant time, without stopping early.
    pub fn resolve(&self, authorization: Option<&str>) -> Result<ActorId, AuthError> {
        let header = authorization.ok_or(AuthError::MissingHeader)?;
        let token = parse_bearer(header)?;
        let presented = hash_token(token);
        let mut found: Option<&ActorId> = None;
        for entry in &self.entries {
            if bool::from(entry.hash.ct_eq(&presented)) {
                found = Some(&entry.actor);
            }
        }
        found.cloned().ok_or(AuthError::UnknownToken)
    }
}

fn parse_bearer(header: &str) -> Result<&str, AuthError> {
    let header = header.trim();
    if header.is_empty() {
        return Err(AuthError::MissingHeader);
    }
    let (scheme, token) = header
        .split_once(char::is_whitespace)
        .ok_or(AuthError::Malformed("no token after the scheme"))?;
    // RFC 7235: the auth-scheme is case-insensitive.
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AuthError::Malformed("the scheme is not Bearer"));
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(AuthError::Malformed("no token after the scheme"));
    }
    if token.chars().any(char::is_whitespace) {
        return Err(AuthError::Malformed("the token contains whitespace"));
    }
    Ok(token)
}

/// Parses `{ "actor": "token", ... }` keeping duplicate keys (a plain map would keep the
/// last silently), tagging each pair with `source_name`.
fn parse_token_json(
    text: &str,
    source_name: &str,
) -> Result<Vec<(String, String, String)>, TokenConfigError> {
    let pairs: OrderedPairs =
        serde_json::from_str(text).map_err(|source| TokenConfigError::Json {
            source_name: source_name.to_owned(),
            source,
        })?;
    Ok(pairs
        .0
        .into_iter()
        .map(|(actor, token)| (source_name.to_owned(), actor, token))
        .collect())
}

struct OrderedPairs(Vec<(String, String)>);

impl<'de> Deserialize<'de> for OrderedPairs {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PairsVisitor;
        impl<'de> Visitor<'de> for PairsVisitor {
            type Value = OrderedPairs;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object mapping actor ids to tokens")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<OrderedPairs, M::Error> {
                let mut pairs = Vec::new();
                while let Some((actor, token)) = map.next_entry::<String, String>()? {
                    pairs.push((actor, token));
                }
                Ok(OrderedPairs(pairs))
            }
        }
        deserializer.deserialize_map(PairsVisitor)
    }
}

#[cfg(test)]
mod tests;
