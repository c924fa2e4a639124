//! The document describes exactly the routes the router serves, and the committed copy
//! under openapi/ is current.

use omnigraph_http::openapi::{
    check_committed, committed_file, documented_endpoints, operation_id_problems,
};

use super::document;
use crate::http::app::{internal_routes, public_routes};

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
    assert_eq!(operation_id_problems(&document(true)), Vec::<String>::new());
}

#[test]
fn committed_document_is_current() {
    let file = committed_file("control-plane.json").expect("run by cargo test, in the workspace");
    if let Err(e) = check_committed(&document(true), &file) {
        panic!("{e}");
    }
}
