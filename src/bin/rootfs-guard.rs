//! The `rootfs-guard` binary: parses the command line and hands over to the library.

fn main() -> std::process::ExitCode {
    rootfs_guard::cli::main()
}
