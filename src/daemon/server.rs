//! The plugin server: the Docker plugin protocol over HTTP/1.1 on a unix socket.
//!
//! dockerd calls `/Plugin.Activate` once, then `/AuthZPlugin.AuthZReq` before and
//! `/AuthZPlugin.AuthZRes` after every API call. Every Docker API call on the host waits on this
//! server, so it must never hang or crash: request size and read time are bounded, malformed input
//! becomes a deny with a reason, and concurrent body decoding is capped so memory stays bounded.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::UnixListener;
use tokio::sync::SemaphorePermit;
use tracing::warn;

use crate::authz::decision::{decide_at, Decision};
use crate::authz::wire::{ActivateResponse, AuthZRequest, AuthZResponse, PLUGIN_CONTENT_TYPE};
use crate::daemon::logging::log_decision;
use crate::daemon::state::{State, DECISION_SLOT_BYTES};

/// Serves connections until `shutdown` resolves, then stops accepting and waits (bounded) for
/// in-flight requests to finish.
pub async fn serve(listener: UnixListener, state: Arc<State>, shutdown: impl Future<Output = ()>) {
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(state.limits.read_timeout)
        .keep_alive(true)
        // Per-connection read buffer (hyper's default grows to ~400 KB and stays): connections
        // waiting for a decision slot then hold little memory. Plugin request heads are tiny.
        .max_buf_size(64 << 10);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        // EMFILE and friends: back off instead of spinning.
                        warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let state = state.clone();
                let service = hyper::service::service_fn(move |req| handle(req, state.clone()));
                let conn = http.serve_connection(TokioIo::new(stream), service);
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        if !e.is_incomplete_message() {
                            tracing::debug!(error = %e, "connection ended with an error");
                        }
                    }
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    if tokio::time::timeout(Duration::from_secs(10), graceful.shutdown())
        .await
        .is_err()
    {
        warn!("in-flight requests did not finish within 10 s; exiting anyway");
    }
}

fn json_response<T: serde::Serialize>(status: StatusCode, value: &T) -> Response<Full<Bytes>> {
    let body = serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec());
    plugin_response(status, Bytes::from(body))
}

/// A response in the plugin protocol's content type.
fn plugin_response(status: StatusCode, body: Bytes) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header(CONTENT_TYPE, PLUGIN_CONTENT_TYPE)
        .body(Full::new(body))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

/// The answer to an AuthZ call; the common plain allow is a constant.
fn authz_answer(answer: &AuthZResponse) -> Response<Full<Bytes>> {
    if answer.allow && answer.msg.is_empty() && answer.err.is_empty() {
        return plugin_response(StatusCode::OK, Bytes::from_static(br#"{"Allow":true}"#));
    }
    json_response(StatusCode::OK, answer)
}

#[derive(serde::Serialize)]
struct ErrorBody<'a> {
    #[serde(rename = "Err")]
    err: &'a str,
}

async fn handle(
    req: Request<Incoming>,
    state: Arc<State>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    if req.method() != Method::POST {
        state.metrics.request_error("method-not-allowed");
        return Ok(json_response(
            StatusCode::METHOD_NOT_ALLOWED,
            &ErrorBody {
                err: "plugin endpoints take POST",
            },
        ));
    }
    let response = match req.uri().path() {
        "/Plugin.Activate" => {
            state.metrics.request("Plugin.Activate");
            json_response(StatusCode::OK, &ActivateResponse::default())
        }
        "/AuthZPlugin.AuthZReq" => {
            state.metrics.request("AuthZPlugin.AuthZReq");
            let started = std::time::Instant::now();
            let decision = authz_request(req, &state).await;
            state.metrics.decision(&decision, started.elapsed());
            log_decision(&decision);
            authz_answer(&decision.response())
        }
        "/AuthZPlugin.AuthZRes" => {
            state.metrics.request("AuthZPlugin.AuthZRes");
            // Nothing to decide after the fact (denying here cannot undo the call); the body,
            // which may be large, is discarded as it streams in.
            discard_body(req.into_body(), state.limits.read_timeout).await;
            authz_answer(&AuthZResponse {
                allow: true,
                msg: String::new(),
                err: String::new(),
            })
        }
        _ => {
            state.metrics.request_error("unknown-endpoint");
            json_response(
                StatusCode::NOT_FOUND,
                &ErrorBody {
                    err: "unknown plugin endpoint",
                },
            )
        }
    };
    Ok(response)
}

async fn discard_body(mut body: Incoming, timeout: Duration) {
    let drain = async {
        while let Some(frame) = body.frame().await {
            if frame.is_err() {
                break;
            }
        }
    };
    let _ = within(timeout, drain).await;
}

/// Reads (bounded) and decides one AuthZ request. Never fails: problems become denials.
async fn authz_request(req: Request<Incoming>, state: &State) -> Decision {
    // The policy is taken after the last await: its guard is cheap but must not be held across one.
    // The decision slot is held until the decision is made.
    let (bytes, _slot) = match read_authz_request(req, state).await {
        Ok(read) => read,
        Err(why) => {
            return Decision::unreadable(&state.policy.load(), "authz-request", why, None);
        }
    };
    let policy = state.policy.load();
    match AuthZRequest::from_json(&bytes) {
        Ok(authz) => decide_at(&policy, &authz, state.clock.now()),
        Err(e) => Decision::unreadable(
            &policy,
            "authz-request",
            format!("malformed AuthZ request: {e}"),
            None,
        ),
    }
}

/// The AuthZ request's bytes, read within the size and time limits, and the decision slots it
/// holds; or why it could not be read.
async fn read_authz_request(
    req: Request<Incoming>,
    state: &State,
) -> Result<(Bytes, SemaphorePermit<'_>), String> {
    let limit = state.limits.max_request_bytes;
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(format!("AuthZ request exceeds the {limit}-byte limit"));
    }
    // Decoding one request holds a few times its size (the raw bytes, the base64 string, the
    // decoded body and what is decoded from it): weigh the request by its declared length.
    let weight = decision_slots(declared, limit, state.slots);
    let Ok(permit) = state.decisions.acquire_many(weight).await else {
        return Err("server is shutting down".into());
    };
    let read = Limited::new(req.into_body(), limit).collect();
    match within(state.limits.read_timeout, read).await {
        None => Err("timed out reading the AuthZ request".into()),
        Some(Err(e)) => Err(
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                format!("AuthZ request exceeds the {limit}-byte limit")
            } else {
                "could not read the AuthZ request".to_owned()
            },
        ),
        Some(Ok(collected)) => Ok((collected.to_bytes(), permit)),
    }
}

