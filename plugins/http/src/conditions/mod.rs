//! Gatus-style conditions: parse `[STATUS] == 200` once, evaluate it against
//! a response. Pure Rust (no host calls), so it is unit-tested on the host,
//! against Gatus's own condition cases among others (`gatus_cases.json`).
//!
//! Placeholders (names in any case): `[STATUS]`, `[RESPONSE_TIME]` (ms),
//! `[BODY]`, `[BODY].a.b[0]` (JSON path), `[HEADER].name`, `[CONNECTED]`,
//! `[CERTIFICATE_EXPIRATION]` (time left on the server's TLS certificate, e.g.
//! `29d23h59m`; 0 on plain http, as in Gatus), or `len(<one of these>)` (a
//! JSON array's elements, else characters) or `has(<one of these>)` (`true`
//! when it exists). Operators: `==`, `!=`, `<`, `<=`, `>`, `>=`. Either side
//! may be a placeholder, a value, `pat(glob)` with `*` and `?`, or
//! `any(a, b, ...)`; one side at least must be a placeholder. `==` compares
//! integers (`12`, `0x1F`, `0o17`, `0b1010`) as numbers and everything else as
//! text; the ordering operators compare numbers, durations (`48h`, `1s`,
//! `500ms`) in milliseconds.
//!
//! Where bosun differs from Gatus on purpose, it refuses at load what Gatus
//! would quietly evaluate: an unknown placeholder (Gatus compares it as text),
//! a non-number beside `<` (Gatus reads it as 0), a condition without any
//! placeholder. It keeps fractions when ordering (Gatus cuts them off).

#[cfg(test)]
mod gatus_parity;
mod parse;

use std::fmt;

use bosun_sdk::serde_json::Value;

pub use parse::parse_all;
// One condition at a time: only the tests parse them singly.
#[cfg(test)]
use parse::parse;

/// A parsed condition.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    /// As configured.
    pub text: String,
    left: Operand,
    left_text: String,
    op: Op,
    right: Operand,
    right_text: String,
}

/// One side of a condition.
#[derive(Debug, Clone, PartialEq)]
enum Operand {
    /// A value read from the response, maybe through `len()` or `has()`.
    Probe { fun: Fun, place: Placeholder },
    Value(String),
    Pat(String),
    Any(Vec<String>),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Fun {
    Value,
    Len,
    /// `true` when the value exists (`has([BODY].errors) == false`).
    Has,
}

#[derive(Debug, Clone, PartialEq)]
enum Placeholder {
    Status,
    ResponseTime,
    Connected,
    CertificateExpiration,
    Body(Vec<Seg>),
    Header(String),
}

#[derive(Debug, Clone, PartialEq)]
enum Seg {
    Key(String),
    Index(usize),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// Why a condition does not parse; `column` is 1-based, in characters.
#[derive(Debug, Clone, PartialEq)]
pub struct ParseError {
    pub condition: String,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "condition `{}`: {} at column {}", self.condition, self.message, self.column)
    }
}

/// What the request produced, to evaluate conditions against.
#[derive(Debug, Clone, Default)]
pub struct Observed<'a> {
    pub status: Option<u16>,
    pub response_time_ms: Option<u64>,
    pub headers: &'a [(String, String)],
    pub body: Option<&'a str>,
    /// Why there is no response, when there is none.
    pub error: Option<&'a str>,
    /// Milliseconds until the server's certificate expires (negative when it
    /// has; 0 on plain http), or why that is unknown; `None` when no
    /// condition asked for it.
    pub certificate_expiration_ms: Option<Result<i64, String>>,
}

/// The result of evaluating one condition.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The value of the placeholder side (`404`, `312`; both, as `john vs doe`,
    /// when both sides are placeholders), or `(none)` when it could not be had.
    pub actual: String,
    pub passed: bool,
    /// For a failed condition: the condition with its actual values
    /// (`[STATUS] (404) == 200`) or why it could not be evaluated.
    pub message: Option<String>,
}

const PLACEHOLDERS: &str = "[STATUS], [RESPONSE_TIME], [BODY], [BODY].<json.path>, [HEADER].<name>, [CONNECTED], [CERTIFICATE_EXPIRATION]";

