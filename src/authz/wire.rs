//! The Docker plugin protocol's JSON messages, exactly as dockerd sends and reads them.
//!
//! dockerd posts an `authorization.Request` to `/AuthZPlugin.AuthZReq` and `/AuthZPlugin.AuthZRes`
//! and reads an `authorization.Response` back (see `shared/docs/authz-protocol.md`). Note the
//! spelling `RequestUri`. `RequestBody` is base64 (Go's `[]byte`) and is absent whenever dockerd
//! withheld the body, which is why the body is kept raw here and checked by [`crate::authz::request`].

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

use bytes::Bytes;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Content type of every answer to dockerd.
pub const PLUGIN_CONTENT_TYPE: &str = "application/vnd.docker.plugins.v1+json";

/// What dockerd asks: one API call it is about to run (or, for AuthZRes, has run). Unknown fields
/// (`RequestPeerCertificates`, ...) are ignored.
#[derive(Debug, Default, Clone, Serialize)]
pub struct AuthZRequest {
    /// TLS client-certificate common name; empty on the unix socket.
    #[serde(rename = "User")]
    pub user: String,
    #[serde(rename = "UserAuthNMethod")]
    pub user_authn_method: String,
    #[serde(rename = "RequestMethod")]
    pub request_method: String,
    /// Raw request target: percent-encoded, with query, possibly absolute-form.
    #[serde(rename = "RequestUri")]
    pub request_uri: String,
    /// Base64 of the request body; `None` when dockerd did not forward one.
    #[serde(rename = "RequestBody", skip_serializing_if = "Option::is_none")]
    pub request_body: Option<Base64Body>,
    /// Flattened request headers (last value wins), without auth headers.
    #[serde(rename = "RequestHeaders", skip_serializing_if = "Option::is_none")]
    pub request_headers: Option<HashMap<String, String>>,
}

impl AuthZRequest {
    /// A request header by name, case-insensitively (dockerd sends Go's canonical form).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.request_headers
            .as_ref()?
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Reads an AuthZ request from the bytes of the HTTP body it came in. `RequestBody` (most of
    /// the bytes: a 1 MiB body is 1.4 MB of base64) is not copied out of `json` but shares it.
    pub fn from_json(json: &Bytes) -> serde_json::Result<AuthZRequest> {
        let envelope: Envelope = serde_json::from_slice(json)?;
        Ok(envelope.into_request(Some(json)))
    }
}

impl<'de> Deserialize<'de> for AuthZRequest {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        Envelope::deserialize(de).map(|e| e.into_request(None))
    }
}

/// The wire form of [`AuthZRequest`], with `RequestBody` borrowed from the input when it can be.
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(rename = "User", default)]
    user: String,
    #[serde(rename = "UserAuthNMethod", default)]
    user_authn_method: String,
    #[serde(rename = "RequestMethod", default)]
    request_method: String,
    #[serde(rename = "RequestUri", default)]
    request_uri: String,
    #[serde(rename = "RequestBody", default, borrow)]
    request_body: Option<RawString<'a>>,
    #[serde(rename = "RequestHeaders", default)]
    request_headers: Option<HashMap<String, String>>,
}

impl Envelope<'_> {
    /// `source`: the buffer the envelope was read from, to share rather than copy the body.
    fn into_request(self, source: Option<&Bytes>) -> AuthZRequest {
        let request_body = self.request_body.map(|RawString(raw)| {
            Base64Body(match (raw, source) {
                (Cow::Borrowed(raw), Some(source)) => share_or_copy(source, raw),
                (raw, _) => Bytes::copy_from_slice(&raw),
            })
        });
        AuthZRequest {
            user: self.user,
            user_authn_method: self.user_authn_method,
            request_method: self.request_method,
            request_uri: self.request_uri,
            request_body,
            request_headers: self.request_headers,
        }
    }
}

/// `part` as a slice of `whole` (no copy) when it lies inside it, else a copy.
fn share_or_copy(whole: &Bytes, part: &[u8]) -> Bytes {
    let start = (part.as_ptr() as usize).wrapping_sub(whole.as_ptr() as usize);
    if start <= whole.len() && part.len() <= whole.len() - start {
        whole.slice(start..start + part.len())
    } else {
        Bytes::copy_from_slice(part)
    }
}

/// A JSON string's bytes, unescaped but not checked to be UTF-8 (base64 is checked when it is
/// decoded), borrowed from the input when it has no escapes.
struct RawString<'a>(Cow<'a, [u8]>);

