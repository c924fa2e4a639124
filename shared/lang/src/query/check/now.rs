//! `now()`: the parser writes it as the reserved parameter `NOW_PARAM`; a query that uses
//! it declares that parameter (a non-null DateTime), which the engine binds to the time the
//! query runs (docs/languages.md, section 2).

use crate::catalog::{BaseType, PropType};
use crate::query::ast::SearchArgAst;
use crate::query::ast::{BodyAst, ClauseAst, ExprAst, MutationAst, OperandAst, QueryDecl};
use crate::query::ast::{PredicateAst, SearchCallAst};
use crate::query::typed::{ParamDecl, NOW_PARAM};
use crate::span::Span;

/// The declaration of `now()`'s parameter when `decl` uses `now()`.
pub(crate) fn now_param(decl: &QueryDecl) -> Option<(ParamDecl, Span)> {
    let used = match &decl.body {
        BodyAst::Read(read) => {
            clauses_use(&read.clauses)
                || read.returns.iter().any(|r| expr_uses(&r.expr))
                || read.order.iter().any(|o| expr_uses(&o.expr))
        }
        BodyAst::Mutation(statements) => statements.iter().any(statement_uses),
    };
    used.then(|| {
        let param = ParamDecl {
            name: NOW_PARAM.to_string(),
            ty: PropType::Base(BaseType::DateTime),
            nullable: false,
        };
        (param, decl.span)
    })
}

fn operand_uses(operand: &OperandAst) -> bool {
    matches!(operand, OperandAst::Param(p) if p.name == NOW_PARAM)
}

fn clauses_use(clauses: &[ClauseAst]) -> bool {
    clauses.iter().any(|clause| match clause {
        ClauseAst::Bind { props, .. } => props.iter().any(|(_, o)| operand_uses(o)),
        ClauseAst::Filter { lhs, rhs, .. } => operand_uses(lhs) || operand_uses(rhs),
        ClauseAst::Not { clauses, .. } => clauses_use(clauses),
        ClauseAst::Search(call) => call_uses(call),
        ClauseAst::Traverse { .. } => false,
    })
}

fn expr_uses(expr: &ExprAst) -> bool {
    match expr {
        ExprAst::Now(_) => true,
        ExprAst::Agg { arg, .. } => expr_uses(arg),
        ExprAst::Search(call) => call_uses(call),
        ExprAst::Prop { .. } | ExprAst::Var(_) | ExprAst::Column(_) | ExprAst::Literal { .. } => {
            false
        }
    }
}

fn call_uses(call: &SearchCallAst) -> bool {
    call.args.iter().any(|arg| match arg {
        SearchArgAst::Operand(o) => operand_uses(o),
        SearchArgAst::Call(c) => call_uses(c),
    })
}

fn statement_uses(statement: &MutationAst) -> bool {
    let filter_uses = |f: &Option<PredicateAst>| f.as_ref().is_some_and(|p| operand_uses(&p.value));
    match statement {
        MutationAst::Insert { values, .. } => values.iter().any(|(_, o)| operand_uses(o)),
        MutationAst::Update { set, filter, .. } => {
            set.iter().any(|(_, o)| operand_uses(o)) || filter_uses(filter)
        }
        MutationAst::Delete { filter, .. } => filter_uses(filter),
    }
}
