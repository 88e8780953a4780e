//! Suite cases for listing, lifecycles and clearing.

use std::sync::Arc;

use serde_json::json;

use tradeq_model::lifecycle::LifecycleState;
use tradeq_model::{KeyKind, Record, RecordKind};
use tradeq_store::{RecordQuery, Store};

use super::{alipay, koubei, omni, onsite, ts, OTHER_SELLER, SELLER};

fn with_timeline(r: &Record, timeline: serde_json::Value) -> Record {
    let mut doc: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
    doc["timeline"] = timeline;
    Record::from_json(r.kind(), &doc.to_string()).unwrap()
}

fn keys(records: &[Record]) -> Vec<&str> {
    records.iter().map(|r| r.primary_key()).collect()
}

pub async fn list_records_filters_and_pages(store: Arc<dyn Store>) {
    let mut batch = Vec::new();
    for i in 0..5 {
        batch.push(alipay(
            &format!("T{i}"),
            &format!("O{i}"),
            if i % 2 == 0 { SELLER } else { OTHER_SELLER },
            &format!("2024-01-0{} 10:00:00", i + 1),
            1,
        ));
    }
    batch.push(onsite(
        "S1",
        "SO1",
        Some("77778888"),
        SELLER,
        "2024-01-01 10:00:00",
        1,
    ));
    batch.push(omni("M1", SELLER, "2024-01-01 10:00:00", 1));
    batch.push(koubei("K1", SELLER, "2024-01-01 10:00:00", 1));
    for r in store.upsert_batch(&batch).await.unwrap() {
        r.unwrap();
    }
    let q = |f: fn(&mut RecordQuery)| {
        let mut q = RecordQuery {
            limit: 100,
            ..RecordQuery::default()
        };
        f(&mut q);
        q
    };
    let all = store
        .list_records(RecordKind::AlipayTrade, &q(|_| {}))
        .await
        .unwrap();
    assert_eq!(keys(&all), ["T0", "T1", "T2", "T3", "T4"]);
    let mine = store
        .list_records(
            RecordKind::AlipayTrade,
            &q(|q| q.merchant = Some(SELLER.into())),
        )
        .await
        .unwrap();
    assert_eq!(keys(&mine), ["T0", "T2", "T4"]);
    let by_out = store
        .list_records(
            RecordKind::AlipayTrade,
            &q(|q| q.out_trade_no = Some("O3".into())),
        )
        .await
        .unwrap();
    assert_eq!(keys(&by_out), ["T3"]);
    let window = store
        .list_records(
            RecordKind::AlipayTrade,
            &q(|q| {
                q.modified_after = Some(ts("2024-01-02 10:00:00").timestamp());
                q.modified_before = Some(ts("2024-01-04 10:00:00").timestamp());
            }),
        )
        .await
        .unwrap();
    assert_eq!(keys(&window), ["T1", "T2"]);
    let page = store
        .list_records(
            RecordKind::AlipayTrade,
            &q(|q| {
                q.after_key = Some("T1".into());
                q.limit = 2;
            }),
        )
        .await
        .unwrap();
    assert_eq!(keys(&page), ["T2", "T3"]);
    let status = store
        .list_records(
            RecordKind::AlipayTrade,
            &q(|q| q.status = Some("TRADE_SUCCESS".into())),
        )
        .await
        .unwrap();
    assert_eq!(status.len(), 5);
    let none = store
        .list_records(
            RecordKind::AlipayTrade,
            &q(|q| q.status = Some("TRADE_CLOSED".into())),
        )
        .await
        .unwrap();
    assert!(none.is_empty());
    let short = store
        .list_records(
            RecordKind::OnsiteTrade,
            &q(|q| q.short_trade_no = Some("77778888".into())),
        )
        .await
        .unwrap();
    assert_eq!(keys(&short), ["S1"]);
    let out_order = store
        .list_records(
            RecordKind::OmniOrder,
            &q(|q| q.out_order_id = Some("OUT-1234".into())),
        )
        .await
        .unwrap();
    assert_eq!(keys(&out_order), ["M1"]);
    let koubei_paid = store
        .list_records(
            RecordKind::KoubeiOrder,
            &q(|q| q.status = Some("PAID".into())),
        )
        .await
        .unwrap();
    assert_eq!(keys(&koubei_paid), ["K1"]);
}

