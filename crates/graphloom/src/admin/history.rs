//! The admin's change history: who added, changed or deleted which row,
//! when, and (for a change) which fields went from what to what. A table
//! of the `admin` app, written after each write the admin makes; not part
//! of the API.

use graphloom_meta::{FieldKind, ModelMeta, Value};
use graphloom_query::Ctx;

use crate::{
    App, Model, ModelEnum,
    auth::User,
    meta::{ForeignKey, Id},
};

/// What happened to a row.
#[derive(ModelEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogAction {
    Added,
    Changed,
    Deleted,
}

/// One write made through the admin.
#[derive(Model, Debug)]
#[model(app = "admin", graphql = false)]
pub struct LogEntry {
    pub id: Id,
    /// Who made it; empty once that user is deleted.
    #[field(on_delete = set_null, related_name = "adminLogEntries")]
    pub user: Option<ForeignKey<User>>,
    /// `blog.post`.
    #[field(max_length = 100, index)]
    pub model: String,
    #[field(max_length = 200, index)]
    pub object_id: String,
    /// How the row read then (its first text field).
    #[field(max_length = 200)]
    pub object_repr: String,
    pub action: LogAction,
    /// For a change: `{ "title": ["old", "new"], … }` (hidden fields by
    /// name only).
    pub changes: Option<serde_json::Value>,
    #[field(auto_now_add, index)]
    pub at: chrono::DateTime<chrono::Utc>,
}

/// The admin app: its history table. Add it beside the auth app to serve
/// the admin (`serve --admin`).
pub fn app() -> App {
    App::new("admin")
        .migrations(super::migrations::DIR, super::migrations::FILES)
        .model::<LogEntry>()
}

/// The `changes` of an update: each field whose value differs, before and
/// after, as the list shows them; hidden fields (a password hash) by name.
pub(crate) fn changes(m: &ModelMeta, before: &[Value], after: &[Value]) -> serde_json::Value {
    let mut out = serde_json::Map::new();
    for (i, f) in m.fields.iter().enumerate() {
        let (Some(a), Some(b)) = (before.get(i), after.get(i)) else {
            continue;
        };
        if a == b || f.auto_now {
            continue;
        }
        let shown = |v: &Value| match (v, f.kind) {
            (Value::Null, _) => serde_json::Value::Null,
            (_, FieldKind::Json) => serde_json::Value::String(v.key_string()),
            _ => serde_json::Value::String(super::pages::clip_text(&v.key_string(), 200)),
        };
        let entry = if f.hidden {
            serde_json::Value::Bool(true)
        } else {
            serde_json::json!([shown(a), shown(b)])
        };
        out.insert(f.graphql_name.clone(), entry);
    }
    serde_json::Value::Object(out)
}

/// Records a write; a failure is logged, not shown: the write stands.
pub(crate) async fn record(
    sys: &Ctx,
    user: &str,
    m: &ModelMeta,
    id: &str,
    repr: &str,
    action: LogAction,
    changes: Option<serde_json::Value>,
) {
    let who = match user.parse::<i64>() {
        Ok(u) => LogEntry::USER.set(Id(u)),
        Err(_) => LogEntry::USER.set_null(),
    };
    let changes = match changes {
        Some(c) => LogEntry::CHANGES.set(c),
        None => LogEntry::CHANGES.set_null(),
    };
    let written = LogEntry::objects(sys)
        .create([
            who,
            LogEntry::MODEL.set(format!("{}.{}", m.key.app, m.key.name.to_lowercase())),
            LogEntry::OBJECT_ID.set(id.to_owned()),
            LogEntry::OBJECT_REPR.set(super::pages::clip_text(repr, 190)),
            LogEntry::ACTION.set(action),
            changes,
        ])
        .await;
    if let Err(e) = written {
        tracing::error!(error = %e.message, model = %m.graphql_name, id, "admin history not recorded");
    }
}
