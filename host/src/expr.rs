//! The expression language of pipelines: the `${{ … }}` parts of step fields
//! and the `if` conditions, after GitHub Actions' expressions.
//!
//! [`parse`] turns expression text into an [`Expr`], rejecting unknown
//! contexts and functions; [`evaluate`] runs it against a [`Scope`] (the named
//! contexts as values, and the job status the status functions answer from);
//! [`references`] lists the context paths an expression reads, so config
//! validation can reject `steps.nope.outputs.x`. A [`Template`] is a string
//! with `${{ … }}` parts; [`condition`] parses an `if`.
//!
//! # GitHub's semantics, tested against GitHub's cases
//!
//! Literals (`null`, `true`, numbers with hex, octal, exponent, `NaN`,
//! `Infinity`, `'strings'` with `''`), `a.b`, `a['b']`, `a[0]`, the `*`
//! filter, the operators `( ) [ ] . ! < <= > >= == != && ||` with GitHub's
//! precedence and nesting limit, loose equality with GitHub's coercions,
//! case-insensitive string comparison, `&&`/`||` returning an operand,
//! truthiness, GitHub's number formatting, and the functions `contains`,
//! `startsWith`, `endsWith`, `format`, `join`, `toJSON`, `fromJSON` and `case`
//! follow the test cases of `actions/languageservices`, read from
//! a checkout of it named by `BOSUN_GHA_EXPR_CASES` and run by the
//! `every_github_case` test.
//!
//! # Where bosun differs
//!
//! - Error messages are bosun's (`expected ')' at the end of "(1"`), not
//!   GitHub's; GitHub's cases are checked for failing in the same step
//!   (parsing or evaluation), not for the wording.
//! - The contexts are the ones the caller allows ([`PIPELINE_CONTEXTS`] for
//!   pipelines): no `github`, `matrix`, `secrets`, …, and no `hashFiles`.
//! - The status functions answer from one [`JobStatus`]: `success()` when it
//!   is `Success`, `failure()` when `Failure`, `cancelled()` when
//!   `Cancelled`, `always()` always. As on GitHub they are allowed only in
//!   conditions.
//! - An `if` that wraps only a part of itself in `${{ }}` is an error; GitHub
//!   reads it as a string, which is always true.
//! - No memory limit on the values an expression builds (GitHub's is 1 MB).
//! - Objects given as `serde_json::Value` arrive with their keys sorted
//!   (serde_json's map), so `x.*` and `toJSON(x)` list them in that order;
//!   `fromJSON` keeps the order of its text.

use std::fmt;
use std::sync::Arc;

/// The contexts a pipeline expression may read.
pub const PIPELINE_CONTEXTS: [&str; 4] = ["inputs", "steps", "env", "run"];

/// GitHub's limits: deeper nesting or longer text is a parse error.
const MAX_DEPTH: usize = 50;
const MAX_LENGTH: usize = 21_000;

// ---------------------------------------------------------------- values

/// A value as GitHub's expressions see it: JSON, with every number a double
/// (`NaN` and `Infinity` included).
#[derive(Clone, Debug)]
pub enum Value {
    Null,
    Bool(bool),
    Number(f64),
    String(String),
    Array(Arc<Array>),
    Object(Arc<Object>),
}

/// Arrays and objects are shared because GitHub compares them by identity:
/// `a == a` is true, two equal-looking objects are not equal.
#[derive(Debug, Default)]
pub struct Array {
    pub items: Vec<Value>,
    /// Made by a `*` filter: indexing it indexes every item (`a.*.name`).
    filtered: bool,
}

/// An object keeps its keys in order; lookups ignore case, as GitHub's do.
#[derive(Debug, Default)]
pub struct Object {
    entries: Vec<(String, Value)>,
}

impl Object {
    pub fn get(&self, key: &str) -> Option<&Value> {
        let key = fold_case(key);
        self.entries
            .iter()
            .find(|(k, _)| fold_case(k) == key)
            .map(|(_, value)| value)
    }

    pub fn entries(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.entries
            .iter()
            .map(|(key, value)| (key.as_str(), value))
    }

    /// A repeated key replaces the value (as JSON parsers do); a key that
    /// differs from an earlier one only in case is dropped (as GitHub does).
    fn insert(&mut self, key: String, value: Value) {
        if let Some(entry) = self.entries.iter_mut().find(|(k, _)| *k == key) {
            entry.1 = value;
        } else if self.get(&key).is_none() {
            self.entries.push((key, value));
        }
    }
}

impl Value {
    fn array(items: Vec<Value>, filtered: bool) -> Value {
        Value::Array(Arc::new(Array { items, filtered }))
    }

    /// GitHub's name for the kind of value, as in its test data.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "Null",
            Value::Bool(_) => "Boolean",
            Value::Number(_) => "Number",
            Value::String(_) => "String",
            Value::Array(_) => "Array",
            Value::Object(_) => "Object",
        }
    }

    /// False for `null`, `false`, `0`, `NaN` and `''`; true for everything
    /// else, empty arrays and objects included.
    pub fn is_truthy(&self) -> bool {
        match self {
            Value::Null => false,
            Value::Bool(b) => *b,
            Value::Number(n) => *n != 0.0 && !n.is_nan(),
            Value::String(s) => !s.is_empty(),
            Value::Array(_) | Value::Object(_) => true,
        }
    }

    fn is_primitive(&self) -> bool {
        !matches!(self, Value::Array(_) | Value::Object(_))
    }

    /// GitHub's (JavaScript's) conversion to a number.
    fn to_number(&self) -> f64 {
        match self {
            Value::Null => 0.0,
            Value::Bool(b) => f64::from(u8::from(*b)),
            Value::Number(n) => *n,
            Value::String(s) => parse_number(s),
            Value::Array(_) | Value::Object(_) => f64::NAN,
        }
    }

    /// What `toJSON` makes of the value: JSON indented by two spaces.
    pub fn to_json_text(&self) -> String {
        let mut out = String::new();
        write_json(self, 0, &mut out);
        out
    }

    /// The value as serde_json has it: whole numbers as integers, `NaN` and
    /// the infinities as null (as `toJSON` writes them).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as Json;
        match self {
            Value::Null => Json::Null,
            Value::Bool(b) => Json::Bool(*b),
            Value::Number(n) if n.fract() == 0.0 && n.abs() < 2f64.powi(53) => {
                Json::from(*n as i64)
            }
            Value::Number(n) => serde_json::Number::from_f64(*n).map_or(Json::Null, Json::Number),
            Value::String(s) => Json::String(s.clone()),
            Value::Array(array) => Json::Array(array.items.iter().map(Value::to_json).collect()),
            Value::Object(object) => Json::Object(
                object
                    .entries
                    .iter()
                    .map(|(key, value)| (key.clone(), value.to_json()))
                    .collect(),
            ),
        }
    }
}

