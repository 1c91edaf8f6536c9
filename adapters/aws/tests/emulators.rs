//! Every port contract suite against the AWS adapters, on two emulators: `ministack` first,
//! `moto` as a second opinion. Each test makes its own table and bucket, so they run in parallel
//! on one emulator.
//!
//! The tests are `#[ignore]`d: a plain `cargo test` has no emulator, and starting Python
//! servers from inside a test binary would hide an install and two processes in a unit test run.
//! `scripts/aws-emulators.sh` installs the pinned emulators, starts them, runs these with
//! `--ignored`, and stops them. Run with `--ignored` but without the emulators, every test fails
//! (it never passes without having talked to one).

use std::time::Duration;

use aws_config::{BehaviorVersion, Region};
use aws_sdk_dynamodb::config::Credentials;
use orderflow_adapters_aws::{
    Clients, DynamoInventory, DynamoInvoiceNumbers, DynamoOrderStore, S3BlobStore, SesMailer, Table, table,
};
use orderflow_domain::ports::{BlobStore, OutgoingEmail};
use orderflow_port_contracts as contracts;
use orderflow_port_contracts::mailer::Sent;

/// The sender every test email is from.
const SENDER: &str = "orders@example.com";

/// An emulator these tests run on.
#[derive(Debug, Clone, Copy)]
enum Emulator {
    Ministack,
    Moto,
}

impl Emulator {
    /// Where the script started it: `MINISTACK_URL` / `MOTO_URL`.
    fn endpoint(self) -> String {
        let variable = match self {
            Self::Ministack => "MINISTACK_URL",
            Self::Moto => "MOTO_URL",
        };
        std::env::var(variable)
            .unwrap_or_else(|_| panic!("{variable} is not set: run these tests with scripts/aws-emulators.sh"))
    }

    /// Clients for this emulator, with the fake credentials emulators take.
    async fn clients(self) -> Clients {
        let config = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(self.endpoint())
            .credentials_provider(Credentials::new("test", "test", None, None, "emulator"))
            .load()
            .await;
        Clients::new(&config, true)
    }
}

/// A name no other test uses, valid for a table and a bucket.
fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", ulid::Ulid::generate().to_string().to_ascii_lowercase())
}

async fn fresh_table(emulator: Emulator) -> Table {
    let clients = emulator.clients().await;
    let name = unique("orders");
    table::create(&clients.dynamodb, &name).await.expect("creating a table");
    Table::new(clients.dynamodb, name)
}

async fn order_store(emulator: Emulator) -> DynamoOrderStore {
    DynamoOrderStore::new(fresh_table(emulator).await)
}

async fn inventory(emulator: Emulator) -> DynamoInventory {
    let inventory = DynamoInventory::new(fresh_table(emulator).await);
    inventory.seed(&contracts::fixtures::catalog()).await.expect("seeding the stock");
    inventory
}

async fn invoice_numbers(emulator: Emulator) -> DynamoInvoiceNumbers {
    DynamoInvoiceNumbers::new(fresh_table(emulator).await)
}

async fn blob_store(emulator: Emulator) -> S3BlobStore {
    let clients = emulator.clients().await;
    let bucket = unique("documents");
    clients.s3.create_bucket().bucket(&bucket).send().await.expect("creating a bucket");
    S3BlobStore::new(clients.s3, bucket)
}

async fn mailer(emulator: Emulator) -> SesMailer {
    let clients = emulator.clients().await;
    // Both emulators refuse mail from an unknown identity, as SES does; creating it again is harmless.
    let _ = clients.ses.create_email_identity().email_identity(SENDER).send().await;
    SesMailer::new(clients.ses, fresh_table(emulator).await)
}

/// What ministack shows of a sent message: its subject and text body, not its bytes.
#[derive(Debug)]
struct Shown {
    subject: String,
    text: String,
}

