//! Normalizing graph storage uris, so that two spellings of one location are recognised
//! as duplicates (`/data/a.omni/`, `file:///data/a.omni`, `/data/./a.omni`).

use std::path::{Component, Path};

/// Returns a canonical spelling of a graph uri for duplicate detection. It is lexical
/// only (no file system access, no symlink resolution): the uri may not exist yet.
///
/// - surrounding whitespace is trimmed;
/// - `file://` and `file://localhost` prefixes are removed (the rest is a local path);
/// - local paths: `.` segments and repeated `/` are dropped, `..` removes the segment
///   before it where there is one, and trailing `/` are trimmed;
/// - `scheme://authority/path` uris (s3, gs, az, ...): the scheme and authority are
///   lowercased (bucket names are case-insensitive host names) and the path is cleaned
///   like a local path, keeping its leading `/`.
pub fn normalize_uri(uri: &str) -> String {
    let trimmed = uri.trim();
    if let Some(rest) = strip_prefix_ignore_case(trimmed, "file://") {
        let rest = strip_prefix_ignore_case(rest, "localhost").unwrap_or(rest);
        return normalize_local_path(rest);
    }
    if let Some((scheme, rest)) = split_scheme(trimmed) {
        let (authority, path) = match rest.find('/') {
            Some(slash) => rest.split_at(slash),
            None => (rest, ""),
        };
        let path = normalize_local_path(path);
        let path = if path == "/" || path == "." {
            ""
        } else {
            &path
        };
        return format!(
            "{}://{}{}",
            scheme.to_ascii_lowercase(),
            authority.to_ascii_lowercase(),
            path
        );
    }
    normalize_local_path(trimmed)
}

/// Characters a graph uri may not contain; the same list as the engine's
/// `omnigraph_engine::location::REFUSED_URI_CHARS`. Each is read differently by the object
/// store (which percent-encodes it) and by Lance (which parses the uri as a URL: `%2e%2e`
/// is `..` there, `?` a query, `#` a fragment), so one uri would name two locations.
pub const REFUSED_URI_CHARS: &[char] = &[
    '%', '?', '#', '\\', '{', '}', '^', '[', ']', '|', '<', '>', '"', '`', '*', '~',
];

/// Why `uri` cannot name a graph's location as written, if it cannot: a character of
/// [`REFUSED_URI_CHARS`] (percent-encoding in any form), a control character, or an empty
/// (`//`), `.` or `..` segment in its path (a trailing `/` is fine). Such a uri is refused,
/// never decoded or normalised, so that no component can read it differently.
pub fn uri_refusal(uri: &str) -> Option<String> {
    let uri = uri.trim();
    if let Some(c) = uri
        .chars()
        .find(|c| REFUSED_URI_CHARS.contains(c) || c.is_control())
    {
        return Some(format!(
            "it contains {c:?}: percent-encoding and the characters {} are not allowed in \
             graph uris",
            REFUSED_URI_CHARS.iter().collect::<String>()
        ));
    }
    let path = if let Some(rest) = strip_prefix_ignore_case(uri, "file://") {
        rest
    } else if let Some((_, rest)) = split_scheme(uri) {
        rest.find('/').map_or("", |slash| &rest[slash..])
    } else {
        uri
    };
    let path = path.trim_end_matches('/');
    let path = path.strip_prefix('/').unwrap_or(path);
    if path.is_empty() {
        return None;
    }
    path.split('/')
        .find(|seg| seg.is_empty() || *seg == "." || *seg == "..")
        .map(|seg| {
            let seg = if seg.is_empty() {
                "an empty (`//`)"
            } else if seg == "." {
                "a `.`"
            } else {
                "a `..`"
            };
            format!("it has {seg} path segment; write the path without it")
        })
}

