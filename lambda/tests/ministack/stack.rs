//! One deployment of the pipeline on ministack, made with the same calls a deployment makes on
//! AWS: the table (with its stock), the documents bucket, the sender's SES identity, one Lambda
//! function per saga task from the worker zip, the sweeper, the API function behind an HTTP API
//! (payload 2.0) with a JWT authorizer on a named stage, and the state machine from
//! `state-machines/order.asl.json` with every `${...FunctionArn}` substituted.
//!
//! Every stack has names of its own, so tests run side by side on one emulator.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_config::{BehaviorVersion, Region};
use aws_sdk_apigatewayv2::types::{AuthorizationType, AuthorizerType, IntegrationType, JwtConfiguration, ProtocolType};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{Environment, FunctionCode, Runtime};
use aws_sdk_sfn::types::{ExecutionStatus, HistoryEvent, StateMachineType};
use orderflow_adapters_aws::{Clients, DynamoInventory, Table, table};
use orderflow_domain::catalog::Catalog;
use orderflow_workers::Task;
use serde_json::{Value, json};

use crate::identity::{AUDIENCE, Issuer};
use crate::partition::Partition;

/// The sender of every email: an SES identity each stack verifies.
pub const SENDER: &str = "orders@shop.example";
/// The signing secret of the stack's Stripe webhook endpoint, kept in Secrets Manager.
pub const WEBHOOK_SECRET: &str = "whsec_e2e_signing_secret";
/// The warehouse parcels leave from, when the workers ship through EasyPost.
const WAREHOUSE: &str = r#"{"name":"Orderflow Warehouse","line1":"1 Dock Road","city":"Portland","region":"OR","postalCode":"97214","country":"US"}"#;
/// The stage the API is deployed to: its name prefixes every path, as on AWS.
const STAGE: &str = "live";
const ROLE: &str = "arn:aws:iam::000000000000:role/orderflow-e2e";

/// How a stack differs from the plain one.
#[derive(Default)]
struct Options<'a> {
    /// A task whose function reaches AWS through a partition.
    partition: Option<(Task, &'a Partition)>,
    /// The workers charge through Stripe at this base, with this key, instead of the simulator.
    stripe: Option<(&'a str, &'a str)>,
    /// The workers buy labels from EasyPost at this base, with this key, instead of the simulator.
    easypost: Option<(&'a str, &'a str)>,
}

pub struct Stack {
    pub name: String,
    pub clients: Clients,
    lambda: aws_sdk_lambda::Client,
    pub endpoint: String,
    /// The API's base URL: ministack's execute-api route to the stage.
    pub api: String,
    pub table: String,
    pub bucket: String,
    pub machine_arn: String,
    functions: BTreeMap<&'static str, String>,
    sweeper: String,
    /// Where the simulated payment and carrier partners keep their ledgers, shared by the
    /// stack's functions as a partner's own records would be.
    _simulators: tempfile::TempDir,
    http: reqwest::Client,
}

/// Where `scripts/aws-e2e.sh` started ministack and put the zips.
pub fn setting(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: run these tests with scripts/aws-e2e.sh"))
}

fn zip(name: &str) -> Blob {
    let path = format!("{}/{name}/bootstrap.zip", setting("LAMBDA_ZIPS"));
    Blob::new(std::fs::read(&path).unwrap_or_else(|error| panic!("reading {path}: {error}")))
}

impl Stack {
    /// A whole stack, workflow included.
    pub async fn deploy(issuer: &Issuer) -> Self {
        Self::deploy_with(issuer, Options::default()).await
    }

    /// A whole stack in which `task`'s function reaches AWS through `partition`.
    pub async fn deploy_with_partition(issuer: &Issuer, partition: Option<(Task, &Partition)>) -> Self {
        Self::deploy_with(issuer, Options { partition, ..Options::default() }).await
    }

    /// A whole stack whose workers charge through the Stripe at `api_base`, with the key `key`
    /// kept in Secrets Manager.
    pub async fn deploy_paying_through(issuer: &Issuer, api_base: &str, key: &str) -> Self {
        Self::deploy_with(issuer, Options { stripe: Some((api_base, key)), ..Options::default() }).await
    }

