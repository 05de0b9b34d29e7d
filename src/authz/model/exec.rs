//! `POST /containers/{id}/exec`: dockerd's `types.ExecConfig`, of which only `Privileged` matters
//! (a privileged exec gets every capability in a running container, enough to remount `/`).

use serde::Deserializer;

use crate::authz::gojson::{self, GoDecode, GoJsonError, GoStruct, GoValue};

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ExecConfig {
    pub privileged: bool,
}

impl GoStruct for ExecConfig {
    const FIELDS: &'static [&'static str] = &["Privileged"];
    fn decode_field<'de, D: Deserializer<'de>>(&mut self, _: usize, de: D) -> Result<(), D::Error> {
        self.privileged.go_decode(de)
    }
}

impl ExecConfig {
    pub fn decode(body: &[u8]) -> Result<Self, GoJsonError> {
        let mut v = GoValue(ExecConfig::default());
        gojson::decode(body, &mut v)?;
        Ok(v.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn privileged_exec() {
        let p = |b: &str| ExecConfig::decode(b.as_bytes()).map(|e| e.privileged);
        assert_eq!(p(r#"{"Cmd":["sh"],"Privileged":true}"#), Ok(true));
        assert_eq!(p(r#"{"privileged":true,"PRIVILEGED":null}"#), Ok(true));
        assert_eq!(p(r#"{"Privileged":true,"privileged":false}"#), Ok(false));
        assert!(p(r#"{"Privileged":"yes"}"#).is_err());
    }
}
