//! A loaded, validated state machine definition.
//!
//! [`StateMachine::from_json`] applies `${Name}` substitutions, parses the Amazon States Language
//! document, and validates it completely: every state type and field, transitions, retriers and
//! catchers, choice rules, paths, templates and intrinsic functions. What comes out can run
//! without further checks; an error names the state and the field at fault.

mod parse;

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;
use time::OffsetDateTime;

use crate::choice::Rule;
use crate::paths::{FilterPath, Path, ResultPath, Source, Template};
use crate::retry::{Catcher, Retrier};

pub use parse::LoadError;

/// A validated state machine, ready to register with an [`Engine`](crate::Engine).
#[derive(Debug, Clone)]
pub struct StateMachine {
    pub(crate) body: Body,
    /// `TimeoutSeconds` of the whole execution.
    pub(crate) timeout_seconds: Option<u64>,
    pub(crate) comment: Option<String>,
}

impl StateMachine {
    /// Parses and validates a definition after applying `${Name}` substitutions.
    ///
    /// ```
    /// use std::collections::HashMap;
    /// use asl_engine::StateMachine;
    ///
    /// let src = r#"{"StartAt": "Price", "States": {"Price": {"Type": "Task", "Resource": "${PriceArn}", "End": true}}}"#;
    /// let subs = HashMap::from([("PriceArn".to_owned(), "local:Price".to_owned())]);
    /// let machine = StateMachine::from_json(src, &subs).unwrap();
    /// assert_eq!(machine.resources(), vec!["local:Price"]);
    /// ```
    pub fn from_json<S: std::hash::BuildHasher>(
        source: &str,
        substitutions: &HashMap<String, String, S>,
    ) -> Result<Self, LoadError> {
        let text = crate::substitution::apply_substitutions(source, substitutions)?;
        let value: Value = serde_json::from_str(&text).map_err(LoadError::Json)?;
        Self::from_value(&value)
    }

    /// Validates an already parsed definition (no substitutions).
    pub fn from_value(definition: &Value) -> Result<Self, LoadError> {
        parse::state_machine(definition)
    }

    /// The name of the first state.
    pub fn start_at(&self) -> &str {
        &self.body.start_at
    }

    /// The definition's top-level `Comment`.
    pub fn comment(&self) -> Option<&str> {
        self.comment.as_deref()
    }

    /// Every `Resource` of every `Task`, branches included, sorted and without duplicates: the
    /// handlers an engine needs to run this machine.
    pub fn resources(&self) -> Vec<&str> {
        let mut out = Vec::new();
        self.body.collect_resources(&mut out);
        out.sort_unstable();
        out.dedup();
        out
    }
}

/// A set of states with a start: the top level, a `Parallel` branch, or a `Map` processor.
#[derive(Debug, Clone)]
pub(crate) struct Body {
    pub start_at: Arc<str>,
    pub states: HashMap<String, State, NameHasher>,
}

impl Body {
    fn collect_resources<'a>(&'a self, out: &mut Vec<&'a str>) {
        for state in self.states.values() {
            match &state.kind {
                Kind::Task(task) => out.push(&task.resource),
                Kind::Parallel(parallel) => parallel.branches.iter().for_each(|b| b.collect_resources(out)),
                Kind::Map(map) => map.processor.collect_resources(out),
                _ => {}
            }
        }
    }
}

/// Hashes state names for the state table: a multiply-rotate hash (as in rustc's FxHash),
/// several times faster than SipHash. State names come from the definition, not from users, so
/// the table needs no protection against crafted collisions.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct NameHasher;

impl std::hash::BuildHasher for NameHasher {
    type Hasher = NameHash;

    fn build_hasher(&self) -> NameHash {
        NameHash(0)
    }
}

/// The state of a [`NameHasher`] hash.
#[derive(Debug)]
pub(crate) struct NameHash(u64);

impl std::hash::Hasher for NameHash {
    fn write(&mut self, bytes: &[u8]) {
        const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(word)).wrapping_mul(SEED);
        }
        for &byte in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(byte)).wrapping_mul(SEED);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// One state.
#[derive(Debug, Clone)]
pub(crate) struct State {
    pub kind: Kind,
    pub transition: Transition,
    pub input_path: FilterPath,
    pub output_path: FilterPath,
}

/// Where a state goes when it completes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Transition {
    Next(Arc<str>),
    End,
    /// `Choice`, `Succeed` and `Fail` decide on their own.
    Own,
}

/// What a state does.
#[derive(Debug, Clone)]
pub(crate) enum Kind {
    Pass(Box<PassState>),
    Task(Box<TaskState>),
    Choice(Box<ChoiceState>),
    Wait(WaitFor),
    Succeed,
    Fail(Box<FailState>),
    Parallel(Box<ParallelState>),
    Map(Box<MapState>),
}

impl Kind {
    /// The state type as ASL spells it, which also prefixes its history events.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Pass(_) => "Pass",
            Self::Task(_) => "Task",
            Self::Choice(_) => "Choice",
            Self::Wait(_) => "Wait",
            Self::Succeed => "Succeed",
            Self::Fail(_) => "Fail",
            Self::Parallel(_) => "Parallel",
            Self::Map(_) => "Map",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct PassState {
    pub parameters: Option<Template>,
    pub result: Option<Value>,
    pub result_path: ResultPath,
}

/// The input, output and error processing shared by `Task`, `Parallel` and `Map`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Processing {
    pub parameters: Option<Template>,
    pub result_selector: Option<Template>,
    pub result_path: ResultPath,
    pub retry: Vec<Retrier>,
    pub catch: Vec<Catcher>,
}

/// A number of seconds, given literally or by a path.
#[derive(Debug, Clone)]
pub(crate) enum Seconds {
    Literal(u64),
    Path(Path),
}

#[derive(Debug, Clone)]
pub(crate) struct TaskState {
    pub resource: String,
    pub processing: Processing,
    pub timeout: Option<Seconds>,
    pub heartbeat: Option<Seconds>,
}

#[derive(Debug, Clone)]
pub(crate) struct ChoiceState {
    pub choices: Vec<(Rule, Arc<str>)>,
    pub default: Option<Arc<str>>,
}

#[derive(Debug, Clone)]
pub(crate) enum WaitFor {
    Seconds(Seconds),
    Timestamp(OffsetDateTime),
    TimestampPath(Path),
}

/// `Error`/`Cause` of a `Fail` state, given literally or by a path or intrinsic.
#[derive(Debug, Clone)]
pub(crate) enum Text {
    Literal(String),
    Dynamic(Source),
}

#[derive(Debug, Clone)]
pub(crate) struct FailState {
    pub error: Option<Text>,
    pub cause: Option<Text>,
}

#[derive(Debug, Clone)]
pub(crate) struct ParallelState {
    pub branches: Vec<Body>,
    pub processing: Processing,
}

#[derive(Debug, Clone)]
pub(crate) struct MapState {
    pub items_path: Option<Path>,
    /// `ItemSelector` (or its older name, `Parameters`).
    pub item_selector: Option<Template>,
    pub processor: Body,
    /// `MaxConcurrency`; 0 means no limit.
    pub max_concurrency: Seconds,
    pub processing: Processing,
}
