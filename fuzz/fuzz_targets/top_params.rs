//! Taobao Open Platform: the router's parameter path (form / multipart decoding, the system
//! parameter checks, the string-to-sign, signing and tolerant verification) and the client's
//! JSON and XML response parsers. Input layout: see `input.rs`.

#![no_main]

mod input;

use libfuzzer_sys::fuzz_target;
use tradeq_wire::params::{Charset, Limits, ParamSet};
use tradeq_wire::top::{
    parse_json_response, parse_xml_response, read_common, sign, sign_string, verify, SignMethod,
};

const METHODS: &[&str] = &[
    "alibaba.xlife.onsite.trade.query",
    "tmall.luxury.stage.edi.alipay.trade.query",
    "alibaba.omni.order.query",
];
const SECRET: &str = "helloworld";

fn known(m: &str) -> bool {
    METHODS.contains(&m)
}

fuzz_target!(|data: &[u8]| {
    let req = input::split(data);
    // The router decodes in UTF-8 only.
    let raw_pairs = input::pairs(&req, Charset::Utf8);
    // The server goes through a duplicate-free set; `read_common` itself takes any pair list,
    // so feed it both.
    let set_pairs = ParamSet::from_pairs(raw_pairs.clone(), &Limits::default())
        .ok()
        .map(ParamSet::into_pairs);

    let mut method = "alibaba.omni.order.query".to_string();
    let mut simplify = false;
    for pairs in [Some(&raw_pairs), set_pairs.as_ref()].into_iter().flatten() {
        let borrowed = || pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()));
        let sign_method = match read_common(pairs, input::now(), known) {
            Ok(common) => {
                assert!(known(&common.method));
                assert_eq!(common.v, "2.0");
                method = common.method.clone();
                simplify = common.simplify_json();
                // The sign as sent must be checked without panicking, whatever it is.
                let _ = verify(SECRET, common.sign_method, borrowed(), &common.sign);
                common.sign_method
            }
            Err(e) => {
                let _ = e.to_string();
                [SignMethod::Md5, SignMethod::Hmac, SignMethod::HmacSha256][data.len() % 3]
            }
        };

        let canonical = sign_string(borrowed(), false);
        let with_empty = sign_string(borrowed(), true);
        assert!(canonical.len() <= with_empty.len());

        // Round trip: what we sign over the canonical string verifies, in either letter case,
        // whatever `sign` the pairs carry (it is never part of the string).
        let computed = sign(SECRET, sign_method, &canonical);
        assert_eq!(computed.len(), sign_method.hex_len());
        assert!(verify(SECRET, sign_method, borrowed(), &computed));
        assert!(verify(
            SECRET,
            sign_method,
            borrowed(),
            &computed.to_ascii_lowercase()
        ));
        let given = pairs
            .iter()
            .find(|(k, _)| k == "sign")
            .map_or("", |(_, v)| v.as_str());
        let _ = verify(SECRET, sign_method, borrowed(), given);
    }

    // The client side: the whole input (and the body alone) as a TOP response body.
    let text = String::from_utf8_lossy(data);
    let body_text = String::from_utf8_lossy(req.body);
    for body in [text.as_ref(), body_text.as_ref()] {
        for m in [method.as_str(), "alibaba.xlife.onsite.trade.query"] {
            let _ = parse_json_response(body, m, simplify);
            let _ = parse_json_response(body, m, !simplify);
            let _ = parse_xml_response(body, m);
        }
    }
});
