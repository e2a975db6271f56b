//! Generated create, update and delete: the schema half (inputs, payloads, root
//! fields) and the database half (validate, write, in one transaction). Expected
//! failures are [`FieldErr`]s in the payload, never top-level errors.

use std::{collections::BTreeMap, sync::Arc};

use async_graphql::{
    Value as Gql,
    dynamic::{
        Field, FieldFuture, FieldValue, InputObject, InputValue, Object, SchemaBuilder, TypeRef,
    },
};
use futures_util::future::BoxFuture;
use graphloom_db::{DbError, DbErrorKind, Tx, bind};
use graphloom_meta::{FieldKind, ModelId, ModelMeta, OnDelete, RelationKind, Value, ValueType};
use indexmap::IndexMap;
use sea_query::{Alias, Expr, ExprTrait, OnConflict, Query};

use crate::{
    convert::{InputError, parse_field, parse_typed},
    error::Error,
    permissions::{Operation, Scope},
    runtime::Runtime,
    schema::payload_node,
    sql::{Builder, col},
};

/// One refused input: the input field path, a message and a stable code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldErr {
    pub field: Vec<String>,
    pub message: String,
    pub code: &'static str,
}

fn ferr(field: &str, message: impl Into<String>, code: &'static str) -> FieldErr {
    FieldErr {
        field: vec![field.to_owned()],
        message: message.into(),
        code,
    }
}

/// What a mutation did: the row's key (none after a delete or a refusal) and errors.
#[derive(Debug, Clone)]
pub struct MutationResult {
    pub model: ModelId,
    pub key: Option<Value>,
    pub deleted: Option<Value>,
    pub errors: Vec<FieldErr>,
}

fn m2m_fields(rt: &Runtime, m: &ModelMeta) -> Vec<(String, usize, bool)> {
    m.relations
        .iter()
        .filter_map(|r| match r.kind {
            RelationKind::ManyToMany {
                join,
                forward: true,
            } if rt.registry.model(r.target).exposed => Some((r.name.clone(), join, true)),
            RelationKind::ForwardOne { .. }
            | RelationKind::ReverseOne { .. }
            | RelationKind::ReverseMany { .. }
            | RelationKind::ManyToMany { .. } => None,
        })
        .collect()
}

pub(crate) fn register_types(
    mut schema: SchemaBuilder,
    rt: &Arc<Runtime>,
    m: &ModelMeta,
) -> SchemaBuilder {
    let reg = &rt.registry;
    let name = &m.graphql_name;
    let input = |create: bool| {
        let mut obj = InputObject::new(format!(
            "{}{name}Input",
            if create { "Create" } else { "Update" }
        ));
        for f in m.fields.iter().filter(|f| f.writable()) {
            let mut iv = InputValue::new(
                &f.graphql_name,
                TypeRef::named(crate::convert::type_name(reg, f)),
            );
            let mut desc = f.help.unwrap_or_default().to_owned();
            if create && f.required_on_create() {
                desc = format!("Required. {desc}").trim().to_owned();
            }
            if !desc.is_empty() {
                iv = iv.description(desc);
            }
            obj = obj.field(iv);
        }
        for (field, _, _) in m2m_fields(rt, m) {
            obj = obj.field(InputValue::new(field, TypeRef::named("ManyToManyInput")));
        }
        obj
    };
    if m.operations.create {
        schema = schema
            .register(input(true))
            .register(payload(rt, m, "Create"));
    }
    if m.operations.update {
        schema = schema
            .register(input(false))
            .register(payload(rt, m, "Update"));
    }
    if m.operations.delete {
        let delete = Object::new(format!("Delete{name}Payload"))
            .field(Field::new(
                "deletedId",
                TypeRef::named(TypeRef::ID),
                |ctx| {
                    FieldFuture::new(async move {
                        let r = ctx.parent_value.try_downcast_ref::<MutationResult>()?;
                        Ok(r.deleted.as_ref().map(crate::convert::plain_to_graphql))
                    })
                },
            ))
            .field(errors_field());
        schema = schema.register(delete);
    }
    schema
}

