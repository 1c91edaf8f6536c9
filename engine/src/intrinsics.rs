//! Intrinsic functions (`States.Format(...)`, `States.Array(...)`, ...).
//!
//! An intrinsic is parsed once, when the definition loads, into a call tree whose arguments are
//! literals (`'text'` with `\` escapes, numbers, `true`, `false`, `null`), paths (`$.a`, `$$.b`)
//! or nested calls. Evaluation errors are `States.Runtime`, as on AWS (which reserves
//! `States.IntrinsicFailure` but reports `States.Runtime`).

use std::fmt::Write as _;

use base64::Engine as _;
use md5::Digest as _;
use serde_json::{Map, Number, Value};

use crate::errors::StateError;
use crate::paths::{Path, Scope};

/// Longest string `States.Base64Encode`, `States.Base64Decode` and `States.Hash` accept.
const MAX_STRING_INPUT: usize = 10_000;
/// Most items `States.ArrayRange` may produce.
const MAX_RANGE_ITEMS: usize = 1_000;

/// The intrinsic functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Function {
    Format,
    StringToJson,
    JsonToString,
    Array,
    ArrayPartition,
    ArrayContains,
    ArrayRange,
    ArrayGetItem,
    ArrayLength,
    ArrayUnique,
    Base64Encode,
    Base64Decode,
    Hash,
    JsonMerge,
    MathRandom,
    MathAdd,
    StringSplit,
    Uuid,
}

impl Function {
    fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "States.Format" => Self::Format,
            "States.StringToJson" => Self::StringToJson,
            "States.JsonToString" => Self::JsonToString,
            "States.Array" => Self::Array,
            "States.ArrayPartition" => Self::ArrayPartition,
            "States.ArrayContains" => Self::ArrayContains,
            "States.ArrayRange" => Self::ArrayRange,
            "States.ArrayGetItem" => Self::ArrayGetItem,
            "States.ArrayLength" => Self::ArrayLength,
            "States.ArrayUnique" => Self::ArrayUnique,
            "States.Base64Encode" => Self::Base64Encode,
            "States.Base64Decode" => Self::Base64Decode,
            "States.Hash" => Self::Hash,
            "States.JsonMerge" => Self::JsonMerge,
            "States.MathRandom" => Self::MathRandom,
            "States.MathAdd" => Self::MathAdd,
            "States.StringSplit" => Self::StringSplit,
            "States.UUID" => Self::Uuid,
            _ => return None,
        })
    }

    /// The inclusive range of argument counts the function takes.
    fn arity(self) -> (usize, usize) {
        match self {
            Self::Format => (1, usize::MAX),
            Self::Array => (0, usize::MAX),
            Self::StringToJson
            | Self::JsonToString
            | Self::ArrayLength
            | Self::ArrayUnique
            | Self::Base64Encode
            | Self::Base64Decode => (1, 1),
            Self::ArrayPartition
            | Self::ArrayContains
            | Self::ArrayGetItem
            | Self::Hash
            | Self::MathAdd
            | Self::StringSplit => (2, 2),
            Self::ArrayRange | Self::JsonMerge => (3, 3),
            Self::MathRandom => (2, 3),
            Self::Uuid => (0, 0),
        }
    }
}

/// One argument of an intrinsic call.
#[derive(Debug, Clone)]
enum Arg {
    /// A string literal: its value, and its text with escapes kept (for `States.Format`).
    Text { value: String, raw: String },
    /// A number, boolean or null literal.
    Literal(Value),
    /// A path over the input.
    Input(Path),
    /// A path over the context object.
    Context(Path),
    /// A nested call.
    Call(Intrinsic),
}

/// A parsed intrinsic function call.
#[derive(Debug, Clone)]
pub struct Intrinsic {
    function: Function,
    name: String,
    args: Vec<Arg>,
}

