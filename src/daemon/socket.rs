//! The plugin socket: binding it safely, or taking the one systemd passed (socket activation).
//!
//! Shared by the plugin server and the metrics listener (a unix `--metrics-addr`), which is why
//! it lives apart from both.

use std::io;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::Path;

use tokio::net::UnixListener;

/// Default socket path: where dockerd looks for a plugin named `rootfs-guard`.
pub const DEFAULT_SOCKET: &str = "/run/docker/plugins/rootfs-guard.sock";

/// Binds the plugin socket: creates the parent directory, replaces a stale socket file (but
/// refuses to steal one another process is serving), and restricts it to mode 0660.
pub fn bind_socket(path: &Path) -> io::Result<UnixListener> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => {
            if std::os::unix::net::UnixStream::connect(path).is_ok() {
                return Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    format!(
                        "{} is already being served by another process",
                        path.display()
                    ),
                ));
            }
            std::fs::remove_file(path)?;
        }
        Ok(_) => {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{} exists and is not a socket", path.display()),
            ))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    // Created with the process umask (no group/other write with the usual 022), then narrowed.
    let listener = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))?;
    Ok(listener)
}

/// The listening socket systemd passed (socket activation: `LISTEN_PID`/`LISTEN_FDS`, fd 3).
pub fn systemd_listener() -> io::Result<Option<UnixListener>> {
    take_systemd_listener()?
        .map(UnixListener::from_std)
        .transpose()
}

/// Takes the listening socket systemd passed, as a std listener: `None` unless `LISTEN_PID` is this
/// process and `LISTEN_FDS` is set. Exactly one socket is expected, and it must be a listening
/// unix stream socket; anything else is an error (a second socket would never be served, and
/// dockerd would wait on it forever). Clears `LISTEN_*` from the environment, so call it before
/// any other thread is started (before the async runtime).
pub fn take_systemd_listener() -> io::Result<Option<std::os::unix::net::UnixListener>> {
    use std::os::fd::FromRawFd;
    let pid_matches = std::env::var("LISTEN_PID")
        .ok()
        .and_then(|p| p.parse::<u32>().ok())
        .is_some_and(|p| p == std::process::id());
    let fds = std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|n| n.parse::<u32>().ok())
        .unwrap_or(0);
    if !pid_matches || fds == 0 {
        return Ok(None);
    }
    std::env::remove_var("LISTEN_PID");
    std::env::remove_var("LISTEN_FDS");
    std::env::remove_var("LISTEN_FDNAMES");
    const SD_LISTEN_FDS_START: i32 = 3;
    if fds != 1 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("systemd passed {fds} sockets (LISTEN_FDS); the socket unit must have exactly one ListenStream"),
        ));
    }
    check_listening_unix_stream(SD_LISTEN_FDS_START)?;
    // SAFETY: fd 3 was checked to be an open listening socket, and systemd's protocol hands it to
    // this process to own.
    let std_listener =
        unsafe { std::os::unix::net::UnixListener::from_raw_fd(SD_LISTEN_FDS_START) };
    std_listener.set_nonblocking(true)?;
    // SAFETY: FD_CLOEXEC on our own fd.
    unsafe { libc::fcntl(SD_LISTEN_FDS_START, libc::F_SETFD, libc::FD_CLOEXEC) };
    Ok(Some(std_listener))
}

/// Fails unless `fd` is a listening `AF_UNIX` `SOCK_STREAM` socket.
fn check_listening_unix_stream(fd: i32) -> io::Result<()> {
    let not_usable = |what: &str| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("systemd-passed fd {fd} is {what}, not a listening unix stream socket (ListenStream=/path)"),
        )
    };
    let int_opt = |opt: libc::c_int| -> io::Result<libc::c_int> {
        let mut value: libc::c_int = 0;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: getsockopt writes at most `len` bytes into `value`.
        let rc = unsafe {
            libc::getsockopt(
                fd,
                libc::SOL_SOCKET,
                opt,
                (&mut value as *mut libc::c_int).cast(),
                &mut len,
            )
        };
        if rc == 0 {
            Ok(value)
        } else {
            Err(io::Error::last_os_error())
        }
    };
    match int_opt(libc::SO_DOMAIN) {
        Ok(libc::AF_UNIX) => {}
        Ok(_) => return Err(not_usable("a non-unix socket")),
        Err(e) if e.raw_os_error() == Some(libc::ENOTSOCK) => {
            return Err(not_usable("not a socket"))
        }
        Err(e) if e.raw_os_error() == Some(libc::EBADF) => return Err(not_usable("not open")),
        Err(e) => return Err(e),
    }
    if int_opt(libc::SO_TYPE)? != libc::SOCK_STREAM {
        return Err(not_usable("a non-stream unix socket"));
    }
    if int_opt(libc::SO_ACCEPTCONN)? == 0 {
        return Err(not_usable("a unix socket that is not listening"));
    }
    Ok(())
}
