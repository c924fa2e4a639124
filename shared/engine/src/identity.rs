//! Node identity: every node has Omnigraph's `id` (docs/languages.md, "Node identity").
//!
//! - A node type keyed by one property: the key column is the identity and `id` is another
//!   name for it. JSONL may carry `data.id`; it must be the key's canonical spelling, and
//!   it gives the key when the key property is absent.
//! - A composite `@key(a, b)`: the system column `id` holds the JSON array of the parts'
//!   canonical spellings (`["acme","2024"]`), derived on load and insert.
//! - No `@key`: the system column `id` is given by the writer or generated (a UUID).
//!
//! Canonical spelling: a string as it is, an integer in decimal.

use std::borrow::Cow;

use omnigraph_lang::{BaseType, NodeType, PropType};
use serde_json::{Map, Value};

/// The canonical spelling of a key value, or `None` when it cannot be a key.
pub fn canonical_scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) if n.is_i64() || n.is_u64() => Some(n.to_string()),
        _ => None,
    }
}

/// The `id` of a composite-keyed node from its parts, or why there is none.
fn composite_id(node: &NodeType, get: &dyn Fn(&str) -> Option<Value>) -> Result<String, String> {
    let mut parts = Vec::with_capacity(node.key_parts.len());
    for part in &node.key_parts {
        let value = get(part).unwrap_or(Value::Null);
        match canonical_scalar(&value) {
            Some(text) => parts.push(Value::String(text)),
            None if value.is_null() => {
                return Err(format!(
                    "missing key property `{part}` (part of the @key of {})",
                    node.name
                ))
            }
            None => {
                return Err(format!(
                    "key property `{part}` of {} must be a string or an integer",
                    node.name
                ))
            }
        }
    }
    serde_json::to_string(&parts).map_err(|e| e.to_string())
}

/// A fresh id for a node of a type without `@key`.
pub fn generated_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The `id` a system-id node gets from its values (`get` reads one property; `id` included):
/// the given id when it agrees, the derived or a generated one when absent.
/// `None` for node types keyed by one property (they have no id column).
pub fn system_id(
    node: &NodeType,
    get: &dyn Fn(&str) -> Option<Value>,
) -> Result<Option<String>, String> {
    if !node.system_id {
        return Ok(None);
    }
    let given = match get(NodeType::SYSTEM_ID) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if !s.is_empty() => Some(s),
        Some(_) => return Err("`id` must be a non-empty string".to_string()),
    };
    if node.key_parts.is_empty() {
        return Ok(Some(given.unwrap_or_else(generated_id)));
    }
    let derived = composite_id(node, get)?;
    match given {
        Some(given) if given != derived => Err(format!(
            "`id` {given:?} does not match the @key of {}, whose id is {derived:?}",
            node.name
        )),
        _ => Ok(Some(derived)),
    }
}

/// A JSONL row's `data` with the node's identity complete: the system `id` filled in, or,
/// for a type keyed by one property, `data.id` checked against the key (and used as the key
/// when the key is absent) and then dropped.
pub fn complete_node_data<'a>(
    node: &NodeType,
    data: &'a Map<String, Value>,
) -> Result<Cow<'a, Map<String, Value>>, String> {
    if node.system_id {
        let get = |name: &str| data.get(name).cloned();
        let id = system_id(node, &get)?.unwrap_or_default();
        if data.get(NodeType::SYSTEM_ID).and_then(Value::as_str) == Some(id.as_str()) {
            return Ok(Cow::Borrowed(data));
        }
        let mut data = data.clone();
        data.insert(NodeType::SYSTEM_ID.to_string(), Value::String(id));
        return Ok(Cow::Owned(data));
    }
    // Keyed by one property: `id` is that key's other name, unless the type declares `id`.
    if node.property(NodeType::SYSTEM_ID).is_some() {
        return Ok(Cow::Borrowed(data));
    }
    let Some(id) = data.get(NodeType::SYSTEM_ID) else {
        return Ok(Cow::Borrowed(data));
    };
    let Some(id) = canonical_scalar(id) else {
        return Err("`id` must be a string".to_string());
    };
    let mut data = data.clone();
    data.remove(NodeType::SYSTEM_ID);
    match data.get(&node.key) {
        Some(key) if !key.is_null() => {
            let key_text = canonical_scalar(key).unwrap_or_else(|| key.to_string());
            if key_text != id {
                return Err(format!(
                    "`id` {id:?} does not match the key `{}` = {key_text:?}",
                    node.key
                ));
            }
        }
        _ => {
            let key = key_from_id(node, &id)?;
            data.insert(node.key.clone(), key);
        }
    }
    Ok(Cow::Owned(data))
}

/// The key value an `id` spells, typed like the key property.
fn key_from_id(node: &NodeType, id: &str) -> Result<Value, String> {
    let key_type = node.key_property().ty.clone();
    match key_type {
        PropType::Base(BaseType::String) => Ok(Value::String(id.to_string())),
        PropType::Base(b) if b.is_integer() => {
            if let Ok(n) = id.parse::<i64>() {
                Ok(Value::from(n))
            } else if let Ok(n) = id.parse::<u64>() {
                Ok(Value::from(n))
            } else {
                Err(format!(
                    "`id` {id:?} is not an integer, as the key `{}` of {} is",
                    node.key, node.name
                ))
            }
        }
        other => Err(format!(
            "the key `{}` of {} has type {other}, which an id cannot give",
            node.key, node.name
        )),
    }
}
