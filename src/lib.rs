//! rootfs-guard: a Docker authorization plugin that makes "every container's root filesystem is
//! read-only" (CIS Docker Benchmark 5.12) a rule dockerd enforces.
//!
//! # Layout: four wings, arrows pointing one way
//!
//! ```text
//! cli ──▶ engine/  (Engine API client, audit, watch, advise)   ──▶ authz/
//!  └────▶ daemon/  (server, socket, metrics, logging: the plugin process) ──▶ authz/
//!                  authz/  pure: wire, route, request, gojson, model, rules, policy, decision
//! ```
//!
//! - [`authz`]: the decision core. One AuthZ request's bytes in, a [`Decision`] out; no I/O. The
//!   data path of a request is drawn at the top of that module.
//! - [`daemon`]: the plugin process around the core: the unix-socket server dockerd calls, its
//!   limits and shutdown, metrics and health, the decision log.
//! - [`engine`]: the tools that talk to dockerd through the Engine API (over a unix socket, tcp,
//!   TLS or ssh, one host or a fleet): audit, watch, advise.
//! - [`cli`]: the command line, the only place that knows clap and picks exit codes;
//!   `src/bin/rootfs-guard.rs` only calls [`cli::main`].
//!
//! `daemon` and `engine` do not import each other, with two named seams: the watch loop
//! `serve --watch` runs is engine code, told about the daemon through
//! [`engine::watch::WatchObserver`], which the daemon's metrics implement; and the audit's live
//! gauges reach `/metrics` through [`engine::audit::live::AuditSink`].
//!
//! The one principle: a request is judged as dockerd will execute it. dockerd decodes bodies with
//! Go's `encoding/json` and routes on the decoded path; reading the bytes any other way is a
//! bypass. What cannot be verified is denied, with the reason.

pub mod authz;
pub mod cli;
pub mod daemon;
pub mod engine;

pub use authz::decision::{decide_at, Decision, Verdict};
pub use authz::policy::Policy;
pub use authz::wire::{AuthZRequest, AuthZResponse};

/// Decides one AuthZ request now (the system clock, read once). The core itself takes the
/// instant ([`decide_at`]) so tests, `check --now` and the daemon's clock choose it.
pub fn decide(policy: &Policy, req: &AuthZRequest) -> Decision {
    decide_at(policy, req, std::time::SystemTime::now())
}
