use std::time::Duration;

use super::*;

const A: &str = "token-aaaa-0123456789";
const B: &str = "token-bbbb-0123456789";

fn sample() -> BearerTokens {
    BearerTokens::from_pairs([("act-a", A), ("act-b", B)]).unwrap()
}

#[test]
fn resolve_maps_each_token_to_its_actor() {
    let tokens = sample();
    assert_eq!(tokens.len(), 2);
    assert_eq!(
        tokens
            .resolve(Some(&format!("Bearer {A}")))
            .unwrap()
            .as_str(),
        "act-a"
    );
    assert_eq!(
        tokens
            .resolve(Some(&format!("Bearer {B}")))
            .unwrap()
            .as_str(),
        "act-b"
    );
}

#[test]
fn resolve_accepts_scheme_in_any_case_and_surrounding_spaces() {
    let tokens = sample();
    assert_eq!(
        tokens
            .resolve(Some(&format!("bearer {A}")))
            .unwrap()
            .as_str(),
        "act-a"
    );
    assert_eq!(
        tokens
            .resolve(Some(&format!("  BEARER   {A}  ")))
            .unwrap()
            .as_str(),
        "act-a"
    );
}

#[test]
fn missing_header_is_an_error() {
    assert_eq!(sample().resolve(None), Err(AuthError::MissingHeader));
    assert_eq!(sample().resolve(Some("   ")), Err(AuthError::MissingHeader));
}

#[test]
fn malformed_header_is_an_error() {
    let tokens = sample();
    for header in [
        "Bearer".to_owned(),
        "Bearer   ".to_owned(),
        "Basic dXNlcjpwYXNz".to_owned(),
        A.to_owned(),
        format!("Bearer {A} extra"),
    ] {
        let err = tokens.resolve(Some(&header)).unwrap_err();
        assert!(
            matches!(err, AuthError::Malformed(_)),
            "{header:?}: {err:?}"
        );
        assert!(err.to_string().contains("Bearer <token>"), "{err}");
    }
}

#[test]
fn unknown_token_is_an_error() {
    assert_eq!(
        sample().resolve(Some("Bearer nope")),
        Err(AuthError::UnknownToken)
    );
}

#[test]
fn resolve_rejects_near_misses_of_a_configured_token() {
    // Every comparison is a full constant-time comparison of SHA-256 digests, so a token
    // that shares a prefix, differs in its last byte or extends a real one gets no hint.
    let tokens = sample();
    for near in [
        format!("{}8", &A[..A.len() - 1]),
        A[..A.len() - 1].to_owned(),
        format!("{A}0"),
        A.to_uppercase(),
        format!("x{}", &A[1..]),
    ] {
        assert_eq!(
            tokens.resolve(Some(&format!("Bearer {near}"))),
            Err(AuthError::UnknownToken),
            "{near}"
        );
    }
}

#[test]
fn empty_token_set_rejects_every_token() {
    let tokens = BearerTokens::default();
    assert!(tokens.is_empty());
    assert_eq!(
        tokens.resolve(Some("Bearer x")),
        Err(AuthError::UnknownToken)
    );
}

#[test]
fn debug_output_lists_actors_but_never_tokens() {
    let debug = format!("{:?}", sample());
    assert!(debug.contains("act-a"), "{debug}");
    assert!(!debug.contains(A), "{debug}");
}

#[test]
fn single_env_token_belongs_to_the_default_actor() {
    let sources = TokenSources {
        bearer_token: Some("s3cret-0123456789\n".into()),
        ..Default::default()
    };
    let tokens = BearerTokens::from_sources(&sources).unwrap();
    assert_eq!(
        tokens
            .resolve(Some("Bearer s3cret-0123456789"))
            .unwrap()
            .as_str(),
        DEFAULT_ACTOR
    );
}

#[test]
fn blank_env_values_are_errors() {
    let blank_single = TokenSources {
        bearer_token: Some("  ".into()),
        ..Default::default()
    };
    let err = BearerTokens::from_sources(&blank_single).unwrap_err();
    assert!(matches!(err, TokenConfigError::BlankValue { .. }));
    assert!(err.to_string().contains(ENV_BEARER_TOKEN), "{err}");

    let blank_json = TokenSources {
        tokens_json: Some("".into()),
        ..Default::default()
    };
    assert!(matches!(
        BearerTokens::from_sources(&blank_json),
        Err(TokenConfigError::BlankValue { .. })
    ));

    let blank_file = TokenSources {
        tokens_file: Some(PathBuf::new()),
        ..Default::default()
    };
    assert!(matches!(
        BearerTokens::from_sources(&blank_file),
        Err(TokenConfigError::BlankValue { .. })
    ));
}