    async fn deploy_with(issuer: &Issuer, options: Options<'_>) -> Self {
        let stack = Self::create(issuer, options).await;
        stack.create_workflow().await;
        stack
    }

    /// Everything but the state machine: the API's `StartExecution` fails until
    /// [`Stack::create_workflow`], as when Step Functions is unreachable.
    pub async fn deploy_without_workflow(issuer: &Issuer) -> Self {
        Self::create(issuer, Options::default()).await
    }

    /// A whole stack whose workers ship through EasyPost at `api_base` with `key`, kept in
    /// Secrets Manager.
    pub async fn deploy_shipping_through(issuer: &Issuer, api_base: &str, key: &str) -> Self {
        Self::deploy_with(issuer, Options { easypost: Some((api_base, key)), ..Options::default() }).await
    }

    async fn create(issuer: &Issuer, Options { partition, stripe, easypost }: Options<'_>) -> Self {
        let (endpoint, config) = ministack().await;
        let name = format!("e2e{}", ulid::Ulid::generate().to_string().to_ascii_lowercase());
        let clients = Clients::new(&config, true);
        let lambda = aws_sdk_lambda::Client::new(&config);
        let gateway = aws_sdk_apigatewayv2::Client::new(&config);

        let table_name = format!("{name}-orders");
        table::create(&clients.dynamodb, &table_name).await.expect("creating the table");
        let catalog = Catalog::from_json(include_str!("../../../data/catalog.json")).expect("the catalog");
        DynamoInventory::new(Table::new(clients.dynamodb.clone(), &table_name))
            .seed(&catalog)
            .await
            .expect("stocking the catalog");
        let bucket = format!("{name}-documents");
        clients.s3.create_bucket().bucket(&bucket).send().await.expect("creating the bucket");
        clients.ses.create_email_identity().email_identity(SENDER).send().await.expect("verifying the sender");

        let simulators = tempfile::tempdir().expect("a directory for the simulated partners");
        let machine_arn = format!("arn:aws:states:us-east-1:000000000000:stateMachine:{name}-order");
        let common = [
            ("TABLE_NAME", table_name.clone()),
            ("DOCUMENTS_BUCKET", bucket.clone()),
            ("S3_FORCE_PATH_STYLE", "true".to_owned()),
            ("RUST_LOG", "info".to_owned()),
        ];
        let with = |extra: &[(&str, String)]| -> Environment {
            let variables = common.iter().chain(extra).map(|(k, v)| ((*k).to_owned(), v.clone())).collect();
            Environment::builder().set_variables(Some(variables)).build()
        };

        let secrets = aws_sdk_secretsmanager::Client::new(&config);
        let payments = match stripe {
            None => vec![("PAYMENTS", "simulator".to_owned())],
            Some((api_base, key)) => vec![
                ("PAYMENTS", "stripe".to_owned()),
                ("STRIPE_API_BASE", api_base.to_owned()),
                ("STRIPE_SECRET_ARN", keep_secret(&secrets, &format!("{name}/stripe"), key).await),
            ],
        };
        let carrier = match easypost {
            None => vec![("CARRIER", "simulator".to_owned())],
            Some((api_base, key)) => vec![
                ("CARRIER", "easypost".to_owned()),
                ("EASYPOST_API_BASE", api_base.to_owned()),
                ("EASYPOST_SECRET_ARN", keep_secret(&secrets, &format!("{name}/easypost"), key).await),
                ("SHIPPING_CARRIERS", "DHLExpress, FedEx:FEDEX_GROUND".to_owned()),
                ("SHIP_FROM", WAREHOUSE.to_owned()),
            ],
        };
        let worker_zip = zip("worker");
        let mut functions = BTreeMap::new();
        for task in Task::ALL {
            let reaches_aws = match partition {
                Some((partitioned, partition)) if partitioned == task => partition.url.clone(),
                _ => endpoint.clone(),
            };
            let mut settings = vec![
                ("AWS_ENDPOINT_URL", reaches_aws),
                ("TASK", task.name().to_owned()),
                ("MAIL_SENDER", SENDER.to_owned()),
                ("SIMULATOR_DIR", simulators.path().display().to_string()),
            ];
            settings.extend(payments.iter().cloned());
            settings.extend(carrier.iter().cloned());
            let environment = with(&settings);
            let function = format!("{name}-{}", task.name());
            create_function(&lambda, &function, worker_zip.clone(), environment).await;
            functions.insert(task.name(), function);
        }
        let starts_workflows = [("AWS_ENDPOINT_URL", endpoint.clone()), ("STATE_MACHINE_ARN", machine_arn.clone())];
        let sweeper = format!("{name}-sweeper");
        create_function(&lambda, &sweeper, zip("sweeper"), with(&starts_workflows)).await;
        let webhook_secret = keep_secret(&secrets, &format!("{name}/stripe-webhook"), WEBHOOK_SECRET).await;
        let mut api_settings = starts_workflows.to_vec();
        api_settings.push(("STRIPE_WEBHOOK_SECRET_ARN", webhook_secret));
        let api_arn = create_function(&lambda, &format!("{name}-api"), zip("api"), with(&api_settings)).await;

        let api = gateway
            .create_api()
            .name(format!("{name}-api"))
            .protocol_type(ProtocolType::Http)
            .send()
            .await
            .expect("creating the HTTP API");
        let api_id = api.api_id().expect("an API id").to_owned();
        let authorizer = gateway
            .create_authorizer()
            .api_id(&api_id)
            .name("customers")
            .authorizer_type(AuthorizerType::Jwt)
            .identity_source("$request.header.Authorization")
            .jwt_configuration(JwtConfiguration::builder().issuer(&issuer.url).audience(AUDIENCE).build())
            .send()
            .await
            .expect("creating the JWT authorizer");
        let integration = gateway
            .create_integration()
            .api_id(&api_id)
            .integration_type(IntegrationType::AwsProxy)
            .integration_uri(&api_arn)
            .payload_format_version("2.0")
            .send()
            .await
            .expect("integrating the API function");
        gateway
            .create_route()
            .api_id(&api_id)
            .route_key("ANY /{proxy+}")
            .target(format!("integrations/{}", integration.integration_id().expect("an integration id")))
            .authorization_type(AuthorizationType::Jwt)
            .authorizer_id(authorizer.authorizer_id().expect("an authorizer id"))
            .send()
            .await
            .expect("routing every path through the authorizer");
        // Stripe signs its deliveries instead: that one route has no authorizer.
        gateway
            .create_route()
            .api_id(&api_id)
            .route_key("POST /webhooks/stripe")
            .target(format!("integrations/{}", integration.integration_id().expect("an integration id")))
            .authorization_type(AuthorizationType::None)
            .send()
            .await
            .expect("routing Stripe's deliveries");
        gateway
            .create_stage()
            .api_id(&api_id)
            .stage_name(STAGE)
            .auto_deploy(true)
            .send()
            .await
            .expect("deploying a stage");

        Self {
            api: format!("{endpoint}/_aws/execute-api/{api_id}/{STAGE}"),
            clients,
            lambda,
            endpoint,
            table: table_name,
            bucket,
            machine_arn,
            functions,
            sweeper,
            name,
            _simulators: simulators,
            http: reqwest::Client::builder().timeout(Duration::from_secs(60)).build().expect("an HTTP client"),
        }
    }

