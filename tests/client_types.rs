//! The client's response types against the server's answers (issue #14, "fields defined
//! twice"): every field the server writes must have a home in `tradeq-client`'s model.
//!
//! The five methods' fields are defined twice, as the server's views and as the client's
//! structs. The client reads leniently and ignores fields it does not know (as the official
//! SDKs do), so a field added to a server view and forgotten in the client would pass every
//! other test while the client silently dropped it. Here each demo record of merchant A (so the
//! fullest record of each kind, every optional block asked for) is fetched through a real
//! `serve --demo` in every protocol and answer format, read into the client's type, written back
//! out, and every key of the raw answer must come back: a key the type does not know is lost
//! in that round trip and named in the failure with its path. Keys the client keeps as `None`
//! still come back (as `null`), so the check is exactly "the type has the field", not "the
//! record happened to fill it".
//!
//! So if the server adds a field that the client lacks, this test fails. For example, removing
//! `buyer_user_name` from the client's `AlipayTradeQueryResponse` makes it fail for v2, for v3
//! and for the EDI wrapper in all three formats (`data.buyer_user_name`). Removing
//! `promotion_info.promotion_type` from `OmniOrder` makes it fail for all three TOP formats. All
//! failures are listed together rather than stopping at the first.

mod support;

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};

use support::TestServer;
use tradeq_client::model::{
    AlipayTradeQueryResponse, EdiAlipayTradeQueryResponse, KoubeiTradeItemorderQueryResponse,
    OmniOrderQueryRequest, OmniOrderQueryResponse, XlifeOnsiteTradeQueryRequest,
    XlifeOnsiteTradeQueryResponse,
};
use tradeq_client::{
    AlipayConfig, AlipayV2Client, AlipayV3Client, Credentials, RetryPolicy, TopClient, TopConfig,
    TopFormat,
};
use tradeq_model::Record;
use tradeq_server::demo::{self, MERCHANT_A};

/// Every `query_options` block `alipay.trade.query` can add.
const QUERY_OPTIONS: [&str; 5] = [
    "trade_settle_info",
    "fund_bill_list",
    "voucher_detail_list",
    "discount_goods_detail",
    "mdiscount_amount",
];

/// The TOP answer formats: JSON, simplified JSON, XML.
const TOP_FORMATS: [(TopFormat, bool); 3] = [
    (TopFormat::Json, false),
    (TopFormat::Json, true),
    (TopFormat::Xml, false),
];

/// The keys of `raw` (recursively, with their paths) that do not come back in `back`, the
/// client type's own serialization of what it read. The client reads TOP's list wrappers
/// (`{"fund_bill": [...]}`, `{}` for an empty list) into plain vectors, so an object facing an
/// array is unwrapped first.
fn lost_keys(raw: &Value, back: &Value, path: &str, lost: &mut Vec<String>) {
    match (raw, back) {
        (Value::Object(r), Value::Object(b)) => {
            for (k, v) in r {
                let here = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                match b.get(k) {
                    Some(bv) => lost_keys(v, bv, &here, lost),
                    None if v.is_null() => {}
                    None => lost.push(here),
                }
            }
        }
        (Value::Object(wrapper), Value::Array(_)) => {
            for (k, inner) in wrapper {
                lost_keys(inner, back, &format!("{path}.{k}"), lost);
            }
        }
        (Value::Array(r), Value::Array(b)) => {
            for (i, v) in r.iter().enumerate() {
                match b.get(i) {
                    Some(bv) => lost_keys(v, bv, &format!("{path}[{i}]"), lost),
                    None => lost.push(format!("{path}[{i}]")),
                }
            }
        }
        // A single list item written without its list (XML without `list="true"`).
        (Value::Object(_), _) | (Value::Array(_), _)
            if back.as_array().is_some_and(|b| b.len() == 1) =>
        {
            lost_keys(raw, &back[0], path, lost);
        }
        // Structure where the client kept a scalar or nothing: everything inside is lost.
        (Value::Object(r), _) if !r.is_empty() => lost.push(path.to_string()),
        (Value::Array(r), _) if !r.is_empty() => lost.push(path.to_string()),
        _ => {}
    }
}

/// Reads `raw` into `T` and notes in `problems` every key `T` does not carry. `envelope` lists
/// the top-level keys that belong to the protocol, not to the method's fields.
fn check<T: DeserializeOwned + Serialize>(
    problems: &mut Vec<String>,
    what: &str,
    raw: &Value,
    envelope: &[&str],
) {
    let typed: T = match serde_json::from_value(raw.clone()) {
        Ok(t) => t,
        Err(e) => {
            problems.push(format!(
                "{what}: the client type does not read the answer: {e}"
            ));
            return;
        }
    };
    let back = serde_json::to_value(&typed).expect("client types serialize");
    let mut lost = Vec::new();
    lost_keys(raw, &back, "", &mut lost);
    lost.retain(|k| !envelope.contains(&k.as_str()));
    if !lost.is_empty() {
        problems.push(format!(
            "{what}: {} lacks {lost:?}",
            std::any::type_name::<T>()
        ));
    }
}

fn creds(server: &TestServer) -> Credentials {
    Credentials::load(server.credentials_path()).expect("demo credentials")
}

fn alipay(server: &TestServer) -> AlipayConfig {
    let mut c = creds(server).alipay_config().expect("alipay config");
    c.gateway_url = server.base_url();
    c.options.retry = RetryPolicy::none();
    c.options.timeout = Duration::from_secs(20);
    c
}