/// An integer as Go's `strconv.ParseInt(s, 0, 64)` reads it for Gatus:
/// decimal, or `0x`/`0o`/`0b` with a sign before.
fn integer(s: &str) -> Option<i64> {
    let s = s.trim();
    let (negative, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let prefixed = |prefix: [&str; 2], radix| prefix.iter().find_map(|p| digits.strip_prefix(p)).map(|rest| (rest, radix));
    let (rest, radix) = prefixed(["0x", "0X"], 16).or_else(|| prefixed(["0o", "0O"], 8)).or_else(|| prefixed(["0b", "0B"], 2)).unwrap_or((digits, 10));
    if rest.is_empty() || !rest.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = i64::from_str_radix(rest, radix).ok()?;
    Some(if negative { -magnitude } else { magnitude })
}

/// A number (an integer as [`integer`] reads it, or a decimal), or a duration
/// (`48h`, `1m30s`, `-2d`, `500ms`) in milliseconds.
fn number(s: &str) -> Option<f64> {
    let s = s.trim();
    integer(s).map(|n| n as f64).or_else(|| s.parse::<f64>().ok()).or_else(|| duration_ms(s)).filter(|n| n.is_finite())
}

fn duration_ms(text: &str) -> Option<f64> {
    let (sign, mut rest) = match text.strip_prefix('-') {
        Some(rest) => (-1.0, rest),
        None => (1.0, text),
    };
    if rest.is_empty() {
        return None;
    }
    let mut total = 0.0;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit() && c != '.').filter(|&n| n > 0)?;
        let value: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit = ["ms", "s", "m", "h", "d"].into_iter().find(|u| rest.starts_with(u))?;
        rest = &rest[unit.len()..];
        total += value
            * match unit {
                "ms" => 1.0,
                "s" => 1e3,
                "m" => 60e3,
                "h" => 3600e3,
                _ => 86_400e3,
            };
    }
    Some(sign * total)
}

/// Milliseconds as `29d23h59m` (to the minute), or `42s` / `350ms` when shorter.
pub fn format_duration(ms: i64) -> String {
    let sign = if ms < 0 { "-" } else { "" };
    let ms = ms.unsigned_abs();
    if ms < 1000 {
        return format!("{sign}{ms}ms");
    }
    if ms < 60_000 {
        return format!("{sign}{}s", ms / 1000);
    }
    let minutes = ms / 60_000;
    let (d, h, m) = (minutes / 1440, minutes / 60 % 24, minutes % 60);
    let mut text = String::from(sign);
    for (n, unit) in [(d, "d"), (h, "h"), (m, "m")] {
        if n > 0 {
            text.push_str(&format!("{n}{unit}"));
        }
    }
    text
}

impl Condition {
    /// Does evaluating this need the server's certificate?
    pub fn needs_certificate(&self) -> bool {
        [&self.left, &self.right].into_iter().any(|o| matches!(o, Operand::Probe { place: Placeholder::CertificateExpiration, .. }))
    }

    /// Evaluate against what the request produced. Never panics; a value that
    /// cannot be had fails the condition with a message.
    pub fn evaluate(&self, obs: &Observed<'_>) -> Outcome {
        let (left, right) = match (self.left.resolve(obs), self.right.resolve(obs)) {
            (Ok(left), Ok(right)) => (left, right),
            (Err(why), _) | (_, Err(why)) => return Outcome { actual: "(none)".into(), passed: false, message: Some(why) },
        };
        let actual = [&left, &right].iter().filter_map(|side| side.probed()).collect::<Vec<_>>().join(" vs ");
        let passed = match self.op {
            Op::Eq => matches(&left, &right),
            Op::Ne => !matches(&left, &right),
            op => {
                let numbers = [(&left, &self.left_text), (&right, &self.right_text)].map(|(side, text)| side.number().ok_or((side, text)));
                let (a, b) = match numbers {
                    [Ok(a), Ok(b)] => (a, b),
                    [Err((side, text)), _] | [_, Err((side, text))] => {
                        let shown = side.probed().unwrap_or_default();
                        return Outcome { message: Some(format!("{text} is `{}`, not a number", shorten(&shown))), actual, passed: false };
                    }
                };
                match op {
                    Op::Lt => a < b,
                    Op::Le => a <= b,
                    Op::Gt => a > b,
                    _ => a >= b,
                }
            }
        };
        let message = (!passed).then(|| self.render(&left, &right));
        Outcome { actual, passed, message }
    }

