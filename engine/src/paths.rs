//! Paths and payload templates: how a state selects and reshapes its JSON.
//!
//! - [`Path`]: a JSONPath query (`InputPath`, `OutputPath`, `ItemsPath`, `...Path` fields, `.$`
//!   values). A *definite* path (no wildcard, filter, slice, union or `..`) selects one value and
//!   fails when nothing is there; any other path selects the array of everything it matches.
//! - [`ReferencePath`]: the restricted form `ResultPath` uses (`$`, `.field`, `['field']`,
//!   `[index]`), which can also *write* into a document.
//! - [`Template`]: a payload template (`Parameters`, `ResultSelector`, `ItemSelector`): fields
//!   whose name ends in `.$` take their value from a path, a context-object path (`$$`), or an
//!   intrinsic function.
//! - [`Scope`]: what a template sees: the input, and the context object, built only when used.

use std::cell::OnceCell;
use std::fmt;
use std::sync::Arc;

use serde_json::{Map, Value};
use serde_json_path::JsonPath;

use crate::errors::{StateError, names};
use crate::intrinsics::Intrinsic;

/// A compiled JSONPath query.
#[derive(Clone)]
pub struct Path {
    source: String,
    compiled: JsonPath,
    definite: bool,
    /// The same path as a plain chain of fields and indexes, when it is one: looked up
    /// directly, without the general query machinery.
    simple: Option<ReferencePath>,
}

impl fmt::Debug for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Path({})", self.source)
    }
}

impl Path {
    /// Compiles a JSONPath that starts with `$`.
    pub fn parse(source: &str) -> Result<Self, String> {
        if !source.starts_with('$') {
            return Err(format!("the path '{source}' does not start with '$'"));
        }
        let compiled = JsonPath::parse(&bracket_loose_names(source))
            .map_err(|e| format!("the path '{source}' is not a valid JSONPath: {e}"))?;
        let simple = ReferencePath::parse(source).ok();
        Ok(Self { source: source.to_owned(), compiled, definite: is_definite(source), simple })
    }

    /// The path as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether the path is `$`, selecting the whole document.
    pub fn is_root(&self) -> bool {
        self.source == "$"
    }

    /// The value at this path, or `None` when a definite path finds nothing.
    pub fn find(&self, document: &Value) -> Option<Value> {
        if let Some(simple) = &self.simple {
            return simple.get(document).cloned();
        }
        let nodes = self.compiled.query(document);
        if self.definite {
            nodes.first().cloned()
        } else {
            Some(Value::Array(nodes.all().into_iter().cloned().collect()))
        }
    }

    /// Like [`Path::find`], failing with `States.Runtime` naming `field` when nothing is found.
    pub fn select(&self, document: &Value, field: &str) -> Result<Value, StateError> {
        self.find(document).ok_or_else(|| {
            StateError::runtime(format!(
                "The JSONPath '{}' specified for the field '{field}' could not be found in the input '{}'",
                self.source,
                truncate_json(document)
            ))
        })
    }
}

/// Rewrites dot-notation names that RFC 9535 does not accept but Step Functions does
/// (`$.delivery-partner`, `$.2nd`) into bracket notation (`$['delivery-partner']`).
fn bracket_loose_names(source: &str) -> String {
    let is_plain = |name: &str| {
        let mut chars = name.chars();
        name == "*"
            || (chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
                && chars.all(|c| c.is_alphanumeric() || c == '_'))
    };
    let mut out = String::with_capacity(source.len() + 8);
    let mut rest = source;
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    while let Some(c) = rest.chars().next() {
        rest = &rest[c.len_utf8()..];
        match (quote, c) {
            (Some(q), _) if c == q => quote = None,
            (None, '\'' | '"') if depth > 0 => quote = Some(c),
            (None, '[' | '(') => depth += 1,
            (None, ']' | ')') => depth = depth.saturating_sub(1),
            (None, '.') if depth == 0 && !rest.starts_with('.') => {
                let end = rest.find(['.', '[']).unwrap_or(rest.len());
                let name = &rest[..end];
                if !name.is_empty() && !is_plain(name) {
                    if out.ends_with('.') {
                        out.push('.');
                    }
                    out.push_str("['");
                    out.push_str(&name.replace('\\', "\\\\").replace('\'', "\\'"));
                    out.push_str("']");
                    rest = &rest[end..];
                    continue;
                }
            }
            _ => {}
        }
        out.push(c);
    }
    out
}

