//! Alipay OpenAPI v2: the gateway's parameter path (form / multipart decoding in both charsets,
//! the merged parameter set, the common-parameter checks, the string-to-sign) and the client's
//! strict envelope decoder. Input layout: see `input.rs`.

#![no_main]

mod input;

use chrono::Duration;
use libfuzzer_sys::fuzz_target;
use tradeq_wire::alipay::sign::v2_sign_content;
use tradeq_wire::alipay::v2::{extract_signed_response, read_common, response_key};
use tradeq_wire::params::{raw_form_value, Charset, Limits, ParamSet};

const METHODS: &[&str] = &["alipay.trade.query", "koubei.trade.itemorder.query"];

fn known(m: &str) -> bool {
    METHODS.contains(&m)
}

fuzz_target!(|data: &[u8]| {
    let req = input::split(data);

    // The request charset, read raw before anything is decoded, as the gateway does.
    let raw_q = raw_form_value(req.query, "charset");
    let raw_b = raw_form_value(req.body, "charset");
    for (outer, v) in [(req.query, raw_q), (req.body, raw_b)] {
        if let Some(v) = v {
            // `name` without `=` yields a static empty slice; anything else borrows the input.
            assert!(
                v.is_empty() || input::is_subslice(outer, v),
                "foreign slice"
            );
        }
    }
    let picked = raw_q
        .or(raw_b)
        .and_then(|b| std::str::from_utf8(b).ok())
        .and_then(Charset::from_label)
        .unwrap_or(Charset::Utf8);

    let limits = Limits::default();
    let mut method_seen: Option<String> = None;
    for charset in [Charset::Utf8, Charset::Gbk, picked] {
        let pairs = input::pairs(&req, charset);
        let Ok(set) = ParamSet::from_pairs(pairs, &limits) else {
            continue;
        };
        assert!(set.len() <= limits.max_params);
        for (k, _) in set.iter() {
            assert!(!k.is_empty() && k.len() <= limits.max_name_len);
            assert!(set.get(k).is_some());
        }

        match read_common(&set, input::now(), Duration::minutes(15), known) {
            Ok(common) => {
                assert!(known(&common.method));
                assert_eq!(set.get("sign"), Some(common.sign.as_str()));
                assert_eq!(common.version, "1.0");
            }
            Err(e) => {
                let _ = e.to_string();
            }
        }

        let canonical = v2_sign_content(set.iter(), false);
        let with_empty = v2_sign_content(set.iter(), true);
        assert!(canonical.len() <= with_empty.len());
        if method_seen.is_none() {
            method_seen = set.get("method").map(str::to_string);
        }
    }

    // The client side: the whole input (and the body alone) as a v2 response body.
    let text = String::from_utf8_lossy(data);
    let body_text = String::from_utf8_lossy(req.body);
    let method = method_seen.unwrap_or_else(|| "alipay.trade.query".to_string());
    for body in [text.as_ref(), body_text.as_ref()] {
        for m in [method.as_str(), "alipay.trade.query"] {
            for cert_mode in [false, true] {
                if let Ok(signed) = extract_signed_response(body, m, cert_mode) {
                    assert!(input::is_subslice(
                        body.as_bytes(),
                        signed.content.as_bytes()
                    ));
                    assert!(!signed.sign.is_empty());
                    assert!(cert_mode || signed.alipay_cert_sn.is_none());
                    assert_eq!(signed.encrypted, signed.content.starts_with('"'));
                    let _ = signed.ciphertext();
                    let _ = response_key(m);
                }
            }
        }
    }
});