pub async fn lifecycle_applies_on_the_third_query(store: Arc<dyn Store>) {
    let mut doc: serde_json::Value =
        serde_json::from_str(&alipay("L1", "LO1", SELLER, "2024-01-01 10:00:00", 1).to_json())
            .unwrap();
    doc["trade_status"] = json!("WAIT_BUYER_PAY");
    for f in [
        "send_pay_date",
        "fund_bill_list",
        "receipt_amount",
        "buyer_pay_amount",
        "invoice_amount",
        "point_amount",
    ] {
        doc.as_object_mut().unwrap().remove(f);
    }
    doc["timeline"] = json!([{"after_queries": 3, "set": {
        "trade_status": "TRADE_SUCCESS", "send_pay_date": "2024-01-01 10:05:00"}}]);
    let r = Record::from_json(RecordKind::AlipayTrade, &doc.to_string()).unwrap();
    store.upsert(&r).await.unwrap();
    let base = ts("2024-01-01 10:00:00");
    store
        .put_lifecycles(&[(
            RecordKind::AlipayTrade,
            "L1".into(),
            LifecycleState::new(base),
        )])
        .await
        .unwrap();
    let audit_before = store.audit_since(0, 1000).await.unwrap().len();
    let now = ts("2024-01-01 10:06:00");
    for query in 1..=4u64 {
        let a = store
            .advance_lifecycle(RecordKind::AlipayTrade, "L1", now)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(a.state.queries, query);
        assert_eq!(a.changed, query == 3, "query {query}");
        let found = store
            .find(RecordKind::AlipayTrade, SELLER, KeyKind::Primary, "L1")
            .await
            .unwrap()
            .unwrap();
        let status = match &found {
            Record::AlipayTrade(t) => format!("{:?}", t.trade_status),
            _ => unreachable!(),
        };
        let want = if query < 3 {
            "WaitBuyerPay"
        } else {
            "TradeSuccess"
        };
        assert_eq!(status, want, "query {query}");
        assert_eq!(found, a.record);
    }
    let state = store
        .get_lifecycle(RecordKind::AlipayTrade, "L1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((state.applied, state.queries), (1, 4));
    assert_eq!(state.base_at, base);
    let audit = store.audit_since(0, 1000).await.unwrap();
    assert_eq!(
        audit.len(),
        audit_before + 1,
        "one audited write for the one step"
    );
    let last = audit.last().unwrap();
    assert_eq!((last.key.as_str(), last.action.as_str()), ("L1", "updated"));
    assert_eq!(last.version.gmt_modified.map(|t| t.0), Some(now));
    assert_eq!(last.version.version, 2);
}

pub async fn lifecycle_refuses_a_step_that_breaks_an_invariant(store: Arc<dyn Store>) {
    let r = with_timeline(
        &onsite("B1", "BO1", None, SELLER, "2024-01-01 10:00:00", 1),
        // An unpaid trade whose step gives it a payment time but leaves it unpaid.
        json!([{"after_secs": 60, "set": {"gmt_payment": "2024-01-01 10:01:00"}}]),
    );
    store.upsert(&r).await.unwrap();
    // Never started: the first query starts it, so the delay is not yet over.
    let first = store
        .advance_lifecycle(RecordKind::OnsiteTrade, "B1", ts("2024-01-01 10:02:00"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((first.state.applied, first.state.queries), (0, 1));
    let a = store
        .advance_lifecycle(RecordKind::OnsiteTrade, "B1", ts("2024-01-01 10:03:00"))
        .await
        .unwrap()
        .unwrap();
    assert!(!a.changed);
    assert_eq!(a.refused.len(), 1);
    assert_eq!(a.refused[0].field, "gmt_payment");
    let state = store
        .get_lifecycle(RecordKind::OnsiteTrade, "B1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(state.applied, 1);
    assert_eq!(state.refused.len(), 1);
    let stored = store
        .get(RecordKind::OnsiteTrade, "B1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored, r);
}

pub async fn lifecycle_of_a_plain_record_is_none(store: Arc<dyn Store>) {
    store
        .upsert(&koubei("K9", SELLER, "2024-01-01 10:00:00", 1))
        .await
        .unwrap();
    assert!(store
        .advance_lifecycle(RecordKind::KoubeiOrder, "K9", ts("2024-01-01 10:00:00"))
        .await
        .unwrap()
        .is_none());
    assert!(store
        .advance_lifecycle(RecordKind::KoubeiOrder, "absent", ts("2024-01-01 10:00:00"))
        .await
        .unwrap()
        .is_none());
    assert!(store
        .get_lifecycle(RecordKind::KoubeiOrder, "K9")
        .await
        .unwrap()
        .is_none());
}

pub async fn delete_and_clear_remove_lifecycles(store: Arc<dyn Store>) {
    let r = with_timeline(
        &koubei("K1", SELLER, "2024-01-01 10:00:00", 1),
        json!([{"after_queries": 1, "set": {"status": "FINISH"}}]),
    );
    store.upsert(&r).await.unwrap();
    let state = LifecycleState::new(ts("2024-01-01 10:00:00"));
    store
        .put_lifecycles(&[(RecordKind::KoubeiOrder, "K1".into(), state.clone())])
        .await
        .unwrap();
    assert_eq!(
        store
            .get_lifecycle(RecordKind::KoubeiOrder, "K1")
            .await
            .unwrap(),
        Some(state.clone())
    );
    assert!(store.delete(RecordKind::KoubeiOrder, "K1").await.unwrap());
    assert_eq!(
        store
            .get_lifecycle(RecordKind::KoubeiOrder, "K1")
            .await
            .unwrap(),
        None
    );
    store.upsert(&r).await.unwrap();
    store
        .upsert(&omni("M1", SELLER, "2024-01-01 10:00:00", 1))
        .await
        .unwrap();
    store
        .put_lifecycles(&[(RecordKind::KoubeiOrder, "K1".into(), state)])
        .await
        .unwrap();
    assert_eq!(store.clear_records().await.unwrap(), 2);
    for kind in RecordKind::ALL {
        assert_eq!(store.count(kind).await.unwrap(), 0);
    }
    assert_eq!(
        store
            .get_lifecycle(RecordKind::KoubeiOrder, "K1")
            .await
            .unwrap(),
        None
    );
}

pub async fn clear_credentials_removes_every_credential(store: Arc<dyn Store>) {
    use tradeq_model::credentials::{AppAuthToken, TopApp, TopSession};
    store
        .put_alipay_app(&super::alipay_app("2021000000000001", SELLER))
        .await
        .unwrap();
    store
        .put_app_auth_token(&AppAuthToken {
            token: "tok".into(),
            app_id: "2021000000000001".into(),
            merchant_pid: OTHER_SELLER.into(),
            expires_at: None,
        })
        .await
        .unwrap();
    store
        .put_top_app(&TopApp {
            app_key: "12345678".into(),
            app_secret: "s".into(),
            sign_methods: vec!["md5".into()],
            merchant_id: SELLER.into(),
        })
        .await
        .unwrap();
    store
        .put_top_session(&TopSession {
            session: "sess".into(),
            app_key: "12345678".into(),
            merchant_id: SELLER.into(),
            expires_at: None,
        })
        .await
        .unwrap();
    store
        .upsert(&koubei("K1", SELLER, "2024-01-01 10:00:00", 1))
        .await
        .unwrap();
    store.clear_credentials().await.unwrap();
    assert!(store.list_alipay_apps().await.unwrap().is_empty());
    assert!(store.list_app_auth_tokens().await.unwrap().is_empty());
    assert!(store.list_top_apps().await.unwrap().is_empty());
    assert!(store.list_top_sessions().await.unwrap().is_empty());
    assert_eq!(store.count(RecordKind::KoubeiOrder).await.unwrap(), 1);
}

pub async fn remove_lifecycles_forgets_progress(store: Arc<dyn Store>) {
    let state = LifecycleState::new(ts("2024-01-01 10:00:00"));
    store
        .put_lifecycles(&[
            (RecordKind::KoubeiOrder, "K1".into(), state.clone()),
            (RecordKind::KoubeiOrder, "K2".into(), state.clone()),
            (RecordKind::OmniOrder, "K1".into(), state.clone()),
        ])
        .await
        .unwrap();
    store
        .remove_lifecycles(RecordKind::KoubeiOrder, &["K1".into(), "absent".into()])
        .await
        .unwrap();
    store
        .remove_lifecycles(RecordKind::KoubeiOrder, &[])
        .await
        .unwrap();
    assert_eq!(
        store
            .get_lifecycle(RecordKind::KoubeiOrder, "K1")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .get_lifecycle(RecordKind::KoubeiOrder, "K2")
            .await
            .unwrap(),
        Some(state.clone())
    );
    assert_eq!(
        store
            .get_lifecycle(RecordKind::OmniOrder, "K1")
            .await
            .unwrap(),
        Some(state)
    );
}
