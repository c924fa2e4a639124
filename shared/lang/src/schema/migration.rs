//! Schema evolution: the difference between an accepted schema and a new one, as a list of
//! migration steps. Pure: it reads two catalogs; which steps the stored data allows (a
//! property made required while rows hold nulls, a new `@unique` the rows already break)
//! is for the engine to check when it applies them.
//!
//! Renames are never guessed from a drop plus an add: the new schema names the old name
//! with `@rename_from("old")` on the type or property. Once applied, the annotation stays in
//! the schema text harmlessly (applying the same text again finds nothing to do).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::Serialize;

use crate::catalog::{
    Cardinality, Catalog, CheckConstraint, EdgeType, NodeType, PropType, Property, RangeConstraint,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TypeKind {
    Node,
    Edge,
}

impl TypeKind {
    /// The prefix of table keys: `node:Person`, `edge:Knows`.
    pub fn table_prefix(self) -> &'static str {
        match self {
            TypeKind::Node => "node",
            TypeKind::Edge => "edge",
        }
    }
}

/// A rule on stored rows that a schema can add or remove.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Constraint {
    Unique(Vec<String>),
    Range(RangeConstraint),
    Check(CheckConstraint),
    Card(Cardinality),
}

impl fmt::Display for Constraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bound = |b: Option<f64>| b.map(|x| x.to_string()).unwrap_or_default();
        match self {
            Constraint::Unique(set) => write!(f, "@unique({})", set.join(", ")),
            Constraint::Range(r) => write!(
                f,
                "@range({}, {}..{})",
                r.property,
                bound(r.min),
                bound(r.max)
            ),
            Constraint::Check(c) => write!(f, "@check({}, \"{}\")", c.property, c.pattern),
            Constraint::Card(c) => write!(
                f,
                "@card({}..{})",
                c.min,
                c.max.map(|m| m.to_string()).unwrap_or_default()
            ),
        }
    }
}

/// One step of a migration. Types are named by their new name, except in `DropType` and
/// `RenameType::from`; properties likewise.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MigrationStep {
    AddType {
        type_kind: TypeKind,
        name: String,
    },
    DropType {
        type_kind: TypeKind,
        name: String,
    },
    RenameType {
        type_kind: TypeKind,
        from: String,
        to: String,
    },
    AddProperty {
        type_kind: TypeKind,
        type_name: String,
        property: String,
        nullable: bool,
    },
    DropProperty {
        type_kind: TypeKind,
        type_name: String,
        property: String,
    },
    RenameProperty {
        type_kind: TypeKind,
        type_name: String,
        from: String,
        to: String,
    },
    /// `nullable: false` makes the property required (every stored row must have it).
    SetNullable {
        type_kind: TypeKind,
        type_name: String,
        property: String,
        nullable: bool,
    },
    /// New values of an enum property (every stored value stays valid).
    ExtendEnum {
        type_kind: TypeKind,
        type_name: String,
        property: String,
        added: Vec<String>,
    },
    AddIndex {
        type_kind: TypeKind,
        type_name: String,
        property: String,
    },
    DropIndex {
        type_kind: TypeKind,
        type_name: String,
        property: String,
    },
    /// A new rule every stored row must already satisfy.
    AddConstraint {
        type_kind: TypeKind,
        type_name: String,
        constraint: Constraint,
    },
    DropConstraint {
        type_kind: TypeKind,
        type_name: String,
        constraint: Constraint,
    },
    /// A change this version cannot apply; the whole migration is refused.
    Unsupported {
        entity: String,
        reason: String,
    },
}

