//! One AuthZ request, normalised once and shared by every rule that looks at it.
//!
//! The route is resolved up front; the body is base64-decoded, checked against `Content-Length`
//! and decoded into the endpoint's dockerd type lazily, at most once, by whichever rule asks first.
//! A body that cannot be verified is an error the rules turn into a deny: dockerd before 29.3.1
//! withholds bodies of 1 MiB or more (and every version non-JSON ones) from plugins yet still
//! executes the request. A body that arrived complete is decided on its content whatever its
//! size (29.3.1+ forwards up to 4 MiB); the server's request limit bounds memory.

use std::cell::OnceCell;

use crate::authz::gojson::GoJsonError;
use crate::authz::model::{CreateBody, ExecConfig, ServiceSpec, VolumeCreate};
use crate::authz::route::Route;
use crate::authz::wire::AuthZRequest;

/// The body size from which dockerd before 29.3.1 withholds bodies from plugins.
pub const WITHHELD_FROM_BEFORE_29_3_1: u64 = 1 << 20;

/// Why a request body cannot be checked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    #[error("dockerd did not forward the request body but would still run the request: {0}")]
    Missing(Withheld),
    #[error("the request body is empty")]
    Empty,
    #[error("RequestBody is not valid base64")]
    NotBase64,
    #[error("Content-Length {header} does not match the {actual}-byte body dockerd forwarded")]
    LengthMismatch { header: String, actual: usize },
    #[error("the body would not be read by dockerd as it reads here: {0}")]
    Undecodable(String),
}

/// Why dockerd withheld a body, as far as the request shows it (the deny tells the user which
/// daemon behaviour caused it, so the remedy fits the daemon in hand).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Withheld {
    #[error("its Content-Length {0} is 1 MiB or more, which dockerd before 29.3.1 withholds from plugins: send a JSON body under 1 MiB")]
    TooLarge(u64),
    #[error("its Content-Type {0:?} is not application/json, and dockerd forwards only JSON bodies: send it as application/json")]
    NotJson(String),
    /// A chunked body shows no size: dockerd before 29.3.1 withholds one of 1 MiB or more
    /// (Debian's 20.10.24, which has the CVE-2024-41110 fix, seen), and one without that fix
    /// withholds every chunked body.
    #[error("it was sent chunked, and dockerd before 29.3.1 withholds a chunked body of 1 MiB or more (one without the CVE-2024-41110 fix, before 26.1.5 and 27.1.1, any chunked body): send a JSON body under 1 MiB with a Content-Length")]
    Chunked,
    #[error("send a JSON body with a Content-Length")]
    Unknown,
}

impl Withheld {
    /// What the request's headers say about why its body is missing.
    fn of(req: &AuthZRequest) -> Withheld {
        if let Some(ct) = req.header("Content-Type") {
            if media_type(ct) != "application/json" {
                return Withheld::NotJson(ct.chars().take(80).collect());
            }
        }
        match req
            .header("Content-Length")
            .map(|v| v.trim().parse::<u64>())
        {
            Some(Ok(n)) if n >= WITHHELD_FROM_BEFORE_29_3_1 => Withheld::TooLarge(n),
            None => Withheld::Chunked,
            _ => Withheld::Unknown,
        }
    }
}

/// The media type of a `Content-Type` value as Go's `mime.ParseMediaType` compares it: the part
/// before any `;`, trimmed, lower-cased.
pub fn media_type(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

impl From<GoJsonError> for BodyError {
    fn from(e: GoJsonError) -> Self {
        let mut msg = e.to_string();
        if msg.len() > 120 {
            let mut cut = 120;
            while !msg.is_char_boundary(cut) {
                cut -= 1;
            }
            msg.truncate(cut);
            msg.push('…');
        }
        BodyError::Undecodable(msg)
    }
}

/// A request under decision.
pub struct RequestContext<'a> {
    pub request: &'a AuthZRequest,
    pub route: Route,
    /// The instant the decision is made at (exception expiry).
    pub now: std::time::SystemTime,
    body: OnceCell<Result<Vec<u8>, BodyError>>,
    create: OnceCell<Result<CreateBody, BodyError>>,
    exec: OnceCell<Result<ExecConfig, BodyError>>,
    service: OnceCell<Result<ServiceSpec, BodyError>>,
    volume: OnceCell<Result<VolumeCreate, BodyError>>,
}

impl<'a> RequestContext<'a> {
    pub fn new(request: &'a AuthZRequest, route: Route, now: std::time::SystemTime) -> Self {
        RequestContext {
            request,
            route,
            now,
            body: OnceCell::new(),
            create: OnceCell::new(),
            exec: OnceCell::new(),
            service: OnceCell::new(),
            volume: OnceCell::new(),
        }
    }

    /// The body dockerd will hand to the endpoint's handler, verified complete.
    pub fn body(&self) -> Result<&[u8], &BodyError> {
        self.body
            .get_or_init(|| verified_body(self.request))
            .as_deref()
    }

    /// The `Content-Length` header, if the client sent one (absent means chunked or none).
    pub fn content_length(&self) -> Option<&str> {
        self.request.header("Content-Length")
    }

    /// Whether dockerd forwarded any body bytes at all.
    pub fn has_body_bytes(&self) -> bool {
        self.request
            .request_body
            .as_ref()
            .is_some_and(|b| !b.is_empty())
    }

