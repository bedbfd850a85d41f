//! What every page `bosun serve` renders starts with: the dashboard's
//! stylesheet (and, for its pages, its one script), nothing from elsewhere.

use maud::{Markup, html};

pub fn head(title: &str, script: bool) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " · bosun" }
            link rel="stylesheet" href="/assets/style.css";
            @if script { script src="/assets/live.js" defer {} }
        }
    }
}
