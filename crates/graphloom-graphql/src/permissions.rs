//! Permissions declared per model and enforced on every path: which
//! operations a principal may run, which rows it may see or change, and which
//! fields it may read.
//!
//! Row rules compile into the SQL of every statement that reaches the model
//! (root lists and lookups, both directions of nested relations, counts,
//! filters and ordering across relations, mutation targets and references),
//! so invisible rows are simply absent: nothing leaks through counts, cursors,
//! filters or error messages.

use std::{collections::HashMap, sync::Arc};

use futures_util::future::BoxFuture;
use graphloom_auth::token::Principal;
use graphloom_meta::{CheckError, FieldMeta, ModelId, ModelKey, ModelMeta, Registry, Value};

use crate::{
    convert::parse_typed,
    error::Error,
    plan::{Filter, FilterValue, Op},
};

/// An async check on the principal alone, for rules no leaf expresses.
pub type Predicate = Arc<dyn Fn(Option<Principal>) -> BoxFuture<'static, bool> + Send + Sync>;

/// A permission rule. Leaves on the principal (`Authenticated`, `Staff`,
/// `Perm`, `Custom`) hold or not for the whole request; leaves on the row
/// (`Owner`, `Equals`) become SQL conditions, or are checked on each row.
#[derive(Clone)]
pub enum Rule {
    Anyone,
    Nobody,
    Authenticated,
    /// Staff or superuser.
    Staff,
    Superuser,
    /// Holds the permission `app.codename` (superusers hold all).
    Perm(String),
    /// The row's field (a foreign key, or the primary key) is the principal's user id.
    Owner(&'static str),
    /// The row's field equals the value.
    Equals(&'static str, Value),
    /// The row of a to-one relation (by its GraphQL name) is visible:
    /// "a comment is visible when its post is". For `rows` rules.
    Visible(&'static str),
    Custom(Predicate),
    Any(Vec<Rule>),
    All(Vec<Rule>),
}

impl std::fmt::Debug for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Rule::Anyone => f.write_str("Anyone"),
            Rule::Nobody => f.write_str("Nobody"),
            Rule::Authenticated => f.write_str("Authenticated"),
            Rule::Staff => f.write_str("Staff"),
            Rule::Superuser => f.write_str("Superuser"),
            Rule::Perm(p) => write!(f, "Perm({p})"),
            Rule::Owner(x) => write!(f, "Owner({x})"),
            Rule::Equals(x, v) => write!(f, "Equals({x}, {v:?})"),
            Rule::Visible(x) => write!(f, "Visible({x})"),
            Rule::Custom(_) => f.write_str("Custom(..)"),
            Rule::Any(v) => f.debug_tuple("Any").field(v).finish(),
            Rule::All(v) => f.debug_tuple("All").field(v).finish(),
        }
    }
}

impl Rule {
    pub fn perm(codename: impl Into<String>) -> Rule {
        Rule::Perm(codename.into())
    }
    pub fn or(self, other: Rule) -> Rule {
        Rule::Any(vec![self, other])
    }
    pub fn and(self, other: Rule) -> Rule {
        Rule::All(vec![self, other])
    }
    /// An async predicate on the principal.
    pub fn custom<F, Fut>(f: F) -> Rule
    where
        F: Fn(Option<Principal>) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = bool> + Send + 'static,
    {
        Rule::Custom(Arc::new(move |p| Box::pin(f(p))))
    }
}