/// Whether a JSONPath selects at most one node by its form alone.
fn is_definite(source: &str) -> bool {
    let mut in_quote: Option<char> = None;
    let mut previous = ' ';
    for c in source.chars() {
        match in_quote {
            Some(q) if c == q && previous != '\\' => in_quote = None,
            Some(_) => {}
            None => match c {
                '\'' | '"' => in_quote = Some(c),
                '*' | '?' | ':' | ',' => return false,
                '.' if previous == '.' => return false,
                _ => {}
            },
        }
        previous = c;
    }
    true
}

/// The first characters of a document's JSON text, for error messages.
pub(crate) fn truncate_json(value: &Value) -> String {
    let text = value.to_string();
    if text.len() <= 200 {
        return text;
    }
    let mut end = 200;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &text[..end])
}

/// One step of a reference path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Field(String),
    Index(usize),
}

/// A reference path: a definite path that can also write into a document (`ResultPath`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferencePath {
    source: String,
    steps: Vec<Step>,
}

impl ReferencePath {
    /// Parses `$`, `$.a.b`, `$['a b'].c`, `$.a[0]`.
    pub fn parse(source: &str) -> Result<Self, String> {
        let invalid = |why: &str| format!("the reference path '{source}' is invalid: {why}");
        let mut rest = source.strip_prefix('$').ok_or_else(|| invalid("it must start with '$'"))?;
        let mut steps = Vec::new();
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix('.') {
                let end = after.find(['.', '[']).unwrap_or(after.len());
                let name = &after[..end];
                if name.is_empty() || name.contains(['*', '@', ',', ':', '?', ']', ' ']) {
                    return Err(invalid("a field name is empty or has an operator"));
                }
                steps.push(Step::Field(name.to_owned()));
                rest = &after[end..];
            } else if let Some(after) = rest.strip_prefix("['") {
                let end = after.find("']").ok_or_else(|| invalid("a bracket is not closed"))?;
                steps.push(Step::Field(after[..end].to_owned()));
                rest = &after[end + 2..];
            } else if let Some(after) = rest.strip_prefix('[') {
                let end = after.find(']').ok_or_else(|| invalid("a bracket is not closed"))?;
                let index =
                    after[..end].parse().map_err(|_| invalid("only non-negative indexes may stand in brackets"))?;
                steps.push(Step::Index(index));
                rest = &after[end + 1..];
            } else {
                return Err(invalid("expected '.' or '['"));
            }
        }
        Ok(Self { source: source.to_owned(), steps })
    }

    /// The path as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether the path is `$`.
    pub fn is_root(&self) -> bool {
        self.steps.is_empty()
    }

    /// The value at this path, if any.
    pub fn get<'v>(&self, document: &'v Value) -> Option<&'v Value> {
        self.steps.iter().try_fold(document, |node, step| match step {
            Step::Field(name) => node.get(name.as_str()),
            Step::Index(index) => node.get(*index),
        })
    }

    /// Writes `value` at this path inside `document`, creating missing objects on the way.
    ///
    /// Fails with `States.ResultPathMatchFailure` when the path crosses a value that is not an
    /// object (or an array with that index), as Step Functions does.
    pub fn set(&self, mut document: Value, value: Value) -> Result<Value, StateError> {
        let mut node = &mut document;
        for step in &self.steps {
            let fits = match (step, &*node) {
                (Step::Field(_), Value::Object(_)) => true,
                (Step::Index(index), Value::Array(items)) => *index < items.len(),
                _ => false,
            };
            if !fits {
                return Err(StateError::new(
                    names::RESULT_PATH_MATCH_FAILURE,
                    format!("Unable to apply ResultPath \"{}\" to input \"{}\"", self.source, truncate_json(node)),
                ));
            }
            node = match (step, node) {
                (Step::Field(name), Value::Object(map)) => {
                    map.entry(name.clone()).or_insert_with(|| Value::Object(Map::new()))
                }
                (Step::Index(index), Value::Array(items)) => &mut items[*index],
                (_, other) => other,
            };
        }
        *node = value;
        Ok(document)
    }
}

