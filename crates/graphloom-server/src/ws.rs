//! GraphQL over WebSocket: the `graphql-transport-ws` protocol (the
//! `graphql-ws` npm library's) on `GET /graphql` with an upgrade.
//!
//! Written here rather than taken from async-graphql's because the service
//! must run each operation through [`Api::subscribe_as`] and
//! [`Api::execute_as`] (its permission scope, trusted documents, limits),
//! verify the token of `connection_init` as it verifies the header, end
//! the connection when that token expires, and bound what a connection
//! may hold. Close codes, as the protocol defines them:
//!
//! | code | when |
//! |---|---|
//! | 4400 | a message that is not JSON, or not one of the protocol's |
//! | 4401 | `subscribe` before the server acknowledged `connection_init` |
//! | 4403 | `connection_init`'s token is refused, or it expired |
//! | 4406 | the client did not ask for `graphql-transport-ws` |
//! | 4408 | no `connection_init` within the init timeout |
//! | 4409 | `subscribe` with the id of an operation still running |
//! | 4429 | a second `connection_init` |
//! | 1008 | the client reads too slowly: its queue of messages is full |
//! | 1001 | the server is shutting down |
//!
//! More operations than [`WsLimits::subscriptions`] on one connection get
//! an `error` message (`RATE_LIMITED`); more connections (and event
//! streams, [`crate::sse`]) than [`WsLimits::connections_per_client`] from
//! one address are refused before the upgrade (429).

use std::{
    collections::{HashMap, hash_map::Entry},
    net::{IpAddr, SocketAddr},
    sync::{Arc, Mutex},
    time::{Duration, SystemTime},
};

use axum::{
    extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::Response,
};
use futures_util::StreamExt;
use graphloom_graphql::{Api, ErrorCode, RequestContext};
use serde_json::{Value as Json, json};
use tokio::sync::{Notify, mpsc, watch};

use crate::{AppState, Refusal, client_address, reject};

/// The subprotocol.
pub const PROTOCOL: &str = "graphql-transport-ws";

/// What one WebSocket connection may hold.
#[derive(Debug, Clone)]
pub struct WsLimits {
    /// How long a client has to send `connection_init` (4408 after).
    pub init_timeout: Duration,
    /// How often the server pings an idle connection.
    pub keep_alive: Duration,
    /// Operations running at once on one connection.
    pub subscriptions: usize,
    /// Open connections from one client address.
    pub connections_per_client: usize,
    /// Messages waiting for a client that reads slowly; one more closes
    /// the connection (1008), so memory stays bounded.
    pub queue: usize,
}

impl Default for WsLimits {
    fn default() -> Self {
        WsLimits {
            init_timeout: Duration::from_secs(10),
            keep_alive: Duration::from_secs(15),
            subscriptions: 100,
            connections_per_client: 50,
            queue: 256,
        }
    }
}

/// Open connections per client address.
#[derive(Debug, Default)]
pub(crate) struct Clients(Mutex<HashMap<IpAddr, usize>>);

/// A connection's place in [`Clients`], given back when it is dropped.
pub(crate) struct Place(Arc<AppState>, IpAddr);

impl Drop for Place {
    fn drop(&mut self) {
        if let Ok(mut open) = self.0.ws_clients.0.lock()
            && let Entry::Occupied(mut e) = open.entry(self.1)
        {
            *e.get_mut() -= 1;
            if *e.get() == 0 {
                e.remove();
            }
        }
    }
}

/// The server's shutdown, for connections that outlive their request.
#[derive(Clone)]
pub(crate) struct Stopping(pub(crate) watch::Receiver<bool>);

