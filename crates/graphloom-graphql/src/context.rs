//! What resolvers read from the request: the permission scope and request
//! context [`crate::Api::execute_as`] put there, the parent row.

use std::sync::Arc;

use async_graphql::dynamic::ResolverContext;
use graphloom_query::{Ctx, Error, ErrorCode, RequestContext, Result, exec::Node, scope::Scope};

use crate::runtime::Runtime;

/// The request's permission scope, put there by [`crate::Api::execute_as`].
pub fn scope_of(ctx: &ResolverContext<'_>) -> Result<Arc<Scope>> {
    ctx.data_opt::<Arc<Scope>>()
        .cloned()
        .ok_or_else(|| Error::internal("a request ran without a permission scope"))
}

/// The context app code gets: the engine, the request and its scope.
/// A field's arguments as one JSON object, for app code to decode.
pub fn args_json(ctx: &ResolverContext<'_>) -> Result<serde_json::Value> {
    async_graphql::Value::Object(ctx.args.as_index_map().clone())
        .into_json()
        .map_err(Error::internal)
}

pub fn request_ctx(rt: &Runtime, ctx: &ResolverContext<'_>) -> Result<Ctx> {
    let request = ctx
        .data_opt::<Arc<RequestContext>>()
        .cloned()
        .unwrap_or_default();
    Ok(Ctx::new(Arc::clone(&rt.engine), request, scope_of(ctx)?))
}

/// The row a field of a model's object type reads.
pub(crate) fn node_of<'a>(ctx: &'a ResolverContext<'a>) -> Result<&'a Arc<Node>> {
    let node = ctx
        .parent_value
        .try_downcast_ref::<Arc<Node>>()
        .map_err(|e| Error::internal(e.message))?;
    match &node.missing {
        Some(m) => Err(Error::new(ErrorCode::NotFound, m.clone())),
        None => Ok(node),
    }
}

/// The key a field's value goes under in the response (alias or name).
pub(crate) fn response_key(ctx: &ResolverContext<'_>) -> String {
    let f = ctx.ctx.field();
    f.alias().unwrap_or(f.name()).to_owned()
}