/// `InputPath` or `OutputPath`: absent (`$`), `null`, or a path.
#[derive(Debug, Clone, Default)]
pub enum FilterPath {
    /// The whole document (the default, and `"$"`).
    #[default]
    Whole,
    /// `null`: the state sees (or emits) `{}`.
    Empty,
    /// A path selecting part of the document.
    Path(Path),
}

impl FilterPath {
    /// Applies the filter; a path that selects nothing is a `States.Runtime` error. The whole
    /// document is passed on without a copy.
    pub fn apply(&self, document: &Arc<Value>, field: &str) -> Result<Arc<Value>, StateError> {
        match self {
            Self::Whole => Ok(Arc::clone(document)),
            Self::Empty => Ok(Arc::new(Value::Object(Map::new()))),
            Self::Path(path) => path.select(document, field).map(Arc::new),
        }
    }
}

/// `ResultPath`: where a state's result goes in its input.
#[derive(Debug, Clone, Default)]
pub enum ResultPath {
    /// `"$"` (the default): the result replaces the input.
    #[default]
    Replace,
    /// `null`: the result is discarded and the input passes through.
    Discard,
    /// A reference path: the result is written into the input there.
    At(ReferencePath),
}

impl ResultPath {
    /// Combines a state's raw input with its result.
    pub fn apply(&self, input: &Arc<Value>, result: Arc<Value>) -> Result<Arc<Value>, StateError> {
        match self {
            Self::Replace => Ok(result),
            Self::Discard => Ok(Arc::clone(input)),
            Self::At(path) => path.set(Value::clone(input), Arc::unwrap_or_clone(result)).map(Arc::new),
        }
    }
}

/// What paths and intrinsic functions in a template can read.
pub struct Scope<'a> {
    input: &'a Value,
    context: &'a dyn Fn() -> Value,
    built: OnceCell<Value>,
}

impl fmt::Debug for Scope<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scope").field("input", self.input).finish_non_exhaustive()
    }
}

impl<'a> Scope<'a> {
    /// A scope over `input`, whose context object is built by `context` the first time a `$$`
    /// path needs it.
    pub fn new(input: &'a Value, context: &'a dyn Fn() -> Value) -> Self {
        Self { input, context, built: OnceCell::new() }
    }

    /// The effective input.
    pub fn input(&self) -> &Value {
        self.input
    }

    /// The context object (`$$`).
    pub fn context(&self) -> &Value {
        self.built.get_or_init(|| (self.context)())
    }
}

/// Where a dynamic value comes from.
#[derive(Debug, Clone)]
pub enum Source {
    /// A JSONPath over the input.
    Input(Path),
    /// A JSONPath over the context object (written `$$...`, stored as `$...`).
    Context(Path),
    /// An intrinsic function call.
    Intrinsic(Box<Intrinsic>),
}

impl Source {
    /// Parses the value of a `.$` field (or of a `...Path` field that allows intrinsics).
    pub fn parse(text: &str) -> Result<Self, String> {
        if let Some(rest) = text.strip_prefix("$$") {
            Ok(Self::Context(Path::parse(&format!("${rest}"))?))
        } else if text.starts_with('$') {
            Ok(Self::Input(Path::parse(text)?))
        } else if text.starts_with("States.") {
            Ok(Self::Intrinsic(Box::new(Intrinsic::parse(text)?)))
        } else {
            Err(format!("'{text}' is neither a path nor an intrinsic function"))
        }
    }

    /// Evaluates the source in `scope`; `field` names the field for error messages.
    pub fn evaluate(&self, scope: &Scope<'_>, field: &str) -> Result<Value, StateError> {
        match self {
            Self::Input(path) => path.select(scope.input(), field),
            Self::Context(path) => path.find(scope.context()).ok_or_else(|| {
                StateError::runtime(format!(
                    "The JSONPath '${}' specified for the field '{field}' could not be found in the context object",
                    path.as_str()
                ))
            }),
            Self::Intrinsic(call) => call.evaluate(scope),
        }
    }
}