/// A place for one more long-lived stream (a WebSocket, an event
/// stream) from the client at `peer`, or the 429 that refuses it.
pub(crate) fn take_place(
    state: &Arc<AppState>,
    headers: &HeaderMap,
    peer: Option<SocketAddr>,
) -> Result<Option<Place>, Refusal> {
    let Some(addr) = peer else {
        return Ok(None);
    };
    let ip = client_address(
        addr.ip(),
        headers,
        &state.trusted_proxies,
        &state.client_ip_header,
    );
    let max = state.ws.connections_per_client;
    let Ok(mut open) = state.ws_clients.0.lock() else {
        return Err(Refusal::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::InternalServerError,
            "Internal server error",
        ));
    };
    let n = open.entry(ip).or_default();
    if *n >= max {
        return Err(Refusal::new(
            StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::RateLimited,
            format!("at most {max} WebSocket connections or event streams from one address"),
        ));
    }
    *n += 1;
    Ok(Some(Place(Arc::clone(state), ip)))
}

/// Answers an upgrade on `/graphql`.
pub(crate) fn upgrade(
    state: Arc<AppState>,
    ws: WebSocketUpgrade,
    headers: HeaderMap,
    peer: Option<SocketAddr>,
    stopping: Option<Stopping>,
) -> Response {
    let limits = state.ws.clone();
    let place = match take_place(&state, &headers, peer) {
        Ok(p) => p,
        Err(refused) => return refused.render(reject),
    };
    ws.protocols([PROTOCOL])
        .max_message_size(state.body_limit)
        .on_upgrade(move |socket| async move {
            let _place = place;
            run(
                Connection::new(state, headers, peer, limits),
                socket,
                stopping,
            )
            .await;
        })
}

/// What a running operation sends the connection, under its id and the
/// number of its start (a message of an operation the client completed,
/// and whose id it took again, is dropped).
enum Out {
    Next(Tag, Vec<u8>),
    Error(Tag, Json),
    Complete(Tag),
}

type Tag = (String, u64);

struct Connection {
    state: Arc<AppState>,
    headers: HeaderMap,
    peer: Option<SocketAddr>,
    limits: WsLimits,
    /// Set once `connection_init` was accepted.
    context: Option<Arc<RequestContext>>,
    /// When the accepted token expires.
    expires: Option<SystemTime>,
    running: HashMap<String, Running>,
    /// Operations started so far.
    started: u64,
    out: mpsc::Sender<Out>,
    slow: Arc<Notify>,
}

/// An operation's task (stopped when dropped), and the number of its start.
struct Running(tokio::task::JoinHandle<()>, u64);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Why the connection closes.
struct Close(u16, String);

impl Close {
    fn new(code: u16, reason: impl Into<String>) -> Close {
        // A close frame's reason is at most 123 bytes.
        let mut reason: String = reason.into();
        while reason.len() > 123 {
            reason.pop();
        }
        Close(code, reason)
    }
}

impl Connection {
    fn new(
        state: Arc<AppState>,
        headers: HeaderMap,
        peer: Option<SocketAddr>,
        limits: WsLimits,
    ) -> (Connection, mpsc::Receiver<Out>) {
        let (out, rx) = mpsc::channel(limits.queue.max(1));
        (
            Connection {
                state,
                headers,
                peer,
                limits,
                context: None,
                expires: None,
                running: HashMap::new(),
                started: 0,
                out,
                slow: Arc::new(Notify::new()),
            },
            rx,
        )
    }
}

/// Serves one connection until it closes, then closes it with the reason.
async fn run(
    (mut conn, mut outgoing): (Connection, mpsc::Receiver<Out>),
    mut socket: WebSocket,
    stopping: Option<Stopping>,
) {
    let close = if socket.protocol().map(HeaderValue::as_bytes) != Some(PROTOCOL.as_bytes()) {
        Close::new(4406, format!("Subprotocol not acceptable: use {PROTOCOL}"))
    } else {
        conn.serve(&mut socket, &mut outgoing, stopping).await
    };
    // Every operation stops with the connection.
    conn.running.clear();
    let frame = CloseFrame {
        code: close.0,
        reason: Utf8Bytes::from(close.1),
    };
    let _ = socket.send(Message::Close(Some(frame))).await;
}

