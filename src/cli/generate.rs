//! `tradeq demo generate KIND --count N --seed S`: consistent synthetic records as JSONL, for
//! scale tests and benchmarks. The same seed always gives the same file.

use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use serde_json::{json, Value};

use tradeq_model::{Record, RecordKind};
use tradeq_server::demo::{GUIDE_USER_ID, MERCHANT_A, MERCHANT_B};

#[derive(Debug, Args)]
pub struct DemoArgs {
    #[command(subcommand)]
    command: DemoCommand,
}

#[derive(Debug, Subcommand)]
enum DemoCommand {
    /// Write synthetic records of one kind as JSONL.
    Generate(GenerateArgs),
    /// Put the records back to the demo data set (or none with --empty); credentials are kept.
    Reset(super::sandbox::ResetArgs),
}

#[derive(Debug, Args)]
struct GenerateArgs {
    /// Record kind: alipay-trade, koubei-order, onsite-trade or omni-order.
    kind: RecordKind,
    /// How many records.
    #[arg(long, default_value_t = 1000)]
    count: u64,
    /// Seed of the generator.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Owning merchant of the records (default: the demo merchant, so the demo apps see them).
    #[arg(long, default_value = MERCHANT_A)]
    merchant: String,
    /// Output file (default: standard output).
    #[arg(long, short)]
    out: Option<PathBuf>,
}

