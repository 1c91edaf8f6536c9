//! Input and output processing, following the worked examples of the AWS Step Functions
//! developer guide ("Processing input and output").

use asl_engine::ExecutionStatus;
use serde_json::{Value, json};

use crate::helpers::{Script, TestApp, echo, returning};

fn task(fields: Value) -> Value {
    let mut state = json!({"Type": "Task", "Resource": "lambda", "End": true});
    if let (Value::Object(state), Value::Object(fields)) = (&mut state, fields) {
        state.extend(fields);
    }
    json!({"StartAt": "T", "States": {"T": state}})
}

fn hello() -> asl_engine::TaskRegistry {
    returning("lambda", json!("Hello, AWS Step Functions!"))
}

fn hello_input() -> Value {
    json!({"comment": "This is a test of the input and output of a Task state.", "details": "Default example", "who": "AWS Step Functions"})
}

#[tokio::test]
async fn result_path_dollar_replaces_the_input_with_the_result() {
    let app = TestApp::new(hello());
    assert_eq!(app.output(&task(json!({"ResultPath": "$"})), hello_input()).await, json!("Hello, AWS Step Functions!"));
}

#[tokio::test]
async fn result_path_to_a_field_adds_the_result_to_the_input() {
    let app = TestApp::new(hello());
    let mut expected = hello_input();
    expected["taskresult"] = json!("Hello, AWS Step Functions!");
    assert_eq!(app.output(&task(json!({"ResultPath": "$.taskresult"})), hello_input()).await, expected);
}

#[tokio::test]
async fn result_path_null_discards_the_result_and_passes_the_input_through() {
    let app = TestApp::new(hello());
    assert_eq!(app.output(&task(json!({"ResultPath": null})), hello_input()).await, hello_input());
}

#[tokio::test]
async fn result_path_into_a_nested_object_keeps_its_siblings() {
    let app = TestApp::new(hello());
    let input = json!({"strings": {"string1": "a", "string2": "b"}, "who": "x"});
    let output = app.output(&task(json!({"ResultPath": "$.strings.lambdaresult"})), input).await;
    assert_eq!(
        output,
        json!({"strings": {"string1": "a", "string2": "b", "lambdaresult": "Hello, AWS Step Functions!"}, "who": "x"})
    );
}

#[tokio::test]
async fn input_path_result_path_and_output_path_combine() {
    let script = Script::new();
    let tasks = script.register(asl_engine::TaskRegistry::new(), "lambda", None, |_, invocation| {
        Ok(json!(format!("Hello, {}!", invocation.input["who"].as_str().unwrap_or_default())))
    });
    let app = TestApp::new(tasks);
    let input = json!({"comment": "An input comment.", "data": {"val1": 23, "val2": 17}, "extra": "foo", "lambda": {"who": "AWS Step Functions"}});
    let definition =
        task(json!({"InputPath": "$.lambda", "ResultPath": "$.data.lambdaresult", "OutputPath": "$.data"}));
    let output = app.output(&definition, input).await;
    assert_eq!(script.inputs(), vec![json!({"who": "AWS Step Functions"})]);
    assert_eq!(output, json!({"val1": 23, "val2": 17, "lambdaresult": "Hello, AWS Step Functions!"}));
}

#[tokio::test]
async fn parameters_select_and_rename_parts_of_the_input() {
    let script = Script::new();
    let tasks = script.register(asl_engine::TaskRegistry::new(), "lambda", None, |_, _| Ok(json!(null)));
    let app = TestApp::new(tasks);
    let input = json!({"comment": "Example for Parameters.", "product": {
        "details": {"color": "blue", "size": "small", "material": "cotton"},
        "availability": "in stock", "sku": "2317", "cost": "$23"}});
    let definition = task(json!({"Parameters": {"comment": "Selecting what I care about.",
        "MyDetails": {"size.$": "$.product.details.size", "exists.$": "$.product.availability", "StaticValue": "foo"}}}));
    app.output(&definition, input).await;
    assert_eq!(
        script.inputs(),
        vec![
            json!({"comment": "Selecting what I care about.", "MyDetails": {"size": "small", "exists": "in stock", "StaticValue": "foo"}})
        ]
    );
}

#[tokio::test]
async fn input_path_selects_a_part_of_the_input() {
    let script = Script::new();
    let tasks = script.register(asl_engine::TaskRegistry::new(), "lambda", None, |_, _| Ok(json!(1)));
    let app = TestApp::new(tasks);
    let input = json!({"comment": "Example for InputPath.", "dataset1": {"val1": 1, "val2": 2, "val3": 3}, "dataset2": {"val1": "a", "val2": "b", "val3": "c"}});
    app.output(&task(json!({"InputPath": "$.dataset2"})), input).await;
    assert_eq!(script.inputs(), vec![json!({"val1": "a", "val2": "b", "val3": "c"})]);
}

#[tokio::test]
async fn result_selector_picks_fields_of_the_result_before_result_path() {
    let result = json!({"resourceType": "elasticmapreduce", "resource": "createCluster.sync",
        "output": {"SdkHttpMetadata": {"HttpStatusCode": 200}, "SdkResponseMetadata": {"RequestId": "1234"}, "ClusterId": "AKIAIOSFODNN7EXAMPLE"}});
    let app = TestApp::new(returning("lambda", result));
    let definition = task(
        json!({"ResultSelector": {"ClusterId.$": "$.output.ClusterId", "ResourceType.$": "$.resourceType"}, "ResultPath": "$.EMROutput"}),
    );
    let output = app.output(&definition, json!({"cluster": "mine"})).await;
    assert_eq!(
        output,
        json!({"cluster": "mine", "EMROutput": {"ClusterId": "AKIAIOSFODNN7EXAMPLE", "ResourceType": "elasticmapreduce"}})
    );
}