impl<'de: 'a, 'a> Deserialize<'de> for RawString<'a> {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = RawString<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a base64 string")
            }
            fn visit_borrowed_bytes<E>(self, v: &'de [u8]) -> Result<Self::Value, E> {
                Ok(RawString(Cow::Borrowed(v)))
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(RawString(Cow::Borrowed(v.as_bytes())))
            }
            fn visit_bytes<E>(self, v: &[u8]) -> Result<Self::Value, E> {
                Ok(RawString(Cow::Owned(v.to_vec())))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(RawString(Cow::Owned(v.as_bytes().to_vec())))
            }
        }
        de.deserialize_bytes(V)
    }
}

/// `RequestBody`: the API request's body as dockerd forwards it, base64 (Go's `[]byte` in JSON),
/// kept as the raw text. It is only ever base64-decoded ([`crate::authz::request`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Base64Body(Bytes);

impl Base64Body {
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<String> for Base64Body {
    fn from(s: String) -> Self {
        Base64Body(Bytes::from(s))
    }
}

impl From<&str> for Base64Body {
    fn from(s: &str) -> Self {
        Base64Body(Bytes::copy_from_slice(s.as_bytes()))
    }
}

impl Serialize for Base64Body {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&String::from_utf8_lossy(&self.0))
    }
}

/// What dockerd reads back: only `Allow` and `Msg` count on a 200.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthZResponse {
    #[serde(rename = "Allow")]
    pub allow: bool,
    #[serde(rename = "Msg", default, skip_serializing_if = "String::is_empty")]
    pub msg: String,
    #[serde(rename = "Err", default, skip_serializing_if = "String::is_empty")]
    pub err: String,
}

/// The answer to `/Plugin.Activate`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ActivateResponse {
    #[serde(rename = "Implements")]
    pub implements: Vec<String>,
}

impl Default for ActivateResponse {
    fn default() -> Self {
        ActivateResponse {
            implements: vec!["authz".to_owned()],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_recorded_dockerd_request() {
        let raw = r#"{"RequestBody":"e30K","RequestHeaders":{"Content-Length":"3","Content-Type":"application/json"},"RequestMethod":"POST","RequestUri":"/v1.41/containers/create?name=c2"}"#;
        let req: AuthZRequest = serde_json::from_str(raw).unwrap();
        assert_eq!(req.request_uri, "/v1.41/containers/create?name=c2");
        assert_eq!(req.header("content-length"), Some("3"));
        assert_eq!(req.user, "");
    }

    #[test]
    fn the_body_shares_the_request_buffer_when_it_can() {
        let json = Bytes::from_static(
            br#"{"RequestBody":"e30K","RequestMethod":"POST","RequestUri":"/containers/create"}"#,
        );
        let req = AuthZRequest::from_json(&json).unwrap();
        let body = req.request_body.as_ref().unwrap().as_bytes();
        assert_eq!(body, b"e30K");
        let inside = json.as_ptr_range();
        assert!(inside.contains(&body.as_ptr()), "not copied");
        // Escapes (Go never writes them in base64, but JSON allows them) are undone, in a copy.
        let escaped = Bytes::from_static(br#"{"RequestBody":"e30K"}"#);
        let req = AuthZRequest::from_json(&escaped).unwrap();
        assert_eq!(req.request_body.unwrap().as_bytes(), b"e30K");
        // Read the ordinary way, the same values.
        let plain: AuthZRequest = serde_json::from_slice(&json).unwrap();
        assert_eq!(plain.request_body.unwrap().as_bytes(), b"e30K");
        assert_eq!(plain.request_method, "POST");
        // Absent and null are both "no body"; a non-string is an error.
        for raw in [&br#"{}"#[..], br#"{"RequestBody":null}"#] {
            let req = AuthZRequest::from_json(&Bytes::copy_from_slice(raw)).unwrap();
            assert!(req.request_body.is_none());
        }
        assert!(AuthZRequest::from_json(&Bytes::from_static(br#"{"RequestBody":3}"#)).is_err());
        // Bytes that are not UTF-8 are kept as they are (base64 decoding refuses them later).
        let mut odd = br#"{"RequestBody":"e3"#.to_vec();
        odd.extend_from_slice(&[0xff, b'"', b'}']);
        let req = AuthZRequest::from_json(&Bytes::from(odd)).unwrap();
        assert_eq!(req.request_body.unwrap().as_bytes(), &[b'e', b'3', 0xff]);
    }

    #[test]
    fn share_or_copy_never_reads_outside_the_buffer() {
        let whole = Bytes::from_static(b"0123456789");
        assert_eq!(share_or_copy(&whole, &whole[2..5]), &b"234"[..]);
        assert_eq!(share_or_copy(&whole, &whole[10..]), &b""[..]);
        let elsewhere = b"abc".to_vec();
        assert_eq!(share_or_copy(&whole, &elsewhere), &b"abc"[..]);
    }

    #[test]
    fn response_shape() {
        let r = AuthZResponse {
            allow: false,
            msg: "no".into(),
            err: String::new(),
        };
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"Allow":false,"Msg":"no"}"#
        );
    }
}
