//! The crates link what their layer needs and no more (docs/architecture.md, section 1, "Shared crates"):
//! the control plane, the storage crate and these tests never link Lance, DataFusion or
//! Arrow, so an engine edit rebuilds neither the control plane nor the end-to-end tests.
//! Read from the workspace's dependency graph with `cargo tree` (no build).

use std::path::Path;
use std::process::Command;

/// Every package `package` links (normal dependencies, this platform), by name.
fn linked_packages(package: &str) -> Vec<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
    let out = Command::new(cargo)
        .args(["tree", "--offline", "--edges", "normal", "--prefix", "none"])
        .args(["--format", "{p}", "--package", package, "--manifest-path"])
        .arg(&manifest)
        .output()
        .expect("run cargo tree");
    assert!(
        out.status.success(),
        "cargo tree -p {package}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

fn assert_links_no_table_stack(package: &str) {
    let linked = linked_packages(package);
    assert!(
        linked.iter().any(|p| p == "object_store"),
        "{package}: the dependency graph was not read: {linked:?}"
    );
    let heavy: Vec<&String> = linked
        .iter()
        .filter(|p| {
            p.starts_with("lance")
                || p.starts_with("datafusion")
                || p.starts_with("arrow")
                || p.as_str() == "omnigraph-engine"
        })
        .collect();
    assert!(heavy.is_empty(), "{package} links {heavy:?}");
}

#[test]
fn the_control_plane_links_no_lance_datafusion_or_arrow() {
    assert_links_no_table_stack("omnigraph-control-plane");
}

#[test]
fn the_storage_crate_links_no_lance_datafusion_or_arrow() {
    assert_links_no_table_stack("omnigraph-storage");
}

#[test]
fn the_end_to_end_tests_link_no_lance_datafusion_or_arrow() {
    assert_links_no_table_stack("omnigraph-e2e");
}

#[test]
fn the_data_plane_links_the_engine() {
    // The check above can fail: the same reading finds the engine where it is.
    let linked = linked_packages("omnigraph-data-plane");
    assert!(linked.iter().any(|p| p == "omnigraph-engine"));
    assert!(linked.iter().any(|p| p == "lance"));
}

#[test]
fn the_wire_types_link_no_http_server_code() {
    // A client of the wire types (shared/api) gets serde and the schemas, not the
    // servers' plumbing (shared/http): no axum, tower, Prometheus or OpenTelemetry.
    let linked = linked_packages("omnigraph-api");
    assert!(
        linked.iter().any(|p| p == "serde"),
        "the dependency graph was not read: {linked:?}"
    );
    let server: Vec<&String> = linked
        .iter()
        .filter(|p| {
            p.starts_with("axum")
                || p.starts_with("tower")
                || p.starts_with("prometheus")
                || p.starts_with("opentelemetry")
                || p.starts_with("hyper")
        })
        .collect();
    assert!(server.is_empty(), "omnigraph-api links {server:?}");
    // The same reading finds them in the plumbing.
    let plumbing = linked_packages("omnigraph-http");
    assert!(plumbing.iter().any(|p| p == "axum"));
    assert!(plumbing.iter().any(|p| p == "omnigraph-api"));
}
