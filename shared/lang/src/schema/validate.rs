//! Validation of a parsed schema into a `Catalog`: names, types, keys, endpoints and
//! constraints. The first error in declaration order is returned.

use std::collections::HashMap;

use crate::catalog::{BaseType, Catalog, EdgeType, NodeType, PropType, Property};
use crate::error::{LangError, LangResult};
use crate::schema::ast::*;
use crate::schema::constraints::{
    embed_spec, rename_from, unknown_annotation, Constraints, Owner, OwnerKind,
};
use crate::schema::parser::RENAME_FROM;
use crate::span::Ident;
use crate::types::{base_type_by_name, resolve_type, TypeExprKind};

type TypeNames<'a> = HashMap<&'a str, &'a TypeDecl>;

pub fn validate_schema(ast: &SchemaAst) -> LangResult<Catalog> {
    let names = check_type_names(ast)?;
    let mut catalog = Catalog {
        nodes: Vec::new(),
        edges: Vec::new(),
    };
    for decl in &ast.decls {
        match decl {
            TypeDecl::Node(node) => catalog.nodes.push(build_node(node, &names)?),
            TypeDecl::Interface(iface) => {
                if let Some(ann) = iface
                    .annotations
                    .iter()
                    .find(|a| a.name.name != RENAME_FROM)
                {
                    return Err(unknown_annotation(ann, "the interface body"));
                }
                let members: Vec<&Member> = iface.members.iter().collect();
                build_body(OwnerKind::Interface, &iface.name, &members, &names)?;
            }
            TypeDecl::Edge(edge) => catalog.edges.push(build_edge(edge, &names)?),
        }
    }
    Ok(catalog)
}

fn check_type_names(ast: &SchemaAst) -> LangResult<TypeNames<'_>> {
    let mut names: TypeNames = HashMap::new();
    for decl in &ast.decls {
        let name = decl.name();
        check_type_name(name)?;
        if let Some(first) = names.get(name.name.as_str()) {
            return Err(LangError::coded(
                "S1",
                format!(
                    "duplicate type name `{}` (already declared as a {} at {})",
                    name.name,
                    first.kind_name(),
                    first.name().span
                ),
                name.span,
            ));
        }
        names.insert(&name.name, decl);
    }
    Ok(names)
}

fn check_type_name(name: &Ident) -> LangResult<()> {
    if name.name.starts_with('_') {
        return Err(reserved_name(name));
    }
    if base_type_by_name(&name.name).is_some() || name.name == "Vector" {
        return Err(LangError::coded(
            "S6",
            format!("`{}` is a built-in type name", name.name),
            name.span,
        ));
    }
    if !name.name.starts_with(|c: char| c.is_ascii_uppercase()) {
        return Err(LangError::coded(
            "S7",
            format!(
                "type name `{}` must start with an upper-case letter",
                name.name
            ),
            name.span,
        )
        .expected("a name like `Person`")
        .found(format!("`{}`", name.name)));
    }
    Ok(())
}

fn reserved_name(name: &Ident) -> LangError {
    LangError::coded(
        "S6",
        format!(
            "`{}` is reserved: names beginning with `_` are for system columns",
            name.name
        ),
        name.span,
    )
}

