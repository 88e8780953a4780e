//! The demo data set and demo credentials of `tradeq serve --demo`.
//!
//! Installed on first start and kept afterwards (a marker in the store's meta table remembers the
//! credentials). The data resolves every identifier of the seed documents' examples, made
//! internally consistent, holds records in every status, and gives a second merchant records the
//! demo apps must never see.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use tradeq_model::credentials::{AlipayApp, AppAuthToken, TopApp, TopSession};
use tradeq_model::{Record, RecordKind, Timestamp};
use tradeq_store::{Store, StoreError};
use tradeq_wire::alipay::keys;

/// The demo merchant: owner of the demo apps.
pub const MERCHANT_A: &str = "2088102146225135";
/// A second merchant whose records the demo apps must not see without its token.
pub const MERCHANT_B: &str = "2088202146225246";
/// The demo Alipay app.
pub const ALIPAY_APP_ID: &str = "2021000000000001";
/// The demo TOP app.
pub const TOP_APP_KEY: &str = "12345678";
/// The shopping guide of the demo omni orders.
pub const GUIDE_USER_ID: &str = "3031798632";

/// The store meta key that holds the demo credentials.
pub const META_KEY: &str = "demo_credentials";

/// The Alipay half of `demo-credentials.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DemoAlipay {
    /// The app id.
    pub app_id: String,
    /// The app's merchant.
    pub merchant_pid: String,
    /// `RSA2`.
    pub sign_type: String,
    /// The app private key, PKCS#1 PEM (official Python SDK).
    pub app_private_key_pkcs1_pem: String,
    /// The app private key, PKCS#8 PEM (Java, Node with `keyType: 'PKCS8'`).
    pub app_private_key_pkcs8_pem: String,
    /// The app public key (registered with tradeq).
    pub app_public_key_pem: String,
    /// The platform ("Alipay") public key that verifies tradeq's answers.
    pub alipay_public_key_pem: String,
    /// The AES content-encryption key (base64).
    pub aes_key: String,
    /// App auth tokens granted to the app.
    pub app_auth_tokens: Vec<DemoToken>,
}

/// An app auth token and the merchant it acts for.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DemoToken {
    /// The token.
    pub token: String,
    /// The merchant that granted it.
    pub merchant_pid: String,
}

/// The TOP half of `demo-credentials.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DemoTop {
    /// The app key.
    pub app_key: String,
    /// The app secret.
    pub app_secret: String,
    /// A session of the demo merchant.
    pub session: String,
    /// The demo merchant.
    pub merchant_id: String,
    /// The shopping guide of the demo omni orders.
    pub guide_user_id: String,
    /// A session of the second merchant (its records, not the demo merchant's).
    pub other_merchant_session: String,
}

/// `demo-credentials.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DemoCredentials {
    /// The protocol listener's URL.
    pub gateway_url: String,
    /// The admin listener's URL.
    pub admin_url: String,
    /// The admin bearer token.
    pub admin_token: String,
    /// Alipay credentials.
    pub alipay: DemoAlipay,
    /// TOP credentials.
    pub top: DemoTop,
}

/// Why the demo could not be installed.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Key generation failed.
    #[error("generating demo keys failed: {0}")]
    Keys(String),
    /// A demo record broke an invariant (a bug in this file).
    #[error("demo record {0} is invalid: {1}")]
    Record(String, String),
    /// The stored credentials do not parse.
    #[error("stored demo credentials are unreadable: {0}")]
    Stored(String),
}

fn random_hex(bytes: usize) -> Result<String, DemoError> {
    let mut buf = vec![0u8; bytes];
    openssl::rand::rand_bytes(&mut buf).map_err(|e| DemoError::Keys(e.to_string()))?;
    Ok(hex::encode(buf))
}

