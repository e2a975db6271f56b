//! Typed columns, conditions, orderings and assignments for the model API.
//! `#[derive(Model)]` gives each model a constant per field
//! (`Post::TITLE: Column<Post, String>`); conditions built from them are
//! typed by the model they filter, so a column of another model does not
//! compile where `Post`'s are expected. They resolve against the registry
//! into the engine's index-based [`crate::filter::Filter`] when a queryset runs.

use std::{fmt, marker::PhantomData};

use graphloom_meta::{
    ForeignKey, ManyToMany, Model, ModelId, ModelKey, ModelMeta, OneToOne, Op, Operand, Quantifier,
    Registry, RelationKind, Value,
};

use crate::{
    Error, Result,
    filter::{Filter, FilterValue, OrderTerm},
};

/// The field `name` of model `M`, holding values of the Rust type `T`.
pub struct Column<M, T> {
    name: &'static str,
    _types: PhantomData<fn() -> (M, T)>,
}

impl<M, T> Clone for Column<M, T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<M, T> Copy for Column<M, T> {}

impl<M, T> fmt::Debug for Column<M, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Column({})", self.name)
    }
}

/// An untyped condition, by Rust field names, until it meets the registry.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cond {
    Field {
        name: &'static str,
        op: Op,
        value: FilterValue,
    },
    /// Through the relation the model's own field `name` declares.
    Forward {
        name: &'static str,
        quantifier: Option<Quantifier>,
        inner: Box<Cond>,
    },
    /// Through the reverse of the relation `field` of model `owner` declares.
    Reverse {
        owner: ModelKey,
        field: &'static str,
        quantifier: Option<Quantifier>,
        inner: Box<Cond>,
    },
    And(Vec<Cond>),
    Or(Vec<Cond>),
    Not(Box<Cond>),
}

/// A condition on rows of `M`. Combine with [`Where::and`], [`Where::or`],
/// `!` (or `&` and `|`).
pub struct Where<M> {
    pub(crate) cond: Cond,
    _model: PhantomData<fn() -> M>,
}

impl<M> Clone for Where<M> {
    fn clone(&self) -> Self {
        Where::of(self.cond.clone())
    }
}

impl<M> fmt::Debug for Where<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.cond.fmt(f)
    }
}

impl<M> Where<M> {
    fn of(cond: Cond) -> Self {
        Where {
            cond,
            _model: PhantomData,
        }
    }

    /// Every row: no condition.
    pub fn all() -> Self {
        Where::of(Cond::And(Vec::new()))
    }

    pub fn and(self, other: Where<M>) -> Self {
        Where::of(Cond::And(vec![self.cond, other.cond]))
    }

    pub fn or(self, other: Where<M>) -> Self {
        Where::of(Cond::Or(vec![self.cond, other.cond]))
    }

    /// Rows matching none of `self`.
    pub fn negate(self) -> Self {
        Where::of(Cond::Not(Box::new(self.cond)))
    }

    /// The engine's filter of this condition on rows of `m` (the model `M`
    /// is registered as): for surfaces that combine it with their own.
    pub fn to_filter(&self, reg: &Registry, m: &ModelMeta) -> Result<Filter> {
        self.cond.resolve(reg, m)
    }
}

impl<M> std::ops::Not for Where<M> {
    type Output = Where<M>;
    fn not(self) -> Where<M> {
        self.negate()
    }
}

impl<M> std::ops::BitAnd for Where<M> {
    type Output = Where<M>;
    fn bitand(self, other: Where<M>) -> Where<M> {
        self.and(other)
    }
}

impl<M> std::ops::BitOr for Where<M> {
    type Output = Where<M>;
    fn bitor(self, other: Where<M>) -> Where<M> {
        self.or(other)
    }
}

/// One sort key for rows of `M`: a field, possibly through to-one relations.
pub struct Order<M> {
    pub(crate) path: Vec<&'static str>,
    pub(crate) field: &'static str,
    pub(crate) desc: bool,
    _model: PhantomData<fn() -> M>,
}

impl<M> fmt::Debug for Order<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}{} {}",
            self.path
                .iter()
                .map(|p| format!("{p}."))
                .collect::<String>(),
            self.field,
            if self.desc { "DESC" } else { "ASC" }
        )
    }
}

/// One change a create or update makes to a row of `M`.
pub struct Assign<M> {
    pub(crate) change: Change,
    _model: PhantomData<fn() -> M>,
}

