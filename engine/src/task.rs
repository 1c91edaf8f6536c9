//! Task handlers: what a `Task` state's `Resource` runs.
//!
//! The engine hands each task to the [`TaskHandler`] registered for its resource in a
//! [`TaskRegistry`], and gets back a JSON result or a [`TaskFailure`] whose `error` name is what
//! `Retry` and `Catch` match. Tasks are at-least-once: a task in flight when the process stopped
//! runs again on resume, so handlers should be idempotent (see [`TaskContext::attempt_id`]).

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::io::AsyncWriteExt;
use tokio::sync::Notify;

/// Runs the tasks of one resource.
#[async_trait]
pub trait TaskHandler: Send + Sync {
    /// Runs one task invocation.
    async fn invoke(&self, invocation: TaskInvocation) -> Result<Value, TaskFailure>;
}

/// A task's failure: a stable error name and a cause.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{error}: {cause}")]
pub struct TaskFailure {
    /// The name `Retry`/`Catch` match (`PaymentDeclined`, `Transient`, ...). Names starting
    /// with `States.` are reserved by Step Functions; a handler may still return
    /// `States.Timeout` or `States.TaskFailed` to mean just that.
    pub error: String,
    /// A human-readable explanation.
    pub cause: String,
}

impl TaskFailure {
    /// A failure with the given error name and cause.
    pub fn new(error: impl Into<String>, cause: impl Into<String>) -> Self {
        Self { error: error.into(), cause: cause.into() }
    }
}

/// One call of a task handler.
#[derive(Debug, Clone)]
pub struct TaskInvocation {
    /// The `Resource` of the state (after substitutions).
    pub resource: String,
    /// The task input, after `InputPath` and `Parameters`.
    pub input: Value,
    /// Who is calling, for logs and idempotency.
    pub context: TaskContext,
}

/// Where a task invocation comes from.
#[derive(Debug, Clone)]
pub struct TaskContext {
    /// The execution's name (unique within the engine).
    pub execution_name: String,
    /// The execution's id (an ARN-like string).
    pub execution_id: String,
    /// The `Task` state's name.
    pub state_name: String,
    /// How many times this state was retried before this attempt (`$$.State.RetryCount`).
    pub retry_count: u32,
    /// The `Map` iteration index, when the task runs inside a `Map`.
    pub map_index: Option<u64>,
    /// A stable identifier of this visit of the state: `execution/state#step`, with the branch
    /// path in between inside `Parallel` and `Map` (`execution/Ship[3]/Charge#0`). It is the
    /// same across retries and across a resume, and differs when a loop visits the state
    /// again: a good idempotency key.
    pub attempt_id: String,
    /// Tells the engine the task is alive, for `HeartbeatSeconds`.
    pub heartbeat: Heartbeat,
}

/// A handle a long task calls to reset its `HeartbeatSeconds` timer.
#[derive(Debug, Clone, Default)]
pub struct Heartbeat {
    beats: Arc<Notify>,
}

impl Heartbeat {
    /// Reports that the task is still making progress.
    pub fn beat(&self) {
        self.beats.notify_one();
    }

    /// Completes at the next beat.
    pub(crate) async fn next(&self) {
        self.beats.notified().await;
    }
}

/// The handlers of an engine, by resource.
#[derive(Clone, Default)]
pub struct TaskRegistry {
    handlers: HashMap<String, Arc<dyn TaskHandler>>,
}

impl fmt::Debug for TaskRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut resources: Vec<&String> = self.handlers.keys().collect();
        resources.sort();
        f.debug_struct("TaskRegistry").field("resources", &resources).finish()
    }
}

impl TaskRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `handler` for `resource`, replacing any earlier one.
    pub fn with(mut self, resource: impl Into<String>, handler: Arc<dyn TaskHandler>) -> Self {
        self.insert(resource, handler);
        self
    }

    /// Registers an async closure for `resource`.
    ///
    /// ```
    /// use asl_engine::{TaskFailure, TaskRegistry};
    /// use serde_json::json;
    ///
    /// let tasks = TaskRegistry::new().with_fn("local:Echo", |invocation| async move {
    ///     Ok::<_, TaskFailure>(json!({ "echo": invocation.input }))
    /// });
    /// assert!(tasks.contains("local:Echo"));
    /// ```
    pub fn with_fn<F, Fut>(self, resource: impl Into<String>, handler: F) -> Self
    where
        F: Fn(TaskInvocation) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Value, TaskFailure>> + Send + 'static,
    {
        self.with(resource, Arc::new(FnHandler(handler)))
    }

    /// Registers `handler` for `resource`, replacing any earlier one.
    pub fn insert(&mut self, resource: impl Into<String>, handler: Arc<dyn TaskHandler>) {
        self.handlers.insert(resource.into(), handler);
    }

    /// Whether a handler is registered for `resource`.
    pub fn contains(&self, resource: &str) -> bool {
        self.handlers.contains_key(resource)
    }

    /// The handler for `resource`.
    pub fn get(&self, resource: &str) -> Option<&Arc<dyn TaskHandler>> {
        self.handlers.get(resource)
    }
}

