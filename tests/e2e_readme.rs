//! End-to-end: the README's "Try it" block, run as written, so the first commands a newcomer
//! types keep working. Only the plugin's name is the test's (the block's `rootfs-guard` is a
//! shared socket name), and `make run` is a plugin process of the harness; the dockerd is the
//! matrix's (PATH as the harness sets it). The writable run must be denied by the plugin, the
//! read-only one must print.

mod support;

use std::process::Command;
use std::time::Duration;

use support::PluginProcess;

/// The lines of the first ```sh block after `heading`.
fn block_after(readme: &str, heading: &str) -> String {
    let section = &readme[readme.find(heading).expect("the heading")..];
    let start = section.find("```sh\n").expect("a sh block") + "```sh\n".len();
    let end = section[start..].find("```").expect("the block's end");
    section[start..start + end].to_owned()
}

#[test]
fn the_readme_try_it_block_runs_as_written() {
    if !support::e2e_enabled("the_readme_try_it_block_runs_as_written") {
        return;
    }
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let block = block_after(&readme, "## Try it");
    let plugin_flag = "--authorization-plugin=rootfs-guard";
    assert!(block.contains(plugin_flag), "{block}");
    assert!(block.contains("kill $(cat $D/docker.pid)"), "{block}");

    let plugin = PluginProcess::start(None);
    let script = format!(
        "{}\n\
         # The test's own epilogue: wait for that dockerd to exit, then say where it lived.\n\
         while [ -e \"$D/docker.pid\" ]; do sleep 0.2; done\n\
         echo \"TRY_DIR=$D\"\n",
        block.replace(
            plugin_flag,
            &format!("--authorization-plugin={}", plugin.name())
        )
    );
    let mut cmd = Command::new("bash");
    cmd.args(["-u", "-c", &script])
        .env("PATH", support::search_path())
        .env_remove("DOCKER_HOST");
    let out = support::run_with_timeout(cmd, None, Duration::from_secs(180));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if let Some(dir) = stdout.lines().find_map(|l| l.strip_prefix("TRY_DIR=")) {
        if dir.starts_with("/tmp/rg-try.") {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
    let transcript = format!(
        "stdout:\n{stdout}\nstderr:\n{stderr}\nplugin:\n{}",
        plugin.logs()
    );
    assert!(
        stderr.contains(&format!(
            "authorization denied by plugin {}: readonly-rootfs: container root filesystem must be read-only (CIS 5.12)",
            plugin.name()
        )),
        "the writable run is denied, as the README says:\n{transcript}"
    );
    assert!(
        !stdout.lines().any(|l| l == "writable"),
        "the writable container never ran:\n{transcript}"
    );
    assert!(
        stdout.lines().any(|l| l == "read-only"),
        "the read-only run prints read-only:\n{transcript}"
    );
    assert!(
        stdout.contains("TRY_DIR="),
        "the block ran to its end:\n{transcript}"
    );
}
