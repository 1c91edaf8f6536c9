//! The `asl` command-line runner: run a state machine file locally.
//!
//! ```text
//! asl run order.asl.json --input '{"orderId": "o1"}' \
//!     --sub PriceOrderFunctionArn=local:PriceOrder \
//!     --task local:PriceOrder='./price.sh' [--history] [--time-scale 0.01] [--db var/asl.db]
//! asl validate order.asl.json --sub PriceOrderFunctionArn=local:PriceOrder
//! ```
//!
//! A task command reads the task input as JSON on stdin and writes its result as JSON on stdout;
//! a non-zero exit with `{"error": ..., "cause": ...}` on stdout is a task failure with that
//! error name (see [`CommandTask`]).
//!
//! `run` prints the execution's output as JSON and exits 0; on failure it prints
//! `{"error": ..., "cause": ...}` and exits 1. With `--history` it prints one document
//! `{"status", "output" | "error" + "cause", "history": [...]}`. Invalid definitions or
//! arguments exit 2.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use serde_json::{Value, json};

use crate::{
    CommandTask, Engine, EngineError, ExecutionStatus, ExecutionStore, LoadError, MemoryStore, SqliteStore,
    StateMachine, StoreError, SystemClock, TaskRegistry,
};

/// Command-line arguments of `asl`.
#[derive(Debug, Parser)]
#[command(name = "asl", version, about = "Run Amazon States Language state machines locally")]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a state machine once and print its output (or error) as JSON.
    Run(RunArgs),
    /// Load and validate a state machine; print its task resources.
    Validate(DefinitionArgs),
}

/// Where the definition comes from.
#[derive(Debug, clap::Args)]
pub struct DefinitionArgs {
    /// The ASL definition file (JSON).
    pub file: PathBuf,
    /// A `${Name}` substitution, as `Name=value` (repeatable).
    #[arg(long = "sub", value_name = "NAME=VALUE", value_parser = parse_pair)]
    pub substitutions: Vec<(String, String)>,
}

/// Arguments of `asl run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub definition: DefinitionArgs,
    /// The execution input, as JSON.
    #[arg(long, default_value = "{}", conflicts_with = "input_file")]
    pub input: String,
    /// Read the execution input from a file.
    #[arg(long, value_name = "PATH")]
    pub input_file: Option<PathBuf>,
    /// A task resource mapped to a shell command, as `Resource=command` (repeatable).
    #[arg(long = "task", value_name = "RESOURCE=COMMAND", value_parser = parse_pair)]
    pub tasks: Vec<(String, String)>,
    /// Print the execution history with the result.
    #[arg(long)]
    pub history: bool,
    /// Multiply every wait and retry delay by this factor (0.01 makes 30 s last 0.3 s).
    #[arg(long, env = "TIME_SCALE", default_value_t = 1.0)]
    pub time_scale: f64,
    /// Persist the execution in this SQLite file (default: in memory).
    #[arg(long, value_name = "PATH")]
    pub db: Option<PathBuf>,
    /// The execution name (default: a fresh UUID).
    #[arg(long)]
    pub name: Option<String>,
}

fn parse_pair(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .filter(|(key, _)| !key.is_empty())
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .ok_or_else(|| format!("expected NAME=VALUE, got '{text}'"))
}

/// Why the runner could not run.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A file could not be read.
    #[error("cannot read {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The definition is invalid.
    #[error("the state machine is invalid")]
    Load(#[from] LoadError),
    /// The input is not JSON.
    #[error("the input is not valid JSON")]
    Input(#[source] serde_json::Error),
    /// The store could not be opened.
    #[error("cannot open the execution store")]
    Store(#[from] StoreError),
    /// The engine refused the execution.
    #[error("the execution could not run")]
    Engine(#[from] EngineError),
    /// Output could not be written.
    #[error("cannot write the result")]
    Output(#[from] std::io::Error),
}

/// The process exit code of a failed, timed-out or aborted execution.
pub const EXIT_EXECUTION_FAILED: i32 = 1;
/// The process exit code of invalid arguments or definitions.
pub const EXIT_INVALID: i32 = 2;

/// Runs the command line; returns the process exit code.
pub async fn execute(cli: Cli, out: &mut (dyn Write + Send)) -> Result<i32, CliError> {
    match cli.command {
        Command::Validate(args) => {
            let machine = load(&args)?;
            writeln!(out, "{}", pretty(&json!({"valid": true, "resources": machine.resources()})))?;
            Ok(0)
        }
        Command::Run(args) => run(args, out).await,
    }
}

fn load(args: &DefinitionArgs) -> Result<StateMachine, CliError> {
    let source =
        std::fs::read_to_string(&args.file).map_err(|source| CliError::Read { path: args.file.clone(), source })?;
    let substitutions: HashMap<String, String> = args.substitutions.iter().cloned().collect();
    Ok(StateMachine::from_json(&source, &substitutions)?)
}

async fn run(args: RunArgs, out: &mut (dyn Write + Send)) -> Result<i32, CliError> {
    let machine = load(&args.definition)?;
    let input_text = match &args.input_file {
        Some(path) => std::fs::read_to_string(path).map_err(|source| CliError::Read { path: path.clone(), source })?,
        None => args.input.clone(),
    };
    let input: Value = serde_json::from_str(&input_text).map_err(CliError::Input)?;
    let tasks = args.tasks.iter().fold(TaskRegistry::new(), |tasks, (resource, command)| {
        tasks.with(resource.clone(), Arc::new(CommandTask::new(command.clone())))
    });
    let store: Arc<dyn ExecutionStore> = match &args.db {
        Some(path) => Arc::new(SqliteStore::open(path)?),
        None => Arc::new(MemoryStore::new()),
    };
    let engine = Engine::builder()
        .store(store)
        .tasks(tasks)
        .clock(Arc::new(SystemClock::with_time_scale(args.time_scale)))
        .build();
    engine.register("cli", machine);
    let name = args.name.clone().unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    engine.start_execution("cli", &name, input).await?;
    let description = engine.wait(&name).await?;
    let succeeded = description.status == ExecutionStatus::Succeeded;
    let failure = json!({"error": description.error, "cause": description.cause});
    let document = if args.history {
        let history = engine.history(&name).await?;
        let mut document = json!({"name": name, "status": description.status});
        if succeeded {
            document["output"] = description.output.as_deref().cloned().unwrap_or(Value::Null);
        } else {
            document["error"] = failure["error"].clone();
            document["cause"] = failure["cause"].clone();
        }
        document["history"] = serde_json::to_value(history).unwrap_or_default();
        document
    } else if succeeded {
        description.output.as_deref().cloned().unwrap_or(Value::Null)
    } else {
        failure
    };
    writeln!(out, "{}", pretty(&document))?;
    Ok(if succeeded { 0 } else { EXIT_EXECUTION_FAILED })
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
}

/// The `asl` binary's `main`: parses arguments, runs, and reports errors with their causes.
pub fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return std::process::ExitCode::from(1);
        }
    };
    let mut stdout = std::io::stdout();
    match runtime.block_on(execute(cli, &mut stdout)) {
        Ok(code) => std::process::ExitCode::from(u8::try_from(code).unwrap_or(1)),
        Err(error) => {
            // anyhow's report: the message, then each cause on a line of its own.
            eprintln!("error: {:?}", anyhow::Error::new(error));
            std::process::ExitCode::from(u8::try_from(EXIT_INVALID).unwrap_or(2))
        }
    }
}
