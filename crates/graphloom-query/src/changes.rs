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
}

impl Default for Changes {
    fn default() -> Self {
        Changes {
            sender: broadcast::channel(BACKLOG).0,
            outbox: Mutex::new(None),
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
        let change = Arc::new(Change {
            model: model.id,
            kind,
            keys,
        });
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

    /// Delivers an event that came from elsewhere (another instance's
    /// write, or a resync after a lost listener) to this instance's
    /// subscribers, without forwarding it again.
    pub fn receive(&self, event: Event) {
        let _ = self.sender.send(event);
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
