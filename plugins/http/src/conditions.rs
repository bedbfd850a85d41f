//! Gatus-style conditions: parse `[STATUS] == 200` once, evaluate it against
//! a response. Pure Rust (no host calls), so it is unit-tested on the host.
//!
//! Left side: `[STATUS]`, `[RESPONSE_TIME]` (ms), `[BODY]`, `[BODY].a.b[0]`
//! (JSON path), `[HEADER].name`, `[CONNECTED]`, `[CERTIFICATE_EXPIRATION]`
//! (time left on the server's TLS certificate, e.g. `29d23h59m`), or
//! `len(<one of these>)` or `has(<one of these>)` (`true` when it exists). Operators: `==`, `!=`, `<`, `<=`, `>`, `>=` (the
//! ordering ones compare numbers). Right side: a value (compared as numbers
//! when both sides are numbers or durations like `48h`, `1s`, `500ms`, in
//! milliseconds; else as text), `pat(glob)` with `*` and `?`, or
//! `any(a, b, ...)`.

use std::fmt;

use bosun_sdk::serde_json::Value;

/// A parsed condition.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    /// As configured.
    pub text: String,
    lhs: Lhs,
    lhs_text: String,
    op: Op,
    rhs: Rhs,
    rhs_text: String,
}

#[derive(Debug, Clone, PartialEq)]
enum Lhs {
    Value(Placeholder),
    Len(Placeholder),
    /// `true` when the value exists (`has([BODY].errors) == false`).
    Has(Placeholder),
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

#[derive(Debug, Clone, PartialEq)]
enum Rhs {
    Value(String),
    Pat(String),
    Any(Vec<String>),
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
    /// has), or why that is unknown; `None` when no condition asked for it.
    pub certificate_expiration_ms: Option<Result<i64, String>>,
}

/// The result of evaluating one condition.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The value the condition was evaluated against (`404`, `312`), or
    /// `(none)` when it could not be had.
    pub actual: String,
    pub passed: bool,
    /// For a failed condition: the condition with its actual value
    /// (`[STATUS] (404) == 200`) or why it could not be evaluated.
    pub message: Option<String>,
}

const PLACEHOLDERS: &str = "[STATUS], [RESPONSE_TIME], [BODY], [BODY].<json.path>, [HEADER].<name>, [CONNECTED], [CERTIFICATE_EXPIRATION]";
const OPERATORS: &str = "==, !=, <, <=, >, >=";

/// Parse one condition.
pub fn parse(text: &str) -> Result<Condition, ParseError> {
    Parser { text, chars: text.chars().collect(), pos: 0 }.condition()
}

struct Parser<'a> {
    text: &'a str,
    chars: Vec<char>,
    pos: usize,
}

