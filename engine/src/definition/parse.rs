//! Parsing and validation of ASL documents into [`StateMachine`].

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;

use serde_json::{Map, Value};

use super::{
    Body, ChoiceState, FailState, Kind, MapState, NameHasher, ParallelState, PassState, Processing, Seconds, State,
    StateMachine, TaskState, Text, Transition, WaitFor,
};
use crate::choice::{Rule, parse_timestamp};
use crate::errors::names;
use crate::paths::{FilterPath, Path, ReferencePath, ResultPath, Source, Template};
use crate::retry::{Catcher, Jitter, Retrier};

/// The largest number AWS accepts for seconds and attempts fields.
const MAX_SECONDS: u64 = 99_999_999;
/// The longest state name AWS accepts.
const MAX_STATE_NAME: usize = 80;

/// Why a definition could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The text (after substitutions) is not JSON.
    #[error("the definition is not valid JSON")]
    Json(#[source] serde_json::Error),
    /// A `${Name}` placeholder has no value in the substitution map.
    #[error("the placeholder ${{{0}}} has no substitution")]
    UnresolvedPlaceholder(String),
    /// The definition (or one of its states) uses the JSONata query language.
    #[error("{location}: the JSONata query language is not supported by this engine; use JSONPath")]
    JsonataNotSupported {
        /// Where `QueryLanguage` says JSONata.
        location: Location,
    },
    /// The definition breaks a rule of the States Language.
    #[error("{location}: {message}")]
    Invalid {
        /// The state and field at fault.
        location: Location,
        /// What is wrong.
        message: String,
    },
}

impl LoadError {
    /// The state the error is about, if it is about one.
    pub fn state(&self) -> Option<&str> {
        match self {
            Self::Invalid { location, .. } | Self::JsonataNotSupported { location } => location.state.as_deref(),
            _ => None,
        }
    }

    /// The field the error is about, if any.
    pub fn field(&self) -> Option<&str> {
        match self {
            Self::Invalid { location, .. } | Self::JsonataNotSupported { location } => Some(&location.field),
            _ => None,
        }
    }
}

/// A place in a definition: a state (or the top level) and a field within it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The state's name; `None` for the top level of the definition.
    pub state: Option<String>,
    /// The field, e.g. `Retry[0].ErrorEquals`.
    pub field: String,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.state {
            Some(state) => write!(f, "state '{state}', field '{}'", self.field),
            None => write!(f, "definition, field '{}'", self.field),
        }
    }
}

type Result<T> = std::result::Result<T, LoadError>;

/// Builds [`LoadError::Invalid`] for one state (or the top level).
#[derive(Clone, Copy)]
struct At<'a> {
    state: Option<&'a str>,
}

impl At<'_> {
    fn error(self, field: impl Into<String>, message: impl Into<String>) -> LoadError {
        LoadError::Invalid {
            location: Location { state: self.state.map(str::to_owned), field: field.into() },
            message: message.into(),
        }
    }
}

pub(super) fn state_machine(definition: &Value) -> Result<StateMachine> {
    let top = At { state: None };
    let object = definition.as_object().ok_or_else(|| top.error("", "the definition must be a JSON object"))?;
    check_query_language(object, top)?;
    check_fields(object, top, "", &["StartAt", "States", "Comment", "Version", "TimeoutSeconds", "QueryLanguage"])?;
    let timeout_seconds = optional_seconds(object, top, "TimeoutSeconds")?;
    let comment = optional_string(object, top, "Comment")?.map(str::to_owned);
    let body = body(object, top, "")?;
    check_unique_names(&body, &mut HashSet::new())?;
    Ok(StateMachine { body, timeout_seconds, comment })
}

/// State names must be unique across the whole machine, branches and iterations included.
fn check_unique_names<'a>(body: &'a Body, seen: &mut HashSet<&'a str>) -> Result<()> {
    let mut names: Vec<&String> = body.states.keys().collect();
    names.sort();
    for name in names {
        if !seen.insert(name) {
            return Err(At { state: Some(name) }.error("", "another state of this machine has the same name"));
        }
        match &body.states[name].kind {
            Kind::Parallel(parallel) => {
                for branch in &parallel.branches {
                    check_unique_names(branch, seen)?;
                }
            }
            Kind::Map(map) => check_unique_names(&map.processor, seen)?,
            _ => {}
        }
    }
    Ok(())
}

