//! The start-up checks: one table of stable ids, each with what it means.
//! [`crate::Registry::build`] runs every one of them, so `check`, `serve`
//! and the test kit refuse the same declarations.

use std::fmt;

/// The id of a start-up check, printed as `graphloom.E001`. Each variant's
/// doc is its meaning; the guide's table is this one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum CheckId {
    /// A relation, rule or computed field names a model that is not registered.
    E001,
    /// A model is registered twice.
    E002,
    /// Clashing GraphQL type, root field or field names (computed fields included).
    E003,
    /// Clashing table names (join tables included).
    E004,
    /// No primary key, or more than one.
    E005,
    /// An option that does not fit the field's type (defaults, presets, `auto_now`, `on_delete` …).
    E006,
    /// Clashing column names.
    E007,
    /// An unsupported field declaration (such as `Option<ManyToMany<_>>`).
    E008,
    /// A reverse accessor that clashes with another field.
    E009,
    /// A computed field that requires a field the model lacks.
    E010,
    /// A permission rule that names a missing field or relation, or puts a row leaf where no row exists.
    E011,
    /// An external model or field used as only a local one can be (or the reverse).
    E012,
    /// A bad entity key, `resolvable = false` or `interface_object`.
    E013,
    /// A composed directive that is undeclared, malformed or declared twice.
    E014,
    /// Generated writes on a model with no field they could set.
    E015,
    /// A warning, not an error: generated writes that anonymous clients may
    /// make, by an explicit rule.
    W001,
}

impl CheckId {
    /// Every check, in order: the table.
    pub const ALL: [CheckId; 16] = [
        CheckId::E001,
        CheckId::E002,
        CheckId::E003,
        CheckId::E004,
        CheckId::E005,
        CheckId::E006,
        CheckId::E007,
        CheckId::E008,
        CheckId::E009,
        CheckId::E010,
        CheckId::E011,
        CheckId::E012,
        CheckId::E013,
        CheckId::E014,
        CheckId::E015,
        CheckId::W001,
    ];

    /// The printed id: `graphloom.E001`.
    pub fn code(self) -> &'static str {
        match self {
            CheckId::E001 => "graphloom.E001",
            CheckId::E002 => "graphloom.E002",
            CheckId::E003 => "graphloom.E003",
            CheckId::E004 => "graphloom.E004",
            CheckId::E005 => "graphloom.E005",
            CheckId::E006 => "graphloom.E006",
            CheckId::E007 => "graphloom.E007",
            CheckId::E008 => "graphloom.E008",
            CheckId::E009 => "graphloom.E009",
            CheckId::E010 => "graphloom.E010",
            CheckId::E011 => "graphloom.E011",
            CheckId::E012 => "graphloom.E012",
            CheckId::E013 => "graphloom.E013",
            CheckId::E014 => "graphloom.E014",
            CheckId::E015 => "graphloom.E015",
            CheckId::W001 => "graphloom.W001",
        }
    }

    /// What the check is about, one line.
    pub fn title(self) -> &'static str {
        match self {
            CheckId::E001 => {
                "a relation, rule or computed field names a model that is not registered"
            }
            CheckId::E002 => "a model registered twice",
            CheckId::E003 => "clashing GraphQL type, root field or field names",
            CheckId::E004 => "clashing table names",
            CheckId::E005 => {
                "no primary key, or more than one; a bad composite key, or a reference to a model keyed by one"
            }
            CheckId::E006 => "an option that does not fit the field's type",
            CheckId::E007 => "clashing column names",
            CheckId::E008 => "an unsupported field declaration",
            CheckId::E009 => "a reverse accessor that clashes with another field",
            CheckId::E010 => "a computed field that requires a field the model lacks",
            CheckId::E011 => {
                "a permission rule that names a missing field or policy, or misplaces a row leaf"
            }
            CheckId::E012 => {
                "an external model or field used as a local one, or the reverse, or a field stored on another service's entity that cannot be"
            }
            CheckId::E013 => {
                "a bad entity key, `resolvable = false`, `interface_object`, or an argument from a context no model declares"
            }
            CheckId::E014 => "an undeclared, malformed or twice-declared composed directive",
            CheckId::E015 => "generated writes on a model with no field they could set",
            CheckId::W001 => "generated writes open to anonymous clients by an explicit rule",
        }
    }
}

impl fmt::Display for CheckId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl PartialEq<&str> for CheckId {
    fn eq(&self, other: &&str) -> bool {
        self.code() == *other
    }
}

/// One start-up check failure: a stable id, where, what, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckError {
    pub id: CheckId,
    pub at: String,
    pub message: String,
    pub hint: String,
}

impl CheckError {
    pub fn new(
        id: CheckId,
        at: impl Into<String>,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) -> Self {
        CheckError {
            id,
            at: at.into(),
            message: message.into(),
            hint: hint.into(),
        }
    }
}

impl fmt::Display for CheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}: {}\n\tHINT: {}",
            self.id, self.at, self.message, self.hint
        )
    }
}

/// All the check failures of a registry, reported together.
#[derive(Debug, Clone, thiserror::Error)]
#[error("the model registry failed {} check(s):\n{}", .0.len(), .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
pub struct CheckErrors(pub Vec<CheckError>);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_complete_and_ordered() {
        let (errors, warnings): (Vec<&CheckId>, Vec<&CheckId>) =
            CheckId::ALL.iter().partition(|id| id.code().contains(".E"));
        for (i, id) in errors.iter().enumerate() {
            assert_eq!(id.code(), format!("graphloom.E{:03}", i + 1));
            assert!(!id.title().is_empty());
        }
        for (i, id) in warnings.iter().enumerate() {
            assert_eq!(id.code(), format!("graphloom.W{:03}", i + 1));
        }
        assert!(CheckId::E001 == "graphloom.E001");
    }

    #[test]
    fn the_guide_lists_this_table() {
        let guide = include_str!("../../../docs/guide.md");
        for id in CheckId::ALL {
            let row = format!("| `{}` | {} |", id.code(), id.title());
            assert!(guide.contains(&row), "docs/guide.md lacks: {row}");
        }
    }
}