fn errors_field() -> Field {
    Field::new("errors", TypeRef::named_nn_list_nn("FieldError"), |ctx| {
        FieldFuture::new(async move {
            let r = ctx.parent_value.try_downcast_ref::<MutationResult>()?;
            Ok(Some(FieldValue::list(
                r.errors.iter().cloned().map(FieldValue::owned_any),
            )))
        })
    })
}

fn payload(rt: &Arc<Runtime>, m: &ModelMeta, verb: &str) -> Object {
    let rt = Arc::clone(rt);
    Object::new(format!("{verb}{}Payload", m.graphql_name))
        .field(Field::new(
            &m.single_name,
            TypeRef::named(&m.graphql_name),
            move |ctx| {
                let rt = Arc::clone(&rt);
                FieldFuture::new(async move { payload_node(&rt, &ctx).await })
            },
        ))
        .field(errors_field())
}

/// A mutation root field whose resolver gets the runtime, the model and the arguments.
fn mutation_field<F>(
    rt: &Arc<Runtime>,
    name: String,
    payload: String,
    description: String,
    run: F,
) -> Field
where
    F: for<'a> Fn(
            &'a Runtime,
            &'a Scope,
            &'a IndexMap<async_graphql::Name, Gql>,
        ) -> BoxFuture<'a, Result<MutationResult, Error>>
        + Send
        + Sync
        + 'static,
{
    let rt = Arc::clone(rt);
    let run = Arc::new(run);
    Field::new(name, TypeRef::named_nn(payload), move |ctx| {
        let rt = Arc::clone(&rt);
        let run = Arc::clone(&run);
        FieldFuture::new(async move {
            let args = ctx.args.as_index_map();
            let scope = crate::schema::scope_of(&ctx)?;
            let res = run(&rt, &scope, args).await?;
            Ok(Some(FieldValue::owned_any(res)))
        })
    })
    .description(description)
}

fn input_arg(args: &IndexMap<async_graphql::Name, Gql>) -> Input {
    match args.get("input") {
        Some(Gql::Object(o)) => o.clone(),
        _ => Input::new(),
    }
}

fn id_arg(args: &IndexMap<async_graphql::Name, Gql>) -> Gql {
    args.get("id").cloned().unwrap_or(Gql::Null)
}

pub(crate) fn root_fields(mut mutation: Object, rt: &Arc<Runtime>, m: &ModelMeta) -> Object {
    let id = m.id;
    let auth = |f: Field, op| crate::schema::field_with_auth(rt, f, &rt.permissions.need(id, op));
    let name = &m.graphql_name;
    let id_type = || TypeRef::named_nn(TypeRef::ID);
    let input_type = |verb: &str| TypeRef::named_nn(format!("{verb}{name}Input"));
    if m.operations.create {
        let field = mutation_field(
            rt,
            format!("create{name}"),
            format!("Create{name}Payload"),
            format!("Creates a {name} in one transaction."),
            move |rt, scope, args| {
                Box::pin(async move { create(rt, scope, id, &input_arg(args)).await })
            },
        );
        let field = auth(field, Operation::Create);
        mutation = mutation.field(field.argument(InputValue::new("input", input_type("Create"))));
    }
    if m.operations.update {
        let field = mutation_field(
            rt,
            format!("update{name}"),
            format!("Update{name}Payload"),
            format!("Changes the given fields of a {name}, in one transaction."),
            move |rt, scope, args| {
                Box::pin(
                    async move { update(rt, scope, id, &id_arg(args), &input_arg(args)).await },
                )
            },
        );
        mutation = mutation.field(
            auth(field, Operation::Update)
                .argument(InputValue::new("id", id_type()))
                .argument(InputValue::new("input", input_type("Update"))),
        );
    }
    if m.operations.delete {
        let field = mutation_field(
            rt,
            format!("delete{name}"),
            format!("Delete{name}Payload"),
            format!("Deletes a {name}, in one transaction."),
            move |rt, scope, args| {
                Box::pin(async move { delete(rt, scope, id, &id_arg(args)).await })
            },
        );
        let field = auth(field, Operation::Delete);
        mutation = mutation.field(field.argument(InputValue::new("id", id_type())));
    }
    mutation
}

