//! Record lifecycles, listing, merge patches, reset and snapshots through the admin API and the
//! methods, on both backends: an SQLite file, and PostgreSQL from `TRADEQ_TEST_DATABASE_URL`
//! (each test in a schema of its own, dropped afterwards).

mod support;

use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use axum::http::StatusCode;
use axum::Router;
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Map, Value};
use sqlx::Connection;
use support::Answer;

use tradeq_server::methods::{self, BizParams, Caller, Method, MethodCtx, MethodError};
use tradeq_server::{admin, ServerConfig};
use tradeq_store::Store;

const TOKEN: &str = "records-sandbox-admin-token";
const MERCHANT_A: &str = "2088102146225135";
const MERCHANT_B: &str = "2088202146225246";

/// One test's server: the admin router and the store beneath it.
struct Env {
    router: Router,
    store: Arc<dyn Store>,
}

fn app(store: Arc<dyn Store>) -> Env {
    let state = support::state(store.clone(), ServerConfig::default(), TOKEN);
    Env {
        router: admin::router(state),
        store,
    }
}

async fn on_sqlite<F, Fut>(case: F)
where
    F: FnOnce(Env) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("tradeq.db").display());
    let store = tradeq_store::open(&url).await.unwrap();
    case(app(store.clone())).await;
    store.close().await;
}

async fn on_postgres<F, Fut>(case: F)
where
    F: FnOnce(Env) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let base = match std::env::var("TRADEQ_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => {
            if std::env::var("TRADEQ_REQUIRE_ALL").as_deref() == Ok("1") {
                panic!("TRADEQ_TEST_DATABASE_URL is not set and TRADEQ_REQUIRE_ALL=1");
            }
            println!("skipped: TRADEQ_TEST_DATABASE_URL is not set");
            return;
        }
    };
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let schema = format!(
        "tq_records_{}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed),
        Utc::now().timestamp_subsec_nanos()
    );
    let mut admin_conn = sqlx::PgConnection::connect(&base).await.unwrap();
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&mut admin_conn)
        .await
        .unwrap();
    let sep = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{sep}options[search_path]={schema}");
    let store = tradeq_store::open(&url).await.unwrap();
    let outcome = tokio::spawn(case(app(store.clone()))).await;
    store.close().await;
    sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
        .execute(&mut admin_conn)
        .await
        .unwrap();
    if let Err(e) = outcome {
        match e.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(e) => panic!("case did not finish: {e}"),
        }
    }
}

/// One `#[tokio::test]` per case and backend.
macro_rules! both_backends {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::on_sqlite(super::$case).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::on_postgres(super::$case).await;
                }
            )*
        }
    };
}

both_backends!(
    timeline_pays_a_trade_on_its_third_query,
    bad_timelines_are_refused_naming_the_field,
    a_step_that_breaks_an_invariant_is_refused_and_shown,
    templates_are_listed_and_attached,
    time_template_waits_for_virtual_time,
    koubei_and_xlife_templates_move_demo_records,
    listing_filters_and_pages,
    merge_patch_updates_validates_and_refuses,
    reset_to_demo_and_to_empty,
    snapshot_round_trip_is_byte_identical,
    snapshot_reader_refuses_bad_lines,
);

// ----- helpers -----

async fn send(
    env: &Env,
    method: &str,
    uri: &str,
    content_type: Option<&str>,
    body: String,
) -> Answer {
    let req = support::admin_request(method, uri, Some(TOKEN), content_type, body);
    support::send(&env.router, req).await
}

async fn get(env: &Env, uri: &str) -> Answer {
    send(env, "GET", uri, None, String::new()).await
}

async fn put(env: &Env, uri: &str, body: &Value) -> Answer {
    send(env, "PUT", uri, Some("application/json"), body.to_string()).await
}

async fn post(env: &Env, uri: &str, body: &Value) -> Answer {
    send(env, "POST", uri, Some("application/json"), body.to_string()).await
}