/// Every state must be reachable from `StartAt`, and some state must end the body.
fn check_graph(body: &Body, at: At<'_>, prefix: &str) -> Result<()> {
    let mut reachable: HashSet<&str> = HashSet::from([&*body.start_at]);
    let mut pending: Vec<&str> = vec![&body.start_at];
    while let Some(name) = pending.pop() {
        let state = &body.states[name];
        let mut targets: Vec<&str> = Vec::new();
        if let Transition::Next(next) = &state.transition {
            targets.push(next);
        }
        match &state.kind {
            Kind::Choice(choice) => {
                targets.extend(choice.choices.iter().map(|(_, next)| &**next));
                targets.extend(choice.default.as_deref());
            }
            Kind::Task(task) => targets.extend(task.processing.catch.iter().map(|c| &*c.next)),
            Kind::Parallel(parallel) => targets.extend(parallel.processing.catch.iter().map(|c| &*c.next)),
            Kind::Map(map) => targets.extend(map.processing.catch.iter().map(|c| &*c.next)),
            _ => {}
        }
        for target in targets {
            if reachable.insert(target) {
                pending.push(target);
            }
        }
    }
    let mut names: Vec<&String> = body.states.keys().collect();
    names.sort();
    if let Some(unreachable) = names.iter().find(|name| !reachable.contains(name.as_str())) {
        return Err(
            At { state: Some(unreachable) }.error("", format!("the state is not reachable from {prefix}StartAt"))
        );
    }
    let terminal = body
        .states
        .values()
        .any(|state| state.transition == Transition::End || matches!(state.kind, Kind::Succeed | Kind::Fail(_)));
    if !terminal {
        return Err(at.error(format!("{prefix}States"), "no state ends the execution (End, Succeed or Fail)"));
    }
    Ok(())
}

/// Parses `StartAt` and `States` of the top level or a branch.
fn body(object: &Map<String, Value>, at: At<'_>, prefix: &str) -> Result<Body> {
    let start_at = required_string(object, at, &format!("{prefix}StartAt"), "StartAt")?;
    let states_value = object.get("States").ok_or_else(|| at.error(format!("{prefix}States"), "is required"))?;
    let states_object = states_value
        .as_object()
        .filter(|m| !m.is_empty())
        .ok_or_else(|| at.error(format!("{prefix}States"), "must be a non-empty object"))?;
    let names: HashSet<&str> = states_object.keys().map(String::as_str).collect();
    if !names.contains(start_at) {
        return Err(at.error(format!("{prefix}StartAt"), format!("the state '{start_at}' does not exist")));
    }
    let mut states = HashMap::with_capacity_and_hasher(states_object.len(), NameHasher);
    for (name, value) in states_object {
        let at = At { state: Some(name) };
        if name.is_empty() || name.chars().count() > MAX_STATE_NAME {
            return Err(at.error("", format!("a state name must have 1 to {MAX_STATE_NAME} characters")));
        }
        let object = value.as_object().ok_or_else(|| at.error("", "a state must be a JSON object"))?;
        states.insert(name.clone(), state(object, at, &names)?);
    }
    let body = Body { start_at: Arc::from(start_at), states };
    check_graph(&body, at, prefix)?;
    Ok(body)
}

const IO: [&str; 2] = ["InputPath", "OutputPath"];
const TRANSITION: [&str; 2] = ["Next", "End"];
const PROCESSING: [&str; 5] = ["Parameters", "ResultSelector", "ResultPath", "Retry", "Catch"];

fn state(object: &Map<String, Value>, at: At<'_>, names: &HashSet<&str>) -> Result<State> {
    check_query_language(object, at)?;
    let type_name = required_string(object, at, "Type", "Type")?;
    let specific: &[&str] = match type_name {
        "Pass" => &["Parameters", "Result", "ResultPath"],
        "Task" => &[
            "Resource",
            "TimeoutSeconds",
            "TimeoutSecondsPath",
            "HeartbeatSeconds",
            "HeartbeatSecondsPath",
            "Credentials",
        ],
        "Choice" => &["Choices", "Default"],
        "Wait" => &["Seconds", "SecondsPath", "Timestamp", "TimestampPath"],
        "Succeed" => &[],
        "Fail" => &["Error", "ErrorPath", "Cause", "CausePath"],
        "Parallel" => &["Branches"],
        "Map" => {
            &["ItemsPath", "ItemSelector", "ItemProcessor", "Iterator", "MaxConcurrency", "MaxConcurrencyPath", "Label"]
        }
        other => {
            return Err(at.error(
                "Type",
                format!("'{other}' is not a state type (Task, Pass, Choice, Wait, Succeed, Fail, Parallel, Map)"),
            ));
        }
    };
    let mut allowed: Vec<&str> = vec!["Type", "Comment", "QueryLanguage"];
    allowed.extend_from_slice(specific);
    if type_name != "Fail" {
        allowed.extend(IO);
    }
    if matches!(type_name, "Pass" | "Task" | "Wait" | "Parallel" | "Map") {
        allowed.extend(TRANSITION);
    }
    if matches!(type_name, "Task" | "Parallel" | "Map") {
        allowed.extend(PROCESSING);
    }
    check_fields(object, at, "", &allowed)?;

    let transition = transition(object, at, names, allowed.contains(&"Next"))?;
    let kind = match type_name {
        "Pass" => Kind::Pass(Box::new(PassState {
            parameters: optional_template(object, at, "Parameters")?,
            result: object.get("Result").cloned(),
            result_path: result_path(object, at, "ResultPath")?,
        })),
        "Task" => Kind::Task(Box::new(task(object, at, names)?)),
        "Choice" => Kind::Choice(Box::new(choice(object, at, names)?)),
        "Wait" => Kind::Wait(wait(object, at)?),
        "Succeed" => Kind::Succeed,
        "Fail" => Kind::Fail(Box::new(FailState {
            error: fail_text(object, at, "Error")?,
            cause: fail_text(object, at, "Cause")?,
        })),
        "Parallel" => Kind::Parallel(Box::new(parallel(object, at, names)?)),
        _ => Kind::Map(Box::new(map(object, at, names)?)),
    };
    Ok(State {
        kind,
        transition,
        input_path: filter_path(object, at, "InputPath")?,
        output_path: filter_path(object, at, "OutputPath")?,
    })
}

