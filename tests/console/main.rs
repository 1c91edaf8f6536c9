//! The local console in a real browser: headless Chromium over WebDriver (Debian's `chromium`
//! and `chromium-driver`, which `scripts/test.sh` installs). Each test saves a screenshot in
//! `target/console-screenshots/`.
//!
//! What the page shows is checked against what the API says happened: the states entered
//! (from the execution's history), the retries, the failures, the emails sent.
//!
//! Ignored by a plain `cargo test`, which needs no browser; `scripts/test.sh` runs them with
//! `--ignored`.

#![allow(clippy::unwrap_used)]

mod browser;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use browser::{Browser, screenshot_dir};
use orderflow::faults::Faults;
use orderflow_tests::{TestApp, order_body};
use serde_json::{Value, json};

/// What the execution's history says about each state, worked out here independently of the
/// console: entered or not, retries, and whether it ended in a failure.
#[derive(Debug, Default)]
struct Expected {
    entered: BTreeSet<String>,
    retries: BTreeMap<String, u64>,
    failed: BTreeSet<String>,
    events: usize,
}

async fn expected_from_history(app: &TestApp, id: &str) -> Expected {
    let execution = app.execution(id).await;
    let events = execution["events"].as_array().expect("events");
    let mut expected = Expected { events: events.len(), ..Expected::default() };
    let mut failing = BTreeSet::new();
    let mut scheduled: BTreeMap<String, u64> = BTreeMap::new();
    let mut entries: BTreeMap<String, u64> = BTreeMap::new();
    for event in events {
        let (Some(kind), Some(state)) = (event["type"].as_str(), event["stateName"].as_str()) else { continue };
        let state = state.to_owned();
        match kind {
            "TaskScheduled" => {
                *scheduled.entry(state.clone()).or_default() += 1;
                failing.remove(&state);
            }
            "TaskFailed" | "TaskTimedOut" => {
                failing.insert(state);
            }
            "FailStateEntered" => {
                expected.entered.insert(state.clone());
                expected.failed.insert(state);
            }
            kind if kind.ends_with("StateEntered") => {
                *entries.entry(state.clone()).or_default() += 1;
                expected.entered.insert(state);
            }
            _ => {}
        }
    }
    expected.failed.extend(failing);
    for (state, scheduled) in scheduled {
        let retries = scheduled.saturating_sub(entries.get(&state).copied().unwrap_or(0));
        expected.retries.insert(state, retries);
    }
    expected
}

/// Every state box on the page: name → (outcome, retries, text).
async fn states_on_page(browser: &Browser) -> BTreeMap<String, (String, u64, String)> {
    let states = browser
        .eval(
            "return Array.from(document.querySelectorAll('a.state')).map(a => \
               [a.dataset.state, a.dataset.outcome, Number(a.dataset.retries), a.textContent]);",
        )
        .await;
    states
        .as_array()
        .expect("states")
        .iter()
        .map(|s| {
            let text = s[3].as_str().unwrap_or_default().split_whitespace().collect::<Vec<_>>().join(" ");
            (s[0].as_str().unwrap().to_owned(), (s[1].as_str().unwrap().to_owned(), s[2].as_u64().unwrap(), text))
        })
        .collect()
}

