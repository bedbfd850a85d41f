//! Compiled components cached on disk, keyed by the component's sha256 and the
//! engine's compatibility hash. Deserializing is trusting native code, so an
//! entry is loaded only when it is provably this installation's own output
//! for that digest: each file starts with an HMAC-SHA256, under a random key
//! bosun made for this cache (see [`key`]), of the digest, the engine key and
//! the compiled bytes. A file anyone else wrote or changed fails the check and
//! is recompiled, never run.

mod key;

use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use sha2::Sha256;
use wasmtime::Engine;
use wasmtime::component::Component;

use super::error::PluginError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheOutcome {
    Hit,
    Compiled,
}

/// Bytes of the tag in front of the compiled code.
const TAG_LEN: usize = 32;

pub struct CompiledCache {
    dir: PathBuf,
    engine_key: String,
    key: key::Key,
}

impl CompiledCache {
    pub fn new(dir: &Path, engine: &Engine) -> std::io::Result<CompiledCache> {
        // Absolute, so a warning names the file wherever bosun was started.
        let dir = std::path::absolute(dir)?;
        std::fs::create_dir_all(&dir)?;
        restrict_to_owner(&dir)?;
        let mut hasher = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        Ok(CompiledCache { key: key::load_or_create(&dir)?, engine_key: format!("{:016x}", hasher.finish()), dir })
    }

    pub fn path_for(&self, digest: &str) -> PathBuf {
        self.dir.join(format!("{digest}-{}.cwasm", self.engine_key))
    }

    /// The compiled component for `wasm` (whose sha256 is `digest`), from the
    /// cache when its tag proves it ours, else compiled and stored.
    pub fn load(&self, engine: &Engine, wasm: &[u8], digest: &str, origin: &str) -> Result<(Component, CacheOutcome), PluginError> {
        let path = self.path_for(digest);
        match self.read_verified(&path, digest) {
            Ok(Some(entry)) => {
                // SAFETY: these are exactly the bytes whose tag was checked
                // (the file is not read a second time), and only this
                // installation holds the key that made the tag, when it
                // serialized this component for this engine configuration.
                match unsafe { Component::deserialize(engine, &entry[TAG_LEN..]) } {
                    Ok(component) => return Ok((component, CacheOutcome::Hit)),
                    Err(e) => tracing::warn!("discarding unusable compiled plugin {}: {e}; recompiling it", path.display()),
                }
            }
            Ok(None) => {}
            Err(why) => tracing::warn!("not loading compiled plugin {}: {why}; recompiling it", path.display()),
        }
        let component = Component::new(engine, wasm).map_err(|e| PluginError::InvalidComponent {
            origin: origin.to_string(),
            reason: format!("it does not compile: {e}"),
        })?;
        if let Err(e) = self.store(&component, digest, &path) {
            tracing::warn!("could not cache the compiled plugin at {}: {e}", path.display());
        }
        Ok((component, CacheOutcome::Compiled))
    }

    /// The entry in `path` (tag, then compiled code) when its tag matches;
    /// `None` when there is no entry; why not otherwise.
    fn read_verified(&self, path: &Path, digest: &str) -> Result<Option<Vec<u8>>, String> {
        // No symlink is followed, and a FIFO put in an entry's place cannot
        // block the open; only a regular file is read.
        let opened = std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK).open(path);
        let mut file = match opened {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("it cannot be opened as a regular file ({e})")),
        };
        let meta = file.metadata().map_err(|e| e.to_string())?;
        if !meta.is_file() {
            return Err("it is not a regular file".into());
        }
        let mut bytes = Vec::with_capacity(meta.len() as usize);
        file.read_to_end(&mut bytes).map_err(|e| e.to_string())?;
        if bytes.len() < TAG_LEN {
            return Err("it has no signature".into());
        }
        let (tag, code) = bytes.split_at(TAG_LEN);
        self.mac(digest, code)
            .verify_slice(tag)
            .map_err(|_| "it is not this installation's own compiled code for this plugin (its signature does not match)".to_string())?;
        Ok(Some(bytes))
    }

    fn mac(&self, digest: &str, code: &[u8]) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(self.key.bytes()).expect("HMAC takes a key of any length");
        for part in [b"bosun compiled component".as_slice(), digest.as_bytes(), self.engine_key.as_bytes()] {
            mac.update(part);
            mac.update(&[0]);
        }
        mac.update(code);
        mac
    }

    fn store(&self, component: &Component, digest: &str, path: &Path) -> anyhow::Result<()> {
        let code = component.serialize().map_err(|e| anyhow::anyhow!("{e}"))?;
        let tag = self.mac(digest, &code).finalize().into_bytes();
        // A fresh, unpredictable name created with O_EXCL, renamed into place.
        let mut temp = tempfile::Builder::new().prefix(".compiling-").tempfile_in(&self.dir)?;
        temp.write_all(&tag)?;
        temp.write_all(&code)?;
        temp.persist(path)?;
        Ok(())
    }
}

fn restrict_to_owner(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
}