impl<M> fmt::Debug for Assign<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.change.fmt(f)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Change {
    Value(&'static str, Value),
    Links {
        name: &'static str,
        set: Option<Vec<Value>>,
        add: Vec<Value>,
        remove: Vec<Value>,
    },
}

impl<M> Assign<M> {
    fn of(change: Change) -> Self {
        Assign {
            change,
            _model: PhantomData,
        }
    }
}

impl<M, T> Column<M, T> {
    /// For `#[derive(Model)]`: the column of the Rust field `name`.
    pub const fn new(name: &'static str) -> Self {
        Column {
            name,
            _types: PhantomData,
        }
    }

    /// The Rust field name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    fn cond(self, op: Op, value: FilterValue) -> Where<M> {
        Where::of(Cond::Field {
            name: self.name,
            op,
            value,
        })
    }

    fn one(self, op: Op, v: impl Operand<T>) -> Where<M> {
        self.cond(op, FilterValue::One(v.into_value()))
    }

    pub fn eq(self, v: impl Operand<T>) -> Where<M> {
        self.one(Op::Eq, v)
    }
    /// Not equal; like Django's `exclude()`, rows where the field is NULL match.
    pub fn neq(self, v: impl Operand<T>) -> Where<M> {
        self.one(Op::Neq, v)
    }
    pub fn lt(self, v: impl Operand<T>) -> Where<M> {
        self.one(Op::Lt, v)
    }
    pub fn lte(self, v: impl Operand<T>) -> Where<M> {
        self.one(Op::Lte, v)
    }
    pub fn gt(self, v: impl Operand<T>) -> Where<M> {
        self.one(Op::Gt, v)
    }
    pub fn gte(self, v: impl Operand<T>) -> Where<M> {
        self.one(Op::Gte, v)
    }
    /// One of the values (at most [`crate::filter::MAX_IN_LIST`]).
    pub fn is_in<O: Operand<T>>(self, vs: impl IntoIterator<Item = O>) -> Where<M> {
        self.cond(
            Op::In,
            FilterValue::List(vs.into_iter().map(Operand::into_value).collect()),
        )
    }
    pub fn not_in<O: Operand<T>>(self, vs: impl IntoIterator<Item = O>) -> Where<M> {
        self.cond(
            Op::NotIn,
            FilterValue::List(vs.into_iter().map(Operand::into_value).collect()),
        )
    }
    /// NULL (`true`) or not NULL (`false`).
    pub fn is_null(self, null: bool) -> Where<M> {
        self.cond(Op::IsNull, FilterValue::Bool(null))
    }

    pub fn asc(self) -> Order<M> {
        Order {
            path: Vec::new(),
            field: self.name,
            desc: false,
            _model: PhantomData,
        }
    }
    pub fn desc(self) -> Order<M> {
        Order {
            path: Vec::new(),
            field: self.name,
            desc: true,
            _model: PhantomData,
        }
    }

    /// Sets the field to `v` (in a create or update).
    pub fn set(self, v: impl Operand<T>) -> Assign<M> {
        Assign::of(Change::Value(self.name, v.into_value()))
    }
}

impl<M, T: Text> Column<M, T> {
    fn text(self, op: Op, s: impl Into<String>) -> Where<M> {
        self.cond(op, FilterValue::One(Value::String(s.into())))
    }
    /// Contains the text, case-sensitively (wildcards match literally).
    pub fn contains(self, s: impl Into<String>) -> Where<M> {
        self.text(Op::Contains, s)
    }
    pub fn icontains(self, s: impl Into<String>) -> Where<M> {
        self.text(Op::IContains, s)
    }
    pub fn starts_with(self, s: impl Into<String>) -> Where<M> {
        self.text(Op::StartsWith, s)
    }
    pub fn ends_with(self, s: impl Into<String>) -> Where<M> {
        self.text(Op::EndsWith, s)
    }
    /// Equal, ignoring case.
    pub fn iexact(self, s: impl Into<String>) -> Where<M> {
        self.text(Op::IExact, s)
    }
}

impl<M, T> Column<M, Option<T>> {
    /// Sets the field to NULL.
    pub fn set_null(self) -> Assign<M> {
        Assign::of(Change::Value(self.name, Value::Null))
    }
}

/// Text fields: the pattern operators apply.
pub trait Text {}
impl Text for String {}
impl Text for Option<String> {}

