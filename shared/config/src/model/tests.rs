use super::*;

fn id(s: &str) -> GraphId {
    GraphId::parse(s).unwrap()
}

fn multi_example() -> OmnigraphConfig {
    let mut graphs = BTreeMap::new();
    graphs.insert(
        id("beta"),
        GraphEntry::new("s3://bucket/beta.omni").with_policy_file("./policies/beta.yaml"),
    );
    graphs.insert(id("alpha"), GraphEntry::new("/data/alpha.omni"));
    OmnigraphConfig::multi(
        ServerSection {
            bind: Some("0.0.0.0:8080".into()),
            policy: Some(PolicyRef {
                file: "./policies/server.yaml".into(),
            }),
            storage_roots: vec!["/data".into(), "s3://bucket".into()],
        },
        graphs,
    )
}

#[test]
fn multi_mode_round_trips_through_yaml() {
    let config = multi_example();
    let text = config.to_yaml_string().unwrap();
    let parsed = OmnigraphConfig::from_yaml_str(&text).unwrap();
    assert_eq!(parsed, config);
    assert_eq!(parsed.mode(), ConfigMode::Multi);
}

#[test]
fn multi_mode_serializes_graphs_sorted_and_deterministically() {
    let text = multi_example().to_yaml_string().unwrap();
    let alpha = text.find("alpha:").unwrap();
    let beta = text.find("beta:").unwrap();
    assert!(alpha < beta, "graphs sorted by id:\n{text}");
    assert_eq!(text, multi_example().to_yaml_string().unwrap());
    assert!(!text.contains("graph:"), "{text}");
    assert!(
        !text.contains("null"),
        "absent options are omitted:\n{text}"
    );
}

#[test]
fn single_mode_round_trips_through_yaml() {
    let config = OmnigraphConfig::single(
        ServerSection::default(),
        GraphEntry::new("/data/one.omni").with_policy_file("policy.yaml"),
    );
    let text = config.to_yaml_string().unwrap();
    assert!(
        !text.contains("server"),
        "empty server section omitted:\n{text}"
    );
    let parsed = OmnigraphConfig::from_yaml_str(&text).unwrap();
    assert_eq!(parsed, config);
    assert_eq!(parsed.mode(), ConfigMode::Single);
    let entries = parsed.entries();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].0.as_str(), SINGLE_MODE_GRAPH_ID);
}

#[test]
fn parses_the_documented_example() {
    let text = r#"
server:
  bind: 0.0.0.0:8080
  policy: { file: ./policies/server.yaml }
graphs:
  alpha:
    uri: /data/alpha.omni
    policy: { file: ./policies/alpha.yaml }
  beta:
    uri: s3://bucket/prefix/beta.omni
"#;
    let config = OmnigraphConfig::from_yaml_str(text).unwrap();
    let graphs = config.graphs.as_ref().unwrap();
    assert_eq!(graphs.len(), 2);
    assert_eq!(graphs["alpha"].uri, "/data/alpha.omni");
    assert_eq!(config.server.bind.as_deref(), Some("0.0.0.0:8080"));
}

#[test]
fn empty_graphs_map_is_valid_multi_mode() {
    let config = OmnigraphConfig::from_yaml_str("graphs: {}\n").unwrap();
    assert_eq!(config.mode(), ConfigMode::Multi);
    assert!(config.entries().is_empty());
}

#[test]
fn config_without_graph_section_is_refused() {
    let err = OmnigraphConfig::from_yaml_str("server: { bind: 0.0.0.0:1 }\n").unwrap_err();
    assert!(matches!(
        err,
        ConfigContentError::Invalid(ConfigInvalid::NoGraphSection)
    ));
}

#[test]
fn config_with_both_graph_sections_is_refused() {
    let text = "graphs: { a: { uri: /a } }\ngraph: { uri: /b }\n";
    let err = OmnigraphConfig::from_yaml_str(text).unwrap_err();
    assert!(matches!(
        err,
        ConfigContentError::Invalid(ConfigInvalid::BothGraphSections)
    ));
    assert!(err.to_string().contains("exactly one"), "{err}");
}

#[test]
fn config_with_invalid_graph_id_is_refused() {
    let err = OmnigraphConfig::from_yaml_str("graphs: { healthz: { uri: /a } }\n").unwrap_err();
    assert!(matches!(err, ConfigContentError::Yaml(_)));
    assert!(err.to_string().contains("reserved"), "{err}");
}

#[test]
fn config_with_unknown_key_is_refused() {
    let text = "graphs: { a: { uri: /a, polcy: { file: p.yaml } } }\n";
    let err = OmnigraphConfig::from_yaml_str(text).unwrap_err();
    assert!(err.to_string().contains("polcy"), "{err}");
}

#[test]
fn storage_roots_must_be_absolute_and_bound_new_graphs() {
    let text = "server: { storage_roots: [graphs] }\ngraphs: {}\n";
    let err = OmnigraphConfig::from_yaml_str(text).unwrap_err();
    assert!(matches!(
        err,
        ConfigContentError::Invalid(ConfigInvalid::InvalidStorageRoot { .. })
    ));
    let text = "server: { storage_roots: [/srv/graphs, 's3://b/g'] }\ngraphs: {}\n";
    let config = OmnigraphConfig::from_yaml_str(text).unwrap();
    assert!(config.server.allows_new_graph_at("/srv/graphs/a.omni"));
    assert!(config.server.allows_new_graph_at("s3://b/g/a.omni"));
    assert!(!config.server.allows_new_graph_at("/srv/other/a.omni"));
    assert!(!config.server.allows_new_graph_at("/srv/graphs/../x.omni"));
    assert!(OmnigraphConfig::from_yaml_str("graphs: {}\n")
        .unwrap()
        .server
        .allows_new_graph_at("/anywhere/a.omni"));
}

