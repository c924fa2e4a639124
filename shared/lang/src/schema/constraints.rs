//! Interpretation of annotations (`@key`, `@unique`, `@index`, `@range`, `@check`, `@card`)
//! into the constraint fields of node and edge types.

use crate::catalog::{
    BaseType, Cardinality, CheckConstraint, EmbedSpec, PropType, Property, RangeConstraint,
};
use crate::error::{LangError, LangResult};
use crate::schema::ast::{Annotation, AnnotationArg, NumberLit};
use crate::span::{Ident, Span};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OwnerKind {
    Node,
    Interface,
    Edge,
}

/// The type whose body is being validated.
pub(crate) struct Owner<'a> {
    pub kind: OwnerKind,
    pub name: &'a str,
    pub props: &'a [Property],
}

/// Edge constraints may name the endpoints; `src`/`dst` (Omnigraph's edge columns) and
/// `__src`/`__dst` are stored as `from`/`to`. A declared property of that name wins.
fn endpoint_alias(name: &str) -> Option<&'static str> {
    match name {
        "from" | "src" | "__src" => Some("from"),
        "to" | "dst" | "__dst" => Some("to"),
        _ => None,
    }
}

#[derive(Debug, Default)]
pub(crate) struct Constraints {
    /// `@key` on one property, or `@key(a, b, ...)` in the body: the key's properties.
    pub key: Option<(Vec<String>, Span)>,
    pub unique: Vec<Vec<String>>,
    pub indexed: Vec<String>,
    pub ranges: Vec<RangeConstraint>,
    pub checks: Vec<CheckConstraint>,
    pub card: Option<Cardinality>,
}

impl Constraints {
    /// An annotation written after a property: `name: String @key @index`.
    pub fn apply_inline(
        &mut self,
        owner: &Owner,
        prop: &Property,
        ann: &Annotation,
    ) -> LangResult<()> {
        match ann.name.name.as_str() {
            "key" => self.set_key(owner, prop, ann.name.span),
            "unique" => {
                self.add_unique(vec![prop.name.clone()]);
                Ok(())
            }
            "index" => {
                self.add_index(&prop.name);
                Ok(())
            }
            // Read by `validate::build_property`; not a constraint.
            crate::schema::parser::RENAME_FROM => Ok(()),
            // Read by `validate::build_property`; checked here against the other properties.
            "embed" => check_embed(owner, prop, ann),
            "range" | "check" => Err(LangError::coded(
                "S13",
                format!(
                    "@{} needs arguments and stands in the type body",
                    ann.name.name
                ),
                ann.name.span,
            )
            .expected(format!("@{}(property, ...)", ann.name.name))),
            _ => Err(unknown_annotation(ann, "@key, @unique or @index")),
        }
    }

    /// A constraint standing in the body: `@unique(a, b)`.
    pub fn apply_body(&mut self, owner: &Owner, ann: &Annotation) -> LangResult<()> {
        let Some(args) = &ann.args else {
            return Err(LangError::coded(
                "S13",
                format!(
                    "@{} without arguments must follow a property",
                    ann.name.name
                ),
                ann.name.span,
            )
            .expected(format!("@{}(property)", ann.name.name)));
        };
        match ann.name.name.as_str() {
            "key" => self.body_key(owner, ann, args),
            "unique" => {
                let names = resolve_names(owner, ann, args)?;
                self.add_unique(names);
                Ok(())
            }
            "index" => {
                for name in resolve_names(owner, ann, args)? {
                    self.add_index(&name);
                }
                Ok(())
            }
            "range" => self.body_range(owner, ann, args),
            "check" => self.body_check(owner, ann, args),
            "card" => Err(LangError::coded(
                "S13",
                "@card belongs after the edge endpoints",
                ann.name.span,
            )
            .expected("edge Name: From -> To @card(min..max)")),
            _ => Err(unknown_annotation(
                ann,
                "@key, @unique, @index, @range or @check",
            )),
        }
    }

    /// An annotation after an edge's endpoints: only `@card(min..max)`.
    pub fn apply_edge(&mut self, ann: &Annotation) -> LangResult<()> {
        if ann.name.name != "card" {
            return Err(unknown_annotation(ann, "@card(min..max)"));
        }
        if self.card.is_some() {
            return Err(LangError::coded("S12", "duplicate @card", ann.name.span));
        }
        self.card = Some(parse_card(ann)?);
        Ok(())
    }

