//! What one principal may do: the registry's rules decided for a request.
//!
//! Row rules compile into filters that the SQL builder ANDs into every
//! statement reaching the model (root lists and lookups, both directions of
//! nested relations, counts, filters and ordering across relations, write
//! targets and references), so invisible rows are simply absent: nothing
//! leaks through counts, cursors, filters or error messages. Operation rules
//! and field rules are answered here too, for every surface alike.

use std::{collections::HashMap, fmt, sync::Arc};

use graphloom_meta::{
    FieldKind, FieldMeta, ModelId, ModelMeta, Op, Operation, Principal, Registry, RuleExpr, Value,
};

use crate::{
    Error, ErrorCode, Result,
    filter::{Filter, FilterValue, MAX_IN_LIST, OrderTerm, op_label},
};

/// A condition once the principal's leaves are decided.
#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    True,
    False,
    Rows(Filter),
}

impl Cond {
    fn or(parts: Vec<Cond>) -> Cond {
        let mut rows = Vec::new();
        for p in parts {
            match p {
                Cond::True => return Cond::True,
                Cond::False => {}
                Cond::Rows(f) => rows.push(f),
            }
        }
        match rows.len() {
            0 => Cond::False,
            1 => rows.pop().map_or(Cond::False, Cond::Rows),
            _ => Cond::Rows(Filter::Or(rows)),
        }
    }

    fn and(parts: Vec<Cond>) -> Cond {
        let mut rows = Vec::new();
        for p in parts {
            match p {
                Cond::False => return Cond::False,
                Cond::True => {}
                Cond::Rows(f) => rows.push(f),
            }
        }
        match rows.len() {
            0 => Cond::True,
            1 => rows.pop().map_or(Cond::True, Cond::Rows),
            _ => Cond::Rows(Filter::And(rows)),
        }
    }

    /// The SQL filter: `None` for no condition, FALSE as an empty OR.
    pub fn filter(&self) -> Option<Filter> {
        match self {
            Cond::True => None,
            Cond::False => Some(Filter::none()),
            Cond::Rows(f) => Some(f.clone()),
        }
    }
}

/// What one request may do: the principal, its custom predicates decided,
/// and each model's visible-row filter. Cheap to clone behind an `Arc`.
#[derive(Clone)]
pub struct Scope {
    pub principal: Option<Principal>,
    registry: Arc<Registry>,
    /// Acting as the system: no rule applies.
    system: bool,
    customs: Vec<bool>,
    rows: HashMap<ModelId, Option<Filter>>,
}

impl fmt::Debug for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scope")
            .field("principal", &self.principal)
            .field("system", &self.system)
            .finish_non_exhaustive()
    }
}

impl Scope {
    /// The system's scope: no rule applies (management commands, migrations,
    /// the engine's own bookkeeping). Only reachable by asking for it.
    pub fn system(registry: Arc<Registry>) -> Self {
        Scope {
            principal: None,
            registry,
            system: true,
            customs: Vec::new(),
            rows: HashMap::new(),
        }
    }

    /// Decides the custom predicates once and compiles every model's row rule.
    pub async fn new(registry: Arc<Registry>, principal: Option<Principal>) -> Self {
        let mut customs = Vec::with_capacity(registry.predicates().len());
        for p in registry.predicates() {
            customs.push(p(principal.clone()).await);
        }
        let mut scope = Scope {
            principal,
            registry: Arc::clone(&registry),
            system: false,
            customs,
            rows: HashMap::new(),
        };
        let mut rows = HashMap::new();
        // Models whose rows are all visible need no entry (`rows` is `None`).
        let restricted = registry
            .models()
            .iter()
            .filter(|m| m.rules.rows != graphloom_meta::RuleExpr::Const(true));
        for m in restricted {
            let cond = scope.rows_cond(m.id, &mut Vec::new());
            rows.insert(m.id, cond.filter());
        }
        scope.rows = rows;
        scope
    }

    pub fn is_system(&self) -> bool {
        self.system
    }

    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    fn rules(&self, m: ModelId) -> Option<&graphloom_meta::RuleSet> {
        if self.system {
            None
        } else {
            Some(self.registry.rules(m))
        }
    }

