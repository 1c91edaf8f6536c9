//! The pipeline end to end on ministack, deployed as on AWS: our Lambda zips, the state machine
//! file, DynamoDB, S3, SES and an HTTP API with a JWT authorizer, driven over HTTP through the
//! emulated API Gateway. Each test deploys a stack of its own (see `stack.rs`).
//!
//! The tests are `#[ignore]`d: they need ministack and the zips, which `scripts/aws-e2e.sh`
//! provides (`MINISTACK_URL`, `LAMBDA_ZIPS`) before running them with `--ignored`.

mod cdk;
mod identity;
mod partition;
mod stack;

use orderflow_workers::Task;
use reqwest::Method;

use identity::Issuer;
use partition::Partition;
use stack::{SENDER, Stack, WEBHOOK_SECRET, order_for};

const ADA: &str = "cus_ada";

/// The stages whose emails `recipient` received from the stack's sender, by the subjects' words.
async fn subjects_to(stack: &Stack, recipient: &str) -> Vec<String> {
    let mut subjects: Vec<String> = stack
        .emails_to(recipient)
        .await
        .iter()
        .filter(|message| message.to_string().contains(SENDER))
        .map(|message| message["Subject"].as_str().unwrap_or_default().to_owned())
        .collect();
    subjects.sort();
    subjects
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs ministack and the Lambda zips: scripts/aws-e2e.sh"]
async fn an_order_placed_through_the_gateway_is_charged_invoiced_shipped_and_emailed() {
    let issuer = Issuer::start().await;
    let stack = Stack::deploy(&issuer).await;
    let ada = issuer.customer(ADA);
    let mugs = stack.available("MUG-CLASSIC-WHT").await;

    let id = stack.place(&ada, &order_for(ADA, &stack.mailbox("ada"), "pm_card_visa")).await;
    let order = stack.settled(&ada, &id).await;

    assert_eq!(order["status"], "shipped", "{order:#}");
    assert!(order["shipment"]["trackingNumber"].as_str().is_some_and(|t| !t.is_empty()), "{order:#}");
    assert_eq!(order["payment"]["status"], "succeeded", "{order:#}");
    assert_eq!(stack.available("MUG-CLASSIC-WHT").await, mugs - 2);

    // DynamoDB: the order, its reservation and its invoice number in the order's partition.
    let items = stack.items(&format!("ORDER#{id}")).await;
    for sk in ["ORDER", "RESERVATION", "INVOICE"] {
        assert!(items.contains_key(sk), "no {sk} item for the order: {:?}", items.keys());
    }
    // S3: the invoice and the label, both PDFs, and the order's link to the invoice works.
    let documents = stack.documents().await;
    assert!(documents.len() >= 2, "{:?}", documents.keys());
    for (key, bytes) in &documents {
        assert!(bytes.starts_with(b"%PDF-"), "{key} is not a PDF");
    }
    let invoice_link = order["invoice"]["url"].as_str().expect("a link to the invoice");
    assert!(stack.follow(invoice_link).await.starts_with(b"%PDF-"));
    // SES: one email per stage, each claimed once in the table before it was sent.
    let subjects = subjects_to(&stack, &stack.mailbox("ada")).await;
    assert_eq!(subjects.len(), 4, "{subjects:?}");
    assert_eq!(stack.email_claims(&id).await.len(), 4);
    // Step Functions: the execution named after the order, through every forward state.
    let states = stack.states_entered(&id).await;
    let forward = [
        "PriceOrder",
        "ReserveStock",
        "NotifyConfirmed",
        "IssueInvoice",
        "NotifyInvoiced",
        "ChargePayment",
        "NotifyPaid",
        "ShipOrder",
        "NotifyShipped",
        "Shipped",
    ];
    assert_eq!(states, forward);
    // The operators' view of the execution, mapped from GetExecutionHistory; customers get 404.
    let path = format!("/api/v0/orders/{id}/execution");
    let execution = stack.call(Method::GET, &path, Some(&issuer.operator()), None).await;
    assert_eq!(execution.status, 200, "{execution:?}");
    assert_eq!(execution.body["execution"]["name"], id.as_str());
    assert_eq!(execution.body["execution"]["status"], "SUCCEEDED");
    let entered: Vec<&str> = execution.body["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|event| event["type"] == "TaskStateEntered")
        .filter_map(|event| event["stateName"].as_str())
        .collect();
    assert_eq!(entered, forward[..forward.len() - 1]);
    assert_eq!(stack.call(Method::GET, &path, Some(&ada), None).await.status, 404);
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs ministack, the Lambda zips and cdk/node_modules: scripts/aws-e2e.sh"]
async fn the_cdk_app_deployed_through_cloudformation_ships_an_order_placed_through_its_api() {
    let issuer = Issuer::start().await;
    let stack = Stack::from_cdk(&issuer).await;
    let ada = issuer.customer(ADA);
    assert_eq!(
        stack.call(Method::GET, "/api/v0/orders", None, None).await.status,
        401,
        "the authorizer guards the API"
    );

    let id = stack.place(&ada, &order_for(ADA, &stack.mailbox("ada"), "pm_card_visa")).await;
    let order = stack.settled(&ada, &id).await;

    assert_eq!(order["status"], "shipped", "{order:#}");
    let documents = stack.documents().await;
    assert!(documents.keys().any(|key| key.starts_with("invoices/")), "no invoice in S3: {:?}", documents.keys());
    assert!(documents.keys().any(|key| key.starts_with("labels/")), "no label in S3: {:?}", documents.keys());
    assert!(documents.values().all(|pdf| pdf.starts_with(b"%PDF-")));
    assert_eq!(subjects_to(&stack, &stack.mailbox("ada")).await.len(), 4, "an email per stage from the stack's sender");
    let states = stack.states_entered(&id).await;
    assert_eq!(states.first().map(String::as_str), Some("PriceOrder"));
    assert_eq!(states.last().map(String::as_str), Some("Shipped"), "{states:?}");
    // The operators' trace link names the execution in the console, by the order's id.
    let traced = stack.call(Method::GET, &format!("/api/v0/orders/{id}"), Some(&issuer.operator()), None).await;
    assert!(traced.body["trace"].as_str().is_some_and(|link| link.ends_with(&id)), "{:?}", traced.body);
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs ministack and the Lambda zips: scripts/aws-e2e.sh"]
async fn the_gateway_refuses_callers_without_a_token_and_hides_orders_from_other_customers() {
    let issuer = Issuer::start().await;
    let stack = Stack::deploy(&issuer).await;
    let ada = issuer.customer(ADA);
    let id = stack.place(&ada, &order_for(ADA, &stack.mailbox("ada"), "pm_card_visa")).await;
    let path = format!("/api/v0/orders/{id}");

    let anonymous = stack.call(Method::GET, &path, None, None).await;
    assert_eq!(anonymous.status, 401, "{anonymous:?}");

    let forged = format!("{}x", issuer.customer(ADA));
    assert_eq!(stack.call(Method::GET, &path, Some(&forged), None).await.status, 401);

    let grace = stack.call(Method::GET, &path, Some(&issuer.customer("cus_grace")), None).await;
    assert_eq!(grace.status, 404, "{grace:?}");
    assert!(grace.content_type.starts_with("application/problem+json"), "{grace:?}");
    let cancel = stack.call(Method::DELETE, &path, Some(&issuer.customer("cus_grace")), None).await;
    assert_eq!(cancel.status, 404, "{cancel:?}");

    let operator = stack.call(Method::GET, &path, Some(&issuer.operator()), None).await;
    assert_eq!(operator.status, 200, "{operator:?}");
    assert_eq!(operator.body["id"], id.as_str());
    let trace = operator.body["trace"].as_str().expect("operators are linked to the execution");
    assert!(trace.starts_with("https://us-east-1.console.aws.amazon.com/states/home"), "{trace}");
    assert!(trace.ends_with(&stack.execution_arn(&id)), "{trace}");
    let ada_reads = stack.call(Method::GET, &path, Some(&ada), None).await;
    assert!(ada_reads.body.get("trace").is_none(), "{ada_reads:?}");

    let mine = stack.call(Method::GET, "/api/v0/orders", Some(&ada), None).await;
    assert_eq!(mine.status, 200, "{mine:?}");
    assert_eq!(mine.body["orders"][0]["id"], id.as_str(), "{mine:?}");
    stack.settled(&ada, &id).await;
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs ministack and the Lambda zips: scripts/aws-e2e.sh"]
async fn a_declined_card_cancels_the_order_charges_nothing_and_puts_the_stock_back() {
    let issuer = Issuer::start().await;
    let stack = Stack::deploy(&issuer).await;
    let ada = issuer.customer(ADA);
    let mugs = stack.available("MUG-CLASSIC-WHT").await;

    let id = stack.place(&ada, &order_for(ADA, &stack.mailbox("ada"), "pm_card_chargeDeclinedInsufficientFunds")).await;
    let order = stack.settled(&ada, &id).await;

    assert_eq!(order["status"], "cancelled", "{order:#}");
    assert_eq!(order["cancellation"]["reason"], "payment_declined", "{order:#}");
    assert!(order.get("payment").is_none(), "a declined order records no payment: {order:#}");
    assert_eq!(order["invoice"]["voided"], true, "{order:#}");
    assert_eq!(stack.available("MUG-CLASSIC-WHT").await, mugs);
    assert_eq!(subjects_to(&stack, &stack.mailbox("ada")).await.len(), 3);
    let states = stack.states_entered(&id).await;
    for state in ["ChargePayment", "VoidInvoice", "ReleaseStock", "CancelOrder", "Cancelled"] {
        assert!(states.iter().any(|s| s == state), "{state} not entered: {states:?}");
    }
    assert!(!states.iter().any(|s| s == "NotifyRefunded" || s == "ShipOrder"), "{states:?}");
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs ministack and the Lambda zips: scripts/aws-e2e.sh"]
async fn an_undeliverable_address_refunds_the_charge_and_cancels_the_order() {
    let issuer = Issuer::start().await;
    let stack = Stack::deploy(&issuer).await;
    let ada = issuer.customer(ADA);
    let mugs = stack.available("MUG-CLASSIC-WHT").await;
    let mut body = order_for(ADA, &stack.mailbox("ada"), "pm_card_visa");
    body["shippingAddress"]["postalCode"] = "00000".into();

    let id = stack.place(&ada, &body).await;
    let order = stack.settled(&ada, &id).await;

    assert_eq!(order["status"], "cancelled", "{order:#}");
    assert_eq!(order["cancellation"]["reason"], "address_undeliverable", "{order:#}");
    assert_eq!(order["payment"]["status"], "refunded", "{order:#}");
    assert_eq!(order["invoice"]["voided"], true, "{order:#}");
    assert_eq!(stack.available("MUG-CLASSIC-WHT").await, mugs);
    // confirmed, invoiced, paid, refunded, cancelled
    assert_eq!(subjects_to(&stack, &stack.mailbox("ada")).await.len(), 5);
    // The credit note voiding the invoice is in S3 beside the invoice.
    let documents = stack.documents().await;
    assert!(documents.len() >= 2, "{:?}", documents.keys());
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs ministack and the Lambda zips: scripts/aws-e2e.sh"]
async fn a_customer_who_cancels_while_shipping_is_retried_gets_the_money_back() {
    let issuer = Issuer::start().await;
    // Shipping cannot reach AWS: each attempt fails as Transient and is retried, so the paid
    // order waits there.
    let partition = Partition::cut_from(&stack::setting("MINISTACK_URL")).await;
    let stack = Stack::deploy_with_partition(&issuer, Some((Task::ShipOrder, &partition))).await;
    let ada = issuer.customer(ADA);
    let mugs = stack.available("MUG-CLASSIC-WHT").await;

    let id = stack.place(&ada, &order_for(ADA, &stack.mailbox("ada"), "pm_card_visa")).await;
    stack.order_reaching(&ada, &id, &["paid"]).await;
    let cancel = stack.call(Method::DELETE, &format!("/api/v0/orders/{id}"), Some(&ada), None).await;
    assert_eq!(cancel.status, 202, "{cancel:?}");
    partition.heal();
    let order = stack.settled(&ada, &id).await;

    assert_eq!(order["status"], "cancelled", "{order:#}");
    assert_eq!(order["cancellation"]["reason"], "customer_request", "{:#?}", stack.task_failures(&id).await);
    assert_eq!(order["payment"]["status"], "refunded", "{order:#}");
    assert_eq!(order["invoice"]["voided"], true, "{order:#}");
    assert!(order.get("shipment").is_none(), "nothing was shipped: {order:#}");
    assert_eq!(stack.available("MUG-CLASSIC-WHT").await, mugs);
    let states = stack.states_entered(&id).await;
    assert!(states.iter().filter(|s| *s == "ShipOrder").count() == 1, "{states:?}");
    assert!(states.iter().any(|s| s == "RefundPayment"), "{states:?}");
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs ministack and the Lambda zips: scripts/aws-e2e.sh"]
async fn an_order_whose_workflow_could_not_start_is_started_by_the_sweeper() {
    let issuer = Issuer::start().await;
    let stack = Stack::deploy_without_workflow(&issuer).await;
    let ada = issuer.customer(ADA);

    let id = stack.place(&ada, &order_for(ADA, &stack.mailbox("ada"), "pm_card_visa")).await;
    let pending = stack.call(Method::GET, &format!("/api/v0/orders/{id}"), Some(&ada), None).await;
    assert_eq!(pending.body["status"], "pending", "{pending:?}");
    assert!(stack.items(&format!("ORDER#{id}")).await.contains_key("START"), "the start is kept in the outbox");

    stack.create_workflow().await;
    let swept = stack.sweep().await;
    assert_eq!(swept["outboxFailed"], false, "{swept}");
    let order = stack.settled(&ada, &id).await;

    assert_eq!(order["status"], "shipped", "{order:#}");
    let start = &stack.items(&format!("ORDER#{id}")).await["START"];
    assert!(start.contains_key("started_at") && !start.contains_key("pending"), "the start is marked done: {start:?}");
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs ministack and the Lambda zips: scripts/aws-e2e.sh"]
async fn a_failed_refund_stripe_reports_through_the_gateway_is_noted_on_the_order() {
    let issuer = Issuer::start().await;
    let stack = Stack::deploy(&issuer).await;
    let ada = issuer.customer(ADA);
    let id = stack.place(&ada, &order_for(ADA, &stack.mailbox("ada"), "pm_card_visa")).await;
    stack.settled(&ada, &id).await;
    let event = serde_json::json!({
        "id": "evt_e2e_refund", "object": "event", "type": "refund.failed",
        "data": {"object": {"id": "re_e2e", "object": "refund", "status": "failed",
                            "failure_reason": "expired_or_canceled_card", "metadata": {"order_id": id}}}
    });

    // Signed with the secret the API function read from Secrets Manager; no token needed.
    assert_eq!(stack.deliver_stripe_event(&event, WEBHOOK_SECRET).await, 200);
    assert_eq!(stack.deliver_stripe_event(&event, "whsec_forged").await, 400);

    let order = stack.call(Method::GET, &format!("/api/v0/orders/{id}"), Some(&ada), None).await;
    let noted: Vec<&str> = order.body["history"]
        .as_array()
        .expect("a history")
        .iter()
        .filter_map(|entry| entry["detail"].as_str())
        .filter(|detail| detail.contains("re_e2e failed"))
        .collect();
    assert_eq!(noted.len(), 1, "{order:?}");
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs ministack, localstripe and the Lambda zips: scripts/aws-e2e.sh"]
async fn workers_charge_through_stripe_with_the_key_from_secrets_manager() {
    let localstripe = stack::setting("LOCALSTRIPE_URL");
    let key = "sk_test_orderflow_e2e";
    let issuer = Issuer::start().await;
    let stack = Stack::deploy_paying_through(&issuer, &localstripe, key).await;
    let fake_stripe = orderflow_adapters_stripe::localstripe::LocalStripe::new(&localstripe, key);
    let (customer, cards) = fake_stripe.customer_with_cards(&["4242424242424242"]).await;
    let card = &cards[0];
    let token = issuer.customer(&customer);

    let id = stack.place(&token, &order_for(&customer, &stack.mailbox("ada"), card)).await;
    let order = stack.settled(&token, &id).await;

    assert_eq!(order["status"], "shipped", "{order:#}");
    let reference = order["payment"]["reference"].as_str().expect("a PaymentIntent");
    let intent = fake_stripe.get(&format!("/v1/payment_intents/{reference}")).await;
    assert_eq!(intent["status"], "succeeded");
    assert_eq!(intent["metadata"]["order_id"], id.as_str());
    assert_eq!(intent["amount"], order["pricing"]["total"]);
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs ministack and the Lambda zips: scripts/aws-e2e.sh"]
async fn workers_ship_through_easypost_with_the_key_from_secrets_manager_and_the_label_is_kept_in_s3() {
    use orderflow_adapters_easypost::fake::{FakeEasyPost, KEY, LABEL_PDF};
    let easypost = FakeEasyPost::start().await;
    easypost.without_rates_from("DHLExpress");
    let issuer = Issuer::start().await;
    let stack = Stack::deploy_shipping_through(&issuer, &easypost.uri(), KEY).await;
    let ada = issuer.customer(ADA);

    let id = stack.place(&ada, &order_for(ADA, &stack.mailbox("ada"), "pm_card_visa")).await;
    let order = stack.settled(&ada, &id).await;

    assert_eq!(order["status"], "shipped", "{order:#}");
    assert_eq!(order["shipment"]["carrier"], "FedEx", "DHL had no rate: the fallback bought FedEx's");
    assert_eq!(order["shipment"]["service"], "FEDEX_GROUND");
    assert_eq!(easypost.labels_sold(), 1);
    let label =
        stack.documents().await.into_iter().find(|(key, _)| key.starts_with("labels/")).expect("the label in S3");
    assert_eq!(label.1, LABEL_PDF, "the label EasyPost sold, copied into our bucket");
}