/// Opens the order's page and checks the path, the failures, the retries and the emails
/// against the history and the outbox; returns the page's states.
async fn open_and_check_order(app: &TestApp, browser: &Browser, id: &str) -> BTreeMap<String, (String, u64, String)> {
    let expected = expected_from_history(app, id).await;
    browser.goto(&app.url(&format!("/_local/console/orders/{id}"))).await;
    println!("order {id}: {} events", expected.events);
    let states = states_on_page(browser).await;
    assert!(states.len() >= 29, "the order machine's states are all drawn: {states:?}");
    for (name, (outcome, retries, text)) in &states {
        let entered = expected.entered.contains(name);
        assert_eq!(outcome != "not-entered", entered, "{name} is marked {outcome}, but entered = {entered}");
        let expected_retries = expected.retries.get(name).copied().unwrap_or(0);
        assert_eq!(*retries, expected_retries, "{name}'s retries");
        if expected_retries > 0 {
            let said =
                if expected_retries == 1 { "retried once".to_owned() } else { format!("retried {expected_retries}×") };
            assert!(text.contains(&said), "{name} says how often it was retried: {text}");
        }
        let failed = expected.failed.contains(name);
        assert_eq!(outcome == "failed", failed, "{name} is marked {outcome}, but failed = {failed}");
        if failed {
            assert!(text.contains("failed"), "a failed state says so, not only in red: {text}");
        }
    }
    let stages = app.emails_of(id).await;
    let emails = browser
        .eval(
            "return Array.from(document.querySelectorAll('article.email')).map(e => { \
               const f = e.querySelector('iframe'); \
               return [e.dataset.email, e.querySelector('.subject').textContent, \
                       f !== null && f.getAttribute('sandbox') === '' && f.getAttribute('srcdoc').length > 0]; });",
        )
        .await;
    let emails = emails.as_array().expect("emails");
    let mut shown: Vec<String> =
        emails.iter().map(|e| e[0].as_str().unwrap().rsplit('/').next().unwrap().to_owned()).collect();
    shown.sort();
    assert_eq!(shown, stages, "the page shows every email sent for the order");
    for email in emails {
        assert_eq!(email[2], json!(true), "each email is rendered from its HTML part in a sandboxed frame: {email}");
        assert!(!email[1].as_str().unwrap().is_empty(), "each email shows its subject");
    }
    let events_shown = browser.eval("return document.querySelectorAll('table.events tbody tr').length;").await;
    assert_eq!(events_shown, json!(expected.events), "the event table lists every event");
    states
}

/// Measures in the browser the order page's time to first paint on a fresh load, prints it and
/// saves it as `first-paint-<name>.txt` beside the screenshots.
async fn measure_first_paint(app: &TestApp, browser: &Browser, id: &str, name: &str) {
    let events = expected_from_history(app, id).await.events;
    browser.goto(&app.url(&format!("/_local/console/orders/{id}"))).await;
    browser
        .wait_until(
            "return performance.getEntriesByType('paint').some(e => e.name === 'first-paint');",
            Duration::from_secs(10),
            "the page is painted",
        )
        .await;
    let paint = browser
        .eval("return performance.getEntriesByType('paint').find(e => e.name === 'first-paint').startTime;")
        .await;
    let paint = paint.as_f64().expect("a paint time");
    let line = format!("order page with {events} events ({name}): first paint {paint:.0} ms");
    println!("{line}");
    std::fs::write(screenshot_dir().join(format!("first-paint-{name}.txt")), line + "\n").expect("saved");
}

