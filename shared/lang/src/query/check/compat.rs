//! Which values may be compared with, or stored into, which property types.
//!
//! Rules: numbers compare with numbers of any width (an integer literal also with float
//! properties); Strings compare with Strings and enums, and stand for Dates and DateTimes
//! (in ISO form); everything else compares only with its own kind. Storing is stricter:
//! no float into an integer, integer literals must fit, no null into a required property.

use crate::catalog::{BaseType, PropType};
use crate::error::{LangError, LangResult};
use crate::query::typed::{CompareOp, Literal};
use crate::span::Span;

/// The static type of an operand.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum StaticType {
    Literal(Literal),
    Typed { ty: PropType, nullable: bool },
}

impl StaticType {
    pub fn describe(&self) -> String {
        match self {
            StaticType::Literal(Literal::Null) => "null".to_string(),
            StaticType::Literal(Literal::Bool(_)) => "Bool literal".to_string(),
            StaticType::Literal(Literal::Int(i)) => format!("integer literal {i}"),
            StaticType::Literal(Literal::Float(x)) => format!("float literal {x}"),
            StaticType::Literal(Literal::String(s)) => format!("String literal {s:?}"),
            StaticType::Typed { ty, nullable } => {
                format!("{ty}{}", if *nullable { "?" } else { "" })
            }
        }
    }

