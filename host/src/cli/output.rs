//! How results and errors reach the terminal.

pub use crate::failure::Failure;

#[derive(Clone, Copy)]
pub struct Output {
    pub json: bool,
}

impl Output {
    /// Prints `value` as JSON, or `text()` for people; secrets masked either way.
    pub fn print<T: serde::Serialize>(&self, value: &T, text: impl FnOnce() -> String) {
        if self.json {
            println!("{}", crate::secrets::masked_json(value));
        } else {
            let text = text();
            if !text.is_empty() {
                println!("{}", crate::secrets::mask(&text));
            }
        }
    }
}


/// A spinner on stderr for a step of unknown length (hidden when not a TTY).
pub fn spinner(message: String) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new_spinner().with_message(message);
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar
}