/// GitHub's conversion to a string: what `format`, `join` and templates
/// write (`null` is empty, arrays are `Array`, objects `Object`).
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => Ok(()),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Number(n) => f.write_str(&display_number(*n)),
            Value::String(s) => f.write_str(s),
            Value::Array(_) => f.write_str("Array"),
            Value::Object(_) => f.write_str("Object"),
        }
    }
}

impl From<serde_json::Value> for Value {
    fn from(json: serde_json::Value) -> Self {
        use serde_json::Value as Json;
        match json {
            Json::Null => Value::Null,
            Json::Bool(b) => Value::Bool(b),
            Json::Number(n) => Value::Number(n.as_f64().unwrap_or(f64::NAN)),
            Json::String(s) => Value::String(s),
            Json::Array(items) => Value::array(items.into_iter().map(Value::from).collect(), false),
            Json::Object(map) => {
                let mut object = Object::default();
                for (key, value) in map {
                    object.insert(key, value.into());
                }
                Value::Object(Arc::new(object))
            }
        }
    }
}

/// Read straight from JSON text, so objects keep the order of the text.
impl<'de> serde::Deserialize<'de> for Value {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> serde::de::Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }
    fn visit_i64<E>(self, n: i64) -> Result<Value, E> {
        Ok(Value::Number(n as f64))
    }
    fn visit_u64<E>(self, n: u64) -> Result<Value, E> {
        Ok(Value::Number(n as f64))
    }
    fn visit_f64<E>(self, n: f64) -> Result<Value, E> {
        Ok(Value::Number(n))
    }
    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::String(s.to_owned()))
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::array(items, false))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Object::default();
        while let Some((key, value)) = map.next_entry::<String, Value>()? {
            object.insert(key, value);
        }
        Ok(Value::Object(Arc::new(object)))
    }
}

/// JavaScript's `Number(text)`: surrounding whitespace ignored, empty is 0,
/// `0x`/`0o`/`0b` prefixes, `Infinity`, anything else unparsable is `NaN`.
fn parse_number(text: &str) -> f64 {
    let text = text.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
    if text.is_empty() {
        return 0.0;
    }
    for (prefix, radix) in [
        ("0x", 16),
        ("0X", 16),
        ("0o", 8),
        ("0O", 8),
        ("0b", 2),
        ("0B", 2),
    ] {
        if let Some(digits) = text.strip_prefix(prefix) {
            let value = digits.chars().try_fold(0.0, |value, c| {
                Some(value * f64::from(radix) + f64::from(c.to_digit(radix)?))
            });
            return value.filter(|_| !digits.is_empty()).unwrap_or(f64::NAN);
        }
    }
    let (sign, unsigned) = match text.as_bytes()[0] {
        b'-' => (-1.0, &text[1..]),
        b'+' => (1.0, &text[1..]),
        _ => (1.0, text),
    };
    if unsigned == "Infinity" {
        return sign * f64::INFINITY;
    }
    if !is_decimal(unsigned) {
        return f64::NAN;
    }
    unsigned.parse::<f64>().map_or(f64::NAN, |n| sign * n)
}

/// Digits with an optional fraction and exponent; checked here because Rust
/// would also parse `inf` and `nan`.
fn is_decimal(text: &str) -> bool {
    let all_digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(at) => (&text[..at], Some(&text[at + 1..])),
        None => (text, None),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let mantissa_ok =
        all_digits(whole) && all_digits(fraction) && !(whole.is_empty() && fraction.is_empty());
    let exponent_ok = exponent.is_none_or(|e| {
        let digits = e.strip_prefix(['+', '-']).unwrap_or(e);
        !digits.is_empty() && all_digits(digits)
    });
    mantissa_ok && exponent_ok
}

/// A number as GitHub writes it into strings: at most 15 decimals, so that
/// `0.1 + 0.2`-style noise does not show.
fn display_number(n: f64) -> String {
    if n.is_finite() && n != 0.0 {
        let rounded: f64 = format!("{n:.15}")
            .parse()
            .expect("a formatted number parses");
        javascript_number(rounded)
    } else {
        javascript_number(n)
    }
}

/// JavaScript's `Number.prototype.toString()`: the shortest digits that
/// read back as the same number, in exponent form below 1e-6 and from 1e21.
fn javascript_number(n: f64) -> String {
    if n.is_nan() {
        return "NaN".into();
    }
    if n.is_infinite() {
        return if n > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    if n == 0.0 {
        return "0".into();
    }
    let scientific = format!("{:e}", n.abs());
    let (mantissa, exponent) = scientific.split_once('e').expect("{:e} writes an exponent");
    let digits = mantissa.replace('.', "");
    let count = digits.len() as i32;
    // Where the decimal point goes, counted from the first digit.
    let point = exponent
        .parse::<i32>()
        .expect("{:e} writes an integer exponent")
        + 1;
    let body = if count <= point && point <= 21 {
        format!("{digits}{}", "0".repeat((point - count) as usize))
    } else if 0 < point && point <= 21 {
        format!(
            "{}.{}",
            &digits[..point as usize],
            &digits[point as usize..]
        )
    } else if -6 < point && point <= 0 {
        format!("0.{}{digits}", "0".repeat(-point as usize))
    } else {
        let fraction = if count > 1 {
            format!(".{}", &digits[1..])
        } else {
            String::new()
        };
        let sign = if point > 0 { "+" } else { "-" };
        format!("{}{fraction}e{sign}{}", &digits[..1], (point - 1).abs())
    };
    if n < 0.0 { format!("-{body}") } else { body }
}

fn write_json(value: &Value, indent: usize, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) if n.is_finite() => out.push_str(&javascript_number(*n)),
        Value::Number(_) => out.push_str("null"),
        Value::String(s) => out.push_str(&json_string(s)),
        Value::Array(array) => write_json_list(
            array.items.iter().map(|item| (None, item)),
            ['[', ']'],
            indent,
            out,
        ),
        Value::Object(object) => write_json_list(
            object
                .entries
                .iter()
                .map(|(key, value)| (Some(key.as_str()), value)),
            ['{', '}'],
            indent,
            out,
        ),
    }
}