    /// The stacks of the CDK app (`cdk/`), synthesized for this emulator and created through
    /// CloudFormation, with the catalog's stock put in the table it made.
    pub async fn from_cdk(issuer: &Issuer) -> Self {
        let (endpoint, config) = ministack().await;
        let clients = Clients::new(&config, true);
        let simulators = tempfile::tempdir().expect("a directory for the simulated partners");
        let assembly = crate::cdk::synth(issuer, &endpoint, simulators.path());
        let deployed = crate::cdk::deploy(&config, &clients.s3, assembly.path(), &endpoint).await;
        let catalog = Catalog::from_json(include_str!("../../../data/catalog.json")).expect("the catalog");
        DynamoInventory::new(Table::new(clients.dynamodb.clone(), &deployed.table))
            .seed(&catalog)
            .await
            .expect("stocking the catalog");
        let name = "orderflow-emulator".to_owned();
        Self {
            api: format!("{endpoint}/_aws/execute-api/{}/{STAGE}", deployed.api_id),
            lambda: aws_sdk_lambda::Client::new(&config),
            clients,
            endpoint,
            table: deployed.table,
            bucket: deployed.bucket,
            machine_arn: deployed.machine_arn,
            functions: Task::ALL.into_iter().map(|task| (task.name(), format!("{name}-{}", task.name()))).collect(),
            sweeper: format!("{name}-Sweeper"),
            name,
            _simulators: simulators,
            http: reqwest::Client::builder().timeout(Duration::from_secs(60)).build().expect("an HTTP client"),
        }
    }

