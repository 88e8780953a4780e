//! Envelope and parser tests against the API documents' XML examples (docs/methods.md §3-§5) and the captures quoted in
//! `docs/protocol/top.md`.

use quick_xml::events::Event;
use quick_xml::Reader;
use serde_json::{json, Value};

use super::envelope::*;
use super::parse::*;
use super::request::TopError;
use crate::view::Node;

const SEED_002: &str = include_str!("../../tests/fixtures/top_002_onsite_trade_query.xml");
const SEED_003: &str = include_str!("../../tests/fixtures/top_003_edi_alipay_trade_query.xml");
const SEED_004: &str = include_str!("../../tests/fixtures/top_004_omni_order_query.xml");
const SEED_002_ERROR: &str = include_str!("../../tests/fixtures/top_002_error.xml");

const ONSITE: &str = "alibaba.xlife.onsite.trade.query";
const EDI: &str = "tmall.luxury.stage.edi.alipay.trade.query";
const OMNI: &str = "alibaba.omni.order.query";

fn s(v: &str) -> Node {
    Node::Str(v.to_owned())
}

fn n(v: &str) -> Node {
    Node::Num(v.to_owned())
}

fn obj(fields: Vec<(&'static str, Node)>) -> Node {
    Node::Obj(fields)
}

fn list(item: &'static str, items: Vec<Node>) -> Node {
    Node::List { item, items }
}

/// The xlife document's answer (docs/methods.md §3), field for field in the order of its XML example.
fn onsite_tree() -> Node {
    let fund_bill = || {
        obj(vec![
            ("amount", n("9000")),
            ("sub_fund_channel", s("alipay_financeaccount")),
            ("fund_channel", s("alipay")),
            ("extend_params", s(r#"[{"abc":"123"}]"#)),
            ("gmt_payment", s("2015-11-27 15:45:57")),
            ("payment_seq_no", s("2013112011001004330000121536")),
        ])
    };
    let inner = obj(vec![
        ("buyer_id", s("2088102122524333")),
        ("buyer_nick", s("59****5620")),
        ("gmt_payment", s("2015-11-27 15:45:57")),
        ("buyer_total_fund_fee", n("50000")),
        ("buyer_total_promotion_fee", n("38888")),
        ("invoice_amount", n("60000")),
        ("payment_days", s("2015-12-05 15:45:57")),
        ("out_trade_no", s("6823789339978248")),
        (
            "buyer_promotion_bill_list",
            list(
                "promotion_bill",
                vec![obj(vec![
                    ("amount", n("9000")),
                    ("extend_params", s(r#"[{"abc":"123"}]"#)),
                    ("subject", s("阿香米线10元代金券")),
                    ("type", s("coupon")),
                ])],
            ),
        ),
        ("gmt_query", s("2015-11-27 15:50:53")),
        ("store_name", s("炉鱼城西银泰店")),
        (
            "store_pending_fund_bill_list",
            list("fund_bill", vec![fund_bill()]),
        ),
        (
            "store_received_fund_bill_list",
            list("fund_bill", vec![fund_bill()]),
        ),
        ("store_total_marketing_fee", n("28888")),
        ("store_total_pending_fee", n("10000")),
        ("store_total_receivable_fee", n("60000")),
        ("store_total_received_fee", n("50000")),
        ("total_amount", n("88888")),
        ("trade_no", s("2013112011001004330000121536")),
        ("trade_status", s("WAIT_FOR_CONFIRM")),
        (
            "goods_detail_list",
            list(
                "goods_detail",
                vec![obj(vec![
                    ("quantity", s("1")),
                    ("price", s("8800")),
                    ("amount", s("8800")),
                    ("goods_name", s("iPad")),
                    ("goods_id", s("10460001")),
                    ("shop_name", s("ecco")),
                    ("shop_no", s("10460")),
                ])],
            ),
        ),
        ("attachment", s(r#"[{"a":"123"}]"#)),
        ("extend_params", s(r#"[{"abc":"123"}]"#)),
    ]);
    obj(vec![("onsite_trade_query_response", inner)])
}

/// The EDI document's answer (docs/methods.md §4).
fn edi_tree() -> Node {
    let data = obj(vec![
        ("trade_no", s("2013112011001004330000121536")),
        ("out_trade_no", s("6823789339978248")),
        ("buyer_logon_id", s("159****5620")),
        ("trade_status", s("TRADE_CLOSED")),
        ("total_amount", s("88.88")),
        ("trans_currency", s("CNY")),
        ("settle_currency", s("USD")),
        ("settle_amount", s("15.96")),
        ("pay_currency", s("CNY")),
        ("pay_amount", s("8.88")),
        ("settle_trans_rate", s("30.025")),
        ("trans_pay_rate", s("0.264")),
        ("buyer_pay_amount", s("8.88")),
        ("point_amount", s("10")),
        ("invoice_amount", s("12.11")),
        ("send_pay_date", s("2014-11-27 15:45:57")),
        ("receipt_amount", s("15.25")),
        ("store_id", s("NJ_S_001")),
        ("terminal_id", s("NJ_S_001")),
        (
            "fund_bill_list",
            list(
                "trade_fund_bill_d_t_o",
                vec![obj(vec![
                    ("fund_channel", s("ALIPAYACCOUNT")),
                    ("amount", s("10")),
                    ("real_amount", s("11.21")),
                    ("bank_code", s("208811****111111")),
                    ("fund_type", s("DEBIT_CARD")),
                ])],
            ),
        ),
        ("store_name", s("证大五道口店")),
        ("buyer_user_id", s("买家在支付宝的用户id")),
        ("charge_amount", s("8.88")),
        ("charge_flags", s("bluesea_1")),
        ("settlement_id", s("2018101610032004620239146945")),
        (
            "trade_settle_info",
            obj(vec![(
                "trade_settle_detail_list",
                list(
                    "trade_settle_detail_d_t_o",
                    vec![obj(vec![
                        ("operation_type", s("replenish")),
                        ("operation_serial_no", s("2321232323232")),
                        ("operation_dt", s("2019-05-16 09:59:17")),
                        ("trans_out", s("208811****111111")),
                        ("trans_in", s("208811****111111")),
                        ("amount", s("10.00")),
                    ])],
                ),
            )]),
        ),
        ("auth_trade_pay_mode", s("CREDIT_PREAUTH_PAY")),
        ("buyer_user_type", s("PRIVATE")),
        ("mdiscount_amount", s("88.88")),
        ("discount_amount", s("88.88")),
        ("subject", s("Iphone6 16G")),
        ("body", s("Iphone6 16G")),
        ("alipay_sub_merchant_id", s("2088301372182171")),
        ("ext_infos", s(r#"{"action":"cancel"}"#)),
        ("industry_sepc_detail", s("行业特殊信息")),
        ("alipay_store_id", s("NJ_S_001")),
        ("buyer_user_name", s("张三")),
        ("discount_goods_detail", s("promotion 10")),
        (
            "voucher_detail_list",
            list(
                "voucher_detail_d_t_o",
                vec![obj(vec![
                    ("amount", s("18.88")),
                    ("id", s("20183314556667")),
                    ("memo", s("无门槛优惠券")),
                    ("merchant_contribute", s("12.00")),
                    ("name", s("全场9折优惠券")),
                    ("other_contribute", s("6.88")),
                    (
                        "other_contribute_detail",
                        list(
                            "contribute_detail_d_t_o",
                            vec![obj(vec![
                                ("contribute_amount", s("1.23")),
                                ("contribute_type", s("支付宝平台出资")),
                            ])],
                        ),
                    ),
                    ("purchase_ant_contribute", s("2.88")),
                    ("purchase_buyer_contribute", s("5.88")),
                    ("purchase_merchant_contribute", s("1.88")),
                    ("template_id", s("2314455566")),
                    ("type", s("ALIPAY_ITEM_VOUCHER")),
                ])],
            ),
        ),
    ]);
    obj(vec![("data", data)])
}

/// The omni document's answer (docs/methods.md §5).
fn omni_tree() -> Node {
    let model = obj(vec![
        ("order_id", n("108717674563804955")),
        ("alipay_order_id", n("108717674563804955")),
        ("out_order_id", s("12348")),
        ("o2o_guide_id", s("3031798632")),
        ("o2o_guide_name", s("3031798632")),
        ("o2o_shop_id", s("105565032")),
        ("o2o_shop_name", s("105565032")),
        ("item_id", n("560540831441")),
        ("item_title", s("juhuasuan强预热2阶段测试宝贝请不要拍")),
        ("sku_id", n("0")),
        ("sku_properties_name", s("“”")),
        ("contract_price", n("3")),
        ("total_fee", n("3")),
        ("voucher_price", n("10000")),
        ("pay_status", n("8")),
        (
            "subpay_order_list",
            list(
                "sub_pay_order_detail",
                vec![obj(vec![
                    ("step_no", n("1")),
                    ("subpay_order_id", n("968772003804955")),
                    ("pay_status", n("1")),
                    ("pay_type", n("2")),
                    ("total_fee", n("1")),
                    ("disburse_status", n("1")),
                ])],
            ),
        ),
        ("can_close", Node::Bool(true)),
        (
            "promotion_info",
            obj(vec![
                ("promotion_id", s("1111")),
                ("promotion_amount", n("1000")),
                ("promotion_type", n("0")),
                ("promotion_order_id", s("1111")),
                ("promotion_buy_amount", n("111")),
            ]),
        ),
        (
            "pay_order_serial_infos",
            list(
                "pay_order_serial_info",
                vec![obj(vec![
                    ("pay_serial_no", s("1538363939613011008096025771")),
                    ("step_no", n("1")),
                    ("batch_no", n("1")),
                    ("paid_money", n("10000")),
                    ("pay_time", s("2018-10-08 12:00:00")),
                    ("sync_time", s("2018-10-08 12:00:00")),
                    ("pay_type", n("1")),
                    ("pay_status", n("1")),
                ])],
            ),
        ),
    ]);
    obj(vec![(
        "result",
        obj(vec![
            ("model", model),
            ("msg_code", s("daogoubao.order-query-parameter-error")),
            ("msg_info", s("必选输入参数不能为空")),
            ("success", Node::Bool(false)),
        ]),
    )])
}

/// An element: name, children, and (for leaves) unescaped text. Attributes are ignored, as the
/// SDK parsers ignore them.
#[derive(Debug, PartialEq)]
struct El {
    name: String,
    children: Vec<El>,
    text: String,
}

fn element_tree(xml: &str) -> El {
    let mut reader = Reader::from_str(xml);
    let mut stack: Vec<El> = Vec::new();
    let new = |e: &quick_xml::events::BytesStart<'_>| El {
        name: String::from_utf8(e.name().as_ref().to_vec()).unwrap(),
        children: Vec::new(),
        text: String::new(),
    };
    loop {
        match reader.read_event().unwrap() {
            Event::Start(e) => stack.push(new(&e)),
            Event::Empty(e) => {
                let el = new(&e);
                stack.last_mut().unwrap().children.push(el);
            }
            Event::Text(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&t.unescape().unwrap());
                }
            }
            Event::End(_) => {
                let mut el = stack.pop().unwrap();
                if !el.children.is_empty() {
                    assert!(el.text.trim().is_empty(), "mixed content in {}", el.name);
                    el.text.clear();
                }
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => return el,
                }
            }
            Event::Eof => panic!("no root"),
            _ => {}
        }
    }
}

fn assert_xml_matches_seed(method: &str, tree: &Node, seed: &str) {
    let rendered = render_xml(method, tree, "zzp0c5fj10y3");
    assert!(rendered.starts_with(&format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\" ?><{}>",
        response_root(method)
    )));
    let mut ours = element_tree(&rendered);
    let last = ours.children.pop().unwrap();
    assert_eq!(last.name, "request_id");
    assert_eq!(last.text, "zzp0c5fj10y3");
    assert_eq!(ours, element_tree(seed));
}

#[test]
fn xml_has_the_element_tree_of_seed_002() {
    assert_xml_matches_seed(ONSITE, &onsite_tree(), SEED_002);
}

#[test]
fn xml_has_the_element_tree_of_seed_003() {
    assert_xml_matches_seed(EDI, &edi_tree(), SEED_003);
}

#[test]
fn xml_has_the_element_tree_of_seed_004() {
    assert_xml_matches_seed(OMNI, &omni_tree(), SEED_004);
}

#[test]
fn xml_lists_carry_the_list_attribute_and_quotes_are_escaped() {
    let xml = render_xml(ONSITE, &onsite_tree(), "r");
    assert!(xml.contains("<goods_detail_list list=\"true\"><goods_detail><quantity>1</quantity>"));
    assert!(xml.contains("<extend_params>[{&quot;abc&quot;:&quot;123&quot;}]</extend_params>"));
    assert!(xml.ends_with("<request_id>r</request_id></alibaba_xlife_onsite_trade_query_response>"));
    let omni = render_xml(OMNI, &omni_tree(), "r");
    assert!(omni.contains("<can_close>true</can_close>"));
    assert!(omni.contains("<success>false</success>"));
}

#[test]
fn response_root_names() {
    assert_eq!(
        response_root("taobao.tbk.item.info.get"),
        "tbk_item_info_get_response"
    );
    assert_eq!(
        response_root("taobao.user.seller.get"),
        "user_seller_get_response"
    );
    assert_eq!(
        response_root("alibaba.aliqin.fc.sms.num.send"),
        "alibaba_aliqin_fc_sms_num_send_response"
    );
    assert_eq!(
        response_root(ONSITE),
        "alibaba_xlife_onsite_trade_query_response"
    );
    assert_eq!(
        response_root(EDI),
        "tmall_luxury_stage_edi_alipay_trade_query_response"
    );
    assert_eq!(response_root(OMNI), "alibaba_omni_order_query_response");
}

/// Object key sequences of a compact JSON text, outermost object first, in order of closing.
fn object_key_orders(json: &str) -> Vec<Vec<String>> {
    enum Open {
        Obj(Vec<String>),
        Arr,
    }
    let mut out = Vec::new();
    let mut stack: Vec<Open> = Vec::new();
    let mut chars = json.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' => stack.push(Open::Obj(Vec::new())),
            '[' => stack.push(Open::Arr),
            '}' => match stack.pop() {
                Some(Open::Obj(keys)) => out.push(keys),
                _ => panic!("unbalanced"),
            },
            ']' => assert!(matches!(stack.pop(), Some(Open::Arr))),
            '"' => {
                let mut text = String::new();
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => {
                            text.push(c);
                            text.push(chars.next().unwrap());
                        }
                        '"' => break,
                        c => text.push(c),
                    }
                }
                if chars.peek() == Some(&':') {
                    if let Some(Open::Obj(keys)) = stack.last_mut() {
                        keys.push(text);
                    }
                }
            }
            _ => {}
        }
    }
    assert!(stack.is_empty());
    out
}

fn is_sorted(keys: &[String]) -> bool {
    keys.windows(2).all(|w| w[0].as_bytes() <= w[1].as_bytes())
}

#[test]
fn json_sorts_keys_wraps_lists_and_ends_with_request_id() {
    for (method, tree) in [
        (ONSITE, onsite_tree()),
        (EDI, edi_tree()),
        (OMNI, omni_tree()),
    ] {
        let json = render_json(method, &tree, "zzp0c5fj10y3");
        let orders = object_key_orders(&json);
        let (outer, rest) = orders.split_last().unwrap();
        assert_eq!(outer, &vec![response_root(method)], "exactly one root key");
        let (root_obj, inner) = rest.split_last().unwrap();
        assert_eq!(root_obj.last().map(String::as_str), Some("request_id"));
        assert!(is_sorted(&root_obj[..root_obj.len() - 1]), "{root_obj:?}");
        for keys in inner {
            assert!(is_sorted(keys), "{keys:?}");
        }
        assert!(!json.contains("\\u"), "non-ASCII must stay raw");
        assert!(!json.contains("null"));
        assert!(json.ends_with(",\"request_id\":\"zzp0c5fj10y3\"}}"));
    }
    let json = render_json(ONSITE, &onsite_tree(), "r");
    assert!(json.starts_with(
        "{\"alibaba_xlife_onsite_trade_query_response\":{\"onsite_trade_query_response\":{\"attachment\":\"[{\\\"a\\\":\\\"123\\\"}]\",\"buyer_id\":\"2088102122524333\""
    ));
    assert!(json.contains("\"store_name\":\"炉鱼城西银泰店\""));
    assert!(json.contains(
        "\"goods_detail_list\":{\"goods_detail\":[{\"amount\":\"8800\",\"goods_id\":\"10460001\""
    ));
    assert!(json.contains("\"buyer_total_fund_fee\":50000,"));
    let edi = render_json(EDI, &edi_tree(), "r");
    assert!(edi.contains("\"fund_bill_list\":{\"trade_fund_bill_d_t_o\":[{\"amount\":\"10\""));
    assert!(edi.contains(
        "\"other_contribute_detail\":{\"contribute_detail_d_t_o\":[{\"contribute_amount\":\"1.23\""
    ));
}

fn small_tree() -> Node {
    obj(vec![
        ("zeta", s("中文")),
        ("alpha", n("25.00")),
        (
            "items",
            list(
                "fund_bill",
                vec![obj(vec![("b", s("x")), ("a", Node::Bool(true))])],
            ),
        ),
        ("empty", list("string", vec![])),
        ("tags", list("string", vec![s("p"), s("q")])),
    ])
}

#[test]
fn json_exact_bytes_for_a_small_tree() {
    assert_eq!(
        render_json("taobao.tbk.item.info.get", &small_tree(), "abc"),
        r#"{"tbk_item_info_get_response":{"alpha":25.00,"empty":{},"items":{"fund_bill":[{"a":true,"b":"x"}]},"tags":{"string":["p","q"]},"zeta":"中文","request_id":"abc"}}"#
    );
}

#[test]
fn simplify_has_no_root_and_bare_arrays() {
    assert_eq!(
        render_json_simplify(&small_tree(), "abc"),
        r#"{"alpha":25.00,"empty":[],"items":[{"a":true,"b":"x"}],"tags":["p","q"],"zeta":"中文","request_id":"abc"}"#
    );
    let json = render_json_simplify(&edi_tree(), "r");
    assert!(json.starts_with("{\"data\":{"));
    assert!(json.contains("\"fund_bill_list\":[{\"amount\":\"10\""));
    assert!(json.ends_with("},\"request_id\":\"r\"}"));
}

#[test]
fn error_envelopes_match_the_captures() {
    assert_eq!(
        render_error_json(&TopError::invalid_app_key(), "157dldoj7tr3e"),
        r#"{"error_response":{"code":29,"msg":"Invalid app Key","sub_code":"isv.appkey-not-exists","request_id":"157dldoj7tr3e"}}"#
    );
    assert_eq!(
        render_error_xml(&TopError::invalid_app_key(), "14sqam8deckzh"),
        "<?xml version=\"1.0\" encoding=\"utf-8\" ?><error_response><code>29</code><msg>Invalid app Key</msg><sub_code>isv.appkey-not-exists</sub_code><request_id>14sqam8deckzh</request_id></error_response>"
    );
    assert_eq!(
        render_error_json(&TopError::missing_app_key(), "zt9tg1f4lhkg"),
        r#"{"error_response":{"code":28,"msg":"Missing app key","request_id":"zt9tg1f4lhkg"}}"#
    );
    assert_eq!(
        render_error_json(&TopError::invalid_signature(None), "109wcmcgllsj1"),
        r#"{"error_response":{"code":25,"msg":"Invalid signature","request_id":"109wcmcgllsj1"}}"#
    );
    assert_eq!(
        render_error_json(
            &TopError::missing_required_arguments("nick"),
            "15a02364kd8zi"
        ),
        r#"{"error_response":{"code":40,"msg":"Missing required arguments:nick","request_id":"15a02364kd8zi"}}"#
    );
    let biz = TopError::business("isv.invalid-parameter", "非法参数");
    assert_eq!(
        render_error_json(&biz, "r"),
        r#"{"error_response":{"code":50,"msg":"Remote service error","sub_code":"isv.invalid-parameter","sub_msg":"非法参数","request_id":"r"}}"#
    );
    // The documents' 异常示例 (error example) has the same element tree, plus our request_id.
    let mut ours = element_tree(&render_error_xml(&biz, "r"));
    assert_eq!(ours.children.pop().unwrap().name, "request_id");
    assert_eq!(ours, element_tree(SEED_002_ERROR));
}

#[test]
fn render_dispatches_on_format_and_style() {
    use super::request::TopFormat;
    let t = small_tree();
    assert_eq!(
        render(TopFormat::Json, false, OMNI, &t, "r"),
        render_json(OMNI, &t, "r")
    );
    assert_eq!(
        render(TopFormat::Json, true, OMNI, &t, "r"),
        render_json_simplify(&t, "r")
    );
    assert_eq!(
        render(TopFormat::Xml, true, OMNI, &t, "r"),
        render_xml(OMNI, &t, "r")
    );
    let e = TopError::invalid_method();
    assert_eq!(
        render_error(TopFormat::Xml, &e, "r"),
        render_error_xml(&e, "r")
    );
    assert_eq!(
        render_error(TopFormat::Json, &e, "r"),
        render_error_json(&e, "r")
    );
    assert_eq!(
        TopFormat::Json.content_type(),
        "text/javascript;charset=UTF-8"
    );
    assert_eq!(TopFormat::Xml.content_type(), "text/xml;charset=UTF-8");
    assert_eq!(top_bodylength("a中𝄞"), 4);
}

/// JSON scalars as the strings XML would carry.
fn leaves_as_strings(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| (k, leaves_as_strings(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(leaves_as_strings).collect()),
        Value::Number(n) => Value::String(n.to_string()),
        Value::Bool(b) => Value::String(b.to_string()),
        other => other,
    }
}

#[test]
fn json_and_xml_round_trip_to_the_same_value() {
    for (method, tree) in [
        (ONSITE, onsite_tree()),
        (EDI, edi_tree()),
        (OMNI, omni_tree()),
    ] {
        let from_json =
            parse_json_response(&render_json(method, &tree, "rid"), method, false).unwrap();
        let from_simplify =
            parse_json_response(&render_json_simplify(&tree, "rid"), method, true).unwrap();
        let from_xml = parse_xml_response(&render_xml(method, &tree, "rid"), method).unwrap();
        assert_eq!(from_json, from_simplify);
        assert_eq!(leaves_as_strings(from_json), from_xml);
        assert!(from_xml.get("request_id").is_none());
    }
    let v =
        parse_json_response(&render_json(ONSITE, &onsite_tree(), "rid"), ONSITE, false).unwrap();
    let inner = &v["onsite_trade_query_response"];
    assert_eq!(inner["total_amount"], json!(88888));
    assert_eq!(inner["goods_detail_list"][0]["goods_name"], json!("iPad"));
    assert_eq!(
        inner["buyer_promotion_bill_list"][0]["subject"],
        json!("阿香米线10元代金券")
    );
}

#[test]
fn xml_text_escaping_round_trips() {
    let tree = obj(vec![
        ("a", s("x & y < z > w \" q ' \r\n\t end")),
        ("b", s("ctl\u{1}\u{FFFF}")),
        ("c", s("")),
    ]);
    let xml = render_xml(OMNI, &tree, "r");
    assert!(xml.contains("<a>x &amp; y &lt; z &gt; w &quot; q &apos; &#13;\n\t end</a>"));
    let v = parse_xml_response(&xml, OMNI).unwrap();
    assert_eq!(
        v,
        json!({"a": "x & y < z > w \" q ' \r\n\t end", "b": "ctl\u{FFFD}\u{FFFD}", "c": ""})
    );
}

#[test]
fn parses_the_seed_xml_examples_without_list_attributes() {
    let v = parse_xml_response(SEED_002, ONSITE).unwrap();
    let inner = &v["onsite_trade_query_response"];
    assert_eq!(inner["store_name"], json!("炉鱼城西银泰店"));
    assert_eq!(inner["extend_params"], json!(r#"[{"abc":"123"}]"#));
    // A one-item list without `list="true"` reads as an object with one field.
    assert_eq!(
        inner["goods_detail_list"]["goods_detail"]["goods_name"],
        json!("iPad")
    );
    let v = parse_xml_response(SEED_004, OMNI).unwrap();
    assert_eq!(v["result"]["success"], json!("false"));
    let v = parse_xml_response(SEED_003, EDI).unwrap();
    assert_eq!(v["data"]["buyer_user_name"], json!("张三"));
    // Two items of one name make an array even without the attribute.
    let v = parse_xml_response("<a_response><l><i>1</i><i>2</i></l></a_response>", "a").unwrap();
    assert_eq!(v, json!({"l": ["1", "2"]}));
}

#[test]
fn gateway_errors_are_decoded() {
    let expect = TopParseError::Gateway {
        error: TopError::business("isv.invalid-parameter", "非法参数"),
        request_id: None,
    };
    assert_eq!(parse_xml_response(SEED_002_ERROR, ONSITE), Err(expect));
    let capture = "<?xml version=\"1.0\" encoding=\"utf-8\" ?><error_response><code>29</code><msg>Invalid app Key</msg><sub_code>isv.appkey-not-exists</sub_code><request_id>14sqam8deckzh</request_id></error_response><!--top010179080184.s.et2-->";
    assert_eq!(
        parse_xml_response(capture, ONSITE),
        Err(TopParseError::Gateway {
            error: TopError::invalid_app_key(),
            request_id: Some("14sqam8deckzh".into()),
        })
    );
    let capture = r#"{"error_response":{"code":15,"msg":"Remote service error","sub_code":"isv.MOBILE_NUMBER_ILLEGAL","sub_msg":"号码格式错误","request_id":"ishfhkt4jeym"}}"#;
    let expect = TopParseError::Gateway {
        error: TopError::remote_service_error("isv.MOBILE_NUMBER_ILLEGAL", "号码格式错误"),
        request_id: Some("ishfhkt4jeym".into()),
    };
    assert_eq!(
        parse_json_response(capture, "alibaba.aliqin.fc.sms.num.send", false),
        Err(expect.clone())
    );
    assert_eq!(
        parse_json_response(capture, "alibaba.aliqin.fc.sms.num.send", true),
        Err(expect)
    );
    let no_request_id = r#"{"error_response":{"code":22,"msg":"Invalid method"}}"#;
    assert_eq!(
        parse_json_response(no_request_id, OMNI, false),
        Err(TopParseError::Gateway {
            error: TopError::invalid_method(),
            request_id: None
        })
    );
    // Our own error renderings read back.
    for err in [
        TopError::invalid_session(),
        TopError::missing_method(),
        TopError::invalid_signature(Some("a<b&c")),
    ] {
        let want = Err(TopParseError::Gateway {
            error: err.clone(),
            request_id: Some("r".into()),
        });
        assert_eq!(
            parse_json_response(&render_error_json(&err, "r"), OMNI, false),
            want
        );
        assert_eq!(parse_xml_response(&render_error_xml(&err, "r"), OMNI), want);
    }
    for bad in [
        r#"{"error_response":{"msg":"x"}}"#,
        r#"{"error_response":"x"}"#,
        r#"{"error_response":{"code":"abc"}}"#,
    ] {
        assert_eq!(
            parse_json_response(bad, OMNI, false),
            Err(TopParseError::MalformedError),
            "{bad}"
        );
    }
    assert_eq!(
        parse_xml_response("<error_response><msg>x</msg></error_response>", OMNI),
        Err(TopParseError::MalformedError)
    );
}

#[test]
fn parses_real_captures() {
    let capture = r#"{"alibaba_aliqin_fc_sms_num_send_response":{"result":{"err_code":"0","model":"…","success":true},"request_id":"r4lu3uaf87g2"}}"#;
    assert_eq!(
        parse_json_response(capture, "alibaba.aliqin.fc.sms.num.send", false).unwrap(),
        json!({"result": {"err_code": "0", "model": "…", "success": true}})
    );
    // Empty lists come as `{}` and stay so; wrapped ones unwrap, escaped slashes decode.
    let body = r#"{"openim_users_add_response":{"fail_msg":{},"uid_fail":{},"uid_succ":{"string":["a\/b"]},"request_id":"x"}}"#;
    assert_eq!(
        parse_json_response(body, "taobao.openim.users.add", false).unwrap(),
        json!({"fail_msg": {}, "uid_fail": {}, "uid_succ": ["a/b"]})
    );
}

#[test]
fn rejects_wrong_roots() {
    for (body, simplify) in [
        ("[]", false),
        ("\"x\"", false),
        ("1", false),
        ("null", false),
        ("[]", true),
    ] {
        assert_eq!(
            parse_json_response(body, OMNI, simplify),
            Err(TopParseError::RootShape),
            "{body}"
        );
    }
    let two = r#"{"alibaba_omni_order_query_response":{},"x":{}}"#;
    assert_eq!(
        parse_json_response(two, OMNI, false),
        Err(TopParseError::RootShape)
    );
    let err_and_more = r#"{"error_response":{"code":1},"x":{}}"#;
    assert_eq!(
        parse_json_response(err_and_more, OMNI, false),
        Err(TopParseError::RootShape)
    );
    assert_eq!(
        parse_json_response(r#"{"alibaba_omni_order_query_response":[]}"#, OMNI, false),
        Err(TopParseError::RootShape)
    );
    assert_eq!(
        parse_json_response(r#"{"omni_order_query_response":{}}"#, OMNI, false),
        Err(TopParseError::UnexpectedRoot {
            expected: "alibaba_omni_order_query_response".into(),
            found: "omni_order_query_response".into()
        })
    );
    assert!(matches!(
        parse_xml_response("<x_response></x_response>", OMNI),
        Err(TopParseError::UnexpectedRoot { .. })
    ));
    assert_eq!(
        parse_xml_response("<alibaba_omni_order_query_response/>", OMNI),
        Ok(json!({}))
    );
}

#[test]
fn rejects_deep_nesting() {
    let deep_json = |levels: usize| {
        let mut s = String::from("{\"alibaba_omni_order_query_response\":");
        for _ in 0..levels {
            s.push_str("{\"a\":");
        }
        s.push('1');
        s.push_str(&"}".repeat(levels + 1));
        s
    };
    assert!(parse_json_response(&deep_json(30), OMNI, false).is_ok());
    assert_eq!(
        parse_json_response(&deep_json(32), OMNI, false),
        Err(TopParseError::TooDeep)
    );
    assert!(parse_json_response(&deep_json(100_000), OMNI, false).is_err());
    assert!(parse_json_response(&"[".repeat(100_000), OMNI, true).is_err());

    let deep_xml = |levels: usize| {
        format!(
            "<alibaba_omni_order_query_response>{}x{}</alibaba_omni_order_query_response>",
            "<a>".repeat(levels),
            "</a>".repeat(levels)
        )
    };
    assert!(parse_xml_response(&deep_xml(31), OMNI).is_ok());
    assert_eq!(
        parse_xml_response(&deep_xml(32), OMNI),
        Err(TopParseError::TooDeep)
    );
    assert_eq!(
        parse_xml_response(&deep_xml(1_000_000), OMNI),
        Err(TopParseError::TooDeep)
    );
}

#[test]
fn rejects_malformed_xml() {
    for bad in [
        "",
        "   ",
        "not xml",
        "<alibaba_omni_order_query_response>",
        "<alibaba_omni_order_query_response><a>1</b></alibaba_omni_order_query_response>",
        "<alibaba_omni_order_query_response></alibaba_omni_order_query_response><x/>",
        "text<alibaba_omni_order_query_response/>",
        "<!DOCTYPE x [<!ENTITY e \"boom\">]><alibaba_omni_order_query_response>&e;</alibaba_omni_order_query_response>",
        "<alibaba_omni_order_query_response><a>1&unknown;</a></alibaba_omni_order_query_response>",
        "<alibaba_omni_order_query_response><a>t<b>1</b></a></alibaba_omni_order_query_response>",
        "<alibaba_omni_order_query_response><a list=\"true\">t</a></alibaba_omni_order_query_response>",
        "<alibaba_omni_order_query_response><a>1</a><b/><a>2</a></alibaba_omni_order_query_response>",
        "<alibaba_omni_order_query_response><a x=\"1\" x=\"2\"/></alibaba_omni_order_query_response>",
        "<alibaba_omni_order_query_response>oops</alibaba_omni_order_query_response>",
        "</alibaba_omni_order_query_response>",
    ] {
        assert!(parse_xml_response(bad, OMNI).is_err(), "{bad}");
    }
}

#[test]
fn every_truncation_is_an_error_not_a_panic() {
    for (method, tree) in [
        (ONSITE, onsite_tree()),
        (EDI, edi_tree()),
        (OMNI, omni_tree()),
    ] {
        let xml = render_xml(method, &tree, "r");
        let json = render_json(method, &tree, "r");
        let simplified = render_json_simplify(&tree, "r");
        for (i, _) in xml.char_indices().skip(1) {
            assert!(
                parse_xml_response(&xml[..i], method).is_err(),
                "xml cut at {i}"
            );
        }
        for (i, _) in json.char_indices().skip(1) {
            assert!(
                parse_json_response(&json[..i], method, false).is_err(),
                "json cut at {i}"
            );
            let _ = parse_json_response(&json[..i], method, true);
        }
        for (i, _) in simplified.char_indices().skip(1) {
            assert!(parse_json_response(&simplified[..i], method, true).is_err());
        }
    }
}

#[test]
fn arbitrary_bytes_never_panic() {
    // A fixed linear congruential generator: deterministic, no dependency.
    let mut state: u64 = 0x2545_F491_4F6C_DD1D;
    let alphabet: Vec<char> = "<>/=\"'&;!?[]{}:,x_ -list=true#0123456789中\n"
        .chars()
        .collect();
    let seed_xml = render_xml(OMNI, &omni_tree(), "r");
    for round in 0..3000 {
        let mut s = String::new();
        let len = (round % 97) + 1;
        for _ in 0..len {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            s.push(alphabet[(state >> 33) as usize % alphabet.len()]);
        }
        let _ = parse_xml_response(&s, OMNI);
        let _ = parse_json_response(&s, OMNI, false);
        let _ = parse_json_response(&s, OMNI, true);
        // Splice the noise into a valid body too.
        let at = (state >> 20) as usize % seed_xml.len();
        if seed_xml.is_char_boundary(at) {
            let spliced = format!("{}{}{}", &seed_xml[..at], s, &seed_xml[at..]);
            let _ = parse_xml_response(&spliced, OMNI);
        }
    }
}

fn reference_xml_text(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\r' => out.push_str("&#13;"),
            '\t' | '\n' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

#[test]
fn xml_text_escaping_matches_the_per_character_rules() {
    for text in crate::view::tests::tricky_texts() {
        let xml = render_xml(OMNI, &obj(vec![("a", s(&text))]), "r");
        let expected = format!("<a>{}</a>", reference_xml_text(&text));
        assert!(xml.contains(&expected), "{text:?}: {xml}");
    }
}

#[test]
fn top_bodylength_counts_utf16_units() {
    for text in crate::view::tests::tricky_texts() {
        assert_eq!(
            top_bodylength(&text),
            text.encode_utf16().count(),
            "{text:?}"
        );
    }
}