/// Runs `fut` for at most `timeout` (`None` when it ran out). It is polled once before a timer
/// is armed: a small request's body arrives with its head, so hyper already holds it and most
/// requests finish without touching the timer wheel the worker threads share.
async fn within<F: Future>(timeout: Duration, fut: F) -> Option<F::Output> {
    let mut fut = std::pin::pin!(fut);
    let first = std::future::poll_fn(|cx| Poll::Ready(fut.as_mut().poll(cx))).await;
    match first {
        Poll::Ready(out) => Some(out),
        Poll::Pending => tokio::time::timeout(timeout, fut).await.ok(),
    }
}

/// Decision slots a request takes: one per started [`DECISION_SLOT_BYTES`] of its declared length
/// (of the size limit when it declares none), at least one, at most all `slots`.
fn decision_slots(declared: Option<u64>, limit: usize, slots: usize) -> u32 {
    declared
        .unwrap_or(limit as u64)
        .div_ceil(DECISION_SLOT_BYTES)
        .clamp(1, slots.max(1) as u64) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_constant_allow_answer_is_what_serde_would_write() {
        use http_body_util::BodyExt;
        let allow = AuthZResponse {
            allow: true,
            msg: String::new(),
            err: String::new(),
        };
        for answer in [
            allow.clone(),
            AuthZResponse {
                allow: false,
                msg: "readonly-rootfs: no".into(),
                err: String::new(),
            },
        ] {
            let response = authz_answer(&answer);
            assert_eq!(response.status(), StatusCode::OK);
            assert_eq!(response.headers()[CONTENT_TYPE], PLUGIN_CONTENT_TYPE);
            let body = block_on(response.into_body().collect())
                .expect("a full body")
                .to_bytes();
            assert_eq!(body, serde_json::to_vec(&answer).unwrap());
        }
    }

    /// Polls a future that is ready at once (a `Full` body) to completion.
    fn block_on<F: Future>(fut: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
            .block_on(fut)
    }

    #[test]
    fn large_requests_take_more_decision_slots() {
        let limit = crate::daemon::Limits::default().max_request_bytes;
        // A 3 KB create and a bodiless GET: one slot each, 32 of them at once.
        assert_eq!(decision_slots(Some(3_000), limit, 32), 1);
        assert_eq!(decision_slots(Some(0), limit, 32), 1);
        // A 1 MiB body is ~1.4 MB as base64 in the AuthZ JSON: 6 slots, 5 at once.
        assert_eq!(decision_slots(Some(1_400_000), limit, 32), 6);
        // Undeclared length (chunked): as large as allowed, capped at every slot.
        assert_eq!(decision_slots(None, limit, 32), 32);
        assert_eq!(decision_slots(None, 64 << 10, 32), 1);
        assert_eq!(decision_slots(Some(1 << 30), limit, 0), 1);
    }
}