fn assert_error(a: &Answer, status: StatusCode, field: &str) {
    assert_eq!(a.status, status, "{}", a.text());
    let v = a.json();
    assert!(v["error"]["code"].is_string(), "{v}");
    assert!(v["error"]["message"].is_string(), "{v}");
    assert_eq!(v["error"]["field"].as_str(), Some(field), "{v}");
}

fn unpaid_trade(trade_no: &str, timeline: Option<Value>) -> Value {
    let mut t = json!({
        "trade_no": trade_no, "out_trade_no": format!("OUT-{trade_no}"),
        "seller_id": MERCHANT_A, "buyer_logon_id": "15901825620",
        "trade_status": "WAIT_BUYER_PAY", "total_amount": 8888,
        "gmt_modified": "2024-01-01 10:00:00", "version": 1
    });
    if let Some(tl) = timeline {
        t["timeline"] = tl;
    }
    t
}

/// `alipay.trade.query` by `trade_no` as merchant A, at `now`; the answer as JSON.
async fn query_trade(env: &Env, trade_no: &str, now: DateTime<Utc>) -> Result<Value, MethodError> {
    let mut params = Map::new();
    params.insert("trade_no".into(), json!(trade_no));
    call(env, Method::AlipayTradeQuery, &params, now).await
}

async fn call(
    env: &Env,
    method: Method,
    params: &BizParams,
    now: DateTime<Utc>,
) -> Result<Value, MethodError> {
    let ctx = MethodCtx {
        store: &*env.store,
        now,
    };
    let caller = Caller {
        merchant: MERCHANT_A.to_string(),
        always_fund_bill_list: false,
    };
    let node = methods::call(method, &ctx, &caller, params).await?;
    Ok(serde_json::from_str(&node.to_json_ordered()).unwrap())
}

// ----- cases -----