#[test]
fn blank_actor_or_token_in_json_is_an_error() {
    let json = |text: &str| TokenSources {
        tokens_json: Some(text.into()),
        ..Default::default()
    };
    assert!(matches!(
        BearerTokens::from_sources(&json(r#"{"act-a": " "}"#)),
        Err(TokenConfigError::BlankToken { .. })
    ));
    assert!(matches!(
        BearerTokens::from_sources(&json(r#"{"": "token-0123456789"}"#)),
        Err(TokenConfigError::BlankActor { .. })
    ));
    assert!(matches!(
        BearerTokens::from_sources(&json(r#"{"act-a": "has space"}"#)),
        Err(TokenConfigError::TokenWithWhitespace { .. })
    ));
}

#[test]
fn duplicate_actor_within_json_is_an_error() {
    let sources = TokenSources {
        tokens_json: Some(
            r#"{"act-a": "token-1-0123456789", "act-a": "token-2-0123456789"}"#.into(),
        ),
        ..Default::default()
    };
    let err = BearerTokens::from_sources(&sources).unwrap_err();
    assert!(matches!(err, TokenConfigError::DuplicateActor { ref actor } if actor == "act-a"));
}

#[test]
fn duplicate_actor_across_sources_is_an_error() {
    let sources = TokenSources {
        bearer_token: Some("t-default-0123456789".into()),
        tokens_json: Some(r#"{"default": "t-other-0123456789"}"#.into()),
        ..Default::default()
    };
    assert!(matches!(
        BearerTokens::from_sources(&sources),
        Err(TokenConfigError::DuplicateActor { .. })
    ));
}

#[test]
fn duplicate_token_is_an_error_that_does_not_print_it() {
    let err = BearerTokens::from_pairs([
        ("act-a", "same-token-0123456789"),
        ("act-b", "same-token-0123456789"),
    ])
    .unwrap_err();
    assert!(matches!(err, TokenConfigError::DuplicateToken { .. }));
    let message = err.to_string();
    assert!(
        message.contains("act-a") && message.contains("act-b"),
        "{message}"
    );
    assert!(!message.contains("same-token-0123456789"), "{message}");
}

#[test]
fn tokens_file_is_read_and_merged_with_other_sources() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokens.json");
    std::fs::write(&path, r#"{"act-file": "file-token-0123456789"}"#).unwrap();
    let sources = TokenSources {
        bearer_token: Some("default-token-0123456789".into()),
        tokens_file: Some(path),
        tokens_json: Some(r#"{"act-json": "json-token-0123456789"}"#.into()),
    };
    let tokens = BearerTokens::from_sources(&sources).unwrap();
    assert_eq!(tokens.len(), 3);
    assert_eq!(
        tokens
            .resolve(Some("Bearer file-token-0123456789"))
            .unwrap()
            .as_str(),
        "act-file"
    );
    assert_eq!(
        tokens
            .resolve(Some("Bearer json-token-0123456789"))
            .unwrap()
            .as_str(),
        "act-json"
    );
    assert_eq!(
        tokens
            .resolve(Some("Bearer default-token-0123456789"))
            .unwrap()
            .as_str(),
        "default"
    );
}

#[test]
fn missing_or_malformed_tokens_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = TokenSources {
        tokens_file: Some(dir.path().join("absent.json")),
        ..Default::default()
    };
    let err = BearerTokens::from_sources(&missing).unwrap_err();
    assert!(matches!(err, TokenConfigError::ReadFile { .. }));
    assert!(err.to_string().contains("absent.json"), "{err}");

    let path = dir.path().join("bad.json");
    std::fs::write(&path, r#"["act-a", "tok"]"#).unwrap();
    let bad = TokenSources {
        tokens_file: Some(path),
        ..Default::default()
    };
    let err = BearerTokens::from_sources(&bad).unwrap_err();
    assert!(matches!(err, TokenConfigError::Json { .. }));
    assert!(err.to_string().contains("bad.json"), "{err}");
}

#[test]
fn no_sources_give_an_empty_token_set() {
    let tokens = BearerTokens::from_sources(&TokenSources::default()).unwrap();
    assert!(tokens.is_empty());
}

#[test]
fn resolve_header_takes_raw_bytes_and_refuses_non_ascii() {
    let tokens = sample();
    let actor = tokens
        .resolve_header(Some(format!("Bearer {A}").as_bytes()))
        .expect("ascii header resolves");
    assert_eq!(actor.as_str(), "act-a");
    assert_eq!(
        tokens.resolve_header(Some("Bearer t\u{f6}k".as_bytes())),
        Err(AuthError::Malformed("not visible ASCII"))
    );
    assert_eq!(
        tokens.resolve_header(Some(b"Bearer tok\x7f")),
        Err(AuthError::Malformed("not visible ASCII"))
    );
    assert_eq!(tokens.resolve_header(None), Err(AuthError::MissingHeader));
}

#[test]
fn tokens_shorter_than_16_bytes_are_refused_without_printing_them() {
    let err = BearerTokens::from_pairs([("act-a", "fifteen-bytes-x")]).unwrap_err();
    assert!(
        matches!(err, TokenConfigError::TokenTooShort { ref actor, .. } if actor == "act-a"),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(message.contains("16 bytes"), "{message}");
    assert!(!message.contains("fifteen-bytes-x"), "{message}");
    // Counted after trimming; exactly 16 bytes is enough.
    assert!(BearerTokens::from_pairs([("act-a", " fifteen-bytes-x\n")]).is_err());
    assert!(BearerTokens::from_pairs([("act-a", "sixteen-bytes-xy")]).is_ok());
    let short_env = TokenSources {
        bearer_token: Some("short".into()),
        ..Default::default()
    };
    let err = BearerTokens::from_sources(&short_env).unwrap_err();
    assert!(err.to_string().contains(ENV_BEARER_TOKEN), "{err}");
}

#[test]
fn a_malformed_tokens_json_is_reported_by_position_without_quoting_it() {
    for text in [
        r#"{"act-a": 12345678901234567890}"#,
        r#"{"act-a": ["secret-value-0123456789"]}"#,
        r#"{"act-a": "secret-value-0123456789""#,
    ] {
        let sources = TokenSources {
            tokens_json: Some(text.into()),
            ..Default::default()
        };
        let err = BearerTokens::from_sources(&sources).unwrap_err();
        let mut message = err.to_string();
        let mut source = std::error::Error::source(&err);
        while let Some(cause) = source {
            message.push_str(&cause.to_string());
            source = cause.source();
        }
        assert!(message.contains("line 1"), "{message}");
        assert!(!message.contains("12345678901234567890"), "{message}");
        assert!(!message.contains("secret-value"), "{message}");
    }
}

/// Polls `check` for up to 5 s.
fn eventually(mut check: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while std::time::Instant::now() < deadline {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

#[test]
fn a_watched_tokens_file_is_followed_and_an_invalid_one_keeps_the_last_good_set() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokens.json");
    std::fs::write(&path, format!(r#"{{"act-a": "{A}"}}"#)).unwrap();
    let sources = TokenSources {
        tokens_file: Some(path.clone()),
        tokens_json: Some(format!(r#"{{"act-b": "{B}"}}"#)),
        ..Default::default()
    };
    let set = TokenSet::new(BearerTokens::from_sources(&sources).unwrap());
    assert!(set.watch_file(Duration::from_millis(10)));
    let resolves = |token: &str| {
        set.resolve_header(Some(format!("Bearer {token}").as_bytes()))
            .ok()
            .map(|a| a.as_str().to_owned())
    };
    assert_eq!(resolves(A).as_deref(), Some("act-a"));

    const C: &str = "token-cccc-0123456789";
    std::fs::write(&path, format!(r#"{{"act-c": "{C}"}}"#)).unwrap();
    assert!(eventually(|| resolves(C).is_some()), "the new token");
    assert_eq!(resolves(A), None, "the removed token");
    assert_eq!(resolves(B).as_deref(), Some("act-b"), "other sources stay");

    for invalid in [
        "{\"act-c\": ".to_owned(),
        r#"{"act-c": "short"}"#.to_owned(),
        format!(r#"{{"act-b": "{C}"}}"#), // the actor of the JSON variable again
    ] {
        std::fs::write(&path, invalid).unwrap();
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(resolves(C).as_deref(), Some("act-c"), "kept");
    }
    std::fs::remove_file(&path).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(
        resolves(C).as_deref(),
        Some("act-c"),
        "kept while the file is gone"
    );

    std::fs::write(&path, "{}").unwrap();
    assert!(
        eventually(|| resolves(C).is_none()),
        "every file token revoked"
    );
    assert_eq!(resolves(B).as_deref(), Some("act-b"));
}

#[test]
fn a_token_set_without_a_file_is_not_watched() {
    let set = TokenSet::new(sample());
    assert!(!set.watch_file(Duration::from_millis(10)));
}
