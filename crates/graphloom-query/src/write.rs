//! Writes on plain values: create, update and delete of one row, with
//! validation (types, `max_length`, required fields, the model's hook),
//! defaults, `auto_now`, request presets, the permission rules, references
//! checked, many-to-many changes, and constraint failures mapped to input
//! fields, each in one transaction. Expected failures are [`FieldError`]s,
//! never errors of the request.

use std::collections::{BTreeMap, HashSet};

use graphloom_db::{DbError, DbErrorKind, Exec, Tx, bind, dialect::fk_name};
use graphloom_meta::{
    FieldKind, FieldMeta, ModelMeta, OnDelete, Operation, Registry, RelationKind, Value, ValueType,
};
use sea_query::{Alias, Expr, ExprTrait, OnConflict, Query};

use crate::{
    Engine, Error, ErrorCode, FieldCode, FieldError, Result,
    changes::ChangeKind,
    exec::{Node, fetch_keys_matching, load_children},
    filter::Filter,
    plan::NodePlan,
    scope::{Cond, Scope},
    sql::{Builder, col, key_eq, key_in},
};

/// The most ids one many-to-many change may name (bounded statement size).
pub const MAX_LINKS: usize = 1000;

/// Changes to a many-to-many relation of the written row: replace the set,
/// or add and remove keys.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LinkChange {
    /// The index of a forward many-to-many relation of the model.
    pub relation: usize,
    pub set: Option<Vec<Value>>,
    pub add: Vec<Value>,
    pub remove: Vec<Value>,
}

/// What a surface parsed from its input: values by field index, link
/// changes, and the errors it met parsing (reported with the engine's own,
/// in field order).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WriteInput {
    pub values: BTreeMap<usize, Value>,
    pub links: Vec<LinkChange>,
    pub errors: Vec<FieldError>,
}

/// The versions of a row a single-row write accepts (REST's `If-Match`):
/// the generated update and delete take it from the request's data, check
/// it against the row they lock, and refuse with `PRECONDITION_FAILED`
/// when the row has changed since.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected(pub Vec<String>);

impl Expected {
    fn check(&self, m: &ModelMeta, row: &BTreeMap<usize, Value>) -> Result<()> {
        let now = row_version(row.values());
        if self.0.contains(&now) {
            return Ok(());
        }
        Err(Error::new(
            ErrorCode::PreconditionFailed,
            format!(
                "this {} has changed since the version you sent; read it again",
                m.graphql_name
            ),
        ))
    }
}

/// A row's version, for `ETag`: a digest of every stored column in field
/// order, so it changes whenever any column does, whichever fields a
/// response shows. Values carry their kind and length, so no two rows
/// share one text.
pub fn row_version<'a>(values: impl IntoIterator<Item = &'a Value>) -> String {
    use base64::Engine as _;
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for v in values {
        let text = v.key_string();
        let kind: u8 = match v {
            Value::Null => 0,
            Value::Bool(_) => 1,
            Value::I32(_) | Value::I64(_) => 2,
            Value::F64(_) => 3,
            Value::Decimal(_) => 4,
            Value::String(_) => 5,
            Value::Date(_) => 6,
            Value::DateTime(_) => 7,
            Value::Uuid(_) => 8,
            Value::Json(_) => 9,
            Value::Tuple(_) => 10,
        };
        h.update([kind]);
        h.update((text.len() as u64).to_be_bytes());
        h.update(text.as_bytes());
    }
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&h.finalize()[..16])
}

/// What a write did.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Saved (or deleted): the row's key, the stored row by field index
    /// (after a create or an update as the database returned it; after a
    /// delete, as it was), and the payload's rows when a plan was given:
    /// read inside the write's transaction, so they show this write and
    /// not a later one (`None` when the principal may not see the row).
    Written {
        key: Value,
        row: Vec<Value>,
        node: Option<Node>,
    },
    /// Refused for its input; nothing was written.
    Refused(Vec<FieldError>),
}

impl Outcome {
    /// The written row's key, or the input errors as a request error.
    pub fn into_key(self) -> Result<Value> {
        match self {
            Outcome::Written { key, .. } => Ok(key),
            Outcome::Refused(errors) => Err(Error::refused(errors)),
        }
    }
}

fn ferr(field: &str, message: impl Into<String>, code: FieldCode) -> FieldError {
    FieldError::new(field, message, code)
}

/// What a value of `ty` looks like, for messages.
pub fn expected(ty: ValueType) -> &'static str {
    match ty {
        ValueType::Bool => "expected a boolean",
        ValueType::I32 => "expected a 32-bit integer",
        ValueType::I64 => "expected a 64-bit integer",
        ValueType::F64 => "expected a number",
        ValueType::Decimal => "expected a decimal number such as \"12.50\"",
        ValueType::String => "expected a string",
        ValueType::Date => "expected a date such as \"2024-05-31\"",
        ValueType::DateTime => "expected an RFC 3339 date-time such as \"2024-05-31T12:00:00Z\"",
        ValueType::Uuid => "expected a UUID",
        ValueType::Json => "expected JSON",
    }
}

/// Checks one value against its field: null only where allowed, of the
/// field's type (a 32-bit integer widens), an enum's stored text, and text
/// within `max_length` (in characters). Returns the value as stored.
pub fn check_value(reg: &Registry, field: &FieldMeta, value: Value) -> Result<Value, FieldError> {
    let at = field.graphql_name.as_str();
    if value.is_null() {
        return if field.nullable {
            Ok(Value::Null)
        } else {
            Err(ferr(at, "This field cannot be null.", FieldCode::Required))
        };
    }
    let ty = reg.value_type(field);
    let value = match (ty, value) {
        (ValueType::I64, Value::I32(v)) => Value::I64(i64::from(v)),
        (ValueType::F64, Value::I32(v)) => Value::F64(f64::from(v)),
        (_, v) => v,
    };
    let fits = matches!(
        (ty, &value),
        (ValueType::Bool, Value::Bool(_))
            | (ValueType::I32, Value::I32(_))
            | (ValueType::I64, Value::I64(_))
            | (ValueType::F64, Value::F64(_))
            | (ValueType::Decimal, Value::Decimal(_))
            | (ValueType::String, Value::String(_))
            | (ValueType::Date, Value::Date(_))
            | (ValueType::DateTime, Value::DateTime(_))
            | (ValueType::Uuid, Value::Uuid(_))
            | (ValueType::Json, Value::Json(_))
    );
    if !fits {
        return Err(ferr(at, expected(ty), FieldCode::Invalid));
    }
    match (field.kind, &value) {
        // Django's ProhibitNullCharactersValidator: PostgreSQL cannot store
        // them, so SQLite should not either.
        (_, Value::String(s)) if s.contains('\0') => Err(ferr(
            at,
            "Null characters are not allowed.",
            FieldCode::Invalid,
        )),
        // PostgreSQL's jsonb refuses `\u0000` too (untranslatable character).
        (_, Value::Json(j)) if json_has_nul(j) => Err(ferr(
            at,
            "Null characters are not allowed in JSON strings or keys.",
            FieldCode::Invalid,
        )),
        (FieldKind::Enum(e), Value::String(s)) if e.by_stored(s).is_none() => Err(ferr(
            at,
            format!("`{s}` is not a {} value", e.name),
            FieldCode::Invalid,
        )),
        (FieldKind::String { max_length }, Value::String(s))
            if s.chars().count() > max_length as usize =>
        {
            Err(ferr(
                at,
                format!(
                    "at most {max_length} characters are allowed (this has {})",
                    s.chars().count()
                ),
                FieldCode::MaxLength,
            ))
        }
        (
            FieldKind::Decimal {
                max_digits,
                decimal_places,
            },
            Value::Decimal(d),
        ) => check_decimal(at, *d, max_digits, decimal_places).map(|()| value),
        _ => Ok(value),
    }
}

/// Whether a JSON string or object key anywhere in `j` holds U+0000.
fn json_has_nul(j: &serde_json::Value) -> bool {
    match j {
        serde_json::Value::String(s) => s.contains('\0'),
        serde_json::Value::Array(items) => items.iter().any(json_has_nul),
        serde_json::Value::Object(m) => m.iter().any(|(k, v)| k.contains('\0') || json_has_nul(v)),
        serde_json::Value::Null | serde_json::Value::Bool(_) | serde_json::Value::Number(_) => {
            false
        }
    }
}

