//! Differential tests: every state machine in `tests/differential/cases/` runs through this
//! engine and through the npm package `aws-local-stepfunctions` (an independent implementation of
//! the Amazon States Language), with the same inputs and the same task functions
//! (`tests/differential/tasks.mjs`); their outputs, or their error names, must agree.
//!
//! Where `aws-local-stepfunctions` is known to differ from AWS Step Functions, the case says so:
//! `deviation` explains it, `expect` holds what AWS does (this engine must do that) and `npm`
//! what the package does (so that a fixed package is noticed).
//!
//! Needs Node.js (20 or later) and `npm ci --prefix engine/tests/differential` (which
//! `scripts/test.sh` runs); without them the tests fail, saying so.
//!
//! Layout of the Node side, in `tests/differential/`:
//! - `tasks.mjs`: the task functions, defined once; the engine calls them through one
//!   `node tasks.mjs --serve` process (see [`NodeTasks`]);
//! - `run.mjs`: runs every case with `aws-local-stepfunctions` in one process;
//! - `polyfill.mjs`: `Promise.withResolvers` for Node 20.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, HashMap};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use asl_engine::{
    Engine, ExecutionStatus, MemoryStore, StateMachine, SystemClock, TaskFailure, TaskHandler, TaskInvocation,
    TaskRegistry,
};
use parking_lot::Mutex;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::oneshot;

/// The least number of state machines the suite must compare.
const MIN_CASES: usize = 40;

fn node_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/differential")
}

/// Fails the test, explaining what to install, when Node.js or the npm packages are missing.
fn require_node_packages(packages: &[&str]) {
    let setup = "install Node.js 20 or later, then run `npm ci --no-audit --no-fund --prefix engine/tests/differential` \
                 (scripts/test.sh does it)";
    match Command::new("node").arg("--version").output() {
        Ok(output) if output.status.success() => {}
        Ok(output) => panic!("`node --version` failed ({}): {setup}", output.status),
        Err(error) => panic!("the differential tests need Node.js, and `node` cannot run ({error}): {setup}"),
    }
    for package in packages {
        let manifest = node_dir().join("node_modules").join(package).join("package.json");
        assert!(
            manifest.is_file(),
            "the npm package `{package}` is not installed ({} is missing): {setup}",
            manifest.display()
        );
    }
}

/// One case file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseFile {
    /// What the case checks.
    description: String,
    /// The state machine.
    definition: Value,
    /// One input...
    #[serde(default)]
    input: Option<Value>,
    /// ...or several, each run on its own.
    #[serde(default)]
    inputs: Option<Vec<Value>>,
    /// Why `aws-local-stepfunctions` differs from AWS here (with `expect` and `npm`).
    #[serde(default)]
    deviation: Option<String>,
    /// What AWS does: `{"output": ...}` or `{"error": ..., "cause"?: ...}`.
    #[serde(default)]
    expect: Option<Value>,
    /// What `aws-local-stepfunctions` does instead.
    #[serde(default)]
    npm: Option<Value>,
}

/// One run: a case file's machine with one of its inputs.
#[derive(Debug)]
struct Run {
    /// `file`, or `file-input-N` for the N-th of several inputs; also the execution name on both sides.
    id: String,
    definition: Value,
    input: Value,
    deviation: Option<Deviation>,
}

#[derive(Debug)]
struct Deviation {
    why: String,
    aws: Value,
    npm: Value,
}

fn load_cases() -> Vec<Run> {
    let dir = node_dir().join("cases");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    assert!(
        files.len() >= MIN_CASES,
        "only {} case files in {}; the suite wants {MIN_CASES}",
        files.len(),
        dir.display()
    );
    let mut runs = Vec::new();
    for path in files {
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        let case: CaseFile =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: not a valid case file: {e}", path.display()));
        assert!(!case.description.trim().is_empty(), "{stem}: the description is empty");
        let deviation = match (case.deviation, case.expect, case.npm) {
            (None, None, None) => None,
            (Some(why), Some(aws), Some(npm)) => Some(Deviation { why, aws, npm }),
            _ => panic!("{stem}: `deviation`, `expect` and `npm` go together"),
        };
        match (case.input, case.inputs) {
            (Some(input), None) => runs.push(Run { id: stem, definition: case.definition, input, deviation }),
            (None, Some(inputs)) => {
                assert!(deviation.is_none(), "{stem}: a deviation needs a single `input`");
                for (index, input) in inputs.into_iter().enumerate() {
                    runs.push(Run {
                        id: format!("{stem}-input-{index}"),
                        definition: case.definition.clone(),
                        input,
                        deviation: None,
                    });
                }
            }
            _ => panic!("{stem}: give either `input` or `inputs`"),
        }
    }
    runs
}

