//! Federation helpers: what a gateway does to a subgraph, checked in
//! `cargo test` instead of behind a gateway.

use graphloom::{
    compose::{self, Composition, Subgraph},
    db::sea_query::{Alias, Order, Query},
    graphql::{Api, convert},
    meta::KeyPath,
};
use serde_json::{Map, Value as Json, json};

use crate::TestClient;

/// How many rows of each entity [`TestClient::assert_keys_resolve`] tries.
const ROWS_PER_ENTITY: u64 = 3;

impl TestClient {
    /// Calls `_entities` as a gateway does, with these representations
    /// (`[{"__typename": "Post", "id": "1"}]`) and `selection` on each
    /// (`"... on Post { title }"`); returns the list, `null` where an entity
    /// was not found. Panics if the request fails (use
    /// [`errors_vars`](TestClient::errors_vars) to test refusals).
    pub async fn entities(&self, representations: Json, selection: &str) -> Json {
        self.try_entities(representations, selection)
            .await
            .unwrap_or_else(|failure| panic!("{failure}"))
    }

    /// `_entities`: the list, or why the request failed (the response and
    /// the query). A missing entity is `null` with a NOT_FOUND error: an
    /// answer, not a failure.
    async fn try_entities(&self, representations: Json, selection: &str) -> Result<Json, String> {
        let query = format!(
            "query($representations: [_Any!]!) {{ _entities(representations: $representations) \
             {{ __typename {selection} }} }}"
        );
        let res = self
            .execute(&query, json!({ "representations": representations }))
            .await;
        let data = res["data"]["_entities"].clone();
        let failed = res["errors"].as_array().is_some_and(|errors| {
            errors
                .iter()
                .any(|e| e["extensions"]["code"] != "NOT_FOUND")
        });
        if failed || data.is_null() {
            return Err(format!("_entities failed: {res:#}\nquery: {query}"));
        }
        Ok(data)
    }

    /// Asserts that every `@key` of every entity this service owns resolves:
    /// for up to three stored rows of each, a representation built from the
    /// row's key (each key, when an entity has several) comes back through
    /// `_entities` as that row, as this client's user (act as a superuser to
    /// reach every row). Entities of other services (`#[model(external)]`)
    /// are not stored here and are skipped. Panics listing each key that did
    /// not resolve and each entity without rows to try; returns how many
    /// representations resolved.
    pub async fn assert_keys_resolve(&self) -> usize {
        let reg = self.api().registry();
        let dialect = self.db().dialect();
        let mut problems = Vec::new();
        let mut resolved = 0;
        for m in reg.models() {
            if !m.exposed || m.external || m.federation.unresolvable || m.keys.is_empty() {
                continue;
            }
            let mut fields: Vec<usize> = m.keys.iter().flatten().copied().collect();
            fields.sort_unstable();
            fields.dedup();
            let mut select = Query::select();
            select
                .columns(fields.iter().map(|&f| Alias::new(&m.fields[f].column)))
                .from(Alias::new(&m.table))
                .limit(ROWS_PER_ENTITY);
            for &f in &m.pk {
                select.order_by(Alias::new(&m.fields[f].column), Order::Asc);
            }
            let types: Vec<_> = fields
                .iter()
                .map(|&f| reg.value_type(&m.fields[f]))
                .collect();
            let rows = self
                .db()
                .fetch(&select, &types)
                .await
                .unwrap_or_else(|e| panic!("reading {} ({dialect:?}): {e}", m.table));
            if rows.is_empty() {
                problems.push(format!(
                    "{}: no rows to resolve its keys with; create some first",
                    m.graphql_name
                ));
                continue;
            }
            let mut reps = Vec::new();
            let mut wanted = Vec::new();
            for key in &m.keys {
                for row in &rows {
                    let mut rep = Map::new();
                    rep.insert("__typename".into(), json!(m.graphql_name));
                    for &f in key {
                        let at = fields.iter().position(|&x| x == f).unwrap_or(0);
                        let value = convert::to_graphql(&m.fields[f], &row[at])
                            .into_json()
                            .unwrap_or(Json::Null);
                        match m.key_path(reg, f) {
                            KeyPath::Field(name) => rep.insert(name.into(), value),
                            KeyPath::Relation(rel, id) => {
                                rep.insert(rel.into(), json!({ id: value }))
                            }
                        };
                    }
                    reps.push(Json::Object(rep));
                    wanted.push(m.key_fieldset(reg, key));
                }
            }
            let selection = format!(
                "... on {} {{ {} }}",
                m.graphql_name,
                m.keys
                    .iter()
                    .map(|k| m.key_fieldset(reg, k))
                    .collect::<Vec<_>>()
                    .join(" ")
            );
            let answer = match self
                .try_entities(Json::Array(reps.clone()), &selection)
                .await
            {
                Ok(answer) => answer,
                Err(failure) => {
                    problems.push(format!("{}: {failure}", m.graphql_name));
                    continue;
                }
            };
            for ((rep, fieldset), got) in reps
                .iter()
                .zip(&wanted)
                .zip(answer.as_array().into_iter().flatten())
            {
                // The entity that came back must carry the key it was asked by.
                let same = rep
                    .as_object()
                    .into_iter()
                    .flatten()
                    .all(|(k, v)| &got[k] == v);
                if same {
                    resolved += 1;
                } else {
                    problems.push(format!(
                        "{} @key(fields: \"{fieldset}\"): {rep} resolved to {got}",
                        m.graphql_name
                    ));
                }
            }
        }
        if !problems.is_empty() {
            panic!(
                "entity keys that do not resolve:\n  {}",
                problems.join("\n  ")
            );
        }
        resolved
    }
}

/// Asserts that these subgraphs (a name and its API each, as the gateway
/// will see them) compose, with every composer installed in the composer
/// folder (the `GRAPHLOOM_COMPOSER_DIR` environment variable, or the
/// nearest `composition` folder with `node_modules` above the working one:
/// `npm ci --prefix composition`). Panics with the composers' errors;
/// returns their reports, hints and supergraph included.
pub fn assert_composes(subgraphs: &[(&str, &Api)]) -> Vec<Composition> {
    assert_composes_in(&compose::composer_dir(None), subgraphs)
}

/// [`assert_composes`] with the composers installed in `dir`.
pub fn assert_composes_in(dir: &std::path::Path, subgraphs: &[(&str, &Api)]) -> Vec<Composition> {
    let subgraphs: Vec<Subgraph> = subgraphs
        .iter()
        .map(|(name, api)| Subgraph::new(*name, api.subgraph_sdl()))
        .collect();
    let reports =
        compose::compose(&subgraphs, dir).unwrap_or_else(|e| panic!("cannot compose: {e}"));
    let refused: Vec<String> = reports
        .iter()
        .filter(|r| !r.composes())
        .map(|r| format!("{}:\n    {}", r.composer, r.errors.join("\n    ")))
        .collect();
    if !refused.is_empty() {
        panic!("the subgraphs do not compose:\n  {}", refused.join("\n  "));
    }
    reports
}