    /// `[STATUS] (404) == 200`: each placeholder side with its value.
    fn render(&self, left: &Side, right: &Side) -> String {
        let op = match self.op {
            Op::Eq => "==",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
        };
        let show = |side: &Side, text: &str| match side.probed() {
            Some(value) => format!("{text} ({})", shorten(&value)),
            None => text.to_string(),
        };
        format!("{} {op} {}", show(left, &self.left_text), show(right, &self.right_text))
    }
}

/// An operand once the response is known.
enum Side<'a> {
    /// A placeholder's value.
    Probed(Val),
    Value(&'a str),
    Pat(&'a str),
    Any(&'a [String]),
}

impl Side<'_> {
    /// The value read from the response, as shown to people.
    fn probed(&self) -> Option<String> {
        match self {
            Side::Probed(v) => Some(v.text()),
            _ => None,
        }
    }

    fn number(&self) -> Option<f64> {
        match self {
            Side::Probed(Val::Millis(ms)) => Some(*ms as f64),
            Side::Probed(v) => number(&v.text()),
            Side::Value(v) => number(v),
            Side::Pat(_) | Side::Any(_) => None,
        }
    }
}

impl Operand {
    fn resolve(&self, obs: &Observed<'_>) -> Result<Side<'_>, String> {
        Ok(match self {
            Operand::Probe { fun: Fun::Value, place } => Side::Probed(resolve(place, obs)?),
            Operand::Probe { fun: Fun::Len, place } => Side::Probed(Val::Text(resolve(place, obs)?.len().to_string())),
            Operand::Probe { fun: Fun::Has, place } => Side::Probed(Val::Text(resolve(place, obs).is_ok().to_string())),
            Operand::Value(v) => Side::Value(v),
            Operand::Pat(glob) => Side::Pat(glob),
            Operand::Any(items) => Side::Any(items),
        })
    }
}

/// `==` between two sides: a pattern or a list on either side, else values.
fn matches(left: &Side, right: &Side) -> bool {
    match (left, right) {
        (Side::Pat(glob), other) | (other, Side::Pat(glob)) => other.probed().is_some_and(|text| glob_match(glob, &text)),
        (Side::Any(items), other) | (other, Side::Any(items)) => items.iter().any(|item| equal(other, &Side::Value(item))),
        _ => equal(left, right),
    }
}

/// Durations compare by length; integers (`0x1F` too) as numbers; the rest as text.
fn equal(a: &Side, b: &Side) -> bool {
    if matches!(a, Side::Probed(Val::Millis(_))) || matches!(b, Side::Probed(Val::Millis(_))) {
        return a.number().is_some() && a.number() == b.number();
    }
    let text = |side: &Side| match side {
        Side::Value(v) => v.to_string(),
        other => other.probed().unwrap_or_default(),
    };
    let (a, b) = (text(a), text(b));
    match (integer(&a), integer(&b)) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

/// A resolved placeholder.
enum Val {
    Text(String),
    Json(Value),
    /// A duration (the certificate's time left), shown as `29d23h59m`.
    Millis(i64),
}

impl Val {
    fn text(&self) -> String {
        match self {
            Val::Text(s) => s.clone(),
            Val::Json(Value::String(s)) => s.clone(),
            Val::Json(v) => v.to_string(),
            Val::Millis(ms) => format_duration(*ms),
        }
    }

    /// What `len()` gives: a JSON array's elements (the whole body's too, as
    /// in Gatus), else the characters of the value's text (an object's as
    /// compact JSON).
    fn len(&self) -> usize {
        match self {
            Val::Json(Value::Array(items)) => items.len(),
            Val::Text(body) if body.starts_with('[') && body.ends_with(']') => {
                bosun_sdk::serde_json::from_str::<Vec<Value>>(body).map_or_else(|_| body.chars().count(), |items| items.len())
            }
            Val::Millis(ms) => ms.to_string().len(),
            other => other.text().chars().count(),
        }
    }
}

fn resolve(p: &Placeholder, obs: &Observed<'_>) -> Result<Val, String> {
    let no_response = || format!("no response: {}", obs.error.unwrap_or("request failed"));
    match p {
        Placeholder::Connected => Ok(Val::Text(obs.status.is_some().to_string())),
        Placeholder::CertificateExpiration => match &obs.certificate_expiration_ms {
            Some(Ok(ms)) => Ok(Val::Millis(*ms)),
            Some(Err(why)) => Err(why.clone()),
            None => Err("the certificate was not read".into()),
        },
        Placeholder::Status => obs.status.map(|s| Val::Text(s.to_string())).ok_or_else(no_response),
        Placeholder::ResponseTime => obs
            .response_time_ms
            .filter(|_| obs.status.is_some())
            .map(|t| Val::Text(t.to_string()))
            .ok_or_else(no_response),
        Placeholder::Header(name) => {
            obs.status.ok_or_else(no_response)?;
            obs.headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| Val::Text(v.clone()))
                .ok_or_else(|| format!("no header `{name}` in the response"))
        }
        Placeholder::Body(path) => {
            // Surrounding whitespace is not part of the value, as in Gatus.
            let body = obs.body.ok_or_else(no_response)?.trim();
            if path.is_empty() {
                return Ok(Val::Text(body.to_string()));
            }
            let json: Value = bosun_sdk::serde_json::from_str(body)
                .map_err(|e| format!("body is not JSON ({e}): `{}`", shorten(body)))?;
            let mut cur = &json;
            let mut walked = String::from("[BODY]");
            for seg in path {
                let next = match seg {
                    Seg::Key(k) => {
                        walked.push('.');
                        walked.push_str(k);
                        cur.get(k.as_str())
                    }
                    Seg::Index(i) => {
                        walked.push_str(&format!("[{i}]"));
                        cur.get(*i)
                    }
                };
                cur = next.ok_or_else(|| format!("no value at {walked} in the body"))?;
            }
            // A null is no value: Gatus's JSON path finds nothing there either.
            if cur.is_null() {
                return Err(format!("{walked} is null in the body"));
            }
            Ok(Val::Json(cur.clone()))
        }
    }
}

/// Glob with `*` (any run, also empty) and `?` (one character).
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// At most 80 characters of `s`, for messages.
fn shorten(s: &str) -> String {
    if s.chars().count() <= 80 {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(80).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(status: u16, ms: u64, headers: &[(String, String)], body: &'static str) -> Observed<'static> {
        let headers: &'static [(String, String)] = Box::leak(headers.to_vec().into_boxed_slice());
        Observed { status: Some(status), response_time_ms: Some(ms), headers, body: Some(body), ..Default::default() }
    }

    fn eval(cond: &str, obs: &Observed<'_>) -> Outcome {
        parse(cond).unwrap().evaluate(obs)
    }

    #[test]
    fn status_and_rendering() {
        let o = ok(404, 12, &[], "");
        let r = eval("[STATUS] == 200", &o);
        assert_eq!(r.actual, "404");
        assert!(!r.passed);
        assert_eq!(r.message.as_deref(), Some("[STATUS] (404) == 200"));
        assert!(eval("[STATUS]!=200", &o).passed);
        assert!(eval("[STATUS] >= 400", &o).passed);
        assert!(eval("[STATUS] == any(404, 410)", &o).passed);
        assert!(eval("[STATUS] == pat(4*)", &o).passed);
        assert!(eval("[STATUS] != pat(2??)", &o).passed);
    }

    #[test]
    fn certificate_expiration_and_durations() {
        let mut o = ok(200, 1500, &[], "");
        o.certificate_expiration_ms = Some(Ok(30 * 86_400_000 - 60_000));
        let r = eval("[CERTIFICATE_EXPIRATION] > 720h", &o);
        assert_eq!(r.actual, "29d23h59m");
        assert!(!r.passed);
        assert_eq!(r.message.as_deref(), Some("[CERTIFICATE_EXPIRATION] (29d23h59m) > 720h"));
        assert!(eval("[CERTIFICATE_EXPIRATION] > 48h", &o).passed);
        assert!(eval("[RESPONSE_TIME] < 2s", &o).passed);
        assert!(!eval("[RESPONSE_TIME] < 1s500ms", &o).passed);
        o.certificate_expiration_ms = Some(Ok(-2 * 86_400_000));
        assert_eq!(eval("[CERTIFICATE_EXPIRATION] > 0", &o).message.as_deref(), Some("[CERTIFICATE_EXPIRATION] (-2d) > 0"));
        o.certificate_expiration_ms = Some(Err("http://x is not https".into()));
        let r = eval("[CERTIFICATE_EXPIRATION] > 48h", &o);
        assert_eq!((r.actual.as_str(), r.passed, r.message.as_deref()), ("(none)", false, Some("http://x is not https")));
        assert!(parse("[CERTIFICATE_EXPIRATION] > 48h").unwrap().needs_certificate());
        assert!(!parse("[STATUS] == 200").unwrap().needs_certificate());
        assert!(parse("[RESPONSE_TIME] < 5x").is_err());
        assert_eq!((format_duration(350), format_duration(42_000), format_duration(3_600_000)), ("350ms".into(), "42s".into(), "1h".into()));
    }

    #[test]
    fn response_time() {
        let o = ok(200, 312, &[], "");
        assert!(eval("[RESPONSE_TIME] < 500", &o).passed);
        let r = eval("[RESPONSE_TIME] <= 300", &o);
        assert!(!r.passed);
        assert_eq!(r.message.as_deref(), Some("[RESPONSE_TIME] (312) <= 300"));
        assert!(!eval("[RESPONSE_TIME] > 312.0", &o).passed);
    }

    #[test]
    fn body_header_json() {
        let h = [("Content-Type".to_string(), "application/json; charset=utf-8".to_string())];
        let o = ok(200, 1, &h, r#"{"status":"UP","items":[{"id":7}],"n":3}"#);
        assert!(eval("[HEADER].content-type == pat(application/json*)", &o).passed);
        assert!(eval("[BODY].status == UP", &o).passed);
        assert!(eval("[BODY].items[0].id == 7", &o).passed);
        assert!(eval("len([BODY].items) == 1", &o).passed);
        assert!(eval("[BODY].n > 2", &o).passed);
        assert!(eval("[BODY] == pat(*\"UP\"*)", &o).passed);
        assert!(eval("has([BODY].items) == true", &o).passed);
        let r = eval("has([BODY].errors) == true", &o);
        assert_eq!((r.actual.as_str(), r.message.as_deref()), ("false", Some("has([BODY].errors) (false) == true")));
        assert!(parse("has([BODY].errors == false").unwrap_err().message.contains("expected `)` closing `has(`"));
        let r = eval("[BODY].missing.x == 1", &o);
        assert!(!r.passed);
        assert_eq!(r.actual, "(none)");
        assert_eq!(r.message.as_deref(), Some("no value at [BODY].missing in the body"));
        let r = eval("[HEADER].x-nope == 1", &o);
        assert_eq!(r.message.as_deref(), Some("no header `x-nope` in the response"));
        let t = ok(200, 1, &[], "hello world");
        assert!(eval("[BODY] == hello world", &t).passed);
        assert!(eval("len([BODY]) == 11", &t).passed);
        let r = eval("[BODY].a == 1", &t);
        assert!(r.message.unwrap().starts_with("body is not JSON"));
        let r = eval("[BODY] > 3", &t);
        assert_eq!(r.message.as_deref(), Some("[BODY] is `hello world`, not a number"));
    }

    #[test]
    fn no_response() {
        let o = Observed { error: Some("connection refused"), ..Default::default() };
        let r = eval("[STATUS] == 200", &o);
        assert!(!r.passed);
        assert_eq!(r.message.as_deref(), Some("no response: connection refused"));
        assert!(eval("[CONNECTED] == false", &o).passed);
        assert!(!eval("[RESPONSE_TIME] < 100", &o).passed);
    }

    #[test]
    fn parse_errors() {
        let e = parse("[STATUS] === 200").unwrap_err();
        assert_eq!(e.column, 12);
        assert!(e.message.contains("unexpected `=`"), "{}", e.message);
        let e = parse("[STATUS] = 200").unwrap_err();
        assert_eq!(e.column, 10);
        assert_eq!(
            e.to_string(),
            "condition `[STATUS] = 200`: expected an operator (==, !=, <, <=, >, >=) at column 10"
        );
        let e = parse("[STATU] == 200").unwrap_err();
        assert_eq!(e.column, 1);
        assert!(e.message.starts_with("unknown placeholder `[STATU]`"));
        assert_eq!(parse("[STATUS] ==").unwrap_err().column, 12);
        assert_eq!(parse("[RESPONSE_TIME] < fast").unwrap_err().column, 19);
        assert_eq!(parse("[STATUS] < pat(2*)").unwrap_err().column, 12);
        assert_eq!(parse("len([BODY] == 1").unwrap_err().column, 11);
        assert_eq!(parse("STATUS == 200").unwrap_err().column, 1);
        assert_eq!(parse("[HEADER] == x").unwrap_err().column, 9);
        assert_eq!(parse("[BODY].a[x] == 1").unwrap_err().column, 10);
        assert_eq!(parse("   ").unwrap_err().message, "empty condition");
    }

    #[test]
    fn gatus_forms_either_side_any_case_and_prefixed_integers() {
        let o = ok(429, 5, &[], r#"{"age":7,"id":7,"status":"0x1F","user":{"first":"ann","last":"bo"},"tags":["a","b","c"],"n":null}"#);
        assert!(eval("any(200, 429) == [STATUS]", &o).passed);
        assert!(eval("pat(4*) == [status]", &o).passed, "placeholder names in any case");
        assert!(eval("[Body].age == [BODY].id", &o).passed);
        let r = eval("[BODY].user.first == [BODY].user.last", &o);
        assert_eq!((r.actual.as_str(), r.message.as_deref()), ("ann vs bo", Some("[BODY].user.first (ann) == [BODY].user.last (bo)")));
        assert!(eval("[BODY].status == 31", &o).passed, "0x1F is 31");
        assert!(eval("[BODY].status > 0b11110", &o).passed);
        assert!(eval("[BODY].status == 0o37", &o).passed);
        assert!(!eval("[BODY].age == 7.0", &o).passed, "only integers are equal as numbers, as in Gatus");
        assert!(eval("len([BODY].tags) == 3", &o).passed);
        assert!(eval("has([BODY].n) == false", &o).passed, "a null is no value");
        let array = ok(200, 1, &[], " [1, 2, 3]\n");
        assert!(eval("len([BODY]) == 3", &array).passed, "a JSON array body counts elements");
        assert!(eval("[BODY] == hi", &ok(200, 1, &[], " hi\n")).passed, "the body is trimmed, as in Gatus");
        assert_eq!((integer("-0x10"), integer("0b"), integer("1_0")), (Some(-16), None, None));
    }

    #[test]
    fn plain_http_certificates_read_as_zero() {
        let mut o = ok(200, 1, &[], "");
        o.certificate_expiration_ms = Some(Ok(0));
        assert!(eval("[CERTIFICATE_EXPIRATION] == 0", &o).passed);
        let r = eval("[CERTIFICATE_EXPIRATION] > 48h", &o);
        assert_eq!((r.actual.as_str(), r.message.as_deref()), ("0ms", Some("[CERTIFICATE_EXPIRATION] (0ms) > 48h")));
    }

    #[test]
    fn every_bad_condition_is_reported_and_fixed_values_are_refused() {
        let texts: Vec<String> = ["[STATUS] == 200", "[STATU] == 200", "[RESPONSE_TIME] < potato", "1 == 2", "pat(2*) == any(1)"].map(String::from).to_vec();
        let errors = parse_all(&texts).unwrap_err();
        assert_eq!(errors.iter().map(|e| e.condition.as_str()).collect::<Vec<_>>(), &texts[1..]);
        assert!(errors[1].message.contains("`potato` is not one"), "{}", errors[1].message);
        assert!(errors[2].message.contains("compares two fixed values"), "{}", errors[2].message);
        assert_eq!(parse_all(&texts[..1]).unwrap().len(), 1);
        assert!(parse("pat(*a=b (c)*) == [BODY]").unwrap().evaluate(&ok(200, 1, &[], "xa=b (c)y")).passed, "a pattern may hold `=` and `)`");
        assert!(parse("[BODY] == [STATUS] x").unwrap_err().message.contains("unexpected `x`"));
    }

    #[test]
    fn globs() {
        assert!(glob_match("*", ""));
        assert!(glob_match("a*c", "abbbc"));
        assert!(glob_match("*ok*", "all ok here"));
        assert!(!glob_match("a?c", "ac"));
        assert!(glob_match("a*b*c", "axxbyyc"));
        assert!(!glob_match("a*b*c", "axxbyy"));
    }
}
