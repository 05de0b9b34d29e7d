//! Here: e2e doors to a writable root other than a container create, and the flows beside them.
//!
//! The doors of issue 14 — the legacy builder, swarm services of another runtime, writable binds
//! and bind-like volumes back to dockerd's data root, large bodies — each tried with the clients
//! users have, next to the legitimate flow beside it that must keep working. Against a real
//! private dockerd guarded by the standalone plugin, whose policy protects that daemon's own data
//! root (`protected_roots`).
//!
//! Every door case is written so that on a guard that lets it through it shows the hole for real
//! (a leftover writable build container that `docker start` runs again, a read-only container
//! writing `/pwned` into its own root through a bind or a bind-like volume, a plugin-runtime
//! service created) and fails listing every hole it found; on a guard that closes it, it checks
//! the rule the denial names.
//!
//! The clients: Debian's docker 20.10 CLI (`/usr/bin/docker`, BuildKit built in), the docker 28
//! CLI (`/usr/local/bin/docker`) without buildx (it falls back to the legacy builder) and with
//! Debian sid's buildx 0.29 as a private CLI plugin, and docker-compose 1.29. A case that needs a
//! client this machine lacks says SKIPPED on stderr. `make test` runs this file on dockerd 20.10,
//! 26.1 and 28.5; where they differ (how large bodies reach the plugin) the case says what each
//! does. The daemon runs with `--experimental`, so that a `Runtime: plugin` service is really
//! created when the guard allows it (a non-experimental dockerd refuses it itself).

mod support;

use serde_json::{json, Value};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::Duration;
use support::{
    buildx_binary, error_message, say_skipped, tar_of_dir, wait_until, ApiBody, BodyForwarding,
    Cases, DockerCli, DockerdVersion, PluginProcess, PrivateDockerd,
};

/// Shell for a container that has the daemon's data root at `root` (e.g. `/d`): find its own
/// overlay2 layer (`image/overlay2/layerdb/mounts/<id>/mount-id`, the id starting with its
/// hostname), write `pwned` into that layer's merged dir, then look for `/pwned` in its own root.
/// Prints `HOLE /pwned` when the write reached its root.
fn write_own_root(root: &str) -> String {
    format!(
        "h=$(busybox hostname); m=; for c in {root}/image/overlay2/layerdb/mounts/$h*; do \
         m=$(cat $c/mount-id); done; touch {root}/overlay2/$m/merged/pwned && ls /pwned \
         && echo HOLE /pwned"
    )
}

/// What the guard's denials start with, and the checks built on it.
struct Guard {
    denied_by: String,
}

impl Guard {
    /// Panics unless `text` holds the guard's denial for `rule` (`... plugin NAME: RULE: ...`).
    fn assert_denied(&self, what: &str, text: &str, rule: &str) {
        let want = format!("{}: {rule}: ", self.denied_by);
        assert!(
            text.contains(&want),
            "{what}: expected the guard's denial `{want}...`, got: {text}"
        );
    }
}

/// The holes one case found. A case collects them and fails at its end listing every one, so
/// one run against a guard that lets them through shows them all.
#[derive(Default)]
struct Holes(Vec<String>);

impl Holes {
    fn add(&mut self, story: String) {
        self.0.push(format!("HOLE: {story}"));
    }

    fn check(self) {
        assert!(
            self.0.is_empty(),
            "{} hole(s) open:\n{}",
            self.0.len(),
            self.0.join("\n")
        );
    }
}

/// `docker run --rm --read-only MOUNT... bb:latest sh -c SCRIPT`.
fn run_read_only(d: &PrivateDockerd, mount: &[&str], script: &str) -> (ExitStatus, String, String) {
    let mut args = vec!["run", "--rm", "--read-only"];
    args.extend(mount);
    args.extend(["bb:latest", "sh", "-c", script]);
    d.docker_res(&args)
}

/// A read-only `docker run` with `mount` that must be denied with `rule`. If the guard lets it
/// through, the container runs [`write_own_root`] (`root`: where the data root appears in it)
/// and the hole, with what it printed, goes to `holes`.
fn run_denied(
    d: &PrivateDockerd,
    g: &Guard,
    holes: &mut Holes,
    what: &str,
    mount: &[&str],
    root: &str,
    rule: &str,
) {
    let (status, out, err) = run_read_only(d, mount, &write_own_root(root));
    if status.success() || out.contains("HOLE") {
        let wrote = if out.contains("HOLE /pwned") {
            ": a read-only container wrote /pwned into its own root filesystem"
        } else {
            ""
        };
        holes.add(format!(
            "{what} was allowed and ran ({status}){wrote}; it printed {:?}",
            out.trim()
        ));
        return;
    }
    g.assert_denied(what, &err, rule);
}

