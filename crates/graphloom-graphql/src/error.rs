//! Engine errors as GraphQL errors: the message, and the stable code in
//! `extensions.code` (plus the refused fields of a write in
//! `extensions.fields`, and a retry hint in whole seconds in
//! `extensions.retryAfter`). Internal failures were logged in full where they
//! happened and reach the client only as `INTERNAL_SERVER_ERROR`.

use async_graphql::ErrorExtensions;
use graphloom_query::Error;

/// The GraphQL error of an engine error.
pub fn gql(e: Error) -> async_graphql::Error {
    let Error {
        code,
        message,
        fields,
        retry_after,
    } = e;
    async_graphql::Error::new(message).extend_with(|_, ext| {
        ext.set("code", code.as_str());
        if let Some(wait) = retry_after {
            ext.set("retryAfter", wait.as_secs_f64().ceil() as u64);
        }
        if !fields.is_empty() {
            let list: Vec<async_graphql::Value> = fields
                .iter()
                .map(|f| {
                    async_graphql::Value::from_json(serde_json::json!({
                        "field": f.field,
                        "message": f.message,
                        "code": f.code.as_str(),
                    }))
                    .unwrap_or_default()
                })
                .collect();
            ext.set("fields", async_graphql::Value::List(list));
        }
    })
}

/// `?` on engine results inside async-graphql resolvers: `.gql()?`.
pub trait ResultExt<T> {
    fn gql(self) -> Result<T, async_graphql::Error>;
}

impl<T> ResultExt<T> for Result<T, Error> {
    fn gql(self) -> Result<T, async_graphql::Error> {
        self.map_err(gql)
    }
}
