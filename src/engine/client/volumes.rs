//! The volume calls: what `audit` needs to find volumes that are bind mounts in disguise.

use super::*;

impl DockerClient {
    /// `GET /volumes`: every volume with its driver and the options it was created with.
    pub async fn list_volumes(&self) -> Result<Vec<VolumeSummary>, DockerError> {
        let list: VolumeList = self.get_json("/volumes", "list volumes").await?;
        Ok(list.volumes.unwrap_or_default())
    }
}