#[tokio::test]
async fn output_path_selects_part_of_the_result() {
    let app = TestApp::new(returning(
        "lambda",
        json!({"ExecutedVersion": "$LATEST", "Payload": {"foo": "bar"}, "StatusCode": 200}),
    ));
    assert_eq!(app.output(&task(json!({"OutputPath": "$.Payload"})), json!({})).await, json!({"foo": "bar"}));
}

#[tokio::test]
async fn a_null_input_path_gives_the_task_an_empty_object() {
    let script = Script::new();
    let tasks = script.register(asl_engine::TaskRegistry::new(), "lambda", None, |_, _| Ok(json!({"r": 1})));
    let app = TestApp::new(tasks);
    app.output(&task(json!({"InputPath": null})), json!({"a": 1})).await;
    assert_eq!(script.inputs(), vec![json!({})]);
}

#[tokio::test]
async fn a_null_output_path_sends_an_empty_object_on() {
    let app = TestApp::new(echo("lambda"));
    assert_eq!(app.output(&task(json!({"OutputPath": null})), json!({"a": 1})).await, json!({}));
}

#[tokio::test]
async fn parameters_read_the_context_object() {
    let script = Script::new();
    let tasks = script.register(asl_engine::TaskRegistry::new(), "lambda", None, |_, _| Ok(json!(null)));
    let app = TestApp::new(tasks);
    app.engine.register("m", crate::helpers::machine(&task(json!({"Parameters": {
        "name.$": "$$.Execution.Name", "id.$": "$$.Execution.Id", "input.$": "$$.Execution.Input", "start.$": "$$.Execution.StartTime",
        "state.$": "$$.State.Name", "entered.$": "$$.State.EnteredTime", "retries.$": "$$.State.RetryCount", "machine.$": "$$.StateMachine.Name"
    }}))));
    app.engine.start_execution("m", "ctx-1", json!({"k": 1})).await.unwrap();
    app.engine.wait("ctx-1").await.unwrap();
    let input = &script.inputs()[0];
    assert_eq!(input["name"], json!("ctx-1"));
    assert_eq!(input["id"], json!("arn:aws:states:local:000000000000:execution:m:ctx-1"));
    assert_eq!(input["input"], json!({"k": 1}));
    assert_eq!(input["start"], json!("2024-01-01T00:00:00.000Z"));
    assert_eq!(input["state"], json!("T"));
    assert_eq!(input["entered"], json!("2024-01-01T00:00:00.000Z"));
    assert_eq!(input["retries"], json!(0));
    assert_eq!(input["machine"], json!("m"));
}

#[tokio::test]
async fn a_parameters_path_that_matches_nothing_fails_with_states_runtime_even_with_a_catch_all() {
    let app = TestApp::new(echo("lambda"));
    let definition = json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "lambda", "Parameters": {"x.$": "$.missing"}, "End": true,
              "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}]},
        "Caught": {"Type": "Succeed"}
    }});
    let done = app.run(&definition, json!({})).await;
    assert_eq!(done.status, ExecutionStatus::Failed);
    assert_eq!(done.error.as_deref(), Some("States.Runtime"));
    assert!(done.cause.unwrap_or_default().contains("$.missing"));
}

#[tokio::test]
async fn a_result_path_through_a_string_fails_with_result_path_match_failure() {
    let app = TestApp::new(hello());
    let done = app.run(&task(json!({"ResultPath": "$.who.greeting"})), hello_input()).await;
    assert_eq!(done.error.as_deref(), Some("States.ResultPathMatchFailure"));
}

#[tokio::test]
async fn pass_with_result_and_result_path_merges_a_fixed_value() {
    let app = TestApp::new(asl_engine::TaskRegistry::new());
    let definition = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"x-datum": 0.381_018, "y-datum": 622.226_992_639_735_5},
        "ResultPath": "$.coords", "End": true}}});
    let output = app.output(&definition, json!({"georefOf": "Home"})).await;
    assert_eq!(output, json!({"georefOf": "Home", "coords": {"x-datum": 0.381_018, "y-datum": 622.226_992_639_735_5}}));
}

#[tokio::test]
async fn intrinsic_functions_work_in_parameters() {
    let app = TestApp::new(asl_engine::TaskRegistry::new());
    let definition = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {
        "greeting.$": "States.Format('Hello, my name is {}.', $.name)",
        "parts.$": "States.StringSplit($.csv, ',')",
        "count.$": "States.ArrayLength(States.StringSplit($.csv, ','))",
        "json.$": "States.StringToJson($.doc)"
    }, "End": true}}});
    let output = app.output(&definition, json!({"name": "Arnav", "csv": "a,b,c", "doc": "{\"k\":true}"})).await;
    assert_eq!(
        output,
        json!({"greeting": "Hello, my name is Arnav.", "parts": ["a", "b", "c"], "count": 3, "json": {"k": true}})
    );
}
