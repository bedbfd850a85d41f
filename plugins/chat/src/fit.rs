//! Making a message fit a service's size limit: whole items of the body while
//! they fit, then as much of the next one as fits, then "… and N more" for
//! the items left out. A cut never falls inside a character, a markdown link,
//! an inline code span or a backslash escape.

/// What is left out, as the last item.
fn more(left_out: usize) -> String {
    format!("… and {left_out} more")
}

/// `title` and `body` as sent: unchanged when `fits` takes them, else the
/// body cut (and the title only when even no body is too long). `None` when
/// nothing fits at all.
pub fn fit(title: &str, body: &str, fits: impl Fn(&str, &str) -> bool) -> Option<(String, String)> {
    if fits(title, body) {
        return Some((title.to_string(), body.to_string()));
    }
    // A body of paragraphs is cut between paragraphs; a body of lines between lines.
    let sep = if body.contains("\n\n") { "\n\n" } else { "\n" };
    let items: Vec<&str> = body.split(sep).collect();
    let n = items.len();
    let joined = |kept: &[&str], partial: Option<String>, left_out: usize| {
        let mut parts: Vec<String> = kept.iter().map(|s| s.to_string()).collect();
        parts.extend(partial);
        if left_out > 0 {
            parts.push(more(left_out));
        }
        parts.join(sep)
    };
    let whole = |k: usize| joined(&items[..k], None, n - k);
    let Some(kept) = largest(0, n, |k| fits(title, &whole(k))) else {
        // Even "… and N more" is too long beside the title: cut the title.
        let title_tokens = tokens(title);
        let cut = |t: usize| format!("{}…", title_tokens[..t].concat());
        return [whole(0), String::new()]
            .into_iter()
            .find_map(|body| largest(0, title_tokens.len(), |t| fits(&cut(t), &body)).map(|t| (cut(t), body)));
    };
    // The first item left out (`kept < n`: the whole body did not fit), cut where it may be.
    let tokens = tokens(items[kept]);
    let partial = |t: usize| joined(&items[..kept], Some(format!("{}…", tokens[..t].concat())), n - kept - 1);
    match largest(1, tokens.len(), |t| fits(title, &partial(t))) {
        Some(t) => Some((title.to_string(), partial(t))),
        None => Some((title.to_string(), whole(kept))),
    }
}

/// The largest `k` in `from..=to` with `ok(k)`, where `ok` holds up to some
/// point and not after; `None` when not even `ok(from)`.
fn largest(from: usize, to: usize, ok: impl Fn(usize) -> bool) -> Option<usize> {
    if from > to || !ok(from) {
        return None;
    }
    let (mut lo, mut hi) = (from, to);
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        if ok(mid) { lo = mid } else { hi = mid - 1 }
    }
    Some(lo)
}

/// `text` in pieces that may not be split: a markdown link or image
/// (`[text](url)`), an inline code span, a backslash escape, or one character.
fn tokens(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        let len = match c {
            '\\' => rest.chars().take(2).map(char::len_utf8).sum(),
            '[' | '!' => link_len(rest).unwrap_or(c.len_utf8()),
            '`' => rest[1..].find('`').map_or(1, |end| end + 2),
            _ => c.len_utf8(),
        };
        out.push(&rest[..len]);
        rest = &rest[len..];
    }
    out
}

/// The length of a `[text](url)` or `![alt](url)` at the start of `text`.
fn link_len(text: &str) -> Option<usize> {
    let start = usize::from(text.starts_with("!["));
    if !text[start..].starts_with('[') {
        return None;
    }
    let after_text = text[start..].find("](")? + start;
    if text[start + 1..after_text].contains(['\n', ']']) {
        return None;
    }
    let close = text[after_text..].find(')')? + after_text;
    (!text[after_text..close].contains(char::is_whitespace)).then_some(close + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A service taking `max` characters of title + "\n" + body.
    fn chars(max: usize) -> impl Fn(&str, &str) -> bool {
        move |title, body| title.chars().count() + 1 + body.chars().count() <= max
    }

    #[test]
    fn a_message_that_fits_is_unchanged() {
        assert_eq!(fit("t", "a\nb", chars(10)), Some(("t".into(), "a\nb".into())));
    }

    #[test]
    fn whole_items_then_a_cut_one_then_how_many_are_left_out() {
        let body = "2 failed\n\nFAIL a: refused\n\nFAIL b: refused\n\nFAIL c: refused";
        let (_, cut) = fit("t", body, chars(2 + 8 + 2 + 15 + 2 + 8 + 2 + 12)).unwrap();
        assert_eq!(cut, "2 failed\n\nFAIL a: refused\n\nFAIL b:…\n\n… and 1 more");
        let (_, lines) = fit("t", "one\ntwo\nthree\nfourfourfourfour", chars(2 + 23)).unwrap();
        assert_eq!(lines, "one\ntwo\nt…\n… and 1 more");
        let (_, lines) = fit("t", "one\ntwo\nthree\nfourfourfourfour", chars(2 + 22)).unwrap();
        assert_eq!(lines, "one\ntwo\n… and 2 more", "no room for a piece of `three`");
    }

    #[test]
    fn cuts_never_split_a_character_a_link_or_an_escape() {
        let body = "ünïcødé [the run](https://ops.example/runs/42) \\*not bold\\* `a b c`";
        for max in 2..body.chars().count() + 2 {
            let Some((_, cut)) = fit("", body, chars(max)) else { continue };
            let shown = cut.trim_end_matches('…');
            assert!(body.starts_with(shown), "{max}: {cut}");
            let opened = shown.matches('[').count();
            assert!(opened == 0 || shown.contains("(https://ops.example/runs/42)"), "a link is whole or absent: {cut}");
            assert!(!shown.ends_with('\\'), "an escape is whole: {cut}");
            assert_eq!(shown.matches('`').count() % 2, 0, "a code span is whole: {cut}");
        }
    }

    #[test]
    fn a_title_too_long_is_cut_and_nothing_fitting_is_none() {
        let (title, body) = fit("a very long title", "x", chars(8)).unwrap();
        assert_eq!((title.as_str(), body.as_str()), ("a very…", ""), "not even \"… and 1 more\" fits");
        let (title, body) = fit("a very long title", &"x".repeat(20), chars(20)).unwrap();
        assert_eq!((title.as_str(), body.as_str()), ("a very…", "… and 1 more"));
        assert_eq!(fit("title", "body", |_, _| false), None);
    }
}
