//! Type checking of a parsed query against a catalog (error codes: see `crate::error`).

mod clauses;
mod compat;
mod mutation;
mod now;
mod projection;
mod scope;
mod search;

use crate::catalog::{Catalog, EdgeType, NodeType, Property};
use crate::error::{LangError, LangResult};
use crate::query::ast::{BodyAst, OperandAst, ParamAst, QueryDecl, ReadAst};
use crate::query::typed::{Operand, ParamDecl, QueryBody, ReadQuery, TypedQuery};
use crate::span::{Ident, Span};
use crate::types::{resolve_type, TypeExprKind};

use compat::StaticType;
use scope::VarTable;

/// Checks one parsed query against `catalog`.
pub fn check_query(catalog: &Catalog, decl: &QueryDecl) -> LangResult<TypedQuery> {
    check_query_inner(catalog, decl).map_err(|err| err.with_source_name(&decl.source_name))
}

fn check_query_inner(catalog: &Catalog, decl: &QueryDecl) -> LangResult<TypedQuery> {
    let mut params = check_params(catalog, &decl.params)?;
    params.extend(now::now_param(decl));
    let ctx = Ctx { catalog, params };
    let body = match &decl.body {
        BodyAst::Read(read) => QueryBody::Read(check_read(&ctx, read)?),
        BodyAst::Mutation(statements) => {
            QueryBody::Mutation(mutation::check_mutations(&ctx, statements)?)
        }
    };
    Ok(TypedQuery {
        name: decl.name.name.clone(),
        params: ctx.params.into_iter().map(|(p, _)| p).collect(),
        body,
    })
}

fn check_read(ctx: &Ctx, read: &ReadAst) -> LangResult<ReadQuery> {
    let mut vars = VarTable::new();
    let clauses = clauses::check_block(ctx, &mut vars, &read.clauses)?;
    let mut returns = projection::check_returns(ctx, &vars, &read.returns)?;
    let order = projection::check_order(ctx, &vars, &read.order, &mut returns)?;
    Ok(ReadQuery {
        vars: vars.vars,
        clauses,
        returns,
        order,
        limit: read.limit.map(|(n, _)| n),
    })
}

fn check_params(catalog: &Catalog, params: &[ParamAst]) -> LangResult<Vec<(ParamDecl, Span)>> {
    let mut out: Vec<(ParamDecl, Span)> = Vec::new();
    for param in params {
        if let Some((_, first)) = out.iter().find(|(p, _)| p.name == param.name.name) {
            return Err(LangError::coded(
                "T10",
                format!(
                    "duplicate parameter `${}` (first at {first})",
                    param.name.name
                ),
                param.name.span,
            ));
        }
        if let TypeExprKind::Named(name) = &param.ty.kind {
            if catalog.node(name).is_some() || catalog.edge(name).is_some() {
                return Err(LangError::coded(
                    "T1",
                    format!(
                        "`{name}` is a graph type; parameters take values such as String or I64"
                    ),
                    param.ty.span,
                ));
            }
        }
        let decl = ParamDecl {
            name: param.name.name.clone(),
            ty: resolve_type(&param.ty, "T1")?,
            nullable: param.nullable,
        };
        out.push((decl, param.name.span));
    }
    Ok(out)
}

/// What every check needs: the catalog and the query's parameters.
pub(crate) struct Ctx<'a> {
    pub catalog: &'a Catalog,
    pub params: Vec<(ParamDecl, Span)>,
}