/// A raw API call (JSON body) that must be answered 403 with `rule`; the hole goes to `holes`
/// if it was not (`Err` with dockerd's answer, for the caller to clean up after).
fn api_denied(
    d: &PrivateDockerd,
    g: &Guard,
    holes: &mut Holes,
    (method, path): (&str, &str),
    body: &Value,
    rule: &str,
) -> Result<(), Value> {
    let (status, v) = d.api_json(method, path, &[("Content-Type", "application/json")], body);
    if status != 403 {
        let outcome = if status < 300 {
            "was allowed and executed"
        } else {
            "was not denied by the guard (dockerd refused it itself)"
        };
        holes.add(format!("{method} {path} {outcome} ({status} {v}): {body}"));
        return Err(v);
    }
    g.assert_denied(&format!("{method} {path}"), &error_message(&v), rule);
    Ok(())
}

/// What a read-only bind of the data root turned out to be.
enum RoBind {
    /// The container wrote its own root through it.
    Hole,
    /// Allowed, and the container could read but not write through it.
    ReadOnly,
    /// Refused: the CLI's stderr.
    Denied(String),
}

/// Runs a read-only container with the read-only bind `mount` (the data root at `root` inside)
/// that tries [`write_own_root`], and says what the bind was.
fn read_only_bind(d: &PrivateDockerd, cli: &DockerCli, mount: [&str; 2], root: &str) -> RoBind {
    let script = format!(
        "{}; ls {root}/overlay2 >/dev/null && echo listed",
        write_own_root(root)
    );
    let mut args = vec!["run", "--rm", "--read-only"];
    args.extend(mount);
    args.extend(["bb:latest", "sh", "-c", &script]);
    let (status, out, err) = d.cli_res(cli, &args);
    if out.contains("HOLE /pwned") {
        RoBind::Hole
    } else if status.success() {
        let what = mount.join(" ");
        assert!(
            out.contains("listed"),
            "{what}: cannot read the bind: {out}{err}"
        );
        assert!(err.contains("Read-only file system"), "{what}: {out}{err}");
        RoBind::ReadOnly
    } else {
        RoBind::Denied(err)
    }
}

/// The legacy builder's RUN containers that a build left behind, as the hole shows them.
fn leftover_build_containers(d: &PrivateDockerd) -> Vec<(String, Value)> {
    d.container_ids()
        .into_iter()
        .map(|id| {
            let c = d.inspect(&id);
            (id, c)
        })
        .collect()
}

/// After a legacy build the guard let through: shows what it left (`docker ps -a`), that the
/// container is writable and that `docker start` runs it, removes it, and adds the story.
fn legacy_build_hole(d: &PrivateDockerd, holes: &mut Holes, what: &str, output: &str) {
    let ps = d.docker_ok(&["ps", "-a", "--no-trunc"]);
    let mut story = vec![format!(
        "{what} was allowed: the legacy builder ran its RUN step in a container the guard \
         never saw. Build output: {}",
        output.trim()
    )];
    story.push(format!("docker ps -a:\n{ps}"));
    for (id, c) in leftover_build_containers(d) {
        let writable = c["HostConfig"]["ReadonlyRootfs"] != json!(true);
        let (status, _, err) = d.docker_res(&["start", "-a", &id]);
        story.push(format!(
            "leftover {id}: cmd {}, writable root {writable}; `docker start -a` ran it again: \
             {status} {}",
            c["Config"]["Cmd"],
            err.trim()
        ));
    }
    d.remove_all_containers();
    holes.add(story.join("\n"));
}

/// A build that must be denied with `legacy-build` and leave nothing; `remedy` must be in the
/// message (the fix that works for this client). Shows the hole if the build ran.
fn legacy_build_denied(
    d: &PrivateDockerd,
    g: &Guard,
    what: &str,
    (status, out, err): (ExitStatus, String, String),
    remedy: &str,
) {
    let text = format!("{out}{err}");
    if status.success() {
        let mut holes = Holes::default();
        legacy_build_hole(d, &mut holes, what, &text);
        holes.check();
    }
    g.assert_denied(what, &text, "legacy-build");
    assert!(
        text.contains(remedy),
        "{what}: the denial should give the remedy `{remedy}`: {text}"
    );
    assert!(
        d.container_ids().is_empty(),
        "{what}: a denied build left containers: {:?}",
        d.container_ids()
    );
}

/// A build context whose one RUN step is unique to `tag` (so no build cache hides a RUN
/// container): `FROM bb:latest`, `RUN touch /<tag>`.
fn build_context(d: &PrivateDockerd, tag: &str) -> PathBuf {
    d.write_dir(
        &format!("ctx-{tag}"),
        &[("Dockerfile", &format!("FROM bb:latest\nRUN touch /{tag}\n"))],
    )
}

