//! Bearer tokens: configured per actor from the environment, kept as SHA-256 hashes,
//! compared in constant time. The actor is always resolved from the token; nothing the
//! client sends (an `X-Actor-Id` header, a body field) can choose it.

use std::collections::BTreeSet;
use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

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
/// The shortest token accepted (bytes, after trimming): shorter ones refuse the start.
pub const MIN_TOKEN_BYTES: usize = 16;
/// How often a process re-reads `OMNIGRAPH_SERVER_BEARER_TOKENS_FILE`.
pub const TOKENS_FILE_POLL: Duration = Duration::from_secs(1);

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
    #[error("{source_name}: the token of actor {actor:?} is shorter than {MIN_TOKEN_BYTES} bytes; use a random token of at least {MIN_TOKEN_BYTES} bytes (e.g. `openssl rand -hex 32`)")]
    TokenTooShort { source_name: String, actor: String },
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
    /// The JSON error's own text is not kept: it may quote a token.
    #[error("{source_name}: expected a JSON object {{\"actor\": \"token\"}} of strings; the text is not valid at line {line}, column {column}")]
    Json {
        source_name: String,
        line: usize,
        column: usize,
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
    /// Set when a tokens file was read: what [`TokenSet::watch_file`] re-reads.
    file: Option<TokensFile>,
}

/// The sources a token set was built from, and the SHA-256 of the file's text then.
#[derive(Clone)]
struct TokensFile {
    sources: TokenSources,
    path: PathBuf,
    hash: [u8; 32],
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

    /// Merges every given source; blanks, short tokens, duplicate actors and duplicate
    /// tokens are errors.
    pub fn from_sources(sources: &TokenSources) -> Result<Self, TokenConfigError> {
        let file_text = match &sources.tokens_file {
            Some(path) if !path.as_os_str().is_empty() => Some(read_tokens_file(path)?),
            _ => None,
        };
        Self::from_sources_with_file_text(sources, file_text.as_deref())
    }

    /// [`from_sources`](Self::from_sources) with the tokens file's text already read.
    fn from_sources_with_file_text(
        sources: &TokenSources,
        file_text: Option<&str>,
    ) -> Result<Self, TokenConfigError> {
        let mut pairs: Vec<(String, String, String)> = Vec::new();
        let mut file = None;
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
            let text = file_text.unwrap_or_default();
            let name = format!("{ENV_BEARER_TOKENS_FILE} ({})", path.display());
            pairs.extend(parse_token_json(text, &name)?);
            file = Some(TokensFile {
                sources: sources.clone(),
                path: path.clone(),
                hash: Sha256::digest(text.as_bytes()).into(),
            });
        }
        if let Some(json) = &sources.tokens_json {
            if json.trim().is_empty() {
                return Err(TokenConfigError::BlankValue {
                    source_name: ENV_BEARER_TOKENS_JSON.to_owned(),
                });
            }
            pairs.extend(parse_token_json(json, ENV_BEARER_TOKENS_JSON)?);
        }
        let mut tokens = Self::build(pairs)?;
        tokens.file = file;
        Ok(tokens)
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
            if token.len() < MIN_TOKEN_BYTES {
                return Err(TokenConfigError::TokenTooShort { source_name, actor });
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
        Ok(BearerTokens {
            entries,
            file: None,
        })
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

fn read_tokens_file(path: &std::path::Path) -> Result<String, TokenConfigError> {
    std::fs::read_to_string(path).map_err(|source| TokenConfigError::ReadFile {
        path: path.to_path_buf(),
        source,
    })
}

/// The tokens a process accepts now, shared by every request handler: replaced as a
/// whole when the tokens file changes ([`TokenSet::watch_file`]), so a request
/// authenticates against one consistent set, a removed token fails every request that
/// starts after the swap, and requests already authenticated finish.
#[derive(Clone, Default)]
pub struct TokenSet(Arc<RwLock<Arc<BearerTokens>>>);

impl fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.current().fmt(f)
    }
}

impl TokenSet {
    pub fn new(tokens: BearerTokens) -> TokenSet {
        TokenSet(Arc::new(RwLock::new(Arc::new(tokens))))
    }

    /// The set in force now.
    pub fn current(&self) -> Arc<BearerTokens> {
        self.0.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Puts `tokens` in force for every request that starts from now on.
    pub fn replace(&self, tokens: BearerTokens) {
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(tokens);
    }

    /// [`BearerTokens::resolve_header`] against the set in force now.
    pub fn resolve_header(&self, authorization: Option<&[u8]>) -> Result<ActorId, AuthError> {
        self.current().resolve_header(authorization)
    }

    /// When the set came from sources with a tokens file: starts a thread that reads the
    /// file every `interval` and, when its text changed, builds the set again from the
    /// same sources and puts it in force. A file that cannot be read or is not valid
    /// keeps the set in force (logged once per change of the file). The thread ends
    /// when every clone of this set is dropped. Returns whether a thread was started.
    pub fn watch_file(&self, interval: Duration) -> bool {
        let Some(file) = self.current().file.clone() else {
            return false;
        };
        let weak = Arc::downgrade(&self.0);
        let path = file.path.display().to_string();
        let spawned = std::thread::Builder::new()
            .name("tokens-file".into())
            .spawn(move || watch_tokens_file(weak, file, interval));
        match spawned {
            Ok(_) => {
                tracing::info!(
                    path,
                    interval_ms = interval.as_millis() as u64,
                    "watching the bearer tokens file for changes"
                );
                true
            }
            Err(e) => {
                tracing::error!("cannot start the bearer tokens file watcher: {e}");
                false
            }
        }
    }
}

/// What the watcher last saw of the file: its text's hash, or why it could not read it.
#[derive(PartialEq, Eq)]
enum Seen {
    Text([u8; 32]),
    Unreadable(String),
}

fn watch_tokens_file(set: Weak<RwLock<Arc<BearerTokens>>>, file: TokensFile, interval: Duration) {
    let mut seen = Seen::Text(file.hash);
    loop {
        std::thread::sleep(interval);
        let Some(lock) = set.upgrade() else {
            return;
        };
        let set = TokenSet(lock);
        let text = std::fs::read_to_string(&file.path);
        let now = match &text {
            Ok(text) => Seen::Text(Sha256::digest(text.as_bytes()).into()),
            Err(e) => Seen::Unreadable(e.to_string()),
        };
        if now == seen {
            continue;
        }
        seen = now;
        let kept = set.current().len();
        let text = match text {
            Ok(text) => text,
            Err(e) => {
                tracing::error!(
                    path = %file.path.display(),
                    "cannot read the bearer tokens file ({e}); keeping the {kept} tokens in force"
                );
                continue;
            }
        };
        match BearerTokens::from_sources_with_file_text(&file.sources, Some(&text)) {
            Ok(tokens) => {
                let actors: Vec<String> = tokens.actors().map(ToString::to_string).collect();
                if tokens.is_empty() {
                    tracing::warn!(
                        path = %file.path.display(),
                        "the bearer tokens file names no token: every request is refused (401) until one is added"
                    );
                }
                set.replace(tokens);
                tracing::info!(path = %file.path.display(), ?actors, "bearer tokens reloaded");
            }
            Err(e) => tracing::error!(
                path = %file.path.display(),
                "the bearer tokens file is not valid ({e}); keeping the {kept} tokens in force"
            ),
        }
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
    let pairs: OrderedPairs = serde_json::from_str(text).map_err(|e| TokenConfigError::Json {
        source_name: source_name.to_owned(),
        line: e.line(),
        column: e.column(),
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
