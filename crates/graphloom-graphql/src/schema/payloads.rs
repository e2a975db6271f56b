//! Mutation payloads: the written row (planned like any selection), the
//! refused input fields as `FieldError`s, the deleted id.

use std::sync::Arc;

use async_graphql::{
    Name, Value as Gql,
    dynamic::{Enum, Field, FieldFuture, FieldValue, Object, ResolverContext, TypeRef},
};
use graphloom_meta::{ModelId, ModelMeta, Value};
use graphloom_query::{FieldCode, FieldError, Result, exec::fetch_unique, write::Outcome};

use crate::{
    context::scope_of, convert::plain_to_graphql, error::ResultExt, runtime::Runtime,
    translate::plan_node,
};

/// What a mutation did: the row's key (none after a delete or a refusal) and errors.
#[derive(Debug, Clone)]
pub struct MutationResult {
    pub model: ModelId,
    pub key: Option<Value>,
    pub deleted: Option<Value>,
    pub errors: Vec<FieldError>,
}

impl MutationResult {
    /// The payload of a create or update.
    pub fn saved(model: ModelId, outcome: Outcome) -> Self {
        match outcome {
            Outcome::Written { key, .. } => MutationResult {
                model,
                key: Some(key),
                deleted: None,
                errors: Vec::new(),
            },
            Outcome::Refused(errors) => MutationResult::refused(model, errors),
        }
    }

    /// The payload of a delete.
    pub fn deleted(model: ModelId, outcome: Outcome) -> Self {
        match outcome {
            Outcome::Written { key, .. } => MutationResult {
                model,
                key: None,
                deleted: Some(key),
                errors: Vec::new(),
            },
            Outcome::Refused(errors) => MutationResult::refused(model, errors),
        }
    }

    pub fn refused(model: ModelId, errors: Vec<FieldError>) -> Self {
        MutationResult {
            model,
            key: None,
            deleted: None,
            errors,
        }
    }
}

/// The payload codes, from the engine's [`FieldCode`]s.
pub(crate) fn error_code_enum() -> Enum {
    Enum::new("ErrorCode")
        .description("Why a mutation input was refused.")
        .items(FieldCode::ALL.iter().map(|c| c.as_str()))
}

/// Every subgraph defines it identically, so its fields are `@shareable`.
pub(crate) fn field_error_type() -> Object {
    Object::new("FieldError")
        .description(
            "An input that was refused: the path of the input field, a message and a stable code.",
        )
        .field(
            Field::new("field", TypeRef::named_nn_list_nn(TypeRef::STRING), |ctx| {
                FieldFuture::new(async move {
                    let e = ctx.parent_value.try_downcast_ref::<FieldError>()?;
                    Ok(Some(Gql::List(
                        e.field.iter().map(|s| Gql::String(s.clone())).collect(),
                    )))
                })
            })
            .shareable(),
        )
        .field(
            Field::new("message", TypeRef::named_nn(TypeRef::STRING), |ctx| {
                FieldFuture::new(async move {
                    let e = ctx.parent_value.try_downcast_ref::<FieldError>()?;
                    Ok(Some(Gql::String(e.message.clone())))
                })
            })
            .shareable(),
        )
        .field(
            Field::new("code", TypeRef::named_nn("ErrorCode"), |ctx| {
                FieldFuture::new(async move {
                    let e = ctx.parent_value.try_downcast_ref::<FieldError>()?;
                    Ok(Some(Gql::Enum(Name::new(e.code.as_str()))))
                })
            })
            .shareable(),
        )
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

/// `CreatePostPayload` / `UpdatePostPayload`: the row and the errors.
pub(crate) fn payload(rt: &Arc<Runtime>, m: &ModelMeta, verb: &str) -> Object {
    let rt = Arc::clone(rt);
    Object::new(format!("{verb}{}Payload", m.graphql_name))
        .field(Field::new(
            &m.single_name,
            TypeRef::named(&m.graphql_name),
            move |ctx| {
                let rt = Arc::clone(&rt);
                FieldFuture::new(async move { payload_node(&rt, &ctx).await.gql() })
            },
        ))
        .field(errors_field())
}

/// `DeletePostPayload`: the deleted id and the errors.
pub(crate) fn delete_payload(m: &ModelMeta) -> Object {
    Object::new(format!("Delete{}Payload", m.graphql_name))
        .field(Field::new(
            "deletedId",
            TypeRef::named(TypeRef::ID),
            |ctx| {
                FieldFuture::new(async move {
                    let r = ctx.parent_value.try_downcast_ref::<MutationResult>()?;
                    Ok(r.deleted.as_ref().map(plain_to_graphql))
                })
            },
        ))
        .field(errors_field())
}

/// Resolves a payload's row through the planner, as the request may see it.
async fn payload_node(
    rt: &Arc<Runtime>,
    ctx: &ResolverContext<'_>,
) -> Result<Option<FieldValue<'static>>> {
    let res = ctx
        .parent_value
        .try_downcast_ref::<MutationResult>()
        .map_err(|e| graphloom_query::Error::internal(e.message))?;
    let Some(key) = &res.key else { return Ok(None) };
    let model = rt.registry().model(res.model);
    let scope = scope_of(ctx)?;
    let plan = plan_node(rt, &scope, model, &ctx.ctx.field())?;
    let node = fetch_unique(&rt.engine, &scope, model, model.pk, key.clone(), &plan).await?;
    Ok(node.map(|n| FieldValue::owned_any(Arc::new(n))))
}