type Input = IndexMap<async_graphql::Name, Gql>;

/// The most ids one many-to-many change may name (bounded statement size).
pub const MAX_LIST: usize = 1000;

/// The answer for a row that does not exist or that the principal cannot see.
fn not_found(m: &ModelMeta, key: &Value) -> MutationResult {
    refused(
        m.id,
        vec![ferr(
            "id",
            format!("No {} with id {}.", m.graphql_name, key.key_string()),
            "NOT_FOUND",
        )],
    )
}

fn refused(model: ModelId, errors: Vec<FieldErr>) -> MutationResult {
    MutationResult {
        model,
        key: None,
        deleted: None,
        errors,
    }
}

fn now_for(kind: FieldKind) -> Value {
    let now = chrono::Utc::now();
    match kind {
        FieldKind::Date => Value::Date(now.date_naive()),
        _ => Value::DateTime(now),
    }
}

/// Parses the writable fields present in `input`.
fn parse_input(
    rt: &Runtime,
    m: &ModelMeta,
    input: &Input,
    errors: &mut Vec<FieldErr>,
) -> BTreeMap<usize, Value> {
    let mut values = BTreeMap::new();
    for (idx, f) in m.fields.iter().enumerate().filter(|(_, f)| f.writable()) {
        let Some(raw) = input.get(f.graphql_name.as_str()) else {
            continue;
        };
        if matches!(raw, Gql::Null) {
            if f.nullable {
                values.insert(idx, Value::Null);
            } else {
                errors.push(ferr(
                    &f.graphql_name,
                    "This field cannot be null.",
                    "REQUIRED",
                ));
            }
            continue;
        }
        match parse_field(&rt.registry, f, raw) {
            Ok(v) => {
                values.insert(idx, v);
            }
            Err(e) => {
                let code = match e {
                    InputError::TooLong { .. } => "MAX_LENGTH",
                    InputError::Invalid(_) => "INVALID",
                };
                errors.push(ferr(&f.graphql_name, e.message(), code));
            }
        }
    }
    values
}

/// Many-to-many changes of an input: (relation name, join index, set, add, remove).
struct LinkChange {
    name: String,
    join: usize,
    set: Option<Vec<Value>>,
    add: Vec<Value>,
    remove: Vec<Value>,
}

fn parse_links(
    rt: &Runtime,
    m: &ModelMeta,
    input: &Input,
    errors: &mut Vec<FieldErr>,
) -> Vec<LinkChange> {
    let mut out = Vec::new();
    for (name, join, _) in m2m_fields(rt, m) {
        let Some(Gql::Object(obj)) = input.get(name.as_str()) else {
            continue;
        };
        let j = rt.registry.join(join);
        let target = rt.registry.model(j.target);
        let ty = rt.registry.value_type(target.pk_field());
        let mut ids = |key: &str| -> Option<Vec<Value>> {
            match obj.get(key) {
                None | Some(Gql::Null) => None,
                Some(Gql::List(items)) if items.len() > MAX_LIST => {
                    errors.push(FieldErr {
                        field: vec![name.clone(), key.to_owned()],
                        message: format!("at most {MAX_LIST} ids at once"),
                        code: "INVALID",
                    });
                    None
                }
                Some(Gql::List(items)) => {
                    let mut vs = Vec::new();
                    for (i, item) in items.iter().enumerate() {
                        match parse_typed(ty, None, item) {
                            Ok(v) => vs.push(v),
                            Err(msg) => errors.push(FieldErr {
                                field: vec![name.clone(), key.to_owned(), i.to_string()],
                                message: msg,
                                code: "INVALID",
                            }),
                        }
                    }
                    Some(vs)
                }
                Some(_) => None,
            }
        };
        let set = ids("set");
        let add = ids("add").unwrap_or_default();
        let remove = ids("remove").unwrap_or_default();
        out.push(LinkChange {
            name,
            join,
            set,
            add,
            remove,
        });
    }
    out
}

