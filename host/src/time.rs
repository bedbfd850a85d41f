//! Timestamps as people and logs read them.

/// `YYYY-MM-DDTHH:MM:SSZ` for seconds since the Unix epoch (UTC).
pub fn rfc3339(secs: u64) -> String {
    let at = i64::try_from(secs).ok().and_then(|s| jiff::Timestamp::from_second(s).ok()).unwrap_or(jiff::Timestamp::MAX);
    at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A span as a person reads it in a progress line: `0.4s`, `12.0s`, `2m05s`, `1h02m`.
pub fn elapsed(span: std::time::Duration) -> String {
    let secs = span.as_secs();
    match secs {
        0..60 => format!("{:.1}s", span.as_secs_f64()),
        60..3600 => format!("{}m{:02}s", secs / 60, secs % 60),
        _ => format!("{}h{:02}m", secs / 3600, secs % 3600 / 60),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn spans_as_people_read_them() {
        use std::time::Duration;
        assert_eq!(super::elapsed(Duration::from_millis(420)), "0.4s");
        assert_eq!(super::elapsed(Duration::from_secs(125)), "2m05s");
        assert_eq!(super::elapsed(Duration::from_secs(3720)), "1h02m");
    }


    #[test]
    fn known_dates() {
        assert_eq!(super::rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::rfc3339(1_795_000_000), "2026-11-18T11:06:40Z");
        assert_eq!(super::rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }
}
