//! The document describes exactly the routes the router serves, and the committed copy
//! under openapi/ is current.

use std::collections::BTreeSet;

use omnigraph_api::ServeMode;
use omnigraph_http::openapi::{
    check_committed, committed_file, documented_endpoints, operation_id_problems, CLUSTER_PREFIX,
};

use super::document;
use crate::server::app::{graph_routes, internal_routes, public_routes};

fn served(mode: ServeMode) -> BTreeSet<(String, String)> {
    let prefix = match mode {
        ServeMode::Single => "",
        ServeMode::Multi => CLUSTER_PREFIX,
    };
    let mut out = graph_routes().endpoints(prefix);
    out.extend(public_routes().endpoints(""));
    out.extend(internal_routes().endpoints(""));
    out
}

#[test]
fn every_route_is_documented_and_nothing_else() {
    for mode in [ServeMode::Single, ServeMode::Multi] {
        for auth in [true, false] {
            let doc = document(auth, mode);
            assert_eq!(
                documented_endpoints(&doc),
                served(mode),
                "{mode:?} auth={auth}"
            );
        }
    }
}

#[test]
fn operation_ids_are_present_and_unique() {
    for mode in [ServeMode::Single, ServeMode::Multi] {
        let problems = operation_id_problems(&document(true, mode));
        assert_eq!(problems, Vec::<String>::new(), "{mode:?}");
    }
}

#[test]
fn committed_document_is_current() {
    let file = committed_file("data-plane.json").expect("run by cargo test, in the workspace");
    if let Err(e) = check_committed(&document(true, ServeMode::Single), &file) {
        panic!("{e}");
    }
}