/// A compiled payload template.
#[derive(Debug, Clone)]
pub enum Template {
    /// A value used as it is.
    Literal(Value),
    /// An object whose fields are templates in turn; keys are stored without their `.$`.
    Object(Vec<(String, Template)>),
    /// An array of templates.
    Array(Vec<Template>),
    /// A dynamic value, with the original field name for error messages.
    Dynamic { field: String, source: Source },
}

impl Template {
    /// Compiles a payload template; fails on a `.$` field whose value is not a valid path or
    /// intrinsic function, naming the field.
    pub fn compile(value: &Value) -> Result<Self, String> {
        match value {
            Value::Object(map) => {
                let mut fields = Vec::with_capacity(map.len());
                for (key, value) in map {
                    if let Some(name) = key.strip_suffix(".$") {
                        let Value::String(text) = value else {
                            return Err(format!(
                                "the field '{key}' must have a string value (a path or an intrinsic function)"
                            ));
                        };
                        let source = Source::parse(text).map_err(|e| format!("the field '{key}': {e}"))?;
                        fields.push((name.to_owned(), Self::Dynamic { field: key.clone(), source }));
                    } else {
                        fields.push((key.clone(), Self::compile(value)?));
                    }
                }
                Ok(Self::Object(fields))
            }
            Value::Array(items) => Ok(Self::Array(items.iter().map(Self::compile).collect::<Result<_, _>>()?)),
            other => Ok(Self::Literal(other.clone())),
        }
    }

    /// Builds the payload.
    pub fn render(&self, scope: &Scope<'_>) -> Result<Value, StateError> {
        match self {
            Self::Literal(value) => Ok(value.clone()),
            Self::Object(fields) => {
                let mut map = Map::with_capacity(fields.len());
                for (key, template) in fields {
                    map.insert(key.clone(), template.render(scope)?);
                }
                Ok(Value::Object(map))
            }
            Self::Array(items) => Ok(Value::Array(items.iter().map(|t| t.render(scope)).collect::<Result<_, _>>()?)),
            Self::Dynamic { field, source } => source.evaluate(scope, field),
        }
    }
}

#[cfg(test)]
#[allow(clippy::needless_pass_by_value)]
mod tests {
    use serde_json::json;

    use super::*;

    fn no_context() -> Value {
        json!({"Execution": {"Name": "exec-1"}, "State": {"Name": "S", "RetryCount": 0}})
    }

    fn render(template: Value, input: &Value) -> Result<Value, StateError> {
        let template = Template::compile(&template).unwrap();
        template.render(&Scope::new(input, &no_context))
    }

    #[test]
    fn a_definite_path_selects_one_value() {
        let path = Path::parse("$.a.b[1]").unwrap();
        assert_eq!(path.find(&json!({"a": {"b": [1, 2]}})), Some(json!(2)));
    }

    #[test]
    fn a_definite_path_that_finds_nothing_is_a_runtime_error_naming_the_field() {
        let err = Path::parse("$.missing").unwrap().select(&json!({}), "InputPath").unwrap_err();
        assert_eq!(err.error, names::RUNTIME);
        assert!(err.cause.contains("InputPath") && err.cause.contains("$.missing"), "{}", err.cause);
    }

    #[test]
    fn an_indefinite_path_selects_an_array_of_matches() {
        let input = json!({"items": [{"id": 1}, {"id": 2}, {"x": 3}]});
        assert_eq!(Path::parse("$.items[*].id").unwrap().find(&input), Some(json!([1, 2])));
        assert_eq!(Path::parse("$..nothing").unwrap().find(&input), Some(json!([])));
    }

    #[test]
    fn a_filter_expression_selects_matching_items() {
        let input = json!({"items": [{"n": 1}, {"n": 5}]});
        let found = Path::parse("$.items[?(@.n > 2)]").unwrap().find(&input);
        assert_eq!(found, Some(json!([{"n": 5}])));
    }

    #[test]
    fn dotted_names_with_hyphens_work_as_in_step_functions() {
        let input = json!({"detail": {"delivery-partner": "UQS", "2nd": 2}});
        assert_eq!(Path::parse("$.detail.delivery-partner").unwrap().find(&input), Some(json!("UQS")));
        assert_eq!(Path::parse("$.detail.2nd").unwrap().find(&input), Some(json!(2)));
        assert_eq!(Path::parse("$..delivery-partner").unwrap().find(&input), Some(json!(["UQS"])));
    }