fn run_validator(m: &ModelMeta, row: &BTreeMap<usize, Value>, errors: &mut Vec<FieldErr>) {
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
            errors.push(FieldErr {
                field: vec![field],
                message: e.message,
                code: "VALIDATION",
            });
        }
    }
}

/// Whether a row of `m` whose `field` is `value` exists among the rows `scope` sees.
async fn exists(
    tx: &mut Tx<'_>,
    rt: &Runtime,
    scope: &Scope,
    m: &ModelMeta,
    field: usize,
    value: &Value,
) -> Result<bool, DbError> {
    let f = &m.fields[field];
    let mut b = Builder::new(&rt.registry, tx.dialect(), scope);
    let a = b.alias();
    let mut stmt = Query::select();
    stmt.expr(Expr::cust("1"))
        .from_as(Alias::new(&m.table), Alias::new(&a))
        .and_where(col(&a, &f.column).eq(Expr::val(bind(
            value,
            rt.registry.value_type(f),
            tx.dialect(),
        ))))
        .limit(1);
    if let Some(rows) = b.row_cond(m, &a) {
        stmt.and_where(rows);
    }
    Ok(!tx.fetch(&stmt, &[ValueType::I32]).await?.is_empty())
}

/// Checks that every foreign key and many-to-many id points at an existing row.
async fn check_references(
    tx: &mut Tx<'_>,
    rt: &Runtime,
    scope: &Scope,
    m: &ModelMeta,
    values: &BTreeMap<usize, Value>,
    links: &[LinkChange],
    errors: &mut Vec<FieldErr>,
) -> Result<(), DbError> {
    for (idx, v) in values {
        let f = &m.fields[*idx];
        if let (FieldKind::ForeignKey { target, .. }, false) = (f.kind, v.is_null())
            && !rt.registry.model(target).external
        {
            let t = rt.registry.model(target);
            // A row the principal cannot see is as absent as a missing one.
            if !exists(tx, rt, scope, t, t.pk, v).await? {
                errors.push(ferr(
                    &f.graphql_name,
                    format!("No {} with id {}.", t.graphql_name, v.key_string()),
                    "FOREIGN_KEY",
                ));
            }
        }
    }
    // One statement per many-to-many field, however many ids it names.
    for link in links {
        let j = rt.registry.join(link.join);
        let t = rt.registry.model(j.target);
        let mut seen = std::collections::HashSet::new();
        let ids: Vec<Value> = link
            .set
            .iter()
            .flatten()
            .chain(&link.add)
            .filter(|v| seen.insert(v.key_string()))
            .cloned()
            .collect();
        if ids.is_empty() {
            continue;
        }
        let pk = t.pk_field();
        let ty = rt.registry.value_type(pk);
        let mut b = Builder::new(&rt.registry, tx.dialect(), scope);
        let a = b.alias();
        let mut stmt = Query::select();
        stmt.expr(col(&a, &pk.column))
            .from_as(Alias::new(&t.table), Alias::new(&a))
            .and_where(b.keys_in(col(&a, &pk.column), &ids, ty));
        if let Some(rows) = b.row_cond(t, &a) {
            stmt.and_where(rows);
        }
        let found: std::collections::HashSet<String> = tx
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
                &link.name,
                format!("No {} with id {}.", t.graphql_name, missing.join(", ")),
                "FOREIGN_KEY",
            ));
        }
    }
    Ok(())
}

