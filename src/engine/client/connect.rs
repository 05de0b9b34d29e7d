//! The one connector behind every [`super::DockerClient`]: it opens a byte stream to the daemon
//! of an [`Endpoint`] (a unix socket, a TCP connection, TLS over it with rustls, or the
//! stdin/stdout of `ssh HOST docker system dial-stdio`, as the docker CLI does) and hands it to
//! hyper's pooled client, so every call above is the same HTTP/1.1 whatever the transport.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::rt::TokioIo;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::net::{TcpStream, UnixStream};
use tokio::process::{ChildStdin, ChildStdout, Command};
use tokio_rustls::rustls;

use super::endpoint::{Endpoint, TlsFiles};
use super::DockerError;

/// Time allowed to open one connection (TCP connect plus TLS handshake).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// Opens streams to one endpoint; cheap to clone (hyper clones it per connection).
#[derive(Clone)]
pub struct Connector {
    endpoint: Arc<Endpoint>,
    tls: Option<(Arc<rustls::ClientConfig>, ServerName<'static>)>,
    /// How the last `ssh` process ended when it failed (exit status and its stderr), so a
    /// broken connection is reported as ssh's failure rather than "connection closed".
    ssh_failure: Arc<Mutex<Option<String>>>,
}

impl Connector {
    /// A connector for `endpoint`; reads and checks the TLS material now, so a missing or bad
    /// file is an error before any connection is tried.
    pub fn new(endpoint: Endpoint) -> Result<Self, DockerError> {
        let tls = match &endpoint {
            Endpoint::Tcp {
                host,
                tls: Some(files),
                ..
            } => {
                let config = tls_config(files).map_err(|reason| DockerError::Config {
                    host: endpoint.to_string(),
                    reason,
                })?;
                let name = ServerName::try_from(host.clone()).map_err(|e| DockerError::Config {
                    host: endpoint.to_string(),
                    reason: format!("{host:?} is not a TLS server name: {e}"),
                })?;
                Some((Arc::new(config), name))
            }
            _ => None,
        };
        Ok(Connector {
            endpoint: Arc::new(endpoint),
            tls,
            ssh_failure: Arc::default(),
        })
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// How the last failed `ssh` ended, waiting a moment for it to exit (a closed stream is seen
    /// before the process is reaped).
    pub async fn ssh_failure(&self) -> Option<String> {
        if !matches!(*self.endpoint, Endpoint::Ssh { .. }) {
            return None;
        }
        for _ in 0..40 {
            if let Some(f) = self.ssh_failure.lock().expect("not poisoned").clone() {
                return Some(f);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        None
    }

    async fn open(self) -> Result<Stream, io::Error> {
        match &*self.endpoint {
            Endpoint::Unix(path) => Ok(Stream::Unix(UnixStream::connect(path).await?)),
            Endpoint::Tcp { host, port, .. } => {
                let connect = async {
                    let tcp = TcpStream::connect((host.as_str(), *port)).await?;
                    tcp.set_nodelay(true)?;
                    match &self.tls {
                        None => Ok(Stream::Tcp(tcp)),
                        Some((config, name)) => {
                            let tls = tokio_rustls::TlsConnector::from(config.clone())
                                .connect(name.clone(), tcp)
                                .await
                                .map_err(|e| {
                                    io::Error::new(
                                        e.kind(),
                                        format!("TLS handshake failed: {}", innermost(&e)),
                                    )
                                })?;
                            Ok(Stream::Tls(Box::new(tls)))
                        }
                    }
                };
                tokio::time::timeout(CONNECT_TIMEOUT, connect)
                    .await
                    .map_err(|_| {
                        io::Error::new(
                            io::ErrorKind::TimedOut,
                            format!("no connection within {CONNECT_TIMEOUT:?}"),
                        )
                    })?
            }
            Endpoint::Ssh { user, host, port } => self.spawn_ssh(user.as_deref(), host, *port),
        }
    }

    /// `ssh [-l USER] [-p PORT] -- HOST docker system dial-stdio`, the docker CLI's own way:
    /// dial-stdio on the remote side connects its stdin/stdout to that host's daemon.
    fn spawn_ssh(&self, user: Option<&str>, host: &str, port: Option<u16>) -> io::Result<Stream> {
        let mut cmd = Command::new("ssh");
        cmd.args(["-o", "ConnectTimeout=30", "-T"]);
        if let Some(u) = user {
            cmd.args(["-l", u]);
        }
        if let Some(p) = port {
            cmd.args(["-p", &p.to_string()]);
        }
        cmd.args(["--", host, "docker", "system", "dial-stdio"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd
            .spawn()
            .map_err(|e| io::Error::new(e.kind(), format!("cannot run ssh: {e}")))?;
        let stdin = child.stdin.take().expect("piped");
        let stdout = child.stdout.take().expect("piped");
        let mut stderr = child.stderr.take().expect("piped");
        let slot = self.ssh_failure.clone();
        tokio::spawn(async move {
            let mut err = Vec::new();
            let _ = (&mut stderr).take(16 << 10).read_to_end(&mut err).await;
            if let Ok(status) = child.wait().await {
                if !status.success() {
                    let text = String::from_utf8_lossy(&err).trim().to_owned();
                    *slot.lock().expect("not poisoned") = Some(format!(
                        "ssh exited with {status}{}",
                        if text.is_empty() {
                            String::new()
                        } else {
                            format!(": {text}")
                        }
                    ));
                }
            }
        });
        Ok(Stream::Ssh(stdout, stdin))
    }
}

/// The deepest error of a chain, as text.
fn innermost(e: &(dyn std::error::Error + 'static)) -> String {
    super::innermost_cause(e)
}

/// The rustls client configuration of `files`: the CA as the only roots (the CLI trusts only
/// `ca.pem` when it verifies), the client certificate when given.
fn tls_config(files: &TlsFiles) -> Result<rustls::ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let builder = if files.verify {
        // No CA given: the system's roots, as Go's crypto/tls (and so the CLI) does.
        let ca = match &files.ca {
            Some(ca) => ca.clone(),
            None => system_roots().ok_or(
                "TLS verification needs a CA certificate (--tlscacert or DOCKER_CERT_PATH/ca.pem), \
                 and no system CA bundle was found (SSL_CERT_FILE)",
            )?,
        };
        let mut roots = rustls::RootCertStore::empty();
        for cert in read_certs(&ca)? {
            roots
                .add(cert)
                .map_err(|e| format!("{}: {e}", ca.display()))?;
        }
        builder.with_root_certificates(roots)
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerify(provider)))
    };
    match (&files.cert, &files.key) {
        (Some(cert), Some(key)) => {
            let chain = read_certs(cert)?;
            let key = PrivateKeyDer::from_pem_file(key)
                .map_err(|e| format!("cannot read the TLS key {}: {e}", key.display()))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| format!("client certificate {}: {e}", cert.display()))
        }
        (None, None) => Ok(builder.with_no_client_auth()),
        _ => Err("a client certificate needs both --tlscert and --tlskey".into()),
    }
}

/// The system's CA bundle: `$SSL_CERT_FILE`, else the first of the distributions' usual files.
fn system_roots() -> Option<std::path::PathBuf> {
    if let Some(f) = std::env::var_os("SSL_CERT_FILE").filter(|f| !f.is_empty()) {
        return Some(f.into());
    }
    [
        "/etc/ssl/certs/ca-certificates.crt",
        "/etc/pki/tls/certs/ca-bundle.crt",
        "/etc/ssl/cert.pem",
    ]
    .into_iter()
    .map(std::path::PathBuf::from)
    .find(|p| p.exists())
}

fn read_certs(path: &std::path::Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("cannot read the certificate {}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("no certificate in {}", path.display()));
    }
    Ok(certs)
}

/// `--tls` without `--tlsverify`: encrypt, but accept any server certificate (the CLI's
/// `InsecureSkipVerify`). Signatures are still checked, so the handshake itself is sound.
#[derive(Debug)]
struct NoVerify(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: rustls_pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

impl tower_service::Service<hyper::Uri> for Connector {
    type Response = TokioIo<Stream>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<TokioIo<Stream>>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    /// The URI is ignored: one connector, one daemon.
    fn call(&mut self, _: hyper::Uri) -> Self::Future {
        let this = self.clone();
        Box::pin(async move { this.open().await.map(TokioIo::new) })
    }
}

/// A connection to a daemon, whatever carries it.
pub enum Stream {
    Unix(UnixStream),
    Tcp(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
    /// `ssh`'s stdout (read) and stdin (write).
    Ssh(ChildStdout, ChildStdin),
}

impl Connection for Stream {
    fn connected(&self) -> Connected {
        Connected::new()
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Unix(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            Stream::Ssh(out, _) => Pin::new(out).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Unix(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            Stream::Ssh(_, input) => Pin::new(input).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Unix(s) => Pin::new(s).poll_flush(cx),
            Stream::Tcp(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            Stream::Ssh(_, input) => Pin::new(input).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Unix(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            Stream::Ssh(_, input) => Pin::new(input).poll_shutdown(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_material_is_checked_before_any_connection() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "").unwrap();
        let with_ca = |ca: std::path::PathBuf| TlsFiles {
            verify: true,
            ca: Some(ca),
            ..TlsFiles::default()
        };
        let err = tls_config(&with_ca(empty.clone())).unwrap_err();
        assert!(err.contains("no certificate in"), "{err}");
        let err = tls_config(&with_ca(dir.path().join("nope.pem"))).unwrap_err();
        assert!(err.contains("cannot read the certificate"), "{err}");
        // No CA: the system's bundle, where the machine has one (Debian's ca-certificates).
        if system_roots().is_some() {
            let system = TlsFiles {
                verify: true,
                ..TlsFiles::default()
            };
            assert!(tls_config(&system).is_ok());
        }
        let err = tls_config(&TlsFiles {
            verify: false,
            cert: Some(empty.clone()),
            ..TlsFiles::default()
        })
        .unwrap_err();
        assert!(err.contains("both --tlscert and --tlskey"), "{err}");
    }
}
