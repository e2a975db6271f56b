//! Permission rules as model facts: declared per model ([`ModelRules`]),
//! resolved by the registry into [`RuleSet`]s whose leaves name field and
//! relation indices. The query engine turns them into a request's scope
//! (SQL row conditions, field visibility, write checks); the GraphQL surface
//! derives the auth directives a gateway may enforce ([`Need`]).

use std::{collections::HashMap, fmt, future::Future, pin::Pin, sync::Arc};

use crate::{ModelId, ModelKey, Principal, Value};

/// An async check on the principal alone, for rules no leaf expresses.
pub type Predicate =
    Arc<dyn Fn(Option<Principal>) -> Pin<Box<dyn Future<Output = bool> + Send>> + Send + Sync>;

/// A permission rule. Leaves on the principal (`Authenticated`, `Staff`,
/// `Perm`, `Custom`) hold or not for the whole request; leaves on the row
/// (`Owner`, `Equals`, `Visible`) become SQL conditions, or are checked on each row.
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

impl fmt::Debug for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
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
        Fut: Future<Output = bool> + Send + 'static,
    {
        Rule::Custom(Arc::new(move |p| Box::pin(f(p))))
    }
}

/// The rules of one model. Reads are open until restricted; each write
/// needs the model's permission (Django's `app.add_model`,
/// `app.change_model`, `app.delete_model`, which `migrate` creates and
/// superusers hold) until a rule replaces it, so a new model is never
/// writable by anonymous clients by accident.
#[derive(Debug, Clone)]
pub struct ModelRules {
    pub(crate) view: Rule,
    pub(crate) list: Rule,
    pub(crate) rows: Rule,
    /// `None`: the model permission.
    pub(crate) create: Option<Rule>,
    pub(crate) update: Option<Rule>,
    pub(crate) delete: Option<Rule>,
    pub(crate) fields: Vec<(&'static str, Rule)>,
}

impl Default for ModelRules {
    fn default() -> Self {
        ModelRules {
            view: Rule::Anyone,
            list: Rule::Anyone,
            rows: Rule::Anyone,
            create: None,
            update: None,
            delete: None,
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
    /// Who may use the model's root fields, the list (`users`) and the
    /// lookups (`user(id:)`), on top of `view` (principal-only leaves).
    /// Rows reached through a relation (a post's `author`) or resolved for
    /// a gateway (`_entities`) follow `view` and `rows` alone: this keeps a
    /// model from being enumerated, not its related rows from being shown.
    pub fn list(mut self, r: Rule) -> Self {
        self.list = r;
        self
    }
    /// Which rows are visible, everywhere.
    pub fn rows(mut self, r: Rule) -> Self {
        self.rows = r;
        self
    }
    /// Who may create; `Owner(field)` requires the input's field to be the principal.
    pub fn create(mut self, r: Rule) -> Self {
        self.create = Some(r);
        self
    }
    /// Which visible rows the principal may change.
    pub fn update(mut self, r: Rule) -> Self {
        self.update = Some(r);
        self
    }
    /// Which visible rows the principal may delete.
    pub fn delete(mut self, r: Rule) -> Self {
        self.delete = Some(r);
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
pub struct RulesDecl {
    pub model: ModelKey,
    pub rules: ModelRules,
}

/// A rule with field and relation names resolved to indices.
#[derive(Debug, Clone, PartialEq)]
pub enum RuleExpr {
    Const(bool),
    Authenticated,
    Staff,
    Superuser,
    Perm(String),
    /// A field index of the model.
    Owner(usize),
    Equals(usize, Value),
    /// A to-one relation index and its target model.
    Visible(usize, ModelId),
    /// An index into [`crate::Registry::predicates`].
    Custom(usize),
    Any(Vec<RuleExpr>),
    All(Vec<RuleExpr>),
}

impl RuleExpr {
    /// Whether a client without a login may pass: `Equals` and `Visible`
    /// need no principal; a custom predicate cannot be told, so it is not
    /// reported.
    pub fn open_to_anonymous(&self) -> bool {
        match self {
            RuleExpr::Const(b) => *b,
            RuleExpr::Equals(..) | RuleExpr::Visible(..) => true,
            RuleExpr::Authenticated
            | RuleExpr::Staff
            | RuleExpr::Superuser
            | RuleExpr::Perm(_)
            | RuleExpr::Owner(_)
            | RuleExpr::Custom(_) => false,
            RuleExpr::Any(v) => v.iter().any(RuleExpr::open_to_anonymous),
            RuleExpr::All(v) => v.iter().all(RuleExpr::open_to_anonymous),
        }
    }

    /// The fields the rule reads from a row.
    pub fn row_fields(&self, out: &mut Vec<usize>) {
        match self {
            RuleExpr::Owner(i) | RuleExpr::Equals(i, _) => out.push(*i),
            RuleExpr::Any(v) | RuleExpr::All(v) => v.iter().for_each(|x| x.row_fields(out)),
            RuleExpr::Const(_)
            | RuleExpr::Authenticated
            | RuleExpr::Staff
            | RuleExpr::Superuser
            | RuleExpr::Perm(_)
            | RuleExpr::Custom(_)
            | RuleExpr::Visible(..) => {}
        }
    }
}

/// One model's resolved rules.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleSet {
    pub view: RuleExpr,
    /// The root fields (list and lookups), on top of `view`.
    pub list: RuleExpr,
    pub rows: RuleExpr,
    pub create: RuleExpr,
    pub update: RuleExpr,
    pub delete: RuleExpr,
    /// Read rules by field index.
    pub fields: HashMap<usize, RuleExpr>,
}

/// The codename of a model's permission for `action` (`add`, `change`,
/// `delete`, `view`): `blog.change_post`.
pub fn model_permission(key: ModelKey, action: &str) -> String {
    format!(
        "{}.{action}_{}",
        key.app,
        crate::naming::snake_case(key.name)
    )
}

impl RuleSet {
    /// The rules of a model that declares none: public reads, writes by
    /// the model permissions.
    pub fn defaults(key: ModelKey) -> RuleSet {
        RuleSet {
            view: RuleExpr::Const(true),
            list: RuleExpr::Const(true),
            rows: RuleExpr::Const(true),
            create: RuleExpr::Perm(model_permission(key, "add")),
            update: RuleExpr::Perm(model_permission(key, "change")),
            delete: RuleExpr::Perm(model_permission(key, "delete")),
            fields: HashMap::new(),
        }
    }

    pub fn op(&self, op: Operation) -> &RuleExpr {
        match op {
            Operation::View => &self.view,
            Operation::List => &self.list,
            Operation::Create => &self.create,
            Operation::Update => &self.update,
            Operation::Delete => &self.delete,
        }
    }
}

/// Which operation of a model a rule is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    View,
    /// The root list and lookup fields.
    List,
    Create,
    Update,
    Delete,
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

/// The scope an access token carries for staff users.
pub const SCOPE_STAFF: &str = "staff";
/// The scope an access token carries for superusers.
pub const SCOPE_SUPERUSER: &str = "superuser";

/// Above this many alternatives a conjunction of scope choices is left at
/// `Authenticated` (still necessary, and the SDL stays readable).
const MAX_SCOPE_SETS: usize = 16;

impl Need {
    pub fn of(r: &RuleExpr) -> Need {
        let one = |s: &str| vec![s.to_owned()];
        match r {
            RuleExpr::Const(true)
            | RuleExpr::Equals(..)
            | RuleExpr::Visible(..)
            | RuleExpr::Custom(_) => Need::Nothing,
            RuleExpr::Const(false) => Need::Never,
            RuleExpr::Authenticated | RuleExpr::Owner(_) => Need::Authenticated,
            RuleExpr::Staff => Need::Scopes(vec![one(SCOPE_STAFF)]),
            RuleExpr::Superuser => Need::Scopes(vec![one(SCOPE_SUPERUSER)]),
            // Superusers hold every permission without it being listed.
            RuleExpr::Perm(p) => Need::Scopes(vec![one(p), one(SCOPE_SUPERUSER)]),
            RuleExpr::Any(v) => Need::any(v.iter().map(Need::of)),
            RuleExpr::All(v) => Need::all(v.iter().map(Need::of)),
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

/// Warnings ([`crate::CheckId::W001`]): generated mutations that
/// anonymous clients may call because a rule says so. Not errors (a guest
/// book is a fair design), but worth a line at start-up.
pub fn warnings(reg: &crate::Registry) -> Vec<crate::CheckError> {
    let mut out = Vec::new();
    for m in reg.models().iter().filter(|m| m.exposed && !m.external) {
        let ops = [
            (m.operations.create, "create", &m.rules.create),
            (m.operations.update, "update", &m.rules.update),
            (m.operations.delete, "delete", &m.rules.delete),
        ];
        let open: Vec<&str> = ops
            .iter()
            .filter(|(on, _, r)| *on && r.open_to_anonymous())
            .map(|(_, what, _)| *what)
            .collect();
        if !open.is_empty() {
            out.push(crate::CheckError::new(
                crate::CheckId::W001,
                m.key.to_string(),
                format!(
                    "anonymous clients may {} {} rows",
                    open.join(", "),
                    m.graphql_name
                ),
                "drop the rule to require the model permissions, or require a login (Rule::Authenticated)",
            ));
        }
    }
    out
}

fn dedup(mut sets: Vec<Vec<String>>) -> Vec<Vec<String>> {
    let mut seen = std::collections::HashSet::new();
    sets.retain(|s| seen.insert(s.clone()));
    sets
}

fn check(at: String, message: String) -> crate::CheckError {
    crate::CheckError::new(
        crate::CheckId::E011,
        at,
        message,
        "name Rust fields of the model, and keep row leaves (Owner, Equals) out of `view` and `create`",
    )
}

/// Resolves every model's declared rules into its [`RuleSet`] (a later
/// declaration for the same model replaces an earlier one).
pub(crate) fn resolve(
    reg: &mut crate::Registry,
    declared: Vec<RulesDecl>,
    errors: &mut Vec<crate::CheckError>,
) {
    let mut predicates = Vec::new();
    for d in declared {
        let Some(id) = reg.by_key(d.model).map(|m| m.id) else {
            errors.push(crate::CheckError::new(
                crate::CheckId::E001,
                d.model.to_string(),
                "permissions for a model that is not registered",
                format!(
                    "add the `{}` app (or the model) to the service",
                    d.model.app
                ),
            ));
            continue;
        };
        let m = reg.model(id);
        let mut set = RuleSet::defaults(m.key);
        set.view = lower(m, &d.rules.view, false, "view", &mut predicates, errors);
        set.list = lower(m, &d.rules.list, false, "list", &mut predicates, errors);
        set.rows = lower(m, &d.rules.rows, true, "rows", &mut predicates, errors);
        let writes = [
            (&d.rules.create, &mut set.create, "create"),
            (&d.rules.update, &mut set.update, "update"),
            (&d.rules.delete, &mut set.delete, "delete"),
        ];
        for (declared, slot, what) in writes {
            if let Some(r) = declared {
                *slot = lower(m, r, true, what, &mut predicates, errors);
            }
        }
        for (name, r) in &d.rules.fields {
            match m.field(name) {
                Some((i, _)) => {
                    let rule = lower(m, r, true, name, &mut predicates, errors);
                    set.fields.insert(i, rule);
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
        reg.models[id.0].rules = set;
    }
    reg.predicates = crate::registry::Predicates(predicates);
}

fn lower(
    m: &crate::ModelMeta,
    r: &Rule,
    row_ok: bool,
    what: &str,
    predicates: &mut Vec<Predicate>,
    errors: &mut Vec<crate::CheckError>,
) -> RuleExpr {
    let mut field = |name: &str| -> Option<usize> {
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
        Rule::Anyone => RuleExpr::Const(true),
        Rule::Nobody => RuleExpr::Const(false),
        Rule::Authenticated => RuleExpr::Authenticated,
        Rule::Staff => RuleExpr::Staff,
        Rule::Superuser => RuleExpr::Superuser,
        Rule::Perm(p) => RuleExpr::Perm(p.clone()),
        Rule::Owner(f) => field(f).map_or(RuleExpr::Const(false), RuleExpr::Owner),
        Rule::Equals(f, v) => {
            field(f).map_or(RuleExpr::Const(false), |i| RuleExpr::Equals(i, v.clone()))
        }
        Rule::Visible(rel) => match m.relation(rel).filter(|(_, r)| !r.is_many()) {
            Some((i, r)) if row_ok => RuleExpr::Visible(i, r.target),
            _ => {
                errors.push(check(
                    format!("{}.{what}", m.key),
                    format!(
                        "`Visible({rel})` needs a to-one relation of {}, in a row rule",
                        m.key.name
                    ),
                ));
                RuleExpr::Const(false)
            }
        },
        Rule::Custom(p) => {
            predicates.push(Arc::clone(p));
            RuleExpr::Custom(predicates.len() - 1)
        }
        Rule::Any(v) => RuleExpr::Any(
            v.iter()
                .map(|x| lower(m, x, row_ok, what, predicates, errors))
                .collect(),
        ),
        Rule::All(v) => RuleExpr::All(
            v.iter()
                .map(|x| lower(m, x, row_ok, what, predicates, errors))
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::{Need, RuleExpr as R};

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