fn transition(object: &Map<String, Value>, at: At<'_>, names: &HashSet<&str>, needs_one: bool) -> Result<Transition> {
    if !needs_one {
        return Ok(Transition::Own);
    }
    let end = match object.get("End") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(at.error("End", "must be a boolean")),
    };
    match (object.get("Next"), end) {
        (Some(_), true) => Err(at.error("Next", "a state cannot have both Next and End")),
        (Some(_), false) => Ok(Transition::Next(target(object, at, names, "Next")?)),
        (None, true) => Ok(Transition::End),
        (None, false) => Err(at.error("Next", "the state must have either Next or \"End\": true")),
    }
}

/// A transition target, which must name a state of the same body.
fn target(object: &Map<String, Value>, at: At<'_>, names: &HashSet<&str>, field: &str) -> Result<Arc<str>> {
    let name = required_string(object, at, field, field)?;
    if !names.contains(name) {
        return Err(at.error(field, format!("the state '{name}' does not exist")));
    }
    Ok(Arc::from(name))
}

fn task(object: &Map<String, Value>, at: At<'_>, names: &HashSet<&str>) -> Result<TaskState> {
    let resource = required_string(object, at, "Resource", "Resource")?;
    if resource.is_empty() {
        return Err(at.error("Resource", "must not be empty"));
    }
    let timeout = seconds_field(object, at, "TimeoutSeconds", "TimeoutSecondsPath", false)?;
    let heartbeat = seconds_field(object, at, "HeartbeatSeconds", "HeartbeatSecondsPath", false)?;
    if let (Some(Seconds::Literal(timeout)), Some(Seconds::Literal(heartbeat))) = (&timeout, &heartbeat)
        && heartbeat >= timeout
    {
        return Err(at.error("HeartbeatSeconds", "must be smaller than TimeoutSeconds"));
    }
    Ok(TaskState { resource: resource.to_owned(), processing: processing(object, at, names)?, timeout, heartbeat })
}

fn choice(object: &Map<String, Value>, at: At<'_>, names: &HashSet<&str>) -> Result<ChoiceState> {
    let items = object
        .get("Choices")
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty())
        .ok_or_else(|| at.error("Choices", "a Choice state must have a non-empty Choices array"))?;
    let mut choices = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let field = format!("Choices[{i}]");
        let rule_object = item.as_object().ok_or_else(|| at.error(&field, "must be a rule object"))?;
        if !rule_object.contains_key("Next") {
            return Err(at.error(format!("{field}.Next"), "a top-level choice rule must have a Next"));
        }
        let next = target(rule_object, at, names, "Next").map_err(|e| prefix_field(e, &field))?;
        let rule = Rule::compile(rule_object).map_err(|(f, m)| at.error(format!("{field}.{f}"), m))?;
        choices.push((rule, next));
    }
    let default = match object.get("Default") {
        None => None,
        Some(_) => Some(target(object, at, names, "Default")?),
    };
    Ok(ChoiceState { choices, default })
}

fn wait(object: &Map<String, Value>, at: At<'_>) -> Result<WaitFor> {
    let present: Vec<&str> = ["Seconds", "SecondsPath", "Timestamp", "TimestampPath"]
        .into_iter()
        .filter(|k| object.contains_key(*k))
        .collect();
    if present.len() != 1 {
        return Err(at.error(
            "Seconds",
            "a Wait state must have exactly one of Seconds, SecondsPath, Timestamp and TimestampPath",
        ));
    }
    if let Some(seconds) = seconds_field(object, at, "Seconds", "SecondsPath", true)? {
        return Ok(WaitFor::Seconds(seconds));
    }
    if let Some(path) = optional_path(object, at, "TimestampPath")? {
        return Ok(WaitFor::TimestampPath(path));
    }
    let text = required_string(object, at, "Timestamp", "Timestamp")?;
    parse_timestamp(text)
        .map(WaitFor::Timestamp)
        .ok_or_else(|| at.error("Timestamp", format!("'{text}' is not an RFC 3339 timestamp")))
}

