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
    /// Its arguments (`excerpt(length: Int! = 100)`), in order.
    pub args: Vec<ComputedArg>,
}

/// One argument of a computed field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComputedArg {
    pub name: String,
    pub ty: TypeDesc,
    /// As JSON (the Rust value serialized).
    pub default: Option<serde_json::Value>,
    /// `@fromContext(field: "$name { field }")`: in a supergraph, the
    /// gateway fills it from an enclosing type marked `@context(name:)`;
    /// clients do not send it.
    pub from_context: Option<String>,
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
    pub args: Vec<ComputedArg>,
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
        let contexts: Vec<&str> = reg
            .models
            .iter()
            .filter_map(|m| m.federation.context)
            .collect();
        for (i, a) in c.args.iter().enumerate() {
            let problem = if c.args[..i].iter().any(|b| b.name == a.name) {
                Some((
                    CheckId::E003,
                    format!("the argument `{}` is declared twice", a.name),
                    "give each argument its own name".to_owned(),
                ))
            } else if let Some(field) = &a.from_context {
                let name = field
                    .strip_prefix('$')
                    .and_then(|rest| rest.split([' ', '{', '.']).next())
                    .filter(|n| !n.is_empty());
                match name {
                    None => Some((
                        CheckId::E013,
                        format!("`{field}` (the argument `{}`) names no context", a.name),
                        "write the context's field as \"$name { field }\"".to_owned(),
                    )),
                    Some(n) if !contexts.contains(&n) => Some((
                        CheckId::E013,
                        format!(
                            "the argument `{}` reads the context `{n}`, which no model of this service declares",
                            a.name
                        ),
                        format!("mark the type that provides it #[model(context = \"{n}\")]"),
                    )),
                    Some(_) => None,
                }
            } else {
                None
            };
            if let Some((id, message, hint)) = problem {
                errors.push(CheckError::new(id, at.clone(), message, hint));
            }
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
            args: c.args,
        });
    }
}
