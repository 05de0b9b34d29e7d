//! Which daemon to talk to, decided as the docker CLI decides it: `--host` > `--context` >
//! `DOCKER_HOST` > `DOCKER_CONTEXT` > the current context of `~/.docker/config.json` > the
//! default socket; TLS from `--tls*` flags or `DOCKER_TLS_VERIFY` / `DOCKER_CERT_PATH`, or from
//! the context's own material under `~/.docker/contexts/tls/`. The environment is passed in, so
//! every rule here is tested without touching the process's.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::endpoint::{Endpoint, TlsFiles};
use super::{DockerError, DEFAULT_DOCKER_HOST};

/// What the command line says about the daemon (the CLI's global flags).
#[derive(Debug, Clone, Default)]
pub struct HostFlags {
    /// `--host`.
    pub host: Option<String>,
    /// `--context`.
    pub context: Option<String>,
    /// `--tls`: TLS without verifying the server.
    pub tls: bool,
    /// `--tlsverify`.
    pub tlsverify: bool,
    pub tlscacert: Option<PathBuf>,
    pub tlscert: Option<PathBuf>,
    pub tlskey: Option<PathBuf>,
}

/// A daemon picked by [`resolve`]: its endpoint and the context that named it, if one did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub endpoint: Endpoint,
    pub context: Option<String>,
}