    fn set_key(&mut self, owner: &Owner, prop: &Property, span: Span) -> LangResult<()> {
        if owner.kind == OwnerKind::Edge {
            return Err(LangError::coded("S3", "edges may not have @key", span));
        }
        if let Some((first, first_span)) = &self.key {
            return Err(LangError::coded(
                "S3",
                format!(
                    "{} has more than one @key (`{}` is already the key, at {first_span})",
                    owner.name,
                    first.join(", ")
                ),
                span,
            )
            .expected("one @key (several properties go in one body-level @key(a, b))"));
        }
        if !is_valid_key_type(prop) {
            return Err(invalid_key_type(prop, span));
        }
        self.key = Some((vec![prop.name.clone()], span));
        Ok(())
    }

    fn body_key(
        &mut self,
        owner: &Owner,
        ann: &Annotation,
        args: &[AnnotationArg],
    ) -> LangResult<()> {
        if owner.kind == OwnerKind::Edge {
            return Err(LangError::coded(
                "S3",
                "edges may not have @key",
                ann.name.span,
            ));
        }
        if args.is_empty() {
            return Err(bad_args(ann, args, "one or more property names"));
        }
        // A composite key is one constraint: its parts are added one by one.
        let mut parts = Vec::new();
        for arg in args {
            let AnnotationArg::Name(ident) = arg else {
                return Err(bad_args(ann, args, "property names"));
            };
            let prop = resolve_prop(owner, ident)?;
            if parts.contains(&prop.name) {
                return Err(LangError::coded(
                    "S3",
                    format!("`{}` appears twice in @key", prop.name),
                    ident.span,
                ));
            }
            parts.push(prop.name.clone());
            if parts.len() == 1 {
                self.set_key(owner, prop, ann.name.span)?;
            } else {
                self.add_key_part(prop, ident.span)?;
            }
        }
        Ok(())
    }

    /// The second and later properties of `@key(a, b, ...)`.
    fn add_key_part(&mut self, prop: &Property, span: Span) -> LangResult<()> {
        if !is_valid_key_type(prop) {
            return Err(invalid_key_type(prop, span));
        }
        if let Some((parts, _)) = &mut self.key {
            parts.push(prop.name.clone());
        }
        Ok(())
    }

    fn body_range(
        &mut self,
        owner: &Owner,
        ann: &Annotation,
        args: &[AnnotationArg],
    ) -> LangResult<()> {
        let [AnnotationArg::Name(ident), range] = args else {
            return Err(bad_args(
                ann,
                args,
                "a property and a range, as in @range(age, 0..200)",
            ));
        };
        let prop = resolve_prop(owner, ident)?;
        if !prop.ty.is_numeric() {
            return Err(LangError::coded(
                "S9",
                format!("@range on non-numeric property `{}`", prop.name),
                ident.span,
            )
            .expected("a numeric property")
            .found(prop.ty.to_string()));
        }
        let (min, max) = range_bounds(range)?;
        self.ranges.push(RangeConstraint {
            property: prop.name.clone(),
            min,
            max,
        });
        Ok(())
    }

    fn body_check(
        &mut self,
        owner: &Owner,
        ann: &Annotation,
        args: &[AnnotationArg],
    ) -> LangResult<()> {
        let [AnnotationArg::Name(ident), AnnotationArg::Str { value, span }] = args else {
            return Err(bad_args(
                ann,
                args,
                "a property and a pattern, as in @check(code, \"^[A-Z]+$\")",
            ));
        };
        let prop = resolve_prop(owner, ident)?;
        if prop.ty != PropType::Base(BaseType::String) {
            return Err(LangError::coded(
                "S10",
                format!("@check on non-String property `{}`", prop.name),
                ident.span,
            )
            .expected("a String property")
            .found(prop.ty.to_string()));
        }
        if let Err(err) = regex::Regex::new(value) {
            return Err(
                LangError::coded("S10", "@check pattern is not a valid regex", *span)
                    .expected("a regular expression")
                    .found(regex_error_summary(&err)),
            );
        }
        self.checks.push(CheckConstraint {
            property: prop.name.clone(),
            pattern: value.clone(),
        });
        Ok(())
    }

    fn add_unique(&mut self, names: Vec<String>) {
        if !self.unique.contains(&names) {
            self.unique.push(names);
        }
    }

    fn add_index(&mut self, name: &str) {
        if !self.indexed.iter().any(|n| n == name) {
            self.indexed.push(name.to_string());
        }
    }
}