    /// The visible-row condition of a model, following `Visible` into the
    /// models it names; a cycle of `Visible` rules sees nothing (safe side).
    fn rows_cond(&self, id: ModelId, visiting: &mut Vec<ModelId>) -> Cond {
        let Some(r) = self.rules(id) else {
            return Cond::True;
        };
        if visiting.contains(&id) {
            return Cond::False;
        }
        visiting.push(id);
        let m = self.registry.model(id);
        let out = self.cond_with(m, &r.rows, &mut |scope, target| {
            scope.rows_cond(target, visiting)
        });
        visiting.pop();
        out
    }

    fn leaf(ok: bool) -> Cond {
        if ok { Cond::True } else { Cond::False }
    }

    /// A rule's condition; a related row's visibility (`Visible`) is only
    /// known inside row rules, so elsewhere it does not hold.
    pub fn cond(&self, m: &ModelMeta, r: &RuleExpr) -> Cond {
        self.cond_with(m, r, &mut |_, _| Cond::False)
    }

    fn cond_with(
        &self,
        m: &ModelMeta,
        r: &RuleExpr,
        related: &mut dyn FnMut(&Scope, ModelId) -> Cond,
    ) -> Cond {
        let p = self.principal.as_ref();
        match r {
            RuleExpr::Const(b) => Self::leaf(*b),
            RuleExpr::Authenticated => Self::leaf(p.is_some()),
            RuleExpr::Staff => Self::leaf(p.is_some_and(|p| p.staff || p.superuser)),
            RuleExpr::Superuser => Self::leaf(p.is_some_and(|p| p.superuser)),
            RuleExpr::Perm(code) => Self::leaf(p.is_some_and(|p| p.has_perm(code))),
            RuleExpr::Custom(i) | RuleExpr::Policy(_, i) => {
                Self::leaf(self.customs.get(*i).copied().unwrap_or(false))
            }
            RuleExpr::Owner(i) => match self.user_key(&m.fields[*i]) {
                Some(v) => Cond::Rows(Filter::Field {
                    field: *i,
                    op: Op::Eq,
                    value: FilterValue::One(v),
                }),
                None => Cond::False,
            },
            RuleExpr::Equals(i, v) => Cond::Rows(Filter::Field {
                field: *i,
                op: Op::Eq,
                value: FilterValue::One(v.clone()),
            }),
            RuleExpr::Visible(rel, target) => match related(self, *target) {
                Cond::True => Cond::True,
                Cond::False => Cond::False,
                Cond::Rows(f) => Cond::Rows(Filter::One {
                    relation: *rel,
                    filter: Box::new(f),
                }),
            },
            RuleExpr::Any(v) => Cond::or(v.iter().map(|x| self.cond_with(m, x, related)).collect()),
            RuleExpr::All(v) => {
                Cond::and(v.iter().map(|x| self.cond_with(m, x, related)).collect())
            }
        }
    }

    /// The principal's user id as a value of `field`'s type.
    pub fn user_key(&self, field: &FieldMeta) -> Option<Value> {
        let p = self.principal.as_ref()?;
        Value::parse_text(self.registry.value_type(field), &p.user_id)
    }

    /// The rows of `model` the principal may see, as a filter (`None`: all).
    pub fn rows(&self, model: ModelId) -> Option<&Filter> {
        self.rows.get(&model).and_then(Option::as_ref)
    }

    /// The refusal of an operation: `UNAUTHENTICATED` without a login,
    /// `FORBIDDEN` with one.
    pub fn refuse(&self, what: String) -> Error {
        match self.principal {
            None => Error::new(ErrorCode::Unauthenticated, format!("{what}: log in first")),
            Some(_) => Error::new(ErrorCode::Forbidden, format!("{what}: not allowed")),
        }
    }

    /// Whether the principal may query `model` at all.
    pub fn can_view(&self, m: &ModelMeta) -> Result<()> {
        match self.rules(m.id).map(|r| self.cond(m, &r.view)) {
            None | Some(Cond::True) => Ok(()),
            Some(_) => Err(self.refuse(format!("{} cannot be queried", m.plural_name))),
        }
    }

    /// Whether the principal may use the model's root list and lookups.
    pub fn can_list(&self, m: &ModelMeta) -> Result<()> {
        self.can_view(m)?;
        match self.rules(m.id).map(|r| self.cond(m, &r.list)) {
            None | Some(Cond::True) => Ok(()),
            Some(_) => Err(self.refuse(format!("{} cannot be listed", m.plural_name))),
        }
    }

