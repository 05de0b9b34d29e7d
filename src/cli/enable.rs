//! `rootfs-guard enable` / `disable`: the flags and the printing; the checks, the daemon.json edit,
//! the reload and the proof live in [`crate::engine::enable`].

use super::*;
use crate::engine::client::DEFAULT_DOCKER_HOST;
use crate::engine::enable::{
    self, Target, DEFAULT_DAEMON_JSON, DEFAULT_PIDFILE, PLUGIN_SOCKET_DIR,
};

#[derive(Debug, Args)]
pub struct EnableArgs {
    /// Plugin name as dockerd knows it: `rootfs-guard` (standalone, socket
    /// /run/docker/plugins/NAME.sock) or `NAME:TAG` (managed plugin).
    #[arg(long, default_value = "rootfs-guard")]
    pub name: String,
    /// The daemon.json dockerd reads (it must be the one: dockerd's --config-file is checked).
    #[arg(long, default_value = DEFAULT_DAEMON_JSON, value_name = "FILE")]
    pub daemon_json: PathBuf,
    /// Docker daemon socket (only unix sockets).
    #[arg(long, short = 'H', default_value = DEFAULT_DOCKER_HOST, value_name = "unix:///PATH")]
    pub host: String,
    /// dockerd's pidfile: the process that gets SIGHUP.
    #[arg(long, default_value = DEFAULT_PIDFILE, value_name = "FILE")]
    pub pidfile: PathBuf,
}

impl EnableArgs {
    fn target(&self) -> Target {
        Target {
            name: self.name.clone(),
            daemon_json: self.daemon_json.clone(),
            pidfile: self.pidfile.clone(),
            socket_dir: PathBuf::from(PLUGIN_SOCKET_DIR),
        }
    }
}

pub(super) fn run(args: EnableArgs, on: bool) -> Result<ExitCode> {
    let client = DockerClient::new(&args.host)?;
    let target = args.target();
    let verb = if on { "enable" } else { "disable" };
    let result = runtime()?.block_on(async {
        if on {
            enable::enable(&client, &target).await
        } else {
            enable::disable(&client, &target).await
        }
    });
    match result {
        Ok(steps) => {
            for s in steps {
                println!("{verb}: {s}");
            }
            println!(
                "{verb}: done: {} is {} in dockerd",
                target.name,
                if on { "enforcing" } else { "no longer called" }
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("rootfs-guard {verb}: refused or failed: {e}");
            Ok(ExitCode::from(1))
        }
    }
}
