//! The decision for one AuthZ request: normalise it, run the rules that apply, apply the mode.
//!
//! This is the pure entry point the server, `rootfs-guard check`, the table tests and the fuzzer
//! all drive: AuthZ request in, [`Decision`] out, no I/O. Whatever cannot be verified is denied.

use serde::Serialize;

use crate::authz::policy::{Mode, Policy};
use crate::authz::request::RequestContext;
use crate::authz::route::{Endpoint, Route};
use crate::authz::rules::{Exemption, Outcome, RULES};
use crate::authz::wire::{AuthZRequest, AuthZResponse};
use std::time::SystemTime;

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
    /// That entry's id (given in the policy, or derived).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exception: Option<String>,
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
            exception: None,
            method: req.map(|r| r.request_method.clone()).unwrap_or_default(),
            path: req.map(|r| r.request_uri.clone()).unwrap_or_default(),
            user: req.map(|r| r.user.clone()).unwrap_or_default(),
            image: None,
            container_name: None,
            guarded: true,
        }
    }
}

/// Decides one `/AuthZPlugin.AuthZReq` at instant `now` (exceptions expire; the caller owns the
/// clock: the daemon's, or the one `check --now` and the tests set).
pub fn decide_at(policy: &Policy, req: &AuthZRequest, now: SystemTime) -> Decision {
    let route = match Route::parse(&req.request_method, &req.request_uri) {
        Ok(route) => route,
        Err(e) => return Decision::unreadable(policy, "request-uri", e.to_string(), Some(req)),
    };
    let ctx = RequestContext::new(req, route, now);

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
        exemption = Some(Exemption {
            description: format!("exempt user {}", req.user),
            exception_id: format!("user:{}", req.user),
        });
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
        exception: exemption
            .as_ref()
            .filter(|_| rule.is_none())
            .map(|e| e.exception_id.clone()),
        exemption: exemption.filter(|_| rule.is_none()).map(|e| e.description),
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
    use crate::authz::test_support::*;
    use base64::Engine as _;
    use std::collections::HashMap;

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

    #[test]
    fn an_expired_exception_exempts_nothing_and_says_so() {
        use crate::authz::exceptions::parse_instant;
        let policy = Policy::from_json(
            r#"{"allow_labels":[{"id":"legacy-billing","key":"rootfs-guard.allow-writable","value":"true","owner":"team-billing","expires":"2026-11-30"},{"key":"ci-writable","value":"1","expires":"2026-12-01T09:30:00+01:00"}]}"#,
            "p",
        )
        .unwrap();
        let billing =
            create(r#"{"Image":"billing","Labels":{"rootfs-guard.allow-writable":"true"}}"#);
        let at = |s: &str| decide_at(&policy, &billing, parse_instant(s).unwrap());
        let before = at("2026-11-30T23:59:59Z");
        assert!(before.allow);
        assert_eq!(before.exception.as_deref(), Some("legacy-billing"));
        for after in ["2026-12-01T00:00:00Z", "2026-12-02"] {
            let d = at(after);
            assert!(!d.allow, "{after}");
            assert_eq!(d.rule, Some("readonly-rootfs"));
            assert!(
                d.response().msg.starts_with(
                    "readonly-rootfs: exception `legacy-billing` expired on 2026-11-30; ask \
                     team-billing or renew it in the policy: container root filesystem must be \
                     read-only"
                ),
                "{}",
                d.response().msg
            );
            assert_eq!(d.exception, None);
        }
        // A date-time with an offset: 09:30+01:00 is 08:30 UTC; a derived id, no owner.
        let ci = create(r#"{"Image":"x","Labels":{"ci-writable":"1"}}"#);
        let at = |s: &str| decide_at(&policy, &ci, parse_instant(s).unwrap());
        assert!(at("2026-12-01T08:29:59Z").allow);
        let d = at("2026-12-01T08:30:00Z");
        assert!(!d.allow);
        let msg = d.message.unwrap();
        assert!(msg.starts_with("exception `ci-writable=1#"), "{msg}");
        assert!(
            msg.contains("expired on 2026-12-01T08:30:00Z; renew it in the policy"),
            "{msg}"
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
