//! How results and errors reach the terminal.

use std::sync::Arc;

use indicatif::{ProgressBar, ProgressStyle};

use crate::app::App;
use crate::capability::ProgressUpdate;
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
pub fn spinner(message: String) -> ProgressBar {
    let bar = ProgressBar::new_spinner().with_message(message);
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar
}

/// A spinner for a step that calls plugins: what they report with
/// `log.progress` shows after its message, as a bar once a total is known.
/// Showing stops when it is dropped.
pub struct PluginProgress<'a> {
    app: &'a App,
    bar: ProgressBar,
}

impl<'a> PluginProgress<'a> {
    pub fn show(app: &'a App, message: String) -> PluginProgress<'a> {
        let bar = spinner(message.clone());
        let shown = bar.clone();
        app.show_progress(Some(Arc::new(move |update: &ProgressUpdate| {
            shown.set_message(format!("{message}: {}", update.label));
            match update.total {
                Some(total) if shown.length() != Some(total) => {
                    shown.set_style(ProgressStyle::with_template("{spinner} {msg} [{bar:30}] {pos}/{len}").expect("valid template").progress_chars("=> "));
                    shown.set_length(total);
                }
                _ => {}
            }
            shown.set_position(update.done);
        })));
        PluginProgress { app, bar }
    }
}

impl Drop for PluginProgress<'_> {
    fn drop(&mut self) {
        self.app.show_progress(None);
        self.bar.finish_and_clear();
    }
}