/// Django's `DecimalValidator`: digits in all, places after the point and
/// digits before it within the column's `numeric(max_digits,
/// decimal_places)`, which would otherwise round (SQLite) or overflow
/// (PostgreSQL).
fn check_decimal(
    at: &str,
    d: rust_decimal::Decimal,
    max_digits: u32,
    decimal_places: u32,
) -> Result<(), FieldError> {
    let n = d.normalize();
    let places = n.scale();
    let mantissa = n.mantissa().unsigned_abs();
    let written = if mantissa == 0 {
        1
    } else {
        mantissa.ilog10() + 1
    };
    let digits = std::cmp::max(written, places);
    let whole = digits - places;
    if digits > max_digits {
        Err(ferr(
            at,
            format!("Ensure that there are no more than {max_digits} digits in total."),
            FieldCode::MaxDigits,
        ))
    } else if places > decimal_places {
        Err(ferr(
            at,
            format!("Ensure that there are no more than {decimal_places} decimal places."),
            FieldCode::DecimalPlaces,
        ))
    } else if whole > max_digits.saturating_sub(decimal_places) {
        Err(ferr(
            at,
            format!(
                "Ensure that there are no more than {} digits before the decimal point.",
                max_digits.saturating_sub(decimal_places)
            ),
            FieldCode::MaxDigits,
        ))
    } else {
        Ok(())
    }
}

/// The error for a many-to-many change naming too many ids.
pub fn too_many_links(relation: &str, part: &str) -> FieldError {
    FieldError {
        field: vec![relation.to_owned(), part.to_owned()],
        message: format!("at most {MAX_LINKS} ids at once"),
        code: FieldCode::Invalid,
    }
}

/// The input of an update checked: its values, and a forced preset's
/// field refused (the request's at creation, nobody's to change after).
fn checked_changes(reg: &Registry, scope: &Scope, m: &ModelMeta, input: WriteInput) -> Checked {
    let mut checked = checked_values(reg, m, input);
    for i in checked.values.keys() {
        let f = &m.fields[*i];
        if f.preset.is_some_and(|p| p.force) && !scope.is_system() {
            checked.errors.push(ferr(
                &f.graphql_name,
                "This field is set from the request and cannot change.",
                FieldCode::Invalid,
            ));
        }
    }
    checked.errors.sort_by_key(|e| position(m, e));
    checked
}

/// Sets every `auto_now` field of an update to now.
fn stamp_auto_now(m: &ModelMeta, changes: &mut BTreeMap<usize, Value>) {
    for (idx, f) in m.fields.iter().enumerate() {
        if f.auto_now {
            changes.insert(idx, now_for(f.kind));
        }
    }
}

/// Where an error's field sits among a model's fields and relations (for
/// reporting errors in field order).
fn position(m: &ModelMeta, e: &FieldError) -> usize {
    let name = e.field.first().map(String::as_str).unwrap_or_default();
    m.fields
        .iter()
        .position(|f| f.graphql_name == name)
        .or_else(|| {
            m.relations
                .iter()
                .position(|r| r.name == name)
                .map(|i| m.fields.len() + i)
        })
        .unwrap_or(usize::MAX)
}

/// A write's input after the engine's checks.
struct Checked {
    values: BTreeMap<usize, Value>,
    links: Vec<LinkChange>,
    /// Every input error (the surface's and the engine's), in field order.
    errors: Vec<FieldError>,
}

/// The input's values checked against their fields.
fn checked_values(reg: &Registry, m: &ModelMeta, input: WriteInput) -> Checked {
    let WriteInput {
        values,
        links,
        errors: parsed,
    } = input;
    let mut errors: Vec<FieldError> = parsed;
    let mut out = BTreeMap::new();
    for (idx, v) in values {
        let f = &m.fields[idx];
        if !m.stores_here(idx) {
            errors.push(ferr(
                &f.graphql_name,
                "This field is the owning service's: it is not stored here.",
                FieldCode::Invalid,
            ));
            continue;
        }
        // Another service's entity is keyed by the key its owner counted.
        if f.primary_key && matches!(f.kind, FieldKind::AutoId) && !m.external {
            errors.push(ferr(
                &f.graphql_name,
                "The primary key is set by the database.",
                FieldCode::Invalid,
            ));
            continue;
        }
        match check_value(reg, f, v) {
            Ok(v) => {
                out.insert(idx, v);
            }
            Err(e) => errors.push(e),
        }
    }
    for l in &links {
        let name = &m.relations[l.relation].name;
        for (part, n) in [
            ("set", l.set.as_ref().map_or(0, Vec::len)),
            ("add", l.add.len()),
            ("remove", l.remove.len()),
        ] {
            if n > MAX_LINKS {
                errors.push(too_many_links(name, part));
            }
        }
    }
    errors.sort_by_key(|e| position(m, e));
    Checked {
        values: out,
        links,
        errors,
    }
}

fn run_validator(m: &ModelMeta, row: &BTreeMap<usize, Value>, errors: &mut Vec<FieldError>) {
    let Some(validate) = m.validator else { return };
    let by_name: BTreeMap<String, Value> = row
        .iter()
        .map(|(i, v)| (m.fields[*i].name.to_owned(), v.clone()))
        .collect();
    if let Err(errs) = validate(&by_name) {
        for e in errs {
            let field = m
                .field(&e.field)
                .map_or(e.field.clone(), |(_, f)| f.graphql_name.clone());
            errors.push(FieldError {
                field: vec![field],
                message: e.message,
                code: FieldCode::Validation,
            });
        }
    }
}

/// Whether a row of `m` whose `field` is `value` exists among the rows `scope` sees.
async fn exists(
    tx: &mut Exec<'_, '_>,
    reg: &Registry,
    scope: &Scope,
    m: &ModelMeta,
    field: usize,
    value: &Value,
) -> Result<bool, DbError> {
    let f = &m.fields[field];
    let mut b = Builder::new(reg, tx.dialect(), scope);
    let a = b.alias();
    let mut stmt = Query::select();
    stmt.expr(Expr::cust("1"))
        .from_as(Alias::new(&m.table), Alias::new(&a))
        .and_where(col(&a, &f.column).eq(Expr::val(bind(value, reg.value_type(f), tx.dialect()))))
        .limit(1);
    if let Some(rows) = b.row_cond(m, &a) {
        stmt.and_where(rows);
    }
    Ok(!tx.fetch(&stmt, &[ValueType::I32]).await?.is_empty())
}

fn dedup_keys<'a>(keys: impl Iterator<Item = &'a Value>) -> Vec<Value> {
    let mut seen = HashSet::new();
    keys.filter(|v| seen.insert(v.key_string()))
        .cloned()
        .collect()
}

/// Checks foreign keys among `values`, all in one statement: with
/// `hidden: Some(true)`, those whose targets the scope may hide (a row rule
/// applies to the target: a row the principal cannot see is as absent as
/// a missing one), `Some(false)` the others, `None` all. The unchecked are
/// left to the database's constraint ([`attribute`] names the field).
async fn check_foreign_keys(
    tx: &mut Exec<'_, '_>,
    reg: &Registry,
    scope: &Scope,
    m: &ModelMeta,
    values: &BTreeMap<usize, Value>,
    hidden: Option<bool>,
    errors: &mut Vec<FieldError>,
) -> Result<(), DbError> {
    let checked = references(reg, scope, m, values, hidden);
    if checked.is_empty() {
        return Ok(());
    }
    let mut b = Builder::new(reg, tx.dialect(), scope);
    let mut stmt = Query::select();
    for (i, (_, t, v)) in checked.iter().enumerate() {
        stmt.expr_as(reference_exists(&mut b, t, v), Alias::new(format!("c{i}")));
    }
    let types = vec![ValueType::Bool; checked.len()];
    let found = tx
        .fetch(&stmt, &types)
        .await?
        .into_iter()
        .next()
        .unwrap_or_default();
    for ((idx, t, v), seen) in checked.into_iter().zip(found) {
        if seen != Value::Bool(true) {
            errors.push(ferr(
                &m.fields[idx].graphql_name,
                format!("No {} with id {}.", t.graphql_name, v.key_string()),
                FieldCode::ForeignKey,
            ));
        }
    }
    Ok(())
}

/// The set foreign keys among `values` to local models, by field index:
/// with `hidden: Some(true)` those whose targets a row rule may hide,
/// `Some(false)` the others, `None` all.
fn references<'m>(
    reg: &'m Registry,
    scope: &Scope,
    m: &ModelMeta,
    values: &'m BTreeMap<usize, Value>,
    hidden: Option<bool>,
) -> Vec<(usize, &'m ModelMeta, &'m Value)> {
    values
        .iter()
        .filter_map(|(idx, v)| match m.fields[*idx].kind {
            FieldKind::ForeignKey { target, .. } if !v.is_null() => {
                let t = reg.model(target);
                let hides = scope.rows(t.id).is_some();
                (!t.external && hidden.is_none_or(|h| h == hides)).then_some((*idx, t, v))
            }
            _ => None,
        })
        .collect()
}

