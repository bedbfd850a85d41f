//! A backup set's destination directory: one sub-directory per backup, a
//! per-set lock, and the `.partial-`/`.removing-` leftovers of interrupted runs.

use std::fs::{File, TryLockError};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::failure::Failure;

/// Held while a backup, prune or restore of the set runs; released on drop.
pub struct SetLock {
    _file: File,
}

pub struct Dest {
    pub root: PathBuf,
    pub set: String,
}

impl Dest {
    pub fn new(root: PathBuf, set: &str) -> Dest {
        Dest { root, set: set.to_string() }
    }

    fn lock_path(&self) -> PathBuf {
        self.root.join(format!(".lock-{}", self.set))
    }

    /// Takes the set's lock, or says who holds it.
    pub fn lock(&self, doing: &str) -> Result<SetLock, Failure> {
        std::fs::create_dir_all(&self.root)
            .map_err(|e| Failure::failed(format!("{}: cannot create the backup destination: {e}", self.root.display())))?;
        let path = self.lock_path();
        let mut file = File::options()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| Failure::failed(format!("{}: cannot open the lock file: {e}", path.display())))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let holder = std::fs::read_to_string(&path).unwrap_or_default();
                return Err(Failure::busy(format!(
                    "backup set {} is busy ({}); wait for it to finish, then retry",
                    self.set,
                    holder.trim()
                )));
            }
            Err(TryLockError::Error(e)) => return Err(Failure::failed(format!("{}: cannot lock: {e}", path.display()))),
        }
        let holder = format!("{doing} by {} (pid {}) since {}", crate::state::who(), std::process::id(), crate::time::rfc3339(crate::state::now_unix() as u64));
        file.set_len(0).and_then(|_| file.write_all(holder.as_bytes())).map_err(|e| Failure::failed(format!("{}: {e}", path.display())))?;
        Ok(SetLock { _file: file })
    }

    /// Removes what interrupted runs of this set left behind. Call with the lock held.
    pub fn clean_leftovers(&self, _lock: &SetLock) -> Vec<PathBuf> {
        let Ok(entries) = std::fs::read_dir(&self.root) else { return Vec::new() };
        let mut removed = Vec::new();
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let leftover = [".partial-", ".removing-"].iter().any(|p| name.strip_prefix(p).is_some_and(|id| is_id_of(&self.set, id)));
            if leftover && std::fs::remove_dir_all(entry.path()).is_ok() {
                removed.push(entry.path());
            }
        }
        removed
    }

    /// A new backup id: `<set>-<UTC time>`, with `-2`, `-3`... when taken
    /// within the same second as an existing one.
    pub fn new_id(&self, unix: i64, taken: impl Fn(&str) -> bool) -> String {
        let stamp = crate::time::rfc3339(unix as u64).replace([':', '-'], "");
        let base = format!("{}-{stamp}", self.set);
        let mut id = base.clone();
        let mut n = 1;
        while taken(&id) || self.final_dir(&id).exists() {
            n += 1;
            id = format!("{base}-{n}");
        }
        id
    }

    /// Where backup `id` is written until it is complete.
    pub fn partial(&self, id: &str) -> PathBuf {
        self.root.join(format!(".partial-{id}"))
    }

    pub fn final_dir(&self, id: &str) -> PathBuf {
        self.root.join(id)
    }

}

/// Renames a backup directory out of sight (`.removing-<name>` beside it),
/// then deletes it; a crash in between leaves a leftover the next run of the
/// set cleans up.
pub fn remove_backup_dir(dir: &Path) -> std::io::Result<()> {
    let (Some(parent), Some(name)) = (dir.parent(), dir.file_name()) else { return Ok(()) };
    if !dir.exists() {
        return Ok(());
    }
    let doomed = parent.join(format!(".removing-{}", name.to_string_lossy()));
    std::fs::rename(dir, &doomed)?;
    sync_dir(parent)?;
    std::fs::remove_dir_all(&doomed)
}

pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Whether `id` is a backup id of `set` (`<set>-YYYYMMDDTHHMMSSZ[-n]`), so
/// that set `data` never touches the leftovers of set `data-x`.
fn is_id_of(set: &str, id: &str) -> bool {
    let Some(stamp) = id.strip_prefix(set).and_then(|rest| rest.strip_prefix('-')) else { return false };
    let (time, counter) = stamp.split_once('-').unwrap_or((stamp, "1"));
    let b = time.as_bytes();
    b.len() == 16
        && b[8] == b'T'
        && b[15] == b'Z'
        && b[..8].iter().chain(&b[9..15]).all(u8::is_ascii_digit)
        && !counter.is_empty()
        && counter.bytes().all(|c| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_belong_to_exactly_one_set() {
        assert!(is_id_of("data", "data-20261122T101500Z"));
        assert!(is_id_of("data", "data-20261122T101500Z-3"));
        assert!(!is_id_of("data", "data-x-20261122T101500Z"));
        assert!(!is_id_of("data", "data-1-20261122T101500Z"));
        assert!(is_id_of("data-1", "data-1-20261122T101500Z"));
        assert!(!is_id_of("data", "data-20261122T1015Z"));
    }

    #[test]
    fn ids_taken_in_the_same_second_get_a_counter() {
        let dest = Dest::new(std::env::temp_dir().join("bosun-no-such-dir"), "db");
        assert_eq!(dest.new_id(0, |_| false), "db-19700101T000000Z");
        assert_eq!(dest.new_id(0, |id| id == "db-19700101T000000Z"), "db-19700101T000000Z-2");
    }
}