impl MigrationStep {
    /// The snake_case name of the step kind (`add_property`).
    pub fn kind(&self) -> &'static str {
        match self {
            MigrationStep::AddType { .. } => "add_type",
            MigrationStep::DropType { .. } => "drop_type",
            MigrationStep::RenameType { .. } => "rename_type",
            MigrationStep::AddProperty { .. } => "add_property",
            MigrationStep::DropProperty { .. } => "drop_property",
            MigrationStep::RenameProperty { .. } => "rename_property",
            MigrationStep::SetNullable { .. } => "set_nullable",
            MigrationStep::ExtendEnum { .. } => "extend_enum",
            MigrationStep::AddIndex { .. } => "add_index",
            MigrationStep::DropIndex { .. } => "drop_index",
            MigrationStep::AddConstraint { .. } => "add_constraint",
            MigrationStep::DropConstraint { .. } => "drop_constraint",
            MigrationStep::Unsupported { .. } => "unsupported",
        }
    }

    /// The table the step is about (`node:Person`), by its new name; `None` for an
    /// unsupported change.
    pub fn table_key(&self) -> Option<String> {
        use MigrationStep::*;
        let (kind, name) = match self {
            AddType { type_kind, name } | DropType { type_kind, name } => (type_kind, name),
            RenameType { type_kind, to, .. } => (type_kind, to),
            AddProperty {
                type_kind,
                type_name,
                ..
            }
            | DropProperty {
                type_kind,
                type_name,
                ..
            }
            | RenameProperty {
                type_kind,
                type_name,
                ..
            }
            | SetNullable {
                type_kind,
                type_name,
                ..
            }
            | ExtendEnum {
                type_kind,
                type_name,
                ..
            }
            | AddIndex {
                type_kind,
                type_name,
                ..
            }
            | DropIndex {
                type_kind,
                type_name,
                ..
            }
            | AddConstraint {
                type_kind,
                type_name,
                ..
            }
            | DropConstraint {
                type_kind,
                type_name,
                ..
            } => (type_kind, type_name),
            Unsupported { .. } => return None,
        };
        Some(format!("{}:{name}", kind.table_prefix()))
    }
}

impl fmt::Display for MigrationStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use MigrationStep::*;
        match self {
            AddType { type_kind, name } => {
                write!(f, "add {} type {name}", type_kind.table_prefix())
            }
            DropType { type_kind, name } => {
                write!(f, "drop {} type {name}", type_kind.table_prefix())
            }
            RenameType {
                type_kind,
                from,
                to,
            } => write!(f, "rename {} type {from} to {to}", type_kind.table_prefix()),
            AddProperty {
                type_name,
                property,
                nullable,
                ..
            } => write!(
                f,
                "add {} property {type_name}.{property}",
                if *nullable { "optional" } else { "required" }
            ),
            DropProperty {
                type_name,
                property,
                ..
            } => write!(f, "drop property {type_name}.{property}"),
            RenameProperty {
                type_name,
                from,
                to,
                ..
            } => write!(f, "rename property {type_name}.{from} to {to}"),
            SetNullable {
                type_name,
                property,
                nullable,
                ..
            } => write!(
                f,
                "make {type_name}.{property} {}",
                if *nullable { "optional" } else { "required" }
            ),
            ExtendEnum {
                type_name,
                property,
                added,
                ..
            } => write!(
                f,
                "add value(s) {} to enum {type_name}.{property}",
                added.join(", ")
            ),
            AddIndex {
                type_name,
                property,
                ..
            } => write!(f, "add @index on {type_name}.{property}"),
            DropIndex {
                type_name,
                property,
                ..
            } => write!(f, "drop @index on {type_name}.{property}"),
            AddConstraint {
                type_name,
                constraint,
                ..
            } => write!(f, "add {constraint} on {type_name}"),
            DropConstraint {
                type_name,
                constraint,
                ..
            } => write!(f, "drop {constraint} on {type_name}"),
            Unsupported { entity, reason } => write!(f, "unsupported change of {entity}: {reason}"),
        }
    }
}

/// The steps that turn `old` into `new`, in an order that can be applied one after the
/// other: renames of types first, then per type renames, drops and adds of properties,
/// then constraints and indexes, then types dropped. Empty when nothing changed.
pub fn plan_migration(old: &Catalog, new: &Catalog) -> Vec<MigrationStep> {
    let mut steps = vec![];
    let node_renames = plan_types(
        TypeKind::Node,
        &old.nodes,
        &new.nodes,
        |n| (&n.name, n.renamed_from.as_deref()),
        &mut steps,
        |old_node, new_node, steps| diff_node(old_node, new_node, steps),
    );
    plan_types(
        TypeKind::Edge,
        &old.edges,
        &new.edges,
        |e| (&e.name, e.renamed_from.as_deref()),
        &mut steps,
        |old_edge, new_edge, steps| diff_edge(old_edge, new_edge, &node_renames, steps),
    );
    // Drops last, so a reader of the list sees what is kept before what goes.
    steps.sort_by_key(|s| matches!(s, MigrationStep::DropType { .. }));
    steps
}

