//! Per-row value constraints of the schema: `@range` and `@check`.

use omnigraph_lang::{CheckConstraint, RangeConstraint};
use regex::Regex;
use serde_json::Value;

use crate::error::{EngineError, Result};

/// The @range and @check rules of one type, compiled once per write.
pub struct RowRules {
    ranges: Vec<RangeConstraint>,
    checks: Vec<(String, Regex, String)>,
}

impl RowRules {
    pub fn new(ranges: &[RangeConstraint], checks: &[CheckConstraint]) -> Result<Self> {
        let mut compiled = vec![];
        for c in checks {
            // The schema validator already compiled the pattern; anchor it to the whole value.
            let re = Regex::new(&format!("^(?:{})$", c.pattern))
                .map_err(|e| EngineError::Corrupt(format!("@check pattern {}: {e}", c.pattern)))?;
            compiled.push((c.property.clone(), re, c.pattern.clone()));
        }
        Ok(RowRules {
            ranges: ranges.to_vec(),
            checks: compiled,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty() && self.checks.is_empty()
    }

    /// Check one row given as parallel slices of column names and values.
    pub fn check(&self, names: &[&str], values: &[&Value]) -> std::result::Result<(), String> {
        if self.is_empty() {
            return Ok(());
        }
        let get = |prop: &str| names.iter().position(|n| *n == prop).map(|i| values[i]);
        for r in &self.ranges {
            if let Some(x) = get(&r.property).and_then(|v| v.as_f64()) {
                let below = r.min.is_some_and(|m| x < m);
                let above = r.max.is_some_and(|m| x > m);
                if below || above {
                    return Err(format!(
                        "@range({}, {}..{}): {x} is out of range",
                        r.property,
                        r.min.map(|m| m.to_string()).unwrap_or_default(),
                        r.max.map(|m| m.to_string()).unwrap_or_default()
                    ));
                }
            }
        }
        for (prop, re, pattern) in &self.checks {
            if let Some(Value::String(s)) = get(prop) {
                if !re.is_match(s) {
                    return Err(format!(
                        "@check({prop}, \"{pattern}\"): `{s}` does not match"
                    ));
                }
            }
        }
        Ok(())
    }
}
