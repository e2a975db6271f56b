//! The filter and order algebra over one model, by field and relation
//! index. Surfaces parse into it (GraphQL's `where`/`orderBy`, the model
//! API's typed columns); the SQL builder renders it; permission rules
//! compile into it.

use graphloom_meta::{ModelId, Op, Quantifier, Value};

/// The most values an `in` / `notIn` filter takes: each is a bound parameter.
pub const MAX_IN_LIST: usize = 1000;

/// A filter tree over one model.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Not(Box<Filter>),
    Field {
        field: usize,
        op: Op,
        value: FilterValue,
    },
    /// A to-one relation whose target matches.
    One {
        relation: usize,
        filter: Box<Filter>,
    },
    /// A to-many relation with some, none or every target matching.
    Many {
        relation: usize,
        quantifier: Quantifier,
        filter: Box<Filter>,
    },
}

/// The operand of a field condition.
#[derive(Debug, Clone, PartialEq)]
pub enum FilterValue {
    One(Value),
    List(Vec<Value>),
    Bool(bool),
}

impl Filter {
    /// Matches no row.
    pub fn none() -> Filter {
        Filter::Or(Vec::new())
    }

    /// `parts` joined by AND: none is `None` (no condition), one is itself.
    pub fn all(mut parts: Vec<Filter>) -> Option<Filter> {
        match parts.len() {
            0 => None,
            1 => parts.pop(),
            _ => Some(Filter::And(parts)),
        }
    }
}

/// Order by a field reached through zero or more to-one relations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderTerm {
    /// The (model, relation index) steps from the listed model.
    pub path: Vec<(ModelId, usize)>,
    pub model: ModelId,
    pub field: usize,
    pub desc: bool,
}

/// A short name of an operator for messages.
pub fn op_label(op: Op) -> &'static str {
    match op {
        Op::Eq => "eq",
        Op::Neq => "neq",
        Op::In => "in",
        Op::NotIn => "notIn",
        Op::Lt => "lt",
        Op::Lte => "lte",
        Op::Gt => "gt",
        Op::Gte => "gte",
        Op::Contains => "contains",
        Op::IContains => "iContains",
        Op::StartsWith => "startsWith",
        Op::EndsWith => "endsWith",
        Op::IExact => "iExact",
        Op::IsNull => "isNull",
    }
}