fn write_json_list<'a>(
    items: impl Iterator<Item = (Option<&'a str>, &'a Value)>,
    [open, close]: [char; 2],
    indent: usize,
    out: &mut String,
) {
    out.push(open);
    let mut empty = true;
    for (key, value) in items {
        out.push_str(if empty { "\n" } else { ",\n" });
        out.push_str(&" ".repeat(indent + 2));
        if let Some(key) = key {
            out.push_str(&json_string(key));
            out.push_str(": ");
        }
        write_json(value, indent + 2, out);
        empty = false;
    }
    if !empty {
        out.push('\n');
        out.push_str(&" ".repeat(indent));
    }
    out.push(close);
}

fn json_string(s: &str) -> String {
    serde_json::to_string(s).expect("a string serializes")
}

/// GitHub's case-insensitive form of a string: upper case, except that the
/// dotless `ı` stays as it is (so it does not equal `I`).
fn fold_case(text: &str) -> String {
    let mut folded = String::with_capacity(text.len());
    for c in text.chars() {
        if c == 'ı' {
            folded.push(c);
        } else {
            folded.extend(c.to_uppercase());
        }
    }
    folded
}

// ---------------------------------------------------------------- comparison

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CompareOp {
    fn is_equality(self) -> bool {
        matches!(self, CompareOp::Eq | CompareOp::Ne)
    }

    fn apply(self, left: &Value, right: &Value) -> bool {
        match self {
            CompareOp::Eq => loosely_equal(left, right),
            CompareOp::Ne => !loosely_equal(left, right),
            CompareOp::Lt => less(left, right),
            CompareOp::Le => loosely_equal(left, right) || less(left, right),
            CompareOp::Gt => less(right, left),
            CompareOp::Ge => loosely_equal(left, right) || less(right, left),
        }
    }
}

/// Two values brought to one kind, as GitHub's operators do: like
/// JavaScript's `==`, except that arrays and objects are never converted.
enum Operands<'a> {
    Nulls,
    Bools(bool, bool),
    Numbers(f64, f64),
    Strings(&'a str, &'a str),
    /// Two arrays or two objects: whether they are the same one.
    Containers {
        same: bool,
    },
    Unlike,
}

fn operands<'a>(left: &'a Value, right: &'a Value) -> Operands<'a> {
    match (left, right) {
        (Value::Null, Value::Null) => Operands::Nulls,
        (Value::Bool(a), Value::Bool(b)) => Operands::Bools(*a, *b),
        (Value::String(a), Value::String(b)) => Operands::Strings(a, b),
        (Value::Array(a), Value::Array(b)) => Operands::Containers {
            same: Arc::ptr_eq(a, b),
        },
        (Value::Object(a), Value::Object(b)) => Operands::Containers {
            same: Arc::ptr_eq(a, b),
        },
        (Value::Array(_) | Value::Object(_), _) | (_, Value::Array(_) | Value::Object(_)) => {
            Operands::Unlike
        }
        _ => Operands::Numbers(left.to_number(), right.to_number()),
    }
}

fn loosely_equal(left: &Value, right: &Value) -> bool {
    match operands(left, right) {
        Operands::Nulls => true,
        Operands::Bools(a, b) => a == b,
        Operands::Numbers(a, b) => a == b,
        Operands::Strings(a, b) => fold_case(a) == fold_case(b),
        Operands::Containers { same } => same,
        Operands::Unlike => false,
    }
}

fn less(left: &Value, right: &Value) -> bool {
    match operands(left, right) {
        Operands::Bools(a, b) => !a && b,
        Operands::Numbers(a, b) => a < b,
        // Ordered by UTF-16 code units, as GitHub's JavaScript does.
        Operands::Strings(a, b) => fold_case(a).encode_utf16().lt(fold_case(b).encode_utf16()),
        Operands::Nulls | Operands::Containers { .. } | Operands::Unlike => false,
    }
}

// ---------------------------------------------------------------- syntax tree

/// A parsed expression. `a.b` is `Index` with the key `'b'`; `a.*` and
/// `a[*]` are `Filter`.
#[derive(Clone, Debug)]
pub enum Expr {
    Literal(Value),
    Context(String),
    Index {
        target: Box<Expr>,
        index: Box<Expr>,
    },
    Filter {
        target: Box<Expr>,
    },
    Not(Box<Expr>),
    Compare {
        op: CompareOp,
        left: Box<Expr>,
        right: Box<Expr>,
    },
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Call {
        function: Function,
        args: Vec<Expr>,
    },
}

impl Expr {
    fn children(&self) -> Vec<&Expr> {
        match self {
            Expr::Literal(_) | Expr::Context(_) => Vec::new(),
            Expr::Index { target, index } => vec![target, index],
            Expr::Filter { target } | Expr::Not(target) => vec![target],
            Expr::Compare { left, right, .. } => vec![left, right],
            Expr::And(operands) | Expr::Or(operands) => operands.iter().collect(),
            Expr::Call { args, .. } => args.iter().collect(),
        }
    }

