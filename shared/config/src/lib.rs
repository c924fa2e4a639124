//! `omnigraph.yaml`: the deployment's configuration model, graph ids, the SHA-256
//! drift baseline and the atomic rewrite the control plane performs on `POST /graphs`.

mod graph_id;
mod hash;
mod model;
mod rewrite;
mod uri;

pub use graph_id::{GraphId, GraphIdError, GRAPH_ID_MAX_LEN, RESERVED_GRAPH_IDS};
pub use hash::{hash_bytes, hash_config_file, hash_to_hex, ConfigHash};
pub use model::{
    resolve_relative_to_config, ConfigContentError, ConfigError, ConfigInvalid, ConfigMode,
    EditGraphError, GraphEntry, InsertGraphError, LoadedConfig, OmnigraphConfig, PolicyRef,
    ServerSection, SINGLE_MODE_GRAPH_ID,
};
pub use rewrite::{
    lock_path_for, rewrite_atomic, rewrite_atomic_with, tmp_path_for, RewriteAtomicError,
    RewriteWithError,
};
pub use uri::{normalize_uri, uri_is_within, uri_refusal, REFUSED_URI_CHARS};
