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
    /// A named policy, declared once per service (`App::policy`): decided
    /// here like `Custom`, and printed as `@policy(policies:)` so a gateway
    /// that implements the same policy can refuse early.
    Policy(String),
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
            Rule::Policy(name) => write!(f, "Policy({name})"),
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
        Rule::Custom(predicate(f))
    }
    /// The policy `name`, which an app declares with `App::policy`.
    pub fn policy(name: impl Into<String>) -> Rule {
        Rule::Policy(name.into())
    }
}

/// An async function of the principal as a [`Predicate`].
pub fn predicate<F, Fut>(f: F) -> Predicate
where
    F: Fn(Option<Principal>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = bool> + Send + 'static,
{
    Arc::new(move |p| Box::pin(f(p)))
}

/// A named policy an app declares (`App::policy`), for rules to name
/// ([`Rule::policy`]).
#[derive(Clone)]
pub struct PolicyDecl {
    pub name: String,
    pub predicate: Predicate,
    /// The app that declares it, for errors.
    pub app: &'static str,
}

impl fmt::Debug for PolicyDecl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PolicyDecl({}, app {})", self.name, self.app)
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
    /// A named policy: its name and its index into
    /// [`crate::Registry::predicates`].
    Policy(String, usize),
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
            | RuleExpr::Custom(_)
            | RuleExpr::Policy(..) => false,
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
            | RuleExpr::Policy(..)
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
/// Apollo's auth directives (`@authenticated`, `@requiresScopes`,
/// `@policy`): any one of some [`Requirement`]s, each held in full. Only a
/// necessary condition: a gateway enforcing it never refuses a request the
/// subgraph would allow, and the subgraph still applies the whole rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Need {
    /// The rule lets no one through; no directive (the subgraph refuses).
    Never,
    /// Any one of these (never empty; one empty requirement needs nothing).
    OneOf(Vec<Requirement>),
}

/// One way through a rule: a login, scopes and policies, all held.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Requirement {
    /// A login; holding scopes implies one.
    pub login: bool,
    /// Scopes held in full (as in `@requiresScopes(scopes:)`), sorted.
    pub scopes: Vec<String>,
    /// Policies that all hold (as in `@policy(policies:)`), sorted.
    pub policies: Vec<String>,
}

/// The scope an access token carries for staff users.
pub const SCOPE_STAFF: &str = "staff";
/// The scope an access token carries for superusers.
pub const SCOPE_SUPERUSER: &str = "superuser";

/// Above this many alternatives a conjunction keeps only what each side
/// needs in every alternative (still necessary, and the SDL stays readable).
const MAX_SCOPE_SETS: usize = 16;

impl Requirement {
    fn scope(s: &str) -> Requirement {
        Requirement {
            login: true,
            scopes: vec![s.to_owned()],
            policies: Vec::new(),
        }
    }

    /// Both held at once.
    fn and(&self, other: &Requirement) -> Requirement {
        let union = |a: &[String], b: &[String]| {
            let mut v: Vec<String> = a.iter().chain(b).cloned().collect();
            v.sort();
            v.dedup();
            v
        };
        Requirement {
            login: self.login || other.login,
            scopes: union(&self.scopes, &other.scopes),
            policies: union(&self.policies, &other.policies),
        }
    }

    /// Whether holding `other` holds this too.
    fn within(&self, other: &Requirement) -> bool {
        (!self.login || other.login)
            && self.scopes.iter().all(|s| other.scopes.contains(s))
            && self.policies.iter().all(|p| other.policies.contains(p))
    }
}

impl Need {
    /// Anyone passes.
    pub fn nothing() -> Need {
        Need::OneOf(vec![Requirement::default()])
    }

    /// A login, and nothing more.
    pub fn authenticated() -> Need {
        Need::OneOf(vec![Requirement {
            login: true,
            ..Requirement::default()
        }])
    }

    pub fn of(r: &RuleExpr) -> Need {
        match r {
            RuleExpr::Const(true)
            | RuleExpr::Equals(..)
            | RuleExpr::Visible(..)
            | RuleExpr::Custom(_) => Need::nothing(),
            RuleExpr::Const(false) => Need::Never,
            RuleExpr::Authenticated | RuleExpr::Owner(_) => Need::authenticated(),
            RuleExpr::Staff => Need::OneOf(vec![Requirement::scope(SCOPE_STAFF)]),
            RuleExpr::Superuser => Need::OneOf(vec![Requirement::scope(SCOPE_SUPERUSER)]),
            // Superusers hold every permission without it being listed.
            RuleExpr::Perm(p) => Need::OneOf(vec![
                Requirement::scope(p),
                Requirement::scope(SCOPE_SUPERUSER),
            ]),
            RuleExpr::Policy(name, _) => Need::OneOf(vec![Requirement {
                policies: vec![name.clone()],
                ..Requirement::default()
            }]),
            RuleExpr::Any(v) => Need::any(v.iter().map(Need::of)),
            RuleExpr::All(v) => Need::all(v.iter().map(Need::of)),
        }
    }