/// `EXISTS (the row of `t` keyed `v`, among the visible rows)`.
fn reference_exists(b: &mut Builder<'_>, t: &ModelMeta, v: &Value) -> Expr {
    let a = b.alias();
    let pk = t.ref_pk_field();
    let mut sub = Query::select();
    sub.expr(Expr::cust("1"))
        .from_as(Alias::new(&t.table), Alias::new(&a))
        .and_where(col(&a, &pk.column).eq(Expr::val(bind(v, b.reg.value_type(pk), b.dialect))));
    if let Some(rows) = b.row_cond(t, &a) {
        sub.and_where(rows);
    }
    Expr::exists(sub)
}

/// Checks that every id a many-to-many change names is an existing, visible
/// row: one statement per relation, however many ids it names (so the
/// error can list the missing ones).
async fn check_links(
    tx: &mut Exec<'_, '_>,
    reg: &Registry,
    scope: &Scope,
    m: &ModelMeta,
    links: &[LinkChange],
    errors: &mut Vec<FieldError>,
) -> Result<(), DbError> {
    for link in links {
        let rel = &m.relations[link.relation];
        let t = reg.model(rel.target);
        let ids = dedup_keys(link.set.iter().flatten().chain(&link.add));
        if ids.is_empty() {
            continue;
        }
        let pk = t.ref_pk_field();
        let ty = reg.value_type(pk);
        let mut b = Builder::new(reg, tx.dialect(), scope);
        let a = b.alias();
        let mut stmt = Query::select();
        stmt.expr(col(&a, &pk.column))
            .from_as(Alias::new(&t.table), Alias::new(&a))
            .and_where(b.keys_in(col(&a, &pk.column), &ids, ty));
        if let Some(rows) = b.row_cond(t, &a) {
            stmt.and_where(rows);
        }
        let found: HashSet<String> = tx
            .fetch(&stmt, &[ty])
            .await?
            .into_iter()
            .filter_map(|r| r.into_iter().next().map(|v| v.key_string()))
            .collect();
        let missing: Vec<String> = ids
            .iter()
            .map(Value::key_string)
            .filter(|k| !found.contains(k))
            .collect();
        if !missing.is_empty() {
            errors.push(ferr(
                &rel.name,
                format!("No {} with id {}.", t.graphql_name, missing.join(", ")),
                FieldCode::ForeignKey,
            ));
        }
    }
    Ok(())
}

/// Every check of references a write makes before it writes: the hidden
/// foreign keys and the many-to-many ids (the system skips them: the
/// database's constraints refuse what is missing).
async fn check_references(
    tx: &mut Exec<'_, '_>,
    reg: &Registry,
    scope: &Scope,
    m: &ModelMeta,
    values: &BTreeMap<usize, Value>,
    links: &[LinkChange],
    errors: &mut Vec<FieldError>,
) -> Result<(), DbError> {
    if scope.is_system() {
        return Ok(());
    }
    check_foreign_keys(tx, reg, scope, m, values, Some(true), errors).await?;
    check_links(tx, reg, scope, m, links, errors).await?;
    if !errors.is_empty() {
        // Refused anyway: report every missing reference at once.
        check_foreign_keys(tx, reg, scope, m, values, Some(false), errors).await?;
        errors.sort_by_key(|e| position(m, e));
    }
    Ok(())
}

/// The input errors of a failed write. A foreign-key violation is put on
/// its field: PostgreSQL names the constraint (`<table>_<column>_fk`);
/// SQLite does not, so the one candidate is it, or each candidate is
/// looked up (SQLite keeps the transaction usable after a failed statement).
async fn attribute(
    engine: &Engine,
    tx: &mut Exec<'_, '_>,
    scope: &Scope,
    m: &ModelMeta,
    values: &BTreeMap<usize, Value>,
    links: &[LinkChange],
    e: DbError,
) -> Result<Vec<FieldError>> {
    if e.kind() != DbErrorKind::ForeignKeyViolation {
        return constraint_errors(engine, m, e);
    }
    let reg = engine.registry();
    let refused = |idx: usize, t: &ModelMeta, v: &Value| {
        vec![ferr(
            &m.fields[idx].graphql_name,
            format!("No {} with id {}.", t.graphql_name, v.key_string()),
            FieldCode::ForeignKey,
        )]
    };
    let candidates: Vec<(usize, &ModelMeta, &Value)> = values
        .iter()
        .filter_map(|(idx, v)| match m.fields[*idx].kind {
            FieldKind::ForeignKey { target, .. } if !v.is_null() && !reg.model(target).external => {
                Some((*idx, reg.model(target), v))
            }
            _ => None,
        })
        .collect();
    if let DbError::Query {
        constraint: Some(name),
        ..
    } = &e
    {
        for (idx, t, v) in &candidates {
            if *name == fk_name(&m.table, &m.fields[*idx].column) {
                return Ok(refused(*idx, t, v));
            }
        }
        for link in links {
            let rel = &m.relations[link.relation];
            if rel
                .join
                .via
                .as_ref()
                .is_some_and(|via| *name == fk_name(&via.table, &via.target_column))
            {
                return Ok(vec![ferr(
                    &rel.name,
                    format!(
                        "A {} it names does not exist.",
                        reg.model(rel.target).graphql_name
                    ),
                    FieldCode::ForeignKey,
                )]);
            }
        }
    } else if !tx.dialect().names_constraints() {
        if let [(idx, t, v)] = candidates.as_slice() {
            return Ok(refused(*idx, t, v));
        }
        let everything = Scope::system(std::sync::Arc::clone(scope.registry()));
        for (idx, t, v) in &candidates {
            if !exists(tx, reg, &everything, t, t.ref_pk(), v).await? {
                return Ok(refused(*idx, t, v));
            }
        }
    }
    constraint_errors(engine, m, e)
}

