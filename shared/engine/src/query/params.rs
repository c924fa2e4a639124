//! Query parameters: a JSON object keyed by name without `$`, checked against the declared
//! types before anything runs.

use std::collections::HashMap;

use omnigraph_lang::query::typed::{ParamDecl, NOW_PARAM};
use serde_json::{Map, Value as Json};

use super::value::Scalar;
use crate::error::{EngineError, Result};

/// Parameter values, both as sent (for mutations, which store them) and typed (for
/// comparisons).
#[derive(Debug, Default, Clone)]
pub struct BoundParams {
    values: HashMap<String, (Json, Scalar)>,
}

impl BoundParams {
    pub fn json(&self, name: &str) -> Result<&Json> {
        self.values
            .get(name)
            .map(|(j, _)| j)
            .ok_or_else(|| unknown(name))
    }

    pub fn scalar(&self, name: &str) -> Result<&Scalar> {
        self.values
            .get(name)
            .map(|(_, s)| s)
            .ok_or_else(|| unknown(name))
    }
}

fn unknown(name: &str) -> EngineError {
    EngineError::Invalid(format!(
        "the query uses parameter `${name}`, which it does not declare"
    ))
}

/// Check `given` against `decls`: every non-optional parameter present and non-null, every
/// value of its declared type, and no parameter the query does not declare. `now()`'s
/// parameter (`NOW_PARAM`) is never given: it is bound here, once per run, to the current
/// time in UTC (milliseconds).
pub fn bind_params(decls: &[ParamDecl], given: &Map<String, Json>) -> Result<BoundParams> {
    let now = |d: &&ParamDecl| d.name == NOW_PARAM;
    let declared_by_caller = || decls.iter().filter(|d| !now(d));
    if let Some(extra) = given
        .keys()
        .find(|k| !declared_by_caller().any(|d| &d.name == *k))
    {
        let declared: Vec<String> = declared_by_caller()
            .map(|d| format!("${}", d.name))
            .collect();
        let declared = if declared.is_empty() {
            "none".to_string()
        } else {
            declared.join(", ")
        };
        return Err(EngineError::Invalid(format!(
            "unknown parameter `{extra}`: the query declares {declared}"
        )));
    }
    let mut values = HashMap::new();
    for d in decls {
        let value = if now(&d) {
            Json::String(
                chrono::Utc::now()
                    .format("%Y-%m-%dT%H:%M:%S%.3fZ")
                    .to_string(),
            )
        } else {
            given.get(&d.name).cloned().unwrap_or(Json::Null)
        };
        if value.is_null() && !d.nullable {
            let why = if given.contains_key(&d.name) {
                "may not be null"
            } else {
                "is missing"
            };
            return Err(EngineError::Invalid(format!(
                "parameter `${}` ({}) {why}",
                d.name, d.ty
            )));
        }
        let scalar = Scalar::from_json(&value, &d.ty).map_err(|e| {
            EngineError::Invalid(format!("parameter `${}` ({}): {e}", d.name, d.ty))
        })?;
        values.insert(d.name.clone(), (value, scalar));
    }
    Ok(BoundParams { values })
}