    #[test]
    fn a_path_must_start_with_a_dollar() {
        assert!(Path::parse("a.b").is_err());
        assert!(Path::parse("$.a[").is_err());
    }

    #[test]
    fn result_path_creates_missing_objects() {
        let path = ReferencePath::parse("$.a.b").unwrap();
        assert_eq!(path.set(json!({"x": 1}), json!(2)).unwrap(), json!({"x": 1, "a": {"b": 2}}));
    }

    #[test]
    fn result_path_replaces_an_existing_value() {
        let path = ReferencePath::parse("$.master.detail").unwrap();
        let input = json!({"master": {"detail": [1, 2, 3]}});
        assert_eq!(path.set(input, json!(6)).unwrap(), json!({"master": {"detail": 6}}));
    }

    #[test]
    fn result_path_through_a_non_object_is_a_match_failure() {
        let path = ReferencePath::parse("$.a.b").unwrap();
        let err = path.set(json!({"a": "text"}), json!(1)).unwrap_err();
        assert_eq!(err.error, names::RESULT_PATH_MATCH_FAILURE);
        let err = ReferencePath::parse("$.x").unwrap().set(json!([1]), json!(1)).unwrap_err();
        assert_eq!(err.error, names::RESULT_PATH_MATCH_FAILURE);
    }

    #[test]
    fn result_path_writes_into_an_existing_array_slot() {
        let path = ReferencePath::parse("$.list[1]").unwrap();
        assert_eq!(path.set(json!({"list": [0, 0]}), json!(9)).unwrap(), json!({"list": [0, 9]}));
    }

    #[test]
    fn reference_paths_reject_operators() {
        assert!(ReferencePath::parse("$.a[*]").is_err());
        assert!(ReferencePath::parse("$..a").is_err());
        assert!(ReferencePath::parse("a").is_err());
        assert_eq!(ReferencePath::parse("$['a b'].c").unwrap().get(&json!({"a b": {"c": 1}})), Some(&json!(1)));
    }

    #[test]
    fn result_path_null_keeps_the_input_and_dollar_replaces_it() {
        let (input, result) = (Arc::new(json!(1)), Arc::new(json!(2)));
        assert_eq!(*ResultPath::Discard.apply(&input, Arc::clone(&result)).unwrap(), json!(1));
        assert_eq!(*ResultPath::Replace.apply(&input, result).unwrap(), json!(2));
    }

    #[test]
    fn a_null_input_path_gives_an_empty_object() {
        assert_eq!(*FilterPath::Empty.apply(&Arc::new(json!({"a": 1})), "InputPath").unwrap(), json!({}));
    }

    #[test]
    fn a_template_evaluates_dot_dollar_fields_and_keeps_the_rest() {
        let input = json!({"order": {"id": "o1", "lines": [1, 2]}});
        let out = render(
            json!({"static": "yes", "id.$": "$.order.id", "nested": {"n.$": "$.order.lines"}, "list": [{"x.$": "$.order.id"}]}),
            &input,
        )
        .unwrap();
        assert_eq!(out, json!({"static": "yes", "id": "o1", "nested": {"n": [1, 2]}, "list": [{"x": "o1"}]}));
    }

    #[test]
    fn a_template_reads_the_context_object_with_a_double_dollar() {
        let out = render(json!({"name.$": "$$.Execution.Name"}), &json!({})).unwrap();
        assert_eq!(out, json!({"name": "exec-1"}));
    }

    #[test]
    fn a_template_path_that_finds_nothing_is_a_runtime_error() {
        let err = render(json!({"id.$": "$.nope"}), &json!({})).unwrap_err();
        assert_eq!(err.error, names::RUNTIME);
        assert!(err.cause.contains("id.$"));
    }

    #[test]
    fn a_dot_dollar_field_must_hold_a_path() {
        assert!(Template::compile(&json!({"id.$": 3})).is_err());
        assert!(Template::compile(&json!({"id.$": "plain"})).is_err());
    }
}