async fn timeline_pays_a_trade_on_its_third_query(env: Env) {
    let trade_no = "2024010122001446880500009001";
    let doc = unpaid_trade(
        trade_no,
        Some(json!([{"after_queries": 3, "set": {
            "trade_status": "TRADE_SUCCESS", "send_pay_date": "$now",
            "receipt_amount": 8888, "buyer_pay_amount": 8888}}])),
    );
    let a = put(&env, &format!("/v1/records/alipay-trade/{trade_no}"), &doc).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    let shown = get(&env, &format!("/v1/records/alipay-trade/{trade_no}"))
        .await
        .json();
    assert_eq!(shown["lifecycle"]["started"], json!(true));
    assert_eq!(shown["lifecycle"]["queries"], json!(0));
    assert_eq!(shown["lifecycle"]["steps"][0]["status"], json!("pending"));

    let now = Utc::now();
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let answer = query_trade(&env, trade_no, now).await.unwrap();
        statuses.push(
            answer["trade_status"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        );
    }
    assert_eq!(
        statuses,
        [
            "WAIT_BUYER_PAY",
            "WAIT_BUYER_PAY",
            "TRADE_SUCCESS",
            "TRADE_SUCCESS"
        ]
    );

    let shown = get(&env, &format!("/v1/records/alipay-trade/{trade_no}"))
        .await
        .json();
    assert_eq!(shown["trade_status"], json!("TRADE_SUCCESS"));
    assert_eq!(shown["version"], json!(2));
    assert_eq!(shown["lifecycle"]["queries"], json!(4));
    assert_eq!(shown["lifecycle"]["applied"], json!(1));
    assert_eq!(shown["lifecycle"]["steps"][0]["status"], json!("applied"));
    // Read, edited and written back: the read-only progress is dropped, the write restarts it.
    let mut edited = shown.clone();
    edited["subject"] = json!("edited");
    let a = put(
        &env,
        &format!("/v1/records/alipay-trade/{trade_no}"),
        &edited,
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    let again = get(&env, &format!("/v1/records/alipay-trade/{trade_no}"))
        .await
        .json();
    assert_eq!(again["lifecycle"]["queries"], json!(0));

    // Written without a timeline, then with one again (by a batch): it starts from zero.
    let mut plain = again.clone();
    plain.as_object_mut().unwrap().remove("timeline");
    plain.as_object_mut().unwrap().remove("lifecycle");
    plain["subject"] = json!("plain");
    let a = put(
        &env,
        &format!("/v1/records/alipay-trade/{trade_no}"),
        &plain,
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    query_trade(&env, trade_no, now).await.unwrap();
    let mut with_timeline = plain.clone();
    with_timeline["subject"] = json!("timeline again");
    with_timeline["trade_status"] = json!("WAIT_BUYER_PAY");
    for f in ["send_pay_date", "receipt_amount", "buyer_pay_amount"] {
        with_timeline.as_object_mut().unwrap().remove(f);
    }
    with_timeline["timeline"] =
        json!([{"after_queries": 2, "set": {"trade_status": "TRADE_CLOSED"}}]);
    let a = send(
        &env,
        "POST",
        "/v1/records/alipay-trade/_batch",
        Some("application/x-ndjson"),
        format!("{with_timeline}\n"),
    )
    .await;
    assert_eq!(a.json()["updated"], json!(1), "{}", a.text());
    let shown = get(&env, &format!("/v1/records/alipay-trade/{trade_no}"))
        .await
        .json();
    assert_eq!(shown["lifecycle"]["queries"], json!(0), "{shown}");
    assert_eq!(shown["lifecycle"]["applied"], json!(0), "{shown}");

    // The step's write is in the audit log like any other.
    let audit = get(&env, "/v1/audit?limit=1000").await.json();
    let updates = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["key"] == json!(trade_no) && e["action"] == json!("updated"))
        .count();
    assert_eq!(updates, 4, "the step and three rewrites: {audit}");
}

async fn bad_timelines_are_refused_naming_the_field(env: Env) {
    let uri = "/v1/records/alipay-trade/2024010122001446880500009002";
    let both = unpaid_trade(
        "2024010122001446880500009002",
        Some(
            json!([{"after_queries": 1, "after_secs": 5, "set": {"trade_status": "TRADE_CLOSED"}}]),
        ),
    );
    assert_error(
        &put(&env, uri, &both).await,
        StatusCode::BAD_REQUEST,
        "timeline[0]",
    );
    let bad_value = unpaid_trade(
        "2024010122001446880500009002",
        Some(json!([{"after_secs": 5, "set": {"trade_status": "PAID"}}])),
    );
    assert_error(
        &put(&env, uri, &bad_value).await,
        StatusCode::BAD_REQUEST,
        "timeline[0].set.trade_status",
    );
    let key_change = unpaid_trade(
        "2024010122001446880500009002",
        Some(json!([{"after_secs": 5, "set": {"out_trade_no": "X"}}])),
    );
    assert_error(
        &put(&env, uri, &key_change).await,
        StatusCode::BAD_REQUEST,
        "timeline[0].set.out_trade_no",
    );
    // A batch reports the line and the field, and loads the good line.
    let good = unpaid_trade("2024010122001446880500009003", None);
    let body = format!("{}\n{}\n", both, good);
    let a = send(
        &env,
        "POST",
        "/v1/records/alipay-trade/_batch",
        Some("application/x-ndjson"),
        body,
    )
    .await;
    let v = a.json();
    assert_eq!(v["inserted"], json!(1), "{v}");
    assert_eq!(v["rejected"][0]["line"], json!(1), "{v}");
    assert_eq!(v["rejected"][0]["field"], json!("timeline[0]"), "{v}");
}

async fn a_step_that_breaks_an_invariant_is_refused_and_shown(env: Env) {
    let trade_no = "2024010122001446880500009004";
    // Paid-on date on a trade that stays unpaid: the step cannot apply.
    let doc = unpaid_trade(
        trade_no,
        Some(json!([{"after_queries": 1, "set": {"send_pay_date": "$now"}}])),
    );
    assert_eq!(
        put(&env, &format!("/v1/records/alipay-trade/{trade_no}"), &doc)
            .await
            .status,
        StatusCode::OK
    );
    let answer = query_trade(&env, trade_no, Utc::now()).await.unwrap();
    assert_eq!(answer["trade_status"], json!("WAIT_BUYER_PAY"));
    assert!(answer.get("send_pay_date").is_none(), "{answer}");
    let shown = get(&env, &format!("/v1/records/alipay-trade/{trade_no}"))
        .await
        .json();
    assert_eq!(shown["version"], json!(1));
    assert_eq!(shown["lifecycle"]["steps"][0]["status"], json!("refused"));
    assert_eq!(
        shown["lifecycle"]["refused"][0]["field"],
        json!("send_pay_date")
    );
    assert!(shown["lifecycle"]["refused"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("WAIT_BUYER_PAY"));
}

async fn templates_are_listed_and_attached(env: Env) {
    let list = get(&env, "/v1/lifecycle-templates").await.json();
    let names: Vec<&str> = list["templates"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(
        names,
        [
            "trade-paid-on-third-query",
            "trade-closed-after-15-minutes",
            "koubei-pay-then-finish",
            "xlife-bill-disbursed"
        ]
    );
    let trade_no = "2024010122001446880500009005";
    let uri = format!("/v1/records/alipay-trade/{trade_no}");
    put(&env, &uri, &unpaid_trade(trade_no, None)).await;
    let a = post(
        &env,
        &format!("{uri}/lifecycle"),
        &json!({"template": "trade-paid-on-third-query"}),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    assert_eq!(a.json()["timeline"][0]["after_queries"], json!(3));
    let now = Utc::now();
    for expected in ["WAIT_BUYER_PAY", "WAIT_BUYER_PAY", "TRADE_SUCCESS"] {
        let answer = query_trade(&env, trade_no, now).await.unwrap();
        assert_eq!(answer["trade_status"], json!(expected));
    }
    let paid = query_trade(&env, trade_no, now).await.unwrap();
    assert_eq!(paid["receipt_amount"], json!("88.88"));
    assert!(paid["send_pay_date"].is_string(), "{paid}");

    // Now paid: the template no longer fits.
    assert_error(
        &post(
            &env,
            &format!("{uri}/lifecycle"),
            &json!({"template": "trade-closed-after-15-minutes"}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "template",
    );
    assert_error(
        &post(
            &env,
            &format!("{uri}/lifecycle"),
            &json!({"template": "no-such"}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "template",
    );
    assert_error(
        &post(
            &env,
            &format!("{uri}/lifecycle"),
            &json!({"template": "koubei-pay-then-finish"}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "template",
    );
    assert_error(
        &post(&env, &format!("{uri}/lifecycle"), &json!({"templat": "x"})).await,
        StatusCode::BAD_REQUEST,
        "template",
    );
    let a = post(
        &env,
        "/v1/records/alipay-trade/2024010122001446880599999999/lifecycle",
        &json!({"template": "trade-paid-on-third-query"}),
    )
    .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND, "{}", a.text());
}

async fn time_template_waits_for_virtual_time(env: Env) {
    let trade_no = "2024010122001446880500009006";
    let uri = format!("/v1/records/alipay-trade/{trade_no}");
    put(&env, &uri, &unpaid_trade(trade_no, None)).await;
    let before = Utc::now();
    let a = post(
        &env,
        &format!("{uri}/lifecycle"),
        &json!({"template": "trade-closed-after-15-minutes"}),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    let due = a.json()["lifecycle"]["steps"][0]["due_at"].clone();
    assert!(due.is_string(), "{due}");
    let early = query_trade(&env, trade_no, before + Duration::minutes(14))
        .await
        .unwrap();
    assert_eq!(early["trade_status"], json!("WAIT_BUYER_PAY"));
    let late = query_trade(&env, trade_no, before + Duration::minutes(16))
        .await
        .unwrap();
    assert_eq!(late["trade_status"], json!("TRADE_CLOSED"));
}

async fn koubei_and_xlife_templates_move_demo_records(env: Env) {
    let a = post(&env, "/v1/reset", &json!({"to": "demo"})).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    let now = Utc::now();

    let order = "20170501000000001000000003";
    let a = post(
        &env,
        &format!("/v1/records/koubei-order/{order}/lifecycle"),
        &json!({"template": "koubei-pay-then-finish"}),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    let mut params = Map::new();
    params.insert("order_no".into(), json!(order));
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let v = call(&env, Method::KoubeiTradeItemorderQuery, &params, now)
            .await
            .unwrap();
        statuses.push(v["status"].as_str().unwrap_or_default().to_string());
    }
    assert_eq!(statuses, ["WAIT_PAY", "PAID", "PAID", "FINISH"]);

    let trade = "2013112011001004330000121536";
    let a = post(
        &env,
        &format!("/v1/records/onsite-trade/{trade}/lifecycle"),
        &json!({"template": "xlife-bill-disbursed"}),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    let mut params = Map::new();
    params.insert("trade_no".into(), json!(trade));
    let first = call(&env, Method::XlifeOnsiteTradeQuery, &params, now)
        .await
        .unwrap();
    let r = &first["onsite_trade_query_response"];
    assert_eq!(r["store_total_pending_fee"], json!(10000), "{r}");
    let second = call(&env, Method::XlifeOnsiteTradeQuery, &params, now)
        .await
        .unwrap();
    let r = &second["onsite_trade_query_response"];
    assert_eq!(r["store_total_pending_fee"], json!(0), "{r}");
    assert_eq!(r["store_total_received_fee"], json!(60000), "{r}");
}

async fn listing_filters_and_pages(env: Env) {
    post(&env, "/v1/reset", &json!({"to": "demo"})).await;
    let page = get(
        &env,
        &format!("/v1/records/alipay-trade?merchant={MERCHANT_A}&limit=2"),
    )
    .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text());
    let mut keys = Vec::new();
    let mut v = page.json();
    loop {
        for r in v["records"].as_array().unwrap() {
            assert_eq!(r["seller_id"], json!(MERCHANT_A));
            keys.push(r["trade_no"].as_str().unwrap().to_string());
        }
        let Some(cursor) = v["next_cursor"].as_str() else {
            break;
        };
        v = get(
            &env,
            &format!("/v1/records/alipay-trade?merchant={MERCHANT_A}&limit=2&cursor={cursor}"),
        )
        .await
        .json();
    }
    let mut sorted = keys.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(keys, sorted, "pages follow the key order without repeats");
    assert!(keys.len() >= 4, "{keys:?}");
    let all = get(&env, "/v1/records/alipay-trade?limit=1000")
        .await
        .json();
    let of_b = all["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["seller_id"] == json!(MERCHANT_B))
        .count();
    assert_eq!(keys.len() + of_b, all["records"].as_array().unwrap().len());

    let unpaid = get(&env, "/v1/records/alipay-trade?status=WAIT_BUYER_PAY")
        .await
        .json();
    assert_eq!(
        unpaid["records"][0]["trade_no"],
        json!("2024010122001446880500000002"),
        "{unpaid}"
    );
    let by_out = get(
        &env,
        &format!("/v1/records/alipay-trade?out_trade_no=6823789339978248&merchant={MERCHANT_A}"),
    )
    .await
    .json();
    assert_eq!(by_out["records"].as_array().unwrap().len(), 1);
    let by_short = get(&env, "/v1/records/onsite-trade?short_trade_no=77778888")
        .await
        .json();
    assert_eq!(
        by_short["records"][0]["trade_no"],
        json!("2013112011001004330000121536")
    );
    let omni = get(&env, "/v1/records/omni-order?out_order_id=12348")
        .await
        .json();
    assert_eq!(omni["records"][0]["order_id"], json!("108717674563804955"));
    let recent = get(
        &env,
        "/v1/records/koubei-order?modified_after=2030-01-01%2000:00:00",
    )
    .await
    .json();
    assert_eq!(recent["records"], json!([]));
    let old = get(
        &env,
        "/v1/records/koubei-order?modified_before=2030-01-01T00:00:00%2B08:00",
    )
    .await
    .json();
    assert!(!old["records"].as_array().unwrap().is_empty(), "{old}");

    assert_error(
        &get(&env, "/v1/records/alipay-trade?out_order_id=1").await,
        StatusCode::BAD_REQUEST,
        "out_order_id",
    );
    assert_error(
        &get(&env, "/v1/records/alipay-trade?limit=0").await,
        StatusCode::BAD_REQUEST,
        "limit",
    );
    assert_error(
        &get(&env, "/v1/records/alipay-trade?modified_after=yesterday").await,
        StatusCode::BAD_REQUEST,
        "modified_after",
    );
    let a = get(&env, "/v1/records/alipay-trade?colour=red").await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.text());
    let a = get(&env, "/v1/records/nothing").await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.text());
}

async fn merge_patch_updates_validates_and_refuses(env: Env) {
    let trade_no = "2024010122001446880500009007";
    let uri = format!("/v1/records/alipay-trade/{trade_no}");
    put(&env, &uri, &unpaid_trade(trade_no, None)).await;
    let patch = |body: Value, ct: &'static str| {
        let uri = uri.clone();
        let env = &env;
        async move { send(env, "PATCH", &uri, Some(ct), body.to_string()).await }
    };
    const MP: &str = "application/merge-patch+json";
    let a = patch(
        json!({"trade_status": "TRADE_CLOSED", "subject": "closed by hand"}),
        MP,
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    let v = a.json();
    assert_eq!(v["trade_status"], json!("TRADE_CLOSED"));
    assert_eq!(v["subject"], json!("closed by hand"));
    assert_eq!(v["version"], json!(2));
    assert_ne!(
        v["gmt_modified"],
        json!("2024-01-01 10:00:00"),
        "gmt_modified advanced"
    );
    // null removes an optional field.
    let v = patch(json!({"subject": null}), MP).await.json();
    assert!(v.get("subject").is_none(), "{v}");
    assert_eq!(get(&env, &uri).await.json(), v);

    assert_error(
        &patch(json!({"total_amount": -1}), MP).await,
        StatusCode::BAD_REQUEST,
        "total_amount",
    );
    assert_error(
        &patch(
            json!({"trade_status": "WAIT_BUYER_PAY", "send_pay_date": "2024-01-01 10:00:00"}),
            MP,
        )
        .await,
        StatusCode::BAD_REQUEST,
        "send_pay_date",
    );
    assert_error(
        &patch(json!({"trade_no": "other"}), MP).await,
        StatusCode::BAD_REQUEST,
        "trade_no",
    );
    assert_error(
        &patch(json!({"colour": "red"}), MP).await,
        StatusCode::BAD_REQUEST,
        "colour",
    );
    let a = patch(json!({"subject": "x"}), "application/json").await;
    assert_eq!(a.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{}", a.text());
    let a = send(&env, "PATCH", &uri, Some(MP), "[1]".to_string()).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.text());
    let a = send(
        &env,
        "PATCH",
        "/v1/records/alipay-trade/2024010122001446880599999999",
        Some(MP),
        "{}".to_string(),
    )
    .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND, "{}", a.text());
}

async fn reset_to_demo_and_to_empty(env: Env) {
    put(
        &env,
        "/v1/records/alipay-trade/X1",
        &unpaid_trade("X1", None),
    )
    .await;
    let a = post(&env, "/v1/reset", &json!({"to": "demo"})).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    let v = a.json();
    assert_eq!(v["removed"], json!(1));
    let inserted = v["inserted"].as_u64().unwrap();
    assert!(inserted > 10, "{v}");
    assert_eq!(
        get(&env, "/v1/records/alipay-trade/X1").await.status,
        StatusCode::NOT_FOUND
    );
    let apps = get(&env, "/v1/alipay-apps").await.json();
    let app_key = apps.to_string();
    assert!(app_key.contains("2021000000000001"), "{apps}");
    // A second reset keeps the same credentials (demo-credentials.json stays valid).
    post(
        &env,
        "/v1/records/alipay-trade/2024010122001446880500000002/lifecycle",
        &json!({"template": "trade-paid-on-third-query"}),
    )
    .await;
    let v = post(&env, "/v1/reset", &json!({"to": "demo"})).await.json();
    assert_eq!(v["removed"].as_u64(), Some(inserted));
    assert_eq!(get(&env, "/v1/alipay-apps").await.json(), apps);
    let shown = get(
        &env,
        "/v1/records/alipay-trade/2024010122001446880500000002",
    )
    .await
    .json();
    assert!(
        shown.get("timeline").is_none(),
        "lifecycles are cleared: {shown}"
    );

    let v = post(&env, "/v1/reset", &json!({"to": "empty"}))
        .await
        .json();
    assert_eq!(v["inserted"], json!(0));
    let stats = get(&env, "/v1/stats").await.json();
    for kind in ["alipay-trade", "koubei-order", "onsite-trade", "omni-order"] {
        assert_eq!(stats["records"][kind], json!(0), "{stats}");
    }
    assert_eq!(get(&env, "/v1/alipay-apps").await.json(), apps);
    assert_error(
        &post(&env, "/v1/reset", &json!({"to": "everything"})).await,
        StatusCode::BAD_REQUEST,
        "to",
    );
}

async fn snapshot_round_trip_is_byte_identical(env: Env) {
    post(&env, "/v1/reset", &json!({"to": "demo"})).await;
    let trade = "2024010122001446880500000002";
    post(
        &env,
        &format!("/v1/records/alipay-trade/{trade}/lifecycle"),
        &json!({"template": "trade-paid-on-third-query"}),
    )
    .await;
    query_trade(&env, trade, Utc::now()).await.unwrap();
    // Fault rules and a frozen clock travel with the snapshot.
    let rule = post(
        &env,
        "/v1/faults",
        &json!({"match": {"method": "alipay.trade.query"}, "times": 2, "seed": 7,
                "action": {"type": "error", "code": "ACQ.SYSTEM_ERROR"}}),
    )
    .await;
    assert_eq!(rule.status, StatusCode::CREATED, "{}", rule.text());
    let rule_id = rule.json()["id"].as_str().unwrap().to_string();
    let frozen = put(
        &env,
        "/v1/clock",
        &json!({"mode": "frozen", "at": "2030-01-02T03:04:05Z"}),
    )
    .await;
    assert_eq!(frozen.status, StatusCode::OK, "{}", frozen.text());
    let saved = get(&env, "/v1/snapshot").await;
    assert_eq!(saved.status, StatusCode::OK);
    let first = saved.text();
    let types: Vec<String> = first
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["type"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(types[0], "snapshot");
    for t in [
        "alipay_app",
        "app_auth_token",
        "top_app",
        "top_session",
        "demo_credentials",
        "sandbox_ca",
        "fault_rule",
        "clock",
        "record",
    ] {
        assert!(types.iter().any(|x| x == t), "{t} missing");
    }
    assert!(
        first.contains("\"lifecycle\":{"),
        "the started lifecycle is saved"
    );

    // Reset clears the rules and puts the clock back to real time.
    let reset = post(&env, "/v1/reset", &json!({"to": "empty"}))
        .await
        .json();
    assert_eq!(reset["fault_rules_removed"], json!(1), "{reset}");
    assert_eq!(get(&env, "/v1/faults").await.json()["faults"], json!([]));
    assert_eq!(get(&env, "/v1/clock").await.json()["mode"], json!("real"));
    send(
        &env,
        "DELETE",
        "/v1/alipay-apps/2021000000000001",
        None,
        String::new(),
    )
    .await;
    let a = send(
        &env,
        "PUT",
        "/v1/snapshot",
        Some("application/x-ndjson"),
        first.clone(),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    assert_eq!(a.json()["lifecycles"], json!(1));
    assert_eq!(a.json()["fault_rules"], json!(1));
    let second = get(&env, "/v1/snapshot").await.text();
    assert_eq!(first, second);
    // This node applies the loaded rule and clock at once.
    let faults = get(&env, "/v1/faults").await.json();
    assert_eq!(faults["faults"][0]["id"], json!(rule_id), "{faults}");
    assert_eq!(
        faults["faults"][0]["hits"],
        json!(0),
        "counters start again"
    );
    let clock = get(&env, "/v1/clock").await.json();
    assert_eq!(clock["mode"], json!("frozen"), "{clock}");
    assert_eq!(clock["now"], json!("2030-01-02T03:04:05Z"), "{clock}");
    put(&env, "/v1/clock", &json!({"mode": "real"})).await;
    send(&env, "DELETE", "/v1/faults", None, String::new()).await;

    // The restored lifecycle goes on where it was: two more queries pay the trade.
    let now = Utc::now();
    assert_eq!(
        query_trade(&env, trade, now).await.unwrap()["trade_status"],
        json!("WAIT_BUYER_PAY")
    );
    assert_eq!(
        query_trade(&env, trade, now).await.unwrap()["trade_status"],
        json!("TRADE_SUCCESS")
    );
}

async fn snapshot_reader_refuses_bad_lines(env: Env) {
    post(&env, "/v1/reset", &json!({"to": "demo"})).await;
    let before = get(&env, "/v1/snapshot").await.text();
    let load = |body: String| {
        let env = &env;
        async move {
            send(
                env,
                "PUT",
                "/v1/snapshot",
                Some("application/x-ndjson"),
                body,
            )
            .await
        }
    };
    let a = load(format!("{before}{{\"type\":\"webhook\",\"id\":\"x\"}}\n")).await;
    assert_error(
        &a,
        StatusCode::BAD_REQUEST,
        &format!("line {}", before.lines().count() + 1),
    );
    assert!(a.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("webhook"));
    // A fault rule is checked as one posted to /v1/faults is.
    let a = load(format!(
        "{before}{}\n",
        json!({"type": "fault_rule", "created_at": "2030-01-01T00:00:00Z",
               "rule": {"id": "flt_1", "match": {}, "probability": 2.0, "seed": 0,
                        "action": {"type": "reset"}}})
    ))
    .await;
    assert_error(
        &a,
        StatusCode::BAD_REQUEST,
        &format!("line {}", before.lines().count() + 1),
    );
    assert!(
        a.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("rule.probability"),
        "{}",
        a.text()
    );
    let a = load("{\"type\":\"record\",\"kind\":\"alipay-trade\",\"record\":{}}\n".into()).await;
    assert_error(&a, StatusCode::BAD_REQUEST, "line 1");
    let a = load("{\"type\":\"snapshot\",\"format\":1}\n{\"type\":\"record\",\"kind\":\"alipay-trade\",\"record\":{\"trade_no\":\"x\"}}\n".into()).await;
    assert_error(&a, StatusCode::BAD_REQUEST, "line 2");
    let a = load("{\"type\":\"snapshot\",\"format\":9}\n".into()).await;
    assert_error(&a, StatusCode::BAD_REQUEST, "line 1");
    let a = send(
        &env,
        "PUT",
        "/v1/snapshot",
        Some("application/json"),
        before.clone(),
    )
    .await;
    assert_eq!(a.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // Nothing was replaced by the refused loads.
    assert_eq!(get(&env, "/v1/snapshot").await.text(), before);
}