fn build_node(node: &NodeDecl, names: &TypeNames) -> LangResult<NodeType> {
    let mut members: Vec<&Member> = Vec::new();
    for iface_name in &node.implements {
        members.extend(interface_members(iface_name, names)?);
    }
    members.extend(node.members.iter());
    if let Some(ann) = node.annotations.iter().find(|a| a.name.name != RENAME_FROM) {
        return Err(unknown_annotation(
            ann,
            "@rename_from(\"OldName\") or the type body",
        ));
    }
    let renamed_from = rename_from(&node.annotations)?;
    let (mut properties, mut constraints) =
        build_body(OwnerKind::Node, &node.name, &members, names)?;
    let key_parts = match constraints.key.take() {
        Some((parts, _)) => parts,
        None => Vec::new(),
    };
    // One key property is the identity column itself (and edges hold its values). Without
    // a key, or with a composite one, the node gets Omnigraph's system `id` (String):
    // generated on insert, or the canonical spelling of the composite key.
    let (key, system_id, key_parts) = match key_parts.as_slice() {
        [single] => (single.clone(), false, Vec::new()),
        _ => {
            if properties.iter().any(|p| p.name == NodeType::SYSTEM_ID) {
                let span = node
                    .members
                    .iter()
                    .find_map(|m| match m {
                        Member::Property(p) if p.name.name == NodeType::SYSTEM_ID => {
                            Some(p.name.span)
                        }
                        _ => None,
                    })
                    .unwrap_or(node.name.span);
                return Err(LangError::coded(
                    "S3",
                    format!(
                        "`id` is the system identity of node type `{}`, which has no single @key",
                        node.name.name
                    ),
                    span,
                )
                .expected("`id: String @key`, or another name for the property"));
            }
            if key_parts.len() > 1 && !constraints.unique.contains(&key_parts) {
                constraints.unique.insert(0, key_parts.clone());
            }
            properties.insert(
                0,
                Property {
                    name: NodeType::SYSTEM_ID.to_string(),
                    ty: PropType::Base(BaseType::String),
                    nullable: false,
                    renamed_from: None,
                    embed: None,
                },
            );
            (NodeType::SYSTEM_ID.to_string(), true, key_parts)
        }
    };
    Ok(NodeType {
        name: node.name.name.clone(),
        renamed_from,
        properties,
        key,
        system_id,
        key_parts,
        unique: constraints.unique,
        indexed: constraints.indexed,
        ranges: constraints.ranges,
        checks: constraints.checks,
    })
}

fn interface_members<'a>(name: &Ident, names: &TypeNames<'a>) -> LangResult<&'a [Member]> {
    match names.get(name.name.as_str()) {
        Some(TypeDecl::Interface(iface)) => Ok(&iface.members),
        Some(other) => Err(LangError::coded(
            "S5",
            format!(
                "`{}` is a {}, not an interface",
                name.name,
                other.kind_name()
            ),
            name.span,
        )),
        None => Err(LangError::coded(
            "S5",
            format!("unknown interface `{}`", name.name),
            name.span,
        )
        .expected(format!(
            "one of: {}",
            kind_names(names, |d| matches!(d, TypeDecl::Interface(_)))
        ))),
    }
}

fn build_edge(edge: &EdgeDecl, names: &TypeNames) -> LangResult<EdgeType> {
    check_endpoint(&edge.from, names)?;
    check_endpoint(&edge.to, names)?;
    let members: Vec<&Member> = edge.members.iter().collect();
    let (properties, mut constraints) = build_body(OwnerKind::Edge, &edge.name, &members, names)?;
    for ann in edge
        .annotations
        .iter()
        .filter(|a| a.name.name != RENAME_FROM)
    {
        constraints.apply_edge(ann)?;
    }
    Ok(EdgeType {
        name: edge.name.name.clone(),
        renamed_from: rename_from(&edge.annotations)?,
        from: edge.from.name.clone(),
        to: edge.to.name.clone(),
        properties,
        card: constraints.card,
        unique: constraints.unique,
        indexed: constraints.indexed,
        ranges: constraints.ranges,
        checks: constraints.checks,
    })
}

fn check_endpoint(endpoint: &Ident, names: &TypeNames) -> LangResult<()> {
    match names.get(endpoint.name.as_str()) {
        Some(TypeDecl::Node(_)) => Ok(()),
        Some(other) => Err(LangError::coded(
            "S5",
            format!(
                "edge endpoint `{}` is a {}, not a node type",
                endpoint.name,
                other.kind_name()
            ),
            endpoint.span,
        )),
        None => Err(LangError::coded(
            "S5",
            format!("unknown node type `{}` in edge endpoint", endpoint.name),
            endpoint.span,
        )
        .expected(format!(
            "one of: {}",
            kind_names(names, |d| matches!(d, TypeDecl::Node(_)))
        ))
        .found(format!("`{}`", endpoint.name))),
    }
}

