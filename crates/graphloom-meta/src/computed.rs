//! Computed fields as model facts: what each reads and returns. The Rust
//! function that computes it lives with the query engine, which keeps it
//! at [`ComputedMeta::slot`].

use crate::{Federation, ModelKey, TypeDesc};

/// A computed field as an app declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComputedDecl {
    pub model: ModelKey,
    /// The name surfaces show (`readingMinutes`).
    pub name: String,
    pub description: Option<String>,
    /// Rust names of the stored fields it reads; they are fetched with the row.
    pub requires: Vec<&'static str>,
    pub output: TypeDesc,
    /// Its SDL directives (`@shareable`, `@override(from:)`, `@tag`,
    /// `@inaccessible`, `@deprecated`).
    pub federation: Federation,
}

/// A resolved computed field of a model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComputedMeta {
    /// Its position among every declared computed field of the service.
    pub slot: usize,
    pub name: String,
    pub description: Option<String>,
    /// Field indices of what it reads.
    pub requires: Vec<usize>,
    pub output: TypeDesc,
    pub federation: Federation,
}

/// Resolves computed field declarations onto their models.
pub(crate) fn resolve(
    reg: &mut crate::Registry,
    declared: Vec<ComputedDecl>,
    errors: &mut Vec<crate::CheckError>,
) {
    use crate::{CheckError, CheckId};
    for (slot, c) in declared.into_iter().enumerate() {
        let at = format!("{}.{}", c.model, c.name);
        let Some(m) = reg.by_key(c.model) else {
            errors.push(CheckError::new(
                CheckId::E001,
                at,
                format!("computed field on {}, which is not registered", c.model),
                "add the model's app to the service",
            ));
            continue;
        };
        if m.federation.unresolvable {
            errors.push(CheckError::new(
                CheckId::E013,
                at,
                format!(
                    "computed field on {}, which this service does not resolve",
                    m.graphql_name
                ),
                "drop `resolvable = false` from the external model",
            ));
            continue;
        }
        let clash = m.field_by_graphql(&c.name).is_some()
            || m.relation(&c.name).is_some()
            || m.computed.iter().any(|o| o.name == c.name);
        if clash {
            errors.push(CheckError::new(
                CheckId::E003,
                at,
                format!(
                    "computed field `{}` clashes with a field of {}",
                    c.name, m.graphql_name
                ),
                "give the computed field another name",
            ));
            continue;
        }
        let mut requires = Vec::new();
        for name in &c.requires {
            match m.field(name) {
                Some((i, _)) => requires.push(i),
                None => errors.push(CheckError::new(
                    CheckId::E010,
                    at.clone(),
                    format!(
                        "computed field requires `{name}`, which {} does not have",
                        m.key.name
                    ),
                    "list Rust field names of the model in `requires`",
                )),
            }
        }
        let id = m.id;
        reg.models[id.0].computed.push(ComputedMeta {
            slot,
            name: c.name,
            description: c.description,
            requires,
            output: c.output,
            federation: c.federation,
        });
    }
}