/// Runs every case with `aws-local-stepfunctions` (one Node process); results by run id.
fn run_with_npm(runs: &[Run]) -> HashMap<String, Value> {
    let cases: Vec<Value> =
        runs.iter().map(|run| json!({"id": run.id, "definition": run.definition, "input": run.input})).collect();
    let mut child = Command::new("node")
        .args(["--import", "./polyfill.mjs", "run.mjs"])
        .current_dir(node_dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start node run.mjs");
    child.stdin.take().unwrap().write_all(&serde_json::to_vec(&cases).unwrap()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "node run.mjs failed: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!("node run.mjs printed something that is not JSON ({e}): {}", String::from_utf8_lossy(&output.stdout))
    })
}

/// The task functions of `tasks.mjs`, served by one `node tasks.mjs --serve` process: calls go
/// out as JSON lines on its stdin and come back, in any order, on its stdout.
struct NodeTasks {
    stdin: tokio::sync::Mutex<tokio::process::ChildStdin>,
    pending: Arc<Mutex<HashMap<u64, oneshot::Sender<Value>>>>,
    next_id: AtomicU64,
    _child: tokio::process::Child,
}

impl NodeTasks {
    fn start() -> Arc<Self> {
        let mut child = tokio::process::Command::new("node")
            .args(["tasks.mjs", "--serve"])
            .current_dir(node_dir())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start node tasks.mjs --serve");
        let stdout = child.stdout.take().unwrap();
        let pending: Arc<Mutex<HashMap<u64, oneshot::Sender<Value>>>> = Arc::default();
        let answers = Arc::clone(&pending);
        tokio::spawn(async move {
            let mut lines = BufReader::new(stdout).lines();
            while let Some(line) = lines.next_line().await.expect("read from tasks.mjs") {
                let answer: Value = serde_json::from_str(&line).expect("tasks.mjs answers JSON");
                let id = answer["id"].as_u64().expect("an answer has an id");
                if let Some(reply) = answers.lock().remove(&id) {
                    let _ = reply.send(answer);
                }
            }
        });
        let stdin = tokio::sync::Mutex::new(child.stdin.take().unwrap());
        Arc::new(Self { stdin, pending, next_id: AtomicU64::new(0), _child: child })
    }

    async fn call(&self, task: &str, input: &Value, retry_count: u32) -> Result<Value, TaskFailure> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (reply, answer) = oneshot::channel();
        self.pending.lock().insert(id, reply);
        let mut line =
            serde_json::to_vec(&json!({"id": id, "task": task, "input": input, "retryCount": retry_count})).unwrap();
        line.push(b'\n');
        self.stdin.lock().await.write_all(&line).await.expect("write to tasks.mjs");
        let answer = answer.await.expect("tasks.mjs answered");
        match answer.get("error") {
            Some(error) => {
                Err(TaskFailure::new(error.as_str().unwrap_or_default(), answer["cause"].as_str().unwrap_or_default()))
            }
            None => Ok(answer.get("output").cloned().unwrap_or(Value::Null)),
        }
    }
}

/// The handler of one resource: the task of `tasks.mjs` its ARN names.
struct NodeTask {
    server: Arc<NodeTasks>,
    name: String,
}

#[async_trait::async_trait]
impl TaskHandler for NodeTask {
    async fn invoke(&self, invocation: TaskInvocation) -> Result<Value, TaskFailure> {
        self.server.call(&self.name, &invocation.input, invocation.context.retry_count).await
    }
}

/// Runs every case with this engine, concurrently; results by run id.
async fn run_with_engine(runs: &[Run]) -> HashMap<String, Value> {
    let mut machines = Vec::new();
    let mut results = HashMap::new();
    for run in runs {
        match StateMachine::from_value(&run.definition) {
            Ok(machine) => machines.push((run, machine)),
            Err(error) => {
                results.insert(run.id.clone(), json!({"invalid": error.to_string()}));
            }
        }
    }
    let server = NodeTasks::start();
    let mut tasks = TaskRegistry::new();
    for (_, machine) in &machines {
        for resource in machine.resources() {
            let name = resource.rsplit(':').next().unwrap_or(resource).to_owned();
            tasks.insert(resource, Arc::new(NodeTask { server: Arc::clone(&server), name }));
        }
    }
    // Waits and retry delays take no time; task timeouts stay real, as in run.mjs.
    let engine = Engine::builder()
        .store(Arc::new(MemoryStore::new()))
        .tasks(tasks)
        .clock(Arc::new(SystemClock::with_time_scale(0.0)))
        .build();
    let executions = machines.into_iter().map(|(run, machine)| {
        let engine = engine.clone();
        async move {
            engine.register(run.id.clone(), machine);
            engine.start_execution(&run.id, &run.id, run.input.clone()).await.expect("start");
            let done = engine.wait(&run.id).await.expect("wait");
            let result = if done.status == ExecutionStatus::Succeeded {
                json!({"output": done.output.as_deref().cloned().unwrap_or(Value::Null)})
            } else {
                json!({"error": done.error, "cause": done.cause})
            };
            (run.id.clone(), result)
        }
    });
    results.extend(futures::future::join_all(executions).await);
    results
}

