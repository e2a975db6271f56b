//! Documents kept by query text: parsed once, and validated once.
//!
//! Clients send the same few operations over and over. Parsing was a tenth
//! of a small request's CPU and validation (async-graphql's 22 rules, run
//! on every request) most of another tenth. Neither depends on anything
//! but the text and the schema, except one part of validation: the values
//! of the request's variables, which async-graphql checks against the
//! arguments they fill. So a document that passed validation once is not
//! validated again as long as each variable's value is valid for the type
//! the operation declares for it ([`variables_fit`]). That check is as
//! strict as async-graphql's: a declared type is at least as strict as
//! every place the variable is used (validation checked that), and the
//! values are judged by the schema's own scalar, enum and input-object
//! definitions. Where it has any doubt (a value that does not fit, an
//! explicit `null`, a variable left out without a default) the request is
//! validated in full, so its errors are async-graphql's, word for word.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, OnceLock, PoisonError},
};

use async_graphql::{
    Positioned, ValidationResult, Value as Gql, Variables,
    parser::types::{DocumentOperations, ExecutableDocument, OperationDefinition},
    registry::{MetaType, MetaTypeName, Registry},
};

/// A parsed document and, once it passed validation, the result.
pub(crate) struct Known {
    pub doc: ExecutableDocument,
    valid: OnceLock<ValidationResult>,
    /// Whether the fast path answers the document's root fields.
    fast: OnceLock<bool>,
}

impl Known {
    pub fn new(doc: ExecutableDocument) -> Self {
        Known {
            doc,
            valid: OnceLock::new(),
            fast: OnceLock::new(),
        }
    }

    /// The validation result to reuse for a request with `variables`, if
    /// the document passed before and the variables fit its operation.
    pub fn validated(&self, reg: &Registry, variables: &Variables) -> Option<ValidationResult> {
        let result = *self.valid.get()?;
        variables_fit(reg, &self.doc, variables).then_some(result)
    }

    /// Whether the fast path answers the document's root fields, decided by
    /// `answers` the first time (on a validated document).
    pub fn answered(&self, answers: impl FnOnce(&ExecutableDocument) -> bool) -> bool {
        *self.fast.get_or_init(|| answers(&self.doc))
    }

    /// Keeps a passed validation, for a document of one operation, named
    /// or not (with several, the operation chosen is part of what was
    /// validated).
    pub fn passed(&self, result: ValidationResult) {
        if only_operation(&self.doc).is_some() {
            let _ = self.valid.set(result);
        }
    }
}

/// Documents by query text. Bounded: full, it is emptied, so a flood of
/// distinct queries costs the parses it would have cost anyway.
#[derive(Default)]
pub(crate) struct Documents(Mutex<HashMap<String, Arc<Known>>>);

impl Documents {
    /// Documents kept at most.
    pub const ENTRIES: usize = 256;
    /// Longer queries are parsed every time (and not kept).
    pub const MAX_QUERY: usize = 16 * 1024;

    pub fn get(&self, query: &str) -> Option<Arc<Known>> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(query)
            .cloned()
    }

    /// Keeps `doc` under `query` (unless the text is too long).
    pub fn put(&self, query: &str, doc: ExecutableDocument) -> Arc<Known> {
        let known = Arc::new(Known::new(doc));
        if query.len() <= Self::MAX_QUERY {
            let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
            if map.len() >= Self::ENTRIES {
                map.clear();
            }
            map.insert(query.to_owned(), Arc::clone(&known));
        }
        known
    }
}

/// The document's operation, when it has one only: its name (none for an
/// anonymous one) and the operation.
pub(crate) fn only_operation(
    doc: &ExecutableDocument,
) -> Option<(Option<&str>, &Positioned<OperationDefinition>)> {
    match &doc.operations {
        DocumentOperations::Single(op) => Some((None, op)),
        DocumentOperations::Multiple(ops) if ops.len() == 1 => ops
            .iter()
            .next()
            .map(|(name, op)| (Some(name.as_str()), op)),
        DocumentOperations::Multiple(_) => None,
    }
}

