//! The filter and order algebra over one model, by field and relation
//! index. Surfaces parse into it (GraphQL's `where`/`orderBy`, the model
//! API's typed columns); the SQL builder renders it; permission rules
//! compile into it.

use graphloom_meta::{ModelId, ModelMeta, Op, Quantifier, Registry, Value};

use crate::{Error, Result, scope::Scope};

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

/// Checks a filter against the capability table and the principal's
/// rights: every operator fits its field's kind, every operand its type,
/// every field may be read on every row (else a filter would probe hidden
/// values), every related model may be queried.
pub fn check_filter(reg: &Registry, scope: &Scope, model: &ModelMeta, f: &Filter) -> Result<()> {
    match f {
        Filter::And(parts) | Filter::Or(parts) => parts
            .iter()
            .try_for_each(|p| check_filter(reg, scope, model, p)),
        Filter::Not(inner) => check_filter(reg, scope, model, inner),
        Filter::Field { field, op, value } => {
            let meta = &model.fields[*field];
            scope.field_usable(model, *field)?;
            let at = || format!("`{}.{}`", meta.graphql_name, op_label(*op));
            if !meta.capabilities().allows(*op) {
                return Err(Error::bad_input(format!(
                    "{} does not apply to this field",
                    at()
                )));
            }
            match (op, value) {
                (Op::IsNull, FilterValue::Bool(_)) => Ok(()),
                (Op::IsNull, _) => Err(Error::bad_input(format!("{} must be a boolean", at()))),
                (Op::In | Op::NotIn, FilterValue::List(vs)) if vs.len() > MAX_IN_LIST => Err(
                    Error::bad_input(format!("{} takes at most {MAX_IN_LIST} values", at())),
                ),
                (Op::In | Op::NotIn, FilterValue::List(_)) => Ok(()),
                (_, FilterValue::One(_)) => Ok(()),
                (_, FilterValue::List(_) | FilterValue::Bool(_)) => {
                    Err(Error::bad_input(format!("{} takes one value", at())))
                }
            }
        }
        Filter::One { relation, filter }
        | Filter::Many {
            relation, filter, ..
        } => {
            let target = reg.model(model.relations[*relation].target);
            scope.can_view(target)?;
            check_filter(reg, scope, target, filter)
        }
    }
}

/// Checks order terms: each field orderable and readable on every row,
/// each related model queryable.
pub fn check_order(reg: &Registry, scope: &Scope, terms: &[OrderTerm]) -> Result<()> {
    for t in terms {
        for (m, r) in &t.path {
            scope.can_view(reg.model(reg.model(*m).relations[*r].target))?;
        }
        let model = reg.model(t.model);
        let f = &model.fields[t.field];
        if !f.capabilities().order {
            return Err(Error::bad_input(format!(
                "cannot order {} by `{}`",
                model.graphql_name, f.graphql_name
            )));
        }
        scope.field_usable(model, t.field)?;
    }
    Ok(())
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
