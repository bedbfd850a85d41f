//! `backup files`: what a backup's file list holds, like restic's `ls`: the
//! whole tree as it was at that backup (for an incremental too), with each
//! file's size, mode, owner, mtime and content hash.

use serde::Serialize;

use super::locate::{Located, locate};
use crate::app::App;
use crate::backup_format::{FileEntry, FileList, Kind};
use crate::capability::fs::read_file_list;
use crate::failure::Failure;

/// The file list `fs.archive` writes beside an archive (`dir-archive`'s
/// current name first, then the names earlier backups used).
const FILE_LISTS: [&str; 3] = ["files.list.zst", "files.json.zst", "files.json"];

#[derive(Debug, Serialize)]
pub struct ListedFile {
    /// Absolute, as the entry was backed up.
    pub path: String,
    pub kind: Kind,
    pub size: u64,
    pub mode: u32,
    /// Owner and group, by number; none in lists from before bosun recorded them.
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub mtime_ms: i64,
    /// `blake3:<hex>` (`sha256:` in lists from before bosun hashed with BLAKE3); files only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hash: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link_target: Option<String>,
}

pub fn files(app: &App, reference: &str) -> Result<Vec<ListedFile>, Failure> {
    let located = locate(app.state()?, reference)?;
    let Some(list) = file_list(&located)? else {
        return Err(Failure::bad_input(format!(
            "backup {} has no file list ({}; strategy {} may not write one); `bosun backup show {}` lists its artifacts",
            located.id(),
            FILE_LISTS.join(" or "),
            located.manifest.strategy,
            located.id()
        )));
    };
    Ok(list.entries.into_iter().map(|(name, entry)| listed(name, entry)).collect())
}

/// The backup's file list, when it has one.
pub(super) fn file_list(located: &Located) -> Result<Option<FileList>, Failure> {
    let Some(path) = FILE_LISTS.iter().map(|name| located.dir.join(name)).find(|p| p.is_file()) else { return Ok(None) };
    read_file_list(&path).map(Some).map_err(|e| Failure::failed(format!("backup {}: {}", located.id(), e.into_message())))
}

fn listed(name: String, entry: FileEntry) -> ListedFile {
    ListedFile {
        path: format!("/{name}"),
        kind: entry.kind,
        size: entry.size,
        mode: entry.mode,
        uid: entry.owner.map(|o| o.uid),
        gid: entry.owner.map(|o| o.gid),
        mtime_ms: entry.mtime_ms,
        hash: entry.hash.map(|hash| hash.to_string()),
        link_target: entry.link_target,
    }
}