impl Sent for Shown {
    fn is(&self, email: &OutgoingEmail) -> bool {
        let Some(message) = mail_parser::MessageParser::default().parse(&email.message) else { return false };
        message.subject() == Some(self.subject.as_str())
            && message.body_text(0).is_some_and(|text| text.trim_end() == self.text.trim_end())
    }
}

/// What an emulator's SES read-back holds.
async fn read_back(emulator: Emulator) -> serde_json::Value {
    let path = match emulator {
        Emulator::Ministack => "/_ministack/ses/messages",
        Emulator::Moto => "/moto-api/data.json",
    };
    let response = reqwest::get(format!("{}{path}", emulator.endpoint())).await.expect("reading the SES read-back");
    response.error_for_status().expect("the SES read-back answers").json().await.expect("the read-back is JSON")
}

/// The messages ministack shows whose subject names `key`.
async fn shown_by_ministack(key: &str) -> Vec<Shown> {
    let messages = read_back(Emulator::Ministack).await;
    let accounts = messages["messages"].as_object().cloned().unwrap_or_default();
    let text = |message: &serde_json::Value, field: &str| message[field].as_str().unwrap_or_default().to_owned();
    accounts
        .values()
        .flat_map(|messages| messages.as_array().cloned().unwrap_or_default())
        .filter(|message| message["Subject"].as_str().is_some_and(|subject| subject.contains(key)))
        .map(|message| Shown { subject: text(&message, "Subject"), text: text(&message, "BodyText") })
        .collect()
}

/// The raw messages moto kept whose subject names `key`, byte for byte.
async fn kept_by_moto(key: &str) -> Vec<Vec<u8>> {
    let state = read_back(Emulator::Moto).await;
    let messages = state["ses"]["RawMessage"].as_array().cloned().unwrap_or_default();
    let subject = format!("({key})\r\n");
    messages
        .iter()
        .filter_map(|message| message["raw_data"].as_str())
        .filter(|raw| raw.contains(&subject))
        .map(|raw| raw.as_bytes().to_vec())
        .collect()
}

/// What following a presigned link gets: the object, or `None` when S3 refuses.
async fn follow(link: &str) -> Option<Vec<u8>> {
    let response = reqwest::get(link).await.expect("following a link");
    response.status().is_success().then_some(())?;
    Some(response.bytes().await.expect("reading the linked object").to_vec())
}

/// One `#[tokio::test]` per function of a suite on `$emulator`, each with a fresh adapter made
/// by `$fresh`, bound to `$adapter` for the suite's arguments.
macro_rules! contract_tests {
    ($suite:ident, $emulator:ident, fresh $fresh:ident, |$adapter:ident| $args:tt => $($name:ident),+ $(,)?) => {
        mod $suite {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[ignore = "needs the emulators: scripts/aws-emulators.sh"]
                async fn $name() {
                    let $adapter = $fresh(Emulator::$emulator).await;
                    contracts::$suite::$name $args.await;
                }
            )+
        }
    };
}

/// Every suite on one emulator, in a module named after it; `$sent_under` reads its SES back.
macro_rules! suites_on {
    ($module:ident, $emulator:ident, $sent_under:ident) => {
        mod $module {
            use super::*;

            contracts::suite!(order_store => contract_tests! { $emulator, fresh order_store, |store| (&store) });

            contracts::suite!(workflow_outbox => contract_tests! { $emulator, fresh order_store, |store| (&store, &store) });

            contracts::suite!(inventory => contract_tests! { $emulator, fresh inventory, |inventory| (&inventory) });

            contracts::suite!(invoice_numbers => contract_tests! { $emulator, fresh invoice_numbers, |numbers| (&numbers) });

            contracts::suite!(mailer => contract_tests! { $emulator, fresh mailer, |mailer| (&mailer, async |key: &str| $sent_under(key).await) });

            contracts::suite!(blobs => contract_tests! { $emulator, fresh blob_store, |store| (&store) });

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[ignore = "needs the emulators: scripts/aws-emulators.sh"]
            async fn a_presigned_link_leads_to_its_blob() {
                let store = blob_store(Emulator::$emulator).await;
                contracts::blobs::a_link_leads_to_its_blob(&store, async |link: &str| follow(link).await).await;
            }
        }
    };
}