impl Intrinsic {
    /// Parses an intrinsic call such as `States.Format('Hi {}', $.name)`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut parser = Parser { text, pos: 0 };
        let call = parser.call()?;
        parser.skip_spaces();
        if parser.pos != text.len() {
            return Err(parser.error("unexpected text after the closing parenthesis"));
        }
        Ok(call)
    }

    /// Evaluates the call.
    pub fn evaluate(&self, scope: &Scope<'_>) -> Result<Value, StateError> {
        let fail = |why: String| StateError::runtime(format!("{}: {why}", self.name));
        let args = self
            .args
            .iter()
            .map(|arg| match arg {
                Arg::Text { value, .. } => Ok(Value::String(value.clone())),
                Arg::Literal(value) => Ok(value.clone()),
                Arg::Input(path) => path
                    .find(scope.input())
                    .ok_or_else(|| fail(format!("the path '{}' could not be found in the input", path.as_str()))),
                Arg::Context(path) => path.find(scope.context()).ok_or_else(|| {
                    fail(format!("the path '${}' could not be found in the context object", path.as_str()))
                }),
                Arg::Call(call) => call.evaluate(scope),
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.apply(&args).map_err(fail)
    }

    fn apply(&self, args: &[Value]) -> Result<Value, String> {
        match self.function {
            Function::Format => {
                let template = match &self.args[0] {
                    Arg::Text { raw, .. } => raw.clone(),
                    _ => string_arg(args, 0)?.to_owned(),
                };
                format(&template, &args[1..])
            }
            Function::StringToJson => {
                serde_json::from_str(string_arg(args, 0)?).map_err(|e| format!("the argument is not valid JSON: {e}"))
            }
            Function::JsonToString => Ok(Value::String(args[0].to_string())),
            Function::Array => Ok(Value::Array(args.to_vec())),
            Function::ArrayPartition => {
                let items = array_arg(args, 0)?;
                let size = usize_arg(args, 1)?;
                if size == 0 {
                    return Err("the chunk size must be greater than zero".into());
                }
                Ok(Value::Array(items.chunks(size).map(|c| Value::Array(c.to_vec())).collect()))
            }
            Function::ArrayContains => Ok(Value::Bool(array_arg(args, 0)?.contains(&args[1]))),
            Function::ArrayRange => array_range(int_arg(args, 0)?, int_arg(args, 1)?, int_arg(args, 2)?),
            Function::ArrayGetItem => {
                let items = array_arg(args, 0)?;
                let index = usize_arg(args, 1)?;
                items.get(index).cloned().ok_or_else(|| format!("the index {index} is out of bounds"))
            }
            Function::ArrayLength => Ok(Value::from(array_arg(args, 0)?.len())),
            Function::ArrayUnique => {
                let mut unique: Vec<Value> = Vec::new();
                for item in array_arg(args, 0)? {
                    if !unique.contains(item) {
                        unique.push(item.clone());
                    }
                }
                Ok(Value::Array(unique))
            }
            Function::Base64Encode => {
                let text = limited_string_arg(args, 0)?;
                Ok(Value::String(base64::engine::general_purpose::STANDARD.encode(text)))
            }
            Function::Base64Decode => {
                let text = limited_string_arg(args, 0)?;
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(text)
                    .map_err(|e| format!("the argument is not valid base64: {e}"))?;
                String::from_utf8(bytes).map(Value::String).map_err(|_| "the decoded bytes are not UTF-8".into())
            }
            Function::Hash => hash(limited_string_arg(args, 0)?, string_arg(args, 1)?),
            Function::JsonMerge => {
                let (Value::Object(left), Value::Object(right)) = (&args[0], &args[1]) else {
                    return Err("the first two arguments must be objects".into());
                };
                if args[2] != Value::Bool(false) {
                    return Err("only shallow merging is supported: the third argument must be false".into());
                }
                let mut merged: Map<String, Value> = left.clone();
                merged.extend(right.iter().map(|(k, v)| (k.clone(), v.clone())));
                Ok(Value::Object(merged))
            }
            Function::MathRandom => {
                let (start, end) = (int_arg(args, 0)?, int_arg(args, 1)?);
                if start >= end {
                    return Err("the start must be less than the end".into());
                }
                let mut rng = match args.get(2) {
                    Some(_) => fastrand::Rng::with_seed(int_arg(args, 2)?.cast_unsigned()),
                    None => fastrand::Rng::new(),
                };
                Ok(Value::from(rng.i64(start..end)))
            }
            Function::MathAdd => int_arg(args, 0)?
                .checked_add(int_arg(args, 1)?)
                .map(Value::from)
                .ok_or_else(|| "the sum overflows".into()),
            Function::StringSplit => {
                let text = string_arg(args, 0)?;
                let delimiters = string_arg(args, 1)?;
                let parts = text
                    .split(|c: char| delimiters.contains(c))
                    .filter(|part| !part.is_empty())
                    .map(|part| Value::String(part.to_owned()))
                    .collect();
                Ok(Value::Array(parts))
            }
            Function::Uuid => Ok(Value::String(uuid::Uuid::new_v4().to_string())),
        }
    }
}

fn string_arg(args: &[Value], index: usize) -> Result<&str, String> {
    args[index].as_str().ok_or_else(|| format!("argument {} must be a string", index + 1))
}

fn limited_string_arg(args: &[Value], index: usize) -> Result<&str, String> {
    let text = string_arg(args, index)?;
    if text.chars().count() > MAX_STRING_INPUT {
        return Err(format!("argument {} is longer than {MAX_STRING_INPUT} characters", index + 1));
    }
    Ok(text)
}

fn array_arg(args: &[Value], index: usize) -> Result<&Vec<Value>, String> {
    args[index].as_array().ok_or_else(|| format!("argument {} must be an array", index + 1))
}

fn int_arg(args: &[Value], index: usize) -> Result<i64, String> {
    let number = args[index].as_number().ok_or_else(|| format!("argument {} must be a number", index + 1))?;
    if let Some(n) = number.as_i64() {
        return Ok(n);
    }
    match number.as_f64() {
        #[allow(clippy::cast_possible_truncation)]
        Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(f as i64),
        _ => Err(format!("argument {} must be an integer", index + 1)),
    }
}

fn usize_arg(args: &[Value], index: usize) -> Result<usize, String> {
    usize::try_from(int_arg(args, index)?).map_err(|_| format!("argument {} must not be negative", index + 1))
}

/// `States.Format`: `{}` takes the next argument; `\` escapes the next character.
fn format(template: &str, args: &[Value]) -> Result<Value, String> {
    let mut out = String::with_capacity(template.len());
    let mut next = args.iter();
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(chars.next().ok_or("the template ends with a lone backslash")?),
            '{' if chars.peek() == Some(&'}') => {
                chars.next();
                let arg = next.next().ok_or("the template has more {} than arguments")?;
                match arg {
                    Value::String(s) => out.push_str(s),
                    Value::Number(_) | Value::Bool(_) | Value::Null => {
                        let _ = write!(out, "{arg}");
                    }
                    Value::Array(_) | Value::Object(_) => {
                        return Err("an argument to interpolate must be a string, number, boolean or null".into());
                    }
                }
            }
            '{' | '}' => return Err("a brace in the template must be escaped or part of {}".into()),
            other => out.push(other),
        }
    }
    if next.next().is_some() {
        return Err("the template has fewer {} than arguments".into());
    }
    Ok(Value::String(out))
}

