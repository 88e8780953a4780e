//! The store suite: every case runs against every backend (`tests/sqlite.rs`,
//! `tests/postgres.rs`), each on a fresh, empty store.

#![allow(dead_code)]

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::json;

use tradeq_model::credentials::{AlipayApp, AppAuthToken, TopApp, TopSession};
use tradeq_model::{KeyKind, Record, RecordKind, Timestamp};
use tradeq_store::{ImportCheckpoint, Store, StoreError, WriteOutcome};

/// Generates one `#[tokio::test]` per suite case, each calling `$harness(case)`.
macro_rules! store_suite {
    ($harness:path) => {
        $crate::suite::store_suite!(@cases $harness;
            insert_and_find_by_each_key,
            not_found_and_other_merchant,
            inapplicable_key_kinds_are_none,
            stale_write_rejected_with_both_stamps,
            same_write_twice_is_unchanged,
            newer_write_updates,
            equal_stamp_new_document_updates,
            missing_stamp_is_overwritten_by_any,
            primary_key_of_another_merchant_conflicts,
            out_trade_no_conflicts_within_merchant,
            short_trade_no_conflicts_within_merchant,
            changing_a_secondary_key_frees_the_old_one,
            batch_mixes_good_stale_and_conflicting,
            batch_duplicates_apply_in_order,
            batch_swaps_secondary_keys,
            batch_of_every_kind,
            batch_refuses_nul_characters,
            empty_batch,
            delete_is_audited,
            audit_since_pages,
            concurrent_writers_keep_the_newest,
            alipay_credentials_crud_and_cascade,
            top_credentials_crud_and_cascade,
            credential_of_unknown_app_is_refused,
            nonce_claim_replay_expiry,
            meta_values,
            fault_rules_crud_and_counters,
            fault_hits_never_exceed_times_under_concurrency,
            list_records_filters_and_pages,
            lifecycle_applies_on_the_third_query,
            lifecycle_refuses_a_step_that_breaks_an_invariant,
            lifecycle_of_a_plain_record_is_none,
            delete_and_clear_remove_lifecycles,
            clear_credentials_removes_every_credential,
            remove_lifecycles_forgets_progress,
            import_checkpoint_commits_with_its_batch,
        );
    };
    (@cases $harness:path; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                $harness(suite::$case).await;
            }
        )*
    };
}

pub(crate) use store_suite;

mod records;
pub use records::*;

// ----- test data (the documents' example values) -----

pub const SELLER: &str = "2088101117952222";
pub const OTHER_SELLER: &str = "2088101117953333";
pub const TRADE_NO: &str = "2013112011001004330000121536";
pub const OUT_TRADE_NO: &str = "6823789339978248";

fn record(kind: RecordKind, doc: serde_json::Value) -> Record {
    match Record::from_json(kind, &doc.to_string()) {
        Ok(r) => r,
        Err(e) => panic!("test record does not validate: {e}\n{doc}"),
    }
}

/// An Alipay trade as in docs/methods.md §2.
pub fn alipay(trade_no: &str, out_trade_no: &str, seller: &str, gmt: &str, version: i64) -> Record {
    record(
        RecordKind::AlipayTrade,
        json!({
            "trade_no": trade_no,
            "out_trade_no": out_trade_no,
            "seller_id": seller,
            "buyer_logon_id": "159****5620",
            "trade_status": "TRADE_SUCCESS",
            "total_amount": 8888,
            "buyer_pay_amount": 888,
            "point_amount": 10,
            "invoice_amount": 1211,
            "send_pay_date": "2014-11-27 15:45:57",
            "receipt_amount": 1525,
            "store_id": "nj_s_001",
            "terminal_id": "nj_t_001",
            "fund_bill_list": [{"fund_channel": "ALIPAYACCOUNT", "amount": 1000, "real_amount": 1121}],
            "store_name": "证大五道口店",
            "buyer_user_id": "2088101117955611",
            "subject": "Iphone6 16G",
            "gmt_modified": gmt,
            "version": version,
        }),
    )
}

/// The documented example trade (docs/methods.md §2), owned by [`SELLER`].
pub fn seed_trade(gmt: &str, version: i64) -> Record {
    alipay(TRADE_NO, OUT_TRADE_NO, SELLER, gmt, version)
}

/// The same record with another subject (same stamp, different document).
pub fn with_subject(r: &Record, subject: &str) -> Record {
    match r.clone() {
        Record::AlipayTrade(mut t) => {
            t.subject = Some(subject.to_string());
            Record::AlipayTrade(t)
        }
        other => other,
    }
}

/// An onsite trade as in docs/methods.md §3 (unpaid, so no fund identities to satisfy).
pub fn onsite(
    trade_no: &str,
    out_trade_no: &str,
    short: Option<&str>,
    merchant: &str,
    gmt: &str,
    version: i64,
) -> Record {
    let mut doc = json!({
        "trade_no": trade_no,
        "out_trade_no": out_trade_no,
        "merchant_id": merchant,
        "gmt_create": "2019-09-21 16:22:35",
        "buyer_id": "2088602146591234",
        "buyer_nick": "t***1",
        "trade_status": "WAIT_BUYER_PAY",
        "total_amount": 10000,
        "store_name": "喵街测试门店",
        "gmt_modified": gmt,
        "version": version,
    });
    if let Some(s) = short {
        doc["short_trade_no"] = json!(s);
    }
    record(RecordKind::OnsiteTrade, doc)
}

/// A Koubei item order as in docs/methods.md §1.
pub fn koubei(order_no: &str, partner: &str, gmt: &str, version: i64) -> Record {
    record(
        RecordKind::KoubeiOrder,
        json!({
            "order_no": order_no,
            "out_order_no": "2016082210032233",
            "partner_id": partner,
            "status": "PAID",
            "buyer_id": "2088102000912345",
            "biz_product": "ONLINE_TRADE_PAY",
            "gmt_create": "2016-09-29 00:00:00",
            "gmt_payment": "2016-09-29 00:01:00",
            "gmt_modified": gmt,
            "total_amount": 10000,
            "real_pay_amount": 9000,
            "discount_amount": 1000,
            "deliver_seller_real_amount": 9000,
            "item_order_vo": [{"item_order_no": "20161110000000001", "sku_id": "2017000000001", "quantity": 1, "price": 10000}],
            "version": version,
        }),
    )
}

/// An omni order as in docs/methods.md §5.
pub fn omni(order_id: &str, merchant: &str, gmt: &str, version: i64) -> Record {
    record(
        RecordKind::OmniOrder,
        json!({
            "order_id": order_id,
            "merchant_id": merchant,
            "out_order_id": "OUT-1234",
            "o2o_guide_id": 123456,
            "o2o_guide_name": "导购小王",
            "total_fee": 1000,
            "gmt_modified": gmt,
            "version": version,
        }),
    )
}

pub(crate) fn ts(s: &str) -> DateTime<Utc> {
    match Timestamp::parse(s) {
        Some(t) => t.0,
        None => panic!("bad time {s}"),
    }
}

