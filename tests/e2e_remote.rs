//! End-to-end: `audit` reaching a daemon the other ways the docker CLI does. A private dockerd on
//! `tcp://127.0.0.1:PORT` with `--tlsverify` and certificates made here (rcgen): audited with the
//! CLI's environment, with its flags, and through a context the real `docker context create`
//! wrote; a wrong CA or a name the certificate does not carry is exit 2 naming the host and the
//! TLS failure. An sshd of the test's own (own host key, config, port, authorized key; never the
//! system's) in front of a private dockerd: `audit --host ssh://root@127.0.0.1:PORT` finds the
//! verdicts the unix socket finds, `watch` follows events over it, and a refused key is exit 2
//! with ssh's exit status.

mod support;

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::PrivateDockerd;

fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_rootfs-guard"))
}

/// `rootfs-guard ARGS` with only the environment given (plus PATH): (exit code, stdout, stderr).
fn guard(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = Command::new(binary());
    cmd.args(args).env_clear();
    cmd.env("PATH", std::env::var("PATH").unwrap_or_default());
    cmd.env("HOME", "/nonexistent-home");
    for (k, v) in env {
        cmd.env(k, v);
    }
    support::run_guard(cmd)
}

/// `name → verdict` of a JSON audit report.
fn verdicts(json: &str) -> BTreeMap<String, String> {
    let v: serde_json::Value = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {json}"));
    v["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_owned(),
                c["verdict"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One compliant and one writable container.
fn seed(d: &PrivateDockerd) {
    d.import_busybox("bb:latest");
    d.docker_ok(&["create", "--name", "ro", "--read-only", "bb:latest", "true"]);
    d.docker_ok(&["create", "--name", "writable", "bb:latest", "true"]);
}

fn expected() -> BTreeMap<String, String> {
    [("ro", "compliant"), ("writable", "violation")]
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

/// A CA and, signed by it, a server certificate for 127.0.0.1 and a client certificate, as PEM
/// files in `dir` (the CLI's names: ca.pem, cert.pem, key.pem for the client).
fn make_certs(dir: &Path, name: &str) {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
        SanType,
    };
    std::fs::create_dir_all(dir).unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, format!("{name} test CA"));
    let ca_key = KeyPair::generate().unwrap();
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let leaf = |usage: ExtendedKeyUsagePurpose, file: &str| {
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.subject_alt_names
            .push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        p.extended_key_usages = vec![usage];
        let key = KeyPair::generate().unwrap();
        let cert = p.signed_by(&key, &ca_cert, &ca_key).unwrap();
        std::fs::write(dir.join(format!("{file}-cert.pem")), cert.pem()).unwrap();
        std::fs::write(dir.join(format!("{file}-key.pem")), key.serialize_pem()).unwrap();
    };
    leaf(ExtendedKeyUsagePurpose::ServerAuth, "server");
    leaf(ExtendedKeyUsagePurpose::ClientAuth, "client");
    std::fs::write(dir.join("ca.pem"), ca_cert.pem()).unwrap();
    std::fs::copy(dir.join("client-cert.pem"), dir.join("cert.pem")).unwrap();
    std::fs::copy(dir.join("client-key.pem"), dir.join("key.pem")).unwrap();
}

#[test]
fn audit_over_tcp_with_tls_as_the_cli_configures_it() {
    if !support::e2e_enabled("audit_over_tcp_with_tls_as_the_cli_configures_it") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let certs = tmp.path().join("certs");
    make_certs(&certs, "good");
    make_certs(&tmp.path().join("other"), "other");
    let port = free_port();
    let tcp = format!("tcp://127.0.0.1:{port}");
    let p = |f: &str| certs.join(f).display().to_string();
    let d = PrivateDockerd::start(&[
        &format!("--host={tcp}"),
        "--tlsverify",
        &format!("--tlscacert={}", p("ca.pem")),
        &format!("--tlscert={}", p("server-cert.pem")),
        &format!("--tlskey={}", p("server-key.pem")),
    ]);
    seed(&d);
    let (code, local, err) = guard(&["audit", "--host", &d.host(), "--format", "json"], &[]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(verdicts(&local), expected());

    // 1. The CLI's environment.
    let certs_s = certs.display().to_string();
    let env = [
        ("DOCKER_HOST", tcp.as_str()),
        ("DOCKER_TLS_VERIFY", "1"),
        ("DOCKER_CERT_PATH", certs_s.as_str()),
    ];
    let (code, out, err) = guard(&["audit", "--format", "json"], &env);
    assert_eq!(code, 1, "env: {err}");
    assert_eq!(verdicts(&out), expected(), "env");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["host"], tcp.as_str());

    // 2. The CLI's flags.
    let (code, out, err) = guard(
        &[
            "audit",
            "--host",
            &tcp,
            "--tlsverify",
            "--tlscacert",
            &p("ca.pem"),
            "--tlscert",
            &p("cert.pem"),
            "--tlskey",
            &p("key.pem"),
            "--format",
            "json",
        ],
        &[],
    );
    assert_eq!(code, 1, "flags: {err}");
    assert_eq!(verdicts(&out), expected(), "flags");

    // 3. A context written by the real docker CLI, named by --context, DOCKER_CONTEXT and
    //    config.json's currentContext (`docker context use`).
    let config = tmp.path().join("docker-config");
    let config_s = config.display().to_string();
    let docker_cli = |args: &[&str]| {
        let out = Command::new("docker")
            .arg("--config")
            .arg(&config)
            .args(args)
            .env_remove("DOCKER_HOST")
            .env_remove("DOCKER_CONTEXT")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "docker {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    docker_cli(&[
        "context",
        "create",
        "fleet-tls",
        "--docker",
        &format!(
            "host={tcp},ca={},cert={},key={}",
            p("ca.pem"),
            p("cert.pem"),
            p("key.pem")
        ),
    ]);
    let cfg_env = [("DOCKER_CONFIG", config_s.as_str())];
    let (code, out, err) = guard(
        &["audit", "--context", "fleet-tls", "--format", "json"],
        &cfg_env,
    );
    assert_eq!(code, 1, "--context: {err}");
    assert_eq!(verdicts(&out), expected(), "--context");
    let (code, out, err) = guard(
        &["audit", "--format", "json"],
        &[
            ("DOCKER_CONFIG", config_s.as_str()),
            ("DOCKER_CONTEXT", "fleet-tls"),
        ],
    );
    assert_eq!(code, 1, "DOCKER_CONTEXT: {err}");
    assert_eq!(verdicts(&out), expected(), "DOCKER_CONTEXT");
    docker_cli(&["context", "use", "fleet-tls"]);
    let (code, out, err) = guard(&["audit", "--format", "json"], &cfg_env);
    assert_eq!(code, 1, "currentContext: {err}");
    assert_eq!(verdicts(&out), expected(), "currentContext");

    // 4. Wrong CA: exit 2, naming the host and the verification failure.
    let other = tmp.path().join("other").display().to_string();
    let (code, out, err) = guard(
        &["audit", "--format", "json"],
        &[
            ("DOCKER_HOST", tcp.as_str()),
            ("DOCKER_TLS_VERIFY", "1"),
            ("DOCKER_CERT_PATH", other.as_str()),
        ],
    );
    assert_eq!(code, 2, "wrong CA: {out}{err}");
    assert!(
        err.contains(&tcp) && err.contains("TLS handshake failed") && err.contains("UnknownIssuer"),
        "wrong CA: {err}"
    );
    // `--tls` without `--tlsverify`: encrypted, the server not verified (the CLI's meaning).
    let (code, out, err) = guard(
        &[
            "audit",
            "--host",
            &tcp,
            "--tls",
            "--tlscert",
            &p("cert.pem"),
            "--tlskey",
            &p("key.pem"),
            "--format",
            "json",
        ],
        &[],
    );
    assert_eq!(code, 1, "--tls: {err}");
    assert_eq!(verdicts(&out), expected(), "--tls");
    // 5. The server's name is checked: the certificate is for 127.0.0.1, not localhost.
    let by_name = format!("tcp://localhost:{port}");
    let (code, _, err) = guard(
        &["audit"],
        &[
            ("DOCKER_HOST", by_name.as_str()),
            ("DOCKER_TLS_VERIFY", "1"),
            ("DOCKER_CERT_PATH", certs_s.as_str()),
        ],
    );
    assert_eq!(code, 2, "name: {err}");
    assert!(
        err.contains(&by_name) && err.contains("not valid for name"),
        "name: {err}"
    );
    // 6. Plain HTTP to a TLS port is not silently accepted.
    let (code, _, err) = guard(&["audit", "--host", &tcp], &[]);
    assert_eq!(code, 2, "plain: {err}");
    assert!(err.contains(&tcp), "plain: {err}");
}

/// An sshd of the test's own on 127.0.0.1:PORT; killed (by pid) when dropped.
struct Sshd {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Sshd {
    /// Starts sshd with its own host key and config, letting `root` in with the key in
    /// `dir/client_key`; every session's commands see `DOCKER_HOST=docker_host` (a
    /// ForceCommand wrapper), as on a host whose daemon is at that socket.
    fn start(dir: &Path, docker_host: &str) -> Sshd {
        let sshd = ["/usr/sbin/sshd", "/sbin/sshd"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .expect("sshd (openssh-server; scripts/install-test-deps.sh installs it)");
        let keygen = |path: &Path| {
            let out = Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-f"])
                .arg(path)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        keygen(&dir.join("host_key"));
        keygen(&dir.join("client_key"));
        std::fs::copy(dir.join("client_key.pub"), dir.join("authorized_keys")).unwrap();
        let wrapper = dir.join("session.sh");
        std::fs::write(
            &wrapper,
            format!(
                "#!/bin/sh\nexport DOCKER_HOST='{docker_host}'\nexport PATH='{}'\nexec /bin/sh -c \"$SSH_ORIGINAL_COMMAND\"\n",
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .unwrap();
        Command::new("chmod")
            .arg("755")
            .arg(&wrapper)
            .status()
            .unwrap();
        // sshd refuses to start without its privilege-separation directory.
        std::fs::create_dir_all("/run/sshd").unwrap();
        let port = free_port();
        let config = dir.join("sshd_config");
        std::fs::write(
            &config,
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {hk}\nPidFile {pid}\n\
                 AuthorizedKeysFile {ak}\nPermitRootLogin prohibit-password\n\
                 PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n\
                 StrictModes no\nForceCommand {wrapper}\nLogLevel VERBOSE\n",
                hk = dir.join("host_key").display(),
                pid = dir.join("sshd.pid").display(),
                ak = dir.join("authorized_keys").display(),
                wrapper = wrapper.display(),
            ),
        )
        .unwrap();
        let log = std::fs::File::create(dir.join("sshd.log")).unwrap();
        let child = Command::new(sshd)
            .args(["-D", "-e", "-f"])
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "sshd did not listen:\n{}",
                std::fs::read_to_string(dir.join("sshd.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Sshd {
            child,
            port,
            dir: dir.to_owned(),
        }
    }

    /// A bin dir whose `ssh` runs the real one with this test's client config (the identity,
    /// the host key pinned), put first on PATH for the audit: the way an operator's
    /// ~/.ssh/config would say it.
    fn client_path(&self, key: &str) -> String {
        let known = self.dir.join("known_hosts");
        let pubkey = std::fs::read_to_string(self.dir.join("host_key.pub")).unwrap();
        std::fs::write(&known, format!("[127.0.0.1]:{} {pubkey}", self.port)).unwrap();
        let cfg = self.dir.join(format!("ssh_config-{key}"));
        std::fs::write(
            &cfg,
            format!(
                "Host *\n  IdentityFile {}\n  IdentitiesOnly yes\n  UserKnownHostsFile {}\n  \
                 StrictHostKeyChecking yes\n  BatchMode yes\n",
                self.dir.join(key).display(),
                known.display()
            ),
        )
        .unwrap();
        let bin = self.dir.join(format!("bin-{key}"));
        std::fs::create_dir_all(&bin).unwrap();
        let ssh = bin.join("ssh");
        std::fs::write(
            &ssh,
            format!("#!/bin/sh\nexec /usr/bin/ssh -F {} \"$@\"\n", cfg.display()),
        )
        .unwrap();
        Command::new("chmod").arg("755").arg(&ssh).status().unwrap();
        format!(
            "{}:{}",
            bin.display(),
            std::env::var("PATH").unwrap_or_default()
        )
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn audit_over_ssh_finds_what_the_socket_finds() {
    if !support::e2e_enabled("audit_over_ssh_finds_what_the_socket_finds") {
        return;
    }
    let d = PrivateDockerd::start(&[]);
    seed(&d);
    // More containers than inspects in flight over ssh: pooled ssh sessions carry several calls.
    for i in 0..30 {
        d.docker_ok(&["create", "--name", &format!("more{i}"), "bb:latest", "true"]);
    }
    let tmp = tempfile::tempdir().unwrap();
    let sshd = Sshd::start(tmp.path(), &d.host());
    let (code, local, err) = guard(&["audit", "--host", &d.host(), "--format", "json"], &[]);
    assert_eq!(code, 1, "{err}");

    let host = format!("ssh://root@127.0.0.1:{}", sshd.port);
    let path = sshd.client_path("client_key");
    let (code, out, err) = guard(
        &["audit", "--host", &host, "--format", "json"],
        &[("PATH", &path)],
    );
    assert_eq!(
        code,
        1,
        "ssh: {err}\nsshd log:\n{}",
        std::fs::read_to_string(tmp.path().join("sshd.log")).unwrap_or_default()
    );
    assert_eq!(verdicts(&out), verdicts(&local));
    assert_eq!(verdicts(&out).len(), 32);
    assert_eq!(verdicts(&out)["ro"], "compliant");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["host"], host.as_str());

    // `watch` follows the events stream over the same ssh transport.
    let out_path = tmp.path().join("watch.out");
    let mut watch = Command::new(binary())
        .args(["watch", "--host", &host, "--format", "json"])
        .env_clear()
        .env("PATH", &path)
        .env("HOME", "/nonexistent-home")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(tmp.path().join("watch.err")).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut created = false;
    loop {
        let err = std::fs::read_to_string(tmp.path().join("watch.err")).unwrap_or_default();
        if !created && err.contains("following container events") {
            d.docker_ok(&["create", "--name", "late", "bb:latest", "true"]);
            created = true;
        }
        let out = std::fs::read_to_string(&out_path).unwrap_or_default();
        if out.contains("\"name\":\"late\"") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "watch over ssh never reported late:\n{out}\n{err}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = watch.kill();
    let _ = watch.wait();

    // A key sshd does not know: exit 2 with ssh's exit status and message.
    let stranger = tmp.path().join("stranger_key");
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&stranger)
        .output()
        .unwrap();
    assert!(out.status.success());
    let path = sshd.client_path("stranger_key");
    let (code, _, err) = guard(&["audit", "--host", &host], &[("PATH", &path)]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(&host)
            && err.contains("ssh exited with exit status: 255")
            && err.contains("Permission denied"),
        "{err}"
    );
}