fn fail_text(object: &Map<String, Value>, at: At<'_>, field: &str) -> Result<Option<Text>> {
    let path_field = format!("{field}Path");
    match (object.get(field), object.get(&path_field)) {
        (Some(_), Some(_)) => {
            Err(at.error(&path_field, format!("a Fail state cannot have both {field} and {path_field}")))
        }
        (Some(_), None) => Ok(Some(Text::Literal(required_string(object, at, field, field)?.to_owned()))),
        (None, Some(_)) => {
            let text = required_string(object, at, &path_field, &path_field)?;
            let source = Source::parse(text).map_err(|e| at.error(&path_field, e))?;
            Ok(Some(Text::Dynamic(source)))
        }
        (None, None) => Ok(None),
    }
}

fn parallel(object: &Map<String, Value>, at: At<'_>, names: &HashSet<&str>) -> Result<ParallelState> {
    let items = object
        .get("Branches")
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty())
        .ok_or_else(|| at.error("Branches", "a Parallel state must have a non-empty Branches array"))?;
    let mut branches = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let field = format!("Branches[{i}]");
        let branch = item.as_object().ok_or_else(|| at.error(&field, "must be an object with StartAt and States"))?;
        check_fields(branch, at, &format!("{field}."), &["StartAt", "States", "Comment"])?;
        branches.push(body(branch, at, &format!("{field}."))?);
    }
    Ok(ParallelState { branches, processing: processing(object, at, names)? })
}

fn map(object: &Map<String, Value>, at: At<'_>, names: &HashSet<&str>) -> Result<MapState> {
    let (field, processor_value) = match (object.get("ItemProcessor"), object.get("Iterator")) {
        (Some(_), Some(_)) => {
            return Err(at.error("Iterator", "a Map state cannot have both ItemProcessor and Iterator"));
        }
        (Some(p), None) => ("ItemProcessor", p),
        (None, Some(i)) => ("Iterator", i),
        (None, None) => return Err(at.error("ItemProcessor", "a Map state must have an ItemProcessor (or Iterator)")),
    };
    let processor_object =
        processor_value.as_object().ok_or_else(|| at.error(field, "must be an object with StartAt and States"))?;
    check_fields(processor_object, at, &format!("{field}."), &["StartAt", "States", "Comment", "ProcessorConfig"])?;
    if let Some(config) = processor_object.get("ProcessorConfig") {
        let mode = config.get("Mode").and_then(Value::as_str).unwrap_or("INLINE");
        if mode != "INLINE" {
            return Err(at.error(
                format!("{field}.ProcessorConfig.Mode"),
                format!("the mode '{mode}' is not supported: only INLINE Map states run locally"),
            ));
        }
    }
    let processor = body(processor_object, at, &format!("{field}."))?;
    let item_selector =
        match (optional_template(object, at, "ItemSelector")?, optional_template(object, at, "Parameters")?) {
            (Some(_), Some(_)) => {
                return Err(at.error("Parameters", "a Map state cannot have both ItemSelector and Parameters"));
            }
            (selector, parameters) => selector.or(parameters),
        };
    let max_concurrency =
        seconds_field(object, at, "MaxConcurrency", "MaxConcurrencyPath", true)?.unwrap_or(Seconds::Literal(0));
    let mut processing = processing(object, at, names)?;
    processing.parameters = None;
    Ok(MapState {
        items_path: optional_path(object, at, "ItemsPath")?,
        item_selector,
        processor,
        max_concurrency,
        processing,
    })
}

fn processing(object: &Map<String, Value>, at: At<'_>, names: &HashSet<&str>) -> Result<Processing> {
    Ok(Processing {
        parameters: optional_template(object, at, "Parameters")?,
        result_selector: optional_template(object, at, "ResultSelector")?,
        result_path: result_path(object, at, "ResultPath")?,
        retry: retriers(object, at)?,
        catch: catchers(object, at, names)?,
    })
}

fn retriers(object: &Map<String, Value>, at: At<'_>) -> Result<Vec<Retrier>> {
    let Some(value) = object.get("Retry") else { return Ok(Vec::new()) };
    let items = value.as_array().ok_or_else(|| at.error("Retry", "must be an array"))?;
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let prefix = format!("Retry[{i}].");
        let object = item.as_object().ok_or_else(|| at.error(format!("Retry[{i}]"), "must be an object"))?;
        check_fields(
            object,
            at,
            &prefix,
            &[
                "ErrorEquals",
                "IntervalSeconds",
                "MaxAttempts",
                "BackoffRate",
                "MaxDelaySeconds",
                "JitterStrategy",
                "Comment",
            ],
        )?;
        let error_equals = error_equals(object, at, &prefix, i + 1 == items.len())?;
        let defaults = Retrier::default();
        let interval_seconds =
            optional_u64(object, at, &prefix, "IntervalSeconds", 1)?.unwrap_or(defaults.interval_seconds);
        let max_attempts = optional_u64(object, at, &prefix, "MaxAttempts", 0)?
            .map_or(Ok(defaults.max_attempts), u32::try_from)
            .map_err(|_| at.error(format!("{prefix}MaxAttempts"), "is too large"))?;
        let backoff_rate = match object.get("BackoffRate") {
            None => defaults.backoff_rate,
            Some(v) => v
                .as_f64()
                .filter(|rate| *rate >= 1.0)
                .ok_or_else(|| at.error(format!("{prefix}BackoffRate"), "must be a number of at least 1.0"))?,
        };
        let max_delay_seconds = optional_u64(object, at, &prefix, "MaxDelaySeconds", 1)?;
        let jitter = match object.get("JitterStrategy").map(|v| v.as_str()) {
            None | Some(Some("NONE")) => Jitter::None,
            Some(Some("FULL")) => Jitter::Full,
            Some(_) => return Err(at.error(format!("{prefix}JitterStrategy"), "must be \"FULL\" or \"NONE\"")),
        };
        out.push(Retrier { error_equals, interval_seconds, max_attempts, backoff_rate, max_delay_seconds, jitter });
    }
    Ok(out)
}