fn array_range(start: i64, end: i64, step: i64) -> Result<Value, String> {
    if step == 0 {
        return Err("the step must not be zero".into());
    }
    let mut items = Vec::new();
    let mut current = start;
    while (step > 0 && current <= end) || (step < 0 && current >= end) {
        if items.len() == MAX_RANGE_ITEMS {
            return Err(format!("the range has more than {MAX_RANGE_ITEMS} items"));
        }
        items.push(Value::Number(Number::from(current)));
        current = current.checked_add(step).ok_or("the range overflows")?;
    }
    Ok(Value::Array(items))
}

fn hash(data: &str, algorithm: &str) -> Result<Value, String> {
    let bytes = data.as_bytes();
    let digest = match algorithm {
        "MD5" => hex::encode(md5::Md5::digest(bytes)),
        "SHA-1" => hex::encode(sha1::Sha1::digest(bytes)),
        "SHA-256" => hex::encode(sha2::Sha256::digest(bytes)),
        "SHA-384" => hex::encode(sha2::Sha384::digest(bytes)),
        "SHA-512" => hex::encode(sha2::Sha512::digest(bytes)),
        other => return Err(format!("unknown algorithm '{other}': use MD5, SHA-1, SHA-256, SHA-384 or SHA-512")),
    };
    Ok(Value::String(digest))
}

