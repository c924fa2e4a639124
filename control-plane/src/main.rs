//! `omnigraph-control-plane`: the one process that owns a deployment's omnigraph.yaml,
//! serves the `/graphs` management API and pushes the registry of graphs to the
//! data-plane workers; plus the admin client and policy tools.

mod cli;
mod config;
mod graphs;
mod http;
mod metrics;
mod registry;
mod serve;
mod state;

use std::error::Error;
use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command, PolicyCommand};

/// The service name of its traces (`OTEL_SERVICE_NAME` overrides it).
const SERVICE_NAME: &str = "omnigraph-control-plane";

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        // Logging (and the OTLP exporter, which runs on the runtime) starts on the runtime.
        Command::Serve(args) => run_async(async {
            omnigraph_http::init_logging(SERVICE_NAME);
            serve::serve(args).await
        }),
        Command::Graphs(command) => run_async(cli::client::run(command)),
        Command::Purge(args) => run_async(cli::purge_cmd::run(args)),
        Command::Policy(PolicyCommand::Test(args)) => match cli::policy_cmd::run(args) {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::FAILURE,
            Err(e) => report(&e),
        },
    }
}

fn run_async<E: Error>(future: impl std::future::Future<Output = Result<(), E>>) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return report(&e),
    };
    match runtime.block_on(future) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => report(&e),
    }
}

/// The error and its causes on stderr; exit status 1.
fn report(error: &dyn Error) -> ExitCode {
    eprintln!("error: {error}");
    let mut source = error.source();
    while let Some(cause) = source {
        eprintln!("  caused by: {cause}");
        source = cause.source();
    }
    ExitCode::FAILURE
}
