//! Records enter only when the documents' identities hold; a violation names the field, the
//! equation and both sides.

use serde_json::{json, Value};
use tradeq_model::{Record, RecordKind};

fn paid_onsite() -> Value {
    // The xlife document's example (docs/methods.md §3), made consistent.
    json!({
        "trade_no": "2013112011001004330000121536", "out_trade_no": "6823789339978248",
        "short_trade_no": "77778888", "merchant_id": "2088102146225135",
        "gmt_create": "2015-11-27 15:40:00", "buyer_id": "2088102122524333", "buyer_nick": "5912345620",
        "trade_status": "TRADE_SUCCESS", "total_amount": 88888, "store_name": "炉鱼城西银泰店",
        "gmt_payment": "2015-11-27 15:45:57", "buyer_total_fund_fee": 50000,
        "buyer_total_promotion_fee": 38888, "invoice_amount": 60000,
        "store_total_marketing_fee": 28888, "store_total_receivable_fee": 60000,
        "buyer_promotion_bill_list": [
            {"amount": 9000, "subject": "阿香米线10元代金券", "type": "coupon"},
            {"amount": 29888, "subject": "购物券", "type": "voucher"}],
        "store_fund_bills": [
            {"amount": 50000, "sub_fund_channel": "alipay_financeaccount", "fund_channel": "alipay",
             "disbursed_at": "2015-11-27 15:45:57", "payment_seq_no": "2013112011001004330000121536"},
            {"amount": 10000, "sub_fund_channel": "alipay_mj_subsidy", "fund_channel": "alipay"}]
    })
}

fn reject(kind: RecordKind, doc: &Value) -> (String, String) {
    match Record::from_json(kind, &doc.to_string()) {
        Ok(_) => panic!("accepted an invalid record: {doc}"),
        Err(e) => (e.field, e.reason),
    }
}

#[test]
fn a_consistent_onsite_trade_is_accepted_and_splits_at_query_time() {
    let r = Record::from_json(RecordKind::OnsiteTrade, &paid_onsite().to_string()).unwrap();
    let Record::OnsiteTrade(t) = r else { panic!() };
    let at = tradeq_model::Timestamp::parse("2015-11-27 15:50:53").unwrap();
    let split = t.split_fund_bills(at);
    assert_eq!(split.received_fee, 50000);
    assert_eq!(split.pending_fee, 10000);
    assert_eq!(
        split.received_fee + split.pending_fee,
        t.store_total_receivable_fee.unwrap()
    );
    let before = tradeq_model::Timestamp::parse("2015-11-27 15:45:56").unwrap();
    assert_eq!(t.split_fund_bills(before).received_fee, 0);
}

#[test]
fn buyer_side_identity_is_checked() {
    let mut doc = paid_onsite();
    doc["buyer_total_fund_fee"] = json!(49999);
    let (field, reason) = reject(RecordKind::OnsiteTrade, &doc);
    assert_eq!(field, "total_amount");
    assert_eq!(
        reason,
        "total_amount = buyer_total_fund_fee + buyer_total_promotion_fee does not hold: left side is 88888, right side is 88887"
    );
}

#[test]
fn store_side_identity_is_checked() {
    let mut doc = paid_onsite();
    doc["store_total_marketing_fee"] = json!(28000);
    let (field, reason) = reject(RecordKind::OnsiteTrade, &doc);
    assert_eq!(field, "total_amount");
    assert!(
        reason.starts_with("total_amount = store_total_receivable_fee + store_total_marketing_fee does not hold: left side is 88888, right side is 88000"),
        "{reason}"
    );
}

#[test]
fn fund_bills_must_sum_to_the_receivable() {
    let mut doc = paid_onsite();
    doc["store_fund_bills"][1]["amount"] = json!(9000);
    let (field, reason) = reject(RecordKind::OnsiteTrade, &doc);
    assert_eq!(field, "store_total_receivable_fee");
    assert!(
        reason.contains("store_total_received_fee + store_total_pending_fee"),
        "{reason}"
    );
    assert!(
        reason.contains("left side is 60000, right side is 59000"),
        "{reason}"
    );
}

#[test]
fn promotion_bills_must_sum_to_the_promotion_fee() {
    let mut doc = paid_onsite();
    doc["buyer_promotion_bill_list"][0]["amount"] = json!(8000);
    let (field, reason) = reject(RecordKind::OnsiteTrade, &doc);
    assert_eq!(field, "buyer_total_promotion_fee");
    assert!(
        reason.contains("left side is 38888, right side is 37888"),
        "{reason}"
    );
}

#[test]
fn payment_fields_exist_exactly_when_paid() {
    let mut doc = paid_onsite();
    doc["trade_status"] = json!("WAIT_BUYER_PAY");
    let (field, _) = reject(RecordKind::OnsiteTrade, &doc);
    assert_eq!(field, "gmt_payment");

    let mut doc = paid_onsite();
    doc.as_object_mut().unwrap().remove("gmt_payment");
    let (field, reason) = reject(RecordKind::OnsiteTrade, &doc);
    assert_eq!(field, "buyer_total_fund_fee");
    assert!(reason.contains("only once the trade is paid"), "{reason}");

    let mut doc = paid_onsite();
    doc.as_object_mut().unwrap().remove("invoice_amount");
    assert_eq!(reject(RecordKind::OnsiteTrade, &doc).0, "invoice_amount");
}