/// A text message.
fn text(v: &Json) -> Message {
    Message::Text(Utf8Bytes::from(v.to_string()))
}

impl Connection {
    async fn serve(
        &mut self,
        socket: &mut WebSocket,
        outgoing: &mut mpsc::Receiver<Out>,
        stopping: Option<Stopping>,
    ) -> Close {
        let init = tokio::time::sleep(self.limits.init_timeout);
        tokio::pin!(init);
        let mut ping = tokio::time::interval(self.limits.keep_alive);
        ping.tick().await;
        let mut stopping = stopping.map(|s| s.0);
        let slow = Arc::clone(&self.slow);
        loop {
            let expiry = self.expires.map(|at| {
                at.duration_since(SystemTime::now())
                    .unwrap_or(Duration::ZERO)
            });
            tokio::select! {
                incoming = socket.recv() => {
                    let message = match incoming {
                        None | Some(Err(_)) | Some(Ok(Message::Close(_))) => {
                            return Close::new(1000, "");
                        }
                        Some(Ok(Message::Text(t))) => t,
                        // The WebSocket layer answers pings itself.
                        Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                        Some(Ok(Message::Binary(_))) => {
                            return Close::new(4400, "messages are JSON text");
                        }
                    };
                    match self.handle(message.as_str()).await {
                        Ok(Some(reply)) => {
                            if socket.send(text(&reply)).await.is_err() {
                                return Close::new(1000, "");
                            }
                        }
                        Ok(None) => {}
                        Err(close) => return close,
                    }
                }
                Some(out) = outgoing.recv() => {
                    let (Out::Next(tag, _) | Out::Error(tag, _) | Out::Complete(tag)) = &out;
                    if self.running.get(&tag.0).map(|r| r.1) != Some(tag.1) {
                        continue;
                    }
                    let message = match out {
                        Out::Next((id, _), payload) => {
                            let mut m = Vec::with_capacity(payload.len() + id.len() + 40);
                            m.extend_from_slice(b"{\"type\":\"next\",\"id\":");
                            m.extend_from_slice(Json::from(id).to_string().as_bytes());
                            m.extend_from_slice(b",\"payload\":");
                            m.extend_from_slice(&payload);
                            m.push(b'}');
                            match String::from_utf8(m) {
                                Ok(s) => Message::Text(Utf8Bytes::from(s)),
                                Err(_) => continue,
                            }
                        }
                        Out::Error((id, _), errors) => {
                            self.running.remove(&id);
                            text(&json!({ "type": "error", "id": id, "payload": errors }))
                        }
                        Out::Complete((id, _)) => {
                            self.running.remove(&id);
                            text(&json!({ "type": "complete", "id": id }))
                        }
                    };
                    if socket.send(message).await.is_err() {
                        return Close::new(1000, "");
                    }
                }
                () = &mut init, if self.context.is_none() => {
                    return Close::new(4408, "Connection initialisation timeout");
                }
                _ = ping.tick() => {
                    if socket.send(text(&json!({ "type": "ping" }))).await.is_err() {
                        return Close::new(1000, "");
                    }
                }
                () = tokio::time::sleep(expiry.unwrap_or(Duration::MAX)), if expiry.is_some() => {
                    return Close::new(4403, "Forbidden: the access token expired; connect again with a fresh one");
                }
                () = slow.notified() => {
                    return Close::new(1008, format!(
                        "slow consumer: {} messages were waiting to be read",
                        self.limits.queue
                    ));
                }
                Ok(()) = async {
                    match stopping.as_mut() {
                        Some(s) => s.wait_for(|stop| *stop).await.map(|_| ()),
                        None => std::future::pending().await,
                    }
                } => {
                    return Close::new(1001, "the server is shutting down");
                }
            }
        }
    }

