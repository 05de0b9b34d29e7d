//! Which dockerd API endpoint a `RequestUri` reaches, decided the way dockerd's router decides it.
//!
//! dockerd parses the raw request target with Go's `net/url` (absolute-form allowed, query split
//! off, path percent-decoded), cleans it as gorilla/mux does, matches routes registered both with
//! and without a `/v{[0-9.]+}` version prefix, and compares methods case-sensitively. A plugin that
//! matched the raw string would miss `/v1.41/containers%2Fcreate` or `/%63ontainers/create`.

use percent_encoding::percent_decode_str;

/// The endpoints rules care about; everything else is [`Endpoint::Other`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    ContainerCreate,
    ContainerStart {
        container: String,
    },
    ContainerExec {
        container: String,
    },
    ServiceCreate,
    ServiceUpdate {
        service: String,
    },
    SwarmJoin,
    /// `POST /build`: the classic builder, or BuildKit with `version=2`.
    Build,
    /// `POST /volumes/create`.
    VolumeCreate,
    /// `POST /plugins/create|pull`: installs a plugin.
    PluginInstall,
    /// `POST /plugins/{name}/{action}` and `DELETE /plugins/{name}`.
    PluginManage {
        plugin: String,
        action: String,
    },
    Other,
}

/// A request target after dockerd's normalisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub method: String,
    /// Decoded, cleaned path without the version prefix.
    pub path: String,
    /// The `/vX.Y` prefix, if any (`None` means dockerd's default, the current API version).
    pub api_version: Option<String>,
    /// Raw query string (still encoded).
    pub query: String,
    pub endpoint: Endpoint,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    #[error("RequestUri has an invalid percent-escape")]
    BadEscape,
    #[error("RequestUri path is not UTF-8 after decoding")]
    NotUtf8,
}

impl Route {
    /// Normalises `method` + raw `RequestUri` and resolves the endpoint.
    pub fn parse(method: &str, request_uri: &str) -> Result<Route, RouteError> {
        let (raw_path, query) = split_target(request_uri);
        let decoded = decode_path(raw_path)?;
        let path = clean_path(&decoded);
        let (api_version, path) = strip_version(&path);
        let endpoint = endpoint(method, path);
        Ok(Route {
            method: method.to_owned(),
            path: path.to_owned(),
            api_version: api_version.map(str::to_owned),
            query: query.to_owned(),
            endpoint,
        })
    }

    /// First value of a query parameter, decoded as Go's `url.ParseQuery` does.
    pub fn query_param(&self, name: &str) -> Option<String> {
        form_urlencoded::parse(self.query.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }

    /// Whether the API version is known to be at least `major.minor` (no prefix: the current
    /// version, which is newer than anything we compare against).
    pub fn api_version_at_least(&self, major: u64, minor: u64) -> bool {
        match &self.api_version {
            None => true,
            Some(v) => compare_version(v, &[major, minor]) != std::cmp::Ordering::Less,
        }
    }
}

/// Splits the request target into (path, query), accepting absolute-form `scheme://host/path`.
fn split_target(target: &str) -> (&str, &str) {
    let (before_query, query) = target.split_once('?').unwrap_or((target, ""));
    let path = if before_query.starts_with('/') {
        before_query
    } else if let Some((scheme, rest)) = before_query.split_once(':') {
        let is_scheme = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
        match rest.strip_prefix("//") {
            Some(authority_and_path) if is_scheme => authority_and_path
                .find('/')
                .map_or("", |i| &authority_and_path[i..]),
            _ => "",
        }
    } else {
        before_query
    };
    (path, query)
}

/// Go's path unescaping: every `%` must start a two-hex-digit escape; `+` stays `+`.
fn decode_path(raw: &str) -> Result<String, RouteError> {
    let bytes = raw.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'%'
            && !(bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
        {
            return Err(RouteError::BadEscape);
        }
    }
    percent_decode_str(raw)
        .decode_utf8()
        .map(|c| c.into_owned())
        .map_err(|_| RouteError::NotUtf8)
}

/// gorilla/mux's `cleanPath`: Go's `path.Clean`, keeping a trailing slash. dockerd answers an
/// unclean path with a redirect, so deciding on the cleaned path can only be stricter.
fn clean_path(p: &str) -> String {
    let mut out = go_path_clean(p);
    if p.ends_with('/') && out != "/" {
        out.push('/');
    }
    out
}

/// Go's `path.Clean` of a path taken as absolute: no `//`, `.` or `..` (none above `/`), no
/// trailing slash. Also how dockerd cleans a bind mount's source.
pub fn go_path_clean(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    if parts.is_empty() {
        return "/".to_owned();
    }
    let mut out = String::with_capacity(p.len() + 1);
    for s in &parts {
        out.push('/');
        out.push_str(s);
    }
    out
}

/// Splits `/v{[0-9.]+}/rest` into (version, `/rest`).
fn strip_version(path: &str) -> (Option<&str>, &str) {
    if let Some(after_v) = path.strip_prefix("/v") {
        let end = after_v
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(after_v.len());
        if end > 0 && after_v[end..].starts_with('/') {
            return (Some(&after_v[..end]), &after_v[end..]);
        }
    }
    (None, path)
}

/// Compares a dockerd API version string with `other` per component, as dockerd's `versions`
/// package does (missing or non-numeric components count as 0).
fn compare_version(v: &str, other: &[u64]) -> std::cmp::Ordering {
    let parts: Vec<u64> = v.split('.').map(|p| p.parse().unwrap_or(0)).collect();
    let len = parts.len().max(other.len());
    for i in 0..len {
        let a = parts.get(i).copied().unwrap_or(0);
        let b = other.get(i).copied().unwrap_or(0);
        if a != b {
            return a.cmp(&b);
        }
    }
    std::cmp::Ordering::Equal
}

/// `/prefix/{name:.*}/suffix` as mux matches it (`.` does not match a newline).
fn middle<'a>(path: &'a str, prefix: &str, suffix: &str) -> Option<&'a str> {
    let name = path.strip_prefix(prefix)?.strip_suffix(suffix)?;
    (!name.contains('\n')).then_some(name)
}

