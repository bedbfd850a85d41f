//! File work bounded by the plugin call's deadline. The call returns
//! `timed-out` at the deadline whatever the work is doing; the work itself
//! reads and writes through [`Bounded`], which fails every read and write
//! after the deadline, so an archive or extract stops within one chunk and
//! its temp file is removed, instead of running on after its call ended.

use std::io::{self, Read, Write};
use std::time::Instant;

#[derive(Debug, Clone, Copy)]
pub struct Deadline(pub Instant);

impl Deadline {
    fn check(self) -> io::Result<()> {
        match Instant::now() < self.0 {
            true => Ok(()),
            false => Err(io::Error::new(io::ErrorKind::TimedOut, PASSED)),
        }
    }
}

/// The message of the error a read or write past the deadline gets.
pub const PASSED: &str = "stopped: the plugin call's deadline passed";

/// A reader or writer that fails once the deadline has passed.
pub struct Bounded<T> {
    inner: T,
    deadline: Deadline,
}

impl<T> Bounded<T> {
    pub fn new(inner: T, deadline: Deadline) -> Bounded<T> {
        Bounded { inner, deadline }
    }

    pub fn into_inner(self) -> T {
        self.inner
    }
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.deadline.check()?;
        self.inner.read(buf)
    }
}

impl<W: Write> Write for Bounded<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.deadline.check()?;
        self.inner.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn reads_and_writes_fail_once_the_deadline_passed() {
        let open = Deadline(Instant::now() + Duration::from_secs(60));
        let mut out = Vec::new();
        io::copy(&mut Bounded::new(&b"abc"[..], open), &mut Bounded::new(&mut out, open)).unwrap();
        assert_eq!(out, b"abc");
        let passed = Deadline(Instant::now());
        let error = io::copy(&mut Bounded::new(&b"abc"[..], passed), &mut out).unwrap_err();
        assert_eq!((error.kind(), error.to_string()), (io::ErrorKind::TimedOut, PASSED.to_string()));
        assert!(Bounded::new(Vec::new(), passed).write(b"x").is_err());
    }
}