    /// One client message: a reply to send, nothing, or the close.
    async fn handle(&mut self, message: &str) -> Result<Option<Json>, Close> {
        let m: Json = serde_json::from_str(message)
            .map_err(|_| Close::new(4400, "the message is not JSON"))?;
        let kind = m
            .get("type")
            .and_then(Json::as_str)
            .ok_or_else(|| Close::new(4400, "the message has no `type`"))?;
        match kind {
            "connection_init" => self.init(m.get("payload")).await.map(Some),
            "ping" => Ok(Some(match m.get("payload") {
                Some(p) => json!({ "type": "pong", "payload": p }),
                None => json!({ "type": "pong" }),
            })),
            "pong" => Ok(None),
            "subscribe" => {
                let id = id_of(&m)?;
                if self.context.is_none() {
                    return Err(Close::new(4401, "Unauthorized"));
                }
                if self.running.contains_key(&id) {
                    return Err(Close::new(
                        4409,
                        format!("Subscriber for {id} already exists"),
                    ));
                }
                let payload = m
                    .get("payload")
                    .filter(|p| p.is_object())
                    .ok_or_else(|| Close::new(4400, "`subscribe` needs a payload object"))?;
                if self.running.len() >= self.limits.subscriptions {
                    let errors = error(
                        ErrorCode::RateLimited,
                        &format!(
                            "at most {} operations run at once on one connection; complete one first",
                            self.limits.subscriptions
                        ),
                    );
                    return Ok(Some(
                        json!({ "type": "error", "id": id, "payload": errors }),
                    ));
                }
                self.start(id, payload)
            }
            "complete" => {
                let id = id_of(&m)?;
                self.running.remove(&id);
                Ok(None)
            }
            other => Err(Close::new(4400, format!("unknown message type `{other}`"))),
        }
    }

    async fn init(&mut self, payload: Option<&Json>) -> Result<Json, Close> {
        if self.context.is_some() {
            return Err(Close::new(4429, "Too many initialisation requests"));
        }
        let mut headers = self.headers.clone();
        if let Some(value) = authorization(payload)? {
            let value = HeaderValue::from_str(value)
                .map_err(|_| Close::new(4400, "the Authorization value is not a header value"))?;
            headers.insert(header::AUTHORIZATION, value);
        }
        let context = crate::request_context(&self.state, &headers, self.peer)
            .await
            .map_err(|refusal| Close::new(4403, format!("Forbidden: {}", refusal.message)))?;
        self.expires = expiry(&self.state, &headers);
        self.context = Some(context);
        Ok(json!({ "type": "connection_ack" }))
    }

    /// Runs one operation in its own task.
    fn start(&mut self, id: String, payload: &Json) -> Result<Option<Json>, Close> {
        let mut request: async_graphql::Request = serde_json::from_value(payload.clone())
            .map_err(|e| Close::new(4400, format!("a bad `subscribe` payload: {e}")))?;
        let context = self
            .context
            .clone()
            .ok_or_else(|| Close::new(4401, "Unauthorized"))?;
        let document_id = payload
            .get("documentId")
            .and_then(Json::as_str)
            .map(str::to_owned)
            .or_else(|| crate::persisted_hash(&request));
        if let Err(refusal) = crate::documents::settle(
            self.state.trusted_documents.as_deref(),
            self.state.apq.as_deref(),
            &mut request.query,
            document_id.as_deref(),
            context.gateway,
        ) {
            let (code, message) = refusal.explain();
            return Ok(Some(
                json!({ "type": "error", "id": id, "payload": error(code, message) }),
            ));
        }
        let api = self.state.api.clone();
        let out = self.out.clone();
        let slow = Arc::clone(&self.slow);
        self.started += 1;
        let start = self.started;
        let key = id.clone();
        let task = tokio::spawn(async move {
            operate(api, request, (*context).clone(), (id, start), out, slow).await;
        });
        self.running.insert(key, Running(task, start));
        Ok(None)
    }
}

