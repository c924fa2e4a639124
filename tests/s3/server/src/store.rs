//! The storage behind the server: `s3s-fs` for every operation but ListObjectsV2.
//!
//! `s3s-fs` answers a listing by walking the whole bucket and keeping the keys under the
//! prefix. The tests put every graph of a run in one bucket, so each listing (Omnigraph
//! lists a graph's manifests on open and on publish, Lance lists a table's versions) cost
//! more the more graphs earlier tests had made: by the end of a run the server spent a
//! core walking directories, and tests waited on it. A listing here walks only the
//! directory that the prefix names and below, so it costs what the listed graph holds,
//! as on S3.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use s3s::dto::*;
use s3s::{s3_error, S3Request, S3Response, S3Result, S3};
use s3s_fs::FileSystem;

pub struct Store {
    fs: FileSystem,
    root: PathBuf,
}

impl Store {
    pub fn new(root: &Path) -> Result<Store, String> {
        let fs = FileSystem::new(root).map_err(|e| format!("{e:?}"))?;
        Ok(Store {
            fs,
            root: root.to_owned(),
        })
    }

    async fn list_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        let input = req.input;
        // A bucket is a directory directly under the root (names with a separator or
        // leading dot would reach elsewhere, and no bucket has one).
        if input.bucket.is_empty() || input.bucket.contains('/') || input.bucket.starts_with('.')
        {
            return Err(s3_error!(NoSuchBucket));
        }
        let bucket_root = self.root.join(&input.bucket);
        if !bucket_root.is_dir() {
            return Err(s3_error!(NoSuchBucket));
        }
        let prefix = input
            .prefix
            .as_deref()
            .unwrap_or("")
            .trim_start_matches('/')
            .to_owned();
        let delimiter = input.delimiter.clone().filter(|d| !d.is_empty());
        let max_keys = input.max_keys.unwrap_or(1000);
        let walk_prefix = prefix.clone();
        let listed = tokio::task::spawn_blocking(move || {
            under_prefix(&bucket_root, &walk_prefix, delimiter.as_deref())
        })
        .await
        .map_err(|e| s3_error!(InternalError, "listing task: {e}"))?
        .map_err(|e| s3_error!(InternalError, "listing: {e}"))?;

        // Resume after the later of the continuation token and start-after.
        let marker = match (
            input.continuation_token.as_deref(),
            input.start_after.as_deref(),
        ) {
            (Some(t), Some(s)) => Some(t.max(s)),
            (t, s) => t.or(s),
        };
        let mut remaining = listed
            .into_iter()
            .filter(|(key, _)| marker.is_none_or(|m| key.as_str() > m))
            .peekable();
        let limit = usize::try_from(max_keys).unwrap_or(0);
        let mut contents = Vec::new();
        let mut common_prefixes = Vec::new();
        let mut last_key = None;
        for (key, entry) in remaining.by_ref().take(limit) {
            match entry {
                Listed::Object { size, modified } => contents.push(Object {
                    key: Some(key.clone()),
                    size: Some(size),
                    last_modified: Some(Timestamp::from(modified)),
                    ..Default::default()
                }),
                Listed::Prefix => common_prefixes.push(CommonPrefix {
                    prefix: Some(key.clone()),
                }),
            }
            last_key = Some(key);
        }
        let is_truncated = limit > 0 && remaining.peek().is_some();
        let key_count = i32::try_from(contents.len() + common_prefixes.len())
            .map_err(|_| s3_error!(InternalError, "too many keys"))?;
        let output = ListObjectsV2Output {
            key_count: Some(key_count),
            max_keys: Some(max_keys),
            is_truncated: Some(is_truncated),
            contents: (!contents.is_empty()).then_some(contents),
            common_prefixes: (!common_prefixes.is_empty()).then_some(common_prefixes),
            continuation_token: input.continuation_token,
            next_continuation_token: if is_truncated { last_key } else { None },
            delimiter: input.delimiter,
            encoding_type: input.encoding_type,
            name: Some(input.bucket),
            prefix: input.prefix,
            start_after: input.start_after,
            ..Default::default()
        };
        Ok(S3Response::new(output))
    }
}

enum Listed {
    Object { size: i64, modified: SystemTime },
    Prefix,
}

