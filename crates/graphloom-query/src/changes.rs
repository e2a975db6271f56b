//! Row changes, as the writes announce them: every create, update and
//! delete of the engine's writes ([`crate::write`], which the model API,
//! the generated mutations, REST and the admin all go through) publishes
//! the keys it wrote once its transaction has committed. Subscriptions read
//! them from [`Changes::subscribe`] and read the rows again under their own
//! rules, so an event never carries a value someone may not see.
//!
//! Events name keys only, never values. Raw SQL, and rows a database
//! cascade deletes, publish nothing. On one instance, events go through a
//! broadcast channel; across instances (PostgreSQL) the service forwards
//! them with `NOTIFY` ([`Changes::outbox`]) and feeds those of the others
//! back in ([`Changes::receive`]).

use std::sync::{Arc, Mutex};

use graphloom_db::notify::Heard;
use graphloom_meta::{ModelId, ModelMeta, Value};
use tokio::sync::{broadcast, mpsc};

/// What a write did to a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChangeKind {
    Created,
    Updated,
    Deleted,
}

impl ChangeKind {
    pub const ALL: [ChangeKind; 3] = [
        ChangeKind::Created,
        ChangeKind::Updated,
        ChangeKind::Deleted,
    ];

    /// Its name in the GraphQL `ChangeKind` enum and on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Created => "CREATED",
            ChangeKind::Updated => "UPDATED",
            ChangeKind::Deleted => "DELETED",
        }
    }

    pub fn parse(s: &str) -> Option<ChangeKind> {
        ChangeKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// One committed write: the keys of the rows of `model` it changed.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// Its number on this instance, in the order subscribers receive them
    /// (subscribers that read the same changes may share the read).
    pub seq: u64,
    pub model: ModelId,
    pub kind: ChangeKind,
    pub keys: Vec<Value>,
}

/// What a subscriber receives.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Changed(Arc<Change>),
    /// Changes may have been missed (the listener of another instance's
    /// writes reconnected, or this subscriber fell behind): what a client
    /// shows should be read again.
    Resync,
}

/// How many events wait for the slowest subscriber before it is told to
/// resync (a subscriber drains them as they come; this covers bursts).
pub const BACKLOG: usize = 4096;

/// How many changes wait to be forwarded to the other instances.
const OUTBOX: usize = 8192;

/// The engine's hub of row changes. Cheap to share: one per engine.
#[derive(Debug)]
pub struct Changes {
    sender: broadcast::Sender<Event>,
    outbox: Mutex<Option<mpsc::Sender<Arc<Change>>>>,
    seq: std::sync::atomic::AtomicU64,
}

impl Default for Changes {
    fn default() -> Self {
        Changes {
            sender: broadcast::channel(BACKLOG).0,
            outbox: Mutex::new(None),
            seq: std::sync::atomic::AtomicU64::new(0),
        }
    }
}

impl Changes {
    /// Announces a committed write. No one listening costs nothing but the
    /// check.
    pub fn publish(&self, model: &ModelMeta, kind: ChangeKind, keys: Vec<Value>) {
        if keys.is_empty() {
            return;
        }
        let change = self.numbered(model.id, kind, keys);
        if let Ok(outbox) = self.outbox.lock()
            && let Some(out) = outbox.as_ref()
            && let Err(e) = out.try_send(Arc::clone(&change))
        {
            // The other instances' subscribers will miss it: their
            // listener cannot tell, so this is logged where it happened.
            tracing::warn!(error = %e, "a change was not forwarded to the other instances");
        }
        // An error only says no one subscribes.
        let _ = self.sender.send(Event::Changed(change));
    }

    /// Events from now on. A receiver that falls [`BACKLOG`] events behind
    /// gets `Lagged` from the channel: treat it as [`Event::Resync`].
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.sender.subscribe()
    }

    /// How many receivers are subscribed (for metrics and tests).
    pub fn subscribers(&self) -> usize {
        self.sender.receiver_count()
    }

    /// Takes the changes written here from now on, to forward them to the
    /// other instances; one forwarder per engine (a second call replaces
    /// the first).
    pub fn outbox(&self) -> mpsc::Receiver<Arc<Change>> {
        let (tx, rx) = mpsc::channel(OUTBOX);
        if let Ok(mut outbox) = self.outbox.lock() {
            *outbox = Some(tx);
        }
        rx
    }

    fn numbered(&self, model: ModelId, kind: ChangeKind, keys: Vec<Value>) -> Arc<Change> {
        let seq = self.seq.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Arc::new(Change {
            seq,
            model,
            kind,
            keys,
        })
    }

    /// Delivers another instance's change to this instance's subscribers,
    /// without forwarding it again.
    pub fn receive(&self, model: ModelId, kind: ChangeKind, keys: Vec<Value>) {
        let change = self.numbered(model, kind, keys);
        let _ = self.sender.send(Event::Changed(change));
    }

    /// Tells this instance's subscribers they may have missed changes.
    pub fn resync(&self) {
        let _ = self.sender.send(Event::Resync);
    }
}

/// The channel instances of a service tell each other their changes on.
pub const CHANNEL: &str = "graphloom_changes";

/// Changes a notifier sends together (one statement).
const NOTIFY_BATCH: usize = 256;

/// How long a listener waits before connecting again after a failure.
const RETRY: std::time::Duration = std::time::Duration::from_secs(1);