    fn uses_status_function(&self) -> bool {
        matches!(self, Expr::Call { function, .. } if function.is_status())
            || self.children().into_iter().any(Expr::uses_status_function)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Function {
    Contains,
    StartsWith,
    EndsWith,
    Format,
    Join,
    ToJson,
    FromJson,
    Case,
    Success,
    Failure,
    Always,
    Cancelled,
}

/// Each function with its name and the fewest and most arguments it takes
/// (GitHub's limit of 255 for the variadic ones).
const FUNCTIONS: [(Function, &str, usize, usize); 12] = [
    (Function::Contains, "contains", 2, 2),
    (Function::StartsWith, "startsWith", 2, 2),
    (Function::EndsWith, "endsWith", 2, 2),
    (Function::Format, "format", 1, 255),
    (Function::Join, "join", 1, 2),
    (Function::ToJson, "toJSON", 1, 1),
    (Function::FromJson, "fromJSON", 1, 1),
    (Function::Case, "case", 3, 255),
    (Function::Success, "success", 0, 0),
    (Function::Failure, "failure", 0, 0),
    (Function::Always, "always", 0, 0),
    (Function::Cancelled, "cancelled", 0, 0),
];

impl Function {
    /// Function names ignore case, as GitHub's do.
    fn named(name: &str) -> Option<Function> {
        FUNCTIONS
            .iter()
            .find(|(_, known, ..)| known.eq_ignore_ascii_case(name))
            .map(|(function, ..)| *function)
    }

    fn spec(self) -> (&'static str, usize, usize) {
        let (_, name, fewest, most) = FUNCTIONS
            .iter()
            .find(|(function, ..)| *function == self)
            .expect("every function is listed");
        (name, *fewest, *most)
    }

    pub fn name(self) -> &'static str {
        self.spec().0
    }

    pub fn is_status(self) -> bool {
        matches!(
            self,
            Function::Success | Function::Failure | Function::Always | Function::Cancelled
        )
    }

    /// Why `count` arguments do not fit, if they do not.
    fn arity_problem(self, count: usize) -> Option<String> {
        let (name, fewest, most) = self.spec();
        let takes = match (fewest, most) {
            (1, 1) => "1 argument".to_string(),
            _ if fewest == most => format!("{fewest} arguments"),
            (_, 255) => format!("at least {fewest} arguments"),
            _ => format!("{fewest} or {most} arguments"),
        };
        if count < fewest || count > most {
            Some(format!("'{name}' takes {takes}, not {count}"))
        } else if self == Function::Case && count.is_multiple_of(2) {
            Some(format!(
                "'case' takes pairs of predicate and value and then a default (an odd number of arguments), not {count}"
            ))
        } else {
            None
        }
    }
}

// ---------------------------------------------------------------- errors

/// An expression that does not parse: what was expected, where (the
/// character, counting from 1), and in what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    pub expression: String,
    pub position: usize,
    pub problem: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.position > self.expression.chars().count() {
            write!(f, "{} at the end of {:?}", self.problem, self.expression)
        } else {
            write!(
                f,
                "{} at {} in {:?}",
                self.problem, self.position, self.expression
            )
        }
    }
}

impl std::error::Error for ParseError {}

/// An expression that parsed but cannot be evaluated (`fromJSON('{')`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvalError(pub String);

impl fmt::Display for EvalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for EvalError {}

// ---------------------------------------------------------------- lexer

#[derive(Clone, Debug, PartialEq)]
enum Token {
    LeftParen,
    RightParen,
    LeftBracket,
    RightBracket,
    Comma,
    Dot,
    Star,
    Not,
    And,
    Or,
    Compare(CompareOp),
    Number(f64),
    String(String),
    Name(String),
    True,
    False,
    Null,
    End,
}

struct Lexeme {
    token: Token,
    /// Where it starts, in characters from 0.
    at: usize,
    text: String,
}

/// Where a name or number ends, as GitHub's lexer decides.
fn is_boundary(c: char) -> bool {
    matches!(
        c,
        '(' | '[' | ')' | ']' | ',' | '.' | '!' | '>' | '<' | '=' | '&' | '|'
    ) || c.is_whitespace()
}

