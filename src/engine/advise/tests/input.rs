//! Reading the input: inspect data and the changes API body.

use super::*;

#[test]
fn from_inspect_reads_what_the_command_needs() {
    let (container, image) = full_inspect();
    let c = ContainerConfig::from_inspect(&container, Some(&image)).unwrap();
    assert_eq!(c.name.as_deref(), Some("web"));
    assert_eq!(c.entrypoint, Some(vec!["/bin/sh".into(), "-e".into()]));
    assert_eq!(c.cmd, Some(vec!["-c".into(), "echo it's $HOME".into()]));
    assert_eq!(c.user.as_deref(), Some("1000:1000"));
    assert_eq!(c.working_dir.as_deref(), Some("/srv/app"));
    assert_eq!(
        c.env_keys,
        ["DB_PASSWORD", "API_TOKEN", "EMPTY", "NOEQUALS"]
    );
    assert_eq!(
        c.ports,
        ["8443:443", "[::1]:8443:443", "53/udp", "127.0.0.1:8080:80"]
    );
    assert_eq!(c.expose, ["9000/tcp"]);
    assert_eq!(c.restart.as_deref(), Some("on-failure:3"));
    assert_eq!(c.network.as_deref(), Some("appnet"));
    assert!(c.detach && c.interactive && c.tty && !c.auto_remove && !c.read_only && c.started);
    assert!(!c.labels.contains_key("maintainer"), "image label");
    assert_eq!(c.labels["team"], "web");
    assert_eq!(c.image_volumes, ["/var/cache/nginx"]);
    let dests: Vec<&str> = c.mounts.iter().map(|m| m.destination.as_str()).collect();
    assert_eq!(
        dests,
        [
            "/data",
            "/etc/nginx/conf.d",
            "/logs",
            "/run",
            "/scratch",
            "/t2",
            "/var/cache/nginx"
        ]
    );
    assert!(c.mounts[4].anonymous && c.mounts[6].anonymous && !c.mounts[0].anonymous);

    // Same entrypoint and command as the image: neither is repeated.
    let mut plain = container.clone();
    plain["Config"]["Entrypoint"] = json!(["/docker-entrypoint.sh"]);
    plain["Config"]["Cmd"] = json!(["nginx", "-g", "daemon off;"]);
    plain["Config"]["User"] = json!("");
    let c = ContainerConfig::from_inspect(&plain, Some(&image)).unwrap();
    assert_eq!((c.entrypoint, c.cmd, c.user), (None, None, None));
    // Another command only.
    plain["Config"]["Cmd"] = json!(["nginx", "-T"]);
    let c = ContainerConfig::from_inspect(&plain, Some(&image)).unwrap();
    assert_eq!(c.entrypoint, None);
    assert_eq!(c.cmd, Some(vec!["nginx".into(), "-T".into()]));
    // Entrypoint cleared.
    plain["Config"]["Entrypoint"] = Value::Null;
    let c = ContainerConfig::from_inspect(&plain, Some(&image)).unwrap();
    assert_eq!(c.entrypoint, Some(vec![]));
    // Without the image's config everything the container has is stated.
    let c = ContainerConfig::from_inspect(&container, None).unwrap();
    assert_eq!(
        c.env_keys,
        [
            "PATH",
            "NGINX_VERSION",
            "DB_PASSWORD",
            "API_TOKEN",
            "EMPTY",
            "NOEQUALS"
        ]
    );
    assert!(c.labels.contains_key("maintainer"));
    assert!(ContainerConfig::from_inspect(&json!({"Config": {}}), None).is_err());
}

#[test]
fn parse_changes_api_body() {
    assert_eq!(parse_changes(&Value::Null).unwrap(), []);
    let v = json!([{"Path": "/tmp", "Kind": 0}, {"Path": "/tmp//a/", "Kind": 1}, {"Path": "/x", "Kind": 2}]);
    assert_eq!(
        parse_changes(&v).unwrap(),
        ch(&[("/tmp", C), ("/tmp/a", A), ("/x", D)])
    );
    assert!(parse_changes(&json!([{"Path": "/x", "Kind": 7}])).is_err());
    assert!(parse_changes(&json!([{"Kind": 1}])).is_err());
    assert!(parse_changes(&json!({})).is_err());
}