    pub fn create_body(&self) -> Result<&CreateBody, &BodyError> {
        self.create
            .get_or_init(|| Ok(CreateBody::decode(self.body().map_err(Clone::clone)?)?))
            .as_ref()
    }

    pub fn exec_config(&self) -> Result<&ExecConfig, &BodyError> {
        self.exec
            .get_or_init(|| Ok(ExecConfig::decode(self.body().map_err(Clone::clone)?)?))
            .as_ref()
    }

    pub fn volume_create(&self) -> Result<&VolumeCreate, &BodyError> {
        self.volume
            .get_or_init(|| Ok(VolumeCreate::decode(self.body().map_err(Clone::clone)?)?))
            .as_ref()
    }

    pub fn service_spec(&self) -> Result<&ServiceSpec, &BodyError> {
        self.service
            .get_or_init(|| Ok(ServiceSpec::decode(self.body().map_err(Clone::clone)?)?))
            .as_ref()
    }
}

fn verified_body(req: &AuthZRequest) -> Result<Vec<u8>, BodyError> {
    let encoded = req
        .request_body
        .as_ref()
        .ok_or_else(|| BodyError::Missing(Withheld::of(req)))?
        .as_bytes();
    if encoded.is_empty() {
        return Err(match req.header("Content-Length") {
            Some("0") => BodyError::Empty,
            _ => BodyError::Missing(Withheld::of(req)),
        });
    }
    // SIMD decoding: the body is most of a create's bytes, and the base64 crate's scalar decoder
    // was a sixth of a decision's instructions (BENCHMARKS.md). Standard alphabet, padded: Go's
    // encoding of a []byte.
    let body = base64_simd::STANDARD
        .decode_to_vec(encoded)
        .map_err(|_| BodyError::NotBase64)?;
    if let Some(header) = req.header("Content-Length") {
        let declared: u64 = header
            .trim()
            .parse()
            .map_err(|_| BodyError::LengthMismatch {
                header: header.to_owned(),
                actual: body.len(),
            })?;
        if declared != body.len() as u64 {
            return Err(BodyError::LengthMismatch {
                header: header.to_owned(),
                actual: body.len(),
            });
        }
    }
    if body.is_empty() {
        return Err(BodyError::Empty);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn req(body: Option<&str>, cl: Option<&str>) -> AuthZRequest {
        AuthZRequest {
            request_method: "POST".into(),
            request_uri: "/containers/create".into(),
            request_body: body.map(|b| base64_simd::STANDARD.encode_to_string(b).into()),
            request_headers: cl
                .map(|v| HashMap::from([("Content-Length".to_string(), v.to_string())])),
            ..Default::default()
        }
    }

    fn body_of(r: &AuthZRequest) -> Result<Vec<u8>, BodyError> {
        verified_body(r)
    }

    #[test]
    fn body_checks() {
        assert_eq!(body_of(&req(Some("{}"), Some("2"))), Ok(b"{}".to_vec()));
        // Chunked (no Content-Length): dockerd forwards only complete bodies under 1 MiB.
        assert_eq!(body_of(&req(Some("{}"), None)), Ok(b"{}".to_vec()));
        // Withheld: the reason the message gives follows the request's headers.
        assert_eq!(
            body_of(&req(None, Some("2000000"))),
            Err(BodyError::Missing(Withheld::TooLarge(2_000_000)))
        );
        assert_eq!(
            body_of(&req(None, None)),
            Err(BodyError::Missing(Withheld::Chunked))
        );
        assert_eq!(
            body_of(&req(None, Some("300"))),
            Err(BodyError::Missing(Withheld::Unknown))
        );
        let mut tar = req(None, Some("300"));
        tar.request_headers
            .as_mut()
            .unwrap()
            .insert("Content-Type".into(), "application/x-tar".into());
        assert_eq!(
            body_of(&tar),
            Err(BodyError::Missing(Withheld::NotJson(
                "application/x-tar".into()
            )))
        );
        assert_eq!(body_of(&req(Some(""), Some("0"))), Err(BodyError::Empty));
        assert!(matches!(
            body_of(&req(Some("{}"), Some("3"))),
            Err(BodyError::LengthMismatch { .. })
        ));
        assert!(matches!(
            body_of(&req(Some("{}"), Some("two"))),
            Err(BodyError::LengthMismatch { .. })
        ));
        // dockerd 29.3.1+ forwards complete bodies up to 4 MiB: a complete body is read
        // whatever its size (the server's request limit bounds memory).
        for size in [1 << 20, (11 << 20) / 10, 2 << 20, (39 << 20) / 10] {
            let big = format!("{{\"Labels\":{{\"pad\":\"{}\"}}}}", "x".repeat(size));
            assert_eq!(
                body_of(&req(Some(&big), Some(&big.len().to_string()))).map(|b| b.len()),
                Ok(big.len()),
                "{size}"
            );
        }
        let big = "x".repeat(2 << 20);
        assert!(matches!(
            body_of(&req(Some(&big), Some("1048576"))),
            Err(BodyError::LengthMismatch { .. })
        ));
        assert!(Withheld::TooLarge(1 << 20)
            .to_string()
            .contains("before 29.3.1"));
        let mut bad = req(None, None);
        bad.request_body = Some("e30=!".into());
        assert_eq!(body_of(&bad), Err(BodyError::NotBase64));
    }
}