    /// The order workflow from the repository's state machine file, each task state calling its
    /// function.
    pub async fn create_workflow(&self) {
        let mut definition =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../state-machines/order.asl.json"))
                .expect("reading the state machine");
        for (task, function) in &self.functions {
            let arn = format!("arn:aws:lambda:us-east-1:000000000000:function:{function}");
            definition = definition.replace(&format!("${{{task}FunctionArn}}"), &arn);
        }
        assert!(!definition.contains("${"), "a substitution is missing: {definition}");
        let created = self
            .clients
            .sfn
            .create_state_machine()
            .name(format!("{}-order", self.name))
            .definition(definition)
            .role_arn(ROLE)
            .r#type(StateMachineType::Standard)
            .send()
            .await
            .expect("creating the state machine");
        assert_eq!(created.state_machine_arn(), self.machine_arn);
    }

    /// Runs the sweeper once, as its schedule would; its answer.
    pub async fn sweep(&self) -> Value {
        let invoked = self.lambda.invoke().function_name(&self.sweeper).send().await.expect("invoking the sweeper");
        assert_eq!(invoked.function_error(), None, "the sweeper failed: {invoked:?}");
        serde_json::from_slice(invoked.payload().expect("the sweeper answers").as_ref()).expect("a JSON answer")
    }