/// The rules of one model. Everything is allowed until restricted.
#[derive(Debug, Clone)]
pub struct ModelRules {
    pub(crate) view: Rule,
    pub(crate) rows: Rule,
    pub(crate) create: Rule,
    pub(crate) update: Rule,
    pub(crate) delete: Rule,
    pub(crate) fields: Vec<(&'static str, Rule)>,
}

impl Default for ModelRules {
    fn default() -> Self {
        ModelRules {
            view: Rule::Anyone,
            rows: Rule::Anyone,
            create: Rule::Anyone,
            update: Rule::Anyone,
            delete: Rule::Anyone,
            fields: Vec::new(),
        }
    }
}

impl ModelRules {
    pub fn new() -> Self {
        Self::default()
    }
    /// Who may query the model at all (principal-only leaves).
    pub fn view(mut self, r: Rule) -> Self {
        self.view = r;
        self
    }
    /// Which rows are visible, everywhere.
    pub fn rows(mut self, r: Rule) -> Self {
        self.rows = r;
        self
    }
    /// Who may create; `Owner(field)` requires the input's field to be the principal.
    pub fn create(mut self, r: Rule) -> Self {
        self.create = r;
        self
    }
    /// Which visible rows the principal may change.
    pub fn update(mut self, r: Rule) -> Self {
        self.update = r;
        self
    }
    /// Which visible rows the principal may delete.
    pub fn delete(mut self, r: Rule) -> Self {
        self.delete = r;
        self
    }
    /// Who may read a field (row leaves allowed: `Owner("id")` is "the user themself").
    pub fn field(mut self, name: &'static str, r: Rule) -> Self {
        self.fields.push((name, r));
        self
    }
}

/// Rules declared for a model, before resolution.
#[derive(Debug, Clone)]
pub struct Declared {
    pub model: ModelKey,
    pub rules: ModelRules,
}

/// A rule with field names resolved to indices.
#[derive(Clone)]
pub(crate) enum R {
    Const(bool),
    Authenticated,
    Staff,
    Superuser,
    Perm(String),
    Owner(usize),
    Equals(usize, Value),
    /// Relation index and its target model.
    Visible(usize, ModelId),
    Custom(usize),
    Any(Vec<R>),
    All(Vec<R>),
}

#[derive(Clone)]
pub(crate) struct Resolved {
    view: R,
    rows: R,
    create: R,
    update: R,
    delete: R,
    fields: HashMap<usize, R>,
}

/// Every model's resolved rules, and the custom predicates they use.
#[derive(Clone, Default)]
pub struct Permissions {
    models: HashMap<ModelId, Resolved>,
    customs: Vec<Predicate>,
}

impl std::fmt::Debug for Permissions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Permissions")
            .field("models", &self.models.len())
            .finish()
    }
}

fn check(at: String, message: String) -> CheckError {
    CheckError {
        id: "graphloom.E011",
        at,
        message,
        hint: "name Rust fields of the model, and keep row leaves (Owner, Equals) out of `view` and `create`".into(),
    }
}

impl Permissions {
    pub fn resolve(reg: &Registry, declared: &[Declared]) -> Result<Self, Vec<CheckError>> {
        let mut out = Permissions::default();
        let mut errors = Vec::new();
        for d in declared {
            let Some(m) = reg.by_key(d.model) else {
                errors.push(check(
                    d.model.to_string(),
                    "permissions for a model that is not registered".into(),
                ));
                continue;
            };
            let mut res =
                |r: &Rule, row_ok: bool, what: &str| out.lower(m, r, row_ok, what, &mut errors);
            let resolved = Resolved {
                view: res(&d.rules.view, false, "view"),
                rows: res(&d.rules.rows, true, "rows"),
                create: res(&d.rules.create, true, "create"),
                update: res(&d.rules.update, true, "update"),
                delete: res(&d.rules.delete, true, "delete"),
                fields: HashMap::new(),
            };
            let mut resolved = resolved;
            for (name, r) in &d.rules.fields {
                match m.field(name) {
                    Some((i, _)) => {
                        let rr = out.lower(m, r, true, name, &mut errors);
                        resolved.fields.insert(i, rr);
                    }
                    None => errors.push(check(
                        format!("{}.{name}", m.key),
                        format!(
                            "a field rule names `{name}`, which {} does not have",
                            m.key.name
                        ),
                    )),
                }
            }
            out.models.insert(m.id, resolved);
        }
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(errors)
        }
    }

    fn lower(
        &mut self,
        m: &ModelMeta,
        r: &Rule,
        row_ok: bool,
        what: &str,
        errors: &mut Vec<CheckError>,
    ) -> R {
        let field = |name: &str, errors: &mut Vec<CheckError>| -> Option<usize> {
            if !row_ok {
                errors.push(check(
                    format!("{}.{what}", m.key),
                    format!("the `{what}` rule cannot depend on a row (`{name}`)"),
                ));
                return None;
            }
            match m.field(name) {
                Some((i, _)) => Some(i),
                None => {
                    errors.push(check(
                        format!("{}.{what}", m.key),
                        format!(
                            "the rule names `{name}`, which {} does not have",
                            m.key.name
                        ),
                    ));
                    None
                }
            }
        };
        match r {
            Rule::Anyone => R::Const(true),
            Rule::Nobody => R::Const(false),
            Rule::Authenticated => R::Authenticated,
            Rule::Staff => R::Staff,
            Rule::Superuser => R::Superuser,
            Rule::Perm(p) => R::Perm(p.clone()),
            Rule::Owner(f) => field(f, errors).map_or(R::Const(false), R::Owner),
            Rule::Equals(f, v) => {
                field(f, errors).map_or(R::Const(false), |i| R::Equals(i, v.clone()))
            }
            Rule::Visible(rel) => match m.relation(rel).filter(|(_, r)| !r.is_many()) {
                Some((i, r)) if row_ok => R::Visible(i, r.target),
                _ => {
                    errors.push(check(
                        format!("{}.{what}", m.key),
                        format!(
                            "`Visible({rel})` needs a to-one relation of {}, in a row rule",
                            m.key.name
                        ),
                    ));
                    R::Const(false)
                }
            },
            Rule::Custom(p) => {
                self.customs.push(Arc::clone(p));
                R::Custom(self.customs.len() - 1)
            }
            Rule::Any(v) => R::Any(
                v.iter()
                    .map(|x| self.lower(m, x, row_ok, what, errors))
                    .collect(),
            ),
            Rule::All(v) => R::All(
                v.iter()
                    .map(|x| self.lower(m, x, row_ok, what, errors))
                    .collect(),
            ),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.models.is_empty()
    }

    /// What the model's rule for `op` asks of every request (see [`Need`]).
    pub fn need(&self, model: ModelId, op: Operation) -> Need {
        let Some(r) = self.models.get(&model) else {
            return Need::Nothing;
        };
        Need::of(match op {
            Operation::View => &r.view,
            Operation::Create => &r.create,
            Operation::Update => &r.update,
            Operation::Delete => &r.delete,
        })
    }

    /// What a field's read rule asks of every request that sees its value.
    pub fn field_need(&self, model: ModelId, field: usize) -> Need {
        self.models
            .get(&model)
            .and_then(|r| r.fields.get(&field))
            .map_or(Need::Nothing, Need::of)
    }

    /// Whether a field has a read rule (its GraphQL type is then nullable).
    pub fn has_field_rule(&self, model: ModelId, field: usize) -> bool {
        self.models
            .get(&model)
            .is_some_and(|r| r.fields.contains_key(&field))
    }
}

