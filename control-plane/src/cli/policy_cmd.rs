//! `policy test FILE`: run a policy's declarative test cases before deploying it.

use std::path::{Path, PathBuf};

use omnigraph_policy::{
    run_policy_tests, tests_path_for, CompiledPolicy, PolicyDocument, PolicyError, PolicyScope,
    PolicyTestError, PolicyTestFile, PolicyTestReport,
};

use crate::cli::PolicyTestArgs;

#[derive(Debug, thiserror::Error)]
pub enum PolicyCmdError {
    #[error(transparent)]
    Policy(#[from] PolicyError),
    #[error(transparent)]
    Tests(#[from] PolicyTestError),
    #[error("cannot print JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// Runs the cases; `Ok(false)` when some case failed.
pub fn run(args: PolicyTestArgs) -> Result<bool, PolicyCmdError> {
    let scope = scope_of(&args.policy);
    let policy = CompiledPolicy::from_file(&args.policy, scope)?;
    let tests_path: PathBuf = args.tests.unwrap_or_else(|| tests_path_for(&args.policy));
    let tests = PolicyTestFile::load(&tests_path)?;
    let report = run_policy_tests(&policy, &tests)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_report(&report, &args.policy, &tests_path);
    }
    Ok(report.all_passed())
}

/// A file naming any server action (`graph_list`, ...) is a server policy; any other
/// is per-graph. An unreadable file is reported by the compile step.
fn scope_of(path: &Path) -> PolicyScope {
    let server = std::fs::read_to_string(path)
        .ok()
        .and_then(|text| PolicyDocument::from_yaml_str(&text).ok())
        .is_some_and(|doc| {
            doc.rules.iter().any(|rule| {
                rule.allow
                    .actions
                    .iter()
                    .any(|a| a.scope() == PolicyScope::Server)
            })
        });
    if server {
        PolicyScope::Server
    } else {
        PolicyScope::Graph
    }
}

fn print_report(report: &PolicyTestReport, policy: &Path, tests: &Path) {
    for case in &report.results {
        if case.passed {
            println!("ok    {} ({})", case.id, case.actual);
        } else {
            println!(
                "FAIL  {}: expected {}, got {}: {}",
                case.id, case.expected, case.actual, case.reason
            );
        }
    }
    let failed = report.failures().count();
    println!(
        "{}: {} case(s) from {}, {} passed, {} failed",
        policy.display(),
        report.results.len(),
        tests.display(),
        report.results.len() - failed,
        failed
    );
}
