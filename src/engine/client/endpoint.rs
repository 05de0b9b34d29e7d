//! Where a daemon is and how to reach it, parsed from a Docker host string the way the docker CLI
//! reads `-H` / `DOCKER_HOST`: `unix://PATH`, `tcp://HOST[:PORT]` (plain or TLS), and
//! `ssh://[USER@]HOST[:PORT]`. Pure: no file is read here ([`super::settings`] does that).

use std::fmt;
use std::path::PathBuf;

use super::DockerError;

/// The CLI's default ports: 2375 plain, 2376 with TLS.
pub const DEFAULT_TCP_PORT: u16 = 2375;
pub const DEFAULT_TLS_PORT: u16 = 2376;

/// One daemon's address and transport.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    Unix(PathBuf),
    Tcp {
        host: String,
        port: u16,
        tls: Option<TlsFiles>,
    },
    Ssh {
        user: Option<String>,
        host: String,
        port: Option<u16>,
    },
}

/// The TLS material of a tcp endpoint, as PEM files (the CLI's ca.pem, cert.pem, key.pem).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TlsFiles {
    /// Verify the server's certificate against `ca` (or the system roots when `None`) and its
    /// name; `false` only for `--tls` without `--tlsverify`.
    pub verify: bool,
    pub ca: Option<PathBuf>,
    /// Client certificate and key (both or neither).
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
}

impl Endpoint {
    /// Parses a host string. `tls` is applied to a tcp endpoint (`None`: plain HTTP); a unix or
    /// ssh endpoint ignores it, as the CLI does.
    pub fn parse(host: &str, tls: Option<TlsFiles>) -> Result<Endpoint, DockerError> {
        let unsupported = || DockerError::UnsupportedHost(host.to_owned());
        let host = host.trim();
        if let Some(rest) = host.strip_prefix("unix://").or(host.strip_prefix("unix:")) {
            if !rest.starts_with('/') {
                return Err(unsupported());
            }
            return Ok(Endpoint::Unix(PathBuf::from(rest)));
        }
        if host.starts_with('/') {
            return Ok(Endpoint::Unix(PathBuf::from(host)));
        }
        if let Some(rest) = host.strip_prefix("tcp://") {
            let default = if tls.is_some() {
                DEFAULT_TLS_PORT
            } else {
                DEFAULT_TCP_PORT
            };
            let (h, port) = split_host_port(rest.trim_end_matches('/')).ok_or_else(unsupported)?;
            return Ok(Endpoint::Tcp {
                host: h,
                port: port.unwrap_or(default),
                tls,
            });
        }
        if let Some(rest) = host.strip_prefix("ssh://") {
            let rest = rest.trim_end_matches('/');
            if rest.contains('/') {
                // The CLI refuses a path in an ssh URL too.
                return Err(unsupported());
            }
            let (user, hostport) = match rest.rsplit_once('@') {
                Some((u, h)) if !u.is_empty() => (Some(u.to_owned()), h),
                Some(_) => return Err(unsupported()),
                None => (None, rest),
            };
            let (h, port) = split_host_port(hostport).ok_or_else(unsupported)?;
            return Ok(Endpoint::Ssh {
                user,
                host: h,
                port,
            });
        }
        Err(unsupported())
    }

    /// Whether the daemon is on this machine's filesystem (a socket path).
    pub fn is_unix(&self) -> bool {
        matches!(self, Endpoint::Unix(_))
    }
}

/// `HOST[:PORT]` or `[V6]:PORT`; `None` when empty or the port is not a number.
fn split_host_port(s: &str) -> Option<(String, Option<u16>)> {
    if s.is_empty() {
        return None;
    }
    if let Some(rest) = s.strip_prefix('[') {
        let (h, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p.parse().ok()?),
            None if after.is_empty() => None,
            None => return None,
        };
        return Some((h.to_owned(), port));
    }
    match s.rsplit_once(':') {
        Some((h, p)) if !h.is_empty() && !h.contains(':') => {
            Some((h.to_owned(), Some(p.parse().ok()?)))
        }
        Some(_) => None,
        None => Some((s.to_owned(), None)),
    }
}

/// The endpoint as the CLI would write it (`unix:///run/docker.sock`, `tcp://10.0.0.2:2376`,
/// `ssh://ops@build-1:2222`): what errors and reports name.
impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Unix(p) => write!(f, "unix://{}", p.display()),
            Endpoint::Tcp { host, port, .. } if host.contains(':') => {
                write!(f, "tcp://[{host}]:{port}")
            }
            Endpoint::Tcp { host, port, .. } => write!(f, "tcp://{host}:{port}"),
            Endpoint::Ssh { user, host, port } => {
                f.write_str("ssh://")?;
                if let Some(u) = user {
                    write!(f, "{u}@")?;
                }
                f.write_str(host)?;
                if let Some(p) = port {
                    write!(f, ":{p}")?;
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_the_cli_accepts() {
        let unix = Endpoint::parse("unix:///var/run/docker.sock", None).unwrap();
        assert_eq!(unix, Endpoint::Unix("/var/run/docker.sock".into()));
        assert_eq!(
            Endpoint::parse("unix:/tmp/d.sock", None).unwrap(),
            Endpoint::Unix("/tmp/d.sock".into())
        );
        assert_eq!(
            Endpoint::parse("/tmp/d.sock", None).unwrap().to_string(),
            "unix:///tmp/d.sock"
        );
        assert!(Endpoint::parse("unix://relative.sock", None).is_err());

        let tcp = Endpoint::parse("tcp://127.0.0.1:2375", None).unwrap();
        assert_eq!(tcp.to_string(), "tcp://127.0.0.1:2375");
        // The CLI's default ports: 2375 plain, 2376 with TLS.
        assert_eq!(
            Endpoint::parse("tcp://docker.example", None)
                .unwrap()
                .to_string(),
            "tcp://docker.example:2375"
        );
        let tls = Some(TlsFiles {
            verify: true,
            ..TlsFiles::default()
        });
        assert_eq!(
            Endpoint::parse("tcp://docker.example", tls)
                .unwrap()
                .to_string(),
            "tcp://docker.example:2376"
        );
        assert_eq!(
            Endpoint::parse("tcp://[::1]:2375", None)
                .unwrap()
                .to_string(),
            "tcp://[::1]:2375"
        );
        assert!(Endpoint::parse("tcp://host:port", None).is_err());

        assert_eq!(
            Endpoint::parse("ssh://root@127.0.0.1:2222", None).unwrap(),
            Endpoint::Ssh {
                user: Some("root".into()),
                host: "127.0.0.1".into(),
                port: Some(2222)
            }
        );
        assert_eq!(
            Endpoint::parse("ssh://build-1", None).unwrap().to_string(),
            "ssh://build-1"
        );
        assert!(Endpoint::parse("ssh://host/path", None).is_err());
        assert!(Endpoint::parse("npipe:////./pipe/docker_engine", None).is_err());
        assert!(Endpoint::parse("http://host:2375", None).is_err());
    }
}