/// Installs the demo data and credentials on first call, and returns the credentials (with
/// the given URLs and admin token) on every call.
pub async fn install(
    store: &dyn Store,
    gateway_url: &str,
    admin_url: &str,
    admin_token: &str,
    now: DateTime<Utc>,
) -> Result<DemoCredentials, DemoError> {
    let mut creds = match stored(store).await? {
        Some(creds) => creds,
        None => {
            let creds = create_credentials(store).await?;
            for record in records(now)? {
                store.upsert(&record).await?;
            }
            let text =
                serde_json::to_string(&creds).map_err(|e| DemoError::Stored(e.to_string()))?;
            store.put_meta(META_KEY, &text).await?;
            creds
        }
    };
    creds.gateway_url = gateway_url.to_string();
    creds.admin_url = admin_url.to_string();
    creds.admin_token = admin_token.to_string();
    Ok(creds)
}

/// The demo credentials this store was given, if it holds the demo (URLs and admin token empty).
pub async fn stored(store: &dyn Store) -> Result<Option<DemoCredentials>, DemoError> {
    match store.get_meta(META_KEY).await? {
        Some(text) => serde_json::from_str::<DemoCredentials>(&text)
            .map(Some)
            .map_err(|e| DemoError::Stored(e.to_string())),
        None => Ok(None),
    }
}

async fn create_credentials(store: &dyn Store) -> Result<DemoCredentials, DemoError> {
    let k = |e: keys::KeyError| DemoError::Keys(e.to_string());
    let app_key = keys::generate_rsa_2048().map_err(k)?;
    let platform_key = keys::generate_rsa_2048().map_err(k)?;
    let app_public = keys::public_from_private(&app_key).map_err(k)?;
    let platform_public = keys::public_from_private(&platform_key).map_err(k)?;
    let app_public_pem = keys::public_key_to_spki_pem(&app_public).map_err(k)?;
    let platform_public_pem = keys::public_key_to_spki_pem(&platform_public).map_err(k)?;
    let mut aes = [0u8; 16];
    openssl::rand::rand_bytes(&mut aes).map_err(|e| DemoError::Keys(e.to_string()))?;
    let aes_key = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, aes);

    store
        .put_alipay_app(&AlipayApp {
            app_id: ALIPAY_APP_ID.to_string(),
            merchant_pid: MERCHANT_A.to_string(),
            app_public_key_pem: app_public_pem.clone(),
            sign_types: vec!["RSA2".to_string(), "RSA".to_string()],
            platform_private_key_pem: keys::private_key_to_pkcs8_pem(&platform_key).map_err(k)?,
            platform_public_key_pem: platform_public_pem.clone(),
            aes_key: Some(aes_key.clone()),
            always_fund_bill_list: false,
        })
        .await?;
    let token = random_hex(20)?;
    store
        .put_app_auth_token(&AppAuthToken {
            token: token.clone(),
            app_id: ALIPAY_APP_ID.to_string(),
            merchant_pid: MERCHANT_B.to_string(),
            expires_at: None,
        })
        .await?;

    let secret = random_hex(16)?;
    store
        .put_top_app(&TopApp {
            app_key: TOP_APP_KEY.to_string(),
            app_secret: secret.clone(),
            sign_methods: vec!["md5".into(), "hmac".into(), "hmac-sha256".into()],
            merchant_id: MERCHANT_A.to_string(),
        })
        .await?;
    let session = random_hex(20)?;
    let other_session = random_hex(20)?;
    for (s, m) in [(&session, MERCHANT_A), (&other_session, MERCHANT_B)] {
        store
            .put_top_session(&TopSession {
                session: s.clone(),
                app_key: TOP_APP_KEY.to_string(),
                merchant_id: m.to_string(),
                expires_at: None,
            })
            .await?;
    }

    Ok(DemoCredentials {
        gateway_url: String::new(),
        admin_url: String::new(),
        admin_token: String::new(),
        alipay: DemoAlipay {
            app_id: ALIPAY_APP_ID.to_string(),
            merchant_pid: MERCHANT_A.to_string(),
            sign_type: "RSA2".to_string(),
            app_private_key_pkcs1_pem: keys::private_key_to_pkcs1_pem(&app_key).map_err(k)?,
            app_private_key_pkcs8_pem: keys::private_key_to_pkcs8_pem(&app_key).map_err(k)?,
            app_public_key_pem: app_public_pem,
            alipay_public_key_pem: platform_public_pem,
            aes_key,
            app_auth_tokens: vec![DemoToken {
                token,
                merchant_pid: MERCHANT_B.to_string(),
            }],
        },
        top: DemoTop {
            app_key: TOP_APP_KEY.to_string(),
            app_secret: secret,
            session,
            merchant_id: MERCHANT_A.to_string(),
            guide_user_id: GUIDE_USER_ID.to_string(),
            other_merchant_session: other_session,
        },
    })
}