#[test]
fn a_received_bill_needs_its_serial_number() {
    let mut doc = paid_onsite();
    doc["store_fund_bills"][0]
        .as_object_mut()
        .unwrap()
        .remove("payment_seq_no");
    assert_eq!(
        reject(RecordKind::OnsiteTrade, &doc).0,
        "store_fund_bills[0].payment_seq_no"
    );
}

#[test]
fn voucher_identity_is_checked() {
    let doc = json!({
        "trade_no": "2013112011001004330000121536", "out_trade_no": "6823789339978248",
        "seller_id": "2088102146225135", "buyer_logon_id": "15901825620",
        "trade_status": "TRADE_SUCCESS", "total_amount": 8888,
        "voucher_detail_list": [{"id": "20183314556667", "name": "全场9折优惠券",
            "type": "ALIPAY_ITEM_VOUCHER", "amount": 1888, "merchant_contribute": 1200,
            "other_contribute": 600}]
    });
    let (field, reason) = reject(RecordKind::AlipayTrade, &doc);
    assert_eq!(field, "voucher_detail_list[0].amount");
    assert_eq!(
        reason,
        "amount = merchant_contribute + other_contribute does not hold: left side is 1888, right side is 1800"
    );
}

#[test]
fn statuses_take_exact_platform_spellings() {
    let mut doc = json!({
        "trade_no": "T", "out_trade_no": "O", "seller_id": "2088", "buyer_logon_id": "x@y.z",
        "trade_status": "trade_closed", "total_amount": 1
    });
    let (field, reason) = reject(RecordKind::AlipayTrade, &doc);
    assert_eq!(field, "trade_status");
    assert!(reason.contains("TRADE_CLOSED"), "{reason}");
    doc["trade_status"] = json!("TRADE_CLOSED");
    assert!(Record::from_json(RecordKind::AlipayTrade, &doc.to_string()).is_ok());
}

#[test]
fn type_errors_name_the_field_path() {
    let mut doc = paid_onsite();
    doc["store_fund_bills"][1]["amount"] = json!("lots");
    let (field, _) = reject(RecordKind::OnsiteTrade, &doc);
    assert_eq!(field, "store_fund_bills[1].amount");
    let mut doc = paid_onsite();
    doc["trade_status"] = json!("PAID");
    assert_eq!(reject(RecordKind::OnsiteTrade, &doc).0, "trade_status");
}

#[test]
fn money_currencies_follow_iso_minor_digits() {
    let doc = json!({
        "trade_no": "T", "out_trade_no": "O", "seller_id": "2088", "buyer_logon_id": "x@y.z",
        "trade_status": "TRADE_SUCCESS", "total_amount": 100, "trans_currency": "JPY"
    });
    let Record::AlipayTrade(t) =
        Record::from_json(RecordKind::AlipayTrade, &doc.to_string()).unwrap()
    else {
        panic!()
    };
    assert_eq!(t.money(t.total_amount).to_decimal_string(), "100");
    let mut bad = doc.clone();
    bad["trans_currency"] = json!("XYZ");
    assert_eq!(reject(RecordKind::AlipayTrade, &bad).0, "trans_currency");
}

#[test]
fn nul_characters_are_refused_at_the_door() {
    let mut doc = paid_onsite();
    doc["goods_detail_list"] =
        json!([{"quantity": "1", "price": "1", "goods_name": "a\u{0}b", "goods_id": "g"}]);
    let (field, reason) = reject(RecordKind::OnsiteTrade, &doc);
    assert_eq!(field, "goods_detail_list[0].goods_name");
    assert!(reason.contains("NUL"), "{reason}");
}

#[test]
fn text_after_the_record_is_refused_with_its_column() {
    let one = paid_onsite().to_string();
    assert!(Record::from_json(RecordKind::OnsiteTrade, &one).is_ok());
    assert!(Record::from_json(RecordKind::OnsiteTrade, &format!("  {one}  ")).is_ok());
    // Two records on one line: the second would have been dropped silently.
    let (field, reason) = reject_text(RecordKind::OnsiteTrade, &format!("{one}{one}"));
    assert_eq!(field, "(record)");
    let column = one.chars().count() + 1;
    assert!(
        reason.contains(&format!("column {column}")) && reason.contains("newline"),
        "{reason}"
    );
    let (_, reason) = reject_text(RecordKind::OnsiteTrade, &format!("{one} trailing"));
    assert!(
        reason.contains("unexpected text after the record"),
        "{reason}"
    );
}

fn reject_text(kind: RecordKind, text: &str) -> (String, String) {
    match Record::from_json(kind, text) {
        Ok(_) => panic!("accepted: {text}"),
        Err(e) => (e.field, e.reason),
    }
}

#[test]
fn decimal_amounts_and_misspelt_fields_say_what_to_write() {
    let mut doc = paid_onsite();
    doc["total_amount"] = json!("888.88");
    let (field, reason) = reject(RecordKind::OnsiteTrade, &doc);
    assert_eq!(field, "total_amount");
    assert!(reason.contains("minor units"), "{reason}");
    let mut doc = paid_onsite();
    doc["total_amount"] = json!(888.88);
    let (_, reason) = reject(RecordKind::OnsiteTrade, &doc);
    assert!(reason.contains("minor units"), "{reason}");

    let mut doc = paid_onsite();
    let value = doc["store_name"].take();
    doc.as_object_mut().map(|m| m.remove("store_name"));
    doc["stor_name"] = value;
    let (_, reason) = reject(RecordKind::OnsiteTrade, &doc);
    assert!(reason.contains("did you mean `store_name`?"), "{reason}");
}