/// What two results must agree on: the output, or the error name and — for errors that are not
/// `States.*` (whose causes are each implementation's own words) — the cause.
fn comparable(result: &Value) -> Value {
    match result.get("error") {
        Some(Value::String(error)) if error.starts_with("States.") => json!({"error": error}),
        Some(error) => json!({"error": error, "cause": result.get("cause").cloned().unwrap_or(Value::Null)}),
        None => result.clone(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_engine_agrees_with_aws_local_stepfunctions_or_with_aws_where_that_package_deviates() {
    require_node_packages(&["aws-local-stepfunctions"]);
    let runs = load_cases();
    let npm = tokio::task::block_in_place(|| run_with_npm(&runs));
    let ours = run_with_engine(&runs).await;

    let mut problems = Vec::new();
    let mut deviations = 0;
    for run in &runs {
        let (ours, npm) = (comparable(&ours[&run.id]), comparable(&npm[&run.id]));
        match &run.deviation {
            None if ours == npm => {}
            None => problems.push(format!("{}: the engine gives {ours}, aws-local-stepfunctions gives {npm}", run.id)),
            Some(deviation) => {
                deviations += 1;
                if ours != comparable(&deviation.aws) {
                    problems.push(format!(
                        "{}: the engine gives {ours}, AWS gives {} ({})",
                        run.id, deviation.aws, deviation.why
                    ));
                }
                if npm != comparable(&deviation.npm) {
                    problems.push(format!(
                        "{}: aws-local-stepfunctions now gives {npm}, not the recorded {}; if it now agrees with AWS, \
                         drop the deviation",
                        run.id, deviation.npm
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{} of {} runs disagree:\n{}", problems.len(), runs.len(), problems.join("\n"));
    println!(
        "{} runs agree ({deviations} where aws-local-stepfunctions deviates from AWS and the engine follows AWS)",
        runs.len()
    );
}

/// The order saga, with its `${...}` placeholders filled with Lambda ARNs.
fn order_machine_file() -> (tempfile::NamedTempFile, Vec<(String, String)>) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../state-machines/order.asl.json");
    let source = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut substitutions = BTreeMap::new();
    let mut rest = source.as_str();
    while let Some(start) = rest.find("${") {
        let end = rest[start..].find('}').expect("a closed placeholder") + start;
        let name = &rest[start + 2..end];
        substitutions.insert(name.to_owned(), format!("arn:aws:lambda:eu-west-1:123456789012:function:{name}"));
        rest = &rest[end..];
    }
    assert!(!substitutions.is_empty(), "the order machine has no placeholders any more: simplify this test");
    let substituted =
        substitutions.iter().fold(source.clone(), |text, (name, arn)| text.replace(&format!("${{{name}}}"), arn));
    let mut file = tempfile::Builder::new().suffix(".asl.json").tempfile().unwrap();
    file.write_all(substituted.as_bytes()).unwrap();
    (file, substitutions.into_iter().collect())
}

#[test]
fn the_order_machine_passes_asl_validator_and_asl_validate() {
    require_node_packages(&["asl-validator"]);
    let (file, substitutions) = order_machine_file();

    let validator = Command::new("node")
        .arg(node_dir().join("node_modules/asl-validator/dist/bin/asl-validator.js"))
        .arg("--json-path")
        .arg(file.path())
        .output()
        .expect("run asl-validator");
    assert!(
        validator.status.success(),
        "asl-validator rejects state-machines/order.asl.json:\n{}{}",
        String::from_utf8_lossy(&validator.stdout),
        String::from_utf8_lossy(&validator.stderr)
    );

    let original = Path::new(env!("CARGO_MANIFEST_DIR")).join("../state-machines/order.asl.json");
    let mut args = vec!["asl".to_owned(), "validate".to_owned(), original.to_string_lossy().into_owned()];
    for (name, arn) in &substitutions {
        args.extend(["--sub".to_owned(), format!("{name}={arn}")]);
    }
    let cli = <asl_engine::cli::Cli as clap::Parser>::try_parse_from(&args).unwrap();
    let mut out = Vec::new();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let code = runtime
        .block_on(asl_engine::cli::execute(cli, &mut out))
        .unwrap_or_else(|e| panic!("asl validate rejects state-machines/order.asl.json: {e:?}"));
    assert_eq!(code, 0);
    let report: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(report["valid"], json!(true));
    assert_eq!(report["resources"].as_array().map(Vec::len), Some(substitutions.len()));
}