pub async fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    let args = match args.command {
        DemoCommand::Generate(args) => args,
        DemoCommand::Reset(args) => return super::sandbox::run_reset(args).await,
    };
    let sink: Box<dyn Write> = match &args.out {
        Some(p) => Box::new(
            std::fs::File::create(p).with_context(|| format!("cannot create {}", p.display()))?,
        ),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut out = BufWriter::with_capacity(1 << 20, sink);
    let mut gen = Generator::new(args.seed, args.merchant.clone());
    for i in 0..args.count {
        let doc = gen.record(args.kind, i);
        // Every generated record must pass the door; a failure here is a generator bug.
        if let Err(e) = Record::from_json(args.kind, &doc.to_string()) {
            anyhow::bail!("generator produced an invalid record {i}: {e}");
        }
        serde_json::to_writer(&mut out, &doc)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// SplitMix64: tiny, fast, and the same on every platform.
struct Generator {
    state: u64,
    seed: u64,
    merchant: String,
}

impl Generator {
    fn new(seed: u64, merchant: String) -> Generator {
        Generator {
            state: seed ^ 0x9E37_79B9_7F4A_7C15,
            seed,
            merchant,
        }
    }

    fn next(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }

    fn time(&mut self, base: i64) -> (String, i64) {
        let t = base + self.below(86_400 * 30) as i64;
        let dt = chrono::DateTime::<chrono::Utc>::from_timestamp(t, 0).unwrap_or_default();
        (tradeq_model::Timestamp(dt).to_string(), t)
    }

    fn fmt(secs: i64) -> String {
        let dt = chrono::DateTime::<chrono::Utc>::from_timestamp(secs, 0).unwrap_or_default();
        tradeq_model::Timestamp(dt).to_string()
    }

    /// Ids embed the seed so files made with different seeds do not collide.
    fn id(&self, prefix: &str, i: u64) -> String {
        format!("{prefix}{:04}{:012}", self.seed % 10_000, i)
    }

    fn record(&mut self, kind: RecordKind, i: u64) -> Value {
        match kind {
            RecordKind::AlipayTrade => self.alipay_trade(i),
            RecordKind::KoubeiOrder => self.koubei_order(i),
            RecordKind::OnsiteTrade => self.onsite_trade(i),
            RecordKind::OmniOrder => self.omni_order(i),
        }
    }

    fn alipay_trade(&mut self, i: u64) -> Value {
        let status = self.pick(&[
            "WAIT_BUYER_PAY",
            "TRADE_SUCCESS",
            "TRADE_SUCCESS",
            "TRADE_FINISHED",
            "TRADE_CLOSED",
        ]);
        let total = 100 + self.below(1_000_000) as i64;
        let point = if self.below(4) == 0 {
            self.below(total as u64) as i64
        } else {
            0
        };
        let (modified, base) = self.time(1_700_000_000);
        let mut doc = json!({
            "trade_no": self.id("2024", i), "out_trade_no": self.id("OUT", i),
            "seller_id": self.merchant, "buyer_logon_id": format!("139{:08}", self.below(100_000_000)),
            "trade_status": status, "total_amount": total, "gmt_modified": modified,
            "store_id": format!("S{:03}", self.below(200)), "subject": "商品订单",
        });
        if status != "WAIT_BUYER_PAY" {
            let m = doc.as_object_mut();
            if let Some(m) = m {
                m.insert("buyer_pay_amount".into(), json!(total - point));
                m.insert("point_amount".into(), json!(point));
                m.insert("invoice_amount".into(), json!(total - point));
                m.insert("receipt_amount".into(), json!(total));
                m.insert("send_pay_date".into(), json!(Self::fmt(base - 60)));
                m.insert(
                    "buyer_user_id".into(),
                    json!(format!("2088{:012}", self.below(1_000_000_000_000))),
                );
                let mut bills =
                    vec![json!({"fund_channel": "ALIPAYACCOUNT", "amount": total - point})];
                if point > 0 {
                    bills.push(json!({"fund_channel": "POINT", "amount": point}));
                }
                m.insert("fund_bill_list".into(), Value::Array(bills));
            }
        }
        doc
    }

    fn koubei_order(&mut self, i: u64) -> Value {
        let status = self.pick(&["INIT", "WAIT_PAY", "PAID", "SUCCESS", "FINISH", "CLOSE"]);
        let qty = 1 + self.below(5) as i64;
        let price = 100 + self.below(10_000) as i64;
        let total = qty * price;
        let discount = self.below((total / 5) as u64 + 1) as i64;
        let (created, base) = self.time(1_700_000_000);
        let mut doc = json!({
            "order_no": self.id("2024KB", i), "out_order_no": self.id("KBOUT", i),
            "partner_id": self.merchant, "status": status, "buyer_id": format!("2088{:012}", self.below(1_000_000_000_000)),
            "biz_product": "ONLINE_TRADE_PAY", "gmt_create": created, "gmt_modified": Self::fmt(base + 120),
            "total_amount": total, "real_pay_amount": total - discount, "discount_amount": discount,
            "deliver_seller_real_amount": total - discount,
            "item_order_vo": [{"item_order_no": self.id("ITEM", i), "sku_id": format!("SKU{}", self.below(1000)), "quantity": qty, "price": price}]
        });
        if !matches!(status, "INIT" | "WAIT_PAY") {
            if let Some(m) = doc.as_object_mut() {
                m.insert("gmt_payment".into(), json!(Self::fmt(base + 60)));
                m.insert("trade_no".into(), json!(self.id("2024TN", i)));
            }
        }
        doc
    }

    fn onsite_trade(&mut self, i: u64) -> Value {
        let status = self.pick(&[
            "WAIT_FOR_CONFIRM",
            "WAIT_BUYER_PAY",
            "TRADE_SUCCESS",
            "TRADE_FINISHED",
            "TRADE_CLOSED",
        ]);
        let total = 1000 + self.below(500_000) as i64;
        let (created, base) = self.time(1_700_000_000);
        let mut doc = json!({
            "trade_no": self.id("2024ON", i), "out_trade_no": self.id("ONOUT", i),
            "short_trade_no": format!("{:08}", i % 100_000_000), "merchant_id": self.merchant,
            "gmt_create": created, "buyer_id": format!("2088{:012}", self.below(1_000_000_000_000)),
            "buyer_nick": format!("buyer{:06}", self.below(1_000_000)), "trade_status": status,
            "total_amount": total, "store_name": "喵街门店"
        });
        if matches!(status, "TRADE_SUCCESS" | "TRADE_FINISHED") {
            let promo = self.below((total / 4) as u64) as i64;
            let marketing = self.below((total / 4) as u64) as i64;
            let receivable = total - marketing;
            let first = receivable / 2;
            if let Some(m) = doc.as_object_mut() {
                m.insert("gmt_payment".into(), json!(Self::fmt(base + 30)));
                m.insert("buyer_total_fund_fee".into(), json!(total - promo));
                m.insert("buyer_total_promotion_fee".into(), json!(promo));
                m.insert("invoice_amount".into(), json!(total - promo));
                m.insert("store_total_marketing_fee".into(), json!(marketing));
                m.insert("store_total_receivable_fee".into(), json!(receivable));
                m.insert("store_fund_bills".into(), json!([
                    {"amount": first, "sub_fund_channel": "alipay_account", "fund_channel": "alipay",
                     "disbursed_at": Self::fmt(base + 3600), "payment_seq_no": self.id("SEQ", i)},
                    {"amount": receivable - first, "sub_fund_channel": "alipay_mj_subsidy", "fund_channel": "alipay"}
                ]));
            }
        }
        doc
    }

    fn omni_order(&mut self, i: u64) -> Value {
        let fee = 100 + self.below(100_000) as i64;
        let (paid, _) = self.time(1_700_000_000);
        let guide: i64 = GUIDE_USER_ID.parse().unwrap_or(1);
        json!({
            "order_id": self.id("1087", i), "merchant_id": if i % 97 == 96 { MERCHANT_B } else { self.merchant.as_str() },
            "out_order_id": self.id("OMNI", i), "o2o_guide_id": guide, "total_fee": fee, "pay_status": 1,
            "can_close": self.below(2) == 0,
            "pay_order_serial_infos": [{"pay_serial_no": self.id("SER", i), "step_no": 1, "batch_no": 1,
                "paid_money": fee, "pay_time": paid, "sync_time": paid, "pay_type": 2, "pay_status": 1}]
        })
    }
}
