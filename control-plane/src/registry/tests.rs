use super::*;

fn id(s: &str) -> GraphId {
    GraphId::parse(s).expect("valid test id")
}

fn graph(uri: &str) -> RegisteredGraph {
    RegisteredGraph {
        uri: uri.to_owned(),
        policy: None,
    }
}

fn registry_with_alpha() -> Arc<Registry> {
    Registry::new(BTreeMap::from([(id("alpha"), graph("/data/alpha.omni"))]))
}

#[test]
fn registry_starts_at_generation_one_sorted_by_id() {
    let registry = Registry::new(BTreeMap::from([
        (id("beta"), graph("/data/b")),
        (id("alpha"), graph("/data/a")),
    ]));
    let doc = registry.document();
    assert_eq!(doc.generation, 1);
    let ids: Vec<&str> = doc.graphs.iter().map(|g| g.graph_id.as_str()).collect();
    assert_eq!(ids, ["alpha", "beta"]);
}

#[test]
fn publish_adds_one_generation_and_notifies_subscribers() {
    let registry = registry_with_alpha();
    let mut rx = registry.subscribe();
    let reservation = registry.reserve(&id("beta"), "/data/beta.omni").unwrap();
    let doc = registry
        .publish(reservation, graph("/data/beta.omni"))
        .unwrap();
    assert_eq!(doc.generation, 2);
    assert!(rx.has_changed().unwrap());
    assert_eq!(rx.borrow_and_update().generation, 2);
    assert_eq!(registry.graph_infos().len(), 2);
}

#[test]
fn reserve_refuses_registered_id_and_normalized_uri() {
    let registry = registry_with_alpha();
    assert!(matches!(
        registry.reserve(&id("alpha"), "/data/x"),
        Err(RegistryConflict::DuplicateId(_))
    ));
    assert!(matches!(
        registry.reserve(&id("beta"), "file:///data//alpha.omni/"),
        Err(RegistryConflict::DuplicateUri { .. })
    ));
}

#[test]
fn reserve_refuses_an_id_or_uri_in_flight_until_released() {
    let registry = registry_with_alpha();
    let held = registry.reserve(&id("beta"), "/data/beta").unwrap();
    assert!(matches!(
        registry.reserve(&id("beta"), "/data/other"),
        Err(RegistryConflict::IdInFlight(_))
    ));
    assert!(matches!(
        registry.reserve(&id("gamma"), "/data/beta/"),
        Err(RegistryConflict::UriInFlight(_))
    ));
    drop(held);
    assert!(registry.reserve(&id("beta"), "/data/beta").is_ok());
}

#[test]
fn remove_and_set_policy_advance_the_generation_and_track_changes() {
    let registry = registry_with_alpha();
    let (_, since) = registry.get(&id("alpha")).unwrap();
    assert_eq!(since, 1);
    let doc = registry
        .set_policy(&id("alpha"), Some("version: 1\n".into()))
        .unwrap();
    assert_eq!(doc.generation, 2);
    assert_eq!(doc.graphs[0].policy.as_deref(), Some("version: 1\n"));
    assert_eq!(registry.get(&id("alpha")).unwrap().1, 2);
    let (removed, doc) = registry.remove(&id("alpha")).unwrap();
    assert_eq!(removed.uri, "/data/alpha.omni");
    assert_eq!(doc.generation, 3);
    assert!(doc.graphs.is_empty());
    assert!(registry.get(&id("alpha")).is_none());
    assert!(registry.remove(&id("alpha")).is_none());
    assert!(registry.set_policy(&id("alpha"), None).is_none());
    assert_eq!(registry.generation(), 3);
}