fn outcome_of<'a>(states: &'a BTreeMap<String, (String, u64, String)>, name: &str) -> &'a str {
    &states.get(name).unwrap_or_else(|| panic!("{name} is drawn")).0
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver: scripts/test.sh runs it"]
async fn a_shipped_order_shows_the_happy_path_its_emails_and_documents() {
    let app = TestApp::spawn().await;
    let id = app.place_order(&order_body()).await["id"].as_str().unwrap().to_owned();
    assert_eq!(app.settled_order(&id).await["status"], "shipped");
    let browser = Browser::start().await;

    let states = open_and_check_order(&app, &browser, &id).await;
    for state in ["PriceOrder", "ChargePayment", "ShipOrder", "NotifyShipped", "Shipped"] {
        assert_eq!(outcome_of(&states, state), "succeeded", "{state}");
    }
    for state in ["ReconcileShipment", "RefundPayment", "NeedsAttention", "Cancelled"] {
        assert_eq!(outcome_of(&states, state), "not-entered", "{state}");
    }
    let documents =
        browser.eval("return Array.from(document.querySelectorAll('.documents a')).map(a => a.textContent);").await;
    let documents = documents.to_string();
    assert!(documents.contains("Invoice") && documents.contains("Shipping label"), "{documents}");
    browser.screenshot("order-shipped").await;

    measure_first_paint(&app, &browser, &id, "shipped").await;

    // On a phone, the page itself never scrolls sideways: the graph and the tables scroll in
    // their own boxes.
    browser.client.set_window_size(390, 844).await.expect("a phone-sized window");
    browser.goto(&app.url(&format!("/_local/console/orders/{id}"))).await;
    let overflow =
        browser.eval("return document.documentElement.scrollWidth - document.documentElement.clientWidth;").await;
    let wide = browser
        .eval(
            "const w = document.documentElement.clientWidth; \
             return Array.from(document.querySelectorAll('main *')) \
               .filter(e => e.getBoundingClientRect().right > w + 1 && !e.closest('.scroll, .graph')) \
               .slice(0, 5).map(e => e.tagName + '.' + e.className + ' ' + e.getBoundingClientRect().right);",
        )
        .await;
    assert!(overflow.as_f64().unwrap() <= 0., "the page overflows a phone's width by {overflow} px: {wide}");
    browser.screenshot("order-shipped-phone").await;
    browser.stop().await;
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver: scripts/test.sh runs it"]
async fn a_declined_card_shows_the_charge_failed_and_caught_and_a_state_selected_by_keyboard_shows_its_error() {
    let app = TestApp::spawn().await;
    let mut body = order_body();
    body["paymentMethod"] = json!("pm_card_chargeDeclined");
    let id = app.place_order(&body).await["id"].as_str().unwrap().to_owned();
    assert_eq!(app.settled_order(&id).await["status"], "cancelled");
    let browser = Browser::start().await;

    let states = open_and_check_order(&app, &browser, &id).await;
    assert_eq!(outcome_of(&states, "ChargePayment"), "failed");
    assert!(states["ChargePayment"].2.contains("caught"), "{:?}", states["ChargePayment"]);
    assert_eq!(outcome_of(&states, "Cancelled"), "succeeded");
    assert_eq!(outcome_of(&states, "ShipOrder"), "not-entered");
    let taken = browser
        .eval("return document.querySelector('path.edge.taken[data-from=\"ChargePayment\"][data-to=\"ReconcileShipment\"]') !== null;")
        .await;
    assert_eq!(taken, json!(true), "the catch taken is drawn as taken");

    browser.screenshot("order-declined").await;

    // Tab to the failed state and press Enter: its error and cause appear.
    let charge = browser.css("a.state[data-state=\"ChargePayment\"]").await;
    browser.eval("document.querySelector('a.state[data-state=\"ChargePayment\"]').focus(); return true;").await;
    charge.send_keys("\u{E007}").await.expect("Enter");
    browser
        .wait_until(
            "const d = document.querySelector('.state-detail:target'); \
             return d !== null && d.offsetParent !== null && d.textContent.includes('PaymentDeclined');",
            Duration::from_secs(5),
            "the selected state shows its error",
        )
        .await;
    let detail = browser.css(".state-detail:target").await.text().await.unwrap();
    assert!(detail.contains("Input") && detail.contains("Cause"), "{detail}");
    browser.screenshot("order-declined-state-selected").await;
    measure_first_paint(&app, &browser, &id, "declined").await;
    browser.stop().await;
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver: scripts/test.sh runs it"]
async fn a_customer_cancellation_is_followed_live_from_the_running_state_to_the_compensations() {
    // The paid email keeps failing for a while (retried on a slowed clock): the order waits at
    // `paid`, long enough to watch it and cancel it before it ships.
    let app = TestApp::spawn_with(|config| {
        config.time_scale = 0.5;
        config.faults = Faults::parse("NotifyPaid:Transient:1.0", 1).unwrap();
    })
    .await;
    let browser = Browser::start().await;
    let id = app.place_order(&order_body()).await["id"].as_str().unwrap().to_owned();
    app.order_reaching(&id, "paid").await;
    browser.goto(&app.url(&format!("/_local/console/orders/{id}"))).await;
    let running = browser
        .eval("const s = document.querySelector('a.state.running'); return s && [s.dataset.state, s.textContent];")
        .await;
    assert_eq!(running[0], "NotifyPaid", "the state the execution is in is shown running: {running}");
    assert!(running[1].as_str().unwrap().contains("running now"), "{running}");
    browser.screenshot("order-running").await;
    browser.eval("window.sameDocument = true; return true;").await;

    let response = app.client.delete(app.url(&format!("/api/v0/orders/{id}"))).send().await.unwrap();
    assert_eq!(response.status(), 202);
    let order = app.settled_order(&id).await;
    assert_eq!(order["cancellation"]["reason"], "customer_request");
    browser
        .wait_until(
            "const c = document.querySelector('a.state[data-state=\"Cancelled\"]'); \
             return c !== null && c.dataset.outcome === 'succeeded';",
            Duration::from_secs(10),
            "the open page follows the execution to its end",
        )
        .await;
    assert_eq!(browser.eval("return window.sameDocument === true;").await, json!(true), "the page was not reloaded");

    let states = open_and_check_order(&app, &browser, &id).await;
    assert_eq!(outcome_of(&states, "ShipOrder"), "failed", "the ship step refuses a cancelled order");
    assert_eq!(outcome_of(&states, "RefundPayment"), "succeeded");
    assert_eq!(outcome_of(&states, "Cancelled"), "succeeded");
    assert!(states["NotifyPaid"].1 > 0, "the paid email was retried: {:?}", states["NotifyPaid"]);
    browser.screenshot("order-cancelled-by-customer").await;
    browser.stop().await;
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver: scripts/test.sh runs it"]
async fn an_order_needing_attention_shows_the_retries_and_the_failed_compensation() {
    // The card is declined, and releasing the stock keeps failing: the compensation gives up
    // after its retries and the execution ends in NeedsAttention.
    let app =
        TestApp::spawn_with(|config| config.faults = Faults::parse("ReleaseStock:Transient:1.0", 1).unwrap()).await;
    let mut body = order_body();
    body["paymentMethod"] = json!("pm_card_chargeDeclined");
    let id = app.place_order(&body).await["id"].as_str().unwrap().to_owned();
    app.settled_order(&id).await;
    assert_eq!(app.execution(&id).await["execution"]["status"], "FAILED");
    let browser = Browser::start().await;

    let states = open_and_check_order(&app, &browser, &id).await;
    assert_eq!(outcome_of(&states, "NeedsAttention"), "failed");
    assert_eq!(outcome_of(&states, "ReleaseStock"), "failed");
    assert_eq!(outcome_of(&states, "RecordCompensationFailure"), "succeeded");
    let (_, retries, text) = &states["ReleaseStock"];
    assert_eq!(*retries, 10, "ReleaseStock's retrier allows ten retries");
    assert!(text.contains("retried 10×"), "{text}");
    let status = browser.css("#execution strong").await.text().await.unwrap();
    assert_eq!(status, "FAILED");
    browser.screenshot("order-needs-attention").await;

    measure_first_paint(&app, &browser, &id, "needs-attention").await;
    browser.stop().await;
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver: scripts/test.sh runs it"]
async fn the_orders_list_shows_a_new_order_without_reloading() {
    let app = TestApp::spawn().await;
    let first = app.place_order(&order_body()).await["id"].as_str().unwrap().to_owned();
    let browser = Browser::start().await;
    browser.goto(&app.url("/_local/console")).await;
    browser.css(&format!("tr[data-order=\"{first}\"]")).await;
    // A mark only this very page holds: a reload would lose it.
    browser.eval("window.sameDocument = true; return true;").await;

    let mut body = order_body();
    body["customer"]["id"] = json!("cus_grace");
    body["customer"]["name"] = json!("Grace Hopper");
    let second = app.place_order(&body).await["id"].as_str().unwrap().to_owned();
    browser
        .wait_until(
            &format!("return document.querySelector('tr[data-order=\"{second}\"]') !== null;"),
            Duration::from_secs(10),
            "the new order is listed",
        )
        .await;
    assert_eq!(browser.eval("return window.sameDocument === true;").await, json!(true), "the page was not reloaded");
    let rows = browser
        .eval("return Array.from(document.querySelectorAll('#orders tbody tr')).map(r => r.dataset.order);")
        .await;
    assert_eq!(rows, json!([second, first]), "newest first");
    browser.screenshot("orders-list").await;

    browser.goto(&app.url("/_local/console?customer=cus_grace")).await;
    let rows = browser
        .eval("return Array.from(document.querySelectorAll('#orders tbody tr')).map(r => r.dataset.order);")
        .await;
    assert_eq!(rows, json!([second]), "filtered by customer");
    browser.stop().await;
}

/// Every state name of an ASL definition, nested ones included.
fn state_names(body: &Value, names: &mut BTreeSet<String>) {
    for (name, state) in body["States"].as_object().expect("States") {
        names.insert(name.clone());
        for branch in state["Branches"].as_array().into_iter().flatten() {
            state_names(branch, names);
        }
        for processor in [&state["ItemProcessor"], &state["Iterator"]] {
            if processor.is_object() {
                state_names(processor, names);
            }
        }
    }
}

/// Draws `definition` in the browser and checks, from the rendered geometry, that every state
/// has a box, that no two boxes overlap, and that each name fits its box.
async fn check_geometry(browser: &Browser, name: &str, definition: &str) {
    let page = orderflow::console::machine_page(name, definition).expect("the machine is drawn");
    let file = screenshot_dir().join(format!("machine-{name}.html"));
    std::fs::write(&file, page).expect("the page is saved");
    browser.goto(&format!("file://{}", file.display())).await;
    let boxes = browser
        .eval(
            "return Array.from(document.querySelectorAll('a.state')).map(a => { \
               const r = a.querySelector('rect').getBoundingClientRect(); \
               const t = a.querySelector('tspan.name').getBoundingClientRect(); \
               return [a.dataset.state, r.left, r.top, r.right, r.bottom, t.left, t.right]; });",
        )
        .await;
    let boxes: Vec<(String, [f64; 6])> = boxes
        .as_array()
        .expect("boxes")
        .iter()
        .map(|b| {
            let n = |i: usize| b[i].as_f64().unwrap();
            (b[0].as_str().unwrap().to_owned(), [n(1), n(2), n(3), n(4), n(5), n(6)])
        })
        .collect();

    let mut expected = BTreeSet::new();
    state_names(&serde_json::from_str(definition).unwrap(), &mut expected);
    let drawn: BTreeSet<String> = boxes.iter().map(|(name, _)| name.clone()).collect();
    assert_eq!(drawn, expected, "{name}: every state, nested ones included, is drawn once");
    assert_eq!(boxes.len(), expected.len(), "{name}: no state is drawn twice");

    for (state, [left, top, right, bottom, text_left, text_right]) in &boxes {
        assert!(right - left > 20. && bottom - top > 20., "{name}: {state}'s box is too small");
        assert!(*text_left >= left - 0.5 && *text_right <= right + 0.5, "{name}: {state}'s name overflows its box");
    }
    for (i, (a, [al, at, ar, ab, ..])) in boxes.iter().enumerate() {
        for (b, [bl, bt, br, bb, ..]) in &boxes[i + 1..] {
            let overlap_x = ar.min(*br) - al.max(*bl);
            let overlap_y = ab.min(*bb) - at.max(*bt);
            assert!(overlap_x <= 0.5 || overlap_y <= 0.5, "{name}: the boxes of {a} and {b} overlap");
        }
    }
    browser.client.set_window_size(1280, 800).await.expect("resized");
    browser.screenshot(&format!("machine-{name}")).await;
}

fn engine_case(file: &str) -> String {
    let path = format!("{}/../engine/tests/differential/cases/{file}", env!("CARGO_MANIFEST_DIR"));
    let case: Value = serde_json::from_str(&std::fs::read_to_string(&path).expect("the case")).expect("JSON");
    case["definition"].to_string()
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver: scripts/test.sh runs it"]
async fn the_order_machine_and_parallel_and_map_machines_are_drawn_with_every_state_and_no_overlap() {
    let browser = Browser::start().await;
    check_geometry(&browser, "order", orderflow::saga::ORDER_STATE_MACHINE).await;
    let parallel = engine_case("parallel-with-a-map-branch-and-parameters.json");
    assert!(parallel.contains("\"Parallel\""));
    check_geometry(&browser, "parallel-with-a-map-branch", &parallel).await;
    let nested_maps = engine_case("map-nested-maps.json");
    assert!(nested_maps.contains("\"Map\""));
    check_geometry(&browser, "nested-maps", &nested_maps).await;
    let nested_parallel = engine_case("parallel-nested-failure-reaches-the-outer-catcher.json");
    check_geometry(&browser, "nested-parallel", &nested_parallel).await;
    browser.stop().await;
}