/// Maps a constraint failure to input errors, or returns the error as internal.
fn constraint_errors(rt: &Runtime, m: &ModelMeta, e: DbError) -> Result<Vec<FieldErr>, Error> {
    let (kind, constraint, columns) = match &e {
        DbError::Query {
            kind,
            constraint,
            columns,
            ..
        } => (*kind, constraint.clone(), columns.clone()),
        _ => return Err(Error::internal(e)),
    };
    let cols: Vec<String> = match (&constraint, columns.is_empty()) {
        (Some(name), true) => rt
            .state
            .unique_index(name)
            .map(|(_, i)| i.columns.clone())
            .unwrap_or_default(),
        _ => columns,
    };
    let fields: Vec<&graphloom_meta::FieldMeta> = cols
        .iter()
        .filter_map(|c| m.fields.iter().find(|f| &f.column == c))
        .collect();
    let field = fields
        .first()
        .map_or_else(|| "id".to_owned(), |f| f.graphql_name.clone());
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
                "UNIQUE",
            )]
        }
        DbErrorKind::ForeignKeyViolation => vec![ferr(
            &field,
            "A referenced row does not exist, or other rows still refer to this one.",
            "FOREIGN_KEY",
        )],
        DbErrorKind::NotNullViolation => vec![ferr(&field, "This field is required.", "REQUIRED")],
        DbErrorKind::CheckViolation => vec![ferr(
            &field,
            "The value breaks a database constraint.",
            "INVALID",
        )],
        DbErrorKind::Other => return Err(Error::internal(e)),
    })
}

async fn write_links(
    tx: &mut Tx<'_>,
    rt: &Runtime,
    owner: &Value,
    links: &[LinkChange],
) -> Result<(), DbError> {
    let dialect = tx.dialect();
    for link in links {
        let j = rt.registry.join(link.join);
        let owner_ty = rt
            .registry
            .value_type(rt.registry.model(j.owner).pk_field());
        let target_ty = rt
            .registry
            .value_type(rt.registry.model(j.target).pk_field());
        let owner_is =
            || col(&j.table, &j.owner_column).eq(Expr::val(bind(owner, owner_ty, dialect)));
        if link.set.is_some() {
            let mut del = Query::delete();
            del.from_table(Alias::new(&j.table)).and_where(owner_is());
            tx.execute(&del).await?;
        }
        if !link.remove.is_empty() {
            let mut del = Query::delete();
            del.from_table(Alias::new(&j.table))
                .and_where(owner_is())
                .and_where(
                    col(&j.table, &j.target_column).is_in(
                        link.remove
                            .iter()
                            .map(|v| Expr::val(bind(v, target_ty, dialect))),
                    ),
                );
            tx.execute(&del).await?;
        }
        let mut ids: Vec<&Value> = link.set.iter().flatten().chain(&link.add).collect();
        let mut seen = std::collections::HashSet::new();
        ids.retain(|v| seen.insert(v.key_string()));
        if ids.is_empty() {
            continue;
        }
        let mut ins = Query::insert();
        ins.into_table(Alias::new(&j.table))
            .columns([Alias::new(&j.owner_column), Alias::new(&j.target_column)]);
        for v in ids {
            ins.values([
                Expr::val(bind(owner, owner_ty, dialect)),
                Expr::val(bind(v, target_ty, dialect)),
            ])
            .map_err(|e| DbError::Decode(e.to_string()))?;
        }
        ins.on_conflict(
            OnConflict::columns([Alias::new(&j.owner_column), Alias::new(&j.target_column)])
                .do_nothing()
                .to_owned(),
        );
        tx.execute(&ins).await?;
    }
    Ok(())
}

