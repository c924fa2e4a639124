use std::io::{BufReader, Read};
use std::path::PathBuf;

use clap::Args;
use omnigraph_engine::{Graph, LoadMode, TableFile, TableFormat, TableSource};

use super::{print_json, CliError, CLI_ACTOR};

#[derive(Debug, Args)]
pub struct LoadArgs {
    /// JSONL file in the bulk format (gzip when its name ends in `.gz`).
    #[arg(long, required_unless_present_any = ["csv", "parquet"], conflicts_with_all = ["csv", "parquet"])]
    pub data: Option<PathBuf>,
    /// A CSV file of one node or edge type, as TYPE=PATH (repeatable; with --parquet too):
    /// a header row naming the properties (an edge file's `from` and `to` name its
    /// endpoints' keys). All files load as one change.
    #[arg(long, value_name = "TYPE=PATH")]
    pub csv: Vec<String>,
    /// A Parquet file of one node or edge type, as TYPE=PATH (repeatable).
    #[arg(long, value_name = "TYPE=PATH")]
    pub parquet: Vec<String>,
    /// overwrite | append | merge (required: overwrite replaces whole types).
    #[arg(long)]
    pub mode: String,
    #[arg(long)]
    pub store: String,
    #[arg(long)]
    pub json: bool,
    /// Branch (default main).
    #[arg(long, default_value = omnigraph_engine::MAIN)]
    pub branch: String,
    /// When --branch does not exist yet: create it from this branch first.
    #[arg(long)]
    pub from: Option<String>,
}

pub async fn run(a: LoadArgs) -> Result<(), CliError> {
    let mode: LoadMode = a.mode.parse()?;
    let mut tables = Vec::new();
    for (format, specs) in [
        (TableFormat::Csv, &a.csv),
        (TableFormat::Parquet, &a.parquet),
    ] {
        for spec in specs {
            tables.push(table_file(format, spec)?);
        }
    }
    let data = match (&a.data, tables.is_empty()) {
        (Some(path), true) => Some((
            path.clone(),
            std::fs::File::open(path).map_err(|source| CliError::Read {
                path: path.clone(),
                source,
            })?,
        )),
        _ => None,
    };
    let graph = Graph::open(&a.store).await?;
    if let Some(from) = &a.from {
        if a.branch != omnigraph_engine::MAIN && graph.branch(&a.branch).await?.is_none() {
            match graph.create_branch(&a.branch, from, CLI_ACTOR).await {
                Ok(_) | Err(omnigraph_engine::EngineError::AlreadyExists(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    let started = std::time::Instant::now();
    let Some((path, file)) = data else {
        let report =
            omnigraph_engine::load_files_on(&graph, &a.branch, tables, mode, CLI_ACTOR).await?;
        return summary(&a, &report, None, started);
    };
    // The bar shows on a terminal only (stderr); elsewhere the summary below is all.
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let progress = Progress::new(size);
    let counted = Counted {
        inner: file,
        progress: progress.clone(),
        lines: 0,
    };
    let input: Box<dyn std::io::BufRead + Send> = if path.extension().is_some_and(|e| e == "gz") {
        Box::new(BufReader::with_capacity(
            1 << 20,
            flate2::read::MultiGzDecoder::new(BufReader::with_capacity(1 << 20, counted)),
        ))
    } else {
        Box::new(BufReader::with_capacity(1 << 20, counted))
    };
    let loaded = omnigraph_engine::load_on(&graph, &a.branch, input, mode, CLI_ACTOR).await;
    progress.bar.finish_and_clear();
    let report = loaded?;
    summary(&a, &report, Some(size), started)
}

/// `TYPE=PATH` of --csv and --parquet, opened.
fn table_file(format: TableFormat, spec: &str) -> Result<TableFile, CliError> {
    let Some((type_name, path)) = spec.split_once('=') else {
        return Err(omnigraph_engine::EngineError::Invalid(format!(
            "`{spec}`: give a node or edge type and a file, as TYPE=PATH"
        ))
        .into());
    };
    let path = PathBuf::from(path);
    let file = std::fs::File::open(&path).map_err(|source| CliError::Read {
        path: path.clone(),
        source,
    })?;
    Ok(TableFile {
        type_name: type_name.to_string(),
        label: path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_else(|| path.display().to_string()),
        format,
        source: TableSource::File(file),
    })
}

/// What a load did: JSON with --json, else one summary line and a line per table.
fn summary(
    a: &LoadArgs,
    report: &omnigraph_engine::LoadReport,
    size: Option<u64>,
    started: std::time::Instant,
) -> Result<(), CliError> {
    if a.json {
        return print_json(report);
    }
    let total: u64 = report.tables.iter().map(|t| t.rows_loaded).sum();
    let seconds = started.elapsed().as_secs_f64();
    let size = size
        .map(|s| format!(", {:.1} MiB", s as f64 / (1 << 20) as f64))
        .unwrap_or_default();
    println!(
        "loaded {total} rows ({}{size}) in {seconds:.2}s, {:.0} rows/s -> graph version {}",
        report.mode,
        total as f64 / seconds.max(1e-9),
        report.version
    );
    for t in &report.tables {
        println!("  {:<32} {:>12}", t.table_key, t.rows_loaded);
    }
    Ok(())
}

/// The load's progress on a terminal: bytes of the file read (so the ETA is the file's;
/// of a gzip file, its compressed bytes), and the lines read so far (its rows).
#[derive(Clone)]
struct Progress {
    bar: indicatif::ProgressBar,
}

impl Progress {
    fn new(size: u64) -> Progress {
        let bar = indicatif::ProgressBar::with_draw_target(
            Some(size),
            indicatif::ProgressDrawTarget::stderr_with_hz(4),
        );
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{bar:30} {bytes}/{total_bytes} {msg} {binary_bytes_per_sec} ETA {eta}",
        ) {
            bar.set_style(style);
        }
        Progress { bar }
    }
}

/// The file, counted as it is read.
struct Counted {
    inner: std::fs::File,
    progress: Progress,
    lines: u64,
}

impl Read for Counted {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(out)?;
        let bar = &self.progress.bar;
        bar.inc(n as u64);
        // Lines are counted for the bar only: off a terminal, counting them cost as much
        // as a tenth of a load in a dev build.
        if bar.is_hidden() {
            return Ok(n);
        }
        let lines = out[..n].iter().filter(|b| **b == b'\n').count() as u64;
        if lines > 0 {
            self.lines += lines;
            let rate = self.lines as f64 / bar.elapsed().as_secs_f64().max(1e-3);
            bar.set_message(format!("{} lines ({rate:.0} lines/s)", self.lines));
        }
        Ok(n)
    }
}
