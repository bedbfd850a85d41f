//! The compiled cache's key: 32 random bytes in `<cache>/key`, made once per
//! installation, readable by its owner only. Whoever does not hold it cannot
//! make a cache entry bosun will load.

use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

const FILE_NAME: &str = "key";
const LEN: usize = 32;

pub struct Key([u8; LEN]);

impl Key {
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}

/// The key in `dir`, made there first if there is none. Two bosuns starting
/// at once agree: the key is written under a temp name and linked into place
/// only if no key is there yet; the loser reads the winner's.
pub fn load_or_create(dir: &Path) -> io::Result<Key> {
    let path = dir.join(FILE_NAME);
    match read(&path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        found => return found,
    }
    let mut key = [0u8; LEN];
    getrandom::fill(&mut key).map_err(|e| io::Error::other(format!("no randomness for the plugin cache key: {e}")))?;
    // tempfile creates it 0600 with O_EXCL under an unpredictable name.
    let mut temp = tempfile::Builder::new().prefix(".key-").tempfile_in(dir)?;
    temp.write_all(&key)?;
    temp.as_file().sync_all()?;
    match temp.persist_noclobber(&path) {
        Ok(_) => Ok(Key(key)),
        Err(e) if e.error.kind() == io::ErrorKind::AlreadyExists => read(&path),
        Err(e) => Err(e.error),
    }
}

/// Reads the key, refusing one that is not a regular 0600 file of this user
/// holding exactly a key: such a file is not one bosun made.
fn read(path: &Path) -> io::Result<Key> {
    let opened = std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK).open(path);
    let mut file = match opened {
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => return Err(refused(path, "is a symbolic link")),
        opened => opened?,
    };
    let meta = file.metadata()?;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    let problem = if !meta.is_file() {
        Some("is not a regular file".to_string())
    } else if meta.uid() != euid {
        Some(format!("belongs to uid {}, not to this user ({euid})", meta.uid()))
    } else if meta.mode() & 0o077 != 0 {
        Some(format!("is readable or writable by others (mode {:o})", meta.mode() & 0o777))
    } else if meta.len() != LEN as u64 {
        Some(format!("holds {} bytes, not a {LEN}-byte key", meta.len()))
    } else {
        None
    };
    if let Some(problem) = problem {
        return Err(refused(path, &problem));
    }
    let mut key = [0u8; LEN];
    file.read_exact(&mut key)?;
    Ok(Key(key))
}

fn refused(path: &Path, problem: &str) -> io::Error {
    io::Error::other(format!("the compiled-plugin key {} {problem}; remove it (bosun makes a new one and recompiles its plugins)", path.display()))
}