suites_on!(ministack, Ministack, shown_by_ministack);
suites_on!(moto, Moto, kept_by_moto);

/// An idempotency key's record expires with the table's TTL, 30 days after its order was placed;
/// the order and its outbox entry never do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the emulators: scripts/aws-emulators.sh"]
async fn an_idempotency_keys_record_carries_its_expiry_and_the_order_none() {
    use aws_sdk_dynamodb::types::AttributeValue;
    use orderflow_adapters_aws::orders::{EXPIRES, IDEMPOTENCY_KEY_RETENTION};
    use orderflow_domain::ports::OrderStore;
    let client = Emulator::Ministack.clients().await.dynamodb;
    let name = unique("orders");
    table::create(&client, &name).await.expect("creating a table");
    let store = DynamoOrderStore::new(Table::new(client.clone(), &name));
    let request = contracts::fixtures::order_request(contracts::fixtures::customer(), "pm_card_visa");
    let placed = contracts::fixtures::placed_under(&contracts::fixtures::idempotency_key(), &request);
    let order = placed.order.clone();
    store.place(placed).await.expect("placing the order");

    let items = client.scan().table_name(&name).send().await.expect("scanning the table");
    let expiry = |item: &std::collections::HashMap<String, AttributeValue>| item.get(EXPIRES).cloned();
    let (records, others): (Vec<_>, Vec<_>) = items.items().iter().partition(|item| {
        item.get("sk").and_then(|sk| sk.as_s().ok()).is_some_and(|sk| sk.starts_with("IDEMPOTENCY#"))
    });
    assert_eq!(records.len(), 1);
    let expected = (order.created_at + IDEMPOTENCY_KEY_RETENTION).unix_timestamp().to_string();
    assert_eq!(expiry(records[0]), Some(AttributeValue::N(expected)));
    assert!(others.iter().all(|item| expiry(item).is_none()), "only the key's record expires");
}

/// S3 refuses a presigned link once it has expired. On ministack only: it checks the expiry as
/// S3 does, moto (5.2) serves an expired link.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the emulators: scripts/aws-emulators.sh"]
async fn a_presigned_link_stops_working_when_it_expires() {
    let store = blob_store(Emulator::Ministack).await;
    store.put("invoices/expiring.pdf", b"%PDF-1.7".to_vec(), "application/pdf").await.expect("putting a blob");
    // A presigned link's start is its X-Amz-Date, in whole seconds: a link for N seconds may have
    // up to a second less to live. Five seconds leave room for a loaded machine.
    let link = store.link("invoices/expiring.pdf", Duration::from_secs(5)).await.expect("presigning");
    assert!(follow(&link).await.is_some(), "the link works while it lasts");
    tokio::time::sleep(Duration::from_millis(6100)).await;
    assert_eq!(follow(&link).await, None, "and not after");
}

/// Step Functions on ministack: an order's workflow starts once however often it is started, and
/// its history reads back whole, with the nested details of each event. (moto's Step Functions
/// runs no states, so ministack only.)
mod step_functions {
    use aws_sdk_sfn::types::HistoryEventType;
    use orderflow_adapters_aws::StepFunctionsWorkflows;
    use orderflow_domain::order::OrderId;
    use orderflow_domain::ports::WorkflowStarter;

    use super::*;