/// The keys under `prefix` in key order: objects, and with a delimiter, the common
/// prefixes that group the keys with the delimiter after the prefix.
fn under_prefix(
    bucket_root: &Path,
    prefix: &str,
    delimiter: Option<&str>,
) -> std::io::Result<BTreeMap<String, Listed>> {
    let mut listed = BTreeMap::new();
    // A key with a `..` or empty component names no file: nothing to list.
    let dir_part = prefix.rfind('/').map_or("", |i| &prefix[..i]);
    if dir_part
        .split('/')
        .any(|c| c == ".." || c == "." || (c.is_empty() && !dir_part.is_empty()))
    {
        return Ok(listed);
    }
    let start = if dir_part.is_empty() {
        bucket_root.to_owned()
    } else {
        bucket_root.join(dir_part)
    };
    if !start.is_dir() {
        return Ok(listed);
    }
    let key_base = if dir_part.is_empty() {
        String::new()
    } else {
        format!("{dir_part}/")
    };
    let mut pending = vec![(start, key_base)];
    while let Some((dir, base)) = pending.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            let key = format!("{base}{name}");
            let file_type = entry.file_type()?;
            if file_type.is_dir() {
                let dir_key = format!("{key}/");
                // Only directories that can hold keys under the prefix.
                if dir_key.starts_with(prefix) || prefix.starts_with(&dir_key) {
                    pending.push((entry.path(), dir_key));
                }
                continue;
            }
            if !file_type.is_file() || !key.starts_with(prefix) {
                continue;
            }
            let rest = &key[prefix.len()..];
            match delimiter.and_then(|d| rest.find(d).map(|at| at + d.len())) {
                Some(end) => {
                    listed.insert(format!("{prefix}{}", &rest[..end]), Listed::Prefix);
                }
                None => {
                    let meta = entry.metadata()?;
                    let size = i64::try_from(meta.len()).unwrap_or(i64::MAX);
                    listed.insert(
                        key,
                        Listed::Object {
                            size,
                            modified: meta.modified()?,
                        },
                    );
                }
            }
        }
    }
    Ok(listed)
}

/// Every other operation goes to `s3s-fs` unchanged. (A macro that writes the whole
/// impl, so that `async_trait` sees the methods it writes.)
macro_rules! store_impl {
    ($($op:ident($input:ident) -> $output:ident;)*) => {
        #[async_trait::async_trait]
        impl S3 for Store {
            $(
                async fn $op(&self, req: S3Request<$input>) -> S3Result<S3Response<$output>> {
                    self.fs.$op(req).await
                }
            )*

            async fn list_objects_v2(
                &self,
                req: S3Request<ListObjectsV2Input>,
            ) -> S3Result<S3Response<ListObjectsV2Output>> {
                self.list_v2(req).await
            }
        }
    };
}

store_impl! {
    create_bucket(CreateBucketInput) -> CreateBucketOutput;
    copy_object(CopyObjectInput) -> CopyObjectOutput;
    delete_bucket(DeleteBucketInput) -> DeleteBucketOutput;
    delete_object(DeleteObjectInput) -> DeleteObjectOutput;
    delete_objects(DeleteObjectsInput) -> DeleteObjectsOutput;
    get_bucket_location(GetBucketLocationInput) -> GetBucketLocationOutput;
    get_object(GetObjectInput) -> GetObjectOutput;
    head_bucket(HeadBucketInput) -> HeadBucketOutput;
    head_object(HeadObjectInput) -> HeadObjectOutput;
    list_buckets(ListBucketsInput) -> ListBucketsOutput;
    list_objects(ListObjectsInput) -> ListObjectsOutput;
    put_object(PutObjectInput) -> PutObjectOutput;
    create_multipart_upload(CreateMultipartUploadInput) -> CreateMultipartUploadOutput;
    upload_part(UploadPartInput) -> UploadPartOutput;
    upload_part_copy(UploadPartCopyInput) -> UploadPartCopyOutput;
    list_parts(ListPartsInput) -> ListPartsOutput;
    complete_multipart_upload(CompleteMultipartUploadInput) -> CompleteMultipartUploadOutput;
    abort_multipart_upload(AbortMultipartUploadInput) -> AbortMultipartUploadOutput;
}
