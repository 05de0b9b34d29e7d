//! The plugin process around the decision core, and its lifecycle: bind the socket (or take the
//! one systemd passed), serve dockerd's AuthZ calls until SIGTERM/SIGINT, reload the policy on
//! SIGHUP (a bad file is logged and the old policy stays), drain in-flight requests, exit.
//!
//! - [`socket`]: binding the unix socket, systemd socket activation;
//! - [`state`]: limits, the policy store, decision slots;
//! - [`server`]: the accept loop and the plugin protocol's handlers;
//! - [`metrics`]: Prometheus metrics and `/health` on their own listener;
//! - [`logging`]: the tracing subscriber and the one decision log line.

pub mod audit_gauges;
pub mod logging;
pub mod metrics;
pub mod server;
pub mod socket;
pub mod state;

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::net::UnixListener;
use tracing::{error, info};

use crate::authz::policy::Policy;
pub use server::serve;
pub use socket::{bind_socket, systemd_listener, take_systemd_listener, DEFAULT_SOCKET};
pub use state::{load_policy_file, Limits, PolicyStore, State, DECISION_SLOT_BYTES};

/// Re-reads the policy file (on SIGHUP) and logs the outcome: the new policy, or the error and
/// that the policy in force is kept.
pub fn reload_logged(store: &PolicyStore) -> Option<Arc<Policy>> {
    match store.reload() {
        Ok(p) => {
            info!(mode = %p.mode, fingerprint = %p.fingerprint(), "policy reloaded");
            Some(p)
        }
        Err(e) => {
            error!(error = %e, "policy reload failed; keeping the policy in force");
            None
        }
    }
}

/// Runs the daemon until SIGTERM/SIGINT; SIGHUP reloads the policy file (a bad file is logged and
/// the old policy stays). Removes the socket on exit unless systemd owns it.
pub async fn run(
    listener: UnixListener,
    socket_to_remove: Option<PathBuf>,
    state: Arc<State>,
) -> io::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut hup = signal(SignalKind::hangup())?;

    let reload_state = state.clone();
    let reloader = tokio::spawn(async move {
        while hup.recv().await.is_some() {
            let reloaded = reload_logged(&reload_state.policy);
            reload_state.metrics.policy_reloaded(reloaded.as_deref());
        }
    });
    let shutdown = async move {
        tokio::select! {
            _ = term.recv() => info!("SIGTERM: shutting down"),
            _ = int.recv() => info!("SIGINT: shutting down"),
        }
    };
    serve(listener, state, shutdown).await;
    reloader.abort();
    if let Some(path) = socket_to_remove {
        let _ = std::fs::remove_file(path);
    }
    info!("stopped");
    Ok(())
}