/// A BuildKit-built image really holds its RUN step's file, and the build left no container.
fn assert_built(d: &PrivateDockerd, image: &str, file: &str) {
    d.docker_ok(&[
        "run",
        "--rm",
        "--read-only",
        image,
        "ls",
        &format!("/{file}"),
    ]);
    assert!(
        d.container_ids().is_empty(),
        "the build of {image} left containers: {:?}",
        d.container_ids()
    );
}

/// The roots the policy protects: the daemon's data root, and containerd's root if it is not
/// inside it (a system containerd the daemon attached to).
fn protected_roots(d: &PrivateDockerd) -> Vec<String> {
    let mut roots = vec![d.data_root().display().to_string()];
    if !d.containerd_socket().starts_with(d.dir()) {
        roots.push("/var/lib/containerd".to_string());
    }
    roots
}

/// A create body of `bb:latest` padded with a label to about `size` bytes.
fn padded_create(size: usize, read_only: bool) -> Vec<u8> {
    let body = serde_json::to_vec(&json!({
        "Image": "bb:latest",
        "Cmd": ["true"],
        "Labels": {"pad": "x".repeat(size)},
        "HostConfig": {"ReadonlyRootfs": read_only}
    }))
    .unwrap();
    assert!(body.len() >= size && body.len() < size + 200);
    body
}

/// `run_read_only` that must succeed.
fn run_ok(d: &PrivateDockerd, mount: &[&str], script: &str) {
    let (status, out, err) = run_read_only(d, mount, script);
    assert!(
        status.success(),
        "read-only run {mount:?} `{script}`: {status}\n{out}\n{err}"
    );
}

/// A read-only compose service with a tmpfs and a named volume, as `docker-compose up` runs it.
const COMPOSE_READ_ONLY: &str = r#"version: "2.4"
services:
  app:
    image: bb:latest
    read_only: true
    tmpfs: [/tmp]
    volumes: [data:/data]
    command: ["sleep", "300"]
volumes:
  data: {}
"#;

/// A compose project that builds `image` (`RUN touch /<image>`, no network).
fn compose_build_project(d: &PrivateDockerd, image: &str) -> PathBuf {
    let compose = format!(
        "version: \"2.4\"\nservices:\n  built:\n    build: {{context: ., network: none}}\n    \
         image: {image}:latest\n"
    );
    let dockerfile = format!("FROM bb:latest\nRUN touch /{image}\n");
    d.write_dir(
        &format!("compose-{image}"),
        &[
            ("Dockerfile", &dockerfile),
            ("docker-compose.yml", &compose),
        ],
    )
}

/// A client this machine may lack: `Some` to run with, `None` after saying SKIPPED.
fn or_skip<'a>(client: &'a Result<DockerCli, String>, case: &str) -> Option<&'a DockerCli> {
    match client {
        Ok(cli) => Some(cli),
        Err(why) => {
            say_skipped(case, why);
            None
        }
    }
}