impl<'a> Ctx<'a> {
    pub fn node_type(&self, name: &Ident) -> LangResult<&'a NodeType> {
        if let Some(node) = self.catalog.node(&name.name) {
            return Ok(node);
        }
        let message = match self.catalog.edge(&name.name) {
            Some(edge) => format!(
                "`{}` is an edge type; traverse it with `$a {} $b`",
                name.name,
                edge.query_name()
            ),
            None => format!("unknown node type `{}`", name.name),
        };
        Err(LangError::coded("T1", message, name.span)
            .expected(one_of(self.catalog.nodes.iter().map(|n| n.name.as_str())))
            .found(format!("`{}`", name.name)))
    }

    pub fn edge_by_query_name(&self, name: &Ident) -> LangResult<&'a EdgeType> {
        if let Some(edge) = self.catalog.edge_by_query_name(&name.name) {
            return Ok(edge);
        }
        let message = match self.catalog.edge(&name.name) {
            Some(edge) => format!(
                "unknown edge `{}`: in queries edges are named with a lower-case first letter, `{}`",
                name.name,
                edge.query_name()
            ),
            None => format!("unknown edge `{}`", name.name),
        };
        let names: Vec<String> = self
            .catalog
            .edges
            .iter()
            .map(EdgeType::query_name)
            .collect();
        Err(LangError::coded("T4", message, name.span)
            .expected(one_of(names.iter().map(String::as_str)))
            .found(format!("`{}`", name.name)))
    }

    /// The node type at one end of an edge.
    pub fn endpoint(&self, edge: &EdgeType, node: &str, span: Span) -> LangResult<&'a NodeType> {
        self.catalog.node(node).ok_or_else(|| {
            LangError::coded(
                "T1",
                format!("edge `{}` names unknown node type `{node}`", edge.name),
                span,
            )
        })
    }

    pub fn node_property<'n>(&self, node: &'n NodeType, name: &Ident) -> LangResult<&'n Property> {
        find_node_property(node, name)
    }

    pub fn prop_type(&self, prop: &Property) -> StaticType {
        StaticType::Typed {
            ty: prop.ty.clone(),
            nullable: prop.nullable,
        }
    }

    fn param(&self, name: &Ident, vars: Option<&VarTable>) -> LangResult<&ParamDecl> {
        if let Some((param, _)) = self.params.iter().find(|(p, _)| p.name == name.name) {
            return Ok(param);
        }
        let is_var = vars.is_some_and(|v| v.lookup(&name.name).is_some());
        let message = if is_var {
            format!(
                "`${}` is a variable, not a parameter; compare one of its properties, e.g. `${}.name`",
                name.name, name.name
            )
        } else {
            format!("unknown parameter `${}`", name.name)
        };
        let declared = self.params.iter().map(|(p, _)| format!("${}", p.name));
        Err(LangError::coded("T10", message, name.span)
            .expected(format!(
                "a declared parameter ({})",
                declared.collect::<Vec<_>>().join(", ")
            ))
            .found(format!("`${}`", name.name)))
    }

    /// Resolves an operand and its static type. `vars` is `None` where no variables exist
    /// (mutations), and the parser has then already refused `$x.prop`.
    pub fn operand(
        &self,
        vars: Option<&VarTable>,
        operand: &OperandAst,
    ) -> LangResult<(Operand, StaticType)> {
        match operand {
            OperandAst::Literal { value, .. } => Ok((
                Operand::Literal(value.clone()),
                StaticType::Literal(value.clone()),
            )),
            OperandAst::Param(name) => {
                let param = self.param(name, vars)?;
                let ty = StaticType::Typed {
                    ty: param.ty.clone(),
                    nullable: param.nullable,
                };
                Ok((Operand::Param(param.name.clone()), ty))
            }
            OperandAst::Prop { var, prop } => {
                let Some(vars) = vars else {
                    return Err(LangError::coded("T6", "no variables here", var.span));
                };
                let (index, property) = match vars.edge_property(var, prop)? {
                    Some(found) => found,
                    None => {
                        let index = vars.resolve(var)?;
                        (index, self.node_property(vars.node(index), prop)?)
                    }
                };
                let operand = Operand::Prop {
                    var: index,
                    prop: property.name.clone(),
                };
                Ok((operand, self.prop_type(property)))
            }
        }
    }
}

pub(crate) fn find_property<'p>(
    owner: &str,
    props: &'p [Property],
    name: &Ident,
) -> LangResult<&'p Property> {
    props.iter().find(|p| p.name == name.name).ok_or_else(|| {
        LangError::coded(
            "T6",
            format!("unknown property `{}` on {owner}", name.name),
            name.span,
        )
        .expected(one_of(props.iter().map(|p| p.name.as_str())))
        .found(format!("`{}`", name.name))
    })
}

/// A node's property by name. Every node has Omnigraph's `id`: a real column for node types
/// without a single `@key`, and another name for the key property otherwise (unless the
/// type declares a property called `id` of its own).
pub(crate) fn find_node_property<'n>(node: &'n NodeType, name: &Ident) -> LangResult<&'n Property> {
    if let Some(alias) = id_alias(node, &name.name) {
        return Ok(alias);
    }
    find_property(&node.name, &node.properties, name)
}

/// The key property when `name` is `id` used as the id of a node keyed by one property.
pub(crate) fn id_alias<'n>(node: &'n NodeType, name: &str) -> Option<&'n Property> {
    if name != NodeType::SYSTEM_ID || node.system_id || node.property(name).is_some() {
        return None;
    }
    node.property(&node.key)
}

pub(crate) fn one_of<'s>(names: impl Iterator<Item = &'s str>) -> String {
    let names: Vec<&str> = names.collect();
    if names.is_empty() {
        "nothing (none declared)".to_string()
    } else {
        format!("one of: {}", names.join(", "))
    }
}