/// What a rule asks of every request it lets through, in the terms of
/// Apollo's auth directives (`@authenticated`, `@requiresScopes`). Only a
/// necessary condition: a gateway enforcing it never refuses a request the
/// subgraph would allow, and the subgraph still applies the whole rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Need {
    /// The rule lets no one through; no directive (the subgraph refuses).
    Never,
    Nothing,
    Authenticated,
    /// Any one of these sets of scopes, each held in full (as in
    /// `@requiresScopes(scopes:)`); holding scopes implies a login.
    Scopes(Vec<Vec<String>>),
}

/// Above this many alternatives a conjunction of scope choices is left at
/// `Authenticated` (still necessary, and the SDL stays readable).
const MAX_SCOPE_SETS: usize = 16;

impl Need {
    fn of(r: &R) -> Need {
        use graphloom_auth::token::{SCOPE_STAFF, SCOPE_SUPERUSER};
        let one = |s: &str| vec![s.to_owned()];
        match r {
            R::Const(true) | R::Equals(..) | R::Visible(..) | R::Custom(_) => Need::Nothing,
            R::Const(false) => Need::Never,
            R::Authenticated | R::Owner(_) => Need::Authenticated,
            R::Staff => Need::Scopes(vec![one(SCOPE_STAFF)]),
            R::Superuser => Need::Scopes(vec![one(SCOPE_SUPERUSER)]),
            // Superusers hold every permission without it being listed.
            R::Perm(p) => Need::Scopes(vec![one(p), one(SCOPE_SUPERUSER)]),
            R::Any(v) => Need::any(v.iter().map(Need::of)),
            R::All(v) => Need::all(v.iter().map(Need::of)),
        }
    }

    fn any(needs: impl Iterator<Item = Need>) -> Need {
        let mut sets: Vec<Vec<String>> = Vec::new();
        let mut out = Need::Never;
        for n in needs {
            match n {
                Need::Never => {}
                Need::Nothing => return Need::Nothing,
                Need::Authenticated => out = Need::Authenticated,
                Need::Scopes(s) => {
                    if out == Need::Never {
                        out = Need::Scopes(Vec::new());
                    }
                    sets.extend(s);
                }
            }
        }
        match out {
            Need::Scopes(_) => Need::Scopes(dedup(sets)),
            other => other,
        }
    }

