//! What `query` and `mutate` share: where the query text comes from, which query of it to
//! run, and the parameters.

use std::path::PathBuf;

use clap::Args;
use serde_json::{Map, Value};

use super::{read_file, CliError};

#[derive(Debug, Args)]
pub struct QuerySourceArgs {
    #[command(flatten)]
    pub text: QueryText,
    /// Which query of the text to run (needed when it holds several).
    #[arg(long)]
    pub name: Option<String>,
    /// Parameters as a JSON object keyed by name without `$`, e.g. '{"name": "Alice"}'.
    #[arg(long)]
    pub params: Option<String>,
}

#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct QueryText {
    /// The query text itself.
    #[arg(short = 'e', long = "text", value_name = "TEXT")]
    pub inline: Option<String>,
    /// A .gq file of one or more queries.
    #[arg(long, value_name = "F.gq")]
    pub file: Option<PathBuf>,
}

impl QuerySourceArgs {
    /// The query text and the name its errors give it (the file's path, or `request`).
    pub fn source(&self) -> Result<(String, String), CliError> {
        match (&self.text.inline, &self.text.file) {
            (Some(text), _) => Ok((text.clone(), "request".to_string())),
            (None, Some(path)) => Ok((read_file(path)?, path.display().to_string())),
            (None, None) => Err(CliError::Usage(
                "give the query with -e TEXT or --file F.gq".into(),
            )),
        }
    }

    pub fn params(&self) -> Result<Map<String, Value>, CliError> {
        let Some(text) = &self.params else {
            return Ok(Map::new());
        };
        match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(_) => Err(CliError::Usage(
                "--params must be a JSON object, e.g. '{\"name\": \"Alice\"}'".into(),
            )),
            Err(e) => Err(CliError::Usage(format!("--params is not valid JSON: {e}"))),
        }
    }
}
