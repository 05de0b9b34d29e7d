//! The decision for one AuthZ request: normalise it, run the rules that apply, apply the mode.
//!
//! This is the pure entry point the server, `rootfs-guard check`, the table tests and the fuzzer
//! all drive: AuthZ request in, [`Decision`] out, no I/O. Whatever cannot be verified is denied.

use serde::Serialize;

use crate::authz::policy::{Mode, Policy};
use crate::authz::request::RequestContext;
use crate::authz::route::{Endpoint, Route};
use crate::authz::rules::{Outcome, RULES};
use crate::authz::wire::{AuthZRequest, AuthZResponse};

/// What happens to the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Allow,
    Deny,
    /// A rule would deny, but the policy is in audit mode: allowed and reported.
    AuditDeny,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Allow => "allow",
            Verdict::Deny => "deny",
            Verdict::AuditDeny => "audit-deny",
        }
    }
}

/// A decision and what it was about (for the answer to dockerd, logs and `check` output).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub allow: bool,
    pub verdict: Verdict,
    /// The rule that denied (or would deny) the request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<&'static str>,
    /// Why, and what to do instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The allowlist entry that exempted a non-compliant request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exemption: Option<String>,
    pub method: String,
    /// Normalised path (decoded, without version prefix); the raw URI if it could not be parsed.
    pub path: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub user: String,
    /// Image of a container create, when the body could be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// `?name=` of a container create.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_name: Option<String>,
    /// Whether a rule looked at this request (creates, starts, ...): such decisions are logged.
    #[serde(skip)]
    pub guarded: bool,
}

impl Decision {
    /// The answer dockerd reads. Denials carry `rule: message`.
    pub fn response(&self) -> AuthZResponse {
        let msg = match (self.allow, self.rule, &self.message) {
            (false, Some(rule), Some(message)) => format!("{rule}: {message}"),
            _ => String::new(),
        };
        AuthZResponse {
            allow: self.allow,
            msg,
            err: String::new(),
        }
    }

    fn verdict(policy: &Policy, denied: bool) -> (bool, Verdict) {
        match (denied, policy.mode) {
            (false, _) => (true, Verdict::Allow),
            (true, Mode::Enforce) => (false, Verdict::Deny),
            (true, Mode::Audit) => (true, Verdict::AuditDeny),
        }
    }

    /// A denial for a request that could not even be read (bad AuthZ JSON or RequestUri).
    pub fn unreadable(
        policy: &Policy,
        rule: &'static str,
        message: String,
        req: Option<&AuthZRequest>,
    ) -> Decision {
        let (allow, verdict) = Self::verdict(policy, true);
        Decision {
            allow,
            verdict,
            rule: Some(rule),
            message: Some(message),
            exemption: None,
            method: req.map(|r| r.request_method.clone()).unwrap_or_default(),
            path: req.map(|r| r.request_uri.clone()).unwrap_or_default(),
            user: req.map(|r| r.user.clone()).unwrap_or_default(),
            image: None,
            container_name: None,
            guarded: true,
        }
    }
}