/// Matches the types of one kind by name (or `@rename_from`); returns old name -> new name
/// for renamed types.
fn plan_types<T>(
    kind: TypeKind,
    old: &[T],
    new: &[T],
    names: impl Fn(&T) -> (&String, Option<&str>),
    steps: &mut Vec<MigrationStep>,
    mut diff: impl FnMut(&T, &T, &mut Vec<MigrationStep>),
) -> BTreeMap<String, String> {
    let old_by_name: BTreeMap<&str, &T> = old.iter().map(|t| (names(t).0.as_str(), t)).collect();
    let new_names: BTreeSet<&str> = new.iter().map(|t| names(t).0.as_str()).collect();
    let mut matched = BTreeSet::new();
    let mut renames = BTreeMap::new();
    for t in new {
        let (name, renamed_from) = names(t);
        let previous = if old_by_name.contains_key(name.as_str()) {
            Some(name.as_str())
        } else {
            // A rename applies only while the old name is still in the accepted schema and
            // not declared again in the new one.
            renamed_from.filter(|from| {
                old_by_name.contains_key(from)
                    && !new_names.contains(from)
                    && !matched.contains(from)
            })
        };
        let Some(previous) = previous else {
            steps.push(MigrationStep::AddType {
                type_kind: kind,
                name: name.clone(),
            });
            continue;
        };
        matched.insert(previous);
        if previous != name {
            renames.insert(previous.to_string(), name.clone());
            steps.push(MigrationStep::RenameType {
                type_kind: kind,
                from: previous.to_string(),
                to: name.clone(),
            });
        }
        diff(old_by_name[previous], t, steps);
    }
    for t in old {
        let name = names(t).0;
        if !matched.contains(name.as_str()) {
            steps.push(MigrationStep::DropType {
                type_kind: kind,
                name: name.clone(),
            });
        }
    }
    renames
}

fn diff_node(old: &NodeType, new: &NodeType, steps: &mut Vec<MigrationStep>) {
    let kind = TypeKind::Node;
    let renames = diff_properties(kind, &new.name, &old.properties, &new.properties, steps);
    if renamed(&renames, &old.key) != new.key {
        steps.push(MigrationStep::Unsupported {
            entity: format!("node:{}", new.name),
            reason: format!(
                "the @key changes from `{}` to `{}`; a node's identity cannot change in place (export, change the schema, load again)",
                old.key, new.key
            ),
        });
    }
    diff_rules(
        kind,
        &new.name,
        Rules::of_node(old).renamed(&renames),
        Rules::of_node(new),
        steps,
    );
}

fn diff_edge(
    old: &EdgeType,
    new: &EdgeType,
    node_renames: &BTreeMap<String, String>,
    steps: &mut Vec<MigrationStep>,
) {
    let kind = TypeKind::Edge;
    let from = renamed(node_renames, &old.from);
    let to = renamed(node_renames, &old.to);
    if from != new.from || to != new.to {
        steps.push(MigrationStep::Unsupported {
            entity: format!("edge:{}", new.name),
            reason: format!(
                "the endpoints change from {from} -> {to} to {} -> {}; stored edges cannot be moved to other node types",
                new.from, new.to
            ),
        });
    }
    let renames = diff_properties(kind, &new.name, &old.properties, &new.properties, steps);
    diff_rules(
        kind,
        &new.name,
        Rules::of_edge(old).renamed(&renames),
        Rules::of_edge(new),
        steps,
    );
}

fn renamed(renames: &BTreeMap<String, String>, name: &str) -> String {
    renames
        .get(name)
        .cloned()
        .unwrap_or_else(|| name.to_string())
}

