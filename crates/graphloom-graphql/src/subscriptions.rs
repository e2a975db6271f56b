//! The generated subscriptions: `postChanged(where:, kinds:)` per model,
//! yielding `PostChange { kind id node }`.
//!
//! An event names keys only ([`graphloom_query::changes`]). Each
//! subscription reads the rows again under its own permission scope, with
//! its `where` as SQL and its `node` selection planned like a query's:
//! events that arrive together are read together, one statement per
//! relation edge for all of them. So a subscriber is never sent a row, or
//! a field, that the same query would not show them.
//!
//! `DELETED` means "gone from your view": the row was deleted, or a change
//! took it out of `where` or of the subscriber's row rules. A deleted row
//! cannot be read again, so its key is sent when the subscriber may see
//! every row of the model (no row rule applies to them: the key tells them
//! nothing they could not list), or when this subscription sent that row
//! before (it remembers the last [`REMEMBERED`] keys it sent). A row that
//! leaves the view by a change is reported in the second case only.

use std::{
    collections::{HashMap, HashSet, VecDeque},
    sync::Arc,
};

use async_graphql::{
    Name, Value as Gql,
    dynamic::{
        Enum, EnumItem, Field, FieldFuture, FieldValue, InputValue, Object, ResolverContext,
        SubscriptionField, SubscriptionFieldFuture, TypeRef,
    },
};
use futures_util::StreamExt;
use graphloom_db::Exec;
use graphloom_meta::{ModelId, ModelMeta, Value};
use graphloom_query::{
    Error, Result,
    changes::{ChangeKind, Event},
    exec::{Node, fetch_keys_matching},
    filter::Filter,
    plan::NodePlan,
    scope::{Scope, check_filter},
};
use indexmap::IndexSet;
use tokio::sync::broadcast::{
    self,
    error::{RecvError, TryRecvError},
};

use crate::{
    context::{request_ctx, scope_of},
    convert::type_ref,
    custom::{CustomSubscription, Output, Returns},
    error::ResultExt,
    runtime::Runtime,
    translate::{Selection, parse_filter, plan_node},
};

/// The enum of what happened.
pub(crate) const KIND: &str = "ChangeKind";
const RESYNC: &str = "RESYNC";

/// Keys a subscription remembers having sent, to report them gone.
pub const REMEMBERED: usize = 10_000;

/// Events read together at most (one read of the rows for all).
const BATCH: usize = 256;

/// Whether `m` has a generated subscription.
pub(crate) fn offered(m: &ModelMeta) -> bool {
    m.exposed && !m.external && m.operations.subscribe
}

/// `postChanged`.
pub(crate) fn field_name(m: &ModelMeta) -> String {
    format!("{}Changed", m.single_name)
}

fn type_name(m: &ModelMeta) -> String {
    format!("{}Change", m.graphql_name)
}

pub(crate) fn kind_enum() -> Enum {
    Enum::new(KIND)
        .description("What happened to a row, as a subscription reports it.")
        .item(EnumItem::new(ChangeKind::Created.as_str()).description("The row was created."))
        .item(EnumItem::new(ChangeKind::Updated.as_str()).description("The row was changed."))
        .item(EnumItem::new(ChangeKind::Deleted.as_str()).description(
            "The row left your view: deleted, or changed out of `where` or of your permissions.",
        ))
        .item(EnumItem::new(RESYNC).description(
            "Changes may have been missed (this service lost touch with its database's notifications, or the subscriber fell behind): read again what you show.",
        ))
}

/// One event as the subscriber receives it.
struct Item {
    /// `None`: [`RESYNC`].
    kind: Option<ChangeKind>,
    key: Option<Value>,
    node: Option<Arc<Node>>,
}

fn item_of<'a>(ctx: &'a ResolverContext<'a>) -> Result<&'a Item> {
    ctx.parent_value
        .try_downcast_ref::<Item>()
        .map_err(|e| Error::internal(e.message))
}