fn is_name(text: &str) -> bool {
    let mut chars = text.chars();
    chars
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn lex(source: &str) -> Result<Vec<Lexeme>, ParseError> {
    let chars: Vec<char> = source.chars().collect();
    let error = |at: usize, problem: String| ParseError {
        expression: source.to_owned(),
        position: at + 1,
        problem,
    };
    let until = |mut at: usize, stop: &dyn Fn(char) -> bool| {
        while at < chars.len() && !stop(chars[at]) {
            at += 1;
        }
        at
    };
    let mut lexemes: Vec<Lexeme> = Vec::new();
    let mut at = 0;
    while at < chars.len() {
        let start = at;
        let c = chars[at];
        at += 1;
        let next = chars.get(at).copied();
        let after_access = matches!(
            lexemes.last().map(|l| &l.token),
            Some(Token::Name(_) | Token::RightBracket | Token::RightParen | Token::Star)
        );
        let token = match c {
            ' ' | '\t' | '\r' | '\n' => continue,
            '(' => Token::LeftParen,
            ')' => Token::RightParen,
            '[' => Token::LeftBracket,
            ']' => Token::RightBracket,
            ',' => Token::Comma,
            '*' => Token::Star,
            '.' if after_access => Token::Dot,
            '.' | '-' | '+' | '0'..='9' => {
                // A number runs to the next boundary, dots included.
                at = until(at, &|c| is_boundary(c) && c != '.');
                let text: String = chars[start..at].iter().collect();
                let value = parse_number(&text);
                if value.is_nan() {
                    return Err(error(start, format!("expected a number, found '{text}'")));
                }
                Token::Number(value)
            }
            '!' | '<' | '>' | '=' if next == Some('=') => {
                at += 1;
                Token::Compare(match c {
                    '!' => CompareOp::Ne,
                    '<' => CompareOp::Le,
                    '>' => CompareOp::Ge,
                    _ => CompareOp::Eq,
                })
            }
            '&' | '|' if next == Some(c) => {
                at += 1;
                if c == '&' { Token::And } else { Token::Or }
            }
            '!' => Token::Not,
            '<' => Token::Compare(CompareOp::Lt),
            '>' => Token::Compare(CompareOp::Gt),
            '=' | '&' | '|' => {
                let end = until(at, &is_boundary);
                let text: String = chars[start..end].iter().collect();
                return Err(error(start, format!("expected '{c}{c}', found '{text}'")));
            }
            '\'' => {
                let mut value = String::new();
                loop {
                    match chars.get(at) {
                        None => return Err(error(start, "expected ' to close this string".into())),
                        Some('\'') if chars.get(at + 1) == Some(&'\'') => {
                            value.push('\'');
                            at += 2;
                        }
                        Some('\'') => {
                            at += 1;
                            break;
                        }
                        Some(&c) => {
                            value.push(c);
                            at += 1;
                        }
                    }
                }
                Token::String(value)
            }
            _ => {
                at = until(at, &is_boundary);
                let text: String = chars[start..at].iter().collect();
                if !is_name(&text) {
                    return Err(error(
                        start,
                        format!(
                            "expected a name (a letter or _, then letters, digits, _ or -), found '{text}'"
                        ),
                    ));
                }
                // After a dot, keywords are property names (`a.true`).
                let after_dot = matches!(lexemes.last().map(|l| &l.token), Some(Token::Dot));
                match text.as_str() {
                    "true" if !after_dot => Token::True,
                    "false" if !after_dot => Token::False,
                    "null" if !after_dot => Token::Null,
                    "NaN" if !after_dot => Token::Number(f64::NAN),
                    "Infinity" if !after_dot => Token::Number(f64::INFINITY),
                    _ => Token::Name(text),
                }
            }
        };
        lexemes.push(Lexeme {
            token,
            at: start,
            text: chars[start..at].iter().collect(),
        });
    }
    lexemes.push(Lexeme {
        token: Token::End,
        at: chars.len(),
        text: String::new(),
    });
    Ok(lexemes)
}

// ---------------------------------------------------------------- parser

/// Parses an expression (the text inside `${{ }}`) that may read the given
/// contexts (names compared ignoring case). Empty text is `null`.
pub fn parse(source: &str, contexts: &[&str]) -> Result<Expr, ParseError> {
    Parser::parse(source, contexts, false)
}

struct Parser<'a> {
    source: &'a str,
    lexemes: Vec<Lexeme>,
    next: usize,
    depth: usize,
    contexts: &'a [&'a str],
    status_functions_allowed: bool,
}

type Parsed = Result<Expr, ParseError>;

impl<'a> Parser<'a> {
    fn parse(source: &'a str, contexts: &'a [&'a str], status_functions_allowed: bool) -> Parsed {
        let length = source.chars().count();
        if length > MAX_LENGTH {
            return Err(ParseError {
                expression: source.to_owned(),
                position: 1,
                problem: format!(
                    "expected an expression of at most {MAX_LENGTH} characters, found {length}"
                ),
            });
        }
        let mut parser = Parser {
            source,
            lexemes: lex(source)?,
            next: 0,
            depth: 0,
            contexts,
            status_functions_allowed,
        };
        if parser.peek() == &Token::End {
            return Ok(Expr::Literal(Value::Null));
        }
        let expr = parser.expression()?;
        if parser.peek() != &Token::End {
            return Err(parser.unexpected("an operator or the end"));
        }
        Ok(expr)
    }

    fn peek(&self) -> &Token {
        &self.lexemes[self.next].token
    }

    fn eat(&mut self, token: &Token) -> bool {
        let found = self.peek() == token;
        if found {
            self.next += 1;
        }
        found
    }

    fn error_at(&self, at: usize, problem: String) -> ParseError {
        ParseError {
            expression: self.source.to_owned(),
            position: at + 1,
            problem,
        }
    }

    /// `expected …, found '…'` at the next lexeme.
    fn unexpected(&self, expected: &str) -> ParseError {
        let lexeme = &self.lexemes[self.next];
        let problem = match lexeme.token {
            Token::End => format!("expected {expected}"),
            _ => format!("expected {expected}, found '{}'", lexeme.text),
        };
        self.error_at(lexeme.at, problem)
    }

    /// Counts nesting as GitHub does, to refuse what GitHub refuses.
    fn deeper(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error_at(
                self.lexemes[self.next].at,
                format!("expected at most {MAX_DEPTH} levels of nesting"),
            ));
        }
        Ok(())
    }

    fn expression(&mut self) -> Parsed {
        self.deeper()?;
        let expr = self.logical(&Token::Or)?;
        self.depth -= 1;
        Ok(expr)
    }

    /// `a || b || …` over `&&`s, and `a && b && …` over comparisons.
    fn logical(&mut self, operator: &Token) -> Parsed {
        let operand = |parser: &mut Self| match operator {
            Token::Or => parser.logical(&Token::And),
            _ => parser.comparison(true),
        };
        let first = operand(self)?;
        if self.peek() != operator {
            return Ok(first);
        }
        self.deeper()?;
        let mut operands = vec![first];
        while self.eat(operator) {
            operands.push(operand(self)?);
        }
        self.depth -= 1;
        Ok(if operator == &Token::Or {
            Expr::Or(operands)
        } else {
            Expr::And(operands)
        })
    }

    /// `==`/`!=` over `<`/`<=`/`>`/`>=` over unary; each left to right.
    fn comparison(&mut self, equality: bool) -> Parsed {
        let operand = |parser: &mut Self| {
            if equality {
                parser.comparison(false)
            } else {
                parser.unary()
            }
        };
        let mut left = operand(self)?;
        while let Token::Compare(op) = *self.peek() {
            if op.is_equality() != equality {
                break;
            }
            self.next += 1;
            let right = operand(self)?;
            left = Expr::Compare {
                op,
                left: Box::new(left),
                right: Box::new(right),
            };
        }
        Ok(left)
    }

    fn unary(&mut self) -> Parsed {
        if !self.eat(&Token::Not) {
            return self.access();
        }
        self.deeper()?;
        let operand = self.unary()?;
        self.depth -= 1;
        Ok(Expr::Not(Box::new(operand)))
    }

    /// `.name`, `.*`, `[index]` and `[*]` after a context, a call or a group.
    fn access(&mut self) -> Parsed {
        let (mut expr, accessible) = self.primary()?;
        if !accessible {
            return Ok(expr);
        }
        let depth = self.depth;
        loop {
            let target = Box::new(expr);
            if self.eat(&Token::LeftBracket) {
                let index = if self.eat(&Token::Star) {
                    None
                } else {
                    Some(self.expression()?)
                };
                if !self.eat(&Token::RightBracket) {
                    return Err(self.unexpected("']'"));
                }
                self.deeper()?;
                expr = match index {
                    Some(index) => Expr::Index {
                        target,
                        index: Box::new(index),
                    },
                    None => Expr::Filter { target },
                };
            } else if self.eat(&Token::Dot) {
                self.deeper()?;
                expr = match self.peek().clone() {
                    Token::Name(name) => Expr::Index {
                        target,
                        index: Box::new(Expr::Literal(Value::String(name))),
                    },
                    Token::Star => Expr::Filter { target },
                    _ => return Err(self.unexpected("a property name or '*' after '.'")),
                };
                self.next += 1;
            } else {
                self.depth = depth;
                return Ok(*target);
            }
        }
    }

    /// A literal, a group, a context or a call; and whether `.`/`[]` may follow.
    fn primary(&mut self) -> Result<(Expr, bool), ParseError> {
        let (token, at) = {
            let lexeme = &self.lexemes[self.next];
            (lexeme.token.clone(), lexeme.at)
        };
        let literal = match &token {
            Token::True => Some(Value::Bool(true)),
            Token::False => Some(Value::Bool(false)),
            Token::Null => Some(Value::Null),
            Token::Number(n) => Some(Value::Number(*n)),
            Token::String(s) => Some(Value::String(s.clone())),
            _ => None,
        };
        if let Some(value) = literal {
            self.next += 1;
            return Ok((Expr::Literal(value), false));
        }
        match token {
            Token::LeftParen => {
                self.next += 1;
                let expr = self.expression()?;
                if !self.eat(&Token::RightParen) {
                    return Err(self.unexpected("')'"));
                }
                Ok((expr, true))
            }
            Token::Name(name) => {
                self.next += 1;
                if self.eat(&Token::LeftParen) {
                    self.call(&name, at).map(|call| (call, true))
                } else if self
                    .contexts
                    .iter()
                    .any(|known| known.eq_ignore_ascii_case(&name))
                {
                    Ok((Expr::Context(name), true))
                } else {
                    Err(self.error_at(
                        at,
                        format!(
                            "expected a context ({}), found '{name}'",
                            self.contexts.join(", ")
                        ),
                    ))
                }
            }
            _ => Err(self.unexpected("a value")),
        }
    }

    /// The arguments of a call, its `(` eaten.
    fn call(&mut self, name: &str, at: usize) -> Parsed {
        let mut args = Vec::new();
        while !self.eat(&Token::RightParen) {
            args.push(self.expression()?);
            if self.peek() != &Token::RightParen && !self.eat(&Token::Comma) {
                return Err(self.unexpected("',' or ')'"));
            }
        }
        let function = Function::named(name)
            .filter(|function| self.status_functions_allowed || !function.is_status())
            .ok_or_else(|| {
                let allowed = FUNCTIONS.iter().filter(|(function, ..)| {
                    self.status_functions_allowed || !function.is_status()
                });
                let names: Vec<&str> = allowed.map(|(_, name, ..)| *name).collect();
                self.error_at(
                    at,
                    format!("expected a function ({}), found '{name}'", names.join(", ")),
                )
            })?;
        if let Some(problem) = function.arity_problem(args.len()) {
            return Err(self.error_at(at, problem));
        }
        Ok(Expr::Call { function, args })
    }
}