pub(crate) async fn create(
    rt: &Runtime,
    scope: &Scope,
    id: ModelId,
    input: &Input,
) -> Result<MutationResult, Error> {
    let m = rt.registry.model(id);
    scope.can_view(m)?;
    let mut errors = Vec::new();
    let mut values = parse_input(rt, m, input, &mut errors);
    for (idx, f) in m.fields.iter().enumerate() {
        if values.contains_key(&idx) {
            continue;
        }
        if f.auto_now || f.auto_now_add {
            values.insert(idx, now_for(f.kind));
        } else if f.primary_key && f.kind == FieldKind::Uuid {
            values.insert(idx, Value::Uuid(uuid::Uuid::new_v4()));
        } else if let Some(d) = &f.default {
            values.insert(idx, d.clone());
        } else if f.kind == FieldKind::AutoId {
            continue;
        } else if f.required_on_create() {
            if !errors.iter().any(|e| e.field == [f.graphql_name.clone()]) {
                errors.push(ferr(&f.graphql_name, "This field is required.", "REQUIRED"));
            }
        } else {
            values.insert(idx, Value::Null);
        }
    }
    let links = parse_links(rt, m, input, &mut errors);
    // Denied before input errors are reported: a refused caller learns nothing more.
    scope.can_create(m, &values)?;
    run_validator(m, &values, &mut errors);
    if !errors.is_empty() {
        return Ok(refused(id, errors));
    }
    let mut tx = rt.db.begin().await?;
    check_references(&mut tx, rt, scope, m, &values, &links, &mut errors).await?;
    if !errors.is_empty() {
        return Ok(refused(id, errors));
    }
    let dialect = tx.dialect();
    let mut ins = Query::insert();
    ins.into_table(Alias::new(&m.table))
        .columns(values.keys().map(|i| Alias::new(&m.fields[*i].column)))
        .returning_col(Alias::new(&m.pk_field().column));
    ins.values(
        values
            .iter()
            .map(|(i, v)| Expr::val(bind(v, rt.registry.value_type(&m.fields[*i]), dialect))),
    )
    .map_err(Error::internal)?;
    if values.is_empty() {
        ins.or_default_values();
    }
    let pk_ty = rt.registry.value_type(m.pk_field());
    let key = match tx.fetch(&ins, &[pk_ty]).await {
        Ok(rows) => rows
            .into_iter()
            .next()
            .and_then(|r| r.into_iter().next())
            .ok_or_else(|| Error::internal("INSERT returned no key"))?,
        Err(e) => return Ok(refused(id, constraint_errors(rt, m, e)?)),
    };
    finish(tx, rt, m, key, &links).await
}

/// The last step of a create or update: link changes, then commit.
async fn finish(
    mut tx: Tx<'_>,
    rt: &Runtime,
    m: &ModelMeta,
    key: Value,
    links: &[LinkChange],
) -> Result<MutationResult, Error> {
    if let Err(e) = write_links(&mut tx, rt, &key, links).await {
        return Ok(refused(m.id, constraint_errors(rt, m, e)?));
    }
    tx.commit().await?;
    Ok(MutationResult {
        model: m.id,
        key: Some(key),
        deleted: None,
        errors: Vec::new(),
    })
}

fn parse_key(rt: &Runtime, m: &ModelMeta, raw: &Gql) -> Result<Value, FieldErr> {
    parse_typed(rt.registry.value_type(m.pk_field()), None, raw)
        .map_err(|msg| ferr("id", msg, "INVALID"))
}

/// The stored row, if the principal can see it.
async fn load_row(
    tx: &mut Tx<'_>,
    rt: &Runtime,
    scope: &Scope,
    m: &ModelMeta,
    key: &Value,
) -> Result<Option<BTreeMap<usize, Value>>, Error> {
    let mut b = Builder::new(&rt.registry, tx.dialect(), scope);
    let a = b.alias();
    let mut stmt = Query::select();
    stmt.from_as(Alias::new(&m.table), Alias::new(&a));
    if let Some(rows) = b.row_cond(m, &a) {
        stmt.and_where(rows);
    }
    let mut types = Vec::new();
    for f in &m.fields {
        stmt.expr(col(&a, &f.column));
        types.push(rt.registry.value_type(f));
    }
    stmt.and_where(col(&a, &m.pk_field().column).eq(Expr::val(bind(
        key,
        rt.registry.value_type(m.pk_field()),
        tx.dialect(),
    ))));
    if tx.dialect() == graphloom_db::Dialect::Postgres {
        stmt.lock(sea_query::LockType::Update);
    }
    let rows = tx.fetch(&stmt, &types).await?;
    Ok(rows
        .into_iter()
        .next()
        .map(|r| r.into_iter().enumerate().collect()))
}