async fn audit_count(store: &Arc<dyn Store>) -> usize {
    store.audit_since(0, 10_000).await.unwrap().len()
}

fn assert_conflict(
    result: &Result<WriteOutcome, StoreError>,
    field: &str,
    value: &str,
    holder: &str,
) {
    match result {
        Err(StoreError::KeyConflict {
            field: f,
            value: v,
            holder: h,
            ..
        }) => {
            assert_eq!(
                (*f, v.as_str(), h.as_str()),
                (field, value, holder),
                "{result:?}"
            );
        }
        other => panic!("expected a key conflict on {field}, got {other:?}"),
    }
}

// ----- cases -----

pub async fn insert_and_find_by_each_key(store: Arc<dyn Store>) {
    let trade = seed_trade("2014-11-27 15:45:57", 1);
    assert_eq!(store.upsert(&trade).await.unwrap(), WriteOutcome::Inserted);
    let a = RecordKind::AlipayTrade;
    let found = store
        .find(a, SELLER, KeyKind::Primary, TRADE_NO)
        .await
        .unwrap();
    assert_eq!(found.as_ref(), Some(&trade));
    let found = store
        .find(a, SELLER, KeyKind::OutTradeNo, OUT_TRADE_NO)
        .await
        .unwrap();
    assert_eq!(found.as_ref(), Some(&trade));
    assert_eq!(store.get(a, TRADE_NO).await.unwrap().as_ref(), Some(&trade));

    let o = onsite(
        "2019092122001400010000000001",
        "OUT-ONSITE-1",
        Some("123456"),
        SELLER,
        "2019-09-21 16:22:35",
        0,
    );
    assert_eq!(store.upsert(&o).await.unwrap(), WriteOutcome::Inserted);
    let k = RecordKind::OnsiteTrade;
    for (key, value) in [
        (KeyKind::Primary, "2019092122001400010000000001"),
        (KeyKind::OutTradeNo, "OUT-ONSITE-1"),
        (KeyKind::ShortTradeNo, "123456"),
    ] {
        let found = store.find(k, SELLER, key, value).await.unwrap();
        assert_eq!(found.as_ref(), Some(&o), "{key:?}");
    }
    // Trades without a short number never collide on it.
    let o2 = onsite(
        "2019092122001400010000000002",
        "OUT-ONSITE-2",
        None,
        SELLER,
        "2019-09-21 16:22:35",
        0,
    );
    let o3 = onsite(
        "2019092122001400010000000003",
        "OUT-ONSITE-3",
        None,
        SELLER,
        "2019-09-21 16:22:35",
        0,
    );
    assert_eq!(store.upsert(&o2).await.unwrap(), WriteOutcome::Inserted);
    assert_eq!(store.upsert(&o3).await.unwrap(), WriteOutcome::Inserted);

    let kb = koubei("20161110000000000001", SELLER, "2016-09-29 00:02:00", 0);
    assert_eq!(store.upsert(&kb).await.unwrap(), WriteOutcome::Inserted);
    let found = store
        .find(
            RecordKind::KoubeiOrder,
            SELLER,
            KeyKind::Primary,
            "20161110000000000001",
        )
        .await
        .unwrap();
    assert_eq!(found.as_ref(), Some(&kb));

    let om = omni("OMNI-0001", SELLER, "2018-01-01 00:00:00", 0);
    assert_eq!(store.upsert(&om).await.unwrap(), WriteOutcome::Inserted);
    let found = store
        .find(RecordKind::OmniOrder, SELLER, KeyKind::Primary, "OMNI-0001")
        .await
        .unwrap();
    assert_eq!(found.as_ref(), Some(&om));

    assert_eq!(store.count(RecordKind::AlipayTrade).await.unwrap(), 1);
    assert_eq!(store.count(RecordKind::OnsiteTrade).await.unwrap(), 3);
    assert_eq!(store.count(RecordKind::KoubeiOrder).await.unwrap(), 1);
    assert_eq!(store.count(RecordKind::OmniOrder).await.unwrap(), 1);
}

pub async fn not_found_and_other_merchant(store: Arc<dyn Store>) {
    let a = RecordKind::AlipayTrade;
    assert_eq!(
        store
            .find(a, SELLER, KeyKind::Primary, TRADE_NO)
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.get(a, TRADE_NO).await.unwrap(), None);
    store
        .upsert(&seed_trade("2014-11-27 15:45:57", 1))
        .await
        .unwrap();
    // Another merchant's record is exactly as absent as a missing one.
    for (key, value) in [
        (KeyKind::Primary, TRADE_NO),
        (KeyKind::OutTradeNo, OUT_TRADE_NO),
    ] {
        assert_eq!(
            store.find(a, OTHER_SELLER, key, value).await.unwrap(),
            None,
            "{key:?}"
        );
    }
    assert_eq!(
        store
            .find(a, SELLER, KeyKind::Primary, "2013112011001004330000000000")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .find(a, SELLER, KeyKind::OutTradeNo, "nope")
            .await
            .unwrap(),
        None
    );
    // Lookups are by exact key, not pattern.
    assert_eq!(
        store
            .find(a, SELLER, KeyKind::Primary, "2013112011001004330000121%")
            .await
            .unwrap(),
        None
    );

    let o = onsite(
        "2019092122001400010000000001",
        "OUT-ONSITE-1",
        Some("123456"),
        SELLER,
        "2019-09-21 16:22:35",
        0,
    );
    store.upsert(&o).await.unwrap();
    let k = RecordKind::OnsiteTrade;
    for (key, value) in [
        (KeyKind::Primary, "2019092122001400010000000001"),
        (KeyKind::OutTradeNo, "OUT-ONSITE-1"),
        (KeyKind::ShortTradeNo, "123456"),
    ] {
        assert_eq!(
            store.find(k, OTHER_SELLER, key, value).await.unwrap(),
            None,
            "{key:?}"
        );
    }
    // The same key of another kind is another record.
    assert_eq!(
        store
            .find(k, SELLER, KeyKind::Primary, TRADE_NO)
            .await
            .unwrap(),
        None
    );
}

pub async fn inapplicable_key_kinds_are_none(store: Arc<dyn Store>) {
    store
        .upsert(&seed_trade("2014-11-27 15:45:57", 1))
        .await
        .unwrap();
    let kb = koubei("20161110000000000001", SELLER, "2016-09-29 00:02:00", 0);
    store.upsert(&kb).await.unwrap();
    let om = omni("OMNI-0001", SELLER, "2018-01-01 00:00:00", 0);
    store.upsert(&om).await.unwrap();
    let none = [
        (RecordKind::AlipayTrade, KeyKind::ShortTradeNo, OUT_TRADE_NO),
        (
            RecordKind::KoubeiOrder,
            KeyKind::OutTradeNo,
            "2016082210032233",
        ),
        (
            RecordKind::KoubeiOrder,
            KeyKind::ShortTradeNo,
            "20161110000000000001",
        ),
        (RecordKind::OmniOrder, KeyKind::OutTradeNo, "OUT-1234"),
        (RecordKind::OmniOrder, KeyKind::ShortTradeNo, "OMNI-0001"),
    ];
    for (kind, key, value) in none {
        assert_eq!(
            store.find(kind, SELLER, key, value).await.unwrap(),
            None,
            "{kind} {key:?}"
        );
    }
}

