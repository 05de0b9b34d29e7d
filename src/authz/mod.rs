//! The decision core: one AuthZ request's bytes in, a [`Decision`] out. Pure Rust: no I/O, no
//! async, no clock of its own (a check in `make lint` keeps tokio, hyper, `std::fs`, `std::net`,
//! `std::process` and `std::thread` out of this folder).
//!
//! # How a request travels
//!
//! ```text
//! dockerd ──AuthZReq──▶ daemon::server   tokio/hyper on a unix socket; the only I/O on the path
//!                        └▶ wire       AuthZ request/response JSON (RequestUri, base64 RequestBody)
//!                           └▶ route   RequestUri → method + decoded, cleaned path + API version
//!                              └▶ request  body verified (present, base64, Content-Length) once
//!                                 └▶ gojson + model   body read as Go's encoding/json reads it into
//!                                                     dockerd's types (key folding, merges, nulls)
//!                                    └▶ rules + policy  one rule per concern → pass/exempt/deny
//!                                       └▶ exceptions  the allowlist, indexed, judged at `now`
//! decision ◀───────────────────────────┘  (mode applied; logged by the daemon)
//! ```
//!
//! The core reads no clock: [`decide_at`] takes the instant exceptions are judged at, so the
//! daemon's clock, `check --now` and the tests choose it ([`crate::decide`] reads the system
//! clock once, for callers that have no clock of their own).
//!
//! Everything here is what the table tests, the Go differential oracle and the fuzzer drive.
//!
//! The one principle: a request is judged as dockerd will execute it. dockerd decodes bodies with
//! Go's `encoding/json` and routes on the decoded path; reading the bytes any other way is a
//! bypass. What cannot be verified (a withheld body, trailing data, a string where a bool goes)
//! is denied, with the reason.

pub mod decision;
pub mod exceptions;
pub mod gojson;
pub mod model;
pub mod policy;
pub mod request;
pub mod route;
pub mod rules;
pub mod wire;

#[cfg(test)]
mod test_support;

pub use decision::{decide_at, Decision, Verdict};
pub use policy::Policy;
pub use wire::{AuthZRequest, AuthZResponse};