pub(crate) async fn update(
    rt: &Runtime,
    scope: &Scope,
    id: ModelId,
    raw_key: &Gql,
    input: &Input,
) -> Result<MutationResult, Error> {
    let m = rt.registry.model(id);
    let key = match parse_key(rt, m, raw_key) {
        Ok(k) => k,
        Err(e) => return Ok(refused(id, vec![e])),
    };
    let mut errors = Vec::new();
    let mut changes = parse_input(rt, m, input, &mut errors);
    let links = parse_links(rt, m, input, &mut errors);
    if !errors.is_empty() {
        return Ok(refused(id, errors));
    }
    let mut tx = rt.db.begin().await?;
    scope.can_view(m)?;
    let Some(mut row) = load_row(&mut tx, rt, scope, m, &key).await? else {
        return Ok(not_found(m, &key));
    };
    if !scope.may_write(m, false, &row) {
        return Err(scope.forbid(format!("changing this {}", m.graphql_name)));
    }
    for (idx, f) in m.fields.iter().enumerate() {
        if f.auto_now {
            changes.insert(idx, now_for(f.kind));
        }
    }
    row.extend(changes.clone());
    run_validator(m, &row, &mut errors);
    check_references(&mut tx, rt, scope, m, &changes, &links, &mut errors).await?;
    if !errors.is_empty() {
        return Ok(refused(id, errors));
    }
    if !changes.is_empty() {
        let dialect = tx.dialect();
        let mut upd = Query::update();
        upd.table(Alias::new(&m.table))
            .values(changes.iter().map(|(i, v)| {
                (
                    Alias::new(&m.fields[*i].column),
                    Expr::val(bind(v, rt.registry.value_type(&m.fields[*i]), dialect)),
                )
            }))
            .and_where(
                Expr::col(Alias::new(&m.pk_field().column)).eq(Expr::val(bind(
                    &key,
                    rt.registry.value_type(m.pk_field()),
                    dialect,
                ))),
            );
        if let Err(e) = tx.execute(&upd).await {
            return Ok(refused(id, constraint_errors(rt, m, e)?));
        }
    }
    finish(tx, rt, m, key, &links).await
}

pub(crate) async fn delete(
    rt: &Runtime,
    scope: &Scope,
    id: ModelId,
    raw_key: &Gql,
) -> Result<MutationResult, Error> {
    let m = rt.registry.model(id);
    let key = match parse_key(rt, m, raw_key) {
        Ok(k) => k,
        Err(e) => return Ok(refused(id, vec![e])),
    };
    scope.can_view(m)?;
    let mut tx = rt.db.begin().await?;
    let Some(row) = load_row(&mut tx, rt, scope, m, &key).await? else {
        return Ok(not_found(m, &key));
    };
    if !scope.may_write(m, true, &row) {
        return Err(scope.forbid(format!("deleting this {}", m.graphql_name)));
    }
    // PROTECT: refuse while other rows refer to this one, naming them. Every
    // referring row counts, seen or not: the database would refuse anyway.
    let everything = Scope::unrestricted();
    for other in rt.registry.models() {
        for (fi, f) in other.fields.iter().enumerate() {
            if let FieldKind::ForeignKey {
                target,
                on_delete: OnDelete::Protect,
                ..
            } = f.kind
                && target == id
                && exists(&mut tx, rt, &everything, other, fi, &key).await?
            {
                {
                    return Ok(refused(
                        id,
                        vec![ferr(
                            "id",
                            format!(
                                "This {} cannot be deleted: {} rows refer to it through `{}`.",
                                m.graphql_name, other.graphql_name, f.name
                            ),
                            "PROTECTED",
                        )],
                    ));
                }
            }
        }
    }
    let mut del = Query::delete();
    del.from_table(Alias::new(&m.table))
        .and_where(
            Expr::col(Alias::new(&m.pk_field().column)).eq(Expr::val(bind(
                &key,
                rt.registry.value_type(m.pk_field()),
                tx.dialect(),
            ))),
        );
    if let Err(e) = tx.execute(&del).await {
        if e.kind() == DbErrorKind::ForeignKeyViolation {
            return Ok(refused(
                id,
                vec![ferr(
                    "id",
                    format!(
                        "This {} cannot be deleted: other rows still refer to it.",
                        m.graphql_name
                    ),
                    "PROTECTED",
                )],
            ));
        }
        return Err(Error::internal(e));
    }
    tx.commit().await?;
    Ok(MutationResult {
        model: id,
        key: None,
        deleted: Some(key),
        errors: Vec::new(),
    })
}