pub async fn stale_write_rejected_with_both_stamps(store: Arc<dyn Store>) {
    let newer = seed_trade("2014-11-27 15:45:57", 3);
    store.upsert(&newer).await.unwrap();
    // Older gmt_modified with a higher version: gmt_modified decides first.
    let older = with_subject(&seed_trade("2014-11-27 15:45:56", 9), "late event");
    let err = store.upsert(&older).await.unwrap_err();
    match &err {
        StoreError::Stale {
            kind,
            key,
            incoming,
            stored,
        } => {
            assert_eq!(*kind, RecordKind::AlipayTrade);
            assert_eq!(key, TRADE_NO);
            assert_eq!(incoming.version, 9);
            assert_eq!(stored.version, 3);
        }
        other => panic!("expected stale, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains("gmt_modified 2014-11-27 15:45:56, version 9"),
        "{msg}"
    );
    assert!(
        msg.contains("gmt_modified 2014-11-27 15:45:57, version 3"),
        "{msg}"
    );
    // Same gmt_modified, lower version.
    let err = store
        .upsert(&with_subject(&seed_trade("2014-11-27 15:45:57", 2), "x"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Stale { .. }), "{err:?}");
    // Nothing changed and nothing was audited beyond the insert.
    let stored = store.get(RecordKind::AlipayTrade, TRADE_NO).await.unwrap();
    assert_eq!(stored.as_ref(), Some(&newer));
    assert_eq!(audit_count(&store).await, 1);
}

pub async fn same_write_twice_is_unchanged(store: Arc<dyn Store>) {
    let t = seed_trade("2014-11-27 15:45:57", 1);
    assert_eq!(store.upsert(&t).await.unwrap(), WriteOutcome::Inserted);
    assert_eq!(store.upsert(&t).await.unwrap(), WriteOutcome::Unchanged);
    assert_eq!(
        store.upsert(&t.clone()).await.unwrap(),
        WriteOutcome::Unchanged
    );
    let audit = store.audit_since(0, 100).await.unwrap();
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!(audit[0].action, "inserted");
    assert_eq!(audit[0].key, TRADE_NO);
    assert_eq!(audit[0].merchant, SELLER);
    assert_eq!(audit[0].kind, RecordKind::AlipayTrade);
    assert_eq!(audit[0].version, t.version_stamp());
    let now = Utc::now();
    let age = now.signed_duration_since(audit[0].at).num_seconds().abs();
    assert!(
        age < 600,
        "audit time {} is far from now {now}",
        audit[0].at
    );
}

pub async fn newer_write_updates(store: Arc<dyn Store>) {
    let v1 = seed_trade("2014-11-27 15:45:57", 1);
    store.upsert(&v1).await.unwrap();
    let v2 = with_subject(&seed_trade("2014-11-27 15:45:57", 2), "version 2");
    assert_eq!(store.upsert(&v2).await.unwrap(), WriteOutcome::Updated);
    let v3 = with_subject(&seed_trade("2014-11-28 00:00:00", 0), "a day later");
    assert_eq!(store.upsert(&v3).await.unwrap(), WriteOutcome::Updated);
    let found = store
        .find(RecordKind::AlipayTrade, SELLER, KeyKind::Primary, TRADE_NO)
        .await
        .unwrap();
    assert_eq!(found.as_ref(), Some(&v3));
    let actions: Vec<_> = store
        .audit_since(0, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.action, e.version))
        .collect();
    assert_eq!(
        actions,
        vec![
            ("inserted".to_string(), v1.version_stamp()),
            ("updated".to_string(), v2.version_stamp()),
            ("updated".to_string(), v3.version_stamp()),
        ]
    );
}

pub async fn equal_stamp_new_document_updates(store: Arc<dyn Store>) {
    let t = seed_trade("2014-11-27 15:45:57", 1);
    store.upsert(&t).await.unwrap();
    let corrected = with_subject(&t, "corrected subject");
    assert_eq!(
        store.upsert(&corrected).await.unwrap(),
        WriteOutcome::Updated
    );
    assert_eq!(
        store
            .get(RecordKind::AlipayTrade, TRADE_NO)
            .await
            .unwrap()
            .as_ref(),
        Some(&corrected)
    );
    assert_eq!(audit_count(&store).await, 2);
}

pub async fn missing_stamp_is_overwritten_by_any(store: Arc<dyn Store>) {
    let mut bare = seed_trade("2014-11-27 15:45:57", 0);
    if let Record::AlipayTrade(t) = &mut bare {
        t.gmt_modified = None;
        t.version = None;
    }
    assert_eq!(store.upsert(&bare).await.unwrap(), WriteOutcome::Inserted);
    assert_eq!(store.upsert(&bare).await.unwrap(), WriteOutcome::Unchanged);
    let stamped = seed_trade("2000-01-01 00:00:00", 0);
    assert_eq!(store.upsert(&stamped).await.unwrap(), WriteOutcome::Updated);
    let err = store.upsert(&bare).await.unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("no gmt_modified, version 0"), "{msg}");
    let audit = store.audit_since(0, 10).await.unwrap();
    assert_eq!(audit[0].version.gmt_modified, None);
    assert_eq!(
        audit[1].version.gmt_modified.map(|t| t.0),
        Some(ts("2000-01-01 00:00:00"))
    );
}

pub async fn primary_key_of_another_merchant_conflicts(store: Arc<dyn Store>) {
    store
        .upsert(&seed_trade("2014-11-27 15:45:57", 1))
        .await
        .unwrap();
    // Even a newer write may not take over another merchant's trade.
    let intruder = alipay(
        TRADE_NO,
        "OTHER-OUT",
        OTHER_SELLER,
        "2015-01-01 00:00:00",
        5,
    );
    let result = store.upsert(&intruder).await;
    assert_conflict(&result, "trade_no", TRADE_NO, "another merchant");
    // The refusal does not reveal the stored version.
    let msg = result.unwrap_err().to_string();
    assert!(!msg.contains("version 1"), "{msg}");
    assert!(!msg.contains(SELLER), "{msg}");
    let stored = store
        .get(RecordKind::AlipayTrade, TRADE_NO)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.merchant(), SELLER);

    store
        .upsert(&koubei("KB-1", SELLER, "2016-09-29 00:02:00", 0))
        .await
        .unwrap();
    let result = store
        .upsert(&koubei("KB-1", OTHER_SELLER, "2016-09-29 00:03:00", 0))
        .await;
    assert_conflict(&result, "order_no", "KB-1", "another merchant");
    assert_eq!(audit_count(&store).await, 2);
}