/// A field that refers to one row of `Self::Target`.
pub trait ToOne {
    type Target: Model;
}
impl<T: Model> ToOne for ForeignKey<T> {
    type Target = T;
}
impl<T: Model> ToOne for OneToOne<T> {
    type Target = T;
}
impl<T: Model> ToOne for Option<ForeignKey<T>> {
    type Target = T;
}
impl<T: Model> ToOne for Option<OneToOne<T>> {
    type Target = T;
}

impl<M: Model, R: ToOne> Column<M, R> {
    /// Rows whose related row matches.
    pub fn is(self, w: Where<R::Target>) -> Where<M> {
        Where::of(Cond::Forward {
            name: self.name,
            quantifier: None,
            inner: Box::new(w.cond),
        })
    }

    /// Orders by a field of the related row.
    pub fn then(self, o: Order<R::Target>) -> Order<M> {
        let mut path = vec![self.name];
        path.extend(o.path);
        Order {
            path,
            field: o.field,
            desc: o.desc,
            _model: PhantomData,
        }
    }

    /// The other side: conditions on `R::Target` rows over the `M` rows
    /// that refer to them (`Post::AUTHOR.reverse().some(…)` filters users).
    pub fn reverse(self) -> Reverse<R::Target, M> {
        Reverse {
            field: self.name,
            _types: PhantomData,
        }
    }
}

impl<M: Model, T: Model> Column<M, ManyToMany<T>> {
    fn quantified(self, q: Quantifier, w: Where<T>) -> Where<M> {
        Where::of(Cond::Forward {
            name: self.name,
            quantifier: Some(q),
            inner: Box::new(w.cond),
        })
    }
    /// At least one related row matches.
    pub fn some(self, w: Where<T>) -> Where<M> {
        self.quantified(Quantifier::Some, w)
    }
    /// No related row matches.
    pub fn none(self, w: Where<T>) -> Where<M> {
        self.quantified(Quantifier::None, w)
    }
    /// Every related row matches (true when there is none).
    pub fn every(self, w: Where<T>) -> Where<M> {
        self.quantified(Quantifier::Every, w)
    }

    /// The other side: conditions on `T` rows over the `M` rows linking them.
    pub fn reverse(self) -> Reverse<T, M> {
        Reverse {
            field: self.name,
            _types: PhantomData,
        }
    }

    fn links(self, set: Option<Vec<Value>>, add: Vec<Value>, remove: Vec<Value>) -> Assign<M> {
        Assign::of(Change::Links {
            name: self.name,
            set,
            add,
            remove,
        })
    }
    /// Replaces the related rows with these keys.
    pub fn set_keys<O: Operand<ForeignKey<T>>>(
        self,
        keys: impl IntoIterator<Item = O>,
    ) -> Assign<M> {
        self.links(
            Some(keys.into_iter().map(Operand::into_value).collect()),
            Vec::new(),
            Vec::new(),
        )
    }
    /// Adds links to these keys.
    pub fn add_keys<O: Operand<ForeignKey<T>>>(
        self,
        keys: impl IntoIterator<Item = O>,
    ) -> Assign<M> {
        self.links(
            None,
            keys.into_iter().map(Operand::into_value).collect(),
            Vec::new(),
        )
    }
    /// Removes the links to these keys.
    pub fn remove_keys<O: Operand<ForeignKey<T>>>(
        self,
        keys: impl IntoIterator<Item = O>,
    ) -> Assign<M> {
        self.links(
            None,
            Vec::new(),
            keys.into_iter().map(Operand::into_value).collect(),
        )
    }
}

/// The reverse side of the relation `Owner`'s field declares, seen from `T`.
pub struct Reverse<T, Owner> {
    field: &'static str,
    _types: PhantomData<fn() -> (T, Owner)>,
}

impl<T, Owner: Model> Reverse<T, Owner> {
    fn cond(self, q: Option<Quantifier>, w: Where<Owner>) -> Where<T> {
        Where::of(Cond::Reverse {
            owner: ModelKey::of::<Owner>(),
            field: self.field,
            quantifier: q,
            inner: Box::new(w.cond),
        })
    }
    /// At least one referring row matches.
    pub fn some(self, w: Where<Owner>) -> Where<T> {
        self.cond(Some(Quantifier::Some), w)
    }
    /// No referring row matches.
    pub fn none(self, w: Where<Owner>) -> Where<T> {
        self.cond(Some(Quantifier::None), w)
    }
    /// Every referring row matches (true when there is none).
    pub fn every(self, w: Where<Owner>) -> Where<T> {
        self.cond(Some(Quantifier::Every), w)
    }
    /// The one referring row (the other side of a one-to-one) matches.
    pub fn is(self, w: Where<Owner>) -> Where<T> {
        self.cond(None, w)
    }
}