impl Parser<'_> {
    fn err<T>(&self, at: usize, message: impl Into<String>) -> Result<T, ParseError> {
        Err(ParseError { condition: self.text.to_string(), column: at + 1, message: message.into() })
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn rest_starts_with(&self, s: &str) -> bool {
        (self.pos..).zip(s.chars()).all(|(i, c)| self.chars.get(i) == Some(&c))
    }

    fn eat(&mut self, s: &str) -> bool {
        if self.rest_starts_with(s) {
            self.pos += s.chars().count();
            true
        } else {
            false
        }
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn slice(&self, from: usize, to: usize) -> String {
        self.chars[from..to].iter().collect()
    }

    fn condition(mut self) -> Result<Condition, ParseError> {
        self.skip_ws();
        if self.peek().is_none() {
            return self.err(self.pos, "empty condition");
        }
        let lhs_start = self.pos;
        let lhs = if let Some(function) = ["len(", "has("].into_iter().find(|f| self.eat(f)) {
            let p = self.placeholder()?;
            if !self.eat(")") {
                return self.err(self.pos, format!("expected `)` closing `{function}`"));
            }
            if function == "len(" { Lhs::Len(p) } else { Lhs::Has(p) }
        } else {
            Lhs::Value(self.placeholder()?)
        };
        let lhs_text = self.slice(lhs_start, self.pos);
        self.skip_ws();
        let op_at = self.pos;
        let op = if self.eat("==") {
            Op::Eq
        } else if self.eat("!=") {
            Op::Ne
        } else if self.eat("<=") {
            Op::Le
        } else if self.eat(">=") {
            Op::Ge
        } else if self.eat("<") {
            Op::Lt
        } else if self.eat(">") {
            Op::Gt
        } else {
            return self.err(op_at, format!("expected an operator ({OPERATORS})"));
        };
        let op_text = self.slice(op_at, self.pos);
        self.skip_ws();
        let rhs_at = self.pos;
        let rhs_text = self.slice(rhs_at, self.chars.len()).trim_end().to_string();
        if rhs_text.is_empty() {
            return self.err(rhs_at, format!("expected a value after `{op_text}`"));
        }
        // `=== 200` or `=> 5` is a mistyped operator, not a value starting with `=`.
        if rhs_text.starts_with(['=', '<', '>', '!']) {
            return self.err(rhs_at, format!("unexpected `{}` after `{op_text}`; operators are {OPERATORS}", &rhs_text[..1]));
        }
        let rhs = if let Some(inner) = func_arg(&rhs_text, "pat") {
            Rhs::Pat(inner.to_string())
        } else if let Some(inner) = func_arg(&rhs_text, "any") {
            let items: Vec<String> = inner.split(',').map(|s| s.trim().to_string()).collect();
            if items.iter().any(String::is_empty) {
                return self.err(rhs_at, "empty value in `any(...)`");
            }
            Rhs::Any(items)
        } else if rhs_text.starts_with("pat(") || rhs_text.starts_with("any(") {
            return self.err(rhs_at + rhs_text.chars().count(), "expected `)` at the end");
        } else {
            Rhs::Value(rhs_text.clone())
        };
        if matches!(op, Op::Lt | Op::Le | Op::Gt | Op::Ge) {
            match &rhs {
                Rhs::Value(v) if number(v).is_some() => {}
                _ => return self.err(rhs_at, format!("`{op_text}` needs a number on the right, got `{rhs_text}`")),
            }
        }
        Ok(Condition { text: self.text.to_string(), lhs, lhs_text, op, rhs, rhs_text })
    }

    fn placeholder(&mut self) -> Result<Placeholder, ParseError> {
        let start = self.pos;
        if self.peek() != Some('[') {
            return self.err(start, format!("expected a placeholder ({PLACEHOLDERS}), len(...) or has(...)"));
        }
        let Some(close) = self.chars[start..].iter().position(|&c| c == ']') else {
            return self.err(start, "expected `]`");
        };
        let name = self.slice(start, start + close + 1);
        self.pos = start + close + 1;
        match name.as_str() {
            "[STATUS]" => Ok(Placeholder::Status),
            "[RESPONSE_TIME]" => Ok(Placeholder::ResponseTime),
            "[CONNECTED]" => Ok(Placeholder::Connected),
            "[CERTIFICATE_EXPIRATION]" => Ok(Placeholder::CertificateExpiration),
            "[BODY]" => Ok(Placeholder::Body(self.json_path()?)),
            "[HEADER]" => {
                if !self.eat(".") {
                    return self.err(self.pos, "expected `.<header-name>` after [HEADER]");
                }
                let from = self.pos;
                while self.peek().is_some_and(|c| c.is_ascii_alphanumeric() || "-_".contains(c)) {
                    self.pos += 1;
                }
                if self.pos == from {
                    return self.err(from, "expected a header name");
                }
                Ok(Placeholder::Header(self.slice(from, self.pos)))
            }
            other => self.err(start, format!("unknown placeholder `{other}` (known: {PLACEHOLDERS})")),
        }
    }

    /// `.a.b[0].c` after `[BODY]`, up to whitespace or an operator.
    fn json_path(&mut self) -> Result<Vec<Seg>, ParseError> {
        let mut segs = Vec::new();
        loop {
            if self.eat(".") {
                let from = self.pos;
                while self.peek().is_some_and(|c| !c.is_whitespace() && !".[]=!<>()".contains(c)) {
                    self.pos += 1;
                }
                if self.pos == from {
                    return self.err(from, "expected a key after `.`");
                }
                segs.push(Seg::Key(self.slice(from, self.pos)));
            } else if self.peek() == Some('[') {
                let from = self.pos + 1;
                let Some(len) = self.chars[from..].iter().position(|&c| c == ']') else {
                    return self.err(self.pos, "expected `]`");
                };
                let idx = self.slice(from, from + len);
                let Ok(i) = idx.parse::<usize>() else {
                    return self.err(from, format!("expected an array index, got `{idx}`"));
                };
                segs.push(Seg::Index(i));
                self.pos = from + len + 1;
            } else {
                return Ok(segs);
            }
        }
    }
}

/// `name(inner)` → `inner`.
fn func_arg<'a>(s: &'a str, name: &str) -> Option<&'a str> {
    s.strip_prefix(name)?.strip_prefix('(')?.strip_suffix(')')
}