// ---------------------------------------------------------------- evaluation

/// How the job stands, for the status functions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum JobStatus {
    #[default]
    Success,
    Failure,
    Cancelled,
    /// A job it needs was skipped: neither `success()` nor `failure()`
    /// holds, so as on GitHub it is skipped too unless its `if` says
    /// otherwise (`always()`, `!cancelled()`).
    Skipped,
}

/// What an expression is evaluated against: the named contexts and the job
/// status.
#[derive(Clone, Debug, Default)]
pub struct Scope {
    contexts: Vec<(String, Value)>,
    status: JobStatus,
}

impl Scope {
    pub fn new(status: JobStatus) -> Scope {
        Scope {
            contexts: Vec::new(),
            status,
        }
    }

    /// Adds (or replaces) a context.
    pub fn with(mut self, name: &str, value: impl Into<Value>) -> Scope {
        self.contexts
            .retain(|(known, _)| !known.eq_ignore_ascii_case(name));
        self.contexts.push((name.to_owned(), value.into()));
        self
    }

    /// The same contexts, with the job status `status`.
    pub fn with_status(mut self, status: JobStatus) -> Scope {
        self.status = status;
        self
    }

    /// A context the parser allowed but the scope lacks reads as `null`.
    fn context(&self, name: &str) -> Value {
        let found = self
            .contexts
            .iter()
            .find(|(known, _)| known.eq_ignore_ascii_case(name));
        found.map_or(Value::Null, |(_, value)| value.clone())
    }
}

pub fn evaluate(expr: &Expr, scope: &Scope) -> Result<Value, EvalError> {
    Ok(match expr {
        Expr::Literal(value) => value.clone(),
        Expr::Context(name) => scope.context(name),
        Expr::Index { target, index } => {
            let key = evaluate(index, scope)?;
            index_value(&evaluate(target, scope)?, &key)
        }
        Expr::Filter { target } => filter(&evaluate(target, scope)?),
        Expr::Not(operand) => Value::Bool(!evaluate(operand, scope)?.is_truthy()),
        Expr::Compare { op, left, right } => {
            let left = evaluate(left, scope)?;
            Value::Bool(op.apply(&left, &evaluate(right, scope)?))
        }
        Expr::And(operands) => first_operand(operands, scope, false)?,
        Expr::Or(operands) => first_operand(operands, scope, true)?,
        Expr::Call { function, args } => {
            let args = args
                .iter()
                .map(|arg| evaluate(arg, scope))
                .collect::<Result<Vec<_>, _>>()?;
            call(*function, &args, scope.status)?
        }
    })
}

