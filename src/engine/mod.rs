//! All that talks to dockerd through the Engine API: the tools an operator runs next to
//! enforcement, because enforcement at create time cannot see containers that already exist,
//! swarm tasks, or anything created while the guard was off.
//!
//! - [`client`]: the Engine API client (the one place that knows how to reach dockerd: unix,
//!   tcp, TLS, ssh, contexts, chosen as the docker CLI chooses);
//! - [`audit`]: judges every existing container with the create rule's own function
//!   ([`crate::authz::rules::assess_container`]), so it never disagrees with enforcement;
//! - [`watch`]: follows Docker events and judges each container as it appears;
//! - [`enable`]: switches enforcement on and off through daemon.json and a reload, checking first
//!   that the reload cannot take dockerd down;
//! - [`advise`]: from the paths a container wrote to the `--tmpfs` and volume mounts that let it
//!   run with `--read-only`.
//!
//! Nothing here names a daemon type: `serve --watch` hands the watch loop a
//! [`watch::WatchObserver`] and the audit's live gauges an [`audit::live::AuditSink`].

pub mod advise;
pub mod audit;
pub mod client;
pub mod enable;
pub mod watch;