/// `PostChange`.
pub(crate) fn change_type(m: &ModelMeta) -> Object {
    Object::new(type_name(m))
        .description(format!(
            "What happened to one {}: the change, its key, and the row as you may see it now.",
            m.graphql_name
        ))
        .field(Field::new("kind", TypeRef::named_nn(KIND), |ctx| {
            FieldFuture::new(async move {
                let item = item_of(&ctx).gql()?;
                let name = item.kind.map_or(RESYNC, ChangeKind::as_str);
                Ok(Some(FieldValue::value(Gql::Enum(Name::new(name)))))
            })
        }))
        .field(
            Field::new("id", TypeRef::named(TypeRef::ID), |ctx| {
                FieldFuture::new(async move {
                    let item = item_of(&ctx).gql()?;
                    Ok(item
                        .key
                        .as_ref()
                        .map(|k| FieldValue::value(Gql::String(k.key_string()))))
                })
            })
            .description("The row's primary key; null with RESYNC."),
        )
        .field(
            Field::new("node", TypeRef::named(&m.graphql_name), |ctx| {
                FieldFuture::new(async move {
                    let item = item_of(&ctx).gql()?;
                    Ok(item.node.clone().map(FieldValue::owned_any))
                })
            })
            .description(
                "The row, read after the write under your permissions; null with DELETED and RESYNC.",
            ),
        )
}

/// `postChanged(where: PostFilter, kinds: [ChangeKind!])`.
pub(crate) fn field(rt: &Arc<Runtime>, m: &ModelMeta) -> SubscriptionField {
    let id = m.id;
    let shared = Arc::clone(rt);
    SubscriptionField::new(field_name(m), TypeRef::named_nn(type_name(m)), move |ctx| {
        let rt = Arc::clone(&shared);
        SubscriptionFieldFuture::new(async move {
            let watch = Watch::start(rt, &ctx, id).gql()?;
            Ok(futures_util::stream::unfold(watch, |mut w| async move {
                let next = w.next().await?;
                Some((next.map(FieldValue::owned_any).gql(), w))
            }))
        })
    })
    .argument(
        InputValue::new("where", TypeRef::named(format!("{}Filter", m.graphql_name)))
            .description("Only rows that match, as the database evaluates it after each write."),
    )
    .argument(
        InputValue::new("kinds", TypeRef::named_nn_list(KIND))
            .description("Only these kinds of change (RESYNC always comes); all when absent."),
    )
    .description(format!(
        "Each {} created, changed or deleted from now on that you may see, read after the write.",
        m.graphql_name
    ))
}

/// One subscription's state.
struct Watch {
    rt: Arc<Runtime>,
    scope: Arc<Scope>,
    model: ModelId,
    filter: Option<Filter>,
    plan: NodePlan,
    kinds: Vec<ChangeKind>,
    /// No row rule applies: every deleted key may be sent.
    whole: bool,
    rx: broadcast::Receiver<Event>,
    /// Keys sent, oldest first, at most [`REMEMBERED`].
    known: IndexSet<String>,
    ready: VecDeque<Item>,
    /// What decides its reads (principal, model, `where`, selection):
    /// subscriptions alike read the same changes once ([`SharedReads`]).
    fingerprint: String,
}

/// The rows read for a set of changes, by key.
type Rows = Arc<HashMap<String, Arc<Node>>>;

/// Reads shared by subscriptions that would make the same one: a thousand
/// anonymous subscribers of `postChanged { node { title } }` read each
/// change once, not a thousand times.
#[derive(Debug, Default)]
pub(crate) struct SharedReads(std::sync::Mutex<HashMap<String, Shared>>);

#[derive(Debug)]
struct Shared {
    at: std::time::Instant,
    rows: Arc<tokio::sync::OnceCell<Rows>>,
}

/// How long a shared read is kept for the subscribers still to come to it
/// (they come within milliseconds; one later reads for itself).
const SHARED_FOR: std::time::Duration = std::time::Duration::from_secs(1);

impl SharedReads {
    /// The cell of the read named `key` (made on first ask; old ones go).
    fn cell(&self, key: String) -> Arc<tokio::sync::OnceCell<Rows>> {
        let Ok(mut map) = self.0.lock() else {
            return Arc::default();
        };
        let now = std::time::Instant::now();
        if map.len() > 64 {
            map.retain(|_, s| now.duration_since(s.at) < SHARED_FOR);
        }
        let entry = map.entry(key).or_insert_with(|| Shared {
            at: now,
            rows: Arc::default(),
        });
        Arc::clone(&entry.rows)
    }
}

/// The plans of every `node` under a change field, merged.
fn node_plan<S: Selection>(
    rt: &Runtime,
    scope: &Scope,
    m: &ModelMeta,
    field: &S,
) -> Result<NodePlan> {
    let mut plan = NodePlan::of(scope, m)?;
    for sub in field.children().iter().filter(|s| s.name() == "node") {
        plan.merge(plan_node(rt, scope, m, sub)?);
    }
    Ok(plan)
}