pub async fn out_trade_no_conflicts_within_merchant(store: Arc<dyn Store>) {
    store
        .upsert(&seed_trade("2014-11-27 15:45:57", 1))
        .await
        .unwrap();
    let twin = alipay(
        "2013112011001004330000121537",
        OUT_TRADE_NO,
        SELLER,
        "2014-11-27 15:45:58",
        1,
    );
    let result = store.upsert(&twin).await;
    assert_conflict(&result, "out_trade_no", OUT_TRADE_NO, TRADE_NO);
    // The same out_trade_no at another merchant is no conflict.
    let elsewhere = alipay(
        "2013112011001004330000121537",
        OUT_TRADE_NO,
        OTHER_SELLER,
        "2014-11-27 15:45:58",
        1,
    );
    assert_eq!(
        store.upsert(&elsewhere).await.unwrap(),
        WriteOutcome::Inserted
    );
    let a = RecordKind::AlipayTrade;
    let mine = store
        .find(a, SELLER, KeyKind::OutTradeNo, OUT_TRADE_NO)
        .await
        .unwrap()
        .unwrap();
    let theirs = store
        .find(a, OTHER_SELLER, KeyKind::OutTradeNo, OUT_TRADE_NO)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(mine.primary_key(), TRADE_NO);
    assert_eq!(theirs.primary_key(), "2013112011001004330000121537");

    // Onsite trades are unique per merchant on out_trade_no too.
    store
        .upsert(&onsite(
            "ON-1",
            "OUT-X",
            None,
            SELLER,
            "2019-09-21 16:22:35",
            0,
        ))
        .await
        .unwrap();
    let result = store
        .upsert(&onsite(
            "ON-2",
            "OUT-X",
            None,
            SELLER,
            "2019-09-21 16:22:35",
            0,
        ))
        .await;
    assert_conflict(&result, "out_trade_no", "OUT-X", "ON-1");
}

pub async fn short_trade_no_conflicts_within_merchant(store: Arc<dyn Store>) {
    store
        .upsert(&onsite(
            "ON-1",
            "OUT-1",
            Some("88881234"),
            SELLER,
            "2019-09-21 16:22:35",
            0,
        ))
        .await
        .unwrap();
    let result = store
        .upsert(&onsite(
            "ON-2",
            "OUT-2",
            Some("88881234"),
            SELLER,
            "2019-09-21 16:22:35",
            0,
        ))
        .await;
    assert_conflict(&result, "short_trade_no", "88881234", "ON-1");
    let other = onsite(
        "ON-3",
        "OUT-1",
        Some("88881234"),
        OTHER_SELLER,
        "2019-09-21 16:22:35",
        0,
    );
    assert_eq!(store.upsert(&other).await.unwrap(), WriteOutcome::Inserted);
    let k = RecordKind::OnsiteTrade;
    let found = store
        .find(k, OTHER_SELLER, KeyKind::ShortTradeNo, "88881234")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.primary_key(), "ON-3");
    let found = store
        .find(k, SELLER, KeyKind::ShortTradeNo, "88881234")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.primary_key(), "ON-1");
}

pub async fn changing_a_secondary_key_frees_the_old_one(store: Arc<dyn Store>) {
    store
        .upsert(&onsite(
            "ON-1",
            "OUT-A",
            Some("S-A"),
            SELLER,
            "2019-09-21 16:22:35",
            0,
        ))
        .await
        .unwrap();
    let moved = onsite(
        "ON-1",
        "OUT-B",
        Some("S-B"),
        SELLER,
        "2019-09-21 16:22:36",
        0,
    );
    assert_eq!(store.upsert(&moved).await.unwrap(), WriteOutcome::Updated);
    let k = RecordKind::OnsiteTrade;
    assert_eq!(
        store
            .find(k, SELLER, KeyKind::OutTradeNo, "OUT-A")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .find(k, SELLER, KeyKind::ShortTradeNo, "S-A")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .find(k, SELLER, KeyKind::OutTradeNo, "OUT-B")
            .await
            .unwrap()
            .as_ref(),
        Some(&moved)
    );
    // The freed keys can be taken by another trade.
    let taker = onsite(
        "ON-2",
        "OUT-A",
        Some("S-A"),
        SELLER,
        "2019-09-21 16:22:37",
        0,
    );
    assert_eq!(store.upsert(&taker).await.unwrap(), WriteOutcome::Inserted);
    // Dropping a short number frees it as well.
    let dropped = onsite("ON-1", "OUT-B", None, SELLER, "2019-09-21 16:22:38", 0);
    assert_eq!(store.upsert(&dropped).await.unwrap(), WriteOutcome::Updated);
    let third = onsite(
        "ON-3",
        "OUT-C",
        Some("S-B"),
        SELLER,
        "2019-09-21 16:22:39",
        0,
    );
    assert_eq!(store.upsert(&third).await.unwrap(), WriteOutcome::Inserted);
}

pub async fn batch_mixes_good_stale_and_conflicting(store: Arc<dyn Store>) {
    store
        .upsert(&seed_trade("2014-11-27 15:45:57", 5))
        .await
        .unwrap();
    store
        .upsert(&alipay(
            "T-OTHER",
            "O-OTHER",
            OTHER_SELLER,
            "2014-11-27 15:45:57",
            0,
        ))
        .await
        .unwrap();
    let before = audit_count(&store).await;
    let batch = vec![
        alipay("T-1", "O-1", SELLER, "2014-11-27 15:45:57", 0), // good: inserted
        seed_trade("2014-11-27 15:45:57", 4),                   // stale
        alipay("T-2", OUT_TRADE_NO, SELLER, "2014-11-27 15:45:57", 0), // out_trade_no taken
        alipay("T-OTHER", "O-OTHER", SELLER, "2014-11-28 00:00:00", 0), // another merchant's key
        with_subject(&seed_trade("2014-11-27 15:45:57", 6), "v6"), // good: updated
        seed_trade("2014-11-27 15:45:57", 6),                   // same stamp, new doc: updated
        alipay("T-3", "O-3", SELLER, "2014-11-27 15:45:57", 0), // good: inserted
    ];
    let outcomes = store.upsert_batch(&batch).await.unwrap();
    assert_eq!(outcomes.len(), batch.len());
    assert_eq!(outcomes[0].as_ref().ok(), Some(&WriteOutcome::Inserted));
    assert!(
        matches!(outcomes[1], Err(StoreError::Stale { .. })),
        "{:?}",
        outcomes[1]
    );
    assert_conflict(&outcomes[2], "out_trade_no", OUT_TRADE_NO, TRADE_NO);
    assert_conflict(&outcomes[3], "trade_no", "T-OTHER", "another merchant");
    assert_eq!(outcomes[4].as_ref().ok(), Some(&WriteOutcome::Updated));
    assert_eq!(outcomes[5].as_ref().ok(), Some(&WriteOutcome::Updated));
    assert_eq!(outcomes[6].as_ref().ok(), Some(&WriteOutcome::Inserted));

    let a = RecordKind::AlipayTrade;
    assert_eq!(store.count(a).await.unwrap(), 4);
    assert_eq!(
        store.get(a, TRADE_NO).await.unwrap().as_ref(),
        Some(&batch[5])
    );
    assert_eq!(store.get(a, "T-2").await.unwrap(), None);
    assert_eq!(
        store.get(a, "T-OTHER").await.unwrap().unwrap().merchant(),
        OTHER_SELLER
    );
    let audit = store.audit_since(0, 100).await.unwrap();
    let new: Vec<_> = audit[before..]
        .iter()
        .map(|e| (e.key.as_str(), e.action.as_str()))
        .collect();
    assert_eq!(
        new,
        vec![
            ("T-1", "inserted"),
            (TRADE_NO, "updated"),
            (TRADE_NO, "updated"),
            ("T-3", "inserted")
        ]
    );
    // Sequence numbers increase.
    assert!(audit.windows(2).all(|w| w[0].seq < w[1].seq));
}