    fn all(needs: impl Iterator<Item = Need>) -> Need {
        let mut out = Need::Nothing;
        for n in needs {
            out = match (out, n) {
                (Need::Never, _) | (_, Need::Never) => return Need::Never,
                (x, Need::Nothing) | (Need::Nothing, x) => x,
                (Need::Authenticated, x) | (x, Need::Authenticated) => x,
                (Need::Scopes(a), Need::Scopes(b)) => {
                    if a.len() * b.len() > MAX_SCOPE_SETS {
                        Need::Authenticated
                    } else {
                        let mut sets = Vec::new();
                        for x in &a {
                            for y in &b {
                                let mut s = x.clone();
                                s.extend(y.iter().cloned());
                                s.sort();
                                s.dedup();
                                sets.push(s);
                            }
                        }
                        Need::Scopes(dedup(sets))
                    }
                }
            };
        }
        out
    }
}

fn dedup(mut sets: Vec<Vec<String>>) -> Vec<Vec<String>> {
    let mut seen = std::collections::HashSet::new();
    sets.retain(|s| seen.insert(s.clone()));
    sets
}

/// Which operation of a model a [`Need`] is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    View,
    Create,
    Update,
    Delete,
}

/// A condition after the principal's leaves are decided.
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
    /// The SQL filter, with FALSE as an empty OR.
    pub fn filter(&self) -> Option<Filter> {
        match self {
            Cond::True => None,
            Cond::False => Some(Filter::Or(Vec::new())),
            Cond::Rows(f) => Some(f.clone()),
        }
    }
}

/// What one request may do: the principal, its custom predicates decided, and
/// each model's visible-row filter.
#[derive(Clone, Default)]
pub struct Scope {
    pub principal: Option<Principal>,
    perms: Arc<Permissions>,
    registry: Option<Arc<Registry>>,
    customs: Vec<bool>,
    rows: HashMap<ModelId, Option<Filter>>,
}

impl std::fmt::Debug for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scope")
            .field("principal", &self.principal)
            .finish_non_exhaustive()
    }
}

impl Scope {
    /// No restriction at all (system work, tests of the planner alone).
    pub fn unrestricted() -> Self {
        Scope::default()
    }

    /// Decides the custom predicates once and compiles every model's row rule.
    pub async fn new(
        registry: Arc<Registry>,
        perms: Arc<Permissions>,
        principal: Option<Principal>,
    ) -> Self {
        let mut customs = Vec::with_capacity(perms.customs.len());
        for p in &perms.customs {
            customs.push(p(principal.clone()).await);
        }
        let mut scope = Scope {
            principal,
            perms: Arc::clone(&perms),
            registry: Some(Arc::clone(&registry)),
            customs,
            rows: HashMap::new(),
        };
        let mut rows = HashMap::new();
        for id in perms.models.keys() {
            let cond = scope.rows_cond(&registry, *id, &mut Vec::new());
            rows.insert(*id, cond.filter());
        }
        scope.rows = rows;
        scope
    }

    /// The visible-row condition of a model, following `Visible` into the
    /// models it names; a cycle of `Visible` rules sees nothing (safe side).
    fn rows_cond(&self, reg: &Registry, id: ModelId, visiting: &mut Vec<ModelId>) -> Cond {
        let Some(r) = self.perms.models.get(&id) else {
            return Cond::True;
        };
        if visiting.contains(&id) {
            return Cond::False;
        }
        visiting.push(id);
        let out = self.cond_with(reg.model(id), &r.rows, &mut |scope, target| {
            scope.rows_cond(reg, target, visiting)
        });
        visiting.pop();
        out
    }

    fn leaf(&self, ok: bool) -> Cond {
        if ok { Cond::True } else { Cond::False }
    }

    pub(crate) fn cond(&self, m: &ModelMeta, r: &R) -> Cond {
        // Outside row rules a related row's visibility is not known in memory.
        self.cond_with(m, r, &mut |_, _| Cond::False)
    }