fn kind_names(names: &TypeNames, keep: impl Fn(&TypeDecl) -> bool) -> String {
    let mut list: Vec<(&Ident, &str)> = names
        .iter()
        .filter(|(_, decl)| keep(decl))
        .map(|(name, decl)| (decl.name(), *name))
        .collect();
    list.sort_by_key(|(ident, _)| ident.span);
    let list: Vec<&str> = list.into_iter().map(|(_, name)| name).collect();
    if list.is_empty() {
        "(none declared)".to_string()
    } else {
        list.join(", ")
    }
}

/// Properties first (so constraints may name a property declared below them), then
/// annotations and body constraints in source order.
fn build_body(
    kind: OwnerKind,
    owner_name: &Ident,
    members: &[&Member],
    names: &TypeNames,
) -> LangResult<(Vec<Property>, Constraints)> {
    let mut props = Vec::new();
    for member in members {
        if let Member::Property(decl) = member {
            let first = props
                .iter()
                .position(|p: &(Property, &PropDecl)| p.0.name == decl.name.name);
            if let Some(first) = first {
                return Err(LangError::coded(
                    "S2",
                    format!(
                        "duplicate property `{}` in {} (first declared at {})",
                        decl.name.name, owner_name.name, props[first].1.name.span
                    ),
                    decl.name.span,
                ));
            }
            props.push((build_property(kind, decl, names)?, decl));
        }
    }
    let properties: Vec<Property> = props.iter().map(|(p, _)| p.clone()).collect();
    let owner = Owner {
        kind,
        name: &owner_name.name,
        props: &properties,
    };
    let constraints = apply_constraints(&owner, members)?;
    Ok((properties, constraints))
}

fn apply_constraints(owner: &Owner, members: &[&Member]) -> LangResult<Constraints> {
    let mut constraints = Constraints::default();
    // Properties were built from the same members in the same order.
    let mut props = owner.props.iter();
    for member in members {
        match member {
            Member::Property(decl) => {
                if let Some(prop) = props.next() {
                    for ann in &decl.annotations {
                        constraints.apply_inline(owner, prop, ann)?;
                    }
                }
            }
            Member::Constraint(ann) => constraints.apply_body(owner, ann)?,
        }
    }
    Ok(constraints)
}

fn build_property(kind: OwnerKind, decl: &PropDecl, names: &TypeNames) -> LangResult<Property> {
    check_property_name(kind, &decl.name)?;
    if let TypeExprKind::Named(type_name) = &decl.ty.kind {
        if let Some(other) = names.get(type_name.as_str()) {
            return Err(LangError::coded(
                "S11",
                format!(
                    "`{type_name}` is a {}; a property's type must be a base type, a list, an enum or a Vector",
                    other.kind_name()
                ),
                decl.ty.span,
            ));
        }
    }
    Ok(Property {
        name: decl.name.name.clone(),
        ty: resolve_type(&decl.ty, "S11")?,
        nullable: decl.nullable,
        renamed_from: rename_from(&decl.annotations)?,
        embed: embed_spec(&decl.annotations)?,
    })
}

fn check_property_name(kind: OwnerKind, name: &Ident) -> LangResult<()> {
    if name.name.starts_with('_') {
        return Err(reserved_name(name));
    }
    if kind == OwnerKind::Edge && (name.name == "from" || name.name == "to") {
        return Err(LangError::coded(
            "S6",
            format!(
                "`{}` is reserved on edges: it names the edge's endpoint",
                name.name
            ),
            name.span,
        ));
    }
    if !name.name.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Err(LangError::coded(
            "S7",
            format!(
                "property name `{}` must start with a lower-case letter",
                name.name
            ),
            name.span,
        )
        .expected("a name like `name`")
        .found(format!("`{}`", name.name)));
    }
    Ok(())
}