    fn class(&self) -> Option<Class> {
        match self {
            StaticType::Literal(lit) => literal_class(lit),
            StaticType::Typed { ty, .. } => Some(class_of(ty)),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Numeric,
    Text,
    Date,
    DateTime,
    Bool,
    Blob,
    List(BaseType),
    Vector(u32),
}

fn class_of(ty: &PropType) -> Class {
    match ty {
        PropType::Base(base) => base_class(*base),
        PropType::Enum(_) => Class::Text,
        PropType::List(base) => Class::List(*base),
        PropType::Vector(dim) => Class::Vector(*dim),
    }
}

fn base_class(base: BaseType) -> Class {
    match base {
        BaseType::String => Class::Text,
        BaseType::Bool => Class::Bool,
        BaseType::Date => Class::Date,
        BaseType::DateTime => Class::DateTime,
        BaseType::Blob => Class::Blob,
        _ => Class::Numeric,
    }
}

fn literal_class(lit: &Literal) -> Option<Class> {
    match lit {
        Literal::Null => None,
        Literal::Bool(_) => Some(Class::Bool),
        Literal::Int(_) | Literal::Float(_) => Some(Class::Numeric),
        Literal::String(_) => Some(Class::Text),
    }
}

fn classes_compatible(a: Class, b: Class) -> bool {
    let text_time =
        |x: Class, y: Class| x == Class::Text && matches!(y, Class::Date | Class::DateTime);
    match (a, b) {
        (Class::List(x), Class::List(y)) => base_class(x) == base_class(y),
        _ => a == b || text_time(a, b) || text_time(b, a),
    }
}

fn is_orderable(class: Class) -> bool {
    matches!(
        class,
        Class::Numeric | Class::Text | Class::Date | Class::DateTime
    )
}

/// Whether values of this type have an order (for `<`, `min`, `max`).
pub(crate) fn is_orderable_type(ty: &PropType) -> bool {
    is_orderable(class_of(ty))
}

fn mismatch(message: String, span: Span, expected: String, found: &StaticType) -> LangError {
    LangError::coded("T7", message, span)
        .expected(expected)
        .found(found.describe())
}

/// Checks `lhs op rhs`; errors point at the operator or at `rhs`.
pub(crate) fn check_comparison(
    lhs: &StaticType,
    op: CompareOp,
    op_span: Span,
    rhs: &StaticType,
    rhs_span: Span,
) -> LangResult<()> {
    match op {
        CompareOp::Contains | CompareOp::StartsWith => {
            let needle = needle_type(lhs, op, op_span)?;
            check_compatible(&needle, rhs, rhs_span)
        }
        CompareOp::Eq | CompareOp::Ne => check_compatible(lhs, rhs, rhs_span),
        _ => {
            for (side, span) in [(lhs, op_span), (rhs, rhs_span)] {
                if side.class().is_some_and(|c| !is_orderable(c)) {
                    return Err(mismatch(
                        format!("`{}` needs ordered values", op.symbol()),
                        span,
                        "a number, String, enum, Date or DateTime".to_string(),
                        side,
                    ));
                }
            }
            check_compatible(lhs, rhs, rhs_span)
        }
    }
}

/// What may stand right of `contains`/`starts_with` given the left side.
fn needle_type(lhs: &StaticType, op: CompareOp, op_span: Span) -> LangResult<StaticType> {
    let string = StaticType::Typed {
        ty: PropType::Base(BaseType::String),
        nullable: false,
    };
    match (lhs.class(), op) {
        (Some(Class::Text), _) => Ok(string),
        (Some(Class::List(base)), CompareOp::Contains) => Ok(StaticType::Typed {
            ty: PropType::Base(base),
            nullable: false,
        }),
        _ => {
            let expected = match op {
                CompareOp::Contains => "a String or a list",
                _ => "a String",
            };
            Err(mismatch(
                format!("`{}` needs {expected} on its left", op.symbol()),
                op_span,
                expected.to_string(),
                lhs,
            ))
        }
    }
}

fn check_compatible(a: &StaticType, b: &StaticType, b_span: Span) -> LangResult<()> {
    match (a, b) {
        (StaticType::Literal(Literal::Null), _) | (_, StaticType::Literal(Literal::Null)) => Ok(()),
        (StaticType::Typed { ty, .. }, StaticType::Literal(lit)) => {
            check_literal(lit, ty, b_span, false)
        }
        (StaticType::Literal(lit), StaticType::Typed { ty, .. }) => {
            check_literal(lit, ty, b_span, false)
        }
        _ => {
            let ok =
                matches!((a.class(), b.class()), (Some(x), Some(y)) if classes_compatible(x, y));
            if ok {
                Ok(())
            } else {
                Err(mismatch(
                    format!("cannot compare {} with {}", a.describe(), b.describe()),
                    b_span,
                    a.describe(),
                    b,
                ))
            }
        }
    }
}

/// Checks that `value` may be stored into a property of type `ty`.
pub(crate) fn check_assignable(
    value: &StaticType,
    ty: &PropType,
    nullable: bool,
    span: Span,
) -> LangResult<()> {
    let target = StaticType::Typed {
        ty: ty.clone(),
        nullable,
    };
    match value {
        StaticType::Literal(Literal::Null) if !nullable => Err(mismatch(
            "a required property cannot be set to null".to_string(),
            span,
            target.describe(),
            value,
        )),
        StaticType::Literal(lit) => check_literal(lit, ty, span, true),
        StaticType::Typed {
            ty: value_ty,
            nullable: value_nullable,
        } => {
            if *value_nullable && !nullable {
                return Err(mismatch(
                    "a nullable parameter cannot set a required property".to_string(),
                    span,
                    target.describe(),
                    value,
                ));
            }
            let float_into_int = value_ty.base().is_some_and(|b| b.is_float())
                && ty.base().is_some_and(|b| b.is_integer());
            if float_into_int || !classes_compatible(class_of(value_ty), class_of(ty)) {
                return Err(mismatch(
                    format!(
                        "cannot store {} into {}",
                        value.describe(),
                        target.describe()
                    ),
                    span,
                    target.describe(),
                    value,
                ));
            }
            Ok(())
        }
    }
}

/// A literal against a property type; `storing` adds the range and integer checks.
fn check_literal(lit: &Literal, ty: &PropType, span: Span, storing: bool) -> LangResult<()> {
    let found = StaticType::Literal(lit.clone());
    let fail = |message: String| Err(mismatch(message, span, ty.to_string(), &found));
    match (lit, ty) {
        (Literal::Null, _) => Ok(()),
        (Literal::Bool(_), PropType::Base(BaseType::Bool)) => Ok(()),
        (Literal::Int(i), PropType::Base(base)) if base.is_numeric() => {
            if storing && !int_fits(*i, *base) {
                return fail(format!("{i} does not fit in {}", base.name()));
            }
            Ok(())
        }
        (Literal::Float(_), PropType::Base(base)) if base.is_float() => Ok(()),
        // Comparing an integer property with 17.5 is meaningful; storing 17.5 into it is not.
        (Literal::Float(_), PropType::Base(base)) if base.is_integer() && !storing => Ok(()),
        (Literal::String(_), PropType::Base(BaseType::String)) => Ok(()),
        (Literal::String(s), PropType::Enum(values)) => {
            if values.contains(s) {
                Ok(())
            } else {
                fail(format!("{s:?} is not a value of {ty}"))
            }
        }
        (Literal::String(s), PropType::Base(BaseType::Date)) => {
            check_format(is_valid_date(s), s, "Date", "YYYY-MM-DD", span)
        }
        (Literal::String(s), PropType::Base(BaseType::DateTime)) => check_format(
            is_valid_datetime(s),
            s,
            "DateTime",
            "YYYY-MM-DDTHH:MM:SS[.mmm][Z|+HH:MM]",
            span,
        ),
        _ => fail(format!("{} does not fit {ty}", found.describe())),
    }
}

fn check_format(ok: bool, text: &str, type_name: &str, format: &str, span: Span) -> LangResult<()> {
    if ok {
        return Ok(());
    }
    Err(
        LangError::coded("T7", format!("invalid {type_name} literal {text:?}"), span)
            .expected(format.to_string())
            .found(format!("{text:?}")),
    )
}

fn int_fits(value: i64, base: BaseType) -> bool {
    match base {
        BaseType::I32 => i32::try_from(value).is_ok(),
        BaseType::U32 => u32::try_from(value).is_ok(),
        BaseType::U64 => value >= 0,
        _ => true,
    }
}

fn is_valid_date(text: &str) -> bool {
    let bytes = text.as_bytes();
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return false;
    }
    let (Some(year), Some(month), Some(day)) = (
        number(&text[0..4]),
        number(&text[5..7]),
        number(&text[8..10]),
    ) else {
        return false;
    };
    (1..=12).contains(&month) && day >= 1 && day <= days_in_month(year, month)
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn number(text: &str) -> Option<u32> {
    if text.bytes().all(|b| b.is_ascii_digit()) {
        text.parse().ok()
    } else {
        None
    }
}

/// ISO-8601: a date, optionally `T` (or space) `HH:MM[:SS[.fff]]` and `Z` or `±HH:MM`.
fn is_valid_datetime(text: &str) -> bool {
    if text.len() < 10 || !text.is_char_boundary(10) || !is_valid_date(&text[..10]) {
        return false;
    }
    let rest = &text[10..];
    if rest.is_empty() {
        return true;
    }
    let Some(time) = rest.strip_prefix('T').or_else(|| rest.strip_prefix(' ')) else {
        return false;
    };
    let (clock, zone) = split_zone(time);
    is_valid_clock(clock) && is_valid_zone(zone)
}

fn split_zone(time: &str) -> (&str, &str) {
    match time.find(['Z', '+', '-']) {
        Some(at) => time.split_at(at),
        None => (time, ""),
    }
}

fn is_valid_clock(clock: &str) -> bool {
    let (hms, fraction) = match clock.split_once('.') {
        Some((hms, fraction)) => (hms, Some(fraction)),
        None => (clock, None),
    };
    let parts: Vec<Option<u32>> = hms.split(':').map(two_digits).collect();
    let fraction_ok = fraction.is_none_or(|f| !f.is_empty() && number(f).is_some());
    match parts.as_slice() {
        [Some(h), Some(m)] => fraction.is_none() && *h < 24 && *m < 60,
        [Some(h), Some(m), Some(s)] => fraction_ok && *h < 24 && *m < 60 && *s < 61,
        _ => false,
    }
}

fn two_digits(text: &str) -> Option<u32> {
    if text.len() == 2 {
        number(text)
    } else {
        None
    }
}

fn is_valid_zone(zone: &str) -> bool {
    if zone.is_empty() || zone == "Z" {
        return true;
    }
    let Some(offset) = zone.strip_prefix('+').or_else(|| zone.strip_prefix('-')) else {
        return false;
    };
    match offset.split_once(':') {
        Some((h, m)) => {
            two_digits(h).is_some_and(|h| h < 24) && two_digits(m).is_some_and(|m| m < 60)
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_validated() {
        assert!(is_valid_date("2024-02-29"));
        assert!(!is_valid_date("2023-02-29"));
        assert!(!is_valid_date("2023-13-01"));
        assert!(!is_valid_date("2023-1-01"));
        assert!(!is_valid_date("yesterday"));
    }

    #[test]
    fn datetimes_are_validated() {
        for ok in [
            "2024-01-02",
            "2024-01-02T03:04",
            "2024-01-02T03:04:05",
            "2024-01-02T03:04:05.123Z",
            "2024-01-02 03:04:05+02:00",
        ] {
            assert!(is_valid_datetime(ok), "{ok}");
        }
        for bad in [
            "2024-01-02T25:00",
            "2024-01-02T03",
            "2024-01-02X",
            "2024-01-02T03:04:05+0200",
            "2024-01-02T03:04.5",
        ] {
            assert!(!is_valid_datetime(bad), "{bad}");
        }
    }

    proptest::proptest! {
        #[test]
        fn validators_never_panic(text in "[0-9T:Z+.é -]{0,30}") {
            let _ = is_valid_date(&text);
            let _ = is_valid_datetime(&text);
        }
    }
}