    /// Whether there is a way through and every way needs a login.
    pub fn login(&self) -> bool {
        let alts = self.alternatives();
        !alts.is_empty() && alts.iter().all(|r| r.login)
    }

    /// `@requiresScopes`' sets, when every way through holds scopes.
    pub fn scopes(&self) -> Option<Vec<Vec<String>>> {
        self.sets(|r| &r.scopes)
    }

    /// `@policy`'s sets, when every way through holds policies.
    pub fn policies(&self) -> Option<Vec<Vec<String>>> {
        self.sets(|r| &r.policies)
    }

    fn alternatives(&self) -> &[Requirement] {
        match self {
            Need::Never => &[],
            Need::OneOf(v) => v,
        }
    }

    fn sets(&self, of: impl Fn(&Requirement) -> &Vec<String>) -> Option<Vec<Vec<String>>> {
        let alts = self.alternatives();
        if alts.is_empty() || alts.iter().any(|r| of(r).is_empty()) {
            return None;
        }
        let mut sets: Vec<Vec<String>> = Vec::new();
        for r in alts {
            if !sets.contains(of(r)) {
                sets.push(of(r).clone());
            }
        }
        Some(sets)
    }

    /// Any one of the alternatives; one that holds another's requirement
    /// in full adds nothing.
    fn any(needs: impl Iterator<Item = Need>) -> Need {
        let mut out: Vec<Requirement> = Vec::new();
        for r in needs.flat_map(|n| n.alternatives().to_vec()) {
            if out.iter().any(|o| o.within(&r)) {
                continue;
            }
            out.retain(|o| !r.within(o));
            out.push(r);
        }
        if out.is_empty() {
            Need::Never
        } else {
            Need::OneOf(out)
        }
    }

    fn all(needs: impl Iterator<Item = Need>) -> Need {
        let mut out = Need::nothing();
        for n in needs {
            let (a, b) = (out.alternatives(), n.alternatives());
            if a.is_empty() || b.is_empty() {
                return Need::Never;
            }
            out = if a.len() * b.len() > MAX_SCOPE_SETS {
                Need::OneOf(vec![common(a).and(&common(b))])
            } else {
                Need::any(
                    a.iter()
                        .flat_map(|x| b.iter().map(move |y| Need::OneOf(vec![x.and(y)]))),
                )
            };
        }
        out
    }
}