impl Watch {
    fn start(rt: Arc<Runtime>, ctx: &ResolverContext<'_>, model: ModelId) -> Result<Watch> {
        let scope = scope_of(ctx)?;
        let reg = rt.registry();
        let m = reg.model(model);
        scope.can_list(m)?;
        let filter = match ctx.args.get("where") {
            Some(v) => parse_filter(reg, m, v.as_value(), "where")?,
            None => None,
        };
        if let Some(f) = &filter {
            check_filter(reg, &scope, m, f)?;
        }
        // One kind where the list is expected is a list of one.
        let kinds = match ctx.args.get("kinds").map(|v| v.as_value().clone()) {
            Some(v @ (Gql::List(_) | Gql::Enum(_) | Gql::String(_))) => crate::translate::list(&v)
                .into_iter()
                .filter_map(|v| match v {
                    Gql::Enum(n) => ChangeKind::parse(n.as_str()),
                    Gql::String(s) => ChangeKind::parse(s),
                    _ => None,
                })
                .collect(),
            _ => ChangeKind::ALL.to_vec(),
        };
        let plan = node_plan(&rt, &scope, m, &ctx.ctx.field())?;
        let whole = scope.rows(model).is_none();
        let fingerprint = format!(
            "{:?}|{}|{model:?}|{filter:?}|{plan:?}",
            scope.principal,
            scope.is_system()
        );
        let rx = rt.engine.changes().subscribe();
        Ok(Watch {
            rt,
            scope,
            model,
            filter,
            plan,
            kinds,
            whole,
            rx,
            known: IndexSet::new(),
            ready: VecDeque::new(),
            fingerprint,
        })
    }

    /// The next item; `None` when the engine is gone.
    async fn next(&mut self) -> Option<Result<Item>> {
        loop {
            if let Some(item) = self.ready.pop_front() {
                return Some(Ok(item));
            }
            let events = self.gather().await?;
            if let Err(e) = self.process(events).await {
                return Some(Err(e));
            }
        }
    }

    /// Waits for an event, then takes those already waiting behind it.
    async fn gather(&mut self) -> Option<Vec<Event>> {
        let first = match self.rx.recv().await {
            Ok(e) => e,
            Err(RecvError::Lagged(_)) => Event::Resync,
            Err(RecvError::Closed) => return None,
        };
        let mut out = vec![first];
        while out.len() < BATCH {
            match self.rx.try_recv() {
                Ok(e) => out.push(e),
                Err(TryRecvError::Lagged(_)) => out.push(Event::Resync),
                Err(_) => break,
            }
        }
        Some(out)
    }

    async fn process(&mut self, events: Vec<Event>) -> Result<()> {
        let reg = self.rt.registry();
        let m = reg.model(self.model);
        let mut wanted = Vec::new();
        let mut asked = HashSet::new();
        let mut seqs = Vec::new();
        for e in &events {
            if let Event::Changed(c) = e
                && c.model == self.model
                && c.kind != ChangeKind::Deleted
            {
                seqs.push(c.seq);
                for k in &c.keys {
                    if asked.insert(k.key_string()) {
                        wanted.push(k.clone());
                    }
                }
            }
        }
        let rows: Rows = if wanted.is_empty() {
            Rows::default()
        } else {
            let cell = self
                .rt
                .shared_reads
                .cell(format!("{}|{seqs:?}", self.fingerprint));
            let read = async {
                let nodes = fetch_keys_matching(
                    &self.rt.engine,
                    &mut Exec::pool(self.rt.engine.db()),
                    &self.scope,
                    m,
                    &wanted,
                    self.filter.as_ref(),
                    &self.plan,
                )
                .await?;
                Ok::<Rows, Error>(Arc::new(
                    nodes
                        .into_iter()
                        .map(|n| (n.pk(reg).key_string(), Arc::new(n)))
                        .collect(),
                ))
            };
            Arc::clone(cell.get_or_try_init(|| read).await?)
        };
        for e in events {
            let c = match e {
                Event::Resync => {
                    self.ready.push_back(Item {
                        kind: None,
                        key: None,
                        node: None,
                    });
                    continue;
                }
                Event::Changed(c) if c.model == self.model => c,
                Event::Changed(_) => continue,
            };
            for key in &c.keys {
                let text = key.key_string();
                match (c.kind, rows.get(&text)) {
                    (ChangeKind::Created | ChangeKind::Updated, Some(node)) => {
                        self.remember(text);
                        self.emit(c.kind, key, Some(Arc::clone(node)));
                    }
                    (ChangeKind::Created | ChangeKind::Updated, None) => {
                        if self.known.swap_remove(&text) {
                            self.emit(ChangeKind::Deleted, key, None);
                        }
                    }
                    (ChangeKind::Deleted, _) => {
                        if self.known.swap_remove(&text) || self.whole {
                            self.emit(ChangeKind::Deleted, key, None);
                        }
                    }
                }
            }
        }
        Ok(())
    }

