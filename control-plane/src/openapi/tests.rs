//! The document describes exactly the routes the router serves, and the committed copy
//! under openapi/ is current.

use std::collections::BTreeSet;

use omnigraph_api::openapi::{check_committed, committed_file, documented_endpoints, operations};

use super::document;
use crate::app::{internal_routes, public_routes};

#[test]
fn every_route_is_documented_and_nothing_else() {
    let mut served = public_routes().endpoints("");
    served.extend(internal_routes().endpoints(""));
    for auth in [true, false] {
        assert_eq!(documented_endpoints(&document(auth)), served, "auth={auth}");
    }
}

#[test]
fn operation_ids_are_present_and_unique() {
    let doc = document(true);
    let mut seen = BTreeSet::new();
    for item in doc.paths.paths.values() {
        for op in operations(item) {
            let id = op.operation_id.clone().expect("every operation has an id");
            assert!(seen.insert(id.clone()), "duplicate operation id {id}");
        }
    }
}

#[test]
fn committed_document_is_current() {
    let file = committed_file("control-plane.json").expect("run by cargo test, in the workspace");
    if let Err(e) = check_committed(&document(true), &file) {
        panic!("{e}");
    }
}
