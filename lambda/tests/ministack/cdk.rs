//! The CDK app, deployed as an operator deploys it: `cdk synth` of the `emulator` stage (the
//! dev stage's settings, simulated partners, this emulator's endpoint and the tests' token
//! issuer), its file assets uploaded where the templates expect them, and both stacks created
//! through CloudFormation. No call here makes a resource itself: what exists is what the
//! templates say.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use aws_sdk_cloudformation::types::{Capability, StackStatus};
use aws_sdk_s3::primitives::ByteStream;
use serde_json::Value;

use crate::identity::{AUDIENCE, Issuer};
use crate::stack::setting;

/// The bucket the emulator stage's synthesizer names for assets (cdk/bin/app.ts).
const ASSETS_BUCKET: &str = "orderflow-emulator-assets";
/// The stacks of the emulator stage, in the order they are created.
pub const STACKS: [&str; 2] = ["Orderflow-emulator-Stateful", "Orderflow-emulator-Service"];

/// What the deployed stacks answer: their outputs.
pub struct Deployed {
    pub api_id: String,
    pub table: String,
    pub bucket: String,
    pub machine_arn: String,
}

/// Synthesizes the emulator stage into a new directory and returns it.
pub fn synth(issuer: &Issuer, endpoint: &str, simulators: &Path) -> tempfile::TempDir {
    let out = tempfile::tempdir().expect("a directory for the cloud assembly");
    let cdk = Path::new(env!("CARGO_MANIFEST_DIR")).join("../cdk");
    let context = [
        "stage=emulator".to_owned(),
        format!("emulatorEndpoint={endpoint}"),
        format!("jwtIssuer={}", issuer.url),
        format!("jwtAudience={AUDIENCE}"),
        format!("simulatorDir={}", simulators.display()),
        format!("lambdaZips={}", setting("LAMBDA_ZIPS")),
    ];
    let mut command = Command::new("npx");
    command.current_dir(&cdk).args(["cdk", "synth", "--quiet", "--output"]).arg(out.path());
    for value in &context {
        command.args(["--context", value]);
    }
    let synthesized = command
        .env("CDK_DISABLE_VERSION_CHECK", "1")
        .env("CDK_DISABLE_CLI_TELEMETRY", "1")
        .output()
        .expect("running cdk synth (npx, in cdk/)");
    assert!(
        synthesized.status.success(),
        "cdk synth failed:\n{}\n{}",
        String::from_utf8_lossy(&synthesized.stdout),
        String::from_utf8_lossy(&synthesized.stderr)
    );
    out
}

/// Uploads each stack's file assets as its asset manifest says, then creates the stacks in
/// order, each from its template in S3 (templates past 51,200 bytes must come from S3).
pub async fn deploy(
    config: &aws_config::SdkConfig,
    s3: &aws_sdk_s3::Client,
    assembly: &Path,
    endpoint: &str,
) -> Deployed {
    let cloudformation = aws_sdk_cloudformation::Client::new(config);
    // A bucket left by an earlier run of the suite on the same emulator is as good.
    let _ = s3.create_bucket().bucket(ASSETS_BUCKET).send().await;
    let mut outputs = serde_json::Map::new();
    for stack in STACKS {
        upload_assets(s3, assembly, stack).await;
        let template_key = format!("templates/{stack}.template.json");
        put(s3, &template_key, assembly.join(format!("{stack}.template.json"))).await;
        cloudformation
            .create_stack()
            .stack_name(stack)
            .template_url(format!("{endpoint}/{ASSETS_BUCKET}/{template_key}"))
            .capabilities(Capability::CapabilityIam)
            .capabilities(Capability::CapabilityNamedIam)
            .send()
            .await
            .unwrap_or_else(|error| panic!("creating {stack}: {error:?}"));
        let created = settled(&cloudformation, stack).await;
        for output in created.outputs() {
            outputs.insert(
                output.output_key().unwrap_or_default().to_owned(),
                Value::String(output.output_value().unwrap_or_default().to_owned()),
            );
        }
    }
    let output =
        |key: &str| outputs.get(key).and_then(Value::as_str).unwrap_or_else(|| panic!("no output {key}")).to_owned();
    Deployed {
        api_id: output("ApiId"),
        table: output("TableName"),
        bucket: output("DocumentsBucketName"),
        machine_arn: output("StateMachineArn"),
    }
}

async fn upload_assets(s3: &aws_sdk_s3::Client, assembly: &Path, stack: &str) {
    let manifest: Value = serde_json::from_slice(
        &std::fs::read(assembly.join(format!("{stack}.assets.json"))).expect("reading the asset manifest"),
    )
    .expect("a JSON asset manifest");
    for asset in manifest["files"].as_object().into_iter().flat_map(|files| files.values()) {
        assert_eq!(
            asset["source"]["packaging"], "file",
            "every asset is a file (the zips, the state machine): {asset}"
        );
        let source = assembly.join(asset["source"]["path"].as_str().expect("an asset path"));
        for destination in asset["destinations"].as_object().expect("destinations").values() {
            assert_eq!(destination["bucketName"], ASSETS_BUCKET, "{destination}");
            put(s3, destination["objectKey"].as_str().expect("an object key"), source.clone()).await;
        }
    }
}

async fn put(s3: &aws_sdk_s3::Client, key: &str, path: PathBuf) {
    let body = ByteStream::from_path(&path).await.unwrap_or_else(|error| panic!("reading {}: {error}", path.display()));
    s3.put_object()
        .bucket(ASSETS_BUCKET)
        .key(key)
        .body(body)
        .send()
        .await
        .unwrap_or_else(|error| panic!("uploading {key}: {error:?}"));
}

/// Waits for `stack` to finish being created; fails with every resource that failed.
async fn settled(cloudformation: &aws_sdk_cloudformation::Client, stack: &str) -> aws_sdk_cloudformation::types::Stack {
    for _ in 0..600 {
        let described = cloudformation.describe_stacks().stack_name(stack).send().await.expect("describing the stack");
        let found = described.stacks().first().expect("the stack").clone();
        match found.stack_status() {
            Some(StackStatus::CreateComplete) => return found,
            Some(StackStatus::CreateInProgress) | None => tokio::time::sleep(Duration::from_millis(200)).await,
            Some(status) => {
                let events = cloudformation.describe_stack_events().stack_name(stack).send().await.expect("the events");
                let failed: Vec<String> = events
                    .stack_events()
                    .iter()
                    .filter(|event| event.resource_status().is_some_and(|s| s.as_str().contains("FAILED")))
                    .map(|event| {
                        format!(
                            "{:?} {:?}: {:?}",
                            event.logical_resource_id(),
                            event.resource_type(),
                            event.resource_status_reason()
                        )
                    })
                    .collect();
                panic!("{stack} is {status:?}: {:?}\n{}", found.stack_status_reason(), failed.join("\n"));
            }
        }
    }
    panic!("{stack} was still being created after two minutes");
}