pub async fn batch_duplicates_apply_in_order(store: Arc<dyn Store>) {
    let v1 = alipay("T-1", "O-1", SELLER, "2014-11-27 15:45:57", 1);
    let v2 = alipay("T-1", "O-2", SELLER, "2014-11-27 15:45:57", 2);
    let batch = vec![
        v1.clone(),
        v1.clone(),                                             // identical: unchanged
        v2.clone(),                                             // newer, moves to O-2: updated
        alipay("T-1", "O-9", SELLER, "2014-11-27 15:45:57", 1), // older than v2: stale
        alipay("T-2", "O-1", SELLER, "2014-11-27 15:45:57", 0), // O-1 was freed by v2
        alipay("T-3", "O-2", SELLER, "2014-11-27 15:45:57", 0), // O-2 is T-1's now
        alipay("T-4", "O-4", OTHER_SELLER, "2014-11-27 15:45:57", 0),
        alipay("T-4", "O-4", SELLER, "2014-11-27 15:45:58", 0), // T-4 belongs to OTHER_SELLER now
    ];
    let outcomes = store.upsert_batch(&batch).await.unwrap();
    assert_eq!(outcomes[0].as_ref().ok(), Some(&WriteOutcome::Inserted));
    assert_eq!(outcomes[1].as_ref().ok(), Some(&WriteOutcome::Unchanged));
    assert_eq!(outcomes[2].as_ref().ok(), Some(&WriteOutcome::Updated));
    assert!(
        matches!(outcomes[3], Err(StoreError::Stale { .. })),
        "{:?}",
        outcomes[3]
    );
    assert_eq!(outcomes[4].as_ref().ok(), Some(&WriteOutcome::Inserted));
    assert_conflict(&outcomes[5], "out_trade_no", "O-2", "T-1");
    assert_eq!(outcomes[6].as_ref().ok(), Some(&WriteOutcome::Inserted));
    assert_conflict(&outcomes[7], "trade_no", "T-4", "another merchant");

    let a = RecordKind::AlipayTrade;
    assert_eq!(store.get(a, "T-1").await.unwrap().as_ref(), Some(&v2));
    assert_eq!(
        store
            .find(a, SELLER, KeyKind::OutTradeNo, "O-1")
            .await
            .unwrap()
            .unwrap()
            .primary_key(),
        "T-2"
    );
    assert_eq!(
        store
            .find(a, SELLER, KeyKind::OutTradeNo, "O-2")
            .await
            .unwrap()
            .unwrap()
            .primary_key(),
        "T-1"
    );
    let audit: Vec<_> = store
        .audit_since(0, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.key, e.action))
        .collect();
    let expected: Vec<(String, String)> = [
        ("T-1", "inserted"),
        ("T-1", "updated"),
        ("T-2", "inserted"),
        ("T-4", "inserted"),
    ]
    .iter()
    .map(|(k, a)| (k.to_string(), a.to_string()))
    .collect();
    assert_eq!(audit, expected);
    // Replaying the whole batch changes nothing.
    let again = store.upsert_batch(&batch).await.unwrap();
    assert!(
        again
            .iter()
            .all(|o| !matches!(o, Ok(WriteOutcome::Inserted) | Ok(WriteOutcome::Updated))),
        "{again:?}"
    );
    assert_eq!(audit_count(&store).await, 4);
}

pub async fn batch_swaps_secondary_keys(store: Arc<dyn Store>) {
    let gmt = "2019-09-21 16:22:35";
    store
        .upsert_batch(&[
            onsite("ON-1", "OUT-A", Some("S-A"), SELLER, gmt, 0),
            onsite("ON-2", "OUT-B", Some("S-B"), SELLER, gmt, 0),
        ])
        .await
        .unwrap();
    // Swapping needs an intermediate value within the batch, exactly as it would one by one.
    let later = "2019-09-21 16:22:36";
    let outcomes = store
        .upsert_batch(&[
            onsite("ON-1", "OUT-TMP", Some("S-TMP"), SELLER, later, 1),
            onsite("ON-2", "OUT-A", Some("S-A"), SELLER, later, 1),
            onsite("ON-1", "OUT-B", Some("S-B"), SELLER, later, 2),
        ])
        .await
        .unwrap();
    assert!(
        outcomes
            .iter()
            .all(|o| o.as_ref().ok() == Some(&WriteOutcome::Updated)),
        "{outcomes:?}"
    );
    let k = RecordKind::OnsiteTrade;
    let find = |key, v: &'static str| {
        let store = store.clone();
        async move {
            store
                .find(k, SELLER, key, v)
                .await
                .unwrap()
                .map(|r| r.primary_key().to_string())
        }
    };
    assert_eq!(
        find(KeyKind::OutTradeNo, "OUT-A").await.as_deref(),
        Some("ON-2")
    );
    assert_eq!(
        find(KeyKind::OutTradeNo, "OUT-B").await.as_deref(),
        Some("ON-1")
    );
    assert_eq!(
        find(KeyKind::ShortTradeNo, "S-A").await.as_deref(),
        Some("ON-2")
    );
    assert_eq!(
        find(KeyKind::ShortTradeNo, "S-B").await.as_deref(),
        Some("ON-1")
    );
    assert_eq!(find(KeyKind::OutTradeNo, "OUT-TMP").await, None);
    assert_eq!(store.count(k).await.unwrap(), 2);
}

pub async fn batch_of_every_kind(store: Arc<dyn Store>) {
    let batch = vec![
        omni("OMNI-1", SELLER, "2018-01-01 00:00:00", 0),
        seed_trade("2014-11-27 15:45:57", 1),
        koubei("KB-1", SELLER, "2016-09-29 00:02:00", 0),
        onsite(
            "ON-1",
            OUT_TRADE_NO,
            Some("1234"),
            SELLER,
            "2019-09-21 16:22:35",
            0,
        ),
        omni("OMNI-2", OTHER_SELLER, "2018-01-01 00:00:00", 0),
    ];
    let outcomes = store.upsert_batch(&batch).await.unwrap();
    assert!(
        outcomes
            .iter()
            .all(|o| o.as_ref().ok() == Some(&WriteOutcome::Inserted)),
        "{outcomes:?}"
    );
    for r in &batch {
        let found = store
            .find(r.kind(), r.merchant(), KeyKind::Primary, r.primary_key())
            .await
            .unwrap();
        assert_eq!(found.as_ref(), Some(r));
    }
    assert_eq!(store.count(RecordKind::OmniOrder).await.unwrap(), 2);
    // The audit follows the input order across kinds.
    let keys: Vec<_> = store
        .audit_since(0, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.kind, e.key))
        .collect();
    let expected: Vec<_> = batch
        .iter()
        .map(|r| (r.kind(), r.primary_key().to_string()))
        .collect();
    assert_eq!(keys, expected);
}

