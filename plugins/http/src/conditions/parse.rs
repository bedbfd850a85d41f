//! Reading `[STATUS] == 200` into a [`Condition`]: an operand, an operator,
//! an operand. Either side may be a placeholder (`[BODY].a`, `len(...)`,
//! `has(...)`), a value, `pat(...)` or `any(...)`; at least one side must be a
//! placeholder. Placeholder names are case-insensitive, as in Gatus.

use super::{Condition, Fun, Op, Operand, PLACEHOLDERS, ParseError, Placeholder, Seg, number};

const OPERATORS: &str = "==, !=, <, <=, >, >=";

/// Parse one condition.
pub fn parse(text: &str) -> Result<Condition, ParseError> {
    Parser { text, chars: text.chars().collect(), pos: 0 }.condition()
}

/// Parse every condition; all the problems when any does not parse.
pub fn parse_all(texts: &[String]) -> Result<Vec<Condition>, Vec<ParseError>> {
    let (parsed, errors): (Vec<_>, Vec<_>) = texts.iter().map(|t| parse(t)).partition(Result::is_ok);
    match errors.is_empty() {
        true => Ok(parsed.into_iter().map(Result::unwrap).collect()),
        false => Err(errors.into_iter().map(Result::unwrap_err).collect()),
    }
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

    fn starts_with_at(&self, at: usize, s: &str) -> bool {
        (at..).zip(s.chars()).all(|(i, c)| self.chars.get(i) == Some(&c))
    }

    fn eat(&mut self, s: &str) -> bool {
        let found = self.starts_with_at(self.pos, s);
        if found {
            self.pos += s.chars().count();
        }
        found
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn slice(&self, from: usize, to: usize) -> String {
        self.chars[from..to].iter().collect()
    }

    fn operator_at(&self, at: usize) -> Option<(Op, &'static str)> {
        [(Op::Eq, "=="), (Op::Ne, "!="), (Op::Le, "<="), (Op::Ge, ">="), (Op::Lt, "<"), (Op::Gt, ">")]
            .into_iter()
            .find(|(_, s)| self.starts_with_at(at, s))
    }

    fn condition(mut self) -> Result<Condition, ParseError> {
        self.skip_ws();
        if self.peek().is_none() {
            return self.err(self.pos, "empty condition");
        }
        let left_at = self.pos;
        let left = self.left_operand()?;
        let left_text = self.slice(left_at, self.pos);
        self.skip_ws();
        let op_at = self.pos;
        let Some((op, op_text)) = self.operator_at(op_at) else {
            return self.err(op_at, format!("expected an operator ({OPERATORS})"));
        };
        self.pos += op_text.len();
        self.skip_ws();
        let right_at = self.pos;
        let right_text = self.slice(right_at, self.chars.len()).trim_end().to_string();
        if right_text.is_empty() {
            return self.err(right_at, format!("expected a value after `{op_text}`"));
        }
        // `=== 200` or `=> 5` is a mistyped operator, not a value starting with `=`.
        if right_text.starts_with(['=', '<', '>', '!']) {
            return self.err(right_at, format!("unexpected `{}` after `{op_text}`; operators are {OPERATORS}", &right_text[..1]));
        }
        let right = self.right_operand(&right_text)?;
        if !matches!(left, Operand::Probe { .. }) && !matches!(right, Operand::Probe { .. }) {
            return self.err(left_at, format!("`{}` compares two fixed values; one side must be a placeholder ({PLACEHOLDERS})", self.text.trim()));
        }
        if matches!(op, Op::Lt | Op::Le | Op::Gt | Op::Ge) {
            for (operand, at, text) in [(&left, left_at, &left_text), (&right, right_at, &right_text)] {
                let numeric = match operand {
                    Operand::Probe { .. } => true,
                    Operand::Value(v) => number(v).is_some(),
                    Operand::Pat(_) | Operand::Any(_) => false,
                };
                if !numeric {
                    return self.err(at, format!("`{op_text}` compares numbers, and `{text}` is not one (write a number, a duration like 500ms, or a placeholder)"));
                }
            }
        }
        Ok(Condition { text: self.text.to_string(), left, left_text, op, right, right_text })
    }

    /// A placeholder, a function, or a value up to the operator.
    fn left_operand(&mut self) -> Result<Operand, ParseError> {
        if self.peek() == Some('[') || self.starts_with_at(self.pos, "len(") || self.starts_with_at(self.pos, "has(") {
            return self.probe();
        }
        let start = self.pos;
        if let Some(function) = ["pat(", "any("].into_iter().find(|f| self.starts_with_at(start, f)) {
            // It ends at the first `)` an operator follows: a pattern may hold spaces, `=` and `)`.
            let inner_from = start + 4;
            let close = (inner_from..self.chars.len()).find(|&i| {
                let after = (i + 1..self.chars.len()).find(|&j| !self.chars[j].is_whitespace());
                self.chars[i] == ')' && after.is_some_and(|j| self.operator_at(j).is_some())
            });
            let Some(close) = close else {
                return self.err(start, format!("expected `)` closing `{function}` before the operator"));
            };
            self.pos = close + 1;
            return function_operand(&self.slice(inner_from, close), function).or_else(|message| self.err(start, message));
        }
        while self.peek().is_some_and(|c| !c.is_whitespace() && !"=!<>".contains(c)) {
            self.pos += 1;
        }
        if self.pos == start {
            return self.err(start, format!("expected a placeholder ({PLACEHOLDERS}), len(...), has(...) or a value"));
        }
        Ok(Operand::Value(self.slice(start, self.pos)))
    }

    /// Everything after the operator.
    fn right_operand(&mut self, text: &str) -> Result<Operand, ParseError> {
        let at = self.pos;
        if text.starts_with('[') || text.starts_with("len(") || text.starts_with("has(") {
            let probe = self.probe()?;
            self.skip_ws();
            if self.pos < self.chars.len() {
                return self.err(self.pos, format!("unexpected `{}` after the placeholder", self.slice(self.pos, self.chars.len()).trim_end()));
            }
            return Ok(probe);
        }
        for function in ["pat(", "any("] {
            if let Some(inner) = text.strip_prefix(function) {
                let Some(inner) = inner.strip_suffix(')') else {
                    return self.err(at + text.chars().count(), "expected `)` at the end");
                };
                return function_operand(inner, function).or_else(|message| self.err(at, message));
            }
        }
        Ok(Operand::Value(text.to_string()))
    }

    /// `[NAME]…`, `len([NAME]…)` or `has([NAME]…)`.
    fn probe(&mut self) -> Result<Operand, ParseError> {
        let fun = if self.eat("len(") {
            Fun::Len
        } else if self.eat("has(") {
            Fun::Has
        } else {
            Fun::Value
        };
        let place = self.placeholder()?;
        if fun != Fun::Value && !self.eat(")") {
            let name = if fun == Fun::Len { "len(" } else { "has(" };
            return self.err(self.pos, format!("expected `)` closing `{name}`"));
        }
        Ok(Operand::Probe { fun, place })
    }

    fn placeholder(&mut self) -> Result<Placeholder, ParseError> {
        let start = self.pos;
        if self.peek() != Some('[') {
            return self.err(start, format!("expected a placeholder ({PLACEHOLDERS})"));
        }
        let Some(close) = self.chars[start..].iter().position(|&c| c == ']') else {
            return self.err(start, "expected `]`");
        };
        let name = self.slice(start, start + close + 1);
        self.pos = start + close + 1;
        match name.to_ascii_uppercase().as_str() {
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
            _ => self.err(start, format!("unknown placeholder `{name}` (known: {PLACEHOLDERS})")),
        }
    }

    /// `.a.b[0].c` after `[BODY]`, up to whitespace, an operator or `)`.
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

/// The inside of `pat(...)` or `any(...)` as an operand.
fn function_operand(inner: &str, function: &str) -> Result<Operand, String> {
    if function == "pat(" {
        return Ok(Operand::Pat(inner.to_string()));
    }
    let items: Vec<String> = inner.split(',').map(|s| s.trim().to_string()).collect();
    if items.iter().any(String::is_empty) {
        return Err("empty value in `any(...)`".into());
    }
    Ok(Operand::Any(items))
}