fn catchers(object: &Map<String, Value>, at: At<'_>, names: &HashSet<&str>) -> Result<Vec<Catcher>> {
    let Some(value) = object.get("Catch") else { return Ok(Vec::new()) };
    let items = value.as_array().ok_or_else(|| at.error("Catch", "must be an array"))?;
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let prefix = format!("Catch[{i}].");
        let object = item.as_object().ok_or_else(|| at.error(format!("Catch[{i}]"), "must be an object"))?;
        check_fields(object, at, &prefix, &["ErrorEquals", "Next", "ResultPath", "Comment"])?;
        let error_equals = error_equals(object, at, &prefix, i + 1 == items.len())?;
        let next = target(object, at, names, "Next").map_err(|e| prefix_field(e, &format!("Catch[{i}]")))?;
        let result_path = result_path(object, at, "ResultPath").map_err(|e| prefix_field(e, &format!("Catch[{i}]")))?;
        out.push(Catcher { error_equals, next, result_path });
    }
    Ok(out)
}

/// `ErrorEquals`: a non-empty array of names; `States.ALL` alone, in the last entry.
fn error_equals(object: &Map<String, Value>, at: At<'_>, prefix: &str, is_last: bool) -> Result<Vec<String>> {
    let field = format!("{prefix}ErrorEquals");
    let names: Vec<String> = object
        .get("ErrorEquals")
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty())
        .and_then(|a| a.iter().map(|v| v.as_str().map(str::to_owned)).collect())
        .ok_or_else(|| at.error(&field, "must be a non-empty array of error names"))?;
    if names.iter().any(|n| n == names::ALL) {
        if names.len() > 1 {
            return Err(at.error(&field, "States.ALL must appear alone in its ErrorEquals"));
        }
        if !is_last {
            return Err(at.error(&field, "States.ALL must be in the last retrier or catcher"));
        }
    }
    Ok(names)
}

/// `XSeconds` or `XSecondsPath` (at most one); `allow_zero` for `Seconds` and `MaxConcurrency`.
fn seconds_field(
    object: &Map<String, Value>,
    at: At<'_>,
    field: &str,
    path_field: &str,
    allow_zero: bool,
) -> Result<Option<Seconds>> {
    if object.contains_key(field) && object.contains_key(path_field) {
        return Err(at.error(path_field, format!("cannot be given together with {field}")));
    }
    if let Some(path) = optional_path(object, at, path_field)? {
        return Ok(Some(Seconds::Path(path)));
    }
    Ok(optional_u64(object, at, "", field, u64::from(!allow_zero))?.map(Seconds::Literal))
}

fn optional_seconds(object: &Map<String, Value>, at: At<'_>, field: &str) -> Result<Option<u64>> {
    optional_u64(object, at, "", field, 1)
}

fn optional_u64(object: &Map<String, Value>, at: At<'_>, prefix: &str, field: &str, min: u64) -> Result<Option<u64>> {
    match object.get(field) {
        None => Ok(None),
        Some(v) => v.as_u64().filter(|n| (min..=MAX_SECONDS).contains(n)).map(Some).ok_or_else(|| {
            at.error(format!("{prefix}{field}"), format!("must be an integer from {min} to {MAX_SECONDS}"))
        }),
    }
}

fn filter_path(object: &Map<String, Value>, at: At<'_>, field: &str) -> Result<FilterPath> {
    match object.get(field) {
        None => Ok(FilterPath::Whole),
        Some(Value::Null) => Ok(FilterPath::Empty),
        Some(Value::String(s)) if s == "$" => Ok(FilterPath::Whole),
        Some(Value::String(s)) => Path::parse(s).map(FilterPath::Path).map_err(|e| at.error(field, e)),
        Some(_) => Err(at.error(field, "must be a path string or null")),
    }
}

fn result_path(object: &Map<String, Value>, at: At<'_>, field: &str) -> Result<ResultPath> {
    match object.get(field) {
        None => Ok(ResultPath::Replace),
        Some(Value::Null) => Ok(ResultPath::Discard),
        Some(Value::String(s)) => {
            let path = ReferencePath::parse(s).map_err(|e| at.error(field, e))?;
            Ok(if path.is_root() { ResultPath::Replace } else { ResultPath::At(path) })
        }
        Some(_) => Err(at.error(field, "must be a reference path string or null")),
    }
}