/// What every one of the alternatives holds.
fn common(alts: &[Requirement]) -> Requirement {
    let mut out = alts.first().cloned().unwrap_or_default();
    for r in alts {
        out.login &= r.login;
        out.scopes.retain(|s| r.scopes.contains(s));
        out.policies.retain(|p| r.policies.contains(p));
    }
    out
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
    policies: Vec<PolicyDecl>,
    errors: &mut Vec<crate::CheckError>,
) {
    // Each policy is one predicate, decided once per request however many
    // rules name it.
    let mut predicates = Vec::new();
    let mut named: HashMap<String, usize> = HashMap::new();
    for p in policies {
        if p.name.trim().is_empty() || named.contains_key(&p.name) {
            errors.push(crate::CheckError::new(
                crate::CheckId::E011,
                format!("{}.policy({:?})", p.app, p.name),
                if p.name.trim().is_empty() {
                    "a policy has an empty name".to_owned()
                } else {
                    format!("the policy `{}` is declared twice", p.name)
                },
                "declare each policy once, by the name a gateway knows it by",
            ));
            continue;
        }
        predicates.push(p.predicate);
        named.insert(p.name, predicates.len() - 1);
    }
    let mut lowering = Lowering {
        predicates,
        named,
        errors,
    };
    for d in declared {
        let Some(id) = reg.by_key(d.model).map(|m| m.id) else {
            lowering.errors.push(crate::CheckError::new(
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
        set.view = lowering.lower(m, &d.rules.view, false, "view");
        set.list = lowering.lower(m, &d.rules.list, false, "list");
        set.rows = lowering.lower(m, &d.rules.rows, true, "rows");
        let writes = [
            (&d.rules.create, &mut set.create, "create"),
            (&d.rules.update, &mut set.update, "update"),
            (&d.rules.delete, &mut set.delete, "delete"),
        ];
        for (declared, slot, what) in writes {
            if let Some(r) = declared {
                *slot = lowering.lower(m, r, true, what);
            }
        }
        for (name, r) in &d.rules.fields {
            match m.field(name) {
                Some((i, _)) => {
                    let rule = lowering.lower(m, r, true, name);
                    set.fields.insert(i, rule);
                }
                None => lowering.errors.push(check(
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
    reg.predicates = crate::registry::Predicates(lowering.predicates);
}

/// Rules into [`RuleExpr`]s: names into indices, predicates collected.
struct Lowering<'e> {
    predicates: Vec<Predicate>,
    /// The declared policies' indices into `predicates`.
    named: HashMap<String, usize>,
    errors: &'e mut Vec<crate::CheckError>,
}

impl Lowering<'_> {
    fn lower(&mut self, m: &crate::ModelMeta, r: &Rule, row_ok: bool, what: &str) -> RuleExpr {
        let errors = &mut *self.errors;
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
                    self.errors.push(check(
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
                self.predicates.push(Arc::clone(p));
                RuleExpr::Custom(self.predicates.len() - 1)
            }
            Rule::Policy(name) => match self.named.get(name) {
                Some(&i) => RuleExpr::Policy(name.clone(), i),
                None => {
                    self.errors.push(crate::CheckError::new(
                        crate::CheckId::E011,
                        format!("{}.{what}", m.key),
                        format!("the rule names the policy `{name}`, which no app declares"),
                        format!("declare it with App::policy(\"{name}\", |principal| async move {{ … }})"),
                    ));
                    RuleExpr::Const(false)
                }
            },
            Rule::Any(v) => {
                RuleExpr::Any(v.iter().map(|x| self.lower(m, x, row_ok, what)).collect())
            }
            Rule::All(v) => {
                RuleExpr::All(v.iter().map(|x| self.lower(m, x, row_ok, what)).collect())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Need, Requirement, RuleExpr as R};

    fn scopes(sets: &[&[&str]]) -> Need {
        Need::OneOf(
            sets.iter()
                .map(|s| Requirement {
                    login: true,
                    scopes: s.iter().map(|x| x.to_string()).collect(),
                    policies: Vec::new(),
                })
                .collect(),
        )
    }

    fn policy(p: &str) -> R {
        R::Policy(p.to_owned(), 0)
    }

    #[test]
    fn leaves() {
        assert_eq!(Need::of(&R::Const(true)), Need::nothing());
        assert_eq!(Need::of(&R::Const(false)), Need::Never);
        assert_eq!(Need::of(&R::Owner(0)), Need::authenticated());
        assert_eq!(Need::of(&R::Custom(0)), Need::nothing());
        assert_eq!(Need::of(&R::Staff), scopes(&[&["staff"]]));
        // A superuser holds every permission without it being listed.
        assert_eq!(
            Need::of(&R::Perm("a.b".into())),
            scopes(&[&["a.b"], &["superuser"]])
        );
        let p = Need::of(&policy("audit"));
        assert_eq!(p.policies(), Some(vec![vec!["audit".to_owned()]]));
        // A policy alone asks for no login: the gateway's policy decides.
        assert!(!p.login() && p.scopes().is_none());
    }

    #[test]
    fn any_keeps_only_what_every_branch_needs() {
        let any = |v| Need::of(&R::Any(v));
        assert_eq!(any(vec![R::Owner(0), R::Staff]), Need::authenticated());
        assert_eq!(any(vec![R::Staff, R::Const(true)]), Need::nothing());
        assert_eq!(any(vec![R::Const(false), R::Staff]), scopes(&[&["staff"]]));
        assert_eq!(
            any(vec![R::Staff, R::Superuser, R::Staff]),
            scopes(&[&["staff"], &["superuser"]])
        );
        assert_eq!(any(vec![]), Need::Never);
        // A branch with no policy: a gateway cannot be asked for one.
        let n = any(vec![policy("a"), R::Staff]);
        assert_eq!((n.policies(), n.scopes(), n.login()), (None, None, false));
        let n = any(vec![policy("a"), policy("b")]);
        assert_eq!(
            n.policies(),
            Some(vec![vec!["a".to_owned()], vec!["b".to_owned()]])
        );
    }

    #[test]
    fn all_combines_sets() {
        let all = |v| Need::of(&R::All(v));
        assert_eq!(all(vec![R::Authenticated, R::Staff]), scopes(&[&["staff"]]));
        assert_eq!(
            all(vec![R::Const(true), R::Owner(0)]),
            Need::authenticated()
        );
        assert_eq!(all(vec![R::Staff, R::Const(false)]), Need::Never);
        assert_eq!(
            all(vec![R::Perm("a.x".into()), R::Staff]),
            scopes(&[&["a.x", "staff"], &["staff", "superuser"]])
        );
        // Too many alternatives: a login is still necessary.
        let perms = |p: &str| R::Any((0..5).map(|i| R::Perm(format!("{p}.{i}"))).collect());
        assert_eq!(all(vec![perms("a"), perms("b")]), Need::authenticated());
        assert_eq!(all(vec![]), Need::nothing());
        // A policy beside scopes: both directives are necessary.
        let n = all(vec![policy("b"), R::Perm("x.y".into()), policy("a")]);
        assert_eq!(
            n.scopes(),
            Some(vec![vec!["x.y".to_owned()], vec!["superuser".to_owned()]])
        );
        assert_eq!(
            n.policies(),
            Some(vec![vec!["a".to_owned(), "b".to_owned()]])
        );
        // Too many alternatives keep the policy every one of them holds.
        let n = all(vec![perms("a"), policy("p"), perms("b")]);
        assert_eq!(n.policies(), Some(vec![vec!["p".to_owned()]]));
        assert!(n.login() && n.scopes().is_none());
    }
}
