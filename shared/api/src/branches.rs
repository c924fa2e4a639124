//! Branch, commit and tag bodies of the data plane: `GET/POST /branches`,
//! `DELETE /branches/{branch}`, `POST /branches/merge`, `GET /commits`,
//! `GET /commits/{commit_id}`, `GET/POST /tags`, `GET/DELETE /tags/{name}`.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// `POST /branches`: create branch `name` at the head of `from` (main when absent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({ "name": "agent/alice", "from": "main" }))]
pub struct CreateBranchRequest {
    /// Letters, digits, `.`, `_`, `-`, and `/` between segments (e.g. `agent/alice`).
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
}

/// One branch and its head.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BranchInfo {
    pub name: String,
    /// The commit at the branch head (`<chain>.<version>`, e.g. `main.7`).
    pub head_commit: String,
    pub manifest_version: u64,
    /// The commit the branch was created from; absent for main.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forked_from: Option<String>,
    /// When and by whom the branch was created; absent for main.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
}

/// `GET /branches`: main first, then the others by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BranchListResponse {
    pub branches: Vec<BranchInfo>,
}

/// `DELETE /branches/{branch}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DeleteBranchResponse {
    pub name: String,
    /// The head the branch had; its commits stay readable by id.
    pub head_commit: String,
}

/// One commit: a published version of a branch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CommitInfo {
    /// `<chain>.<version>`: `main.7`, or a branch chain's id and version.
    pub commit_id: String,
    /// The commits it was built on: none for a graph's first version, two for a merge.
    pub parents: Vec<String>,
    pub manifest_version: u64,
    pub actor: String,
    /// RFC 3339.
    pub created_at: String,
}

/// Query string of `GET /commits`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CommitsQuery {
    /// Branch; main when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// At most this many commits, newest first (default 100, at most 10000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(minimum = 1, maximum = 10000)]
    pub limit: Option<u32>,
}

/// `GET /commits`: the history of a branch, newest first, following first parents
/// (into the branch it was created from).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CommitListResponse {
    pub branch: String,
    pub commits: Vec<CommitInfo>,
}

/// `POST /branches/merge`: merge `source` into `target` (main when absent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({ "source": "agent/alice", "target": "main" }))]
pub struct MergeRequest {
    pub source: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}

/// What a merge did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MergeOutcome {
    /// The source's changes were already in the target; nothing was written.
    UpToDate,
    /// The target had not moved since the source parted from it: it now names the
    /// source's table versions.
    FastForward,
    /// Both had moved: merged row by row against their common ancestor.
    Merged,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MergeResponse {
    pub source: String,
    pub target: String,
    pub outcome: MergeOutcome,
    /// The target's head after the merge: a commit with two parents (target, source),
    /// or the unchanged head when up to date.
    pub commit_id: String,
    pub manifest_version: u64,
    /// The common ancestor the merge was computed against.
    pub base_commit: String,
    /// Tables whose version in the target changed.
    pub tables_changed: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor_id: Option<String>,
}

/// `POST /tags`: name a commit, given by its id or as the head of a branch (exactly one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({ "name": "release-1", "commit": "main.7" }))]
pub struct CreateTagRequest {
    /// Letters, digits, `.`, `_`, `-`, and `/` between segments (e.g. `release/1.0`).
    pub name: String,
    /// The commit to tag, `<chain>.<version>` (e.g. `main.7`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// Tag this branch's head commit instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
}

/// One tag: a name for a commit, which version cleanup keeps until the tag is deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TagInfo {
    pub name: String,
    /// The tagged commit (`<chain>.<version>`).
    pub commit_id: String,
    pub manifest_version: u64,
    /// RFC 3339.
    pub created_at: String,
    pub created_by: String,
}

/// `GET /tags`: every tag, by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TagListResponse {
    pub tags: Vec<TagInfo>,
}