    fn remember(&mut self, key: String) {
        if self.known.len() >= REMEMBERED && !self.known.contains(&key) {
            self.known.shift_remove_index(0);
        }
        self.known.insert(key);
    }

    fn emit(&mut self, kind: ChangeKind, key: &Value, node: Option<Arc<Node>>) {
        if self.kinds.contains(&kind) {
            self.ready.push_back(Item {
                kind: Some(kind),
                key: Some(key.clone()),
                node,
            });
        }
    }
}

/// An app's custom subscription: its stream's items, each an event; keys
/// of a model are read as the subscriber may see them, planned once.
pub(crate) fn custom_field(rt: &Arc<Runtime>, c: &CustomSubscription) -> SubscriptionField {
    let reg = rt.registry();
    let ty = match &*c.returns {
        Returns::Scalar(t) => type_ref(t),
        // A subscription has no connection form (its builders make none).
        Returns::Model(key) | Returns::Models(key) | Returns::Connection(key) => {
            match reg.by_key(*key) {
                Some(m) => TypeRef::named(&m.graphql_name),
                None => TypeRef::named("JSON"),
            }
        }
    };
    let shared = Arc::clone(rt);
    let c2 = c.clone();
    let mut field = SubscriptionField::new(&c.head.name, ty, move |ctx| {
        let rt = Arc::clone(&shared);
        let c = c2.clone();
        SubscriptionFieldFuture::new(async move {
            let args = Gql::Object(ctx.args.as_index_map().clone())
                .into_json()
                .map_err(Error::internal)
                .gql()?;
            // The rows' plan is made once, for every event.
            let rows = match &*c.returns {
                Returns::Model(key) | Returns::Models(key) | Returns::Connection(key) => {
                    let m = rt
                        .registry()
                        .by_key(*key)
                        .ok_or_else(|| Error::internal("a subscription on a missing model"))
                        .gql()?;
                    let scope = scope_of(&ctx).gql()?;
                    let plan = plan_node(&rt, &scope, m, &ctx.ctx.field()).gql()?;
                    Some((m.id, scope, Arc::new(plan)))
                }
                Returns::Scalar(_) => None,
            };
            let items = (c.resolver)(request_ctx(&rt, &ctx).gql()?, args)
                .await
                .gql()?;
            let returns = Arc::clone(&c.returns);
            Ok(items.then(move |item| {
                let rt = Arc::clone(&rt);
                let rows = rows.clone();
                let returns = Arc::clone(&returns);
                async move { event(&rt, &returns, rows, item).await.gql() }
            }))
        })
    });
    for arg in c.head.inputs() {
        field = field.argument(arg);
    }
    if let Some(reason) = &c.head.deprecated {
        field = field.deprecation(Some(reason));
    }
    match &c.head.description {
        Some(d) => field.description(d),
        None => field,
    }
}

/// One item of a custom subscription as the event's value.
async fn event(
    rt: &Runtime,
    returns: &Returns,
    rows: Option<(ModelId, Arc<Scope>, Arc<NodePlan>)>,
    item: Result<Output>,
) -> Result<FieldValue<'static>> {
    match (item?, rows) {
        (Output::Json(v), _) => Ok(match returns {
            Returns::Scalar(t) => {
                crate::schema::values::field_value(t, crate::convert::typed_value(t, &v))
                    .unwrap_or(FieldValue::NULL)
            }
            Returns::Model(_) | Returns::Models(_) | Returns::Connection(_) => {
                FieldValue::value(Gql::from_json(v).map_err(Error::internal)?)
            }
        }),
        (Output::Key(Some(key)), Some((model, scope, plan))) => {
            let m = rt.registry().model(model);
            let node = graphloom_query::exec::fetch_keys_matching(
                &rt.engine,
                &mut Exec::pool(rt.engine.db()),
                &scope,
                m,
                std::slice::from_ref(&key),
                None,
                &plan,
            )
            .await?
            .pop();
            Ok(node.map_or(FieldValue::NULL, |n| FieldValue::owned_any(Arc::new(n))))
        }
        (Output::Key(None), _) => Ok(FieldValue::NULL),
        (Output::Key(_) | Output::Keys(_) | Output::Rows(_), _) => Err(Error::internal(
            "a subscription item of another shape than its field",
        )),
    }
}