/// A recursive-descent parser over the call text.
struct Parser<'t> {
    text: &'t str,
    pos: usize,
}

impl Parser<'_> {
    fn error(&self, why: &str) -> String {
        format!("invalid intrinsic function '{}' at character {}: {why}", self.text, self.pos + 1)
    }

    fn rest(&self) -> &str {
        &self.text[self.pos..]
    }

    fn skip_spaces(&mut self) {
        let trimmed = self.rest().trim_start();
        self.pos = self.text.len() - trimmed.len();
    }

    fn eat(&mut self, c: char) -> bool {
        self.skip_spaces();
        if self.rest().starts_with(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }

    fn call(&mut self) -> Result<Intrinsic, String> {
        self.skip_spaces();
        let len = self.rest().find(|c: char| !(c.is_ascii_alphanumeric() || c == '.')).unwrap_or(self.rest().len());
        let name = self.rest()[..len].to_owned();
        let function = Function::from_name(&name).ok_or_else(|| self.error(&format!("unknown function '{name}'")))?;
        self.pos += len;
        if !self.eat('(') {
            return Err(self.error("expected '('"));
        }
        let mut args = Vec::new();
        if !self.eat(')') {
            loop {
                args.push(self.arg()?);
                if self.eat(')') {
                    break;
                }
                if !self.eat(',') {
                    return Err(self.error("expected ',' or ')'"));
                }
            }
        }
        let (min, max) = function.arity();
        if args.len() < min || args.len() > max {
            return Err(self.error(&format!("{name} takes {} arguments, not {}", arity_text(min, max), args.len())));
        }
        Ok(Intrinsic { function, name, args })
    }

    fn arg(&mut self) -> Result<Arg, String> {
        self.skip_spaces();
        if self.rest().starts_with('\'') {
            return self.text_literal();
        }
        if self.rest().starts_with("States.") {
            return Ok(Arg::Call(self.call()?));
        }
        let len = self.token_len();
        let token = self.rest()[..len].trim_end().to_owned();
        self.pos += len;
        let token = token.as_str();
        if token.is_empty() {
            return Err(self.error("expected an argument"));
        }
        if let Some(path) = token.strip_prefix("$$") {
            return Ok(Arg::Context(Path::parse(&format!("${path}")).map_err(|e| self.error(&e))?));
        }
        if token.starts_with('$') {
            return Ok(Arg::Input(Path::parse(token).map_err(|e| self.error(&e))?));
        }
        match serde_json::from_str::<Value>(token) {
            Ok(value @ (Value::Number(_) | Value::Bool(_) | Value::Null)) => Ok(Arg::Literal(value)),
            _ => Err(self.error(&format!("'{token}' is not a literal, a path or a function"))),
        }
    }

    /// The length of an unquoted argument: up to a `,` or `)` outside brackets and quotes.
    fn token_len(&self) -> usize {
        let mut depth = 0usize;
        let mut quote = None;
        for (i, c) in self.rest().char_indices() {
            match (quote, c) {
                (Some(q), _) if c == q => quote = None,
                (None, '\'' | '"') => quote = Some(c),
                (None, '[' | '(') => depth += 1,
                (None, ']') => depth = depth.saturating_sub(1),
                (None, ')') if depth > 0 => depth -= 1,
                (None, ',' | ')') if depth == 0 => return i,
                _ => {}
            }
        }
        self.rest().len()
    }

    fn text_literal(&mut self) -> Result<Arg, String> {
        self.pos += 1;
        let mut value = String::new();
        let mut raw = String::new();
        let mut chars = self.rest().char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => {
                    let (_, escaped) = chars.next().ok_or_else(|| self.error("unterminated string"))?;
                    value.push(escaped);
                    if escaped != '\'' {
                        raw.push('\\');
                    }
                    raw.push(escaped);
                }
                '\'' => {
                    self.pos += i + 1;
                    return Ok(Arg::Text { value, raw });
                }
                other => {
                    value.push(other);
                    raw.push(other);
                }
            }
        }
        Err(self.error("unterminated string"))
    }
}