/// Properties matched by name or `@rename_from`; returns old name -> new name.
fn diff_properties(
    kind: TypeKind,
    type_name: &str,
    old: &[Property],
    new: &[Property],
    steps: &mut Vec<MigrationStep>,
) -> BTreeMap<String, String> {
    let find_old = |n: &str| old.iter().find(|p| p.name == n);
    let declared_new = |n: &str| new.iter().any(|p| p.name == n);
    let mut matched = BTreeSet::new();
    let mut renames = BTreeMap::new();
    let mut adds = vec![];
    for p in new {
        let previous = find_old(&p.name).or_else(|| {
            p.renamed_from
                .as_deref()
                .filter(|from| !declared_new(from) && !matched.contains(*from))
                .and_then(find_old)
        });
        let Some(previous) = previous else {
            adds.push(MigrationStep::AddProperty {
                type_kind: kind,
                type_name: type_name.to_string(),
                property: p.name.clone(),
                nullable: p.nullable,
            });
            continue;
        };
        matched.insert(previous.name.clone());
        if previous.name != p.name {
            renames.insert(previous.name.clone(), p.name.clone());
            steps.push(MigrationStep::RenameProperty {
                type_kind: kind,
                type_name: type_name.to_string(),
                from: previous.name.clone(),
                to: p.name.clone(),
            });
        }
        diff_property(kind, type_name, previous, p, steps);
    }
    for p in old {
        if !matched.contains(&p.name) {
            steps.push(MigrationStep::DropProperty {
                type_kind: kind,
                type_name: type_name.to_string(),
                property: p.name.clone(),
            });
        }
    }
    // Adds after drops, so a property dropped and added again under the same name in one
    // step list cannot happen (that is a type change, handled above).
    steps.extend(adds);
    renames
}

fn diff_property(
    kind: TypeKind,
    type_name: &str,
    old: &Property,
    new: &Property,
    steps: &mut Vec<MigrationStep>,
) {
    if old.ty != new.ty {
        match (&old.ty, &new.ty) {
            (PropType::Enum(before), PropType::Enum(after))
                if before.iter().all(|v| after.contains(v)) =>
            {
                steps.push(MigrationStep::ExtendEnum {
                    type_kind: kind,
                    type_name: type_name.to_string(),
                    property: new.name.clone(),
                    added: after
                        .iter()
                        .filter(|v| !before.contains(v))
                        .cloned()
                        .collect(),
                });
            }
            _ => steps.push(MigrationStep::Unsupported {
                entity: format!("{}:{type_name}.{}", kind.table_prefix(), new.name),
                reason: format!(
                    "the type changes from {} to {}; add a new property, fill it, and drop the old one",
                    old.ty, new.ty
                ),
            }),
        }
    }
    if old.nullable != new.nullable {
        steps.push(MigrationStep::SetNullable {
            type_kind: kind,
            type_name: type_name.to_string(),
            property: new.name.clone(),
            nullable: new.nullable,
        });
    }
}

/// The constraints and indexes of one type, with property names as the type declares them.
struct Rules {
    constraints: Vec<Constraint>,
    indexed: Vec<String>,
}

impl Rules {
    fn of_node(n: &NodeType) -> Rules {
        Rules::of(&n.unique, &n.ranges, &n.checks, None, &n.indexed)
    }

    fn of_edge(e: &EdgeType) -> Rules {
        Rules::of(&e.unique, &e.ranges, &e.checks, e.card, &e.indexed)
    }

    fn of(
        unique: &[Vec<String>],
        ranges: &[RangeConstraint],
        checks: &[CheckConstraint],
        card: Option<Cardinality>,
        indexed: &[String],
    ) -> Rules {
        let mut constraints: Vec<Constraint> =
            unique.iter().cloned().map(Constraint::Unique).collect();
        constraints.extend(ranges.iter().cloned().map(Constraint::Range));
        constraints.extend(checks.iter().cloned().map(Constraint::Check));
        constraints.extend(card.map(Constraint::Card));
        Rules {
            constraints,
            indexed: indexed.to_vec(),
        }
    }

    /// The same rules with renamed properties under their new names.
    fn renamed(mut self, renames: &BTreeMap<String, String>) -> Rules {
        for c in &mut self.constraints {
            match c {
                Constraint::Unique(set) => {
                    for p in set.iter_mut() {
                        *p = renamed(renames, p);
                    }
                }
                Constraint::Range(r) => r.property = renamed(renames, &r.property),
                Constraint::Check(k) => k.property = renamed(renames, &k.property),
                Constraint::Card(_) => {}
            }
        }
        for p in &mut self.indexed {
            *p = renamed(renames, p);
        }
        self
    }
}

