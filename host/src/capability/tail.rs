//! The end of a stream kept in bounded memory: a command's stderr, a
//! container's log. The rest is read and dropped, so the writer never blocks.

/// The last `limit` bytes pushed.
pub struct Tail {
    bytes: Vec<u8>,
    limit: usize,
}

impl Tail {
    pub fn new(limit: usize) -> Tail {
        Tail { bytes: Vec::new(), limit }
    }

    pub fn push(&mut self, data: &[u8]) {
        self.bytes.extend_from_slice(data);
        // Trimmed in batches, not on every push.
        if self.bytes.len() > 2 * self.limit {
            self.bytes.drain(..self.bytes.len() - self.limit);
        }
    }

    pub fn into_string(self) -> String {
        let start = self.bytes.len().saturating_sub(self.limit);
        String::from_utf8_lossy(&self.bytes[start..]).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_only_the_end() {
        let mut tail = Tail::new(4);
        for chunk in [&b"abc"[..], b"defgh", b"ij", b"klmnopqrstuvwxyz"] {
            tail.push(chunk);
            assert!(tail.bytes.len() <= 2 * 4 + chunk.len());
        }
        assert_eq!(tail.into_string(), "wxyz");
    }
}
