//! GraphQL over Server-Sent Events, the `graphql-sse` protocol's
//! distinct-connections mode: a `POST` (or `GET`) to `/graphql` that
//! accepts `text/event-stream` gets one `next` event per result and a
//! `complete` event at the end, for clients and gateways that prefer
//! HTTP to WebSockets. A request that never runs (syntax, validation, a
//! limit) is answered like any GraphQL request, with JSON and a 4xx.
//!
//! The stream shares the WebSocket's limits ([`crate::WsLimits`]): places
//! per client address, a keep-alive comment, and a bounded queue. A client
//! that reads too slowly has its stream ended (without `complete`, so it
//! knows it was cut); one whose token expires, likewise.

use std::{convert::Infallible, net::SocketAddr, sync::Arc, time::Duration};

use axum::{
    body::{Body, Bytes},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use futures_util::{FutureExt, StreamExt};
use graphloom_graphql::{Api, RequestContext};
use tokio::sync::mpsc;

use crate::{AppState, ws};

pub(crate) const EVENT_STREAM: &str = "text/event-stream";

/// Answers a GraphQL request with an event stream.
pub(crate) async fn respond(
    state: &Arc<AppState>,
    headers: &HeaderMap,
    peer: Option<SocketAddr>,
    context: Arc<RequestContext>,
    request: async_graphql::Request,
    stopping: Option<ws::Stopping>,
) -> Response {
    let place = match ws::take_place(state, headers, peer) {
        Ok(p) => p,
        Err(refused) => return refused.render(crate::reject),
    };
    let expires = ws::expiry(state, headers);
    let api = state.api.clone();
    let mut responses =
        if Api::is_subscription(&request.query, request.operation_name.as_deref()) {
            api.subscribe_as(request, (*context).clone()).await
        } else {
            let response = api.execute_as(request, (*context).clone()).await;
            futures_util::stream::iter([response]).boxed()
        }
        // Polled once more after it ended, it must say so again.
        .fuse();
    // A refusal is ready at once (a subscription was polled once as it
    // started, and a query has run): it is answered as plain JSON. Else
    // the stream starts now, before its first event.
    let first = responses.next().now_or_never().flatten();
    if let Some(r) = first.as_ref().filter(|r| r.failed_early()) {
        let body = r.to_json().unwrap_or_default();
        let mut res = (StatusCode::BAD_REQUEST, body).into_response();
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        return res;
    }
    let limits = state.ws.clone();
    let (tx, rx) = mpsc::channel::<Bytes>(limits.queue.max(1));
    tokio::spawn(async move {
        let _place = place;
        let mut stopping = stopping.map(|s| s.0);
        let mut ping = tokio::time::interval(limits.keep_alive);
        ping.tick().await;
        let mut pending = first;
        loop {
            let response = match pending.take() {
                Some(r) => Some(r),
                None => {
                    let expiry = expires.map(|at| {
                        at.duration_since(std::time::SystemTime::now())
                            .unwrap_or(Duration::ZERO)
                    });
                    tokio::select! {
                        r = responses.next() => r,
                        _ = ping.tick() => {
                            if tx.try_send(Bytes::from_static(b":\n\n")).is_err() {
                                return;
                            }
                            continue;
                        }
                        () = tokio::time::sleep(expiry.unwrap_or(Duration::MAX)), if expiry.is_some() => return,
                        Ok(()) = async {
                            match stopping.as_mut() {
                                Some(s) => s.wait_for(|stop| *stop).await.map(|_| ()),
                                None => std::future::pending().await,
                            }
                        } => return,
                    }
                }
            };
            let Some(response) = response else {
                let _ = tx.try_send(Bytes::from_static(b"event: complete\ndata:\n\n"));
                return;
            };
            let Ok(json) = response.to_json() else {
                continue;
            };
            let mut frame = Vec::with_capacity(json.len() + 20);
            frame.extend_from_slice(b"event: next\ndata: ");
            frame.extend_from_slice(&json);
            frame.extend_from_slice(b"\n\n");
            // Full: the client reads too slowly; closed: it went away.
            if tx.try_send(Bytes::from(frame)).is_err() {
                return;
            }
        }
    });
    let body = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<_, Infallible>(b), rx))
    });
    let mut res = Body::from_stream(body).into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(EVENT_STREAM));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    // Proxies that buffer (nginx) pass events on at once.
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    res
}