pub async fn batch_refuses_nul_characters(store: Arc<dyn Store>) {
    let bad = with_subject(
        &alipay("T-NUL", "O-NUL", SELLER, "2014-11-27 15:45:57", 0),
        "a\u{0}b",
    );
    let good = alipay("T-OK", "O-OK", SELLER, "2014-11-27 15:45:57", 0);
    let outcomes = store.upsert_batch(&[bad, good]).await.unwrap();
    assert!(
        matches!(outcomes[0], Err(StoreError::Unstorable { .. })),
        "{:?}",
        outcomes[0]
    );
    assert_eq!(outcomes[1].as_ref().ok(), Some(&WriteOutcome::Inserted));
    assert_eq!(store.count(RecordKind::AlipayTrade).await.unwrap(), 1);
    // A backslash followed by "u0000" is ordinary text.
    let fine = with_subject(
        &alipay("T-BS", "O-BS", SELLER, "2014-11-27 15:45:57", 0),
        "\\u0000",
    );
    assert_eq!(store.upsert(&fine).await.unwrap(), WriteOutcome::Inserted);
    assert_eq!(
        store
            .get(RecordKind::AlipayTrade, "T-BS")
            .await
            .unwrap()
            .as_ref(),
        Some(&fine)
    );
}

pub async fn empty_batch(store: Arc<dyn Store>) {
    assert!(store.upsert_batch(&[]).await.unwrap().is_empty());
    assert_eq!(audit_count(&store).await, 0);
}

pub async fn delete_is_audited(store: Arc<dyn Store>) {
    let t = seed_trade("2014-11-27 15:45:57", 7);
    store.upsert(&t).await.unwrap();
    assert!(store
        .delete(RecordKind::AlipayTrade, TRADE_NO)
        .await
        .unwrap());
    assert!(!store
        .delete(RecordKind::AlipayTrade, TRADE_NO)
        .await
        .unwrap());
    assert!(!store
        .delete(RecordKind::OnsiteTrade, TRADE_NO)
        .await
        .unwrap());
    let a = RecordKind::AlipayTrade;
    assert_eq!(
        store
            .find(a, SELLER, KeyKind::Primary, TRADE_NO)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .find(a, SELLER, KeyKind::OutTradeNo, OUT_TRADE_NO)
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.count(a).await.unwrap(), 0);
    let audit = store.audit_since(0, 100).await.unwrap();
    assert_eq!(audit.len(), 2);
    assert_eq!(audit[1].action, "deleted");
    assert_eq!(audit[1].key, TRADE_NO);
    assert_eq!(audit[1].merchant, SELLER);
    assert_eq!(audit[1].version, t.version_stamp());
    // After a delete the keys are free again, even for an older version.
    let older = seed_trade("2014-11-27 15:45:00", 1);
    assert_eq!(store.upsert(&older).await.unwrap(), WriteOutcome::Inserted);
}

pub async fn audit_since_pages(store: Arc<dyn Store>) {
    let batch: Vec<_> = (0..25)
        .map(|i| {
            alipay(
                &format!("T-{i:03}"),
                &format!("O-{i:03}"),
                SELLER,
                "2014-11-27 15:45:57",
                0,
            )
        })
        .collect();
    store.upsert_batch(&batch).await.unwrap();
    let mut after = 0;
    let mut keys = Vec::new();
    loop {
        let page = store.audit_since(after, 10).await.unwrap();
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 10);
        assert!(page.iter().all(|e| e.seq > after));
        after = page[page.len() - 1].seq;
        keys.extend(page.into_iter().map(|e| e.key));
    }
    let expected: Vec<_> = (0..25).map(|i| format!("T-{i:03}")).collect();
    assert_eq!(keys, expected);
    assert!(store.audit_since(after, 10).await.unwrap().is_empty());
    assert!(store.audit_since(0, 0).await.unwrap().is_empty());
}

pub async fn concurrent_writers_keep_the_newest(store: Arc<dyn Store>) {
    let mut tasks = Vec::new();
    for w in 0..6i64 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut outcomes = Vec::new();
            for v in 0..10i64 {
                // Each writer walks the versions in its own order.
                let version = (v * 7 + w * 3) % 10;
                let r = with_subject(
                    &seed_trade("2014-11-27 15:45:57", version),
                    &format!("v{version}"),
                );
                outcomes.push(store.upsert(&r).await);
            }
            outcomes
        }));
    }
    let mut accepted = 0;
    for t in tasks {
        for o in t.await.unwrap() {
            match o {
                Ok(WriteOutcome::Inserted | WriteOutcome::Updated) => accepted += 1,
                Ok(WriteOutcome::Unchanged) | Err(StoreError::Stale { .. }) => {}
                Err(e) => panic!("unexpected error under concurrency: {e}"),
            }
        }
    }
    let stored = store
        .get(RecordKind::AlipayTrade, TRADE_NO)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.version_stamp().version, 9);
    assert_eq!(audit_count(&store).await, accepted);
    // Accepted writes were strictly increasing.
    let versions: Vec<_> = store
        .audit_since(0, 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.version.version)
        .collect();
    assert!(versions.windows(2).all(|w| w[0] < w[1]), "{versions:?}");
}

pub fn alipay_app(app_id: &str, merchant: &str) -> AlipayApp {
    AlipayApp {
        app_id: app_id.to_string(),
        merchant_pid: merchant.to_string(),
        app_public_key_pem: "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----\n"
            .to_string(),
        sign_types: vec!["RSA2".to_string(), "RSA".to_string()],
        platform_private_key_pem: "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n"
            .to_string(),
        platform_public_key_pem: "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----\n"
            .to_string(),
        aes_key: Some("aGVsbG8gd29ybGQgMTIzNA==".to_string()),
        always_fund_bill_list: false,
        cert_mode: None,
    }
}

