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

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

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
const NOTIFY_BATCH: usize = 1024;

/// The shortest time between two `NOTIFY`s of one instance (see
/// [`forward`]): what a subscriber on another instance may wait beyond
/// the write.
const NOTIFY_EVERY: Duration = Duration::from_millis(2);

/// How long a listener waits before connecting again after a failure.
const RETRY: Duration = Duration::from_secs(1);

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

/// The payloads of a batch of changes: each run of changes to one model of
/// one kind is merged (its keys once each, in order), and split so that
/// no payload is over PostgreSQL's limit. Runs keep their order, so a
/// create and a delete of one row arrive as they happened.
fn payloads<'t>(
    origin: &str,
    table: impl Fn(ModelId) -> &'t str,
    batch: &[Arc<Change>],
) -> Vec<String> {
    let mut out = Vec::new();
    for run in batch.chunk_by(|a, b| a.model == b.model && a.kind == b.kind) {
        let table = table(run[0].model);
        let mut wire = Wire {
            o: origin.to_owned(),
            t: table.to_owned(),
            k: run[0].kind.as_str().to_owned(),
            keys: Vec::new(),
        };
        let overhead = serde_json::to_string(&wire).map_or(0, |s| s.len());
        let mut size = overhead;
        let mut seen = std::collections::HashSet::new();
        for key in run.iter().flat_map(|c| &c.keys) {
            let text = key.key_string();
            if !seen.insert(text.clone()) {
                continue;
            }
            // Quotes, escapes and a comma, at worst twice the text.
            let cost = text.len() * 2 + 3;
            if !wire.keys.is_empty() && size + cost > graphloom_db::notify::MAX_PAYLOAD {
                out.extend(serde_json::to_string(&wire).ok());
                wire.keys.clear();
                size = overhead;
            }
            if overhead + cost > graphloom_db::notify::MAX_PAYLOAD {
                tracing::warn!(table, "a key too long to notify other instances of");
                continue;
            }
            size += cost;
            wire.keys.push(text);
        }
        if !wire.keys.is_empty() {
            out.extend(serde_json::to_string(&wire).ok());
        }
    }
    out
}

/// Takes the changes from `outbox` in batches and hands each to `send`, at
/// most one batch per `every`: a change after a quiet spell goes at once,
/// and under a stream of writes those written meanwhile wait for the next
/// batch. One `NOTIFY` per write costs PostgreSQL a statement, the lock of
/// its notification queue and a wake-up of every listener; for a
/// one-statement create that is as much again as the write
/// (docs/benchmarks.md), so it is shared among the writes of a moment.
async fn forward<F, Fut>(mut outbox: mpsc::Receiver<Arc<Change>>, every: Duration, mut send: F)
where
    F: FnMut(Vec<Arc<Change>>) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut last: Option<tokio::time::Instant> = None;
    while let Some(first) = outbox.recv().await {
        if let Some(at) = last {
            tokio::time::sleep_until(at + every).await;
        }
        let mut batch = vec![first];
        while batch.len() < NOTIFY_BATCH {
            match outbox.try_recv() {
                Ok(c) => batch.push(c),
                Err(_) => break,
            }
        }
        last = Some(tokio::time::Instant::now());
        send(batch).await;
    }
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
        let outbox = engine.changes().outbox();
        let sender = {
            let (engine, origin) = (std::sync::Arc::clone(&engine), origin.clone());
            tokio::spawn(forward(outbox, NOTIFY_EVERY, move |batch| {
                let (engine, origin) = (std::sync::Arc::clone(&engine), origin.clone());
                async move {
                    let reg = engine.registry();
                    let texts = payloads(&origin, |m| &reg.model(m).table, &batch);
                    if let Err(e) = engine.db().notify(CHANNEL, &texts).await {
                        tracing::warn!(error = %e, changes = batch.len(), "other instances were not told of changes");
                    }
                }
            }))
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

    fn change(model: usize, kind: ChangeKind, keys: &[i64]) -> Arc<Change> {
        Arc::new(Change {
            seq: 0,
            model: ModelId(model),
            kind,
            keys: keys.iter().map(|&k| Value::I64(k)).collect(),
        })
    }

    fn wires(texts: &[String]) -> Vec<(String, String, Vec<String>)> {
        texts
            .iter()
            .map(|t| {
                let w: Wire = serde_json::from_str(t).unwrap();
                assert_eq!(w.o, "me");
                (w.t, w.k, w.keys)
            })
            .collect()
    }

    #[test]
    fn a_batch_merges_runs_of_one_model_and_kind_in_order() {
        use ChangeKind::*;
        let batch = [
            change(0, Created, &[1]),
            change(0, Created, &[2, 1]),
            change(0, Created, &[3]),
            change(1, Updated, &[7]),
            change(0, Deleted, &[2]),
            change(0, Created, &[2]),
        ];
        let texts = payloads("me", |m| ["comment", "post"][m.0], &batch);
        let s = |v: &[&str]| v.iter().map(|k| (*k).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            wires(&texts),
            [
                ("comment".into(), "CREATED".into(), s(&["1", "2", "3"])),
                ("post".into(), "UPDATED".into(), s(&["7"])),
                ("comment".into(), "DELETED".into(), s(&["2"])),
                ("comment".into(), "CREATED".into(), s(&["2"])),
            ]
        );
        // A run too long for one payload is split, no key lost or repeated.
        let many: Vec<Arc<Change>> = (0..5000).map(|k| change(0, Created, &[k])).collect();
        let texts = payloads("me", |_| "comment", &many);
        assert!(texts.len() > 1);
        assert!(
            texts
                .iter()
                .all(|t| t.len() <= graphloom_db::notify::MAX_PAYLOAD)
        );
        let keys: Vec<String> = wires(&texts).into_iter().flat_map(|w| w.2).collect();
        assert_eq!(keys, (0..5000).map(|k| k.to_string()).collect::<Vec<_>>());
    }

    /// One batch per window under a stream of changes: the first goes at
    /// once, the ones sent while the window lasts go together after it.
    #[tokio::test]
    async fn a_stream_of_changes_goes_in_one_batch_per_window() {
        let (tx, rx) = mpsc::channel(OUTBOX);
        let (sent_tx, mut sent) = mpsc::unbounded_channel::<Vec<Arc<Change>>>();
        let every = Duration::from_millis(300);
        let task = tokio::spawn(forward(rx, every, move |batch| {
            let _ = sent_tx.send(batch);
            async {}
        }));
        tx.send(change(0, ChangeKind::Created, &[0])).await.unwrap();
        let started = std::time::Instant::now();
        assert_eq!(sent.recv().await.unwrap().len(), 1);
        for k in 1..=100 {
            tx.send(change(0, ChangeKind::Created, &[k])).await.unwrap();
        }
        let second = sent.recv().await.unwrap();
        assert!(started.elapsed() >= every, "{:?}", started.elapsed());
        assert_eq!(second.len(), 100, "the rest in one batch");
        // After a quiet spell, a change goes at once.
        tokio::time::sleep(every).await;
        let at = std::time::Instant::now();
        tx.send(change(0, ChangeKind::Created, &[101]))
            .await
            .unwrap();
        assert_eq!(sent.recv().await.unwrap().len(), 1);
        assert!(at.elapsed() < every, "{:?}", at.elapsed());
        drop(tx);
        task.await.unwrap();
    }
}