fn ts(t: DateTime<Utc>) -> String {
    Timestamp(t).to_string()
}

/// The demo records. Times that must stay meaningful (the 30-day life of a short trade number,
/// pending disbursements) are relative to `now`; the rest are the documented examples' own dates.
pub fn records(now: DateTime<Utc>) -> Result<Vec<Record>, DemoError> {
    let now = DateTime::<Utc>::from_timestamp(now.timestamp(), 0).unwrap_or(now);
    let created = now - Duration::hours(2);
    let paid = now - Duration::minutes(110);
    let disbursed = now - Duration::minutes(100);
    let later = now + Duration::days(7);
    let docs: Vec<(RecordKind, serde_json::Value)> = vec![
        // alipay.trade.query (docs/methods.md §2, §4): the documents' example trade, every field filled in.
        (
            RecordKind::AlipayTrade,
            json!({
                "trade_no": "2013112011001004330000121536", "out_trade_no": "6823789339978248",
                "seller_id": MERCHANT_A, "org_pid": "2088101117952222",
                "buyer_logon_id": "15901825620", "trade_status": "TRADE_CLOSED", "total_amount": 8888,
                "trans_currency": "CNY", "settle_currency": "USD", "settle_amount": 1596,
                "pay_currency": "CNY", "pay_amount": 888, "settle_trans_rate": "30.025",
                "trans_pay_rate": "0.264", "buyer_pay_amount": 888, "point_amount": 1000,
                "invoice_amount": 1211, "send_pay_date": "2014-11-27 15:45:57", "receipt_amount": 1525,
                "store_id": "NJ_S_001", "terminal_id": "NJ_T_001",
                "fund_bill_list": [{"fund_channel": "ALIPAYACCOUNT", "amount": 1000, "real_amount": 1121},
                                   {"fund_channel": "BANKCARD", "amount": 888, "bank_code": "CMB", "fund_type": "DEBIT_CARD"}],
                "store_name": "证大五道口店", "buyer_user_id": "2088101117955611",
                "buyer_open_id": "01501o8f93i3njagb1jg4onxtxv25dcn3gec3uggnc4cju0",
                "charge_amount": 888, "charge_flags": "bluesea_1", "settlement_id": "2018101610032004620239146945",
                "trade_settle_detail_list": [{"operation_type": "replenish", "operation_serial_no": "2321232323232",
                    "operation_dt": "2019-05-16 09:59:17", "trans_out": "208811****111111", "trans_in": "208811****111111", "amount": 1000}],
                "auth_trade_pay_mode": "CREDIT_PREAUTH_PAY", "buyer_user_type": "PRIVATE",
                "mdiscount_amount": 888, "discount_amount": 1000, "subject": "Iphone6 16G", "body": "Iphone6 16G",
                "alipay_sub_merchant_id": "2088301372182171", "ext_infos": "{\"action\":\"cancel\"}",
                "industry_sepc_detail": "行业特殊信息", "alipay_store_id": "NJ_S_001", "buyer_user_name": "张三",
                "discount_goods_detail": "promotion 10",
                "voucher_detail_list": [{"id": "20183314556667", "name": "全场9折优惠券", "type": "ALIPAY_ITEM_VOUCHER",
                    "amount": 1888, "merchant_contribute": 1200, "other_contribute": 688, "memo": "无门槛优惠券",
                    "template_id": "2314455566", "purchase_buyer_contribute": 588, "purchase_merchant_contribute": 188,
                    "purchase_ant_contribute": 288,
                    "other_contribute_detail": [{"contribute_type": "支付宝平台出资", "contribute_amount": 688}]}],
                "gmt_modified": "2014-11-27 15:45:57"
            }),
        ),
        // The request examples' keys (the stray space of the documented example trade_no removed (docs/methods.md)).
        (
            RecordKind::AlipayTrade,
            json!({
                "trade_no": "2014112611001004680073956707", "out_trade_no": "20150320010101001",
                "seller_id": MERCHANT_A, "buyer_logon_id": "abcdef@example.com", "trade_status": "TRADE_SUCCESS",
                "total_amount": 8888, "buyer_pay_amount": 8888, "point_amount": 0, "invoice_amount": 8888,
                "receipt_amount": 8888, "send_pay_date": "2014-11-26 15:45:57", "buyer_user_id": "2088102177846880",
                "fund_bill_list": [{"fund_channel": "ALIPAYACCOUNT", "amount": 8888}],
                "subject": "中文商品 GBK 测试", "gmt_modified": "2014-11-26 15:45:57"
            }),
        ),
        (
            RecordKind::AlipayTrade,
            json!({
                "trade_no": "2024010122001446880500000001", "out_trade_no": "T1", "seller_id": MERCHANT_A,
                "buyer_logon_id": "abcdefg@example.com", "trade_status": "TRADE_SUCCESS", "total_amount": 8888,
                "buyer_pay_amount": 0, "point_amount": 0, "invoice_amount": 0, "receipt_amount": 0,
                "send_pay_date": "2024-01-01 12:00:05", "buyer_user_id": "2088102177846880"
            }),
        ),
        (
            RecordKind::AlipayTrade,
            json!({
                "trade_no": "2024010122001446880500000002", "out_trade_no": "DEMO-WAIT-1", "seller_id": MERCHANT_A,
                "buyer_logon_id": "13800138000", "trade_status": "WAIT_BUYER_PAY", "total_amount": 1999
            }),
        ),
        (
            RecordKind::AlipayTrade,
            json!({
                "trade_no": "2024010122001446880500000003", "out_trade_no": "DEMO-FINISHED-1", "seller_id": MERCHANT_A,
                "buyer_logon_id": "13800138001", "trade_status": "TRADE_FINISHED", "total_amount": 100,
                "trans_currency": "JPY", "buyer_pay_amount": 100, "receipt_amount": 100,
                "send_pay_date": "2024-01-02 10:00:00", "buyer_user_id": "2088102177846881"
            }),
        ),
        // The second merchant: same out_trade_no as the documented example trade, and a trade of its own.
        (
            RecordKind::AlipayTrade,
            json!({
                "trade_no": "2015042321001004720200028594", "out_trade_no": "6823789339978248",
                "seller_id": MERCHANT_B, "buyer_logon_id": "13900139000", "trade_status": "TRADE_SUCCESS",
                "total_amount": 50000, "buyer_pay_amount": 50000, "receipt_amount": 50000,
                "send_pay_date": "2015-04-23 10:00:00"
            }),
        ),
        // koubei.trade.itemorder.query (docs/methods.md §1).
        (
            RecordKind::KoubeiOrder,
            json!({
                "order_no": "20160831001040010900010000000001", "out_order_no": "20160831001040010900010000000001",
                "partner_id": MERCHANT_A, "trade_no": "2017122021001004560209558948", "status": "CLOSE",
                "buyer_id": "2088102164040745", "biz_product": "ONLINE_TRADE_PAY",
                "gmt_create": "2016-09-29 00:00:00", "seller_id": "208810000003401",
                "gmt_payment": "2018-01-12 21:10:10", "gmt_modified": "2018-01-12 21:10:10",
                "total_amount": 2500, "real_pay_amount": 2000, "discount_amount": 500, "deliver_seller_real_amount": 500,
                "item_order_vo": [{"item_order_no": "2015060400076000000000000000", "sku_id": "2015060400076000000000012100",
                    "quantity": 2, "price": 1000, "ext_info": "{externalVoucherCode=[A12345,B98765]}"}]
            }),
        ),
        (
            RecordKind::KoubeiOrder,
            json!({
                "order_no": "20170427000000001000000001", "out_order_no": "DEMO-KB-SUCCESS", "partner_id": MERCHANT_A,
                "trade_no": "2017042721001004560200000001", "status": "SUCCESS", "buyer_id": "2088102164040746",
                "biz_product": "ONLINE_TRADE_PAY", "gmt_create": "2017-04-27 10:00:00",
                "gmt_payment": "2017-04-27 10:01:00", "gmt_modified": "2017-04-27 12:00:00",
                "total_amount": 3000, "real_pay_amount": 3000, "deliver_seller_real_amount": 3000,
                "item_order_vo": [{"item_order_no": "2017042700076000000000000001", "sku_id": "2017042700076000000000012101",
                    "quantity": 3, "price": 1000}]
            }),
        ),
    ];
    let mut docs = docs;
    for (i, status) in ["INIT", "WAIT_PAY", "PAID", "FINISH"].iter().enumerate() {
        let paid_at = if matches!(*status, "PAID" | "FINISH") {
            json!("2017-05-01 10:01:00")
        } else {
            serde_json::Value::Null
        };
        let mut doc = json!({
            "order_no": format!("2017050100000000100000000{}", i + 2), "out_order_no": format!("DEMO-KB-{status}"),
            "partner_id": MERCHANT_A, "status": status, "buyer_id": "2088102164040747",
            "biz_product": "ONLINE_TRADE_PAY", "gmt_create": "2017-05-01 10:00:00",
            "gmt_modified": "2017-05-01 11:00:00", "total_amount": 1000, "real_pay_amount": 1000,
            "deliver_seller_real_amount": 1000,
            "item_order_vo": [{"item_order_no": format!("20170501000760000000000000{}", i + 2), "sku_id": "SKU-1", "quantity": 1, "price": 1000}]
        });
        if let (Some(map), false) = (doc.as_object_mut(), paid_at.is_null()) {
            map.insert("gmt_payment".into(), paid_at);
        }
        docs.push((RecordKind::KoubeiOrder, doc));
    }
    docs.push((RecordKind::KoubeiOrder, json!({
        "order_no": "20170601000000001000000009", "out_order_no": "OTHER-MERCHANT-KB", "partner_id": MERCHANT_B,
        "status": "SUCCESS", "buyer_id": "2088102164040748", "biz_product": "ONLINE_TRADE_PAY",
        "gmt_create": "2017-06-01 10:00:00", "gmt_payment": "2017-06-01 10:01:00", "gmt_modified": "2017-06-01 10:02:00",
        "total_amount": 500, "real_pay_amount": 500, "deliver_seller_real_amount": 500,
        "item_order_vo": [{"item_order_no": "OTHER-1", "sku_id": "SKU-9", "quantity": 1, "price": 500}]
    })));
    // alibaba.xlife.onsite.trade.query (docs/methods.md §3): the documented example trade, paid, one bill received and
    // one pending until a week from now, so the split visibly depends on gmt_query.
    docs.push((RecordKind::OnsiteTrade, json!({
        "trade_no": "2013112011001004330000121536", "out_trade_no": "6823789339978248", "short_trade_no": "77778888",
        "merchant_id": MERCHANT_A, "gmt_create": ts(created), "buyer_id": "2088102122524333",
        "buyer_nick": "5912345620", "trade_status": "TRADE_SUCCESS", "total_amount": 88888,
        "store_name": "炉鱼城西银泰店", "gmt_payment": ts(paid), "buyer_total_fund_fee": 50000,
        "buyer_total_promotion_fee": 38888, "invoice_amount": 60000, "payment_days": ts(later + Duration::days(1)),
        "buyer_promotion_bill_list": [
            {"amount": 9000, "extend_params": "[{\"abc\":\"123\"}]", "subject": "阿香米线10元代金券", "type": "coupon"},
            {"amount": 29888, "subject": "喵街购物券", "type": "voucher"}],
        "store_total_marketing_fee": 28888, "store_total_receivable_fee": 60000,
        "store_fund_bills": [
            {"amount": 50000, "sub_fund_channel": "alipay_financeaccount", "fund_channel": "alipay",
             "extend_params": "[{\"abc\":\"123\"}]", "disbursed_at": ts(disbursed), "payment_seq_no": "2013112011001004330000121536"},
            {"amount": 10000, "sub_fund_channel": "alipay_mj_subsidy", "fund_channel": "alipay",
             "extend_params": "[{\"abc\":\"123\"}]",
             "disbursed_at": ts(later), "payment_seq_no": "2013112011001004330000121537"}],
        "goods_detail_list": [{"quantity": "1", "price": "8800", "amount": "8800", "goods_name": "iPad",
            "goods_id": "10460001", "shop_name": "ecco", "shop_no": "10460"}],
        "attachment": "[{\"a\":\"123\"}]", "extend_params": "[{\"abc\":\"123\"}]"
    })));
    for (i, status) in ["WAIT_FOR_CONFIRM", "WAIT_BUYER_PAY"].iter().enumerate() {
        docs.push((RecordKind::OnsiteTrade, json!({
            "trade_no": format!("201311201100100433000012160{i}"), "out_trade_no": format!("DEMO-ONSITE-{status}"),
            "short_trade_no": format!("7777000{i}"), "merchant_id": MERCHANT_A, "gmt_create": ts(created),
            "buyer_id": "2088102122524334", "buyer_nick": "buyer_demo_1", "trade_status": status,
            "total_amount": 1000, "store_name": "炉鱼城西银泰店"
        })));
    }
    docs.push((RecordKind::OnsiteTrade, json!({
        "trade_no": "2013112011001004330000121610", "out_trade_no": "DEMO-ONSITE-FINISHED",
        "short_trade_no": "77770010", "merchant_id": MERCHANT_A, "gmt_create": ts(created),
        "buyer_id": "2088102122524335", "buyer_nick": "buyer_demo_2", "trade_status": "TRADE_FINISHED",
        "total_amount": 2000, "store_name": "炉鱼城西银泰店", "gmt_payment": ts(paid),
        "buyer_total_fund_fee": 2000, "buyer_total_promotion_fee": 0, "invoice_amount": 2000,
        "store_total_marketing_fee": 0, "store_total_receivable_fee": 2000,
        "store_fund_bills": [{"amount": 2000, "sub_fund_channel": "alipay_account", "fund_channel": "alipay",
            "disbursed_at": ts(disbursed), "payment_seq_no": "2013112011001004330000121610"}]
    })));
    docs.push((RecordKind::OnsiteTrade, json!({
        "trade_no": "2013112011001004330000121611", "out_trade_no": "DEMO-ONSITE-CLOSED",
        "merchant_id": MERCHANT_A, "gmt_create": "2015-11-27 15:40:00",
        "short_trade_no": "77770011",
        "buyer_id": "2088102122524336", "buyer_nick": "buyer_demo_3", "trade_status": "TRADE_CLOSED",
        "total_amount": 3000, "store_name": "炉鱼城西银泰店"
    })));
    docs.push((RecordKind::OnsiteTrade, json!({
        "trade_no": "2015112711001004330000999999", "out_trade_no": "OTHER-MERCHANT-ONSITE",
        "short_trade_no": "77779999", "merchant_id": MERCHANT_B, "gmt_create": ts(created),
        "buyer_id": "2088102122524337", "buyer_nick": "buyer_other", "trade_status": "WAIT_BUYER_PAY",
        "total_amount": 500, "store_name": "别家门店"
    })));
    // alibaba.omni.order.query (docs/methods.md §5).
    docs.push((RecordKind::OmniOrder, json!({
        "order_id": "108717674563804955", "merchant_id": MERCHANT_A, "alipay_order_id": "108717674563804955",
        "out_order_id": "12348", "o2o_guide_id": 3031798632i64, "o2o_guide_name": "3031798632",
        "o2o_shop_id": "105565032", "o2o_shop_name": "105565032", "item_id": 560540831441i64,
        "item_title": "juhuasuan强预热2阶段测试宝贝请不要拍", "sku_id": "0", "sku_properties_name": "“”",
        "contract_price": 3, "total_fee": 3, "voucher_price": 10000, "pay_status": 8,
        "subpay_order_list": [{"step_no": 1, "subpay_order_id": 968772003804955i64, "pay_status": 1,
            "pay_type": 2, "total_fee": 1, "disburse_status": "1"}],
        "can_close": true,
        "promotion_info": {"promotion_id": 1111, "promotion_amount": 1000, "promotion_type": 0,
            "promotion_order_id": 1111, "promotion_buy_amount": 111},
        "pay_order_serial_infos": [{"pay_serial_no": "1538363939613011008096025771", "step_no": 1, "batch_no": 1,
            "paid_money": 10000, "pay_time": "2018-10-08 12:00:00", "sync_time": "2018-10-08 12:00:00",
            "pay_type": 1, "pay_status": 1}]
    })));
    docs.push((RecordKind::OmniOrder, json!({
        "order_id": "109078258777804955", "merchant_id": MERCHANT_A, "out_order_id": "54321",
        "o2o_guide_id": 3031798632i64, "item_title": "导购测试商品", "total_fee": 5000, "pay_status": 1,
        "can_close": false
    })));
    docs.push((
        RecordKind::OmniOrder,
        json!({
            "order_id": "109078258777809999", "merchant_id": MERCHANT_B, "out_order_id": "99999",
            "o2o_guide_id": 3031798632i64, "total_fee": 100, "pay_status": 1
        }),
    ));

    docs.into_iter()
        .map(|(kind, doc)| {
            Record::from_json(kind, &doc.to_string())
                .map_err(|e| DemoError::Record(doc.to_string(), e.to_string()))
        })
        .collect()
}