    /// Delivers `event` to the stack's Stripe webhook, signed with `secret`; the answer's status.
    pub async fn deliver_stripe_event(&self, event: &Value, secret: &str) -> u16 {
        use hmac::{Hmac, KeyInit, Mac};
        let body = event.to_string();
        let at = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("after 1970").as_secs();
        let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).expect("any key length");
        mac.update(format!("{at}.{body}").as_bytes());
        let signature = format!("t={at},v1={}", hex::encode(mac.finalize().into_bytes()));
        let response = self
            .http
            .post(format!("{}/webhooks/stripe", self.api))
            .header("content-type", "application/json")
            .header("stripe-signature", signature)
            .body(body)
            .send()
            .await
            .expect("the gateway answers");
        response.status().as_u16()
    }

    /// `method path` on the API, as the holder of `token` (none: anonymous); status and body.
    pub async fn call(&self, method: reqwest::Method, path: &str, token: Option<&str>, body: Option<&Value>) -> Answer {
        let mut request = self.http.request(method, format!("{}{path}", self.api));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.header("Idempotency-Key", ulid::Ulid::generate().to_string()).json(body);
        }
        let response = request.send().await.expect("the API answers");
        let status = response.status().as_u16();
        let content_type =
            response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        let text = response.text().await.expect("a body");
        Answer { status, content_type, body: serde_json::from_str(&text).unwrap_or(Value::String(text)) }
    }

    /// Places `body` as `token`'s holder; the accepted order's id.
    pub async fn place(&self, token: &str, body: &Value) -> String {
        let answer = self.call(reqwest::Method::POST, "/api/v0/orders", Some(token), Some(body)).await;
        assert_eq!(answer.status, 202, "placing an order: {answer:?}");
        answer.body["id"].as_str().expect("an order id").to_owned()
    }

    /// The order once its status is `status`, read through the API as `token`'s holder.
    pub async fn order_reaching(&self, token: &str, id: &str, status: &[&str]) -> Value {
        let mut last = Value::Null;
        for _ in 0..600 {
            let answer = self.call(reqwest::Method::GET, &format!("/api/v0/orders/{id}"), Some(token), None).await;
            assert_eq!(answer.status, 200, "reading an order: {answer:?}");
            if status.iter().any(|s| answer.body["status"] == *s) {
                return answer.body;
            }
            last = answer.body;
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!("order {id} never reached {status:?}; last seen: {last:#}");
    }

    /// The order once its workflow has ended: `shipped` or `cancelled`.
    pub async fn settled(&self, token: &str, id: &str) -> Value {
        let order = self.order_reaching(token, id, &["shipped", "cancelled"]).await;
        self.execution_ended(id).await;
        order
    }

    /// Waits for the execution named after `id` to end; its status.
    pub async fn execution_ended(&self, id: &str) -> ExecutionStatus {
        let arn = self.execution_arn(id);
        for _ in 0..600 {
            let described = self.clients.sfn.describe_execution().execution_arn(&arn).send().await;
            if let Ok(described) = described
                && described.status() != &ExecutionStatus::Running
            {
                return described.status().clone();
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!("the execution of {id} never ended");
    }

    pub fn execution_arn(&self, id: &str) -> String {
        self.machine_arn.replace(":stateMachine:", ":execution:") + ":" + id
    }

    /// The states the execution of `id` entered, in order, from `GetExecutionHistory`.
    pub async fn states_entered(&self, id: &str) -> Vec<String> {
        self.history(id)
            .await
            .iter()
            .filter_map(|event| event.state_entered_event_details())
            .map(|details| details.name().to_owned())
            .collect()
    }

    /// The errors the tasks of `id`'s execution failed with, and their causes, in order.
    pub async fn task_failures(&self, id: &str) -> Vec<String> {
        self.history(id)
            .await
            .iter()
            .filter_map(|event| {
                let (error, cause) =
                    match (event.lambda_function_failed_event_details(), event.task_failed_event_details()) {
                        (Some(failed), _) => (failed.error(), failed.cause()),
                        (None, Some(failed)) => (failed.error(), failed.cause()),
                        (None, None) => return None,
                    };
                Some(format!("{}: {}", error.unwrap_or_default(), cause.unwrap_or_default()))
            })
            .collect()
    }

    async fn history(&self, id: &str) -> Vec<HistoryEvent> {
        let mut events: Vec<HistoryEvent> = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .clients
                .sfn
                .get_execution_history()
                .execution_arn(self.execution_arn(id))
                .set_next_token(token)
                .send()
                .await
                .expect("reading an execution's history");
            events.extend(page.events().iter().cloned());
            token = page.next_token().map(str::to_owned);
            if token.is_none() {
                break;
            }
        }
        events
    }

    /// The table's items in the partition of `pk`, by sort key.
    pub async fn items(&self, pk: &str) -> BTreeMap<String, BTreeMap<String, AttributeValue>> {
        let found = self
            .clients
            .dynamodb
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", AttributeValue::S(pk.to_owned()))
            .send()
            .await
            .expect("querying the table");
        found
            .items()
            .iter()
            .map(|item| {
                let sk = item["sk"].as_s().expect("a string sort key").clone();
                (sk, item.clone().into_iter().collect())
            })
            .collect()
    }

    /// The email claims of `order`: the stages the saga sent, each claimed once before sending.
    pub async fn email_claims(&self, order: &str) -> Vec<String> {
        let found = self
            .clients
            .dynamodb
            .scan()
            .table_name(&self.table)
            .filter_expression("begins_with(pk, :prefix)")
            .expression_attribute_values(":prefix", AttributeValue::S(format!("EMAIL#{order}")))
            .send()
            .await
            .expect("scanning the email claims");
        let mut claims: Vec<String> =
            found.items().iter().map(|item| item["pk"].as_s().expect("a string key").clone()).collect();
        claims.sort();
        claims
    }

    /// The units of `sku` available to order.
    pub async fn available(&self, sku: &str) -> u64 {
        let found = self
            .clients
            .dynamodb
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S("STOCK".to_owned()))
            .key("sk", AttributeValue::S(sku.to_owned()))
            .send()
            .await
            .expect("reading a stock level");
        let item = found.item().expect("the SKU is stocked");
        item["available"].as_n().expect("a number").parse().expect("a count")
    }

    /// The keys and bytes of the documents bucket's objects.
    pub async fn documents(&self) -> BTreeMap<String, Vec<u8>> {
        let listed =
            self.clients.s3.list_objects_v2().bucket(&self.bucket).send().await.expect("listing the documents");
        let mut documents = BTreeMap::new();
        for object in listed.contents() {
            let key = object.key().expect("an object key").to_owned();
            let body = self.clients.s3.get_object().bucket(&self.bucket).key(&key).send().await.expect("an object");
            documents.insert(key, body.body.collect().await.expect("its bytes").to_vec());
        }
        documents
    }

    /// An email address of this stack's own, so its messages are told apart from other stacks'.
    pub fn mailbox(&self, person: &str) -> String {
        format!("{person}.{}@example.com", self.name)
    }

    /// The messages ministack's SES sent to `recipient`.
    pub async fn emails_to(&self, recipient: &str) -> Vec<Value> {
        let read_back: Value = self
            .http
            .get(format!("{}/_ministack/ses/messages", self.endpoint))
            .send()
            .await
            .expect("reading SES's messages")
            .json()
            .await
            .expect("SES's messages are JSON");
        let accounts = read_back["messages"].as_object().cloned().unwrap_or_default();
        accounts
            .values()
            .flat_map(|messages| messages.as_array().cloned().unwrap_or_default())
            .filter(|message| message.to_string().contains(recipient))
            .collect()
    }

    /// Follows a presigned link; the bytes it leads to.
    pub async fn follow(&self, link: &str) -> Vec<u8> {
        let response = self.http.get(link).send().await.expect("following a link");
        assert!(response.status().is_success(), "a link that does not work: {link} → {}", response.status());
        response.bytes().await.expect("its bytes").to_vec()
    }
}

