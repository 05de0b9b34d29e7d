// The Go differential oracle for rootfs-guard (see README.md): standard library only, built by
// tests/go_oracle.rs with the system Go, offline.
module rootfs-guard/go-oracle

go 1.19
