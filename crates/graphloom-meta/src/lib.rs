//! Model declarations and the resolved metadata registry of graphloom.
//!
//! For crates that build on graphloom's models: the derive macro emits
//! [`ModelDecl`]s, apps add permission rules, computed fields and composed
//! directives, and [`Registry::build`] resolves them all once into
//! [`ModelMeta`], running every start-up check ([`CheckId`] is the table:
//! `graphloom.E001` …). Every consumer (database, migrations, the query
//! engine, GraphQL) reads the registry: names, kinds, relations and how
//! they join ([`JoinPath`]), keys, rules ([`RuleSet`]), computed fields,
//! and what each field kind can be filtered and ordered by
//! ([`Capabilities`]). No SQL, GraphQL or HTTP lives here.

pub mod capability;
mod checks;
pub mod computed;
mod decl;
pub mod directives;
pub mod naming;
mod principal;
mod registry;
pub mod rules;
mod typed;
mod types;
mod value;

pub use capability::{Capabilities, Op, Quantifier};
pub use checks::{CheckError, CheckErrors, CheckId};
pub use computed::{ComputedArg, ComputedDecl, ComputedMeta};
pub use decl::*;
pub use directives::{ComposeDirective, ComposedDirective};
pub use principal::Principal;
pub use registry::*;
pub use rules::{
    ModelRules, Need, Operation, PolicyDecl, Predicate, Requirement, Rule, RuleExpr, RuleSet,
    RulesDecl, SCOPE_STAFF, SCOPE_SUPERUSER, model_permission, predicate,
};
#[doc(hidden)]
pub use serde as __serde;
pub use typed::{FromField, FromRow, FromValue, Operand, RowReader, ToRow, ToValue};
pub use types::{ObjectDecl, ObjectField, TextId, TypeDesc, Typed};
pub use value::{Key, Value};