pub async fn alipay_credentials_crud_and_cascade(store: Arc<dyn Store>) {
    assert_eq!(
        store.get_alipay_app("2021000000000001").await.unwrap(),
        None
    );
    let app = alipay_app("2021000000000001", SELLER);
    store.put_alipay_app(&app).await.unwrap();
    store
        .put_alipay_app(&alipay_app("2021000000000002", OTHER_SELLER))
        .await
        .unwrap();
    assert_eq!(
        store
            .get_alipay_app("2021000000000001")
            .await
            .unwrap()
            .as_ref(),
        Some(&app)
    );

    let token = AppAuthToken {
        token: "202101BBd1a7d8f1c2e3".to_string(),
        app_id: app.app_id.clone(),
        merchant_pid: OTHER_SELLER.to_string(),
        expires_at: Timestamp::parse("2030-01-01 00:00:00"),
    };
    let token2 = AppAuthToken {
        token: "202101BBffffffffffff".to_string(),
        app_id: "2021000000000002".to_string(),
        merchant_pid: SELLER.to_string(),
        expires_at: None,
    };
    store.put_app_auth_token(&token).await.unwrap();
    store.put_app_auth_token(&token2).await.unwrap();
    assert_eq!(
        store
            .get_app_auth_token(&token.token)
            .await
            .unwrap()
            .as_ref(),
        Some(&token)
    );
    assert_eq!(store.list_app_auth_tokens().await.unwrap().len(), 2);

    // Replacing an app keeps its tokens.
    let mut changed = app.clone();
    changed.always_fund_bill_list = true;
    changed.aes_key = None;
    store.put_alipay_app(&changed).await.unwrap();
    assert_eq!(
        store.get_alipay_app(&app.app_id).await.unwrap().as_ref(),
        Some(&changed)
    );
    assert!(store
        .get_app_auth_token(&token.token)
        .await
        .unwrap()
        .is_some());

    let ids: Vec<_> = store
        .list_alipay_apps()
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.app_id)
        .collect();
    assert_eq!(ids, vec!["2021000000000001", "2021000000000002"]);

    // Replacing a token.
    let mut t2 = token.clone();
    t2.expires_at = None;
    store.put_app_auth_token(&t2).await.unwrap();
    assert_eq!(
        store
            .get_app_auth_token(&token.token)
            .await
            .unwrap()
            .as_ref(),
        Some(&t2)
    );

    // Deleting the app takes its tokens with it, and only its tokens.
    assert!(store.delete_alipay_app(&app.app_id).await.unwrap());
    assert!(!store.delete_alipay_app(&app.app_id).await.unwrap());
    assert_eq!(store.get_alipay_app(&app.app_id).await.unwrap(), None);
    assert_eq!(store.get_app_auth_token(&token.token).await.unwrap(), None);
    assert_eq!(
        store.list_app_auth_tokens().await.unwrap(),
        vec![token2.clone()]
    );

    assert!(store.delete_app_auth_token(&token2.token).await.unwrap());
    assert!(!store.delete_app_auth_token(&token2.token).await.unwrap());
    assert!(store.list_app_auth_tokens().await.unwrap().is_empty());
}

pub async fn top_credentials_crud_and_cascade(store: Arc<dyn Store>) {
    let app = TopApp {
        app_key: "12345678".to_string(),
        app_secret: "helloworld".to_string(),
        sign_methods: vec![
            "md5".to_string(),
            "hmac".to_string(),
            "hmac-sha256".to_string(),
        ],
        merchant_id: SELLER.to_string(),
    };
    let other = TopApp {
        app_key: "87654321".to_string(),
        app_secret: "s3cret".to_string(),
        sign_methods: vec!["md5".to_string()],
        merchant_id: OTHER_SELLER.to_string(),
    };
    store.put_top_app(&app).await.unwrap();
    store.put_top_app(&other).await.unwrap();
    assert_eq!(
        store.get_top_app("12345678").await.unwrap().as_ref(),
        Some(&app)
    );
    assert_eq!(store.get_top_app("nope").await.unwrap(), None);
    assert_eq!(
        store.list_top_apps().await.unwrap(),
        vec![app.clone(), other.clone()]
    );

    let session = TopSession {
        session: "6100e23657fb0b2d0c78568e55a3031134be9a3a5d4b3a365753805".to_string(),
        app_key: app.app_key.clone(),
        merchant_id: OTHER_SELLER.to_string(),
        expires_at: Timestamp::parse("2030-01-01 00:00:00"),
    };
    let session2 = TopSession {
        session: "6100e23657fb0b2d0c78568e55a3031134be9a3a5d4b3a365753806".to_string(),
        app_key: other.app_key.clone(),
        merchant_id: SELLER.to_string(),
        expires_at: None,
    };
    store.put_top_session(&session).await.unwrap();
    store.put_top_session(&session2).await.unwrap();
    assert_eq!(
        store
            .get_top_session(&session.session)
            .await
            .unwrap()
            .as_ref(),
        Some(&session)
    );
    assert_eq!(
        store.list_top_sessions().await.unwrap(),
        vec![session.clone(), session2.clone()]
    );

    let mut rotated = app.clone();
    rotated.app_secret = "rotated".to_string();
    store.put_top_app(&rotated).await.unwrap();
    assert_eq!(
        store.get_top_app(&app.app_key).await.unwrap().as_ref(),
        Some(&rotated)
    );
    assert!(store
        .get_top_session(&session.session)
        .await
        .unwrap()
        .is_some());

    assert!(store.delete_top_app(&app.app_key).await.unwrap());
    assert!(!store.delete_top_app(&app.app_key).await.unwrap());
    assert_eq!(store.get_top_session(&session.session).await.unwrap(), None);
    assert_eq!(
        store.list_top_sessions().await.unwrap(),
        vec![session2.clone()]
    );
    assert!(store.delete_top_session(&session2.session).await.unwrap());
    assert!(!store.delete_top_session(&session2.session).await.unwrap());
    assert_eq!(store.list_top_apps().await.unwrap(), vec![other]);
}

pub async fn credential_of_unknown_app_is_refused(store: Arc<dyn Store>) {
    let token = AppAuthToken {
        token: "202101BBd1a7d8f1c2e3".to_string(),
        app_id: "2021999999999999".to_string(),
        merchant_pid: SELLER.to_string(),
        expires_at: None,
    };
    let err = store.put_app_auth_token(&token).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::MissingParent { parent: "Alipay app", key } if key == "2021999999999999"),
        "{err:?}"
    );
    let session = TopSession {
        session: "6100e2".to_string(),
        app_key: "404".to_string(),
        merchant_id: SELLER.to_string(),
        expires_at: None,
    };
    let err = store.put_top_session(&session).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::MissingParent { parent: "TOP app", key } if key == "404"),
        "{err:?}"
    );
    assert!(store.list_app_auth_tokens().await.unwrap().is_empty());
    assert!(store.list_top_sessions().await.unwrap().is_empty());
}