/// Decides one `/AuthZPlugin.AuthZReq`.
pub fn decide(policy: &Policy, req: &AuthZRequest) -> Decision {
    let route = match Route::parse(&req.request_method, &req.request_uri) {
        Ok(route) => route,
        Err(e) => return Decision::unreadable(policy, "request-uri", e.to_string(), Some(req)),
    };
    let ctx = RequestContext::new(req, route);

    let mut guarded = false;
    let mut exemption = None;
    let mut denial = None;
    for rule in RULES
        .iter()
        .filter(|r| r.applies_to(&ctx.route.endpoint, policy))
    {
        guarded = true;
        match rule.check(&ctx, policy) {
            Outcome::Pass => {}
            Outcome::Exempt(entry) => exemption = Some(entry),
            Outcome::Deny { rule, message } => {
                denial = Some((rule, message));
                break;
            }
        }
    }
    if denial.is_some() && policy.is_exempt_user(&req.user) {
        denial = None;
        exemption = Some(format!("exempt user {}", req.user));
    }

    let (allow, verdict) = Decision::verdict(policy, denial.is_some());
    let (rule, message) = denial.map_or((None, None), |(r, m)| (Some(r), Some(m)));
    let (image, container_name) = match ctx.route.endpoint {
        Endpoint::ContainerCreate => (
            ctx.create_body().ok().map(|b| b.image().to_owned()),
            ctx.route.query_param("name"),
        ),
        _ => (None, None),
    };
    Decision {
        allow,
        verdict,
        rule,
        message,
        // An exemption only matters when nothing else denied.
        exemption: if rule.is_none() { exemption } else { None },
        method: ctx.route.method.clone(),
        path: ctx.route.path.clone(),
        user: req.user.clone(),
        image,
        container_name,
        guarded,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use std::collections::HashMap;

    fn create(body: &str) -> AuthZRequest {
        request(
            "POST",
            "/v1.41/containers/create?name=web",
            Some(body),
            true,
        )
    }

    fn request(method: &str, uri: &str, body: Option<&str>, content_length: bool) -> AuthZRequest {
        let mut headers = HashMap::new();
        if let Some(b) = body {
            headers.insert("Content-Type".to_string(), "application/json".to_string());
            if content_length {
                headers.insert("Content-Length".to_string(), b.len().to_string());
            }
        }
        AuthZRequest {
            request_method: method.into(),
            request_uri: uri.into(),
            request_body: body
                .filter(|b| !b.is_empty())
                .map(|b| base64::engine::general_purpose::STANDARD.encode(b).into()),
            request_headers: Some(headers),
            ..Default::default()
        }
    }

    fn verdict(req: &AuthZRequest) -> (bool, Option<&'static str>) {
        let d = decide(&Policy::default(), req);
        (d.allow, d.rule)
    }

    #[test]
    fn create_decisions() {
        // (body, allowed)
        let cases = [
            (
                r#"{"Image":"bb","HostConfig":{"ReadonlyRootfs":true}}"#,
                true,
            ),
            (
                r#"{"image":"bb","cmd":["sh"],"hostconfig":{"readonlyrootfs":true}}"#,
                true,
            ),
            (r#"{"Image":"bb"}"#, false),
            (
                r#"{"Image":"bb","HostConfig":{"ReadonlyRootfs":false}}"#,
                false,
            ),
            (
                r#"{"HostConfig":{"ReadonlyRootfs":true},"hostconfig":{"readonlyrootfs":false}}"#,
                false,
            ),
            (
                r#"{"HostConfig":{"ReadonlyRootfs":true},"HostConfig":null}"#,
                false,
            ),
            // Top-level only: read-only on 20.10-26.x but writable on 27+.
            (r#"{"Image":"bb","ReadonlyRootfs":true}"#, false),
            (
                r#"{"Image":"bb","Labels":{"rootfs-guard.allow-writable":"true"}}"#,
                true,
            ),
            (
                r#"{"Image":"bb","Labels":{"rootfs-guard.allow-writable":"true"},"labels":null}"#,
                false,
            ),
            (
                r#"{"Image":"bb","Labels":{"rootfs-guard.allow-writable":"TRUE"}}"#,
                false,
            ),
            // Repeated label keys: the last value is the one dockerd stores.
            (
                r#"{"Image":"bb","Labels":{"rootfs-guard.allow-writable":"true","rootfs-guard.allow-writable":"no"}}"#,
                false,
            ),
            (
                r#"{"Image":"bb","Labels":{"rootfs-guard.allow-writable":"no"},"LABELS":{"rootfs-guard.allow-writable":"true"}}"#,
                true,
            ),
            (
                r#"{"Image":"bb","HostConfig":{"Labels":{"rootfs-guard.allow-writable":"true"}}}"#,
                false,
            ),
            (r#"{"HostConfig":{"ReadonlyRootfs":"true"}}"#, false),
            (r#"{"HostConfig":{"ReadonlyRootfs":true}} trailing"#, false),
            (
                r#"{"HostConfig":{"ReadonlyRootfs":true}}{"HostConfig":{}}"#,
                false,
            ),
        ];
        for (body, allowed) in cases {
            let (allow, rule) = verdict(&create(body));
            assert_eq!(allow, allowed, "{body}");
            assert_eq!(rule.is_some(), !allowed, "{body}");
        }
    }

    #[test]
    fn create_without_a_verifiable_body_is_denied() {
        // dockerd withheld the body (>= 1 MiB or not JSON): it still creates the container.
        let mut withheld = create("");
        withheld.request_headers =
            Some(HashMap::from([("Content-Length".into(), "2000000".into())]));
        assert_eq!(verdict(&withheld), (false, Some("readonly-rootfs")));
        assert!(!verdict(&request("POST", "/containers/create", None, false)).0);
        // Content-Length disagreeing with the forwarded bytes.
        let mut mismatch = create(r#"{"HostConfig":{"ReadonlyRootfs":true}}"#);
        mismatch
            .request_headers
            .as_mut()
            .unwrap()
            .insert("Content-Length".into(), "9999".into());
        assert!(!verdict(&mismatch).0);
        // Invalid UTF-8 in the body.
        let mut bad = create("");
        bad.request_body = Some(
            base64::engine::general_purpose::STANDARD
                .encode(b"{\"HostConfig\":{\"ReadonlyRootfs\":true},\"Image\":\"\xff\"}")
                .into(),
        );
        bad.request_headers = None;
        assert!(!verdict(&bad).0);
    }

    #[test]
    fn encoded_paths_are_still_creates() {
        for uri in [
            "/v1.41/containers%2Fcreate",
            "/v1.41/%63ontainers/create",
            "http://h/containers/create",
        ] {
            let req = request("POST", uri, Some(r#"{"Image":"bb"}"#), true);
            assert_eq!(verdict(&req), (false, Some("readonly-rootfs")), "{uri}");
        }
        let req = request("POST", "/containers%zz/create", Some("{}"), true);
        assert_eq!(verdict(&req), (false, Some("request-uri")));
    }

    #[test]
    fn start_with_a_body_is_denied() {
        let with_cl0 = request("POST", "/v1.41/containers/c2/start", Some(""), false);
        let mut with_cl0 = with_cl0;
        with_cl0.request_headers = Some(HashMap::from([("Content-Length".into(), "0".into())]));
        assert_eq!(verdict(&with_cl0), (true, None));
        let body = request(
            "POST",
            "/v1.23/containers/c2/start",
            Some(r#"{"ReadonlyRootfs":false}"#),
            true,
        );
        assert_eq!(verdict(&body), (false, Some("start-hostconfig")));
        // Chunked: no Content-Length, body withheld or not; below 1.24 dockerd would apply it.
        let chunked = request("POST", "/v1.23/containers/c2/start", None, false);
        assert_eq!(verdict(&chunked), (false, Some("start-hostconfig")));
        // From 1.24 (and without a version prefix) dockerd rejects chunked start bodies itself:
        // a body-less start without Content-Length (curl -X POST) passes.
        for uri in [
            "/v1.24/containers/c2/start",
            "/containers/c2/start",
            "/v1.41/containers/c2/start",
        ] {
            assert_eq!(
                verdict(&request("POST", uri, None, false)),
                (true, None),
                "{uri}"
            );
        }
        // A visible body is refused at every version.
        let body = request("POST", "/v1.41/containers/c2/start", Some("{}"), true);
        assert_eq!(verdict(&body), (false, Some("start-hostconfig")));
        let chunked_body = request("POST", "/v1.41/containers/c2/start", Some("{}"), false);
        assert_eq!(verdict(&chunked_body), (false, Some("start-hostconfig")));
    }

    #[test]
    fn everything_else_is_allowed() {
        for (m, uri) in [
            ("GET", "/v1.41/containers/json?all=1"),
            ("HEAD", "/_ping"),
            ("DELETE", "/v1.41/containers/c1?force=1"),
        ] {
            let d = decide(&Policy::default(), &request(m, uri, None, false));
            assert!(d.allow && !d.guarded, "{m} {uri}");
        }
    }

    #[test]
    fn audit_mode_allows_and_reports() {
        let policy = Policy {
            mode: Mode::Audit,
            ..Policy::default()
        };
        let d = decide(&policy, &create(r#"{"Image":"bb"}"#));
        assert!(d.allow);
        assert_eq!(d.verdict, Verdict::AuditDeny);
        assert_eq!(d.rule, Some("readonly-rootfs"));
        assert_eq!(d.response().msg, "");
    }

    #[test]
    fn deny_message_names_rule_and_remedy_and_is_short() {
        let d = decide(&Policy::default(), &create(r#"{"Image":"bb"}"#));
        let msg = d.response().msg;
        assert!(msg.starts_with("readonly-rootfs: "), "{msg}");
        assert!(
            msg.contains("--read-only") && msg.contains("--tmpfs /tmp"),
            "{msg}"
        );
        assert!(msg.contains("rootfs-guard.allow-writable=true"), "{msg}");
        assert!(msg.len() < 300, "{}", msg.len());
        assert_eq!(d.image.as_deref(), Some("bb"));
        assert_eq!(d.container_name.as_deref(), Some("web"));
    }

    #[test]
    fn exemption_is_reported() {
        let d = decide(
            &Policy::default(),
            &create(r#"{"Image":"bb","Labels":{"rootfs-guard.allow-writable":"true"}}"#),
        );
        assert!(d.allow);
        assert_eq!(
            d.exemption.as_deref(),
            Some("label rootfs-guard.allow-writable=true")
        );
    }

    /// A request recorded from dockerd, compiled in (the core does no file I/O, tests included).
    macro_rules! fixture_request {
        ($name:literal $(,)?) => {
            serde_json::from_str::<AuthZRequest>(include_str!(concat!(
                "../../tests/fixtures/authz/",
                $name
            )))
            .unwrap()
        };
    }

    #[test]
    fn remountable_read_only_creates_are_denied() {
        let cases = [
            (
                r#"{"HostConfig":{"ReadonlyRootfs":true,"Privileged":true}}"#,
                Some("remount"),
            ),
            (
                r#"{"HostConfig":{"ReadonlyRootfs":true,"CapAdd":["NET_ADMIN","sys_admin"]}}"#,
                Some("remount"),
            ),
            (
                r#"{"HostConfig":{"ReadonlyRootfs":true,"CapAdd":"CAP_SYS_ADMIN"}}"#,
                Some("remount"),
            ),
            (
                r#"{"HostConfig":{"ReadonlyRootfs":true,"capadd":["all"]}}"#,
                Some("remount"),
            ),
            (
                r#"{"HostConfig":{"ReadonlyRootfs":true,"CapAdd":["SYS_ADMIN"],"CapAdd":null}}"#,
                None,
            ),
            (
                r#"{"HostConfig":{"ReadonlyRootfs":true,"Privileged":true,"privileged":false}}"#,
                None,
            ),
            (
                r#"{"HostConfig":{"ReadonlyRootfs":true,"CapAdd":["NET_ADMIN"]}}"#,
                None,
            ),
            // Privileged at the top level counts under the readings that honour it.
            (
                r#"{"ReadonlyRootfs":true,"Privileged":true}"#,
                Some("remount"),
            ),
            // With the HostConfig key present, top-level fields are ignored by every version.
            (
                r#"{"Privileged":true,"HostConfig":{"ReadonlyRootfs":true}}"#,
                None,
            ),
            (
                r#"{"HostConfig":{"ReadonlyRootfs":true,"Privileged":true},"Labels":{"rootfs-guard.allow-writable":"true"}}"#,
                None,
            ),
        ];
        for (body, rule) in cases {
            assert_eq!(verdict(&create(body)), (rule.is_none(), rule), "{body}");
        }
        let mut no_remount = Policy::default();
        no_remount.rules.remount = false;
        let privileged = create(r#"{"HostConfig":{"ReadonlyRootfs":true,"Privileged":true}}"#);
        assert!(decide(&no_remount, &privileged).allow);
    }

    #[test]
    fn privileged_exec_is_denied() {
        let req = fixture_request!("cli-exec-privileged--02-req-POST-containers_NAME_exec.json");
        assert_eq!(verdict(&req), (false, Some("exec-privileged")));
        let mut off = Policy::default();
        off.rules.exec_privileged = false;
        assert!(decide(&off, &req).allow);
        let req = fixture_request!("cli-exec--02-req-POST-containers_NAME_exec.json");
        assert_eq!(verdict(&req), (true, None));
    }

    #[test]
    fn swarm_services_are_judged_on_their_spec() {
        // --read-only with the allow label: allowed.
        let req = fixture_request!("cli-service-create-readonly--02-req-POST-services_create.json");
        assert_eq!(verdict(&req), (true, None));
        // --read-only=false, still labelled writable: exempt.
        let req = fixture_request!(
            "cli-service-update--02-req-POST-services_lvqi5kw99cgzzo0rcugoh1xoe_update.json",
        );
        let d = decide(&Policy::default(), &req);
        assert!(d.allow && d.exemption.is_some(), "{d:?}");

        let service = |body: &str, uri: &str| request("POST", uri, Some(body), true);
        let writable = r#"{"Name":"s","TaskTemplate":{"ContainerSpec":{"Image":"bb"}}}"#;
        let ro = r#"{"TaskTemplate":{"ContainerSpec":{"Image":"bb","ReadOnly":true}}}"#;
        let cases = [
            (writable, "/v1.41/services/create", Some("readonly-rootfs")),
            (
                writable,
                "/v1.41/services/abc/update?version=3",
                Some("readonly-rootfs"),
            ),
            (ro, "/services/create", None),
            (
                r#"{"TaskTemplate":{"ContainerSpec":{"ReadOnly":true,"CapabilityAdd":["CAP_SYS_ADMIN"]}}}"#,
                "/services/create",
                Some("remount"),
            ),
            (
                r#"{"TaskTemplate":{"PluginSpec":{}}}"#,
                "/services/create",
                Some("swarm-service"),
            ),
            (
                r#"{"TaskTemplate":{"ContainerSpec":{"ReadOnly":true},"containerspec":{"readonly":false}}}"#,
                "/services/create",
                Some("readonly-rootfs"),
            ),
            (
                ro,
                "/v1.41/services/abc/update?version=3&rollback=previous",
                Some("service-rollback"),
            ),
        ];
        for (body, uri, rule) in cases {
            assert_eq!(
                verdict(&service(body, uri)),
                (rule.is_none(), rule),
                "{uri} {body}"
            );
        }
        let mut allow_rollback = Policy::default();
        allow_rollback.rules.service_rollback = false;
        assert!(
            decide(
                &allow_rollback,
                &service(ro, "/services/abc/update?rollback=previous")
            )
            .allow
        );
        let mut no_swarm = Policy::default();
        no_swarm.rules.swarm_services = false;
        assert!(decide(&no_swarm, &service(writable, "/services/create")).allow);
    }

    #[test]
    fn swarm_join_is_denied_by_default() {
        let join = request(
            "POST",
            "/v1.41/swarm/join",
            Some(r#"{"RemoteAddrs":["10.0.0.1:2377"]}"#),
            true,
        );
        assert_eq!(verdict(&join), (false, Some("swarm-join")));
        let mut allow = Policy::default();
        allow.rules.swarm_join = false;
        assert!(decide(&allow, &join).allow);
        // Initialising a swarm here is fine: this host's own manager goes through the plugin.
        let init = fixture_request!("swarm-init--01-req-POST-swarm_init.json");
        assert_eq!(verdict(&init), (true, None));
    }

    #[test]
    fn plugin_management_is_for_admins_only() {
        let admin = Policy {
            admins: vec!["ops".into()],
            ..Policy::default()
        };
        for (m, uri) in [
            ("POST", "/v1.41/plugins/rootfs-guard:latest/disable"),
            ("POST", "/v1.41/plugins/abc123/disable?force=1"),
            ("POST", "/plugins/rootfs-guard/set"),
            ("POST", "/v1.41/plugins/rootfs-guard/upgrade?remote=x"),
            ("POST", "/v1.41/plugins/other/enable"),
            ("DELETE", "/v1.41/plugins/rootfs-guard:latest?force=1"),
            ("POST", "/v1.41/plugins/pull?remote=evil"),
            ("POST", "/v1.41/plugins/create?name=x"),
            ("POST", "/v1.41/plugins%2Frootfs-guard%2Fdisable"),
        ] {
            let mut req = request(m, uri, None, false);
            assert_eq!(verdict(&req), (false, Some("self-protection")), "{m} {uri}");
            assert!(!decide(&admin, &req).allow, "{m} {uri}");
            req.user = "ops".into();
            assert!(decide(&admin, &req).allow, "{m} {uri}");
        }
        assert_eq!(
            verdict(&request("GET", "/v1.41/plugins", None, false)),
            (true, None)
        );
    }

    #[test]
    fn exempt_users_and_scoped_labels() {
        let policy = Policy::from_json(
            r#"{"exempt_users":["root-ci"],"allow_labels":[{"key":"w","value":"1","users":["alice"],"images":["bb*"]}]}"#,
            "p",
        )
        .unwrap();
        let mut req = create(r#"{"Image":"bb","Labels":{"w":"1"}}"#);
        assert!(
            !decide(&policy, &req).allow,
            "no user: the entry is scoped to alice"
        );
        req.user = "alice".into();
        let d = decide(&policy, &req);
        assert!(d.allow);
        assert_eq!(d.exemption.as_deref(), Some("label w=1"));
        let mut other_image = create(r#"{"Image":"nginx","Labels":{"w":"1"}}"#);
        other_image.user = "alice".into();
        assert!(!decide(&policy, &other_image).allow);
        let mut ci = create(r#"{"Image":"nginx"}"#);
        ci.user = "root-ci".into();
        let d = decide(&policy, &ci);
        assert!(d.allow);
        assert_eq!(d.exemption.as_deref(), Some("exempt user root-ci"));
    }
}