#[test]
fn doors_to_a_writable_root() {
    if !support::e2e_enabled("doors_to_a_writable_root") {
        return;
    }
    // A policy file from the start, so that it can be rewritten once the daemon's paths exist.
    let plugin = PluginProcess::start(Some("{}"));
    let d = PrivateDockerd::start(&[&plugin.authz_arg(), "--experimental"]);
    d.import_busybox("bb:latest");
    let g = Guard {
        denied_by: format!("authorization denied by plugin {}", plugin.name()),
    };
    let version = d.version().clone();
    let data_root = d.data_root().display().to_string();
    let above_root = d.dir().display().to_string();
    let mut cases = Cases::new();

    // The clients. Debian's 20.10 CLI and compose are test dependencies (a missing one fails);
    // the docker 28 CLI and buildx may be absent (those cases say SKIPPED).
    let cli20 = DockerCli::debian_20_10(&d.dir().join("cli20"));
    let legacy20 = cli20.clone().env("DOCKER_BUILDKIT", "0");
    let buildkit20 = cli20.clone().env("DOCKER_BUILDKIT", "1");
    let cli28 = DockerCli::docker_28(&d.dir().join("cli28"));
    let buildx28 = buildx_binary().and_then(|buildx| {
        DockerCli::docker_28(&d.dir().join("cli28-buildx")).map(|cli| cli.with_buildx(&buildx))
    });
    support::compose_binary();

    cases.run(
        &d,
        "policy: protected_roots names this daemon's data root",
        || {
            let roots = protected_roots(&d);
            plugin.write_policy(&json!({ "protected_roots": roots }).to_string());
            if let Err(line) = plugin.reload_and_wait() {
                panic!(
                    "the plugin refused a policy with protected_roots {roots:?} and kept the \
                 default one (the root-bind cases below then show the hole): {line}"
                );
            }
        },
    );

    // ---- The legacy builder: denied at POST /build, whatever the client.
    cases.run(
        &d,
        "legacy build: 20.10 CLI, DOCKER_BUILDKIT=0 --rm=false",
        || {
            let ctx = build_context(&d, "legacy20");
            let args = [
                "build",
                "--rm=false",
                "-t",
                "legacy20",
                ctx.to_str().unwrap(),
            ];
            let res = d.cli_res(&legacy20, &args);
            legacy_build_denied(
                &d,
                &g,
                "docker 20.10 build --rm=false",
                res,
                "DOCKER_BUILDKIT=1",
            );
        },
    );

    cases.run(
        &d,
        "legacy build: 28 CLI without buildx falls back to it",
        || {
            let Some(cli) = or_skip(&cli28, "legacy build with the docker 28 CLI") else {
                return;
            };
            assert!(
            !cli.has_buildx(&d),
            "{} has a buildx plugin (system-wide?): it would not fall back to the legacy builder",
            cli.binary().display()
        );
            let ctx = build_context(&d, "legacy28");
            let args = [
                "build",
                "--rm=false",
                "-t",
                "legacy28",
                ctx.to_str().unwrap(),
            ];
            let res = d.cli_res(cli, &args);
            legacy_build_denied(&d, &g, "docker 28 build (no buildx)", res, "docker-buildx");
        },
    );

    cases.run(&d, "legacy build: raw POST /build?rm=0 and friends", || {
        let mut holes = Holes::default();
        for (i, path) in [
            "/v1.41/build?rm=0&t=rawlegacy",
            "/build?rm=0",
            // Go reads the first of repeated parameters: this is version 1, the legacy builder.
            "/v1.41/build?version=1&version=2&rm=0",
            "/v1.41/build?forcerm=1&version=1",
        ]
        .into_iter()
        .enumerate()
        {
            // A context of its own each time, so no build cache hides a RUN container.
            let tar = tar_of_dir(&build_context(&d, &format!("rawlegacy{i}")));
            let tar_type = [("Content-Type", "application/x-tar")];
            let (status, body) = d.api("POST", path, &tar_type, tar);
            let text = String::from_utf8_lossy(&body).into_owned();
            if status == 403 {
                g.assert_denied(path, &text, "legacy-build");
            } else {
                legacy_build_hole(&d, &mut holes, &format!("POST {path} ({status})"), &text);
            }
        }
        holes.check();
        assert!(d.container_ids().is_empty());
    });

    cases.run(
        &d,
        "legacy build: compose 1.29 with COMPOSE_DOCKER_CLI_BUILD=0",
        || {
            let dir = compose_build_project(&d, "composelegacy");
            let res = d.compose_res(
                &dir,
                &[("COMPOSE_DOCKER_CLI_BUILD", "0")],
                &["-p", "legacy", "build", "--no-rm"],
            );
            let what = "docker-compose build (docker-py, legacy builder)";
            legacy_build_denied(&d, &g, what, res, "COMPOSE_DOCKER_CLI_BUILD=1");
        },
    );

    // ---- BuildKit builds keep working through the guard.
    cases.run(&d, "BuildKit build: 20.10 CLI, DOCKER_BUILDKIT=1", || {
        let ctx = build_context(&d, "bk20");
        let args = [
            "build",
            "--network",
            "none",
            "-t",
            "bk20",
            ctx.to_str().unwrap(),
        ];
        d.cli_ok(&buildkit20, &args);
        assert_built(&d, "bk20", "bk20");
    });

    cases.run(&d, "BuildKit build: 28 CLI + buildx 0.29 plugin", || {
        let Some(cli) = or_skip(&buildx28, "BuildKit build with docker 28 + buildx") else {
            return;
        };
        assert!(cli.has_buildx(&d), "the private buildx plugin is not seen");
        let ctx = build_context(&d, "bkx");
        let ctx = ctx.to_str().unwrap();
        d.cli_ok(
            cli,
            &[
                "buildx",
                "build",
                "--network",
                "none",
                "--load",
                "-t",
                "bkx",
                ctx,
            ],
        );
        assert_built(&d, "bkx", "bkx");
        // With buildx installed, `docker build` is BuildKit too.
        let ctx = build_context(&d, "bkx2");
        d.cli_ok(
            cli,
            &[
                "build",
                "--network",
                "none",
                "-t",
                "bkx2",
                ctx.to_str().unwrap(),
            ],
        );
        assert_built(&d, "bkx2", "bkx2");
    });

    cases.run(
        &d,
        "BuildKit build: compose 1.29 with the CLI builder",
        || {
            let dir = compose_build_project(&d, "composebk");
            // compose runs `docker build` from PATH: Debian's 20.10 CLI first, BuildKit built in.
            let path = format!("/usr/bin:{}", std::env::var("PATH").unwrap_or_default());
            let env = [
                ("DOCKER_BUILDKIT", "1"),
                ("COMPOSE_DOCKER_CLI_BUILD", "1"),
                ("PATH", path.as_str()),
            ];
            d.compose_ok(&dir, &env, &["-p", "bk", "build"]);
            assert_built(&d, "composebk", "composebk");
        },
    );

    // ---- Writable binds back to a root filesystem; read-only ones stay allowed.
    cases.run(
        &d,
        "root bind: -v, --mount, an ancestor, a descendant",
        || {
            let mut holes = Holes::default();
            let bind = format!("{data_root}:/d");
            let mount = format!("type=bind,src={data_root},dst=/d");
            // The temp dir above the data root reaches it too.
            let above = format!("{above_root}:/d");
            for (what, how, root) in [
                ("-v DATA_ROOT:/d", ["-v", &bind], "/d"),
                ("--mount type=bind,src=DATA_ROOT", ["--mount", &mount], "/d"),
                ("-v ANCESTOR_OF_DATA_ROOT:/d", ["-v", &above], "/d/root"),
            ] {
                run_denied(&d, &g, &mut holes, what, &how, root, "root-bind");
            }
            // And a directory inside it holds every container's layers.
            let bind = format!("{data_root}/overlay2:/o");
            let (status, out, err) =
                run_read_only(&d, &["-v", &bind], "ls /o >/dev/null && echo in");
            if status.success() {
                holes.add(format!("-v DATA_ROOT/overlay2 was allowed writable: {out}"));
            } else {
                g.assert_denied("-v DATA_ROOT/overlay2", &err, "root-bind");
            }
            holes.check();
        },
    );

    cases.run(
        &d,
        "root bind: spellings dockerd cleans (//, /./, trailing /, ..)",
        || {
            let mut holes = Holes::default();
            let spellings = [
                data_root.replacen('/', "//", 2),
                data_root.replace("/root", "/./root"),
                format!("{data_root}/"),
                format!("{data_root}/overlay2/.."),
                format!("{above_root}/exec/../root"),
            ];
            for src in &spellings {
                for host_config in [
                    json!({"ReadonlyRootfs": true, "Binds": [format!("{src}:/d")]}),
                    json!({"ReadonlyRootfs": true,
                       "Mounts": [{"Type": "bind", "Source": src, "Target": "/d"}]}),
                ] {
                    let body =
                        json!({"Image": "bb:latest", "Cmd": ["true"], "HostConfig": host_config});
                    let create = ("POST", "/v1.41/containers/create");
                    let _ = api_denied(&d, &g, &mut holes, create, &body, "root-bind");
                }
            }
            d.remove_all_containers();
            holes.check();
        },
    );

    // Read-only binds. dockerd 25+ on a kernel with mount_setattr (5.12+) makes `:ro` /
    // `readonly` binds recursively read-only, but only for requests of API 1.44 or later: below
    // that (the 20.10 CLI, raw /v1.41 calls, DOCKER_API_VERSION=1.43) and on 20.10 only the top
    // mount is read-only, and the data root's submounts — every running container's overlay —
    // stay writable under it: a read-only container writes its own root through a read-only bind
    // (seen on 20.10, 26.1 and 28.5). `ReadOnlyNonRecursive` (API 1.44+,
    // `bind-recursive=writable`) asks for that explicitly. A bind without submounts
    // (`bind-nonrecursive`, API 1.40+) is read-only on every version. The guard cannot tell the
    // daemon's version, so a read-only bind reaching a protected root may be denied anywhere
    // (`rules.root_bind_readonly`); what it must never do is let a way in through.
    let server_api = {
        let (_, v) = d.api_json("GET", "/version", &[], ());
        let api = v["ApiVersion"].as_str().unwrap_or_default().to_string();
        DockerdVersion::parse(&api)
            .map(|a| (a.major, a.minor))
            .expect("server API version")
    };
    let recursive_at = |api: (u32, u32)| {
        version.read_only_binds_are_recursive() && support::kernel_at_least(5, 12) && api >= (1, 44)
    };
    cases.run(&d, "root bind: read-only binds are never a way in", || {
        let mut holes = Holes::default();
        let ro_bind = format!("{data_root}:/d:ro");
        let ro_mount = format!("type=bind,src={data_root},dst=/d,readonly");
        let ro_above = format!("{above_root}:/d:ro");
        let flat = format!("{ro_mount},bind-nonrecursive=true");
        let old_api = (1, 41);
        let mut try_bind = |cli: &DockerCli, mount: [&str; 2], root: &str, safe_here: bool| {
            let api = cli
                .env_value("DOCKER_API_VERSION")
                .map(|v| format!(" (API {v})"));
            let what = format!(
                "{}{} {}",
                cli.version,
                api.unwrap_or_default(),
                mount.join(" ")
            );
            match read_only_bind(&d, cli, mount, root) {
                RoBind::Hole => {
                    let how = "only the top mount is read-only";
                    holes.add(format!(
                        "{what} is a read-only bind, yet on dockerd {version} a read-only \
                         container wrote /pwned into its own root through it ({how})"
                    ))
                }
                RoBind::ReadOnly => {}
                RoBind::Denied(err) => {
                    g.assert_denied(&what, &err, "root-bind");
                    if safe_here {
                        // Not a failure: the policy denies what a daemon might not keep
                        // read-only. Said, so the cost of that choice stays visible.
                        let _ = writeln!(
                            std::io::stderr(),
                            "note: {what} is read-only all the way down on dockerd {version} \
                             and was denied (rules.root_bind_readonly)"
                        );
                    }
                }
            }
        };
        try_bind(&cli20, ["--mount", &flat], "/d", true);
        try_bind(&cli20, ["-v", &ro_bind], "/d", recursive_at(old_api));
        try_bind(&cli20, ["--mount", &ro_mount], "/d", recursive_at(old_api));
        try_bind(&cli20, ["-v", &ro_above], "/d/root", recursive_at(old_api));
        match &cli28 {
            Ok(cli28) => {
                let negotiated = server_api.min((1, 51));
                try_bind(cli28, ["-v", &ro_bind], "/d", recursive_at(negotiated));
                try_bind(
                    cli28,
                    ["--mount", &ro_mount],
                    "/d",
                    recursive_at(negotiated),
                );
                if server_api >= (1, 44) {
                    // The same CLI asking for an API older than 1.44.
                    let api_1_43 = cli28.clone().env("DOCKER_API_VERSION", "1.43");
                    try_bind(&api_1_43, ["-v", &ro_bind], "/d", recursive_at((1, 43)));
                }
            }
            Err(why) => say_skipped("read-only binds with the docker 28 CLI", why),
        }
        holes.check();
    });

    cases.run(
        &d,
        "binds: host paths away from the roots stay allowed, writable too",
        || {
            let rw = d.write_dir("bind-rw", &[("seen", "x")]);
            let rw_bind = format!("{}:/s", rw.display());
            run_ok(&d, &["-v", &rw_bind], "cat /s/seen && touch /s/written");
            assert!(rw.join("written").exists());
            let ro_bind = format!("{}:/s:ro", rw.display());
            run_ok(&d, &["-v", &ro_bind], "cat /s/seen");
            let mount = format!("type=bind,src={},dst=/s", rw.display());
            run_ok(&d, &["--mount", &mount], "cat /s/seen");
        },
    );

    cases.run(&d, "root bind: readonly with writable submounts is denied", || {
        if server_api < (1, 44) {
            let why = format!(
                "dockerd {version} serves API {server_api:?}, below 1.44, which has no \
                 ReadOnlyNonRecursive (its read-only binds are all non-recursive: case above)"
            );
            say_skipped("BindOptions.ReadOnlyNonRecursive", &why);
            return;
        }
        let mut holes = Holes::default();
        let mount = json!({"Type": "bind", "Source": data_root, "Target": "/d", "ReadOnly": true,
                           "BindOptions": {"ReadOnlyNonRecursive": true}});
        let body = json!({"Image": "bb:latest", "Cmd": ["sh", "-c", write_own_root("/d")],
                          "HostConfig": {"ReadonlyRootfs": true, "Mounts": [mount]}});
        let create = format!("/v{}.{}/containers/create", server_api.0, server_api.1);
        if let Err(v) = api_denied(&d, &g, &mut holes, ("POST", &create), &body, "root-bind") {
            if let Some(id) = v["Id"].as_str() {
                let (_, out, _) = d.docker_res(&["start", "-a", id]);
                holes.add(format!("... and that read-only container printed {:?}", out.trim()));
            }
        }
        d.remove_all_containers();
        holes.check();
    });

    // ---- Volumes that are binds in disguise; ordinary volumes stay allowed.
    cases.run(
        &d,
        "bind-like volume: volume create -o type=none -o o=rbind",
        || {
            let mut holes = Holes::default();
            let device = format!("device={data_root}");
            let (status, out, err) = d.docker_res(&[
                "volume",
                "create",
                "-o",
                "type=none",
                "-o",
                "o=rbind",
                "-o",
                &device,
                "dr",
            ]);
            if status.success() {
                let (_, ran, _) = run_read_only(&d, &["-v", "dr:/d"], &write_own_root("/d"));
                holes.add(format!(
                    "a local volume binding the data root was created ({}); a read-only container \
                 using it printed {:?}",
                    out.trim(),
                    ran.trim()
                ));
            } else {
                g.assert_denied("volume create (rbind of the data root)", &err, "root-bind");
            }
            // The same through the API: `o=bind`, an ancestor with a trailing slash.
            let body = json!({"Name": "dr2", "Driver": "local",
            "DriverOpts": {"type": "none", "o": "bind", "device": format!("{above_root}/")}});
            let _ = api_denied(
                &d,
                &g,
                &mut holes,
                ("POST", "/v1.41/volumes/create"),
                &body,
                "root-bind",
            );
            let _ = d.docker_res(&["volume", "rm", "-f", "dr", "dr2"]);
            holes.check();
        },
    );

    cases.run(
        &d,
        "bind-like volume: inline --mount type=volume,volume-opt=...",
        || {
            let mut holes = Holes::default();
            let opts = "volume-opt=type=none,volume-opt=o=rbind";
            let mount = format!("type=volume,dst=/d,{opts},volume-opt=device={data_root}");
            let what = "--mount type=volume with bind options";
            run_denied(
                &d,
                &g,
                &mut holes,
                what,
                &["--mount", &mount],
                "/d",
                "root-bind",
            );
            let _ = d.docker_res(&["volume", "prune", "-f"]);
            holes.check();
        },
    );

    cases.run(&d, "volumes: named and tmpfs volumes stay allowed", || {
        d.docker_ok(&["volume", "create", "data1"]);
        run_ok(&d, &["-v", "data1:/data"], "touch /data/x");
        run_ok(&d, &["-v", "data1:/data"], "ls /data/x");
        let tmpfs_opts = ["-o", "type=tmpfs", "-o", "device=tmpfs", "-o", "o=size=1m"];
        d.docker_ok(&[&["volume", "create"][..], &tmpfs_opts, &["tmp1"]].concat());
        run_ok(&d, &["-v", "tmp1:/t"], "touch /t/x");
        d.docker_ok(&["volume", "rm", "data1", "tmp1"]);
    });

    // ---- Everyday read-only flows.
    cases.run(
        &d,
        "flows: docker run --read-only --tmpfs /tmp (both CLIs)",
        || {
            run_ok(&d, &["--tmpfs", "/tmp"], "touch /tmp/x");
            let args: Vec<&str> = "run --rm --read-only --tmpfs /tmp bb:latest touch /tmp/x"
                .split(' ')
                .collect();
            d.cli_ok(&cli20, &args);
        },
    );

    cases.run(
        &d,
        "flows: compose 1.29 up -d / exec / down with read_only",
        || {
            let dir = d.write_dir("compose-ro", &[("docker-compose.yml", COMPOSE_READ_ONLY)]);
            let up = ["-p", "ro", "up", "-d"];
            d.compose_ok(&dir, &[], &up);
            let exec = [
                "-p",
                "ro",
                "exec",
                "-T",
                "app",
                "sh",
                "-c",
                "touch /tmp/a /data/b && echo ok",
            ];
            assert_eq!(d.compose_ok(&dir, &[], &exec), "ok");
            let exec = ["-p", "ro", "exec", "-T", "app", "touch", "/x"];
            let (status, out, err) = d.compose_res(&dir, &[], &exec);
            assert!(
                !status.success() && format!("{out}{err}").contains("Read-only file system"),
                "{out}{err}"
            );
            d.compose_ok(&dir, &[], &["-p", "ro", "down", "-v", "-t", "1"]);
            assert!(d.container_ids().is_empty());
        },
    );

    // ---- Large bodies: what reaches the plugin depends on the daemon.
    let json_type = [("Content-Type", "application/json")];
    cases.run(
        &d,
        "body size: a 900 KiB read-only create is allowed",
        || {
            let body = padded_create(900 * 1024, true);
            let (status, v) = d.api_json(
                "POST",
                "/v1.41/containers/create?name=kib900",
                &json_type,
                body,
            );
            assert_eq!(status, 201, "{v}");
            assert!(d.is_read_only("kib900"));
            d.docker_ok(&["rm", "kib900"]);
        },
    );

    cases.run(
        &d,
        "body size: a 1.1 MiB read-only create, as this daemon forwards it",
        || {
            let body = padded_create(1024 * 1024 + 100 * 1024, true);
            let chunked = ApiBody::Chunked(body.chunks(64 * 1024).map(<[u8]>::to_vec).collect());
            for (how, req) in [
                ("Content-Length", ApiBody::from(body.clone())),
                ("chunked", chunked),
            ] {
                let path = "/v1.41/containers/create?name=mib11";
                let (status, v) = d.api_json("POST", path, &json_type, req);
                let msg = error_message(&v);
                match version.body_forwarding() {
                    Some(BodyForwarding::WithheldFrom1MiB) => {
                        // dockerd withholds it from the plugin and would still run it: denied,
                        // saying why the body is missing.
                        assert_eq!(status, 403, "{version} {how}: {v}");
                        g.assert_denied(how, &msg, "readonly-rootfs");
                        assert!(
                        msg.contains("1 MiB") && msg.contains("29.3.1"),
                        "{version} {how}: the denial should name dockerd's behaviour (bodies of \
                         1 MiB or more withheld before 29.3.1): {msg}"
                    );
                        assert!(d.container_ids().is_empty());
                    }
                    Some(BodyForwarding::CompleteUpTo4MiB) => {
                        // The body reached the plugin complete: decided on its content.
                        assert_eq!(
                        status, 201,
                        "dockerd {version} forwards a 1.1 MiB body complete ({how}): a read-only \
                         create must be allowed, got {v}"
                    );
                        assert!(d.is_read_only("mib11"));
                        d.docker_ok(&["rm", "mib11"]);
                    }
                    None => say_skipped(
                        &format!("body size 1.1 MiB ({how})"),
                        &format!("how dockerd {version} forwards large bodies is not known"),
                    ),
                }
            }
        },
    );

    cases.run(
        &d,
        "body size: past 1 MiB a writable create is still denied",
        || {
            let body = padded_create(1024 * 1024 + 100 * 1024, false);
            let (status, v) = d.api_json("POST", "/v1.41/containers/create", &json_type, body);
            assert_eq!(status, 403, "{v}");
            assert!(error_message(&v).contains(&g.denied_by), "{v}");
            assert!(d.container_ids().is_empty());
            if version.body_forwarding() == Some(BodyForwarding::CompleteUpTo4MiB) {
                // Past 4 MiB dockerd answers itself and runs nothing.
                let body = padded_create(4 * 1024 * 1024 + 1024, true);
                let (status, v) = d.api_json("POST", "/v1.41/containers/create", &json_type, body);
                assert_eq!(status, 500, "{v}");
                let msg = error_message(&v);
                assert!(
                    msg.contains("request body too large for authorization plugin"),
                    "{v}"
                );
                assert!(d.container_ids().is_empty());
            }
        },
    );

    // ---- Swarm: services of another runtime, service binds, read-only services.
    cases.run(
        &d,
        "swarm: plugin-runtime services denied, read-only services allowed",
        || {
            let mut holes = Holes::default();
            d.swarm_init();
            let create = ("POST", "/v1.41/services/create");
            let plugin_service = json!({"Name": "p", "TaskTemplate": {
            "Runtime": "plugin",
            "PluginSpec": {"Name": "x", "Remote": "x"},
            "ContainerSpec": {"Image": "bb:latest", "ReadOnly": true}}});
            let _ = api_denied(
                &d,
                &g,
                &mut holes,
                create,
                &plugin_service,
                "service-runtime",
            );
            // Keys in any case, as Go's encoding/json matches them.
            let folded = json!({"name": "p2", "taskTemplate": {
            "runtime": "plugin",
            "pluginSpec": {"name": "x", "remote": "x"},
            "containerSpec": {"image": "bb:latest", "readOnly": true}}});
            let _ = api_denied(&d, &g, &mut holes, create, &folded, "service-runtime");
            // A plain read-only service is allowed, and its task is read-only.
            // Global: a plugin-runtime spec must be global, so the update below is one that
            // dockerd would carry out.
            let service = "service create --detach --mode global --name ro --read-only bb:latest";
            let args: Vec<&str> = service.split(' ').chain(["sleep", "300"]).collect();
            d.docker_ok(&args);
            let mut task = String::new();
            wait_until(
                "the read-only service's task",
                Duration::from_secs(30),
                || {
                    task = d.container_ids().into_iter().next().unwrap_or_default();
                    !task.is_empty()
                },
            );
            assert!(d.is_read_only(&task), "swarm task {task} is writable");
            // Updating it to the plugin runtime is denied.
            let (status, svc) = d.api_json("GET", "/v1.41/services/ro", &[], ());
            assert_eq!(status, 200, "{svc}");
            let index = svc["Version"]["Index"].as_u64().expect("service version");
            let mut spec = svc["Spec"].clone();
            spec["TaskTemplate"]["Runtime"] = json!("plugin");
            spec["TaskTemplate"]["PluginSpec"] = json!({"Name": "x", "Remote": "x"});
            let id = svc["ID"].as_str().expect("service ID");
            let update = format!("/v1.41/services/{id}/update?version={index}");
            let _ = api_denied(
                &d,
                &g,
                &mut holes,
                ("POST", &update),
                &spec,
                "service-runtime",
            );
            // A read-only service with a writable bind of the data root is denied.
            let mount = format!("type=bind,src={data_root},dst=/d");
            let (status, out, err) = d.docker_res(&[
                "service",
                "create",
                "--detach",
                "--name",
                "bind",
                "--read-only",
                "--mount",
                &mount,
                "bb:latest",
                "sleep",
                "300",
            ]);
            if status.success() {
                holes.add(format!(
                    "a read-only service binding the data root was created: {out}"
                ));
            } else {
                g.assert_denied(
                    "service create --mount type=bind,src=DATA_ROOT",
                    &err,
                    "root-bind",
                );
            }
            d.swarm_leave();
            d.remove_all_containers();
            holes.check();
        },
    );

    cases.run(&d, "the guard still denies a plain writable create", || {
        let err = d.docker_fails(&["create", "bb:latest", "true"]);
        assert!(err.contains(&g.denied_by), "{err}");
    });

    let logs = plugin.logs();
    cases.finish(&d, &[("plugin log", logs)]);
}