/// Maps a constraint failure to input errors, or returns the error as internal.
fn constraint_errors(engine: &Engine, m: &ModelMeta, e: DbError) -> Result<Vec<FieldError>> {
    let (kind, constraint, columns) = match &e {
        DbError::Query {
            kind,
            constraint,
            columns,
            ..
        } => (*kind, constraint.clone(), columns.clone()),
        // Not a constraint: busy, too large, or internal.
        _ => return Err(Error::from(e)),
    };
    let cols: Vec<String> = match (&constraint, columns.is_empty()) {
        (Some(name), true) => engine
            .state()
            .unique_index(name)
            .map(|(_, i)| i.columns.clone())
            .unwrap_or_default(),
        _ => columns,
    };
    let mut fields: Vec<&FieldMeta> = cols
        .iter()
        .filter_map(|c| m.fields.iter().find(|f| &f.column == c))
        .collect();
    // PostgreSQL names the primary key's constraint `<table>_pkey`, which is
    // no index of ours: a key given twice, or the row the statement is about.
    if fields.is_empty() {
        fields.extend(m.pk.iter().map(|&i| &m.fields[i]));
    }
    let field = fields[0].graphql_name.clone();
    Ok(match kind {
        DbErrorKind::UniqueViolation => {
            let what = fields
                .iter()
                .map(|f| f.graphql_name.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            vec![ferr(
                &field,
                format!("A {} with this {what} already exists.", m.graphql_name),
                FieldCode::Unique,
            )]
        }
        DbErrorKind::ForeignKeyViolation => vec![ferr(
            &field,
            "A referenced row does not exist, or other rows still refer to this one.",
            FieldCode::ForeignKey,
        )],
        DbErrorKind::NotNullViolation => {
            vec![ferr(&field, "This field is required.", FieldCode::Required)]
        }
        DbErrorKind::CheckViolation => vec![ferr(
            &field,
            "The value breaks a database constraint.",
            FieldCode::Invalid,
        )],
        DbErrorKind::InvalidValue => vec![ferr(
            &field,
            "The value cannot be stored in this field.",
            FieldCode::Invalid,
        )],
        DbErrorKind::Busy
        | DbErrorKind::TimedOut
        | DbErrorKind::TooLarge
        | DbErrorKind::Unreachable => {
            return Err(Error::from(e));
        }
        DbErrorKind::Other => return Err(Error::internal(e)),
    })
}

/// The most (owner, target) pairs one INSERT into a join table binds; more
/// go in further statements (SQLite binds at most 32,766 parameters).
const LINK_BATCH: usize = 5000;

/// Applies many-to-many changes to every row of `owners`, set-wise: one
/// statement per kind of change, whatever the number of rows.
async fn write_links(
    tx: &mut Exec<'_, '_>,
    reg: &Registry,
    m: &ModelMeta,
    owners: &[Value],
    links: &[LinkChange],
    fresh: bool,
) -> Result<(), DbError> {
    let dialect = tx.dialect();
    for link in links {
        let rel = &m.relations[link.relation];
        let Some(via) = &rel.join.via else { continue };
        let owner_ty = reg.value_type(&m.fields[rel.join.source]);
        let target_ty = reg.value_type(&reg.model(rel.target).fields[rel.join.target]);
        let owner_is = || match owners {
            [one] => {
                col(&via.table, &via.source_column).eq(Expr::val(bind(one, owner_ty, dialect)))
            }
            many => dialect.keys_in(col(&via.table, &via.source_column), many, owner_ty),
        };
        // A row just created has no links to replace or remove.
        if link.set.is_some() && !fresh {
            let mut del = Query::delete();
            del.from_table(Alias::new(&via.table)).and_where(owner_is());
            tx.execute(&del).await?;
        }
        if !link.remove.is_empty() && !fresh {
            let mut del = Query::delete();
            del.from_table(Alias::new(&via.table))
                .and_where(owner_is())
                .and_where(
                    col(&via.table, &via.target_column).is_in(
                        link.remove
                            .iter()
                            .map(|v| Expr::val(bind(v, target_ty, dialect))),
                    ),
                );
            tx.execute(&del).await?;
        }
        let ids = dedup_keys(link.set.iter().flatten().chain(&link.add));
        let pairs: Vec<(&Value, &Value)> = owners
            .iter()
            .flat_map(|o| ids.iter().map(move |t| (o, t)))
            .collect();
        for batch in pairs.chunks(LINK_BATCH) {
            let mut ins = Query::insert();
            ins.into_table(Alias::new(&via.table)).columns([
                Alias::new(&via.source_column),
                Alias::new(&via.target_column),
            ]);
            for (owner, target) in batch {
                ins.values([
                    Expr::val(bind(owner, owner_ty, dialect)),
                    Expr::val(bind(target, target_ty, dialect)),
                ])
                .map_err(|e| DbError::Decode(e.to_string()))?;
            }
            ins.on_conflict(
                OnConflict::columns([
                    Alias::new(&via.source_column),
                    Alias::new(&via.target_column),
                ])
                .do_nothing()
                .to_owned(),
            );
            tx.execute(&ins).await?;
        }
    }
    Ok(())
}

fn now_for(kind: FieldKind) -> Value {
    let now = chrono::Utc::now();
    match kind {
        FieldKind::Date => Value::Date(now.date_naive()),
        _ => Value::DateTime(now),
    }
}

/// The value a preset field takes from the request (see [`graphloom_meta::Preset`]).
fn preset_value(scope: &Scope, field: &FieldMeta) -> Option<Value> {
    match field.preset?.value {
        graphloom_meta::PresetValue::CurrentUser => scope.user_key(field),
    }
}

/// A create's values with everything the input left out filled in
/// (presets, `auto_now`, generated keys, defaults, NULL), the links, and
/// every input error; refused when the create rule does not allow it.
fn prepare_create(
    reg: &Registry,
    scope: &Scope,
    m: &ModelMeta,
    input: WriteInput,
) -> Result<Checked> {
    let Checked {
        mut values,
        links,
        mut errors,
    } = checked_values(reg, m, input);
    for (idx, f) in m.fields.iter().enumerate() {
        if !m.stores_here(idx) {
            continue;
        }
        // A forced preset is the request's value whatever the input says.
        if let Some(p) = f.preset
            && (p.force || !values.contains_key(&idx))
            && !scope.is_system()
        {
            match preset_value(scope, f) {
                Some(v) => {
                    values.insert(idx, v);
                    continue;
                }
                None if p.force => {
                    return Err(scope.refuse(format!("creating a {}", m.graphql_name)));
                }
                None => {}
            }
        }
        if values.contains_key(&idx) {
            continue;
        }
        if f.auto_now || f.auto_now_add {
            values.insert(idx, now_for(f.kind));
        } else if f.generated_key() && f.kind == FieldKind::Uuid {
            values.insert(idx, Value::Uuid(uuid::Uuid::new_v4()));
        } else if let Some(d) = &f.default {
            values.insert(idx, d.clone());
        } else if f.kind == FieldKind::AutoId && !m.external {
            continue;
        } else if f.required_on_create() || (f.primary_key && m.external) {
            if !errors.iter().any(|e| e.field == [f.graphql_name.clone()]) {
                errors.push(ferr(
                    &f.graphql_name,
                    "This field is required.",
                    FieldCode::Required,
                ));
            }
        } else {
            values.insert(idx, Value::Null);
        }
    }
    // Links' own errors come after the fields'.
    errors.sort_by_key(|e| position(m, e));
    // Denied before input errors are reported: a refused caller learns nothing more.
    scope.can_create(m, &values)?;
    run_validator(m, &values, &mut errors);
    Ok(Checked {
        values,
        links,
        errors,
    })
}

/// Every column of the written row (`alias` names the table in the
/// statement) and, where a row rule decides whether the principal sees it,
/// whether they do (unless `ask` is false: the statement proves it): the
/// payload then needs no second read. Not with link changes, which are
/// written after the row and may bear on the rule.
fn returning_seen(
    b: &mut Builder<'_>,
    m: &ModelMeta,
    alias: &str,
    links: &[LinkChange],
    types: &mut Vec<ValueType>,
    ask: bool,
) -> (sea_query::ReturningClause, bool) {
    // Another service's entity returns its own fields as NULL: they are
    // not columns here.
    let mut exprs: Vec<Expr> = m
        .fields
        .iter()
        .enumerate()
        .map(|(i, f)| {
            if m.stores_here(i) {
                col(alias, &f.column)
            } else {
                Expr::cust("NULL")
            }
        })
        .collect();
    let seen = match b.row_cond(m, alias) {
        Some(rows) if links.is_empty() && ask => rows,
        _ => return (Query::returning().exprs(exprs), false),
    };
    exprs.push(seen);
    types.push(ValueType::Bool);
    (Query::returning().exprs(exprs), true)
}

/// Splits the visibility flag [`returning_seen`] added off a returned row.
fn split_seen(mut row: Vec<Value>, with_seen: bool) -> (Vec<Value>, Option<bool>) {
    if !with_seen {
        return (row, None);
    }
    let seen = matches!(row.pop(), Some(Value::Bool(true)));
    (row, Some(seen))
}

/// Creates one row, and reads `payload`'s rows of it inside the same
/// transaction. The data statements: the hidden references checked (one
/// for all), each many-to-many's ids, the INSERT … RETURNING, the links,
/// and the payload's relations (its row comes from RETURNING unless a row
/// rule must be applied to it).
pub async fn create(
    engine: &Engine,
    scope: &Scope,
    m: &ModelMeta,
    input: WriteInput,
    payload: Option<&NodePlan>,
) -> Result<Outcome> {
    let reg = engine.registry();
    scope.can_view(m)?;
    let Checked {
        values,
        links,
        mut errors,
    } = prepare_create(reg, scope, m, input)?;
    if !errors.is_empty() {
        return Ok(Outcome::Refused(errors));
    }
    // Foreign keys whose targets a row rule may hide guard the INSERT
    // itself (`INSERT … SELECT … WHERE EXISTS …`): one statement, and only
    // a refused insert looks up which reference was missing. Many-to-many
    // ids are checked first, all references with them.
    let guards = if scope.is_system() || !links.is_empty() {
        Vec::new()
    } else {
        references(reg, scope, m, &values, Some(true))
    };
    let dialect = engine.db().dialect();
    let mut b = Builder::new(reg, dialect, scope);
    let mut ins = Query::insert();
    ins.into_table(Alias::new(&m.table))
        .columns(values.keys().map(|i| Alias::new(&m.fields[*i].column)));
    let bound = values
        .iter()
        .map(|(i, v)| Expr::val(bind(v, reg.value_type(&m.fields[*i]), dialect)));
    if guards.is_empty() {
        ins.values(bound).map_err(Error::internal)?;
    } else {
        let mut sel = Query::select();
        sel.exprs(bound);
        for (_, t, v) in &guards {
            let c = reference_exists(&mut b, t, v);
            sel.and_where(c);
        }
        ins.select_from(sel).map_err(Error::internal)?;
    }
    if values.is_empty() {
        ins.or_default_values();
    }
    // The stored row comes back whole: the database's defaults included.
    let mut types: Vec<ValueType> = m.fields.iter().map(|f| reg.value_type(f)).collect();
    let proven = guards_prove_seen(scope, m, &guards);
    let (ret, with_seen) = returning_seen(&mut b, m, &m.table, &links, &mut types, !proven);
    ins.returning(ret);
    // The INSERT alone, when nothing is read or written after it (no
    // links, no relations in the payload; without links RETURNING answers
    // any row rule, so the row needs no second read): it commits as it
    // succeeds, which saves the round trips of BEGIN and COMMIT. A refused
    // one is looked into on the same connection, as in a transaction: it
    // wrote nothing.
    let alone = links.is_empty() && payload.is_none_or(|p| p.children.is_empty());
    let mut tx = transaction(engine, alone).await?;
    let mut ex = on(&mut tx, engine);
    if !links.is_empty() {
        check_references(&mut ex, reg, scope, m, &values, &links, &mut errors).await?;
        if !errors.is_empty() {
            return Ok(Outcome::Refused(errors));
        }
    }
    let row = match ex.fetch(&ins, &types).await {
        Ok(rows) => match rows.into_iter().next() {
            Some(row) => row,
            None if !guards.is_empty() => {
                // A guard held the row back: one statement names every
                // missing reference.
                check_foreign_keys(&mut ex, reg, scope, m, &values, None, &mut errors).await?;
                errors.sort_by_key(|e| position(m, e));
                if errors.is_empty() {
                    return Err(Error::internal(
                        "a guarded INSERT wrote nothing, yet every reference is visible",
                    ));
                }
                return Ok(Outcome::Refused(errors));
            }
            None => return Err(Error::internal("INSERT returned no row")),
        },
        Err(e) => {
            let errors = attribute(engine, &mut ex, scope, m, &values, &links, e).await?;
            return Ok(Outcome::Refused(errors));
        }
    };
    drop(ex);
    let (row, seen) = split_seen(row, with_seen);
    let seen = if proven { Some(true) } else { seen };
    finish(
        tx,
        engine,
        scope,
        m,
        (row, seen),
        &values,
        (&links, true),
        payload,
    )
    .await
}

/// Whether an INSERT's guards already prove its row visible: the model's
/// row rule is exactly "the target of this reference is visible" (a
/// comment is seen where its post is), and the INSERT is guarded by that
/// same target being visible under the same rule, in the same statement.
/// Then RETURNING need not ask the rule again.
fn guards_prove_seen(scope: &Scope, m: &ModelMeta, guards: &[(usize, &ModelMeta, &Value)]) -> bool {
    let Some(Filter::One { relation, filter }) = scope.rows(m.id) else {
        return false;
    };
    let rel = &m.relations[*relation];
    let RelationKind::ForwardOne { field } = rel.kind else {
        return false;
    };
    guards.iter().any(|(idx, t, _)| {
        *idx == field && t.id == rel.target && scope.rows(t.id) == Some(&**filter)
    })
}

/// The most parameters one INSERT binds (SQLite allows 32,766).
const MAX_PARAMS: usize = 30_000;

/// Creates many rows, each prepared as [`create`] prepares one, in one
/// transaction and as few INSERTs as the parameter limit allows. With
/// `ignore_conflicts`, rows that would break a unique constraint are
/// skipped. Returns how many rows were inserted, or every row's input
/// errors (nothing was written). Many-to-many changes are refused: they
/// need each new row's key.
pub async fn create_many(
    engine: &Engine,
    scope: &Scope,
    m: &ModelMeta,
    inputs: Vec<WriteInput>,
    ignore_conflicts: bool,
) -> Result<Result<u64, Vec<FieldError>>> {
    let reg = engine.registry();
    scope.can_view(m)?;
    let mut rows = Vec::with_capacity(inputs.len());
    let mut errors = Vec::new();
    for (i, input) in inputs.into_iter().enumerate() {
        let Checked {
            values,
            links,
            errors: row_errors,
        } = prepare_create(reg, scope, m, input)?;
        if !links.is_empty() {
            errors.push(ferr(
                &m.relations[links[0].relation].name,
                "create_many takes no many-to-many changes; create the row, then link it",
                FieldCode::Invalid,
            ));
        }
        errors.extend(row_errors.into_iter().map(|mut e| {
            e.field.insert(0, i.to_string());
            e
        }));
        rows.push(values);
    }
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    let Some(first) = rows.first() else {
        return Ok(Ok(0));
    };
    let columns: Vec<usize> = first.keys().copied().collect();
    let mut tx = engine.db().begin().await?;
    if !scope.is_system() {
        for values in &rows {
            check_references(
                &mut Exec::Tx(&mut tx),
                reg,
                scope,
                m,
                values,
                &[],
                &mut errors,
            )
            .await?;
        }
        if !errors.is_empty() {
            return Ok(Err(errors));
        }
    }
    let dialect = tx.dialect();
    let key_types = key_types(reg, m);
    let mut keys = Vec::with_capacity(rows.len());
    for batch in rows.chunks((MAX_PARAMS / columns.len().max(1)).max(1)) {
        let mut ins = Query::insert();
        ins.into_table(Alias::new(&m.table))
            .columns(columns.iter().map(|i| Alias::new(&m.fields[*i].column)));
        for values in batch {
            ins.values(columns.iter().map(|i| {
                let v = values.get(i).unwrap_or(&Value::Null);
                Expr::val(bind(v, reg.value_type(&m.fields[*i]), dialect))
            }))
            .map_err(Error::internal)?;
        }
        if ignore_conflicts {
            ins.on_conflict(OnConflict::new().do_nothing().to_owned());
        }
        // The keys it inserted (a skipped conflict returns none).
        ins.returning(returning_key(m));
        match tx.fetch(&ins, &key_types).await {
            Ok(rows) => keys.extend(rows.into_iter().map(key_from_parts)),
            Err(e) => return Ok(Err(constraint_errors(engine, m, e)?)),
        }
    }
    tx.commit().await?;
    let inserted = keys.len() as u64;
    engine.changes().publish(m, ChangeKind::Created, keys);
    Ok(Ok(inserted))
}

/// A write's transaction, or none for a write that runs alone (see
/// [`create`]).
async fn transaction(engine: &Engine, alone: bool) -> Result<Option<Tx<'static>>> {
    Ok(if alone {
        None
    } else {
        Some(engine.db().begin().await?)
    })
}

