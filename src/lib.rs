//! rootfs-guard: a Docker authorization plugin that makes "every container's root filesystem is
//! read-only" (CIS Docker Benchmark 5.12) a rule dockerd enforces.
//!
//! # How a request travels
//!
//! ```text
//! dockerd ──AuthZReq──▶ server        tokio/hyper on a unix socket; the only I/O on the path
//!                        └▶ wire       AuthZ request/response JSON (RequestUri, base64 RequestBody)
//!                           └▶ route   RequestUri → method + decoded, cleaned path + API version
//!                              └▶ request  body verified (present, base64, Content-Length) once
//!                                 └▶ gojson + model   body read as Go's encoding/json reads it into
//!                                                     dockerd's types (key folding, merges, nulls)
//!                                    └▶ rules + policy  one rule per concern → pass/exempt/deny
//! decision ◀───────────────────────────┘  (mode applied; logged by the server)
//! ```
//!
//! Everything from [`wire`] to [`decision`] is pure: bytes in, a value out. That is what the table
//! tests, the Go differential oracle and the fuzzer drive. [`server`] and the binary are thin
//! shells around [`decision::decide`].
//!
//! The one principle: a request is judged as dockerd will execute it. dockerd decodes bodies with
//! Go's `encoding/json` and routes on the decoded path; reading the bytes any other way is a
//! bypass. What cannot be verified (a withheld body, trailing data, a string where a bool goes)
//! is denied, with the reason.
//!
//! # Operating it
//!
//! Enforcement at create time cannot see containers that already exist, swarm tasks, or anything
//! created while the guard was off. [`audit`] judges existing containers and [`watch`] follows
//! Docker events, both through [`docker_client`] (the Engine API on its unix socket) and both with
//! [`rules::assess_container`], the create rule's own function, so they never disagree with
//! enforcement. [`metrics`] serves Prometheus metrics and `/health` for `serve --metrics-addr`.
//! [`advise`] turns a violation into the fix: from the paths a container wrote (its writable
//! layer's changes) to the `--tmpfs` and volume mounts that let it run with `--read-only`.

pub mod advise;
pub mod advise_run;
pub mod audit;
pub mod cli;
pub mod decision;
pub mod docker_client;
pub mod gojson;
pub mod logging;
pub mod metrics;
pub mod model;
pub mod policy;
pub mod request;
pub mod route;
pub mod rules;
pub mod server;
pub mod watch;
pub mod wire;

pub use decision::{decide, Decision, Verdict};
pub use policy::Policy;
pub use wire::{AuthZRequest, AuthZResponse};