/// One change as it travels between instances: keys only, as text.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Wire {
    /// The instance that wrote it (which delivered it already).
    o: String,
    /// The model's table.
    t: String,
    k: String,
    keys: Vec<String>,
}

/// The payloads of one change, its keys split so that none is over
/// PostgreSQL's limit.
fn payloads(origin: &str, m: &ModelMeta, change: &Change) -> Vec<String> {
    let mut out = Vec::new();
    let mut wire = Wire {
        o: origin.to_owned(),
        t: m.table.clone(),
        k: change.kind.as_str().to_owned(),
        keys: Vec::new(),
    };
    let overhead = serde_json::to_string(&wire).map_or(0, |s| s.len());
    let mut size = overhead;
    for key in &change.keys {
        let text = key.key_string();
        // Quotes, escapes and a comma, at worst twice the text.
        let cost = text.len() * 2 + 3;
        if !wire.keys.is_empty() && size + cost > graphloom_db::notify::MAX_PAYLOAD {
            out.extend(serde_json::to_string(&wire).ok());
            wire.keys.clear();
            size = overhead;
        }
        if overhead + cost > graphloom_db::notify::MAX_PAYLOAD {
            tracing::warn!(table = %m.table, "a key too long to notify other instances of");
            continue;
        }
        size += cost;
        wire.keys.push(text);
    }
    if !wire.keys.is_empty() {
        out.extend(serde_json::to_string(&wire).ok());
    }
    out
}

/// A change another instance sent, or `None` for one of this instance's
/// own, or of a model this service does not have.
fn parse(
    origin: &str,
    reg: &graphloom_meta::Registry,
    payload: &str,
) -> Option<(ModelId, ChangeKind, Vec<Value>)> {
    let wire: Wire = serde_json::from_str(payload).ok()?;
    if wire.o == origin {
        return None;
    }
    let m = reg.models().iter().find(|m| m.table == wire.t)?;
    let types = crate::write::key_types(reg, m);
    let keys = wire
        .keys
        .iter()
        .filter_map(|k| Value::parse_key(&types, k))
        .collect();
    Some((m.id, ChangeKind::parse(&wire.k)?, keys))
}

/// The tasks that carry changes between the instances of a service on one
/// PostgreSQL database; they stop when this is dropped.
#[derive(Debug)]
pub struct FanOut(Vec<tokio::task::JoinHandle<()>>);

impl Drop for FanOut {
    fn drop(&mut self) {
        for t in &self.0 {
            t.abort();
        }
    }
}

impl FanOut {
    /// On PostgreSQL: sends this instance's changes with `NOTIFY` and
    /// delivers the other instances' to its subscribers. A lost listener
    /// connects again and delivers [`Event::Resync`] (what was sent while it
    /// was away is lost). `None` on SQLite, where one process is all.
    pub async fn start(engine: std::sync::Arc<crate::Engine>) -> Option<FanOut> {
        let db = engine.db().clone();
        let origin = uuid::Uuid::new_v4().simple().to_string();
        let listener = match db.listen(CHANNEL).await {
            Ok(Some(l)) => Some(l),
            Ok(None) => return None,
            Err(e) => {
                // It keeps trying in the background.
                tracing::warn!(error = %e, "cannot listen for other instances' changes yet");
                None
            }
        };
        let mut outbox = engine.changes().outbox();
        let sender = {
            let (engine, origin) = (std::sync::Arc::clone(&engine), origin.clone());
            tokio::spawn(async move {
                while let Some(first) = outbox.recv().await {
                    let mut batch = vec![first];
                    while batch.len() < NOTIFY_BATCH {
                        match outbox.try_recv() {
                            Ok(c) => batch.push(c),
                            Err(_) => break,
                        }
                    }
                    let reg = engine.registry();
                    let texts: Vec<String> = batch
                        .iter()
                        .flat_map(|c| payloads(&origin, reg.model(c.model), c))
                        .collect();
                    if let Err(e) = engine.db().notify(CHANNEL, &texts).await {
                        tracing::warn!(error = %e, changes = batch.len(), "other instances were not told of changes");
                    }
                }
            })
        };
        let receiver = tokio::spawn(async move {
            let mut listener = listener;
            loop {
                let l = match listener.as_mut() {
                    Some(l) => l,
                    None => match db.listen(CHANNEL).await {
                        Ok(Some(l)) => {
                            // Whatever was sent before is lost.
                            engine.changes().resync();
                            listener.insert(l)
                        }
                        Ok(None) => return,
                        Err(e) => {
                            tracing::warn!(error = %e, "cannot listen for other instances' changes");
                            tokio::time::sleep(RETRY).await;
                            continue;
                        }
                    },
                };
                match l.recv().await {
                    Ok(Heard::Payload(p)) => {
                        if let Some((model, kind, keys)) = parse(&origin, engine.registry(), &p) {
                            engine.changes().receive(model, kind, keys);
                        }
                    }
                    Ok(Heard::Lost) => {
                        tracing::warn!(
                            "lost the connection listening for other instances' changes"
                        );
                        listener = None;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "lost the connection listening for other instances' changes");
                        listener = None;
                        tokio::time::sleep(RETRY).await;
                    }
                }
            }
        });
        Some(FanOut(vec![sender, receiver]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_through_their_names() {
        for k in ChangeKind::ALL {
            assert_eq!(ChangeKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(ChangeKind::parse("created"), None);
    }
}
