//! Installed plugins: component files stored by digest under
//! `<state>/plugins/`, and `<state>/plugins.lock` recording name, version,
//! digest and the capabilities the operator accepted. Every change is written
//! to a temp file and renamed, so a failed install leaves both untouched.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::builtin;
use super::manifest::{Kind, Manifest};
use crate::capability::GrantSpec;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Installed {
    pub version: String,
    pub kind: Kind,
    /// `sha256:<hex>` of the component file.
    pub digest: String,
    /// What the manifest requested when the operator accepted it.
    #[serde(default)]
    pub capabilities: GrantSpec,
    pub installed_at: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct LockFile {
    #[serde(default)]
    plugin: BTreeMap<String, Installed>,
}

pub struct PluginStore {
    dir: PathBuf,
    lock_path: PathBuf,
}

/// What installing would change, computed before anything is written.
#[derive(Debug, PartialEq)]
pub enum InstallPlan {
    New,
    AlreadyInstalled,
    /// A different build of an installed plugin; `added` is what it asks for on top.
    Upgrade { from_version: String, added: GrantSpec },
}

impl PluginStore {
    pub fn open(state_dir: &Path) -> PluginStore {
        crate::capability::fs::protect(state_dir);
        PluginStore { dir: state_dir.join("plugins"), lock_path: state_dir.join("plugins.lock") }
    }

    pub fn lock_path(&self) -> &Path {
        &self.lock_path
    }

    pub fn list(&self) -> Result<BTreeMap<String, Installed>> {
        Ok(self.read_lock()?.plugin)
    }

    pub fn get(&self, name: &str) -> Result<Option<Installed>> {
        Ok(self.read_lock()?.plugin.remove(name))
    }

    /// The component bytes of an installed plugin. The entry must not carry a
    /// built-in's name (installed plugins never replace built-ins), its file
    /// must match the recorded digest, and the component must call itself
    /// what the entry is keyed by.
    pub fn read(&self, name: &str) -> Result<Option<Vec<u8>>> {
        let Some(entry) = self.get(name)? else { return Ok(None) };
        let lock = self.lock_path.display();
        if builtin::bytes(name).is_some() {
            bail!("{lock} has an entry {name}, the name of a built-in plugin, which installed plugins cannot replace; remove it with `bosun plugin remove {name}`");
        }
        let path = self.file_for(&entry.digest).with_context(|| format!("{lock}: plugin {name}; reinstall it"))?;
        let bytes = std::fs::read(&path).with_context(|| format!("installed plugin {name} is missing its file {}; reinstall it", path.display()))?;
        let actual = digest_of(&bytes);
        if actual != entry.digest {
            bail!("installed plugin {name} does not match its recorded digest ({} is {actual}, the lockfile says {}); reinstall it", path.display(), entry.digest);
        }
        let manifest = Manifest::read(&bytes, &format!("installed plugin {name}"))?;
        if manifest.name != name {
            bail!("{lock}: the entry {name} holds a component named {}; remove it with `bosun plugin remove {name}` and reinstall the plugin", manifest.name);
        }
        Ok(Some(bytes))
    }

    pub fn plan(&self, manifest: &Manifest, digest: &str) -> Result<InstallPlan> {
        Ok(match self.get(&manifest.name)? {
            None => InstallPlan::New,
            Some(existing) if existing.digest == digest => InstallPlan::AlreadyInstalled,
            Some(existing) => InstallPlan::Upgrade { from_version: existing.version, added: manifest.capabilities.added_since(&existing.capabilities) },
        })
    }

    /// Stores the component and records it. Call only after validation and
    /// the operator's consent.
    pub fn install(&self, manifest: &Manifest, wasm: &[u8]) -> Result<Installed> {
        let digest = digest_of(wasm);
        std::fs::create_dir_all(&self.dir).with_context(|| format!("creating {}", self.dir.display()))?;
        let file = self.file_for(&digest)?;
        write_atomic(&file, wasm)?;
        let mut lock = self.read_lock()?;
        let previous = lock.plugin.get(&manifest.name).map(|p| p.digest.clone());
        let entry = Installed {
            version: manifest.version.clone(),
            kind: manifest.kind,
            digest: digest.clone(),
            capabilities: manifest.capabilities.clone(),
            installed_at: now_rfc3339(),
        };
        lock.plugin.insert(manifest.name.clone(), entry.clone());
        self.write_lock(&lock)?;
        if let Some(old) = previous.filter(|old| *old != digest && !lock.plugin.values().any(|p| p.digest == *old))
            && let Ok(old_file) = self.file_for(&old)
        {
            let _ = std::fs::remove_file(old_file);
        }
        Ok(entry)
    }

    pub fn remove(&self, name: &str) -> Result<Installed> {
        let mut lock = self.read_lock()?;
        let Some(entry) = lock.plugin.remove(name) else {
            bail!("plugin {name} is not installed; `bosun plugin list` shows what is");
        };
        self.write_lock(&lock)?;
        if !lock.plugin.values().any(|p| p.digest == entry.digest)
            && let Ok(file) = self.file_for(&entry.digest)
        {
            let _ = std::fs::remove_file(file);
        }
        Ok(entry)
    }

    /// Where the component with `digest` is stored; a lockfile digest that is
    /// not `sha256:<64 hex digits>` names no file (it could name any path).
    fn file_for(&self, digest: &str) -> Result<PathBuf> {
        match digest.strip_prefix("sha256:") {
            Some(hex) if hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) => Ok(self.dir.join(format!("{hex}.wasm"))),
            _ => bail!("the digest {digest:?} is not sha256:<64 hex digits>"),
        }
    }

    fn read_lock(&self) -> Result<LockFile> {
        match std::fs::read_to_string(&self.lock_path) {
            Ok(text) => toml::from_str(&text).with_context(|| format!("{} is corrupt; restore it from a backup or remove it and reinstall plugins", self.lock_path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(LockFile::default()),
            Err(e) => Err(e).with_context(|| format!("reading {}", self.lock_path.display())),
        }
    }

    fn write_lock(&self, lock: &LockFile) -> Result<()> {
        let text = format!("# Written by `bosun plugin install`; do not edit by hand.\n{}", toml::to_string(lock)?);
        if let Some(parent) = self.lock_path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        write_atomic(&self.lock_path, text.as_bytes())
    }
}

pub fn digest_of(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut out = crate::capability::artifact::AtomicFile::create(path).with_context(|| format!("writing {}", path.display()))?;
    out.write_all(bytes)?;
    out.finish().with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    crate::time::rfc3339(secs)
}