/// Where a write's statements run: its transaction, else a connection of
/// the pool (autocommit).
fn on<'a>(tx: &'a mut Option<Tx<'static>>, engine: &'a Engine) -> Exec<'a, 'static> {
    match tx {
        Some(tx) => Exec::Tx(tx),
        None => Exec::pool(engine.db()),
    }
}

/// The last step of a create or update: link changes, the payload's rows
/// read inside the transaction, then commit. Without a transaction (a
/// create or update that is one statement, see [`create`]) the write has
/// committed, and there are no links and nothing to read.
#[allow(clippy::too_many_arguments)]
async fn finish(
    mut tx: Option<Tx<'static>>,
    engine: &Engine,
    scope: &Scope,
    m: &ModelMeta,
    (row, seen): (Vec<Value>, Option<bool>),
    values: &BTreeMap<usize, Value>,
    (links, fresh): (&[LinkChange], bool),
    payload: Option<&NodePlan>,
) -> Result<Outcome> {
    let key = m.key_of(&row);
    let mut ex = on(&mut tx, engine);
    if let Err(e) = write_links(
        &mut ex,
        engine.registry(),
        m,
        std::slice::from_ref(&key),
        links,
        fresh,
    )
    .await
    {
        let errors = attribute(engine, &mut ex, scope, m, values, links, e).await?;
        return Ok(Outcome::Refused(errors));
    }
    let node = match payload {
        None => None,
        // The row as RETURNING gave it (and its relations loaded under it),
        // when no row rule decides whether the principal may see it, or
        // RETURNING said they do.
        Some(_) if seen == Some(false) => None,
        Some(plan) if scope.rows(m.id).is_none() || seen == Some(true) => {
            let mut nodes = [Node {
                model: m.id,
                values: row.clone(),
                children: Default::default(),
                scope: None,
                missing: None,
            }];
            load_children(engine, &mut ex, scope, m, plan, &mut nodes).await?;
            let [node] = nodes;
            Some(node)
        }
        Some(plan) => {
            let mut nodes = fetch_keys_matching(
                engine,
                &mut ex,
                scope,
                m,
                std::slice::from_ref(&key),
                None,
                plan,
            )
            .await?;
            nodes.pop()
        }
    };
    drop(ex);
    if let Some(tx) = tx {
        tx.commit().await?;
    }
    let kind = if fresh {
        ChangeKind::Created
    } else {
        ChangeKind::Updated
    };
    engine.changes().publish(m, kind, vec![key.clone()]);
    Ok(Outcome::Written { key, row, node })
}

/// `SET column = value` for each change.
fn set_values<'a>(
    reg: &'a Registry,
    m: &'a ModelMeta,
    changes: &'a BTreeMap<usize, Value>,
    dialect: graphloom_db::Dialect,
) -> impl Iterator<Item = (Alias, Expr)> + 'a {
    changes.iter().map(move |(i, v)| {
        (
            Alias::new(&m.fields[*i].column),
            Expr::val(bind(v, reg.value_type(&m.fields[*i]), dialect)),
        )
    })
}