/// Whether `uri` names a location strictly inside `root` (both compared normalized, by
/// whole path segments: `/data/g` holds `/data/g/a.omni`, not `/data/g2` nor `/data/g`).
/// A uri that [`uri_refusal`] refuses is inside nothing: `s3://b/graphs/%2e%2e/x` is not
/// inside `s3://b/graphs`.
pub fn uri_is_within(uri: &str, root: &str) -> bool {
    if uri_refusal(uri).is_some() {
        return false;
    }
    let uri = normalize_uri(uri);
    let root = normalize_uri(root);
    let root = root.trim_end_matches('/');
    uri.strip_prefix(root)
        .and_then(|rest| rest.strip_prefix('/'))
        .is_some_and(|rest| !rest.is_empty())
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// Splits `scheme://rest` where scheme follows RFC 3986 (`ALPHA *( ALPHA / DIGIT / + - . )`).
fn split_scheme(s: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = s.split_once("://")?;
    let mut chars = scheme.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    (first_ok && rest_ok).then_some((scheme, rest))
}

fn normalize_local_path(path: &str) -> String {
    let absolute = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for component in Path::new(path).components() {
        match component {
            Component::Normal(part) => parts.push(part.to_str().unwrap_or_default()),
            Component::ParentDir => {
                if parts.last().is_some_and(|last| *last != "..") {
                    parts.pop();
                } else if !absolute {
                    parts.push("..");
                }
            }
            Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
        }
    }
    let joined = parts.join("/");
    match (absolute, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_owned(),
        (false, false) => joined,
    }
}

#[cfg(test)]
mod tests {
    use super::{normalize_uri, uri_is_within, uri_refusal};

    #[test]
    fn within_refuses_percent_encoding_and_dot_segments_in_any_spelling() {
        for uri in [
            "s3://b/graphs/%2e%2e/other/x.omni",
            "s3://b/graphs/%2E%2E/other/x.omni",
            "s3://b/graphs/%252e%252e/other/x.omni",
            "s3://b/graphs/./x.omni",
            "s3://b/graphs//x.omni",
            "s3://b/graphs/a/../x.omni",
            "file:///r/graphs/%2e%2e/g.omni",
            "/r/graphs/%2e%2e/g.omni",
            "/r/graphs/x?.omni",
            "/r/graphs/x#.omni",
        ] {
            let root = if uri.starts_with("s3") {
                "s3://b/graphs"
            } else {
                "/r/graphs"
            };
            assert!(!uri_is_within(uri, root), "{uri} passed as inside {root}");
            assert!(uri_refusal(uri).is_some(), "{uri} not refused");
        }
        assert_eq!(uri_refusal("s3://b/graphs/x.omni/"), None);
        assert_eq!(uri_refusal("/r/graphs/x.omni"), None);
        assert_eq!(uri_refusal("file:///r/graphs/x.omni"), None);
        assert_eq!(uri_refusal("s3://b"), None);
    }

    #[test]
    fn within_compares_whole_segments_after_normalizing() {
        assert!(uri_is_within("/data/g/a.omni", "/data/g"));
        assert!(uri_is_within("file:///data/g/x/a.omni", "/data/g/"));
        assert!(uri_is_within("/a.omni", "/"));
        assert!(!uri_is_within("/data/g", "/data/g"));
        assert!(!uri_is_within("/data/g2/a.omni", "/data/g"));
        assert!(!uri_is_within("/data/g/../h/a.omni", "/data/g"));
        assert!(!uri_is_within("relative/a.omni", "/data"));
        assert!(uri_is_within(
            "S3://Bucket/graphs/a.omni",
            "s3://bucket/graphs"
        ));
        assert!(!uri_is_within(
            "s3://other/graphs/a.omni",
            "s3://bucket/graphs"
        ));
        assert!(!uri_is_within("/data/g/a.omni", "s3://bucket/data/g"));
    }

    #[test]
    fn normalize_uri_trims_trailing_slashes_and_whitespace() {
        assert_eq!(normalize_uri("/data/a.omni/"), "/data/a.omni");
        assert_eq!(normalize_uri("  /data/a.omni//  "), "/data/a.omni");
        assert_eq!(normalize_uri("/"), "/");
    }

    #[test]
    fn normalize_uri_resolves_file_scheme() {
        assert_eq!(normalize_uri("file:///data/a.omni"), "/data/a.omni");
        assert_eq!(normalize_uri("FILE:///data/a.omni/"), "/data/a.omni");
        assert_eq!(
            normalize_uri("file://localhost/data/a.omni"),
            "/data/a.omni"
        );
        assert_eq!(normalize_uri("file://./rel/a.omni"), "rel/a.omni");
    }

    #[test]
    fn normalize_uri_cleans_dot_segments_and_double_slashes() {
        assert_eq!(normalize_uri("/data/./x/../a.omni"), "/data/a.omni");
        assert_eq!(normalize_uri("/data//a.omni"), "/data/a.omni");
        assert_eq!(normalize_uri("./graphs/a.omni"), "graphs/a.omni");
        assert_eq!(normalize_uri("../a.omni"), "../a.omni");
        assert_eq!(normalize_uri("/../a.omni"), "/a.omni");
    }

    #[test]
    fn normalize_uri_lowercases_scheme_and_bucket_of_object_store_uris() {
        assert_eq!(
            normalize_uri("S3://My-Bucket/prefix//alpha.omni/"),
            "s3://my-bucket/prefix/alpha.omni"
        );
        assert_eq!(normalize_uri("s3://bucket"), "s3://bucket");
        assert_eq!(normalize_uri("s3://bucket/"), "s3://bucket");
        // Object keys are case-sensitive: the path keeps its case.
        assert_ne!(normalize_uri("s3://b/Alpha"), normalize_uri("s3://b/alpha"));
    }
}