fn top(server: &TestServer, (format, simplify): (TopFormat, bool)) -> TopClient {
    let mut c: TopConfig = creds(server).top_config().expect("top config");
    c.gateway_url = server.base_url();
    c.options.retry = RetryPolicy::none();
    c.options.timeout = Duration::from_secs(20);
    c.format = format;
    c.simplify = simplify;
    TopClient::new(c).expect("top client")
}

#[tokio::test(flavor = "multi_thread")]
async fn every_demo_answer_fits_the_client_types_strictly() {
    let server = TestServer::start_demo(None, &[]);
    let records: Vec<Record> = demo::records(chrono::Utc::now())
        .expect("demo records")
        .into_iter()
        .filter(|r| r.merchant() == MERCHANT_A)
        .collect();
    let v2 = AlipayV2Client::new(alipay(&server)).expect("v2 client");
    let v3 = AlipayV3Client::new(alipay(&server)).expect("v3 client");
    let top_clients: Vec<(String, TopClient)> = TOP_FORMATS
        .into_iter()
        .map(|f| (format!("{f:?}"), top(&server, f)))
        .collect();
    let mut checked = [0usize; 4];
    let mut problems = Vec::new();

    for record in &records {
        match record {
            Record::AlipayTrade(t) => {
                let biz = json!({"trade_no": t.trade_no, "query_options": QUERY_OPTIONS});
                let what = format!("v2 alipay.trade.query {}", t.trade_no);
                let answer = v2.call("alipay.trade.query", &biz).await.expect(&what);
                let raw = answer.value().expect("v2 JSON");
                check::<AlipayTradeQueryResponse>(&mut problems, &what, &raw, &["code", "msg"]);

                let what = format!("v3 alipay.trade.query {}", t.trade_no);
                let answer = v3.call("alipay.trade.query", &biz).await.expect(&what);
                let raw = answer.value().expect("v3 JSON");
                check::<AlipayTradeQueryResponse>(&mut problems, &what, &raw, &[]);

                let param = biz.to_string();
                for (format, client) in &top_clients {
                    let what = format!("EDI {format} {}", t.trade_no);
                    let answer = client
                        .with_session(None)
                        .call(
                            "tmall.luxury.stage.edi.alipay.trade.query",
                            &[("edi_alipay_trade_query_request", param.as_str())],
                        )
                        .await
                        .expect(&what);
                    check::<EdiAlipayTradeQueryResponse>(&mut problems, &what, &answer.value, &[]);
                }
                checked[0] += 1;
            }
            Record::KoubeiOrder(o) => {
                let what = format!("koubei.trade.itemorder.query {}", o.order_no);
                let answer = v2
                    .call(
                        "koubei.trade.itemorder.query",
                        &json!({"order_no": o.order_no}),
                    )
                    .await
                    .expect(&what);
                let raw = answer.value().expect("v2 JSON");
                check::<KoubeiTradeItemorderQueryResponse>(
                    &mut problems,
                    &what,
                    &raw,
                    &["code", "msg"],
                );
                checked[1] += 1;
            }
            Record::OnsiteTrade(t) => {
                let params = XlifeOnsiteTradeQueryRequest::by_trade_no(&t.trade_no).params();
                let params: Vec<(&str, &str)> = params
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                for (format, client) in &top_clients {
                    let what = format!("xlife {format} {}", t.trade_no);
                    let answer = client
                        .call("alibaba.xlife.onsite.trade.query", &params)
                        .await
                        .expect(&what);
                    check::<XlifeOnsiteTradeQueryResponse>(
                        &mut problems,
                        &what,
                        &answer.value,
                        &[],
                    );
                }
                checked[2] += 1;
            }
            Record::OmniOrder(o) => {
                let request = OmniOrderQueryRequest {
                    user_id: o.o2o_guide_id.to_string(),
                    order_id: o.order_id.clone(),
                    out_order_id: o.out_order_id.clone(),
                };
                let params = request.params();
                let params: Vec<(&str, &str)> = params
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                for (format, client) in &top_clients {
                    let what = format!("omni {format} {}", o.order_id);
                    let answer = client
                        .call("alibaba.omni.order.query", &params)
                        .await
                        .expect(&what);
                    assert!(
                        answer.business_failure().is_none(),
                        "{what}: {}",
                        answer.raw
                    );
                    check::<OmniOrderQueryResponse>(&mut problems, &what, &answer.value, &[]);
                }
                checked[3] += 1;
            }
        }
    }
    // The demo set has records of every kind for merchant A; a demo change that dropped a kind
    // would otherwise leave its method unchecked.
    assert!(
        checked.iter().all(|n| *n > 0),
        "records checked per kind: {checked:?}"
    );
    assert!(
        problems.is_empty(),
        "the server answers fields the client's types do not define:\n{}",
        problems.join("\n")
    );
}

/// The check itself: a key the type lacks is named, nested and inside a wrapped list; `null`
/// and keys the type has are not.
#[test]
fn lost_keys_are_named_with_their_paths() {
    let raw = json!({
        "trade_no": "T", "brand_new": 1, "buyer_logon_id": null,
        "fund_bill_list": {"trade_fund_bill": [{"fund_channel": "X", "amount": "1.00", "extra": 2}]}
    });
    let typed: AlipayTradeQueryResponse = serde_json::from_value(raw.clone()).unwrap();
    let back = serde_json::to_value(typed).unwrap();
    let mut lost = Vec::new();
    lost_keys(&raw, &back, "", &mut lost);
    lost.sort();
    assert_eq!(
        lost,
        ["brand_new", "fund_bill_list.trade_fund_bill[0].extra"]
    );
}