/// The stored row by field index, if the principal can see it (locked for
/// the rest of the transaction on PostgreSQL).
async fn load_row(
    tx: &mut Exec<'_, '_>,
    reg: &Registry,
    scope: &Scope,
    m: &ModelMeta,
    key: &Value,
) -> Result<Option<BTreeMap<usize, Value>>> {
    let mut b = Builder::new(reg, tx.dialect(), scope);
    let a = b.alias();
    let mut stmt = Query::select();
    stmt.from_as(Alias::new(&m.table), Alias::new(&a));
    if let Some(rows) = b.row_cond(m, &a) {
        stmt.and_where(rows);
    }
    let mut types = Vec::new();
    for f in &m.fields {
        stmt.expr(col(&a, &f.column));
        types.push(reg.value_type(f));
    }
    stmt.and_where(key_eq(reg, tx.dialect(), m, |c| col(&a, c), key));
    if tx.dialect().locks_rows() {
        stmt.lock(sea_query::LockType::Update);
    }
    let rows = tx.fetch(&stmt, &types).await?;
    Ok(rows
        .into_iter()
        .next()
        .map(|r| r.into_iter().enumerate().collect()))
}

/// The answer for a row that does not exist or that the principal cannot see.
fn not_found(m: &ModelMeta, key: &Value) -> Outcome {
    Outcome::Refused(vec![ferr(
        key_arg_name(m),
        format!("No {} with {}.", m.graphql_name, key_text(m, key)),
        FieldCode::NotFound,
    )])
}

/// The argument a generated update or delete takes the key as (`id`), or a
/// composite key's first (each of its fields is an argument).
pub fn key_arg_name(m: &ModelMeta) -> &str {
    match m.pk.as_slice() {
        [_] => "id",
        many => &m.fields[many[0]].graphql_name,
    }
}