/// A [`TaskHandler`] made from an async closure.
struct FnHandler<F>(F);

#[async_trait]
impl<F, Fut> TaskHandler for FnHandler<F>
where
    F: Fn(TaskInvocation) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Value, TaskFailure>> + Send + 'static,
{
    async fn invoke(&self, invocation: TaskInvocation) -> Result<Value, TaskFailure> {
        (self.0)(invocation).await
    }
}

/// A handler that runs a shell command: the task input is written to its stdin as JSON, and its
/// stdout is read back as JSON.
///
/// Exit status 0 is success (empty stdout means `null`). A non-zero exit is a task failure: when
/// stdout is `{"error": ..., "cause": ...}` that is the failure; otherwise the error is
/// `CommandFailed` and the cause is stderr.
#[derive(Debug, Clone)]
pub struct CommandTask {
    command: String,
}

impl CommandTask {
    /// A handler running `command` with `sh -c`.
    pub fn new(command: impl Into<String>) -> Self {
        Self { command: command.into() }
    }
}

/// The error name of a command that failed without naming its error.
pub const COMMAND_FAILED: &str = "CommandFailed";

#[async_trait]
impl TaskHandler for CommandTask {
    async fn invoke(&self, invocation: TaskInvocation) -> Result<Value, TaskFailure> {
        let failed = |cause: String| TaskFailure::new(COMMAND_FAILED, cause);
        let mut child = tokio::process::Command::new("sh")
            .arg("-c")
            .arg(&self.command)
            .env("ASL_EXECUTION_NAME", &invocation.context.execution_name)
            .env("ASL_STATE_NAME", &invocation.context.state_name)
            .env("ASL_RETRY_COUNT", invocation.context.retry_count.to_string())
            .env("ASL_ATTEMPT_ID", &invocation.context.attempt_id)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| failed(format!("could not start `{}`: {e}", self.command)))?;
        if let Some(mut stdin) = child.stdin.take() {
            let input = serde_json::to_vec(&invocation.input).map_err(|e| failed(e.to_string()))?;
            // A command that does not read its input closes the pipe early; that is fine.
            let _ = stdin.write_all(&input).await;
        }
        let output =
            child.wait_with_output().await.map_err(|e| failed(format!("`{}` did not complete: {e}", self.command)))?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stdout = stdout.trim();
        if output.status.success() {
            if stdout.is_empty() {
                return Ok(Value::Null);
            }
            return serde_json::from_str(stdout)
                .map_err(|e| failed(format!("`{}` printed something that is not JSON: {e}", self.command)));
        }
        if let Ok(Value::Object(map)) = serde_json::from_str::<Value>(stdout)
            && let Some(error) = map.get("error").and_then(Value::as_str)
        {
            let cause = match map.get("cause") {
                Some(Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
                None => String::new(),
            };
            return Err(TaskFailure::new(error, cause));
        }
        Err(failed(format!(
            "`{}` exited with {}: {}",
            self.command,
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn invocation(input: Value) -> TaskInvocation {
        TaskInvocation {
            resource: "cmd".into(),
            input,
            context: TaskContext {
                execution_name: "e".into(),
                execution_id: "id".into(),
                state_name: "S".into(),
                retry_count: 0,
                map_index: None,
                attempt_id: "e/S".into(),
                heartbeat: Heartbeat::default(),
            },
        }
    }

    #[tokio::test]
    async fn a_command_reads_its_input_and_returns_json() {
        let task = CommandTask::new(r#"read line; echo "{\"got\": $line}""#);
        assert_eq!(task.invoke(invocation(json!({"a": 1}))).await.unwrap(), json!({"got": {"a": 1}}));
    }

    #[tokio::test]
    async fn a_failing_command_reports_its_named_error() {
        let task = CommandTask::new(r#"echo '{"error": "OutOfStock", "cause": "sku-1"}'; exit 3"#);
        assert_eq!(task.invoke(invocation(json!({}))).await.unwrap_err(), TaskFailure::new("OutOfStock", "sku-1"));
    }

    #[tokio::test]
    async fn a_failing_command_without_an_error_name_is_command_failed() {
        let task = CommandTask::new("echo oops >&2; exit 1");
        let failure = task.invoke(invocation(json!({}))).await.unwrap_err();
        assert_eq!(failure.error, COMMAND_FAILED);
        assert!(failure.cause.contains("oops"));
    }

    #[tokio::test]
    async fn a_closure_can_be_a_handler() {
        let tasks = TaskRegistry::new()
            .with_fn("double", |inv: TaskInvocation| async move { Ok(json!(inv.input.as_i64().unwrap_or(0) * 2)) });
        let handler = tasks.get("double").unwrap();
        assert_eq!(handler.invoke(invocation(json!(21))).await.unwrap(), json!(42));
        assert!(tasks.get("other").is_none());
    }
}