    fn cond_with(
        &self,
        m: &ModelMeta,
        r: &R,
        related: &mut dyn FnMut(&Scope, ModelId) -> Cond,
    ) -> Cond {
        let p = self.principal.as_ref();
        match r {
            R::Const(b) => self.leaf(*b),
            R::Authenticated => self.leaf(p.is_some()),
            R::Staff => self.leaf(p.is_some_and(|p| p.staff || p.superuser)),
            R::Superuser => self.leaf(p.is_some_and(|p| p.superuser)),
            R::Perm(code) => self.leaf(p.is_some_and(|p| p.has_perm(code))),
            R::Custom(i) => self.leaf(self.customs.get(*i).copied().unwrap_or(false)),
            R::Owner(i) => match p.and_then(|p| self.user_key(&m.fields[*i], &p.user_id)) {
                Some(v) => Cond::Rows(Filter::Field {
                    field: *i,
                    op: Op::Eq,
                    value: FilterValue::One(v),
                }),
                None => Cond::False,
            },
            R::Equals(i, v) => Cond::Rows(Filter::Field {
                field: *i,
                op: Op::Eq,
                value: FilterValue::One(v.clone()),
            }),
            R::Visible(rel, target) => match related(self, *target) {
                Cond::True => Cond::True,
                Cond::False => Cond::False,
                Cond::Rows(f) => Cond::Rows(Filter::One {
                    relation: *rel,
                    filter: Box::new(f),
                }),
            },
            R::Any(v) => Cond::or(v.iter().map(|x| self.cond_with(m, x, related)).collect()),
            R::All(v) => Cond::and(v.iter().map(|x| self.cond_with(m, x, related)).collect()),
        }
    }

    /// The principal's user id as a value of `field`'s type.
    fn user_key(&self, field: &FieldMeta, user_id: &str) -> Option<Value> {
        let reg = self.registry.as_ref()?;
        parse_typed(
            reg.value_type(field),
            None,
            &async_graphql::Value::String(user_id.to_owned()),
        )
        .ok()
    }

    /// The rows of `model` the principal may see, as a filter (`None`: all).
    pub fn rows(&self, model: ModelId) -> Option<&Filter> {
        self.rows.get(&model).and_then(Option::as_ref)
    }

    fn refused(&self, what: String) -> Error {
        match self.principal {
            None => Error::coded(format!("{what}: log in first"), "UNAUTHENTICATED"),
            Some(_) => Error::coded(format!("{what}: not allowed"), "FORBIDDEN"),
        }
    }

    /// Whether the principal may query `model` at all.
    pub fn can_view(&self, m: &ModelMeta) -> Result<(), Error> {
        match self.perms.models.get(&m.id).map(|r| self.cond(m, &r.view)) {
            None | Some(Cond::True) => Ok(()),
            Some(_) => Err(self.refused(format!("{} cannot be queried", m.plural_name))),
        }
    }

    /// The condition on the target row of an update or delete.
    pub(crate) fn write_cond(&self, m: &ModelMeta, delete: bool) -> Cond {
        match self.perms.models.get(&m.id) {
            None => Cond::True,
            Some(r) => self.cond(m, if delete { &r.delete } else { &r.update }),
        }
    }

    /// Whether a create with these values is allowed (row leaves checked on the values).
    pub(crate) fn can_create(
        &self,
        m: &ModelMeta,
        values: &std::collections::BTreeMap<usize, Value>,
    ) -> Result<(), Error> {
        let Some(r) = self.perms.models.get(&m.id) else {
            return Ok(());
        };
        if self.holds_on(m, &r.create, &|i| {
            values.get(&i).cloned().unwrap_or(Value::Null)
        }) {
            Ok(())
        } else {
            Err(self.refused(format!("creating a {}", m.graphql_name)))
        }
    }

    /// Whether the update (or delete) rule allows changing this stored row.
    pub(crate) fn may_write(
        &self,
        m: &ModelMeta,
        delete: bool,
        row: &std::collections::BTreeMap<usize, Value>,
    ) -> bool {
        match self.write_cond(m, delete) {
            Cond::True => true,
            Cond::False => false,
            Cond::Rows(f) => {
                self.filter_holds(&f, &|i| row.get(&i).cloned().unwrap_or(Value::Null))
            }
        }
    }

    /// The refusal for an operation the principal may not run.
    pub(crate) fn forbid(&self, what: String) -> Error {
        self.refused(what)
    }

