use orderflow_tests::{TestApp, expect_problem, order_body};
use serde_json::{Value, json};

fn body_for(customer: &str) -> Value {
    let mut body = order_body();
    body["customer"]["id"] = json!(customer);
    body
}

async fn page(app: &TestApp, query: &str) -> Value {
    let response = app.get(&format!("/api/v0/orders?{query}")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

fn ids(page: &Value) -> Vec<String> {
    page["orders"].as_array().unwrap().iter().map(|o| o["id"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn orders_list_newest_first_a_page_at_a_time() {
    let app = TestApp::with_workflows_paused().await;
    let mut placed = Vec::new();
    for _ in 0..7 {
        placed.push(app.place_order(&order_body()).await["id"].as_str().unwrap().to_owned());
    }
    placed.reverse();

    let first = page(&app, "limit=3").await;
    assert_eq!(ids(&first), placed[0..3]);
    let cursor = first["nextCursor"].as_str().unwrap();
    let second = page(&app, &format!("limit=3&cursor={cursor}")).await;
    assert_eq!(ids(&second), placed[3..6]);
    let cursor = second["nextCursor"].as_str().unwrap();
    let last = page(&app, &format!("limit=3&cursor={cursor}")).await;
    assert_eq!(ids(&last), placed[6..]);
    assert!(last.get("nextCursor").is_none());
}

#[tokio::test]
async fn the_next_page_is_also_given_as_a_link_header() {
    let app = TestApp::with_workflows_paused().await;
    for _ in 0..3 {
        app.place_order(&order_body()).await;
    }
    let response = app.get("/api/v0/orders?limit=2&customerId=cus_ada").send().await.unwrap();
    let link = response.headers()["link"].to_str().unwrap().to_owned();
    assert!(link.starts_with("</api/v0/orders?limit=2&cursor="), "{link}");
    assert!(link.ends_with("&customerId=cus_ada>; rel=\"next\""), "{link}");
}

#[tokio::test]
async fn orders_can_be_filtered_by_customer_and_status() {
    let app = TestApp::with_workflows_paused().await;
    let ada = app.place_order(&body_for("cus_ada")).await;
    app.place_order(&body_for("cus_bob")).await;

    let adas = page(&app, "customerId=cus_ada").await;
    assert_eq!(ids(&adas), [ada["id"].as_str().unwrap()]);
    assert_eq!(adas["orders"][0]["total"], ada["pricing"]["total"]);
    assert_eq!(adas["orders"][0]["itemCount"], 2);
    assert_eq!(ids(&page(&app, "status=pending").await).len(), 2);
    assert!(ids(&page(&app, "status=shipped").await).is_empty());
}

#[tokio::test]
async fn invalid_list_parameters_are_a_400_problem_naming_each() {
    let app = TestApp::with_workflows_paused().await;
    let response = app.get("/api/v0/orders?limit=0&status=lost&cursor=garbage&customerId=a%20b").send().await.unwrap();
    let problem = expect_problem(response, 400, "invalid-parameters").await;
    let mut named: Vec<_> =
        problem["errors"].as_array().unwrap().iter().map(|e| e["parameter"].as_str().unwrap()).collect();
    named.sort_unstable();
    assert_eq!(named, ["cursor", "customerId", "limit", "status"]);
}