fn optional_path(object: &Map<String, Value>, at: At<'_>, field: &str) -> Result<Option<Path>> {
    match object.get(field) {
        None => Ok(None),
        Some(Value::String(s)) => Path::parse(s).map(Some).map_err(|e| at.error(field, e)),
        Some(_) => Err(at.error(field, "must be a path string")),
    }
}

fn optional_template(object: &Map<String, Value>, at: At<'_>, field: &str) -> Result<Option<Template>> {
    object.get(field).map(|v| Template::compile(v).map_err(|e| at.error(field, e))).transpose()
}

fn optional_string<'a>(object: &'a Map<String, Value>, at: At<'_>, field: &str) -> Result<Option<&'a str>> {
    match object.get(field) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(at.error(field, "must be a string")),
    }
}

fn required_string<'a>(object: &'a Map<String, Value>, at: At<'_>, label: &str, field: &str) -> Result<&'a str> {
    optional_string(object, at, field)
        .map_err(|_| at.error(label, "must be a string"))?
        .ok_or_else(|| at.error(label, "is required"))
}

fn check_fields(object: &Map<String, Value>, at: At<'_>, prefix: &str, allowed: &[&str]) -> Result<()> {
    for key in object.keys() {
        if allowed.contains(&key.as_str()) {
            continue;
        }
        let message = match key.as_str() {
            "Assign" | "Arguments" | "Output" => format!("'{key}' (variables and JSONata fields) is not supported"),
            "ItemReader"
            | "ItemBatcher"
            | "ResultWriter"
            | "ToleratedFailurePercentage"
            | "ToleratedFailureCount"
            | "ToleratedFailurePercentagePath"
            | "ToleratedFailureCountPath" => {
                format!("'{key}' belongs to distributed Map states, which are not supported")
            }
            _ => format!("unknown field '{key}'"),
        };
        return Err(at.error(format!("{prefix}{key}"), message));
    }
    Ok(())
}

fn check_query_language(object: &Map<String, Value>, at: At<'_>) -> Result<()> {
    match object.get("QueryLanguage") {
        None => Ok(()),
        Some(Value::String(s)) if s == "JSONPath" => Ok(()),
        Some(Value::String(s)) if s == "JSONata" => Err(LoadError::JsonataNotSupported {
            location: Location { state: at.state.map(str::to_owned), field: "QueryLanguage".into() },
        }),
        Some(_) => Err(at.error("QueryLanguage", "must be \"JSONPath\" or \"JSONata\"")),
    }
}

/// Prefixes the field of an error raised on a nested object (`Catch[0]` + `Next`).
fn prefix_field(error: LoadError, prefix: &str) -> LoadError {
    match error {
        LoadError::Invalid { location, message } => LoadError::Invalid {
            location: Location { state: location.state, field: format!("{prefix}.{}", location.field) },
            message,
        },
        other => other,
    }
}

#[cfg(test)]
#[allow(clippy::needless_pass_by_value)]
mod tests {
    use serde_json::json;

    use super::*;

    fn load(definition: Value) -> Result<StateMachine> {
        StateMachine::from_value(&definition)
    }

    fn error_at(definition: Value) -> (Option<String>, String, String) {
        match load(definition) {
            Err(LoadError::Invalid { location, message }) => (location.state, location.field, message),
            Err(other) => panic!("unexpected error {other}"),
            Ok(_) => panic!("the definition was accepted"),
        }
    }

    /// A machine around `state`, whose other states are reachable whatever `state` does.
    fn one_state(state: Value) -> Value {
        json!({"StartAt": "Start", "States": {
            "Start": {"Type": "Choice", "Choices": [{"Variable": "$.go", "IsPresent": true, "Next": "S"}], "Default": "Done"},
            "S": state,
            "Done": {"Type": "Succeed"}
        }})
    }

    #[test]
    fn a_minimal_machine_loads() {
        let machine = load(one_state(json!({"Type": "Pass", "End": true}))).unwrap();
        assert_eq!(machine.start_at(), "Start");
    }

    #[test]
    fn an_unknown_next_target_names_the_state_and_field() {
        let (state, field, message) = error_at(one_state(json!({"Type": "Pass", "Next": "Nowhere"})));
        assert_eq!((state.as_deref(), field.as_str()), (Some("S"), "Next"));
        assert!(message.contains("Nowhere"));
    }

    #[test]
    fn a_state_needs_next_or_end_but_not_both() {
        assert_eq!(error_at(one_state(json!({"Type": "Task", "Resource": "r"}))).1, "Next");
        assert_eq!(error_at(one_state(json!({"Type": "Pass", "Next": "Done", "End": true}))).1, "Next");
    }

    #[test]
    fn a_missing_start_state_is_rejected() {
        let (state, field, _) = error_at(json!({"StartAt": "X", "States": {"S": {"Type": "Succeed"}}}));
        assert_eq!((state, field.as_str()), (None, "StartAt"));
    }