    /// Evaluates a rule against one row's values in memory.
    fn holds_on(&self, m: &ModelMeta, r: &R, value: &dyn Fn(usize) -> Value) -> bool {
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
            // Rules produce only equality leaves.
            Filter::Field { .. } | Filter::One { .. } | Filter::Many { .. } => false,
        }
    }

    /// Whether the principal may read `field` of the row with these values.
    pub fn field_visible(
        &self,
        m: &ModelMeta,
        field: usize,
        value: &dyn Fn(usize) -> Value,
    ) -> bool {
        match self
            .perms
            .models
            .get(&m.id)
            .and_then(|r| r.fields.get(&field))
        {
            None => true,
            Some(r) => self.holds_on(m, r, value),
        }
    }

    /// Whether `field` may be filtered or ordered on: only when the principal
    /// may read it on every row (otherwise a filter would probe hidden values).
    pub fn field_usable(&self, m: &ModelMeta, field: usize) -> Result<(), Error> {
        match self
            .perms
            .models
            .get(&m.id)
            .and_then(|r| r.fields.get(&field))
            .map(|r| self.cond(m, r))
        {
            None | Some(Cond::True) => Ok(()),
            Some(_) => Err(self.refused(format!(
                "filtering or ordering on `{}`",
                m.fields[field].graphql_name
            ))),
        }
    }

    /// The fields a row-dependent field rule needs fetched.
    pub(crate) fn rule_columns(&self, m: &ModelMeta) -> Vec<usize> {
        fn walk(r: &R, out: &mut Vec<usize>) {
            match r {
                R::Owner(i) | R::Equals(i, _) => out.push(*i),
                R::Any(v) | R::All(v) => v.iter().for_each(|x| walk(x, out)),
                R::Const(_)
                | R::Authenticated
                | R::Staff
                | R::Superuser
                | R::Perm(_)
                | R::Custom(_)
                | R::Visible(..) => {}
            }
        }
        let mut out = Vec::new();
        if let Some(r) = self.perms.models.get(&m.id) {
            r.fields.values().for_each(|x| walk(x, &mut out));
        }
        out
    }
}

#[cfg(test)]
mod need_tests {
    use super::{Need, R};

    fn scopes(sets: &[&[&str]]) -> Need {
        Need::Scopes(
            sets.iter()
                .map(|s| s.iter().map(|x| x.to_string()).collect())
                .collect(),
        )
    }

    #[test]
    fn leaves() {
        assert_eq!(Need::of(&R::Const(true)), Need::Nothing);
        assert_eq!(Need::of(&R::Const(false)), Need::Never);
        assert_eq!(Need::of(&R::Owner(0)), Need::Authenticated);
        assert_eq!(Need::of(&R::Custom(0)), Need::Nothing);
        assert_eq!(Need::of(&R::Staff), scopes(&[&["staff"]]));
        // A superuser holds every permission without it being listed.
        assert_eq!(
            Need::of(&R::Perm("a.b".into())),
            scopes(&[&["a.b"], &["superuser"]])
        );
    }

    #[test]
    fn any_keeps_only_what_every_branch_needs() {
        let any = |v| Need::of(&R::Any(v));
        assert_eq!(any(vec![R::Owner(0), R::Staff]), Need::Authenticated);
        assert_eq!(any(vec![R::Staff, R::Const(true)]), Need::Nothing);
        assert_eq!(any(vec![R::Const(false), R::Staff]), scopes(&[&["staff"]]));
        assert_eq!(
            any(vec![R::Staff, R::Superuser, R::Staff]),
            scopes(&[&["staff"], &["superuser"]])
        );
        assert_eq!(any(vec![]), Need::Never);
    }

    #[test]
    fn all_combines_sets() {
        let all = |v| Need::of(&R::All(v));
        assert_eq!(all(vec![R::Authenticated, R::Staff]), scopes(&[&["staff"]]));
        assert_eq!(all(vec![R::Const(true), R::Owner(0)]), Need::Authenticated);
        assert_eq!(all(vec![R::Staff, R::Const(false)]), Need::Never);
        assert_eq!(
            all(vec![R::Perm("a.x".into()), R::Staff]),
            scopes(&[&["a.x", "staff"], &["staff", "superuser"]])
        );
        // Too many alternatives: a login is still necessary.
        let perms = |p: &str| R::Any((0..5).map(|i| R::Perm(format!("{p}.{i}"))).collect());
        assert_eq!(all(vec![perms("a"), perms("b")]), Need::Authenticated);
        assert_eq!(all(vec![]), Need::Nothing);
    }
}