    /// The condition on the target rows of an update or delete.
    pub fn write_cond(&self, m: &ModelMeta, op: Operation) -> Cond {
        match self.rules(m.id) {
            None => Cond::True,
            Some(r) => self.cond(m, r.op(op)),
        }
    }

    /// Whether a create with these values (by field index) is allowed; row
    /// leaves are checked on the values.
    pub fn can_create(
        &self,
        m: &ModelMeta,
        values: &std::collections::BTreeMap<usize, Value>,
    ) -> Result<()> {
        let Some(r) = self.rules(m.id) else {
            return Ok(());
        };
        if self.holds_on(m, &r.create, &|i| {
            values.get(&i).cloned().unwrap_or(Value::Null)
        }) {
            Ok(())
        } else {
            Err(self.refuse(format!("creating a {}", m.graphql_name)))
        }
    }

    /// Whether an update may set these values (by field index): the create
    /// rule's row leaves (`Owner`, `Equals`) on the fields being set must
    /// hold for the new values, so an update cannot hand a row to someone a
    /// create could not have named. Leaves on fields left as they are are
    /// not re-judged (the update rule governs the stored row).
    pub fn can_set(
        &self,
        m: &ModelMeta,
        values: &std::collections::BTreeMap<usize, Value>,
    ) -> Result<()> {
        let Some(r) = self.rules(m.id) else {
            return Ok(());
        };
        let mut named = Vec::new();
        r.create.row_fields(&mut named);
        named.retain(|i| values.contains_key(i));
        if named.is_empty() {
            return Ok(());
        }
        let holds = match self.cond(m, &r.create) {
            Cond::True => Some(true),
            Cond::False => Some(false),
            Cond::Rows(f) => self.filter_known(&f, values),
        };
        if holds == Some(false) {
            named.dedup();
            let fields: Vec<&str> = named.iter().map(|i| &*m.fields[*i].name).collect();
            Err(self.refuse(format!(
                "setting {} of a {}",
                fields.join(", "),
                m.graphql_name
            )))
        } else {
            Ok(())
        }
    }

    /// A rule's filter over the values known: `None` when it turns on
    /// fields not among them.
    fn filter_known(
        &self,
        f: &Filter,
        values: &std::collections::BTreeMap<usize, Value>,
    ) -> Option<bool> {
        let parts = |v: &[Filter], stop: bool| {
            let mut unknown = false;
            for x in v {
                match self.filter_known(x, values) {
                    Some(b) if b == stop => return Some(stop),
                    None => unknown = true,
                    Some(_) => {}
                }
            }
            (!unknown).then_some(!stop)
        };
        match f {
            Filter::And(v) => parts(v, false),
            Filter::Or(v) => parts(v, true),
            Filter::Not(x) => self.filter_known(x, values).map(|b| !b),
            Filter::Field {
                field,
                op: Op::Eq,
                value: FilterValue::One(v),
            } => values
                .get(field)
                .map(|x| x.key_string() == v.key_string() && !v.is_null()),
            // As `filter_holds`: rules make only equality leaves.
            Filter::Field { .. } | Filter::One { .. } | Filter::Many { .. } => Some(false),
        }
    }

    /// Whether the update (or delete) rule allows changing this stored row.
    pub fn may_write(
        &self,
        m: &ModelMeta,
        op: Operation,
        row: &std::collections::BTreeMap<usize, Value>,
    ) -> bool {
        match self.write_cond(m, op) {
            Cond::True => true,
            Cond::False => false,
            Cond::Rows(f) => {
                self.filter_holds(&f, &|i| row.get(&i).cloned().unwrap_or(Value::Null))
            }
        }
    }

    /// Evaluates a rule against one row's values in memory.
    fn holds_on(&self, m: &ModelMeta, r: &RuleExpr, value: &dyn Fn(usize) -> Value) -> bool {
        match self.cond(m, r) {
            Cond::True => true,
            Cond::False => false,
            Cond::Rows(f) => self.filter_holds(&f, value),
        }
    }