/// What `POST /v1/reset` and `tradeq demo reset` put the records back to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResetTarget {
    /// The demo data set, as `serve --demo` installs it (relative times from now).
    Demo,
    /// No records at all.
    Empty,
}

/// What a reset did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ResetSummary {
    /// Records removed.
    pub removed: u64,
    /// Records written (the demo set).
    pub inserted: u64,
    /// Fault rules removed.
    pub fault_rules_removed: u64,
}

/// Removes every record, lifecycle and fault rule, puts the clock back to real time and, for
/// [`ResetTarget::Demo`], writes the demo records again (relative to `now`, which should be real
/// time). Credentials stay as they are, so `demo-credentials.json` stays valid; a store that
/// never had the demo gets its credentials created too (as on `serve --demo`'s first start).
pub async fn reset(
    store: &dyn Store,
    to: ResetTarget,
    now: DateTime<Utc>,
) -> Result<ResetSummary, DemoError> {
    let removed = store.clear_records().await?;
    let fault_rules_removed = store.clear_fault_rules().await?;
    store
        .put_meta(
            crate::sandbox::clock::META_KEY,
            &crate::sandbox::clock::ClockSetting::Real.to_json(),
        )
        .await?;
    let mut inserted = 0;
    if to == ResetTarget::Demo {
        if store.get_meta(META_KEY).await?.is_none() {
            let creds = create_credentials(store).await?;
            let text =
                serde_json::to_string(&creds).map_err(|e| DemoError::Stored(e.to_string()))?;
            store.put_meta(META_KEY, &text).await?;
        }
        let records = records(now)?;
        for result in store.upsert_batch(&records).await? {
            result?;
            inserted += 1;
        }
    }
    Ok(ResetSummary {
        removed,
        inserted,
        fault_rules_removed,
    })
}
