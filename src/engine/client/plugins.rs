//! The plugin calls `rootfs-guard enable` needs: dockerd's list of managed plugins, and the
//! plugin protocol's handshake (`Plugin.Activate`) spoken to a standalone plugin's own socket over
//! the same HTTP transport.

use super::*;

/// One entry of `GET /plugins`, with only the fields `enable` reads.
#[derive(Debug, Clone, Deserialize)]
pub struct PluginSummary {
    #[serde(rename = "Name", default)]
    pub name: String,
    #[serde(rename = "Enabled", default)]
    pub enabled: bool,
    #[serde(rename = "Config", default)]
    pub config: PluginConfig,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct PluginConfig {
    #[serde(rename = "Interface", default)]
    pub interface: PluginInterface,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct PluginInterface {
    #[serde(rename = "Types", default)]
    pub types: Option<Vec<String>>,
}

/// `Plugin.Activate`'s answer: `{"Implements": ["authz"]}`.
#[derive(Debug, Deserialize)]
struct Activation {
    #[serde(rename = "Implements", default)]
    implements: Option<Vec<String>>,
}

impl DockerClient {
    /// `GET /plugins`: the daemon's managed plugins.
    pub async fn list_plugins(&self) -> Result<Vec<PluginSummary>, DockerError> {
        self.get_json("/plugins", "list plugins").await
    }

    /// `POST /Plugin.Activate` on a plugin's socket (this client must point at it): the
    /// subsystems it implements, as dockerd would see them.
    pub async fn plugin_activate(&self) -> Result<Vec<String>, DockerError> {
        let what = "Plugin.Activate";
        let call = async {
            let resp = self
                .send_body(Method::POST, "/Plugin.Activate", what, Some(Vec::new()))
                .await?;
            let body = read_limited(resp.into_body(), 64 << 10)
                .await
                .map_err(|e| self.protocol(what, e))?;
            let a: Activation =
                serde_json::from_slice(&body).map_err(|e| self.protocol(what, e))?;
            Ok(a.implements.unwrap_or_default())
        };
        tokio::time::timeout(Duration::from_secs(10), call)
            .await
            .map_err(|_| self.protocol(what, "no answer within 10 s"))?
    }
}