fn invalid_key_type(prop: &Property, span: Span) -> LangError {
    LangError::coded(
        "S4",
        format!(
            "@key property `{}` must be a non-nullable String or integer",
            prop.name
        ),
        span,
    )
    .expected("String, I32, I64, U32 or U64")
    .found(format!(
        "{}{}",
        prop.ty,
        if prop.nullable { "?" } else { "" }
    ))
}

fn is_valid_key_type(prop: &Property) -> bool {
    let scalar = prop
        .ty
        .base()
        .is_some_and(|b| b == BaseType::String || b.is_integer());
    scalar && !prop.nullable
}

fn resolve_prop<'a>(owner: &'a Owner, ident: &Ident) -> LangResult<&'a Property> {
    owner
        .props
        .iter()
        .find(|p| p.name == ident.name)
        .ok_or_else(|| unknown_property(owner, ident))
}

fn unknown_property(owner: &Owner, ident: &Ident) -> LangError {
    let names: Vec<&str> = owner.props.iter().map(|p| p.name.as_str()).collect();
    LangError::coded(
        "S8",
        format!(
            "constraint names unknown property `{}` of {}",
            ident.name, owner.name
        ),
        ident.span,
    )
    .expected(format!("one of: {}", names.join(", ")))
    .found(format!("`{}`", ident.name))
}

/// Property names of `@unique`/`@index`; on edges the endpoints may be named too.
fn resolve_names(
    owner: &Owner,
    ann: &Annotation,
    args: &[AnnotationArg],
) -> LangResult<Vec<String>> {
    if args.is_empty() {
        return Err(bad_args(ann, args, "one or more property names"));
    }
    let mut names = Vec::new();
    for arg in args {
        let AnnotationArg::Name(ident) = arg else {
            return Err(bad_args(ann, args, "property names"));
        };
        let declared = owner.props.iter().any(|p| p.name == ident.name);
        let endpoint =
            endpoint_alias(&ident.name).filter(|_| owner.kind == OwnerKind::Edge && !declared);
        let name = match endpoint {
            Some(endpoint) => endpoint.to_string(),
            None => resolve_prop(owner, ident)?.name.clone(),
        };
        names.push(name);
    }
    Ok(names)
}

fn range_bounds(arg: &AnnotationArg) -> LangResult<(Option<f64>, Option<f64>)> {
    let AnnotationArg::Range { min, max, span } = arg else {
        return Err(LangError::coded("S9", "@range needs a range", arg.span())
            .expected("min..max, min.. or ..max")
            .found(arg.describe()));
    };
    let (min, max) = (min.map(|n| n.value), max.map(|n| n.value));
    match (min, max) {
        (None, None) => Err(
            LangError::coded("S9", "@range needs at least one bound", *span)
                .expected("min..max, min.. or ..max"),
        ),
        (Some(lo), Some(hi)) if lo > hi => Err(LangError::coded(
            "S9",
            format!("@range minimum {lo} is greater than maximum {hi}"),
            *span,
        )),
        _ => Ok((min, max)),
    }
}

fn parse_card(ann: &Annotation) -> LangResult<Cardinality> {
    let args = ann.args.as_deref().unwrap_or_default();
    let [AnnotationArg::Range {
        min: Some(min),
        max,
        span,
    }] = args
    else {
        return Err(
            LangError::coded("S12", "@card needs a range", ann.name.span)
                .expected("@card(min..max) or @card(min..)"),
        );
    };
    let min_value = card_bound(min)?;
    let max_value = max.as_ref().map(card_bound).transpose()?;
    if let Some(max_value) = max_value {
        if max_value < min_value || max_value == 0 {
            return Err(LangError::coded(
                "S12",
                format!("@card maximum {max_value} must be at least 1 and at least the minimum {min_value}"),
                *span,
            ));
        }
    }
    Ok(Cardinality {
        min: min_value,
        max: max_value,
    })
}

fn card_bound(n: &NumberLit) -> LangResult<u32> {
    n.int.and_then(|v| u32::try_from(v).ok()).ok_or_else(|| {
        LangError::coded("S12", "@card bounds must be non-negative integers", n.span)
            .expected("a non-negative integer")
            .found(format!("`{}`", n.value))
    })
}