/// Picks the daemon as the CLI does. `env` reads one environment variable (unset and empty are
/// the same).
pub fn resolve(
    flags: &HostFlags,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Target, DockerError> {
    if let Some(host) = &flags.host {
        return from_host(host, flags, env);
    }
    if let Some(name) = &flags.context {
        return from_context(name, flags, env);
    }
    if let Some(host) = env("DOCKER_HOST") {
        return from_host(&host, flags, env);
    }
    if let Some(name) = env("DOCKER_CONTEXT") {
        return from_context(&name, flags, env);
    }
    if let Some(name) = current_context(&config_dir(env)) {
        return from_context(&name, flags, env);
    }
    from_host(DEFAULT_DOCKER_HOST, flags, env)
}

/// One entry of `audit --host` / `--hosts FILE`: an endpoint (`unix://`, `tcp://`, `ssh://`, a
/// path) or else the name of a context. The TLS flags apply to every tcp endpoint given so.
pub fn resolve_entry(
    entry: &str,
    flags: &HostFlags,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Target, DockerError> {
    if entry.contains("://") || entry.starts_with('/') || entry.starts_with("unix:") {
        from_host(entry, flags, env)
    } else {
        from_context(entry, flags, env)
    }
}

fn from_host(
    host: &str,
    flags: &HostFlags,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Target, DockerError> {
    Ok(Target {
        endpoint: Endpoint::parse(host, tls_from_flags(flags, env))?,
        context: None,
    })
}

/// The CLI's TLS options: `--tlsverify` or `DOCKER_TLS_VERIFY` verify; `--tls` or `DOCKER_TLS`
/// only encrypt. Files default to `DOCKER_CERT_PATH` (else the config dir) `/ca.pem`,
/// `/cert.pem`, `/key.pem`, each used only when it exists.
fn tls_from_flags(flags: &HostFlags, env: &dyn Fn(&str) -> Option<String>) -> Option<TlsFiles> {
    let verify = flags.tlsverify || env("DOCKER_TLS_VERIFY").is_some();
    let tls = verify
        || flags.tls
        || env("DOCKER_TLS").is_some()
        || flags.tlscacert.is_some()
        || flags.tlscert.is_some();
    if !tls {
        return None;
    }
    let dir = env("DOCKER_CERT_PATH")
        .map(PathBuf::from)
        .unwrap_or_else(|| config_dir(env));
    let pick = |flag: &Option<PathBuf>, file: &str| {
        flag.clone()
            .or_else(|| Some(dir.join(file)).filter(|p| p.exists()))
    };
    Some(TlsFiles {
        verify,
        ca: pick(&flags.tlscacert, "ca.pem"),
        cert: pick(&flags.tlscert, "cert.pem"),
        key: pick(&flags.tlskey, "key.pem"),
    })
}

/// `DOCKER_CONFIG`, else `~/.docker`.
pub fn config_dir(env: &dyn Fn(&str) -> Option<String>) -> PathBuf {
    env("DOCKER_CONFIG").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(env("HOME").unwrap_or_else(|| "/root".to_owned())).join(".docker")
    })
}

#[derive(Deserialize)]
struct ConfigFile {
    #[serde(rename = "currentContext", default)]
    current_context: Option<String>,
}

/// `currentContext` of `config.json`; `None` when absent, empty, `default`, or unreadable (the
/// CLI treats a missing file the same way).
fn current_context(dir: &Path) -> Option<String> {
    let text = std::fs::read(dir.join("config.json")).ok()?;
    let cfg: ConfigFile = serde_json::from_slice(&text).ok()?;
    cfg.current_context
        .filter(|c| !c.is_empty() && c != "default")
}

#[derive(Deserialize)]
struct ContextMeta {
    #[serde(rename = "Endpoints", default)]
    endpoints: std::collections::BTreeMap<String, ContextEndpoint>,
}

#[derive(Deserialize)]
struct ContextEndpoint {
    #[serde(rename = "Host", default)]
    host: String,
    #[serde(rename = "SkipTLSVerify", default)]
    skip_tls_verify: bool,
}

/// The directory name the CLI stores a context under: the hex SHA-256 of its name.
pub fn context_dir_name(name: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, name.as_bytes());
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// A context's docker endpoint and TLS material; `default` is the context of the environment
/// (`DOCKER_HOST`, else the default socket).
fn from_context(
    name: &str,
    flags: &HostFlags,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Target, DockerError> {
    if name == "default" {
        let host = env("DOCKER_HOST").unwrap_or_else(|| DEFAULT_DOCKER_HOST.to_owned());
        let mut t = from_host(&host, flags, env)?;
        t.context = Some(name.to_owned());
        return Ok(t);
    }
    let err = |reason: String| DockerError::Config {
        host: format!("context {name:?}"),
        reason,
    };
    let dir = config_dir(env).join("contexts");
    let id = context_dir_name(name);
    let meta_path = dir.join("meta").join(&id).join("meta.json");
    let text = std::fs::read(&meta_path).map_err(|e| {
        err(format!(
            "no such context ({}: {e}; see `docker context ls`)",
            meta_path.display()
        ))
    })?;
    let meta: ContextMeta =
        serde_json::from_slice(&text).map_err(|e| err(format!("{}: {e}", meta_path.display())))?;
    let docker = meta
        .endpoints
        .get("docker")
        .filter(|d| !d.host.is_empty())
        .ok_or_else(|| err(format!("{} has no docker endpoint", meta_path.display())))?;
    let tls_dir = dir.join("tls").join(&id).join("docker");
    let file = |f: &str| Some(tls_dir.join(f)).filter(|p| p.exists());
    let (ca, cert, key) = (file("ca.pem"), file("cert.pem"), file("key.pem"));
    let tls = if ca.is_some() || cert.is_some() || docker.skip_tls_verify {
        Some(TlsFiles {
            verify: !docker.skip_tls_verify,
            ca,
            cert,
            key,
        })
    } else {
        None
    };
    Ok(Target {
        endpoint: Endpoint::parse(&docker.host, tls)?,
        context: Some(name.to_owned()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned().filter(|v| !v.is_empty())
    }

    /// Writes a context the way `docker context create` does.
    fn write_context(config: &Path, name: &str, host: &str, tls: &[&str]) {
        let id = context_dir_name(name);
        let meta = config.join("contexts/meta").join(&id);
        std::fs::create_dir_all(&meta).unwrap();
        std::fs::write(
            meta.join("meta.json"),
            format!(
                r#"{{"Name":"{name}","Metadata":{{}},"Endpoints":{{"docker":{{"Host":"{host}","SkipTLSVerify":false}}}}}}"#
            ),
        )
        .unwrap();
        let tls_dir = config.join("contexts/tls").join(&id).join("docker");
        std::fs::create_dir_all(&tls_dir).unwrap();
        for f in tls {
            std::fs::write(tls_dir.join(f), "").unwrap();
        }
    }

    #[test]
    fn context_dir_is_the_sha256_of_the_name() {
        // `docker context create fleet-a` stores it under this directory.
        assert_eq!(
            context_dir_name("default"),
            "37a8eec1ce19687d132fe29051dca629d164e2c4958ba141d5f4133a33f0688f"
        );
    }

    #[test]
    fn precedence_is_the_clis() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().to_str().unwrap();
        write_context(dir.path(), "ctx-flag", "tcp://10.0.0.1:2375", &[]);
        write_context(dir.path(), "ctx-env", "tcp://10.0.0.2:2375", &[]);
        write_context(dir.path(), "ctx-cfg", "tcp://10.0.0.3:2375", &[]);
        std::fs::write(
            dir.path().join("config.json"),
            r#"{"currentContext":"ctx-cfg"}"#,
        )
        .unwrap();
        let all = [
            ("DOCKER_CONFIG", cfg),
            ("DOCKER_HOST", "unix:///env.sock"),
            ("DOCKER_CONTEXT", "ctx-env"),
        ];
        let flags = HostFlags {
            host: Some("unix:///flag.sock".into()),
            context: Some("ctx-flag".into()),
            ..HostFlags::default()
        };
        let pick = |flags: &HostFlags, env: &[(&str, &str)]| {
            resolve(flags, &env_of(env)).unwrap().endpoint.to_string()
        };
        assert_eq!(pick(&flags, &all), "unix:///flag.sock");
        let no_host = HostFlags {
            host: None,
            ..flags.clone()
        };
        assert_eq!(pick(&no_host, &all), "tcp://10.0.0.1:2375");
        let none = HostFlags::default();
        assert_eq!(pick(&none, &all), "unix:///env.sock");
        assert_eq!(
            pick(
                &none,
                &all[..1]
                    .iter()
                    .chain(&all[2..])
                    .copied()
                    .collect::<Vec<_>>()
            ),
            "tcp://10.0.0.2:2375"
        );
        assert_eq!(pick(&none, &all[..1]), "tcp://10.0.0.3:2375");
        let empty = tempfile::tempdir().unwrap();
        assert_eq!(
            pick(&none, &[("DOCKER_CONFIG", empty.path().to_str().unwrap())]),
            "unix:///var/run/docker.sock"
        );
        let missing = resolve(
            &HostFlags {
                context: Some("nope".into()),
                ..HostFlags::default()
            },
            &env_of(&all),
        )
        .unwrap_err()
        .to_string();
        assert!(
            missing.contains("context \"nope\"") && missing.contains("no such context"),
            "{missing}"
        );
    }

    #[test]
    fn tls_as_the_cli_reads_it() {
        let dir = tempfile::tempdir().unwrap();
        for f in ["ca.pem", "cert.pem", "key.pem"] {
            std::fs::write(dir.path().join(f), "").unwrap();
        }
        let certs = dir.path().to_str().unwrap();
        let env = env_of(&[
            ("DOCKER_HOST", "tcp://127.0.0.1:2376"),
            ("DOCKER_TLS_VERIFY", "1"),
            ("DOCKER_CERT_PATH", certs),
        ]);
        let t = resolve(&HostFlags::default(), &env).unwrap();
        let Endpoint::Tcp { tls: Some(tls), .. } = t.endpoint else {
            panic!("{t:?}")
        };
        assert!(tls.verify);
        assert_eq!(tls.ca, Some(dir.path().join("ca.pem")));
        assert_eq!(tls.key, Some(dir.path().join("key.pem")));

        // No TLS variable: plain HTTP, whatever port.
        let plain = resolve(
            &HostFlags::default(),
            &env_of(&[("DOCKER_HOST", "tcp://127.0.0.1:2376")]),
        )
        .unwrap();
        assert!(matches!(plain.endpoint, Endpoint::Tcp { tls: None, .. }));

        // Flags name the files; the context's TLS material comes from its own directory.
        let flags = HostFlags {
            host: Some("tcp://127.0.0.1:2376".into()),
            tlsverify: true,
            tlscacert: Some("/x/ca.pem".into()),
            ..HostFlags::default()
        };
        let t = resolve(&flags, &env_of(&[("DOCKER_CONFIG", "/nonexistent")])).unwrap();
        let Endpoint::Tcp { tls: Some(tls), .. } = t.endpoint else {
            panic!()
        };
        assert_eq!((tls.ca, tls.cert), (Some("/x/ca.pem".into()), None));

        write_context(
            dir.path(),
            "secure",
            "tcp://127.0.0.1:2376",
            &["ca.pem", "cert.pem", "key.pem"],
        );
        let t = resolve_entry(
            "secure",
            &HostFlags::default(),
            &env_of(&[("DOCKER_CONFIG", certs)]),
        )
        .unwrap();
        assert_eq!(t.context.as_deref(), Some("secure"));
        let Endpoint::Tcp { tls: Some(tls), .. } = t.endpoint else {
            panic!()
        };
        assert!(tls.verify && tls.ca.unwrap().ends_with("docker/ca.pem"));
    }
}