    /// Two Pass states: enough for a history with entered and exited states and an output.
    const MACHINE: &str = r#"{
        "StartAt": "Price",
        "States": {
            "Price": { "Type": "Pass", "Result": { "total": 4200 }, "ResultPath": "$.price", "Next": "Done" },
            "Done": { "Type": "Pass", "End": true }
        }
    }"#;

    async fn workflows() -> StepFunctionsWorkflows {
        let clients = Emulator::Ministack.clients().await;
        let machine = clients
            .sfn
            .create_state_machine()
            .name(unique("order"))
            .definition(MACHINE)
            .role_arn("arn:aws:iam::000000000000:role/orderflow-workflow")
            .send()
            .await
            .expect("creating a state machine");
        StepFunctionsWorkflows::new(clients.sfn, machine.state_machine_arn())
    }

    /// The execution once it has ended, however long the emulator takes (a few seconds at most).
    async fn ended(
        workflows: &StepFunctionsWorkflows,
        order: &OrderId,
    ) -> orderflow_adapters_aws::workflows::RecordedExecution {
        for _ in 0..100 {
            let execution = workflows.execution(order).await.expect("reading the execution").expect("it exists");
            if execution.description.stop_date().is_some() {
                return execution;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the execution of {order} did not end");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "needs the emulators: scripts/aws-emulators.sh"]
    async fn an_order_started_twice_has_one_execution_named_after_it() {
        let workflows = workflows().await;
        let order = OrderId::from_ulid(ulid::Ulid::generate());
        workflows.start(&order).await.expect("starting");
        let first = ended(&workflows, &order).await;
        workflows.start(&order).await.expect("starting an order whose execution ended is success");

        let executions = Emulator::Ministack
            .clients()
            .await
            .sfn
            .list_executions()
            .state_machine_arn(workflows.machine_arn())
            .send()
            .await
            .expect("listing executions");
        let names: Vec<&str> =
            executions.executions().iter().map(aws_sdk_sfn::types::ExecutionListItem::name).collect();
        assert_eq!(names, [order.as_str()], "one execution, named after the order");
        assert_eq!(first.description.execution_arn(), workflows.execution_arn(&order));
        let input: serde_json::Value =
            serde_json::from_str(first.description.input().expect("an input")).expect("the input is JSON");
        assert_eq!(input, serde_json::json!({ "orderId": order.as_str() }));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "needs the emulators: scripts/aws-emulators.sh"]
    async fn an_executions_history_reads_back_with_each_events_details() {
        let workflows = workflows().await;
        let order = OrderId::from_ulid(ulid::Ulid::generate());
        workflows.start(&order).await.expect("starting");
        let execution = ended(&workflows, &order).await;

        assert_eq!(execution.description.status(), &aws_sdk_sfn::types::ExecutionStatus::Succeeded);
        let output: serde_json::Value =
            serde_json::from_str(execution.description.output().expect("an output")).expect("the output is JSON");
        assert_eq!(output["price"]["total"], 4200);

        let types: Vec<&HistoryEventType> =
            execution.events.iter().map(aws_sdk_sfn::types::HistoryEvent::r#type).collect();
        assert_eq!(types.first(), Some(&&HistoryEventType::ExecutionStarted));
        assert_eq!(types.last(), Some(&&HistoryEventType::ExecutionSucceeded));
        let entered: Vec<&str> = execution
            .events
            .iter()
            .filter_map(|event| event.state_entered_event_details())
            .map(aws_sdk_sfn::types::StateEnteredEventDetails::name)
            .collect();
        assert_eq!(entered, ["Price", "Done"]);
        let price_exited = execution
            .events
            .iter()
            .filter_map(|event| event.state_exited_event_details())
            .find(|details| details.name() == "Price")
            .expect("Price exited");
        let price_output: serde_json::Value =
            serde_json::from_str(price_exited.output().expect("an output")).expect("the output is JSON");
        assert_eq!(price_output["price"]["total"], 4200);
        let ids: Vec<i64> = execution.events.iter().map(aws_sdk_sfn::types::HistoryEvent::id).collect();
        assert!(ids.windows(2).all(|pair| pair[0] < pair[1]), "oldest first: {ids:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "needs the emulators: scripts/aws-emulators.sh"]
    async fn an_order_never_started_has_no_execution() {
        let workflows = workflows().await;
        let order = OrderId::from_ulid(ulid::Ulid::generate());
        assert!(workflows.execution(&order).await.expect("asking").is_none());
    }
}