/// Whether every variable of the document's one operation has a value
/// valid for its declared type, or is left out and has a default.
fn variables_fit(reg: &Registry, doc: &ExecutableDocument, variables: &Variables) -> bool {
    let Some((_, op)) = only_operation(doc) else {
        return false;
    };
    op.node.variable_definitions.iter().all(|def| {
        let def = &def.node;
        match variables.get(&def.name.node) {
            // Null where the declared type allows it may still meet a
            // non-null argument (a variable with a default may); left to
            // the full validation.
            Some(Gql::Null) => false,
            Some(value) => fits(reg, &def.var_type.node.to_string(), value),
            None => def.default_value.is_some(),
        }
    })
}

/// Whether `value` is valid for the input type `ty` (written as GraphQL
/// writes it: `[ID!]!`), by the schema's definitions.
fn fits(reg: &Registry, ty: &str, value: &Gql) -> bool {
    match MetaTypeName::create(ty) {
        MetaTypeName::NonNull(inner) => !matches!(value, Gql::Null) && fits(reg, inner, value),
        MetaTypeName::List(item) => match value {
            Gql::Null => true,
            Gql::List(items) => items.iter().all(|v| fits(reg, item, v)),
            // One value where a list is expected is a list of one.
            v => fits(reg, item, v),
        },
        MetaTypeName::Named(_) if matches!(value, Gql::Null) => true,
        MetaTypeName::Named(name) => match reg.types.get(name) {
            Some(MetaType::Scalar { is_valid, .. }) => is_valid.as_ref().is_none_or(|ok| ok(value)),
            Some(MetaType::Enum { enum_values, .. }) => match value {
                Gql::Enum(v) => enum_values.contains_key(v.as_str()),
                Gql::String(v) => enum_values.contains_key(v.as_str()),
                _ => false,
            },
            Some(MetaType::InputObject {
                input_fields,
                oneof,
                ..
            }) => {
                let Gql::Object(given) = value else {
                    return false;
                };
                let known = given.keys().all(|k| input_fields.contains_key(k.as_str()));
                let each = input_fields
                    .values()
                    .all(|f| match given.get(f.name.as_str()) {
                        Some(v) => fits(reg, &f.ty, v),
                        None => f.default_value.is_some() || !f.ty.ends_with('!'),
                    });
                let one = !oneof || (given.len() == 1 && !given.values().any(|v| *v == Gql::Null));
                known && each && one
            }
            _ => false,
        },
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use async_graphql::dynamic::{
        Enum, Field, FieldFuture, InputObject, InputValue, Object, Schema, TypeRef,
    };
    use serde_json::json;

    use super::*;

    fn schema() -> Schema {
        let query = Object::new("Query").field(
            Field::new("items", TypeRef::named_list_nn("Int"), |_| {
                FieldFuture::new(async { Ok(None::<Gql>) })
            })
            .argument(InputValue::new("where", TypeRef::named("Filter")))
            .argument(InputValue::new("by", TypeRef::named("Pick")))
            .argument(InputValue::new("ids", TypeRef::named_nn_list("ID")))
            .argument(InputValue::new("order", TypeRef::named("Order"))),
        );
        Schema::build("Query", None, None)
            .register(query)
            .register(
                InputObject::new("Filter")
                    .field(InputValue::new("name", TypeRef::named_nn("String")))
                    .field(InputValue::new("min", TypeRef::named("Int")))
                    .field(InputValue::new("order", TypeRef::named("Order"))),
            )
            .register(
                InputObject::new("Pick")
                    .oneof()
                    .field(InputValue::new("id", TypeRef::named("ID")))
                    .field(InputValue::new("slug", TypeRef::named("String"))),
            )
            .register(Enum::new("Order").item("ASC").item("DESC"))
            .finish()
            .unwrap()
    }

    fn fit(ty: &str, value: serde_json::Value) -> bool {
        fits(schema().registry(), ty, &Gql::from_json(value).unwrap())
    }

    #[test]
    fn values_fit_their_declared_types_as_the_schema_defines_them() {
        assert!(fit("ID!", json!("7")));
        assert!(fit("ID!", json!(7)));
        assert!(!fit("ID!", json!(null)));
        assert!(!fit("ID", json!({})));
        assert!(fit("Int", json!(null)));
        assert!(!fit("Int", json!(1.5)));
        assert!(!fit("Int", json!("1")));
        assert!(fit("[ID!]", json!(["1", 2])));
        assert!(fit("[ID!]", json!("1")), "one value is a list of one");
        assert!(!fit("[ID!]", json!(["1", null])));
        assert!(fit("Order", json!("DESC")));
        assert!(!fit("Order", json!("SIDEWAYS")));
        assert!(fit("Filter", json!({ "name": "a", "order": "ASC" })));
        assert!(
            !fit("Filter", json!({ "min": 1 })),
            "a required field left out"
        );
        assert!(
            !fit("Filter", json!({ "name": "a", "max": 1 })),
            "an unknown field"
        );
        assert!(!fit("Filter", json!({ "name": 1 })));
        assert!(fit("Pick", json!({ "slug": "a" })));
        assert!(
            !fit("Pick", json!({ "slug": "a", "id": "1" })),
            "oneOf takes one"
        );
        assert!(!fit("Pick", json!({ "slug": null })));
        assert!(!fit("Nowhere", json!(1)), "a type the schema lacks");
    }

    #[test]
    fn a_document_is_validated_again_when_its_variables_may_not_fit() {
        let schema = schema();
        let reg = schema.registry();
        let doc = async_graphql::parser::parse_query(
            "query($w: Filter, $ids: [ID!], $o: Order = ASC) { items(where: $w, ids: $ids, order: $o) }",
        )
        .unwrap();
        let known = Known::new(doc);
        let vars = |v: serde_json::Value| Variables::from_json(v);
        let ok = vars(json!({ "w": { "name": "a" }, "ids": ["1"] }));
        assert!(known.validated(reg, &ok).is_none(), "not validated yet");
        known.passed(ValidationResult {
            cache_control: Default::default(),
            complexity: 1,
            depth: 1,
        });
        assert_eq!(known.validated(reg, &ok).map(|r| r.depth), Some(1));
        // `$o` has a default; `$w` and `$ids` are nullable but left out.
        assert!(known.validated(reg, &vars(json!({}))).is_none());
        assert!(
            known
                .validated(reg, &vars(json!({ "w": { "name": "a" }, "ids": null })))
                .is_none()
        );
        assert!(
            known
                .validated(reg, &vars(json!({ "w": { "name": 2 }, "ids": [] })))
                .is_none()
        );
        assert!(
            known
                .validated(
                    reg,
                    &vars(json!({ "w": { "name": "a" }, "ids": [], "o": "DESC" }))
                )
                .is_some()
        );
        // Several operations: the one chosen is part of what was validated.
        let two = Known::new(
            async_graphql::parser::parse_query("query A { items } query B { items }").unwrap(),
        );
        two.passed(ValidationResult {
            cache_control: Default::default(),
            complexity: 1,
            depth: 1,
        });
        assert!(two.validated(reg, &vars(json!({}))).is_none());
    }

    #[test]
    fn documents_are_kept_by_text_and_bounded() {
        let parse = |q: &str| async_graphql::parser::parse_query(q).unwrap();
        let cache = Documents::default();
        assert!(cache.get("{ a }").is_none());
        cache.put("{ a }", parse("{ a }"));
        assert!(cache.get("{ a }").is_some());
        assert!(cache.get("{ a  }").is_none(), "keyed by the exact text");
        // Full, the cache is emptied before it takes the next one.
        for i in 1..Documents::ENTRIES {
            let q = format!("{{ a{i} }}");
            cache.put(&q, parse(&q));
        }
        assert!(cache.get("{ a }").is_some());
        cache.put("{ b }", parse("{ b }"));
        assert!(cache.get("{ a }").is_none());
        assert!(cache.get("{ b }").is_some());
        // Long texts are not kept.
        let long = format!("{{ a {} }}", "b ".repeat(Documents::MAX_QUERY));
        cache.put(&long, parse(&long));
        assert!(cache.get(&long).is_none());
    }
}