pub async fn nonce_claim_replay_expiry(store: Arc<dyn Store>) {
    let nonces = store.clone().nonce_store();
    let t0 = ts("2024-01-01 12:00:00");
    let window = chrono::Duration::minutes(10);
    let app = "2021000000000001";
    assert!(nonces.claim(app, "n-1", t0 + window, t0).await.unwrap());
    // A replay within the window.
    let t1 = t0 + chrono::Duration::minutes(5);
    assert!(!nonces.claim(app, "n-1", t1 + window, t1).await.unwrap());
    // The same nonce of another app, another nonce of the same app.
    assert!(nonces
        .claim("2021000000000002", "n-1", t1 + window, t1)
        .await
        .unwrap());
    assert!(nonces.claim(app, "n-2", t1 + window, t1).await.unwrap());
    // At the end of its window the nonce is forgotten and may be claimed again, once.
    let t2 = t0 + window;
    assert!(nonces.claim(app, "n-1", t2 + window, t2).await.unwrap());
    assert!(!nonces.claim(app, "n-1", t2 + window, t2).await.unwrap());
    // n-2 is still live.
    assert!(!nonces.claim(app, "n-2", t2 + window, t2).await.unwrap());

    // Many claims, so the periodic purge runs, and concurrent claims of one nonce: one winner.
    for i in 0..1100 {
        assert!(nonces
            .claim(app, &format!("bulk-{i}"), t2 + window, t2)
            .await
            .unwrap());
    }
    let t3 = t2 + window + window;
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let nonces = nonces.clone();
        tasks.push(tokio::spawn(async move {
            nonces.claim(app, "race", t3 + window, t3).await.unwrap()
        }));
    }
    let mut winners = 0;
    for t in tasks {
        if t.await.unwrap() {
            winners += 1;
        }
    }
    assert_eq!(winners, 1);
}

pub async fn meta_values(store: Arc<dyn Store>) {
    assert_eq!(store.get_meta("schema_note").await.unwrap(), None);
    store.put_meta("schema_note", "hello").await.unwrap();
    assert_eq!(
        store.get_meta("schema_note").await.unwrap().as_deref(),
        Some("hello")
    );
    store.put_meta("schema_note", "").await.unwrap();
    assert_eq!(
        store.get_meta("schema_note").await.unwrap().as_deref(),
        Some("")
    );
    store.put_meta("other", "证大五道口店").await.unwrap();
    assert_eq!(
        store.get_meta("other").await.unwrap().as_deref(),
        Some("证大五道口店")
    );
    assert_eq!(
        store.get_meta("schema_note").await.unwrap().as_deref(),
        Some("")
    );
}

pub async fn fault_rules_crud_and_counters(store: Arc<dyn Store>) {
    use tradeq_store::NewFaultRule;
    assert!(store.list_fault_rules().await.unwrap().is_empty());
    let at = DateTime::<Utc>::from_timestamp_millis(1_767_323_045_678).unwrap();
    for (id, times) in [("f1", Some(2)), ("f2", None)] {
        store
            .insert_fault_rule(&NewFaultRule {
                id: id.to_string(),
                created_at: at,
                times,
                doc: format!("{{\"id\":\"{id}\"}}"),
            })
            .await
            .unwrap();
    }
    let rows = store.list_fault_rules().await.unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].id, "f1", "oldest first");
    assert_eq!(rows[0].created_at, at);
    assert_eq!(rows[0].times, Some(2));
    assert_eq!(rows[1].times, None);
    assert_eq!(rows[1].doc, "{\"id\":\"f2\"}");
    assert_eq!((rows[0].matched, rows[0].hits), (0, 0));

    assert_eq!(store.count_fault_match("f1").await.unwrap(), Some(1));
    assert_eq!(store.count_fault_match("f1").await.unwrap(), Some(2));
    assert_eq!(store.count_fault_match("nope").await.unwrap(), None);
    assert_eq!(store.claim_fault_hit("f1").await.unwrap(), Some(1));
    assert_eq!(store.claim_fault_hit("f1").await.unwrap(), Some(2));
    assert_eq!(
        store.claim_fault_hit("f1").await.unwrap(),
        None,
        "times = 2"
    );
    assert_eq!(store.claim_fault_hit("nope").await.unwrap(), None);
    for n in 1..=5 {
        assert_eq!(
            store.claim_fault_hit("f2").await.unwrap(),
            Some(n),
            "unlimited"
        );
    }
    let rows = store.list_fault_rules().await.unwrap();
    assert_eq!((rows[0].matched, rows[0].hits), (2, 2));
    assert_eq!((rows[1].matched, rows[1].hits), (0, 5));

    assert!(store.delete_fault_rule("f1").await.unwrap());
    assert!(!store.delete_fault_rule("f1").await.unwrap());
    assert_eq!(store.list_fault_rules().await.unwrap().len(), 1);
    assert_eq!(store.clear_fault_rules().await.unwrap(), 1);
    assert!(store.list_fault_rules().await.unwrap().is_empty());
}

pub async fn fault_hits_never_exceed_times_under_concurrency(store: Arc<dyn Store>) {
    use tradeq_store::NewFaultRule;
    store
        .insert_fault_rule(&NewFaultRule {
            id: "c".to_string(),
            created_at: Utc::now(),
            times: Some(7),
            doc: "{}".to_string(),
        })
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut won = 0u32;
            let mut numbers = Vec::new();
            for _ in 0..5 {
                numbers.push(store.count_fault_match("c").await.unwrap().unwrap());
                if store.claim_fault_hit("c").await.unwrap().is_some() {
                    won += 1;
                }
            }
            (won, numbers)
        }));
    }
    let mut won = 0;
    let mut numbers = Vec::new();
    for t in tasks {
        let (w, n) = t.await.unwrap();
        won += w;
        numbers.extend(n);
    }
    assert_eq!(won, 7);
    numbers.sort_unstable();
    assert_eq!(
        numbers,
        (1..=40).collect::<Vec<u64>>(),
        "each match has its own number"
    );
    let row = &store.list_fault_rules().await.unwrap()[0];
    assert_eq!((row.matched, row.hits), (40, 7));
}

pub async fn import_checkpoint_commits_with_its_batch(store: Arc<dyn Store>) {
    let kind = RecordKind::AlipayTrade;
    assert_eq!(store.import_checkpoint("f1", kind).await.unwrap(), None);
    let mut cp = ImportCheckpoint {
        file_id: "f1".to_string(),
        kind,
        file_len: 1234,
        modified_ns: 1_700_000_000_123_456_789,
        byte_offset: 600,
        line: 2,
    };
    let out = store
        .upsert_batch_checkpointed(&[seed_trade("2014-11-27 15:45:57", 1)], &cp)
        .await
        .unwrap();
    assert_eq!(out.len(), 1);
    assert!(matches!(out[0], Ok(WriteOutcome::Inserted)));
    assert_eq!(
        store.import_checkpoint("f1", kind).await.unwrap(),
        Some(cp.clone())
    );
    // Per file and kind.
    assert_eq!(
        store
            .import_checkpoint("f1", RecordKind::OmniOrder)
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.import_checkpoint("f2", kind).await.unwrap(), None);
    // A batch of nothing but rejected lines still moves the checkpoint on.
    cp.byte_offset = 900;
    cp.line = 3;
    store.upsert_batch_checkpointed(&[], &cp).await.unwrap();
    assert_eq!(store.import_checkpoint("f1", kind).await.unwrap(), Some(cp));
    store.clear_import_checkpoint("f1", kind).await.unwrap();
    assert_eq!(store.import_checkpoint("f1", kind).await.unwrap(), None);
}