#[test]
fn config_with_empty_uri_is_refused() {
    let err = OmnigraphConfig::from_yaml_str("graphs: { a: { uri: ' ' } }\n").unwrap_err();
    assert!(matches!(
        err,
        ConfigContentError::Invalid(ConfigInvalid::EmptyUri { .. })
    ));
}

#[test]
fn config_with_duplicate_normalized_uri_is_refused() {
    let text = "graphs:\n  a: { uri: /data/x.omni }\n  b: { uri: 'file:///data/x.omni/' }\n";
    let err = OmnigraphConfig::from_yaml_str(text).unwrap_err();
    match err {
        ConfigContentError::Invalid(ConfigInvalid::DuplicateUri { first, second, uri }) => {
            assert_eq!((first.as_str(), second.as_str()), ("a", "b"));
            assert_eq!(uri, "/data/x.omni");
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn load_names_the_file_in_errors_and_hashes_the_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("omnigraph.yaml");
    let missing = OmnigraphConfig::load(&path).unwrap_err();
    assert!(matches!(missing, ConfigError::Read { .. }));
    assert!(missing.to_string().contains("omnigraph.yaml"), "{missing}");

    std::fs::write(&path, "graphs: [").unwrap();
    let bad = OmnigraphConfig::load(&path).unwrap_err();
    assert!(matches!(bad, ConfigError::Content { .. }));
    assert!(bad.to_string().contains("omnigraph.yaml"), "{bad}");

    std::fs::write(&path, "graph: { uri: /data/one.omni }\n").unwrap();
    let loaded = OmnigraphConfig::load_with_hash(&path).unwrap();
    assert_eq!(loaded.hash, crate::hash_config_file(&path).unwrap());
    assert_eq!(loaded.config.mode(), ConfigMode::Single);
}

#[test]
fn policy_paths_resolve_against_the_config_directory() {
    let config_path = Path::new("/etc/omnigraph/omnigraph.yaml");
    let relative = PolicyRef {
        file: "./policies/a.yaml".into(),
    };
    assert_eq!(
        relative.resolve(config_path),
        PathBuf::from("/etc/omnigraph/./policies/a.yaml")
    );
    let absolute = PolicyRef {
        file: "/srv/p.yaml".into(),
    };
    assert_eq!(absolute.resolve(config_path), PathBuf::from("/srv/p.yaml"));
    // A bare file name: the directory is the current one.
    assert_eq!(
        resolve_relative_to_config(Path::new("omnigraph.yaml"), Path::new("p.yaml")),
        PathBuf::from("p.yaml")
    );
}

#[test]
fn insert_graph_refuses_duplicate_id_and_duplicate_uri() {
    let mut config = multi_example();
    let err = config
        .insert_graph(id("alpha"), GraphEntry::new("/data/other.omni"))
        .unwrap_err();
    assert_eq!(err, InsertGraphError::DuplicateId(id("alpha")));

    let err = config
        .insert_graph(id("gamma"), GraphEntry::new("/data//alpha.omni/"))
        .unwrap_err();
    assert_eq!(
        err,
        InsertGraphError::DuplicateUri {
            uri: "/data//alpha.omni/".into(),
            existing: id("alpha"),
        }
    );

    config
        .insert_graph(id("gamma"), GraphEntry::new("/data/gamma.omni"))
        .unwrap();
    assert_eq!(config.graph_with_uri("/data/gamma.omni"), Some(id("gamma")));
}

#[test]
fn insert_graph_refuses_single_mode_and_empty_uri() {
    let mut single = OmnigraphConfig::single(ServerSection::default(), GraphEntry::new("/a"));
    assert_eq!(
        single.insert_graph(id("b"), GraphEntry::new("/b")),
        Err(InsertGraphError::SingleMode)
    );
    let mut multi = multi_example();
    assert_eq!(
        multi.insert_graph(id("c"), GraphEntry::new("")),
        Err(InsertGraphError::EmptyUri(id("c")))
    );
}

#[test]
fn the_deploy_example_config_is_valid() {
    let text = include_str!("../../../../deploy/omnigraph.example.yaml");
    let config = OmnigraphConfig::from_yaml_str(text).unwrap();
    assert_eq!(config.server.storage_roots.len(), 2);
    assert!(config.server.allows_new_graph_at("/data/social.omni"));
}

#[test]
fn remove_graph_and_set_policy_edit_only_that_graph() {
    let mut config = multi_example();
    let policy = PolicyRef {
        file: "./policies/new.yaml".into(),
    };
    config
        .set_graph_policy(&id("alpha"), Some(policy.clone()))
        .unwrap();
    assert_eq!(
        config.graphs.as_ref().unwrap()[&id("alpha")].policy,
        Some(policy)
    );
    let removed = config.remove_graph(&id("beta")).unwrap();
    assert_eq!(removed.uri, "s3://bucket/beta.omni");
    let ids: Vec<_> = config.graphs.as_ref().unwrap().keys().cloned().collect();
    assert_eq!(ids, [id("alpha")]);
    assert_eq!(
        config.remove_graph(&id("beta")),
        Err(EditGraphError::UnknownId(id("beta")))
    );
    let mut single = OmnigraphConfig::from_yaml_str("graph: { uri: /a }\n").unwrap();
    assert_eq!(
        single.remove_graph(&id("alpha")),
        Err(EditGraphError::SingleMode)
    );
}
