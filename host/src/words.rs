//! Errors said in a reader's words, for messages of every room (a small
//! leaf: it imports nothing from the crate).

/// An I/O error as words in a sentence: "connection refused", not
/// `Os { code: 111, kind: ConnectionRefused, .. }` nor "(os error 111)".
pub fn io_words(error: &std::io::Error) -> String {
    let text = error.to_string();
    let text = text.split(" (os error ").next().unwrap_or(&text);
    let mut chars = text.chars();
    chars.next().map(|first| first.to_lowercase().chain(chars).collect()).unwrap_or_default()
}