    #[test]
    fn unknown_fields_are_rejected_by_name() {
        let (_, field, message) = error_at(one_state(json!({"Type": "Pass", "End": true, "Resourse": "x"})));
        assert_eq!(field, "Resourse");
        assert!(message.contains("unknown field"));
        assert_eq!(error_at(one_state(json!({"Type": "Succeed", "Next": "Done"}))).1, "Next");
        assert_eq!(error_at(json!({"StartAt": "S", "States": {"S": {"Type": "Succeed"}}, "Extra": 1})).1, "Extra");
    }

    #[test]
    fn states_all_must_be_alone_and_last() {
        let retry = |r: Value| one_state(json!({"Type": "Task", "Resource": "r", "End": true, "Retry": r}));
        let (_, field, message) = error_at(retry(json!([{"ErrorEquals": ["States.ALL"]}, {"ErrorEquals": ["E"]}])));
        assert_eq!(field, "Retry[0].ErrorEquals");
        assert!(message.contains("last"));
        let (_, field, _) = error_at(retry(json!([{"ErrorEquals": ["E", "States.ALL"]}])));
        assert_eq!(field, "Retry[0].ErrorEquals");
        let catch = one_state(json!({"Type": "Task", "Resource": "r", "End": true,
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Done"}, {"ErrorEquals": ["E"], "Next": "Done"}]}));
        assert_eq!(error_at(catch).1, "Catch[0].ErrorEquals");
    }

    #[test]
    fn retrier_fields_are_range_checked() {
        let retry = |r: Value| one_state(json!({"Type": "Task", "Resource": "r", "End": true, "Retry": [r]}));
        assert_eq!(error_at(retry(json!({"ErrorEquals": ["E"], "IntervalSeconds": 0}))).1, "Retry[0].IntervalSeconds");
        assert_eq!(error_at(retry(json!({"ErrorEquals": ["E"], "BackoffRate": 0.5}))).1, "Retry[0].BackoffRate");
        assert_eq!(
            error_at(retry(json!({"ErrorEquals": ["E"], "JitterStrategy": "HALF"}))).1,
            "Retry[0].JitterStrategy"
        );
        assert_eq!(error_at(retry(json!({"ErrorEquals": []}))).1, "Retry[0].ErrorEquals");
        assert!(
            load(retry(
                json!({"ErrorEquals": ["E"], "MaxAttempts": 0, "MaxDelaySeconds": 5, "JitterStrategy": "FULL"})
            ))
            .is_ok()
        );
    }

    #[test]
    fn a_catcher_must_go_to_an_existing_state() {
        let state =
            json!({"Type": "Task", "Resource": "r", "End": true, "Catch": [{"ErrorEquals": ["E"], "Next": "Gone"}]});
        assert_eq!(error_at(one_state(state)).1, "Catch[0].Next");
    }

    #[test]
    fn a_choice_without_choices_is_rejected() {
        assert_eq!(error_at(one_state(json!({"Type": "Choice", "Choices": []}))).1, "Choices");
        let no_next = json!({"Type": "Choice", "Choices": [{"Variable": "$.a", "IsNull": true}]});
        assert_eq!(error_at(one_state(no_next)).1, "Choices[0].Next");
        let bad_default =
            json!({"Type": "Choice", "Choices": [{"Variable": "$.a", "IsNull": true, "Next": "Done"}], "Default": "Z"});
        assert_eq!(error_at(one_state(bad_default)).1, "Default");
    }

    #[test]
    fn bad_paths_are_rejected_with_their_field() {
        assert_eq!(error_at(one_state(json!({"Type": "Pass", "End": true, "InputPath": "a.b"}))).1, "InputPath");
        assert_eq!(error_at(one_state(json!({"Type": "Pass", "End": true, "ResultPath": "$.a[*]"}))).1, "ResultPath");
        assert_eq!(
            error_at(one_state(json!({"Type": "Pass", "End": true, "Parameters": {"a.$": "nope"}}))).1,
            "Parameters"
        );
        let bad_intrinsic = json!({"Type": "Pass", "End": true, "Parameters": {"a.$": "States.Bogus()"}});
        assert_eq!(error_at(one_state(bad_intrinsic)).1, "Parameters");
    }

    #[test]
    fn a_wait_needs_exactly_one_duration() {
        assert_eq!(error_at(one_state(json!({"Type": "Wait", "End": true}))).1, "Seconds");
        assert_eq!(
            error_at(one_state(
                json!({"Type": "Wait", "End": true, "Seconds": 1, "Timestamp": "2024-01-01T00:00:00Z"})
            ))
            .1,
            "Seconds"
        );
        assert_eq!(error_at(one_state(json!({"Type": "Wait", "End": true, "Timestamp": "tomorrow"}))).1, "Timestamp");
        assert!(load(one_state(json!({"Type": "Wait", "End": true, "SecondsPath": "$.s"}))).is_ok());
    }

    #[test]
    fn a_fail_state_takes_error_or_error_path_not_both() {
        let both = json!({"Type": "Fail", "Error": "E", "ErrorPath": "$.e"});
        assert_eq!(error_at(one_state(both)).1, "ErrorPath");
        assert!(
            load(one_state(json!({"Type": "Fail", "ErrorPath": "$.e", "CausePath": "States.Format('x{}', $.c)"})))
                .is_ok()
        );
    }

    #[test]
    fn branch_states_are_validated_within_their_branch() {
        let parallel = json!({"Type": "Parallel", "End": true, "Branches": [
            {"StartAt": "B", "States": {"B": {"Type": "Pass", "Next": "Done"}}}
        ]});
        let (state, field, _) = error_at(one_state(parallel));
        assert_eq!((state.as_deref(), field.as_str()), (Some("B"), "Next"));
    }

    #[test]
    fn a_map_needs_an_item_processor() {
        assert_eq!(error_at(one_state(json!({"Type": "Map", "End": true}))).1, "ItemProcessor");
        let distributed = json!({"Type": "Map", "End": true, "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED"}, "StartAt": "I", "States": {"I": {"Type": "Succeed"}}}});
        assert_eq!(error_at(one_state(distributed)).1, "ItemProcessor.ProcessorConfig.Mode");
        let legacy = json!({"Type": "Map", "End": true, "Parameters": {"x.$": "$$.Map.Item.Value"},
            "Iterator": {"StartAt": "I", "States": {"I": {"Type": "Succeed"}}}});
        assert!(load(one_state(legacy)).is_ok());
    }

    #[test]
    fn a_jsonata_document_is_rejected_clearly() {
        let err = load(json!({"QueryLanguage": "JSONata", "StartAt": "S", "States": {"S": {"Type": "Succeed"}}}))
            .unwrap_err();
        assert!(matches!(err, LoadError::JsonataNotSupported { .. }));
        assert!(err.to_string().contains("JSONata"));
        let err = load(one_state(json!({"Type": "Pass", "End": true, "QueryLanguage": "JSONata"}))).unwrap_err();
        assert_eq!(err.state(), Some("S"));
    }

    #[test]
    fn an_unreachable_state_is_rejected() {
        let definition = json!({"StartAt": "A", "States": {"A": {"Type": "Succeed"}, "Orphan": {"Type": "Succeed"}}});
        let (state, _, message) = error_at(definition);
        assert_eq!(state.as_deref(), Some("Orphan"));
        assert!(message.contains("not reachable"));
    }

    #[test]
    fn states_reached_only_through_choices_and_catchers_are_reachable() {
        assert!(load(json!({"StartAt": "C", "States": {
            "C": {"Type": "Choice", "Choices": [{"Variable": "$.a", "IsNull": true, "Next": "T"}], "Default": "D"},
            "T": {"Type": "Task", "Resource": "r", "End": true, "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "F"}]},
            "D": {"Type": "Succeed"},
            "F": {"Type": "Fail"}
        }}))
        .is_ok());
    }

    #[test]
    fn a_machine_without_an_end_is_rejected() {
        let definition =
            json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Pass", "Next": "A"}}});
        assert_eq!(error_at(definition).1, "States");
    }

    #[test]
    fn state_names_are_unique_across_branches() {
        let definition = json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true, "Branches": [
            {"StartAt": "P", "States": {"P": {"Type": "Succeed"}}}
        ]}}});
        let (state, _, message) = error_at(definition);
        assert_eq!(state.as_deref(), Some("P"));
        assert!(message.contains("same name"));
    }

    #[test]
    fn an_unknown_state_type_is_rejected() {
        assert_eq!(error_at(one_state(json!({"Type": "Sleep", "End": true}))).1, "Type");
    }

    #[test]
    fn heartbeat_must_be_shorter_than_the_timeout() {
        let state = json!({"Type": "Task", "Resource": "r", "End": true, "TimeoutSeconds": 10, "HeartbeatSeconds": 10});
        assert_eq!(error_at(one_state(state)).1, "HeartbeatSeconds");
    }

    #[test]
    fn resources_lists_every_task_resource_once() {
        let machine = load(json!({"StartAt": "A", "States": {
            "A": {"Type": "Task", "Resource": "r1", "Next": "P"},
            "P": {"Type": "Parallel", "End": true, "Branches": [
                {"StartAt": "B", "States": {"B": {"Type": "Task", "Resource": "r2", "End": true}}},
                {"StartAt": "C", "States": {"C": {"Type": "Task", "Resource": "r1", "End": true}}}
            ]}
        }}))
        .unwrap();
        assert_eq!(machine.resources(), vec!["r1", "r2"]);
    }

    #[test]
    fn the_error_message_names_state_and_field() {
        let err = load(one_state(json!({"Type": "Pass", "Next": "Nowhere"}))).unwrap_err();
        assert_eq!(err.to_string(), "state 'S', field 'Next': the state 'Nowhere' does not exist");
    }
}