fn diff_rules(
    kind: TypeKind,
    type_name: &str,
    old: Rules,
    new: Rules,
    steps: &mut Vec<MigrationStep>,
) {
    let t = || type_name.to_string();
    for c in old
        .constraints
        .iter()
        .filter(|c| !new.constraints.contains(c))
    {
        steps.push(MigrationStep::DropConstraint {
            type_kind: kind,
            type_name: t(),
            constraint: c.clone(),
        });
    }
    for c in new
        .constraints
        .iter()
        .filter(|c| !old.constraints.contains(c))
    {
        steps.push(MigrationStep::AddConstraint {
            type_kind: kind,
            type_name: t(),
            constraint: c.clone(),
        });
    }
    for p in old.indexed.iter().filter(|p| !new.indexed.contains(p)) {
        steps.push(MigrationStep::DropIndex {
            type_kind: kind,
            type_name: t(),
            property: p.clone(),
        });
    }
    for p in new.indexed.iter().filter(|p| !old.indexed.contains(p)) {
        steps.push(MigrationStep::AddIndex {
            type_kind: kind,
            type_name: t(),
            property: p.clone(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse_schema;

    fn plan(old: &str, new: &str) -> Vec<String> {
        let old = parse_schema(old).unwrap();
        let new = parse_schema(new).unwrap();
        plan_migration(&old, &new)
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    const BASE: &str = "node Person { name: String @key\n age: I32? }\n\
                        node Company { name: String @key }\n\
                        edge WorksAt: Person -> Company";

    #[test]
    fn same_schema_has_no_steps() {
        assert!(plan(BASE, BASE).is_empty());
    }

    #[test]
    fn each_step_kind_is_found() {
        let new = "node Person { name: String @key\n years: I32 @rename_from(\"age\")\n email: String? @index\n @unique(email) }\n\
                   node Org @rename_from(\"Company\") { name: String @key }\n\
                   node City { name: String @key }\n\
                   edge WorksAt: Person -> Org @card(0..1)";
        assert_eq!(
            plan(BASE, new),
            vec![
                "rename property Person.age to years",
                "make Person.years required",
                "add optional property Person.email",
                "add @unique(email) on Person",
                "add @index on Person.email",
                "rename node type Company to Org",
                "add node type City",
                "add @card(0..1) on WorksAt",
            ]
        );
        let dropped = "node Person { name: String @key }";
        assert_eq!(
            plan(BASE, dropped),
            vec![
                "drop property Person.age",
                "drop node type Company",
                "drop edge type WorksAt"
            ]
        );
    }

    #[test]
    fn type_and_key_changes_are_unsupported() {
        let steps: Vec<String> = plan(
            BASE,
            "node Person { name: String\n age: String @key }\nnode Company { name: String @key }\nedge WorksAt: Company -> Person",
        )
        .into_iter()
        .filter(|s| s.starts_with("unsupported"))
        .collect();
        assert_eq!(steps.len(), 3, "{steps:?}");
        assert!(
            steps[0].contains("type changes from I32 to String"),
            "{steps:?}"
        );
        assert!(
            steps[1].contains("@key changes from `name` to `age`"),
            "{steps:?}"
        );
        assert!(steps[2].contains("endpoints change"), "{steps:?}");
    }

    #[test]
    fn enums_may_grow_but_not_shrink() {
        let old = "node T { k: String @key\n r: enum(a, b) }";
        assert_eq!(
            plan(old, "node T { k: String @key\n r: enum(a, b, c) }"),
            vec!["add value(s) c to enum T.r"]
        );
        assert!(plan(old, "node T { k: String @key\n r: enum(a) }")[0].starts_with("unsupported"));
    }

    #[test]
    fn rename_annotation_left_in_place_is_harmless() {
        let renamed = "node Person { name: String @key\n years: I32? @rename_from(\"age\") }\n\
                       node Company { name: String @key }\nedge WorksAt: Person -> Company";
        assert_eq!(
            plan(BASE, renamed),
            vec!["rename property Person.age to years"]
        );
        assert!(plan(renamed, renamed).is_empty());
    }

    #[test]
    fn edges_follow_renamed_endpoints() {
        let new = "node Human @rename_from(\"Person\") { name: String @key\n age: I32? }\n\
                   node Company { name: String @key }\nedge WorksAt: Human -> Company";
        assert_eq!(plan(BASE, new), vec!["rename node type Person to Human"]);
    }
}