fn missing(m: &ModelMeta, what: &str) -> Error {
    Error::internal(format!("{} has no {what}", m.key))
}

/// The relation of `m` that `owner`'s Rust field `field` declares, forward or reverse.
fn relation(
    reg: &Registry,
    m: &ModelMeta,
    owner: ModelId,
    field: &str,
    forward: bool,
) -> Result<usize> {
    m.relations
        .iter()
        .position(|r| {
            let is_forward = matches!(
                r.kind,
                RelationKind::ForwardOne { .. } | RelationKind::ManyToMany { forward: true, .. }
            );
            r.declared_by == (owner, field) && is_forward == forward
        })
        .ok_or_else(|| {
            let side = if forward {
                "relation"
            } else {
                "reverse relation"
            };
            missing(
                m,
                &format!("{side} declared by {}.{field}", reg.model(owner).key),
            )
        })
}

impl Cond {
    /// The engine's filter of this condition on rows of `m`.
    pub(crate) fn resolve(&self, reg: &Registry, m: &ModelMeta) -> Result<Filter> {
        Ok(match self {
            Cond::Field { name, op, value } => {
                let (field, _) = m
                    .field(name)
                    .ok_or_else(|| missing(m, &format!("field `{name}`")))?;
                Filter::Field {
                    field,
                    op: *op,
                    value: value.clone(),
                }
            }
            Cond::Forward {
                name,
                quantifier,
                inner,
            } => {
                let ri = relation(reg, m, m.id, name, true)?;
                related(reg, m, ri, *quantifier, inner)?
            }
            Cond::Reverse {
                owner,
                field,
                quantifier,
                inner,
            } => {
                let owner = reg
                    .by_key(*owner)
                    .ok_or_else(|| Error::internal(format!("model {owner} is not registered")))?;
                let ri = relation(reg, m, owner.id, field, false)?;
                related(reg, m, ri, *quantifier, inner)?
            }
            Cond::And(parts) => Filter::And(
                parts
                    .iter()
                    .map(|p| p.resolve(reg, m))
                    .collect::<Result<_>>()?,
            ),
            Cond::Or(parts) => Filter::Or(
                parts
                    .iter()
                    .map(|p| p.resolve(reg, m))
                    .collect::<Result<_>>()?,
            ),
            Cond::Not(inner) => Filter::Not(Box::new(inner.resolve(reg, m)?)),
        })
    }
}

fn related(
    reg: &Registry,
    m: &ModelMeta,
    ri: usize,
    quantifier: Option<Quantifier>,
    inner: &Cond,
) -> Result<Filter> {
    let rel = &m.relations[ri];
    let filter = Box::new(inner.resolve(reg, reg.model(rel.target))?);
    match (quantifier, rel.is_many()) {
        (None, false) => Ok(Filter::One {
            relation: ri,
            filter,
        }),
        (Some(quantifier), true) => Ok(Filter::Many {
            relation: ri,
            quantifier,
            filter,
        }),
        (None, true) => Err(Error::bad_input(format!(
            "`{}` holds many rows: use some, none or every",
            rel.name
        ))),
        (Some(_), false) => Err(Error::bad_input(format!(
            "`{}` holds one row: use is",
            rel.name
        ))),
    }
}

impl<M> Order<M> {
    /// The engine's order term on rows of `m`.
    pub(crate) fn resolve(&self, reg: &Registry, m: &ModelMeta) -> Result<OrderTerm> {
        let mut path = Vec::new();
        let mut cur = m;
        for name in &self.path {
            let ri = relation(reg, cur, cur.id, name, true)?;
            path.push((cur.id, ri));
            cur = reg.model(cur.relations[ri].target);
        }
        let (field, _) = cur
            .field(self.field)
            .ok_or_else(|| missing(cur, &format!("field `{}`", self.field)))?;
        Ok(OrderTerm {
            path,
            model: cur.id,
            field,
            desc: self.desc,
        })
    }
}
