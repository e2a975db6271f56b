//! Which filter operators, orderings and lookups each field kind has: the
//! one table every surface reads (GraphQL filter inputs, the engine's checks,
//! the model API), so they never disagree.

use crate::{FieldKind, FieldMeta};

/// A comparison a filter applies to one field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    Eq,
    Neq,
    In,
    NotIn,
    Lt,
    Lte,
    Gt,
    Gte,
    /// Case-sensitive substring.
    Contains,
    IContains,
    StartsWith,
    EndsWith,
    /// Equal, ignoring case (text).
    IExact,
    IsNull,
}

impl Op {
    /// Every operator.
    pub const ALL: [Op; 14] = [
        Op::Eq,
        Op::Neq,
        Op::In,
        Op::NotIn,
        Op::Lt,
        Op::Lte,
        Op::Gt,
        Op::Gte,
        Op::Contains,
        Op::IContains,
        Op::StartsWith,
        Op::EndsWith,
        Op::IExact,
        Op::IsNull,
    ];

    /// Whether the operand is text matched as a pattern or folded for case.
    pub fn is_text(self) -> bool {
        matches!(
            self,
            Op::Contains | Op::IContains | Op::StartsWith | Op::EndsWith | Op::IExact
        )
    }
}

/// How the rows of a to-many relation must match a filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantifier {
    Some,
    None,
    Every,
}

const COMPARE: &[Op] = &[
    Op::Eq,
    Op::Neq,
    Op::In,
    Op::NotIn,
    Op::Lt,
    Op::Lte,
    Op::Gt,
    Op::Gte,
    Op::IsNull,
];
pub(crate) const TEXT: &[Op] = &[
    Op::Eq,
    Op::Neq,
    Op::In,
    Op::NotIn,
    Op::Lt,
    Op::Lte,
    Op::Gt,
    Op::Gte,
    Op::Contains,
    Op::IContains,
    Op::StartsWith,
    Op::EndsWith,
    Op::IExact,
    Op::IsNull,
];
const EQUALITY: &[Op] = &[Op::Eq, Op::Neq, Op::In, Op::NotIn, Op::IsNull];
const FLAG: &[Op] = &[Op::Eq, Op::Neq, Op::IsNull];
const PRESENCE: &[Op] = &[Op::IsNull];

/// What a field can be filtered, ordered and looked up by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// The filter operators, in the order surfaces list them.
    pub ops: &'static [Op],
    /// Whether lists can be ordered by it.
    pub order: bool,
    /// Whether it has a root lookup (`postBySlug(slug:)`): unique, not a
    /// relation, comparable for equality.
    pub lookup: bool,
}

impl Capabilities {
    pub fn allows(&self, op: Op) -> bool {
        self.ops.contains(&op)
    }
}

impl FieldMeta {
    /// This field's row of the capability table.
    pub fn capabilities(&self) -> Capabilities {
        // A composite key's part filters as its kind does.
        let sole_key = self.primary_key && !self.composite_key;
        let ops = match (sole_key, self.kind) {
            // Keys order; ranges over them are common (`id: { gt: "100" }`).
            (true, _) | (_, FieldKind::AutoId | FieldKind::ForeignKey { .. }) => COMPARE,
            (_, FieldKind::Bool) => FLAG,
            (_, FieldKind::Json) => PRESENCE,
            (_, FieldKind::Uuid | FieldKind::Enum(_)) => EQUALITY,
            (_, FieldKind::String { .. } | FieldKind::Text) => TEXT,
            (
                _,
                FieldKind::I32
                | FieldKind::I64
                | FieldKind::F64
                | FieldKind::Decimal { .. }
                | FieldKind::Date
                | FieldKind::DateTime,
            ) => COMPARE,
        };
        let order = !matches!(self.kind, FieldKind::Json);
        let lookup = (sole_key || self.unique)
            && !matches!(self.kind, FieldKind::ForeignKey { .. } | FieldKind::Json);
        Capabilities { ops, order, lookup }
    }
}