fn endpoint(method: &str, path: &str) -> Endpoint {
    match (method, path) {
        ("POST", "/containers/create") => Endpoint::ContainerCreate,
        ("POST", "/services/create") => Endpoint::ServiceCreate,
        ("POST", "/swarm/join") => Endpoint::SwarmJoin,
        ("POST", "/build") => Endpoint::Build,
        ("POST", "/volumes/create") => Endpoint::VolumeCreate,
        ("POST", "/plugins/create" | "/plugins/pull") => Endpoint::PluginInstall,
        ("POST", p) => {
            if let Some(c) = middle(p, "/containers/", "/start") {
                Endpoint::ContainerStart {
                    container: c.into(),
                }
            } else if let Some(c) = middle(p, "/containers/", "/exec") {
                Endpoint::ContainerExec {
                    container: c.into(),
                }
            } else if let Some(s) = middle(p, "/services/", "/update") {
                Endpoint::ServiceUpdate { service: s.into() }
            } else if let Some(rest) = p.strip_prefix("/plugins/") {
                match rest.rsplit_once('/') {
                    Some((plugin, action)) if !plugin.is_empty() => Endpoint::PluginManage {
                        plugin: plugin.into(),
                        action: action.into(),
                    },
                    _ => Endpoint::Other,
                }
            } else {
                Endpoint::Other
            }
        }
        ("DELETE", p) => match p.strip_prefix("/plugins/") {
            Some(plugin) if !plugin.is_empty() => Endpoint::PluginManage {
                plugin: plugin.into(),
                action: "remove".into(),
            },
            _ => Endpoint::Other,
        },
        _ => Endpoint::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(method: &str, uri: &str) -> Endpoint {
        Route::parse(method, uri).unwrap().endpoint
    }

    #[test]
    fn container_create_in_every_spelling_dockerd_routes() {
        for uri in [
            "/containers/create",
            "/v1.41/containers/create",
            "/v1.41/containers/create?name=x",
            "/v1.12/containers/create",
            "/v1.041/containers/create",
            "/v1.41.0/containers/create",
            // dockerd 29.x accepts API versions up to 1.55 (29.7.2): a prefix like any other.
            "/v1.55/containers/create",
            "/v1.99/containers/create",
            "/v1.41/containers%2Fcreate",
            "/v1.41/%63ontainers/create",
            "/v1.41/containers/%63%72%65%61%74%65",
            "http://anything/v1.41/containers/create",
            "HTTP://x:2375/containers/create?a=b",
            "/v1.41//containers/create", // mux would redirect; deciding on it is stricter
            "/v1.41/./containers/create",
            "/v1.41/x/../containers/create",
            "/%2Fv1.41/containers/create",
        ] {
            assert_eq!(ep("POST", uri), Endpoint::ContainerCreate, "{uri}");
        }
    }

    #[test]
    fn not_container_create() {
        for (method, uri) in [
            ("GET", "/v1.41/containers/create"),
            ("post", "/v1.41/containers/create"), // mux methods are case-sensitive: 405
            ("POST", "/v1.41/Containers/create"),
            ("POST", "/v1.41/containers/create/"), // 404 in dockerd
            ("POST", "/vv1.41/containers/create"),
            ("POST", "/v/containers/create"),
            ("POST", "/v1.41/v1.41/containers/create"),
            ("POST", "/v1.41/containers/createx"),
        ] {
            assert_ne!(ep(method, uri), Endpoint::ContainerCreate, "{method} {uri}");
        }
    }

    #[test]
    fn start_exec_services_plugins() {
        assert_eq!(
            ep("POST", "/v1.23/containers/abc/start"),
            Endpoint::ContainerStart {
                container: "abc".into()
            }
        );
        assert_eq!(
            ep("POST", "/containers/a%2Fb/start"),
            Endpoint::ContainerStart {
                container: "a/b".into()
            }
        );
        assert_eq!(
            ep("POST", "/v1.41/containers/c2/exec"),
            Endpoint::ContainerExec {
                container: "c2".into()
            }
        );
        assert_eq!(
            ep("POST", "/v1.41/services/lvq/update?version=11"),
            Endpoint::ServiceUpdate {
                service: "lvq".into()
            }
        );
        assert_eq!(
            ep("POST", "/v1.41/services/create"),
            Endpoint::ServiceCreate
        );
        assert_eq!(ep("POST", "/v1.41/swarm/join"), Endpoint::SwarmJoin);
        assert_eq!(
            ep("POST", "/v1.41/plugins/pull?remote=x"),
            Endpoint::PluginInstall
        );
        assert_eq!(
            ep("POST", "/v1.41/plugins/rootfs-guard:latest/disable"),
            Endpoint::PluginManage {
                plugin: "rootfs-guard:latest".into(),
                action: "disable".into()
            }
        );
        assert_eq!(
            ep("DELETE", "/v1.41/plugins/abc?force=1"),
            Endpoint::PluginManage {
                plugin: "abc".into(),
                action: "remove".into()
            }
        );
        assert_eq!(ep("GET", "/v1.41/containers/json?all=1"), Endpoint::Other);
        assert_eq!(ep("HEAD", "/_ping"), Endpoint::Other);
    }

    #[test]
    fn versions_and_queries() {
        let r = Route::parse("POST", "/v1.23/containers/x/start").unwrap();
        assert_eq!(r.api_version.as_deref(), Some("1.23"));
        assert!(!r.api_version_at_least(1, 24));
        for (v, at_least) in [
            ("1.24", true),
            ("1.023", false),
            ("1.23.9", false),
            ("1.24.0", true),
            ("2", true),
            ("1", false),
            (".", false),
            ("1.41", true),
        ] {
            let r = Route::parse("POST", &format!("/v{v}/containers/x/start")).unwrap();
            assert_eq!(r.api_version_at_least(1, 24), at_least, "{v}");
        }
        assert!(Route::parse("POST", "/containers/x/start")
            .unwrap()
            .api_version_at_least(1, 24));
        let r = Route::parse("POST", "/v1.41/containers/create?name=a%20b&name=c").unwrap();
        assert_eq!(r.query_param("name").as_deref(), Some("a b"));
    }

    #[test]
    fn malformed_escapes_are_errors() {
        assert_eq!(
            Route::parse("POST", "/containers%2/create"),
            Err(RouteError::BadEscape)
        );
        assert_eq!(
            Route::parse("POST", "/containers/create%"),
            Err(RouteError::BadEscape)
        );
        assert_eq!(
            Route::parse("POST", "/containers/%ff/start"),
            Err(RouteError::NotUtf8)
        );
    }

    #[test]
    fn clean_path_matches_go() {
        for (input, want) in [
            ("", "/"),
            ("/", "/"),
            ("//", "/"),
            ("/a//b", "/a/b"),
            ("/a/./b/", "/a/b/"),
            ("/a/../../b", "/b"),
            ("/..", "/"),
            ("/a/b/..", "/a"),
        ] {
            assert_eq!(clean_path(input), want, "{input:?}");
        }
    }
}
