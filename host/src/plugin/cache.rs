//! Compiled components cached on disk, keyed by the component's sha256 and the
//! engine's compatibility hash. Only files in bosun's own cache directory are
//! ever deserialized (deserializing is trusting native code).

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};

use wasmtime::Engine;
use wasmtime::component::Component;

use super::error::PluginError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheOutcome {
    Hit,
    Compiled,
}

pub struct CompiledCache {
    dir: PathBuf,
    engine_key: String,
}

impl CompiledCache {
    pub fn new(dir: &Path, engine: &Engine) -> std::io::Result<CompiledCache> {
        std::fs::create_dir_all(dir)?;
        restrict_to_owner(dir)?;
        let mut hasher = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        Ok(CompiledCache { dir: dir.to_path_buf(), engine_key: format!("{:016x}", hasher.finish()) })
    }

    pub fn path_for(&self, digest: &str) -> PathBuf {
        self.dir.join(format!("{digest}-{}.cwasm", self.engine_key))
    }

    /// The compiled component for `wasm` (whose sha256 is `digest`), from the
    /// cache when present and loadable, else compiled and stored.
    pub fn load(&self, engine: &Engine, wasm: &[u8], digest: &str, origin: &str) -> Result<(Component, CacheOutcome), PluginError> {
        let path = self.path_for(digest);
        if path.is_file() {
            // SAFETY: the file is in bosun's private cache directory and was
            // written by `Component::serialize` for this engine configuration;
            // wasmtime also checks the compatibility header itself.
            match unsafe { Component::deserialize_file(engine, &path) } {
                Ok(component) => return Ok((component, CacheOutcome::Hit)),
                Err(e) => {
                    tracing::warn!("discarding unusable compiled cache entry {}: {e}", path.display());
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
        let component = Component::new(engine, wasm).map_err(|e| PluginError::InvalidComponent {
            origin: origin.to_string(),
            reason: format!("it does not compile: {e}"),
        })?;
        if let Err(e) = self.store(&component, &path) {
            tracing::warn!("could not cache the compiled plugin at {}: {e}", path.display());
        }
        Ok((component, CacheOutcome::Compiled))
    }

    fn store(&self, component: &Component, path: &Path) -> anyhow::Result<()> {
        let bytes = component.serialize().map_err(|e| anyhow::anyhow!("{e}"))?;
        let temp = path.with_extension(format!("partial-{}", std::process::id()));
        std::fs::write(&temp, bytes)?;
        std::fs::rename(&temp, path)?;
        Ok(())
    }
}

fn restrict_to_owner(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
}
