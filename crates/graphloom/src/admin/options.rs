//! Per-model admin options, like Django's `ModelAdmin`, and their
//! resolution against the registry (an unknown field stops the start).

use graphloom_meta::{FieldKind, ModelKey, ModelMeta, Registry};

/// How the admin shows one model: `App::admin::<Post>(ModelAdmin::new()…)`.
/// Field names are the Rust ones (`created_at`), as in the rules.
#[derive(Debug, Clone, Default)]
pub struct ModelAdmin {
    pub(crate) list_display: Vec<&'static str>,
    pub(crate) search_fields: Vec<&'static str>,
    pub(crate) list_filter: Vec<&'static str>,
    pub(crate) readonly_fields: Vec<&'static str>,
    pub(crate) hidden: bool,
    pub(crate) per_page: Option<u64>,
}

impl ModelAdmin {
    pub fn new() -> Self {
        ModelAdmin::default()
    }

    /// The list page's columns (default: the key and the next four fields).
    pub fn list_display(mut self, fields: &[&'static str]) -> Self {
        self.list_display = fields.to_vec();
        self
    }

    /// Text fields the list's search box looks in (case-insensitive,
    /// any of them); no search box without.
    pub fn search_fields(mut self, fields: &[&'static str]) -> Self {
        self.search_fields = fields.to_vec();
        self
    }

    /// Fields the list can be narrowed by: booleans, enums, dates and
    /// foreign keys.
    pub fn list_filter(mut self, fields: &[&'static str]) -> Self {
        self.list_filter = fields.to_vec();
        self
    }

    /// Fields the form shows but does not change.
    pub fn readonly_fields(mut self, fields: &[&'static str]) -> Self {
        self.readonly_fields = fields.to_vec();
        self
    }

    /// Leaves the model out of the admin.
    pub fn hidden(mut self) -> Self {
        self.hidden = true;
        self
    }

    /// Rows per list page (default 100).
    pub fn per_page(mut self, n: u64) -> Self {
        self.per_page = Some(n);
        self
    }
}

/// A model's options as field indices.
#[derive(Debug, Clone)]
pub(crate) struct Resolved {
    pub list: Vec<usize>,
    pub search: Vec<usize>,
    pub filters: Vec<usize>,
    pub readonly: Vec<usize>,
    pub hidden: bool,
    pub per_page: u64,
}

/// Resolves `options` (or the defaults) for `m`.
pub(crate) fn resolve(m: &ModelMeta, options: Option<&ModelAdmin>) -> Result<Resolved, String> {
    let default = ModelAdmin::default();
    let o = options.unwrap_or(&default);
    let index = |name: &str, what: &str| -> Result<usize, String> {
        m.fields
            .iter()
            .position(|f| f.name == name && !f.hidden)
            .ok_or_else(|| {
                format!(
                    "admin of {}: `{name}` in {what} is not a field of the model",
                    m.graphql_name
                )
            })
    };
    let all = |names: &[&str], what: &str| -> Result<Vec<usize>, String> {
        names.iter().map(|n| index(n, what)).collect()
    };
    let mut list = all(&o.list_display, "list_display")?;
    if list.is_empty() {
        list.extend(m.pk.iter().copied());
        list.extend(
            (0..m.fields.len())
                .filter(|&i| !m.is_pk(i) && !m.fields[i].hidden)
                .take(4),
        );
    }
    let search = all(&o.search_fields, "search_fields")?;
    for &i in &search {
        if !matches!(m.fields[i].kind, FieldKind::String { .. } | FieldKind::Text) {
            return Err(format!(
                "admin of {}: `{}` in search_fields is not text",
                m.graphql_name, m.fields[i].name
            ));
        }
    }
    let filters = all(&o.list_filter, "list_filter")?;
    for &i in &filters {
        if !matches!(
            m.fields[i].kind,
            FieldKind::Bool
                | FieldKind::Enum(_)
                | FieldKind::Date
                | FieldKind::DateTime
                | FieldKind::ForeignKey { .. }
        ) {
            return Err(format!(
                "admin of {}: `{}` in list_filter is not a boolean, enum, date or foreign key",
                m.graphql_name, m.fields[i].name
            ));
        }
    }
    Ok(Resolved {
        list,
        search,
        filters,
        readonly: all(&o.readonly_fields, "readonly_fields")?,
        hidden: o.hidden,
        per_page: o.per_page.unwrap_or(100).clamp(1, 1000),
    })
}

/// Every model's options, checked; `options` names models by their key.
pub(crate) fn resolve_all(
    reg: &Registry,
    options: &[(ModelKey, ModelAdmin)],
) -> Result<Vec<Resolved>, String> {
    for (i, (key, _)) in options.iter().enumerate() {
        if options[..i].iter().any(|(k, _)| k == key) {
            return Err(format!(
                "admin options for {}.{} are given twice (as Django's AlreadyRegistered): keep one",
                key.app, key.name
            ));
        }
        if !reg.models().iter().any(|m| m.key == *key) {
            return Err(format!(
                "admin options for {}.{}, which is not a model of this service",
                key.app, key.name
            ));
        }
    }
    reg.models()
        .iter()
        .map(|m| {
            let o = options.iter().find(|(k, _)| *k == m.key).map(|(_, o)| o);
            resolve(m, o)
        })
        .collect()
}