    fn filter_holds(&self, f: &Filter, value: &dyn Fn(usize) -> Value) -> bool {
        match f {
            Filter::And(v) => v.iter().all(|x| self.filter_holds(x, value)),
            Filter::Or(v) => v.iter().any(|x| self.filter_holds(x, value)),
            Filter::Not(x) => !self.filter_holds(x, value),
            Filter::Field {
                field,
                op: Op::Eq,
                value: FilterValue::One(v),
            } => value(*field).key_string() == v.key_string() && !v.is_null(),
            // Rules produce only equality leaves (and `One` in row rules,
            // which are never evaluated in memory).
            Filter::Field { .. } | Filter::One { .. } | Filter::Many { .. } => false,
        }
    }

    /// Whether a field has a read rule (its value may then be withheld).
    pub fn has_field_rule(reg: &Registry, model: ModelId, field: usize) -> bool {
        reg.rules(model).fields.contains_key(&field)
    }

    /// Whether the principal may read `field` of the row with these values.
    pub fn field_visible(
        &self,
        m: &ModelMeta,
        field: usize,
        value: &dyn Fn(usize) -> Value,
    ) -> bool {
        match self.rules(m.id).and_then(|r| r.fields.get(&field)) {
            None => true,
            Some(r) => self.holds_on(m, r, value),
        }
    }

    /// Whether `field` may be filtered or ordered on: only when the principal
    /// may read it on every row (otherwise a filter would probe hidden values).
    pub fn field_usable(&self, m: &ModelMeta, field: usize) -> Result<()> {
        match self
            .rules(m.id)
            .and_then(|r| r.fields.get(&field))
            .map(|r| self.cond(m, r))
        {
            None | Some(Cond::True) => Ok(()),
            Some(_) => Err(self.refuse(format!(
                "filtering or ordering on `{}`",
                m.fields[field].graphql_name
            ))),
        }
    }

    /// The fields a row-dependent field rule needs fetched with the row.
    pub fn rule_columns(&self, m: &ModelMeta) -> Vec<usize> {
        let mut out = Vec::new();
        if let Some(r) = self.rules(m.id) {
            r.fields.values().for_each(|x| x.row_fields(&mut out));
        }
        out
    }
}

/// Checks a filter against the capability table and the principal's
/// rights: every operator fits its field's kind, every operand its type,
/// every field may be read on every row (else a filter would probe hidden
/// values), every related model may be queried.
pub fn check_filter(reg: &Registry, scope: &Scope, model: &ModelMeta, f: &Filter) -> Result<()> {
    check_filter_at(reg, scope, model, f, 0)
}

/// `AND` / `OR` / `NOT` and relation filters nested deeper than this are
/// refused: each level is a subquery or a parenthesis for the database.
pub const MAX_FILTER_DEPTH: usize = 12;

/// The longest text a pattern filter (`contains`, `startsWith` …) takes on
/// a text column without a `max_length`. SQLite refuses LIKE patterns over
/// 50,000 bytes; a search term is far shorter.
pub const MAX_PATTERN_CHARS: usize = 1_000;

fn check_filter_at(
    reg: &Registry,
    scope: &Scope,
    model: &ModelMeta,
    f: &Filter,
    depth: usize,
) -> Result<()> {
    let deeper = || {
        if depth >= MAX_FILTER_DEPTH {
            Err(Error::bad_input(format!(
                "the filter nests more than {MAX_FILTER_DEPTH} levels of AND / OR / NOT and relations"
            )))
        } else {
            Ok(depth + 1)
        }
    };
    match f {
        Filter::And(parts) | Filter::Or(parts) => {
            let d = deeper()?;
            parts
                .iter()
                .try_for_each(|p| check_filter_at(reg, scope, model, p, d))
        }
        Filter::Not(inner) => check_filter_at(reg, scope, model, inner, deeper()?),
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
                (_, FilterValue::One(Value::String(text))) if op.is_text() => {
                    let max = match meta.kind {
                        FieldKind::String { max_length } => (max_length as usize).min(10_000),
                        _ => MAX_PATTERN_CHARS,
                    };
                    if text.chars().count() > max {
                        Err(Error::bad_input(format!(
                            "{} takes at most {max} characters",
                            at()
                        )))
                    } else {
                        Ok(())
                    }
                }
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
            check_filter_at(reg, scope, target, filter, deeper()?)
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