/// A key in messages: `id 7`, or `userId 1, groupId 2`.
pub fn key_text(m: &ModelMeta, key: &Value) -> String {
    match m.pk.as_slice() {
        [_] => format!("id {}", key.key_string()),
        many => many
            .iter()
            .zip(key.parts())
            .map(|(&i, v)| format!("{} {}", m.fields[i].graphql_name, v.key_string()))
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// The value types of the key's fields, in key order.
pub fn key_types(reg: &Registry, m: &ModelMeta) -> Vec<ValueType> {
    m.pk.iter().map(|&i| reg.value_type(&m.fields[i])).collect()
}

/// `RETURNING` the key's columns (read back with [`key_types`] and
/// [`key_from_parts`]).
fn returning_key(m: &ModelMeta) -> sea_query::ReturningClause {
    Query::returning().columns(m.pk.iter().map(|&i| Alias::new(&m.fields[i].column)))
}

/// A key from its fields' values in key order.
fn key_from_parts(mut parts: Vec<Value>) -> Value {
    if parts.len() == 1 {
        parts.pop().unwrap_or(Value::Null)
    } else {
        Value::Tuple(parts)
    }
}

/// The key of a row held by field index, if the row has every key field.
fn row_key(m: &ModelMeta, row: &BTreeMap<usize, Value>) -> Option<Value> {
    let parts: Option<Vec<Value>> = m.pk.iter().map(|i| row.get(i).cloned()).collect();
    parts.map(key_from_parts)
}

/// Whether a row of `m` with this key is among those the scope sees.
async fn visible(
    tx: &mut Exec<'_, '_>,
    reg: &Registry,
    scope: &Scope,
    m: &ModelMeta,
    key: &Value,
) -> Result<bool, DbError> {
    let mut b = Builder::new(reg, tx.dialect(), scope);
    let a = b.alias();
    let mut stmt = Query::select();
    stmt.expr(Expr::cust("1"))
        .from_as(Alias::new(&m.table), Alias::new(&a))
        .and_where(key_eq(reg, tx.dialect(), m, |c| col(&a, c), key))
        .limit(1);
    if let Some(rows) = b.row_cond(m, &a) {
        stmt.and_where(rows);
    }
    Ok(!tx.fetch(&stmt, &[ValueType::I32]).await?.is_empty())
}

/// Changes the given fields of one row, and reads `payload`'s rows of it
/// inside the same transaction. Without a validation hook or many-to-many
/// changes, that is one `UPDATE … WHERE <key, update rule, visible rows>
/// RETURNING`; otherwise the row is read (and locked) first, so the hook
/// sees it merged with the changes.
pub async fn update(
    engine: &Engine,
    scope: &Scope,
    m: &ModelMeta,
    key: Value,
    input: WriteInput,
    payload: Option<&NodePlan>,
    expect: Option<&Expected>,
) -> Result<Outcome> {
    let reg = engine.registry();
    let Checked {
        values: mut changes,
        links,
        mut errors,
    } = checked_changes(reg, scope, m, input);
    if !errors.is_empty() {
        return Ok(Outcome::Refused(errors));
    }
    scope.can_set(m, &changes)?;
    scope.can_view(m)?;
    let dialect = engine.db().dialect();
    let mut types: Vec<ValueType> = m.fields.iter().map(|f| reg.value_type(f)).collect();
    let rule = scope.write_cond(m, Operation::Update);
    // An expected version needs the row read (and locked) before the write.
    let in_place =
        m.validator.is_none() && links.is_empty() && rule != Cond::False && expect.is_none();
    // As a create (see `create`): the UPDATE alone when it changes
    // something and nothing is read after it (RETURNING gives the payload
    // its row, and whether the principal sees it where a row rule asks).
    // A reference to a target a row rule may hide is checked before the
    // write, a statement of its own: then both run in one transaction.
    let alone = in_place
        && !changes.is_empty()
        && payload.is_none_or(|p| p.children.is_empty())
        && (scope.is_system() || references(reg, scope, m, &changes, Some(true)).is_empty());
    let mut tx = transaction(engine, alone).await?;
    let mut ex = on(&mut tx, engine);
    // The row as written, and whether the principal sees it where
    // RETURNING said (see `returning_seen`).
    let (row, seen) = if in_place {
        stamp_auto_now(m, &mut changes);
        check_references(&mut ex, reg, scope, m, &changes, &[], &mut errors).await?;
        if !errors.is_empty() {
            return Ok(Outcome::Refused(errors));
        }
        let mut b = Builder::new(reg, dialect, scope);
        // The table by its own name: SQLite's RETURNING cannot see an
        // UPDATE's alias, and the visibility it returns names the row.
        let a = m.table.clone();
        let by_key = key_eq(reg, dialect, m, |c| col(&a, c), &key);
        let (updated, with_seen) = if changes.is_empty() {
            // Nothing to write: the row as it is, if the rule allows a change.
            let mut stmt = Query::select();
            stmt.from_as(Alias::new(&m.table), Alias::new(&a));
            for f in &m.fields {
                stmt.expr(col(&a, &f.column));
            }
            stmt.and_where(by_key);
            if let Some(f) = rule.filter() {
                let c = b.cond(m, &a, &f);
                stmt.and_where(c);
            }
            if let Some(rows) = b.row_cond(m, &a) {
                stmt.and_where(rows);
            }
            (ex.fetch(&stmt, &types).await, false)
        } else {
            let mut upd = Query::update();
            upd.table(Alias::new(&m.table))
                .values(set_values(reg, m, &changes, dialect))
                .and_where(by_key);
            if let Some(f) = rule.filter() {
                let c = b.cond(m, &a, &f);
                upd.and_where(c);
            }
            if let Some(rows) = b.row_cond(m, &a) {
                upd.and_where(rows);
            }
            let (ret, with_seen) = returning_seen(&mut b, m, &a, &[], &mut types, true);
            upd.returning(ret);
            (ex.fetch(&upd, &types).await, with_seen)
        };
        match updated {
            Ok(rows) => match rows.into_iter().next() {
                Some(row) => split_seen(row, with_seen),
                // No row changed: missing or hidden reads as missing;
                // visible means the update rule refused it.
                None if visible(&mut ex, reg, scope, m, &key).await? => {
                    return Err(scope.refuse(format!("changing this {}", m.graphql_name)));
                }
                None => return Ok(not_found(m, &key)),
            },
            Err(e) => {
                let errors = attribute(engine, &mut ex, scope, m, &changes, &[], e).await?;
                return Ok(Outcome::Refused(errors));
            }
        }
    } else {
        let Some(mut row) = load_row(&mut ex, reg, scope, m, &key).await? else {
            return Ok(not_found(m, &key));
        };
        if !scope.may_write(m, Operation::Update, &row) {
            return Err(scope.refuse(format!("changing this {}", m.graphql_name)));
        }
        if let Some(e) = expect {
            e.check(m, &row)?;
        }
        stamp_auto_now(m, &mut changes);
        row.extend(changes.clone());
        run_validator(m, &row, &mut errors);
        check_references(&mut ex, reg, scope, m, &changes, &links, &mut errors).await?;
        if !errors.is_empty() {
            return Ok(Outcome::Refused(errors));
        }
        if changes.is_empty() {
            (row.into_values().collect(), None)
        } else {
            let mut upd = Query::update();
            upd.table(Alias::new(&m.table))
                .values(set_values(reg, m, &changes, dialect))
                .and_where(key_eq(reg, dialect, m, |c| Expr::col(Alias::new(c)), &key));
            let mut b = Builder::new(reg, dialect, scope);
            let (ret, with_seen) = returning_seen(&mut b, m, &m.table, &links, &mut types, true);
            upd.returning(ret);
            match ex.fetch(&upd, &types).await {
                Ok(rows) => {
                    let row = rows.into_iter().next().ok_or_else(|| {
                        Error::internal("UPDATE of a locked row returned nothing")
                    })?;
                    split_seen(row, with_seen)
                }
                Err(e) => {
                    let errors = attribute(engine, &mut ex, scope, m, &changes, &links, e).await?;
                    return Ok(Outcome::Refused(errors));
                }
            }
        }
    };
    drop(ex);
    finish(
        tx,
        engine,
        scope,
        m,
        (row, seen),
        &changes,
        (&links, false),
        payload,
    )
    .await
}

/// Deletes one row (and what cascades from it), unless other rows protect it.
pub async fn delete(
    engine: &Engine,
    scope: &Scope,
    m: &ModelMeta,
    key: Value,
    expect: Option<&Expected>,
) -> Result<Outcome> {
    let reg = engine.registry();
    scope.can_view(m)?;
    let mut tx = engine.db().begin().await?;
    let Some(row) = load_row(&mut Exec::Tx(&mut tx), reg, scope, m, &key).await? else {
        return Ok(not_found(m, &key));
    };
    if !scope.may_write(m, Operation::Delete, &row) {
        return Err(scope.refuse(format!("deleting this {}", m.graphql_name)));
    }
    if let Some(e) = expect {
        e.check(m, &row)?;
    }
    // PROTECT: refuse while other rows refer to this one, naming them. Every
    // referring row counts, seen or not: the database would refuse anyway.
    let everything = Scope::system(std::sync::Arc::clone(scope.registry()));
    for other in reg.models() {
        for (fi, f) in other.fields.iter().enumerate() {
            if let FieldKind::ForeignKey {
                target,
                on_delete: OnDelete::Protect,
                ..
            } = f.kind
                && target == m.id
                && exists(&mut Exec::Tx(&mut tx), reg, &everything, other, fi, &key).await?
            {
                return Ok(Outcome::Refused(vec![ferr(
                    "id",
                    format!(
                        "This {} cannot be deleted: {} rows refer to it through `{}`.",
                        m.graphql_name, other.graphql_name, f.name
                    ),
                    FieldCode::Protected,
                )]));
            }
        }
    }
    let mut del = Query::delete();
    del.from_table(Alias::new(&m.table)).and_where(key_eq(
        reg,
        tx.dialect(),
        m,
        |c| Expr::col(Alias::new(c)),
        &key,
    ));
    if let Err(e) = tx.execute(&del).await {
        if e.kind() == DbErrorKind::ForeignKeyViolation {
            return Ok(Outcome::Refused(vec![ferr(
                "id",
                format!(
                    "This {} cannot be deleted: other rows still refer to it.",
                    m.graphql_name
                ),
                FieldCode::Protected,
            )]));
        }
        return Err(Error::internal(e));
    }
    tx.commit().await?;
    engine
        .changes()
        .publish(m, ChangeKind::Deleted, vec![key.clone()]);
    Ok(Outcome::Written {
        key,
        row: row.into_values().collect(),
        node: None,
    })
}

/// The forward many-to-many relations of a model (those a write can change).
pub fn link_relations(reg: &Registry, m: &ModelMeta) -> Vec<usize> {
    m.relations
        .iter()
        .enumerate()
        .filter_map(|(i, r)| match r.kind {
            RelationKind::ManyToMany { forward: true, .. } if reg.model(r.target).exposed => {
                Some(i)
            }
            RelationKind::ForwardOne { .. }
            | RelationKind::ReverseOne { .. }
            | RelationKind::ReverseMany { .. }
            | RelationKind::ManyToMany { .. } => None,
        })
        .collect()
}

/// The keys (and, when `whole`, the rows by field index) of the visible rows
/// of `m` matching `filter`, locked on PostgreSQL for the transaction.
async fn matching_rows(
    tx: &mut Tx<'_>,
    reg: &Registry,
    scope: &Scope,
    m: &ModelMeta,
    filter: Option<&crate::filter::Filter>,
    whole: bool,
) -> Result<Vec<BTreeMap<usize, Value>>> {
    let mut b = Builder::new(reg, tx.dialect(), scope);
    let a = b.alias();
    let mut stmt = Query::select();
    stmt.from_as(Alias::new(&m.table), Alias::new(&a));
    let fields: Vec<usize> = if whole {
        (0..m.fields.len()).collect()
    } else {
        m.pk.clone()
    };
    let types: Vec<ValueType> = fields
        .iter()
        .map(|&i| reg.value_type(&m.fields[i]))
        .collect();
    for &i in &fields {
        stmt.expr(col(&a, &m.fields[i].column));
    }
    if let Some(f) = filter {
        let c = b.cond(m, &a, f);
        stmt.and_where(c);
    }
    if let Some(rows) = b.row_cond(m, &a) {
        stmt.and_where(rows);
    }
    for &i in &m.pk {
        stmt.order_by(
            (Alias::new(&a), Alias::new(&m.fields[i].column)),
            sea_query::Order::Asc,
        );
    }
    if tx.dialect().locks_rows() {
        stmt.lock(sea_query::LockType::Update);
    }
    let rows = tx.fetch(&stmt, &types).await?;
    Ok(rows
        .into_iter()
        .map(|r| fields.iter().copied().zip(r).collect())
        .collect())
}

/// The condition a bulk write adds for the rule of `op`, or the refusal
/// when the rule lets the principal change no row at all.
fn bulk_rule(scope: &Scope, m: &ModelMeta, op: Operation) -> Result<Option<crate::filter::Filter>> {
    match scope.write_cond(m, op) {
        crate::scope::Cond::True => Ok(None),
        crate::scope::Cond::False => Err(scope.refuse(format!(
            "{} {}",
            if op == Operation::Delete {
                "deleting"
            } else {
                "changing"
            },
            m.plural_name
        ))),
        crate::scope::Cond::Rows(f) => Ok(Some(f)),
    }
}

/// Changes every visible row of `m` matching `filter` that the update rule
/// lets the principal change (the others are left alone), in one
/// transaction: the values checked once, `auto_now` set, the model's
/// validation run on each merged row, references checked, then one UPDATE
/// and one statement per kind of many-to-many change. Returns how many rows
/// changed, or the input errors (nothing was written).
pub async fn update_where(
    engine: &Engine,
    scope: &Scope,
    m: &ModelMeta,
    filter: Option<crate::filter::Filter>,
    input: WriteInput,
) -> Result<Result<u64, Vec<FieldError>>> {
    let reg = engine.registry();
    scope.can_view(m)?;
    let rule = bulk_rule(scope, m, Operation::Update)?;
    let Checked {
        values: mut changes,
        links,
        mut errors,
    } = checked_changes(reg, scope, m, input);
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    scope.can_set(m, &changes)?;
    stamp_auto_now(m, &mut changes);
    let target = crate::filter::Filter::all(filter.into_iter().chain(rule).collect());
    let references = !scope.is_system()
        && changes.iter().any(|(i, v)| {
            matches!(m.fields[*i].kind, FieldKind::ForeignKey { .. }) && !v.is_null()
        });
    if m.validator.is_none() && links.is_empty() && !references {
        // Nothing to check row by row: one UPDATE whose conditions are on
        // the target table itself, so a concurrent change is re-checked
        // (PostgreSQL re-evaluates them on the row it waited for).
        return update_in_place(engine, scope, m, target.as_ref(), &changes).await;
    }
    let mut tx = engine.db().begin().await?;
    let rows = matching_rows(
        &mut tx,
        reg,
        scope,
        m,
        target.as_ref(),
        m.validator.is_some(),
    )
    .await?;
    let keys: Vec<Value> = rows.iter().filter_map(|r| row_key(m, r)).collect();
    if keys.is_empty() {
        return Ok(Ok(0));
    }
    for mut row in rows {
        let key = row_key(m, &row).unwrap_or(Value::Null);
        row.extend(changes.clone());
        let mut row_errors = Vec::new();
        run_validator(m, &row, &mut row_errors);
        errors.extend(row_errors.into_iter().map(|mut e| {
            e.message = format!("{} {}: {}", m.graphql_name, key.key_string(), e.message);
            e
        }));
    }
    if !scope.is_system() {
        check_references(
            &mut Exec::Tx(&mut tx),
            reg,
            scope,
            m,
            &changes,
            &links,
            &mut errors,
        )
        .await?;
    }
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    if !changes.is_empty() {
        let dialect = tx.dialect();
        let mut upd = Query::update();
        upd.table(Alias::new(&m.table))
            .values(changes.iter().map(|(i, v)| {
                (
                    Alias::new(&m.fields[*i].column),
                    Expr::val(bind(v, reg.value_type(&m.fields[*i]), dialect)),
                )
            }))
            .and_where(key_in(reg, dialect, m, |c| Expr::col(Alias::new(c)), &keys));
        if let Err(e) = tx.execute(&upd).await {
            return Ok(Err(constraint_errors(engine, m, e)?));
        }
    }
    if let Err(e) = write_links(&mut Exec::Tx(&mut tx), reg, m, &keys, &links, false).await {
        return Ok(Err(constraint_errors(engine, m, e)?));
    }
    tx.commit().await?;
    let n = keys.len() as u64;
    engine.changes().publish(m, ChangeKind::Updated, keys);
    Ok(Ok(n))
}

/// Changes one row whose stored values the caller already holds (the
/// model API's `update_row`): the model's validation runs on `known`
/// merged with the changes, in memory, so the write is one UPDATE of the
/// row with key `key` that also matches `filter`, the update rule and the
/// visible rows. Returns how many rows changed (0 or 1).
pub async fn update_known(
    engine: &Engine,
    scope: &Scope,
    m: &ModelMeta,
    known: BTreeMap<usize, Value>,
    filter: Option<crate::filter::Filter>,
    input: WriteInput,
) -> Result<Result<u64, Vec<FieldError>>> {
    let reg = engine.registry();
    scope.can_view(m)?;
    let rule = bulk_rule(scope, m, Operation::Update)?;
    let key = row_key(m, &known).ok_or_else(|| Error::internal("a known row without its key"))?;
    let Checked {
        values: mut changes,
        links,
        mut errors,
    } = checked_changes(reg, scope, m, input);
    if !links.is_empty() {
        errors.push(ferr(
            &m.relations[links[0].relation].name,
            "update_row changes no many-to-many relation; use update on a filtered queryset",
            FieldCode::Invalid,
        ));
    }
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    scope.can_set(m, &changes)?;
    stamp_auto_now(m, &mut changes);
    let mut row = known;
    row.extend(changes.clone());
    run_validator(m, &row, &mut errors);
    if !scope.is_system() {
        let mut tx = engine.db().begin().await?;
        check_references(
            &mut Exec::Tx(&mut tx),
            reg,
            scope,
            m,
            &changes,
            &[],
            &mut errors,
        )
        .await?;
        tx.commit().await?;
    }
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    let by_key =
        m.pk.iter()
            .zip(key.parts())
            .map(|(&field, v)| crate::filter::Filter::Field {
                field,
                op: graphloom_meta::Op::Eq,
                value: crate::filter::FilterValue::One(v.clone()),
            });
    let target = crate::filter::Filter::all(by_key.chain(filter).chain(rule).collect());
    update_in_place(engine, scope, m, target.as_ref(), &changes).await
}

/// `UPDATE <table> AS t0 SET … WHERE <filter and visible rows on t0>`: one
/// statement; returns the rows it changed.
async fn update_in_place(
    engine: &Engine,
    scope: &Scope,
    m: &ModelMeta,
    filter: Option<&crate::filter::Filter>,
    changes: &BTreeMap<usize, Value>,
) -> Result<Result<u64, Vec<FieldError>>> {
    if changes.is_empty() {
        return Ok(Ok(0));
    }
    let reg = engine.registry();
    let dialect = engine.db().dialect();
    let mut b = Builder::new(reg, dialect, scope);
    let a = b.alias();
    let mut upd = Query::update();
    upd.table(sea_query::TableRef::from(Alias::new(&m.table)).alias(Alias::new(&a)))
        .values(changes.iter().map(|(i, v)| {
            (
                Alias::new(&m.fields[*i].column),
                Expr::val(bind(v, reg.value_type(&m.fields[*i]), dialect)),
            )
        }));
    if let Some(f) = filter {
        let c = b.cond(m, &a, f);
        upd.and_where(c);
    }
    if let Some(rows) = b.row_cond(m, &a) {
        upd.and_where(rows);
    }
    // The keys it changed, for the subscribers.
    upd.returning(returning_key(m));
    match engine.db().fetch(&upd, &key_types(reg, m)).await {
        Ok(rows) => {
            let keys: Vec<Value> = rows.into_iter().map(key_from_parts).collect();
            let n = keys.len() as u64;
            engine.changes().publish(m, ChangeKind::Updated, keys);
            Ok(Ok(n))
        }
        Err(e) => Ok(Err(constraint_errors(engine, m, e)?)),
    }
}

/// Deletes every visible row of `m` matching `filter` that the delete rule
/// lets the principal delete, unless other rows protect one of them.
/// Returns how many rows went, or the `PROTECTED` error.
pub async fn delete_where(
    engine: &Engine,
    scope: &Scope,
    m: &ModelMeta,
    filter: Option<crate::filter::Filter>,
) -> Result<Result<u64, Vec<FieldError>>> {
    let reg = engine.registry();
    scope.can_view(m)?;
    let rule = bulk_rule(scope, m, Operation::Delete)?;
    let target = crate::filter::Filter::all(filter.into_iter().chain(rule).collect());
    let mut tx = engine.db().begin().await?;
    let rows = matching_rows(&mut tx, reg, scope, m, target.as_ref(), false).await?;
    let keys: Vec<Value> = rows.iter().filter_map(|r| row_key(m, r)).collect();
    if keys.is_empty() {
        return Ok(Ok(0));
    }
    let dialect = tx.dialect();
    // Every referring row counts, seen or not: the database would refuse
    // anyway. (Only a model keyed by one field is referred to.)
    let key_ty = reg.value_type(m.ref_pk_field());
    for other in reg.models() {
        for f in &other.fields {
            if let FieldKind::ForeignKey {
                target,
                on_delete: OnDelete::Protect,
                ..
            } = f.kind
                && target == m.id
            {
                let mut stmt = Query::select();
                stmt.expr(Expr::cust("1"))
                    .from(Alias::new(&other.table))
                    .and_where(dialect.keys_in(Expr::col(Alias::new(&f.column)), &keys, key_ty))
                    .limit(1);
                if !tx.fetch(&stmt, &[ValueType::I32]).await?.is_empty() {
                    return Ok(Err(vec![ferr(
                        "id",
                        format!(
                            "These {} cannot be deleted: {} rows refer to them through `{}`.",
                            m.plural_name, other.graphql_name, f.name
                        ),
                        FieldCode::Protected,
                    )]));
                }
            }
        }
    }
    let mut del = Query::delete();
    del.from_table(Alias::new(&m.table)).and_where(key_in(
        reg,
        dialect,
        m,
        |c| Expr::col(Alias::new(c)),
        &keys,
    ));
    if let Err(e) = tx.execute(&del).await {
        if e.kind() == DbErrorKind::ForeignKeyViolation {
            return Ok(Err(vec![ferr(
                "id",
                format!(
                    "These {} cannot be deleted: other rows still refer to them.",
                    m.plural_name
                ),
                FieldCode::Protected,
            )]));
        }
        return Err(Error::internal(e));
    }
    tx.commit().await?;
    let n = keys.len() as u64;
    engine.changes().publish(m, ChangeKind::Deleted, keys);
    Ok(Ok(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rows_version_follows_every_value_and_its_kind() {
        let row = [Value::I64(1), Value::String("a".into()), Value::Null];
        let v = row_version(&row);
        assert_eq!(v, row_version(&row), "stable");
        assert_eq!(v.len(), 22, "128 bits, base64url");
        for other in [
            [Value::I64(2), Value::String("a".into()), Value::Null],
            [Value::I64(1), Value::String("b".into()), Value::Null],
            [
                Value::I64(1),
                Value::String("a".into()),
                Value::String("null".into()),
            ],
        ] {
            assert_ne!(row_version(&other), v, "{other:?}");
        }
        // Lengths keep values apart: ("ab", "") is not ("a", "b").
        let split =
            |a: &str, b: &str| row_version(&[Value::String(a.into()), Value::String(b.into())]);
        assert_ne!(split("ab", ""), split("a", "b"));
        // A locked row (by field index) has the version of its values.
        let stored: BTreeMap<usize, Value> = row.iter().cloned().enumerate().collect();
        assert_eq!(row_version(stored.values()), v);
    }
}