/// A number, or a duration (`48h`, `1m30s`, `-2d`, `500ms`) in milliseconds.
fn number(s: &str) -> Option<f64> {
    let s = s.trim();
    s.parse::<f64>().ok().or_else(|| duration_ms(s)).filter(|n| n.is_finite())
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
        matches!(self.lhs, Lhs::Value(Placeholder::CertificateExpiration) | Lhs::Len(Placeholder::CertificateExpiration) | Lhs::Has(Placeholder::CertificateExpiration))
    }

    /// Evaluate against what the request produced. Never panics; a value that
    /// cannot be had fails the condition with a message.
    pub fn evaluate(&self, obs: &Observed<'_>) -> Outcome {
        let actual = match &self.lhs {
            Lhs::Value(p) => resolve(p, obs).map(|v| v.text()),
            Lhs::Len(p) => resolve(p, obs).map(|v| v.len().to_string()),
            Lhs::Has(p) => Ok(resolve(p, obs).is_ok().to_string()),
        };
        let actual = match actual {
            Ok(a) => a,
            Err(why) => {
                return Outcome { actual: "(none)".into(), passed: false, message: Some(why) };
            }
        };
        let passed = match (&self.rhs, self.op) {
            (Rhs::Pat(glob), Op::Eq) => glob_match(glob, &actual),
            (Rhs::Pat(glob), Op::Ne) => !glob_match(glob, &actual),
            (Rhs::Any(items), Op::Eq) => items.iter().any(|i| equal(&actual, i)),
            (Rhs::Any(items), Op::Ne) => !items.iter().any(|i| equal(&actual, i)),
            (Rhs::Value(v), Op::Eq) => equal(&actual, v),
            (Rhs::Value(v), Op::Ne) => !equal(&actual, v),
            (Rhs::Value(v), op) => {
                let (Some(a), Some(b)) = (number(&actual), number(v)) else {
                    return Outcome {
                        message: Some(format!("{} is `{}`, not a number", self.lhs_text, shorten(&actual))),
                        actual,
                        passed: false,
                    };
                };
                match op {
                    Op::Lt => a < b,
                    Op::Le => a <= b,
                    Op::Gt => a > b,
                    _ => a >= b,
                }
            }
            // Rejected by the parser.
            (_, _) => false,
        };
        let message = (!passed).then(|| self.render(&actual));
        Outcome { actual, passed, message }
    }

    /// `[STATUS] (404) == 200`.
    pub fn render(&self, actual: &str) -> String {
        let op = match self.op {
            Op::Eq => "==",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
        };
        format!("{} ({}) {op} {}", self.lhs_text, shorten(actual), self.rhs_text)
    }
}

/// A resolved left-hand value.
enum Val {
    Text(String),
    Json(Value),
}

impl Val {
    fn text(&self) -> String {
        match self {
            Val::Text(s) => s.clone(),
            Val::Json(Value::String(s)) => s.clone(),
            Val::Json(v) => v.to_string(),
        }
    }

    fn len(&self) -> usize {
        match self {
            Val::Text(s) => s.chars().count(),
            Val::Json(Value::Array(a)) => a.len(),
            Val::Json(Value::Object(o)) => o.len(),
            Val::Json(Value::String(s)) => s.chars().count(),
            Val::Json(Value::Null) => 0,
            Val::Json(v) => v.to_string().chars().count(),
        }
    }
}

fn resolve(p: &Placeholder, obs: &Observed<'_>) -> Result<Val, String> {
    let no_response = || format!("no response: {}", obs.error.unwrap_or("request failed"));
    match p {
        Placeholder::Connected => Ok(Val::Text(obs.status.is_some().to_string())),
        Placeholder::CertificateExpiration => match &obs.certificate_expiration_ms {
            Some(Ok(ms)) => Ok(Val::Text(format_duration(*ms))),
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
            let body = obs.body.ok_or_else(no_response)?;
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
            Ok(Val::Json(cur.clone()))
        }
    }
}

fn equal(actual: &str, expected: &str) -> bool {
    match (number(actual), number(expected)) {
        (Some(a), Some(b)) => a == b,
        _ => actual == expected,
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
    fn globs() {
        assert!(glob_match("*", ""));
        assert!(glob_match("a*c", "abbbc"));
        assert!(glob_match("*ok*", "all ok here"));
        assert!(!glob_match("a?c", "ac"));
        assert!(glob_match("a*b*c", "axxbyyc"));
        assert!(!glob_match("a*b*c", "axxbyy"));
    }
}