/// Runs one operation, sending what it yields.
async fn operate(
    api: Api,
    request: async_graphql::Request,
    context: RequestContext,
    id: Tag,
    out: mpsc::Sender<Out>,
    slow: Arc<Notify>,
) {
    let send = |o: Out| match out.try_send(o) {
        Ok(()) => true,
        Err(mpsc::error::TrySendError::Full(_)) => {
            slow.notify_one();
            false
        }
        Err(mpsc::error::TrySendError::Closed(_)) => false,
    };
    let subscription = Api::is_subscription(&request.query, request.operation_name.as_deref());
    let mut responses = if subscription {
        api.subscribe_as(request, context).await
    } else {
        let response = api.execute_as(request, context).await;
        futures_util::stream::iter([response]).boxed()
    };
    let mut first = true;
    while let Some(response) = responses.next().await {
        // A request that never ran (syntax, validation, a limit) is the
        // protocol's `error`, and no `complete` follows.
        if first && response.failed_early() {
            let errors = serde_json::to_value(&response.errors).unwrap_or(Json::Null);
            send(Out::Error(id, errors));
            return;
        }
        first = false;
        let payload = match response.to_json() {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(error = %e, "cannot serialise a GraphQL response");
                continue;
            }
        };
        if !send(Out::Next(id.clone(), payload)) {
            return;
        }
    }
    send(Out::Complete(id));
}

fn id_of(m: &Json) -> Result<String, Close> {
    match m.get("id").and_then(Json::as_str) {
        Some(id) if !id.is_empty() => Ok(id.to_owned()),
        _ => Err(Close::new(4400, "the message needs an `id`")),
    }
}

/// The token `connection_init` carries: `{"Authorization": "Bearer …"}`
/// or `{"headers": {"Authorization": "Bearer …"}}` (any case).
fn authorization(payload: Option<&Json>) -> Result<Option<&str>, Close> {
    let Some(payload) = payload.filter(|p| !p.is_null()) else {
        return Ok(None);
    };
    let Some(obj) = payload.as_object() else {
        return Err(Close::new(
            4400,
            "the connection_init payload is not an object",
        ));
    };
    fn get<'a>(o: &'a serde_json::Map<String, Json>, key: &str) -> Option<&'a Json> {
        o.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    }
    let value = get(obj, "authorization").or_else(|| {
        get(obj, "headers")
            .and_then(Json::as_object)
            .and_then(|h| get(h, "authorization"))
    });
    match value {
        None => Ok(None),
        Some(Json::String(s)) => Ok(Some(s)),
        Some(_) => Err(Close::new(4400, "Authorization must be a string")),
    }
}

/// When the bearer token of `headers` expires.
pub(crate) fn expiry(state: &AppState, headers: &HeaderMap) -> Option<SystemTime> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))?;
    let claims = state.verifier.as_ref()?.verify(token.trim()).ok()?;
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(claims.exp))
}

/// An `error` message's payload: one GraphQL error with a code.
fn error(code: ErrorCode, message: &str) -> Json {
    json!([{ "message": message, "extensions": { "code": code.as_str() } }])
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn the_token_is_found_at_the_top_or_under_headers_in_any_case() {
        let top = json!({ "Authorization": "Bearer a" });
        assert_eq!(authorization(Some(&top)).ok().flatten(), Some("Bearer a"));
        let nested = json!({ "headers": { "authorization": "Bearer b" } });
        assert_eq!(
            authorization(Some(&nested)).ok().flatten(),
            Some("Bearer b")
        );
        assert_eq!(authorization(Some(&json!({}))).ok().flatten(), None);
        assert_eq!(authorization(None).ok().flatten(), None);
        assert!(authorization(Some(&json!({ "Authorization": 1 }))).is_err());
        assert!(authorization(Some(&json!("Bearer a"))).is_err());
    }

    #[test]
    fn close_reasons_fit_a_frame() {
        assert_eq!(Close::new(4400, "x".repeat(500)).1.len(), 123);
    }
}
