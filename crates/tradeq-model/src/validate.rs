//! The error a record gets at the door, naming the field and what is wrong with it.

use std::fmt;

/// Why a record was refused: the field (a JSON path such as `fund_bills[1].amount`) and the
/// reason, which for a broken identity states the equation and both sides.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ValidationError {
    /// The offending field, as a path into the record.
    pub field: String,
    /// What is wrong and how to fix it.
    pub reason: String,
}

impl ValidationError {
    /// A new error for `field`.
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> ValidationError {
        ValidationError {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.reason)
    }
}

/// Requires a non-empty identifier of at most `max` characters.
pub(crate) fn require_id(field: &str, value: &str, max: usize) -> Result<(), ValidationError> {
    if value.trim().is_empty() {
        return Err(ValidationError::new(
            field,
            "is required and must not be empty",
        ));
    }
    check_len(field, value, max)
}

/// Requires at most `max` characters.
pub(crate) fn check_len(field: &str, value: &str, max: usize) -> Result<(), ValidationError> {
    let n = value.chars().count();
    if n > max {
        return Err(ValidationError::new(
            field,
            format!("is {n} characters long; the documented maximum is {max}"),
        ));
    }
    Ok(())
}

/// Checks an optional field's length.
pub(crate) fn check_opt_len(
    field: &str,
    value: &Option<String>,
    max: usize,
) -> Result<(), ValidationError> {
    match value {
        Some(v) => check_len(field, v, max),
        None => Ok(()),
    }
}

/// Requires a non-negative amount.
pub(crate) fn non_negative(field: &str, value: i64) -> Result<(), ValidationError> {
    if value < 0 {
        return Err(ValidationError::new(
            field,
            format!("is {value}; amounts must not be negative"),
        ));
    }
    Ok(())
}

/// Checks `lhs = rhs` where `rhs` is a sum, naming the equation and both sides when it fails.
pub(crate) fn identity(
    field: &str,
    equation: &str,
    lhs: i64,
    rhs: i64,
) -> Result<(), ValidationError> {
    if lhs != rhs {
        return Err(ValidationError::new(
            field,
            format!("{equation} does not hold: left side is {lhs}, right side is {rhs}"),
        ));
    }
    Ok(())
}

/// Sums amounts, refusing overflow instead of wrapping.
pub(crate) fn checked_sum(
    field: &str,
    values: impl IntoIterator<Item = i64>,
) -> Result<i64, ValidationError> {
    values.into_iter().try_fold(0i64, |acc, v| {
        acc.checked_add(v)
            .ok_or_else(|| ValidationError::new(field, "sum of amounts overflows"))
    })
}