/// Where ministack is, and the SDK's configuration for it.
async fn ministack() -> (String, aws_config::SdkConfig) {
    let endpoint = setting("MINISTACK_URL");
    let config = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(&endpoint)
        .credentials_provider(aws_sdk_lambda::config::Credentials::new("test", "test", None, None, "ministack"))
        .load()
        .await;
    (endpoint, config)
}

/// Keeps `value` in Secrets Manager as `name`; its ARN.
async fn keep_secret(secrets: &aws_sdk_secretsmanager::Client, name: &str, value: &str) -> String {
    let created = secrets
        .create_secret()
        .name(name)
        .secret_string(value)
        .send()
        .await
        .unwrap_or_else(|error| panic!("keeping the secret {name}: {error:?}"));
    created.arn().expect("a secret ARN").to_owned()
}

async fn create_function(lambda: &aws_sdk_lambda::Client, name: &str, code: Blob, environment: Environment) -> String {
    let created = lambda
        .create_function()
        .function_name(name)
        .runtime(Runtime::Providedal2023)
        .handler("bootstrap")
        .role(ROLE)
        .code(FunctionCode::builder().zip_file(code).build())
        .timeout(30)
        .memory_size(256)
        .environment(environment)
        .send()
        .await
        .unwrap_or_else(|error| panic!("creating function {name}: {error:?}"));
    created.function_arn().expect("a function ARN").to_owned()
}

/// The API's answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub body: Value,
}

/// An order of two mugs and a bag of beans for `customer`, paid with `payment_method`.
pub fn order_for(customer: &str, email: &str, payment_method: &str) -> Value {
    json!({
        "customer": { "id": customer, "email": email, "name": "Ada Lovelace" },
        "items": [{ "sku": "MUG-CLASSIC-WHT", "quantity": 2 }, { "sku": "BEANS-ETH-250", "quantity": 1 }],
        "shippingAddress": {
            "name": "Ada Lovelace", "line1": "12 Market Street", "city": "San Francisco",
            "region": "CA", "postalCode": "94103", "country": "US"
        },
        "paymentMethod": payment_method
    })
}
