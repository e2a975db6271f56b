//! Mutation payloads: the written row (planned like any selection and read
//! inside the write's transaction), the refused input fields as
//! `FieldError`s, the deleted id.

use std::sync::Arc;

use async_graphql::{
    Name, Value as Gql,
    dynamic::{Enum, Field, FieldFuture, FieldValue, Object, ResolverContext, TypeRef},
};
use graphloom_meta::{ModelId, ModelMeta, Value};
use graphloom_query::{Error, FieldCode, FieldError, Result, exec::Node, write::Outcome};

use crate::{convert::plain_to_graphql, error::ResultExt, schema::resolvers::Verb};

/// What a mutation did: the row's key (none after a delete or a refusal),
/// its payload rows, and errors.
#[derive(Debug, Clone)]
pub struct MutationResult {
    pub model: ModelId,
    pub key: Option<Value>,
    pub deleted: Option<Value>,
    pub errors: Vec<FieldError>,
    pub payload: Payload,
}

/// The payload's row of a create or update.
#[derive(Debug, Clone, Default)]
pub enum Payload {
    /// Not selected (or nothing was written).
    #[default]
    None,
    /// Read inside the write's transaction: this write, as the principal
    /// may see it (`None`: hidden from them).
    Read(Option<Arc<Node>>),
    /// Planning the payload failed; the write happened, the field fails.
    Failed(Error),
}

impl MutationResult {
    /// The payload of a create or update; `planned` says whether a payload
    /// plan went with the write (else the write's node is ignored).
    pub fn saved(model: ModelId, outcome: Outcome, planned: Option<Error>) -> Self {
        match outcome {
            Outcome::Written { key, node, .. } => MutationResult {
                model,
                key: Some(key),
                deleted: None,
                errors: Vec::new(),
                payload: match planned {
                    Some(e) => Payload::Failed(e),
                    None => Payload::Read(node.map(Arc::new)),
                },
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
                payload: Payload::None,
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
            payload: Payload::None,
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
pub(crate) fn payload(m: &ModelMeta, verb: Verb) -> Object {
    Object::new(verb.payload(m))
        .field(Field::new(
            &m.single_name,
            TypeRef::named(&m.graphql_name),
            |ctx| FieldFuture::new(async move { payload_node(&ctx).await.gql() }),
        ))
        .field(errors_field())
}

/// `DeletePostPayload`: the deleted id (a composite key's fields as
/// `deletedUserId`, `deletedGroupId`, …) and the errors.
pub(crate) fn delete_payload(m: &ModelMeta) -> Object {
    let mut payload = Object::new(Verb::Delete.payload(m));
    for (part, arg) in crate::convert::key_arguments(m).into_iter().enumerate() {
        let ty = TypeRef::named(arg.type_name);
        payload = payload.field(Field::new(arg.deleted, ty, move |ctx| {
            FieldFuture::new(async move {
                let r = ctx.parent_value.try_downcast_ref::<MutationResult>()?;
                Ok(r.deleted
                    .as_ref()
                    .and_then(|k| k.parts().get(part))
                    .map(plain_to_graphql))
            })
        }));
    }
    payload.field(errors_field())
}

/// A payload's row, as the write read it inside its transaction.
async fn payload_node(ctx: &ResolverContext<'_>) -> Result<Option<FieldValue<'static>>> {
    let res = ctx
        .parent_value
        .try_downcast_ref::<MutationResult>()
        .map_err(|e| Error::internal(e.message))?;
    match &res.payload {
        Payload::None => Ok(None),
        Payload::Read(node) => Ok(node.as_ref().map(|n| FieldValue::owned_any(Arc::clone(n)))),
        Payload::Failed(e) => Err(e.clone()),
    }
}
