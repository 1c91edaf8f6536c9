//! The `asl` command-line runner, run as a user would.

use std::io::Write;
use std::process::Command;

use serde_json::{Value, json};

fn definition_file(definition: &Value) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(definition.to_string().as_bytes()).unwrap();
    file
}

fn asl(args: &[&str]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_asl")).args(args).output().expect("run asl");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn price_machine() -> Value {
    json!({"StartAt": "Price", "States": {
        "Price": {"Type": "Task", "Resource": "${PriceFn}", "ResultPath": "$.price", "Next": "Done",
                  "Catch": [{"ErrorEquals": ["OutOfStock"], "Next": "Sorry"}]},
        "Done": {"Type": "Succeed"},
        "Sorry": {"Type": "Fail", "Error": "Cancelled", "Cause": "out of stock"}
    }})
}

#[test]
fn run_prints_the_output_of_a_machine_whose_task_is_a_command() {
    let file = definition_file(&price_machine());
    let path = file.path().to_str().unwrap();
    let (code, stdout, stderr) = asl(&[
        "run",
        path,
        "--input",
        r#"{"qty": 3}"#,
        "--sub",
        "PriceFn=local:Price",
        "--task",
        "local:Price=echo 750",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(serde_json::from_str::<Value>(&stdout).unwrap(), json!({"qty": 3, "price": 750}));
}

#[test]
fn run_exits_one_with_the_error_when_the_execution_fails() {
    let file = definition_file(&price_machine());
    let path = file.path().to_str().unwrap();
    let task = r#"local:Price=echo '{"error": "OutOfStock", "cause": "none left"}'; exit 1"#;
    let (code, stdout, _) = asl(&["run", path, "--sub", "PriceFn=local:Price", "--task", task]);
    assert_eq!(code, 1);
    assert_eq!(serde_json::from_str::<Value>(&stdout).unwrap(), json!({"error": "Cancelled", "cause": "out of stock"}));
}

#[test]
fn run_with_history_prints_the_events() {
    let file = definition_file(&price_machine());
    let path = file.path().to_str().unwrap();
    let (code, stdout, _) =
        asl(&["run", path, "--sub", "PriceFn=local:Price", "--task", "local:Price=echo 1", "--history"]);
    assert_eq!(code, 0);
    let document: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(document["status"], json!("SUCCEEDED"));
    let types: Vec<&str> = document["history"].as_array().unwrap().iter().filter_map(|e| e["type"].as_str()).collect();
    assert_eq!(types.first(), Some(&"ExecutionStarted"));
    assert!(types.contains(&"TaskSucceeded"));
    assert_eq!(types.last(), Some(&"ExecutionSucceeded"));
}

#[test]
fn an_unresolved_placeholder_exits_two_naming_it() {
    let file = definition_file(&price_machine());
    let (code, _, stderr) = asl(&["run", file.path().to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(stderr.contains("${PriceFn}"), "{stderr}");
}

#[test]
fn validate_lists_the_task_resources() {
    let file = definition_file(&price_machine());
    let (code, stdout, _) = asl(&["validate", file.path().to_str().unwrap(), "--sub", "PriceFn=local:Price"]);
    assert_eq!(code, 0);
    assert_eq!(serde_json::from_str::<Value>(&stdout).unwrap(), json!({"valid": true, "resources": ["local:Price"]}));
}

#[test]
fn a_time_scale_shortens_waits() {
    let definition = json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 600, "End": true}}});
    let file = definition_file(&definition);
    let (code, stdout, stderr) = asl(&["run", file.path().to_str().unwrap(), "--time-scale", "0.0001", "--history"]);
    assert_eq!(code, 0, "{stderr}");
    let document: Value = serde_json::from_str(&stdout).unwrap();
    let history = document["history"].as_array().unwrap();
    let time_of = |kind: &str| {
        let text = history.iter().find(|e| e["type"] == json!(kind)).and_then(|e| e["timestamp"].as_str()).unwrap();
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).unwrap()
    };
    let waited = time_of("WaitStateExited") - time_of("WaitStateEntered");
    assert!(waited < time::Duration::seconds(60), "a 600 s wait scaled by 0.0001 took {waited}");
}
