//! Opening a file a plugin named, without waiting on it. open(2) of a FIFO
//! waits for the other end forever: past the call's deadline on the
//! executor, or on a blocking thread that bosun's exit then waits for. The
//! file is opened non-blocking (a FIFO with no writer fails at once) and
//! anything but a regular file is refused.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// `options` opened at `path` if it is a regular file, in blocking mode.
pub fn open(path: &Path, options: &mut OpenOptions) -> io::Result<File> {
    let not_regular = || io::Error::new(io::ErrorKind::InvalidInput, "not a regular file (a FIFO, device or socket); bosun opens only regular files for plugins");
    let file = match options.custom_flags(libc::O_NONBLOCK).open(path) {
        // A FIFO opened for writing with no reader.
        Err(e) if e.raw_os_error() == Some(libc::ENXIO) => return Err(not_regular()),
        opened => opened?,
    };
    if !file.metadata()?.is_file() {
        return Err(not_regular());
    }
    let fd = std::os::fd::AsFd::as_fd(&file);
    let flags = rustix::fs::fcntl_getfl(fd)?;
    rustix::fs::fcntl_setfl(fd, flags - rustix::fs::OFlags::NONBLOCK)?;
    Ok(file)
}

/// A regular file opened for reading.
pub fn open_read(path: &Path) -> io::Result<File> {
    open(path, OpenOptions::new().read(true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fifo_is_refused_at_once_and_a_file_opens() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        rustix::fs::mknodat(rustix::fs::CWD, &fifo, rustix::fs::FileType::Fifo, rustix::fs::Mode::from_raw_mode(0o600), 0).unwrap();
        assert!(open_read(&fifo).unwrap_err().to_string().contains("not a regular file"));
        let written = open(&fifo, OpenOptions::new().append(true).create(true)).unwrap_err();
        assert!(written.to_string().contains("not a regular file"), "no reader: refused, not waited on: {written}");
        std::fs::write(dir.path().join("file"), "x").unwrap();
        assert_eq!(std::io::read_to_string(open_read(&dir.path().join("file")).unwrap()).unwrap(), "x");
    }
}