fn arity_text(min: usize, max: usize) -> String {
    match (min, max) {
        (min, usize::MAX) => format!("at least {min}"),
        (min, max) if min == max => format!("{min}"),
        (min, max) => format!("{min} to {max}"),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::errors::names;

    fn context() -> Value {
        json!({"Execution": {"Name": "exec-7"}})
    }

    fn eval_on(text: &str, input: &Value) -> Result<Value, StateError> {
        let call = Intrinsic::parse(text).unwrap_or_else(|e| panic!("{e}"));
        call.evaluate(&Scope::new(input, &context))
    }

    fn eval(text: &str) -> Value {
        eval_on(text, &json!({})).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn format_interpolates_arguments_in_order() {
        let input = json!({"name": "Ada", "n": 3});
        let out = eval_on("States.Format('Hello {}, you have {} items', $.name, $.n)", &input).unwrap();
        assert_eq!(out, json!("Hello Ada, you have 3 items"));
    }

    #[test]
    fn format_honours_escaped_braces_and_quotes() {
        assert_eq!(eval(r"States.Format('a \{\} b \'{}\'', 'x')"), json!("a {} b 'x'"));
    }

    #[test]
    fn format_with_too_few_arguments_is_a_runtime_error() {
        let err = eval_on("States.Format('{} {}', 'x')", &json!({})).unwrap_err();
        assert_eq!(err.error, names::RUNTIME);
    }

    #[test]
    fn nested_calls_and_context_paths_are_arguments() {
        assert_eq!(eval("States.Format('{}-{}', $$.Execution.Name, States.MathAdd(1, 2))"), json!("exec-7-3"));
    }

    #[test]
    fn a_string_literal_may_hold_commas_and_parentheses() {
        assert_eq!(eval("States.Array('a, (b)', 2, true, null)"), json!(["a, (b)", 2, true, null]));
    }

    #[test]
    fn json_round_trips_through_strings() {
        let input = json!({"s": "{\"a\":[1,2]}"});
        assert_eq!(eval_on("States.StringToJson($.s)", &input).unwrap(), json!({"a": [1, 2]}));
        assert_eq!(eval_on("States.JsonToString($.s)", &input).unwrap(), json!("\"{\\\"a\\\":[1,2]}\""));
        assert_eq!(eval_on("States.JsonToString(States.StringToJson($.s))", &input).unwrap(), json!("{\"a\":[1,2]}"));
    }

    #[test]
    fn array_functions_follow_the_developer_guide_examples() {
        let input = json!({"a": [1, 2, 3, 4, 5, 6, 7, 8, 9], "d": [1, 2, 3, 3, 3, 3, 3, 3, 4]});
        assert_eq!(eval_on("States.ArrayPartition($.a, 4)", &input).unwrap(), json!([[1, 2, 3, 4], [5, 6, 7, 8], [9]]));
        assert_eq!(eval_on("States.ArrayContains($.a, 5)", &input).unwrap(), json!(true));
        assert_eq!(eval_on("States.ArrayContains($.a, 10)", &input).unwrap(), json!(false));
        assert_eq!(eval("States.ArrayRange(1, 9, 2)"), json!([1, 3, 5, 7, 9]));
        assert_eq!(eval("States.ArrayRange(5, 1, -2)"), json!([5, 3, 1]));
        assert_eq!(eval_on("States.ArrayGetItem($.a, 5)", &input).unwrap(), json!(6));
        assert_eq!(eval_on("States.ArrayLength($.a)", &input).unwrap(), json!(9));
        assert_eq!(eval_on("States.ArrayUnique($.d)", &input).unwrap(), json!([1, 2, 3, 4]));
    }

    #[test]
    fn array_range_refuses_more_than_a_thousand_items() {
        assert!(eval_on("States.ArrayRange(1, 1000, 1)", &json!({})).is_ok());
        assert!(eval_on("States.ArrayRange(1, 1001, 1)", &json!({})).is_err());
        assert!(eval_on("States.ArrayRange(1, 5, 0)", &json!({})).is_err());
    }

    #[test]
    fn array_get_item_out_of_bounds_is_a_runtime_error() {
        let err = eval_on("States.ArrayGetItem(States.Array(1), 3)", &json!({})).unwrap_err();
        assert_eq!(err.error, names::RUNTIME);
    }

    #[test]
    fn base64_round_trips() {
        assert_eq!(eval("States.Base64Encode('Data to encode')"), json!("RGF0YSB0byBlbmNvZGU="));
        assert_eq!(eval("States.Base64Decode('RGF0YSB0byBlbmNvZGU=')"), json!("Data to encode"));
    }

    #[test]
    fn hash_supports_the_five_algorithms() {
        assert_eq!(eval("States.Hash('abc', 'MD5')"), json!("900150983cd24fb0d6963f7d28e17f72"));
        assert_eq!(eval("States.Hash('abc', 'SHA-1')"), json!("a9993e364706816aba3e25717850c26c9cd0d89d"));
        assert_eq!(
            eval("States.Hash('abc', 'SHA-256')"),
            json!("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        );
        assert_eq!(eval("States.Hash('abc', 'SHA-384')").as_str().map(str::len), Some(96));
        assert_eq!(eval("States.Hash('abc', 'SHA-512')").as_str().map(str::len), Some(128));
        assert!(eval_on("States.Hash('abc', 'SHA-3')", &json!({})).is_err());
    }

    #[test]
    fn json_merge_is_shallow_and_the_right_side_wins() {
        let input = json!({"a": {"x": 1, "n": {"k": 1}}, "b": {"y": 2, "n": {"j": 2}}});
        assert_eq!(
            eval_on("States.JsonMerge($.a, $.b, false)", &input).unwrap(),
            json!({"x": 1, "n": {"j": 2}, "y": 2})
        );
        assert!(eval_on("States.JsonMerge($.a, $.b, true)", &input).is_err());
    }

    #[test]
    fn math_random_with_a_seed_is_reproducible_and_in_range() {
        let first = eval("States.MathRandom(1, 999, 42)");
        assert_eq!(first, eval("States.MathRandom(1, 999, 42)"));
        let n = first.as_i64().unwrap();
        assert!((1..999).contains(&n));
        for _ in 0..50 {
            let n = eval("States.MathRandom(3, 5)").as_i64().unwrap();
            assert!((3..5).contains(&n));
        }
    }

    #[test]
    fn math_add_adds_integers() {
        assert_eq!(eval("States.MathAdd(111, -1)"), json!(110));
        assert!(eval_on("States.MathAdd(1.5, 1)", &json!({})).is_err());
    }

    #[test]
    fn string_split_splits_on_each_delimiter_character() {
        assert_eq!(eval("States.StringSplit('1,2,3', ',')"), json!(["1", "2", "3"]));
        assert_eq!(
            eval("States.StringSplit('This.is+a,test=string', '.+,=')"),
            json!(["This", "is", "a", "test", "string"])
        );
    }

    #[test]
    fn uuid_is_a_version_four_uuid() {
        let id = eval("States.UUID()");
        let parsed = uuid::Uuid::parse_str(id.as_str().unwrap()).unwrap();
        assert_eq!(parsed.get_version_num(), 4);
    }

    #[test]
    fn parsing_rejects_unknown_functions_bad_arity_and_trailing_text() {
        assert!(Intrinsic::parse("States.Nope(1)").is_err());
        assert!(Intrinsic::parse("States.ArrayLength(1, 2)").is_err());
        assert!(Intrinsic::parse("States.UUID() x").is_err());
        assert!(Intrinsic::parse("States.Format('unterminated)").is_err());
        assert!(Intrinsic::parse("States.Array(bare)").is_err());
    }

    #[test]
    fn a_path_argument_may_contain_brackets_and_commas_in_quotes() {
        let input = json!({"a,b": [10, 20]});
        assert_eq!(eval_on("States.ArrayGetItem($['a,b'], 1)", &input).unwrap(), json!(20));
    }
}
