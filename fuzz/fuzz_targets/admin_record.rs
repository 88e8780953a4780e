//! The record decoder behind `tradeq import` and the admin API's record routes:
//! `Record::from_json` for every kind.
//!
//! Input layout: `<kind>\n<JSON document>`. When the first line names a kind (`alipay-trade`,
//! `koubei-order`, `onsite-trade`, `omni-order`) the document is decoded as that kind only;
//! otherwise the whole input is decoded as each of the four kinds.
//!
//! An accepted record must be of the kind asked for, valid, with its keys and merchant set, and
//! must survive `to_json` → `from_json` unchanged (the export and re-import of a record). A refused
//! one must name a field and a reason.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tradeq_model::{Record, RecordKind};

fn check(kind: RecordKind, json: &str) {
    let record = match Record::from_json(kind, json) {
        Ok(r) => r,
        Err(e) => {
            assert!(!e.field.is_empty(), "an error without a field: {e}");
            assert!(!e.reason.is_empty(), "an error without a reason: {e}");
            // A message may quote a field name from the input and list the expected ones, but
            // never grows with anything else.
            assert!(e.to_string().len() <= 4096 + 2 * json.len(), "{e}");
            return;
        }
    };
    assert_eq!(record.kind(), kind);
    assert_eq!(record.validate(), Ok(()));
    assert!(!record.primary_key().trim().is_empty());
    assert!(!record.merchant().is_empty());
    if let Some(out) = record.out_trade_no() {
        assert!(!out.trim().is_empty());
    }

    let exported = record.to_json();
    match Record::from_json(kind, &exported) {
        Ok(again) => {
            assert_eq!(again, record, "re-import changed the record: {exported}");
            assert_eq!(again.to_json(), exported);
            assert_eq!(again.version_stamp(), record.version_stamp());
        }
        Err(e) => panic!("the export of an accepted record is refused: {e}\n{exported}"),
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (first, rest) = text.split_once('\n').unwrap_or((&text, ""));
    match first.trim().parse::<RecordKind>() {
        Ok(kind) => check(kind, rest),
        Err(e) => {
            assert!(e.to_string().contains("unknown record kind"));
            for kind in RecordKind::ALL {
                check(kind, &text);
            }
        }
    }
});