/// `&&` and `||`: the first operand whose truth is `stop_at`, else the last.
fn first_operand(operands: &[Expr], scope: &Scope, stop_at: bool) -> Result<Value, EvalError> {
    let mut result = Value::Null;
    for operand in operands {
        result = evaluate(operand, scope)?;
        if result.is_truthy() == stop_at {
            break;
        }
    }
    Ok(result)
}

/// A number usable as an array index, if the key is one.
fn array_index(key: &Value) -> Option<usize> {
    let n = key.to_number();
    (n.is_finite() && n >= 0.0).then(|| n.floor() as usize)
}

fn index_value(target: &Value, key: &Value) -> Value {
    let property = |object: &Object| {
        key.is_primitive()
            .then(|| object.get(&key.to_string()))
            .flatten()
            .cloned()
    };
    let element = |array: &Array| array_index(key).and_then(|i| array.items.get(i)).cloned();
    match target {
        Value::Array(array) if array.filtered => {
            let items = array.items.iter().filter_map(|item| match item {
                Value::Object(object) => property(object),
                Value::Array(inner) => element(inner),
                _ => None,
            });
            Value::array(items.collect(), true)
        }
        Value::Array(array) => element(array).unwrap_or(Value::Null),
        Value::Object(object) => property(object).unwrap_or(Value::Null),
        _ => Value::Null,
    }
}

/// `*`: the items of an array or the values of an object; of a filtered
/// array, those of each item.
fn filter(target: &Value) -> Value {
    let members = |value: &Value| -> Vec<Value> {
        match value {
            Value::Array(array) => array.items.clone(),
            Value::Object(object) => object
                .entries
                .iter()
                .map(|(_, value)| value.clone())
                .collect(),
            _ => Vec::new(),
        }
    };
    match target {
        Value::Array(array) if array.filtered => {
            Value::array(array.items.iter().flat_map(members).collect(), true)
        }
        other => Value::array(members(other), true),
    }
}

fn call(function: Function, args: &[Value], status: JobStatus) -> Result<Value, EvalError> {
    let strings = || {
        (args[0].is_primitive() && args[1].is_primitive()).then(|| {
            (
                fold_case(&args[0].to_string()),
                fold_case(&args[1].to_string()),
            )
        })
    };
    Ok(match function {
        Function::Contains => Value::Bool(match &args[0] {
            Value::Array(array) => array.items.iter().any(|item| loosely_equal(&args[1], item)),
            _ => strings().is_some_and(|(text, part)| text.contains(&part)),
        }),
        Function::StartsWith => {
            Value::Bool(strings().is_some_and(|(text, start)| text.starts_with(&start)))
        }
        Function::EndsWith => {
            Value::Bool(strings().is_some_and(|(text, end)| text.ends_with(&end)))
        }
        Function::Format => Value::String(format_string(&args[0].to_string(), &args[1..])?),
        Function::Join => Value::String(join(&args[0], args.get(1))),
        Function::ToJson => Value::String(args[0].to_json_text()),
        Function::FromJson => from_json(&args[0].to_string())?,
        Function::Case => choose_case(args)?,
        Function::Success => Value::Bool(status == JobStatus::Success),
        Function::Failure => Value::Bool(status == JobStatus::Failure),
        Function::Cancelled => Value::Bool(status == JobStatus::Cancelled),
        Function::Always => Value::Bool(true),
    })
}

/// `format('{0} and {1}', a, b)`, with `{{` and `}}` for braces.
fn format_string(pattern: &str, args: &[Value]) -> Result<String, EvalError> {
    let invalid = || {
        EvalError(format!(
            "format: {pattern:?} is not a valid format string (use {{{{ and }}}} for braces)"
        ))
    };
    let mut out = String::new();
    let mut rest = pattern;
    loop {
        match (rest.find('{'), rest.find('}')) {
            (Some(left), right) if right.is_none_or(|right| right > left) => {
                if rest[left + 1..].starts_with('{') {
                    out.push_str(&rest[..=left]);
                    rest = &rest[left + 2..];
                    continue;
                }
                // `{N`, then anything up to the `}` (GitHub ignores it).
                let digits = rest[left + 1..]
                    .bytes()
                    .take_while(u8::is_ascii_digit)
                    .count();
                let right = right.filter(|_| digits > 0).ok_or_else(invalid)?;
                let number: usize = rest[left + 1..left + 1 + digits]
                    .parse()
                    .map_err(|_| invalid())?;
                let arg = args.get(number).ok_or_else(|| {
                    EvalError(format!(
                        "format: {pattern:?} uses argument {{{number}}}, but only {} were given",
                        args.len()
                    ))
                })?;
                out.push_str(&rest[..left]);
                out.push_str(&arg.to_string());
                rest = &rest[right + 1..];
            }
            (_, Some(right)) if rest[right + 1..].starts_with('}') => {
                out.push_str(&rest[..=right]);
                rest = &rest[right + 2..];
            }
            (None, None) => {
                out.push_str(rest);
                return Ok(out);
            }
            _ => return Err(invalid()),
        }
    }
}

/// `join(array, separator)`: the items as strings, `,` between them unless
/// told otherwise; a primitive is its own string, an object nothing.
fn join(items: &Value, separator: Option<&Value>) -> String {
    match items {
        Value::Array(array) => {
            let separator = separator
                .filter(|s| s.is_primitive())
                .map_or(",".to_string(), Value::to_string);
            array
                .items
                .iter()
                .map(Value::to_string)
                .collect::<Vec<_>>()
                .join(&separator)
        }
        Value::Object(_) => String::new(),
        primitive => primitive.to_string(),
    }
}

fn from_json(text: &str) -> Result<Value, EvalError> {
    if text.trim().is_empty() {
        return Err(EvalError("fromJSON: the text is empty".into()));
    }
    serde_json::from_str(text)
        .map_err(|error| EvalError(format!("fromJSON: {text:?} is not JSON: {error}")))
}