/// `@embed("source")` or `@embed("source", model = "name")` among `anns`, if there is one.
pub(crate) fn embed_spec(anns: &[Annotation]) -> LangResult<Option<EmbedSpec>> {
    let mut found: Option<(EmbedSpec, Span)> = None;
    for ann in anns.iter().filter(|a| a.name.name == "embed") {
        let expected = "the source property and optionally the model, as in @embed(\"text\", model = \"all-MiniLM-L6-v2\")";
        let args = ann.args.as_deref().unwrap_or_default();
        let source = match args.first() {
            Some(AnnotationArg::Str { value, .. }) => value.clone(),
            Some(AnnotationArg::Name(ident)) => ident.name.clone(),
            _ => return Err(bad_args(ann, args, expected)),
        };
        let model = match &args[1..] {
            [] => None,
            [AnnotationArg::Named { name, value }] if name.name == "model" => {
                match value.as_ref() {
                    AnnotationArg::Str { value, .. } if !value.trim().is_empty() => {
                        Some(value.clone())
                    }
                    _ => return Err(bad_args(ann, args, expected)),
                }
            }
            _ => return Err(bad_args(ann, args, expected)),
        };
        if let Some((_, first)) = &found {
            return Err(LangError::coded(
                "S12",
                format!("duplicate @embed (the first is at {first})"),
                ann.name.span,
            ));
        }
        found = Some((EmbedSpec { source, model }, ann.name.span));
    }
    Ok(found.map(|(spec, _)| spec))
}

/// `@embed` stands on a node's Vector property and names a String property of the same type.
fn check_embed(owner: &Owner, prop: &Property, ann: &Annotation) -> LangResult<()> {
    if owner.kind == OwnerKind::Edge {
        return Err(LangError::coded(
            "S13",
            "@embed belongs on a node type's Vector property",
            ann.name.span,
        ));
    }
    if !matches!(prop.ty, PropType::Vector(_)) {
        return Err(LangError::coded(
            "S13",
            format!("@embed on `{}`, which is not a Vector", prop.name),
            ann.name.span,
        )
        .expected("a Vector(n) property")
        .found(prop.ty.to_string()));
    }
    let Some(spec) = embed_spec(std::slice::from_ref(ann))? else {
        return Ok(());
    };
    let span = ann
        .args
        .as_deref()
        .and_then(|a| a.first())
        .map_or(ann.name.span, AnnotationArg::span);
    let source = owner
        .props
        .iter()
        .find(|p| p.name == spec.source)
        .ok_or_else(|| {
            unknown_property(
                owner,
                &Ident {
                    name: spec.source.clone(),
                    span,
                },
            )
        })?;
    if source.ty != PropType::Base(BaseType::String) {
        return Err(LangError::coded(
            "S13",
            format!("@embed source `{}` is not a String property", source.name),
            span,
        )
        .expected("a String property of the same type")
        .found(source.ty.to_string()));
    }
    Ok(())
}

/// The previous name in `@rename_from("old")` annotations among `anns`, if there is one.
pub(crate) fn rename_from(anns: &[Annotation]) -> LangResult<Option<String>> {
    let mut found: Option<(String, Span)> = None;
    for ann in anns
        .iter()
        .filter(|a| a.name.name == crate::schema::parser::RENAME_FROM)
    {
        let name = match ann.args.as_deref() {
            Some([AnnotationArg::Str { value, .. }]) => value.clone(),
            Some([AnnotationArg::Name(ident)]) => ident.name.clone(),
            args => {
                return Err(bad_args(
                    ann,
                    args.unwrap_or_default(),
                    "the previous name, as in @rename_from(\"old_name\")",
                ))
            }
        };
        if let Some((_, first)) = &found {
            return Err(LangError::coded(
                "S12",
                format!("duplicate @rename_from (the first is at {first})"),
                ann.name.span,
            ));
        }
        found = Some((name, ann.name.span));
    }
    Ok(found.map(|(name, _)| name))
}

pub(crate) fn unknown_annotation(ann: &Annotation, expected: &str) -> LangError {
    LangError::coded(
        "S13",
        format!("unknown or misplaced annotation @{}", ann.name.name),
        ann.name.span,
    )
    .expected(expected)
    .found(format!("@{}", ann.name.name))
}

fn bad_args(ann: &Annotation, args: &[AnnotationArg], expected: &str) -> LangError {
    let found: Vec<String> = args.iter().map(AnnotationArg::describe).collect();
    LangError::coded(
        "S13",
        format!("wrong arguments for @{}", ann.name.name),
        ann.name.span,
    )
    .expected(expected)
    .found(format!("({})", found.join(", ")))
}

/// `regex` errors span several lines with a caret diagram; keep the last line.
fn regex_error_summary(err: &regex::Error) -> String {
    let text = err.to_string();
    text.lines()
        .rev()
        .find(|line| !line.trim().is_empty())
        .unwrap_or("invalid pattern")
        .trim()
        .to_string()
}
