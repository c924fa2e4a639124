use super::*;

fn sample() -> BearerTokens {
    BearerTokens::from_pairs([("act-a", "token-aaaa"), ("act-b", "token-bbbb")]).unwrap()
}

#[test]
fn resolve_maps_each_token_to_its_actor() {
    let tokens = sample();
    assert_eq!(tokens.len(), 2);
    assert_eq!(
        tokens.resolve(Some("Bearer token-aaaa")).unwrap().as_str(),
        "act-a"
    );
    assert_eq!(
        tokens.resolve(Some("Bearer token-bbbb")).unwrap().as_str(),
        "act-b"
    );
}

#[test]
fn resolve_accepts_scheme_in_any_case_and_surrounding_spaces() {
    let tokens = sample();
    assert_eq!(
        tokens.resolve(Some("bearer token-aaaa")).unwrap().as_str(),
        "act-a"
    );
    assert_eq!(
        tokens
            .resolve(Some("  BEARER   token-aaaa  "))
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
        "Bearer",
        "Bearer   ",
        "Basic dXNlcjpwYXNz",
        "token-aaaa",
        "Bearer token-aaaa extra",
    ] {
        let err = tokens.resolve(Some(header)).unwrap_err();
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
        "token-aaab",
        "token-aaa",
        "token-aaaaa",
        "TOKEN-AAAA",
        "xoken-aaaa",
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
    assert!(!debug.contains("token-aaaa"), "{debug}");
}

#[test]
fn single_env_token_belongs_to_the_default_actor() {
    let sources = TokenSources {
        bearer_token: Some("s3cret\n".into()),
        ..Default::default()
    };
    let tokens = BearerTokens::from_sources(&sources).unwrap();
    assert_eq!(
        tokens.resolve(Some("Bearer s3cret")).unwrap().as_str(),
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
        BearerTokens::from_sources(&json(r#"{"": "tok"}"#)),
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
        tokens_json: Some(r#"{"act-a": "t1", "act-a": "t2"}"#.into()),
        ..Default::default()
    };
    let err = BearerTokens::from_sources(&sources).unwrap_err();
    assert!(matches!(err, TokenConfigError::DuplicateActor { ref actor } if actor == "act-a"));
}

#[test]
fn duplicate_actor_across_sources_is_an_error() {
    let sources = TokenSources {
        bearer_token: Some("t-default".into()),
        tokens_json: Some(r#"{"default": "t-other"}"#.into()),
        ..Default::default()
    };
    assert!(matches!(
        BearerTokens::from_sources(&sources),
        Err(TokenConfigError::DuplicateActor { .. })
    ));
}

#[test]
fn duplicate_token_is_an_error_that_does_not_print_it() {
    let err =
        BearerTokens::from_pairs([("act-a", "same-token"), ("act-b", "same-token")]).unwrap_err();
    assert!(matches!(err, TokenConfigError::DuplicateToken { .. }));
    let message = err.to_string();
    assert!(
        message.contains("act-a") && message.contains("act-b"),
        "{message}"
    );
    assert!(!message.contains("same-token"), "{message}");
}

#[test]
fn tokens_file_is_read_and_merged_with_other_sources() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokens.json");
    std::fs::write(&path, r#"{"act-file": "file-token"}"#).unwrap();
    let sources = TokenSources {
        bearer_token: Some("default-token".into()),
        tokens_file: Some(path),
        tokens_json: Some(r#"{"act-json": "json-token"}"#.into()),
    };
    let tokens = BearerTokens::from_sources(&sources).unwrap();
    assert_eq!(tokens.len(), 3);
    assert_eq!(
        tokens.resolve(Some("Bearer file-token")).unwrap().as_str(),
        "act-file"
    );
    assert_eq!(
        tokens.resolve(Some("Bearer json-token")).unwrap().as_str(),
        "act-json"
    );
    assert_eq!(
        tokens
            .resolve(Some("Bearer default-token"))
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
        .resolve_header(Some(b"Bearer token-aaaa"))
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