/// `case(predicate, value, …, default)`: the value after the first true
/// predicate, else the default; a predicate must be a boolean.
fn choose_case(args: &[Value]) -> Result<Value, EvalError> {
    let (default, pairs) = args.split_last().expect("the parser checked the arguments");
    for pair in pairs.chunks(2) {
        match pair[0] {
            Value::Bool(true) => return Ok(pair[1].clone()),
            Value::Bool(false) => {}
            ref other => {
                return Err(EvalError(format!(
                    "case: a predicate must be true or false, not {}",
                    other.kind()
                )));
            }
        }
    }
    Ok(default.clone())
}

// ---------------------------------------------------------------- references

/// A context path an expression reads: `steps.build.outputs.x` is the
/// context `steps` and the keys `build`, `outputs`, `x`. Names are as
/// written; GitHub compares them ignoring case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reference {
    pub context: String,
    pub path: Vec<Segment>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Segment {
    /// `.name`, or an index written as a literal (`['name']`, `[0]`).
    Key(String),
    /// `*`, or an index computed when the expression runs.
    Any,
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.context)?;
        for segment in &self.path {
            match segment {
                Segment::Key(key) => write!(f, ".{key}")?,
                Segment::Any => f.write_str(".*")?,
            }
        }
        Ok(())
    }
}

/// The context paths `expr` reads, each as far as it is written out
/// (`steps.build.outputs.x`, not also `steps` and `steps.build`).
pub fn references(expr: &Expr) -> Vec<Reference> {
    let mut found = Vec::new();
    collect_references(expr, &mut found);
    found
}

fn collect_references(expr: &Expr, found: &mut Vec<Reference>) {
    match expr {
        Expr::Context(_) | Expr::Index { .. } | Expr::Filter { .. } => {
            if let Some(reference) = access_path(expr, found) {
                found.push(reference);
            }
        }
        other => other
            .children()
            .into_iter()
            .for_each(|child| collect_references(child, found)),
    }
}

/// The path of an access chain that starts at a context; references inside
/// computed indices go to `found`.
fn access_path(expr: &Expr, found: &mut Vec<Reference>) -> Option<Reference> {
    let (target, segment) = match expr {
        Expr::Context(name) => {
            return Some(Reference {
                context: name.clone(),
                path: Vec::new(),
            });
        }
        Expr::Index { target, index } => match index.as_ref() {
            Expr::Literal(key) => (target, Segment::Key(key.to_string())),
            computed => {
                collect_references(computed, found);
                (target, Segment::Any)
            }
        },
        Expr::Filter { target } => (target, Segment::Any),
        other => {
            collect_references(other, found);
            return None;
        }
    };
    let mut reference = access_path(target, found)?;
    reference.path.push(segment);
    Some(reference)
}

// ---------------------------------------------------------------- templates

/// A string with `${{ … }}` parts.
#[derive(Clone, Debug)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Clone, Debug)]
enum Part {
    Text(String),
    Expression(Expr),
}

impl Template {
    pub fn parse(text: &str, contexts: &[&str]) -> Result<Template, ParseError> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find("${{") {
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_owned()));
            }
            let inner = &rest[open + 3..];
            let Some(close) = expression_end(inner) else {
                let position = text.len() - rest.len() + open;
                return Err(ParseError {
                    expression: text.to_owned(),
                    position: text[..position].chars().count() + 1,
                    problem: "expected '}}' to close this '${{'".into(),
                });
            };
            parts.push(Part::Expression(parse(inner[..close].trim(), contexts)?));
            rest = &inner[close + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_owned()));
        }
        Ok(Template { parts })
    }

    /// A template that is one `${{ … }}` and nothing else gives the value
    /// itself (an array stays an array); any other gives a string.
    pub fn evaluate(&self, scope: &Scope) -> Result<Value, EvalError> {
        match self.parts.as_slice() {
            [Part::Expression(expr)] => evaluate(expr, scope),
            _ => self.render(scope).map(Value::String),
        }
    }

    /// The template as a string, each value in GitHub's string form.
    pub fn render(&self, scope: &Scope) -> Result<String, EvalError> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Expression(expr) => out.push_str(&evaluate(expr, scope)?.to_string()),
            }
        }
        Ok(out)
    }

    pub fn references(&self) -> Vec<Reference> {
        let expressions = self.parts.iter().filter_map(|part| match part {
            Part::Expression(expr) => Some(expr),
            Part::Text(_) => None,
        });
        expressions.flat_map(references).collect()
    }
}

/// Where the `}}` closing an expression is, skipping `}}` inside strings.
fn expression_end(text: &str) -> Option<usize> {
    let mut in_string = false;
    for (at, c) in text.char_indices() {
        if c == '\'' {
            // `''` inside a string toggles twice, so it stays inside.
            in_string = !in_string;
        } else if !in_string && text[at..].starts_with("}}") {
            return Some(at);
        }
    }
    None
}

/// Parses an `if`: the expression with or without `${{ }}` around it. As on
/// GitHub, one that calls no status function means `success() && (…)`, and
/// an empty one means `success()`.
pub fn condition(text: &str, contexts: &[&str]) -> Result<Expr, ParseError> {
    let text = text.trim();
    let success = Expr::Call {
        function: Function::Success,
        args: Vec::new(),
    };
    if text.is_empty() {
        return Ok(success);
    }
    let wrapped = text.strip_prefix("${{").and_then(|rest| {
        let close = expression_end(rest)?;
        rest[close + 2..].is_empty().then(|| &rest[..close])
    });
    let inner = match (wrapped, text.find("${{")) {
        (Some(inner), _) => inner,
        (None, Some(open)) => {
            return Err(ParseError {
                expression: text.to_owned(),
                position: text[..open].chars().count() + 1,
                problem: "expected one expression, with or without ${{ }} around all of it".into(),
            });
        }
        (None, None) => text,
    };
    let expr = Parser::parse(inner.trim(), contexts, true)?;
    Ok(if expr.uses_status_function() {
        expr
    } else {
        Expr::And(vec![success, expr])
    })
}

#[cfg(test)]
mod tests;
