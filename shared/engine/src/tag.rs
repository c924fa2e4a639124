//! Creating, reading and deleting tags through an opened graph. Where tags are stored and
//! why a tag created while a cleanup runs is safe: shared/storage/src/tag.rs.

use std::sync::Arc;

pub use omnigraph_storage::tag::*;

use crate::branch;
use crate::error::{EngineError, Result};
use crate::graph::{Graph, Snapshot};

impl Graph {
    /// Creates tag `name` on `target`: 400 (`Invalid`) for a bad name or commit id,
    /// `NotFound` for an unknown branch or commit, `Reclaimed` for a commit version cleanup
    /// deleted, `AlreadyExists` when the name is taken.
    pub async fn create_tag(
        self: &Arc<Self>,
        name: &str,
        target: TagTarget<'_>,
        actor: &str,
    ) -> Result<Tag> {
        validate_tag_name(name)?;
        let id = match target {
            TagTarget::Branch(b) => self.snapshot_on(b, None).await?.commit_id(),
            TagTarget::Commit(id) => {
                branch::parse_commit_id(id)?;
                id.to_string()
            }
        };
        // The graph is the one opened (incarnation), and the commit exists.
        self.snapshot_at_commit(&id).await?;
        let (commit, manifest) = self.commit(&id).await?;
        let loc = self.location();
        if read_tag(loc, name).await?.is_some() {
            return Err(EngineError::AlreadyExists(format!("tag {name}")));
        }
        let tag = Tag {
            name: name.to_string(),
            commit: commit.id.clone(),
            created_at: crate::manifest::now(),
            actor: actor.to_string(),
            manifest,
        };
        create_ref(loc, &tag).await?;
        // A cleanup may have deleted the version between the read above and the tag's
        // write (module documentation): read it again now that the tag is there, from its
        // chain or from another tag (not this one).
        match still_kept(loc, &tag).await {
            Ok(true) => Ok(tag),
            Ok(false) => {
                delete_ref(loc, name).await?;
                Err(EngineError::Reclaimed(format!(
                    "commit {} was deleted by version cleanup while the tag was created; tag a newer commit",
                    commit.id
                )))
            }
            Err(e) => {
                delete_ref(loc, name).await?;
                Err(e.into())
            }
        }
    }

    /// Tag `name`, if it exists (`Invalid` for a bad name).
    pub async fn tag(&self, name: &str) -> Result<Option<Tag>> {
        validate_tag_name(name)?;
        Ok(read_tag(self.location(), name).await?)
    }

    /// Every tag, by name.
    pub async fn tags(&self) -> Result<Vec<Tag>> {
        Ok(list_tags(self.location()).await?)
    }

    /// Deletes tag `name` and returns it (`NotFound` when there is none). Cleanup may
    /// reclaim its version from then on.
    pub async fn delete_tag(&self, name: &str) -> Result<Tag> {
        let tag = self
            .tag(name)
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("no tag {name}")))?;
        delete_ref(self.location(), name).await?;
        Ok(tag)
    }

    /// Pins the version tag `name` names.
    pub async fn snapshot_at_tag(self: &Arc<Self>, name: &str) -> Result<Snapshot> {
        let tag = self
            .tag(name)
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("no tag {name}")))?;
        self.snapshot_at_commit(&tag.commit).await
    }
}
