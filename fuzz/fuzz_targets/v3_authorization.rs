//! Alipay OpenAPI v3: the `Authorization` header parser and the request string-to-sign built
//! from what it returns. The input is the header text; when it holds line breaks, the first line
//! is parsed on its own too and the remaining text serves as the request body.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tradeq_wire::alipay::v3::{
    method_for_v3_path, parse_authorization, request_sign_content, AUTH_SCHEME,
    MAX_AUTHORIZATION_LEN,
};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (first, rest) = text.split_once('\n').unwrap_or((&text, ""));
    let _ = method_for_v3_path(first);
    for header in [text.as_ref(), first] {
        let auth = match parse_authorization(header) {
            Ok(a) => a,
            Err(e) => {
                let _ = e.to_string();
                continue;
            }
        };
        assert!(header.len() <= MAX_AUTHORIZATION_LEN);
        assert!(!auth.app_id.is_empty() && !auth.nonce.is_empty() && !auth.sign.is_empty());
        assert!(auth.timestamp_ms >= 0);
        assert!(auth.expired_seconds.is_none_or(|s| s > 0));
        assert!(!auth.sign.contains(",sign="));
        // The header is exactly scheme, one space, auth string, `,sign=`, signature.
        let tail = &header[AUTH_SCHEME.len() + 1..];
        assert_eq!(tail, format!("{},sign={}", auth.auth_string, auth.sign));

        for token in [None, Some("tok123")] {
            let content = request_sign_content(
                &auth.auth_string,
                "POST",
                "/v3/alipay/trade/query",
                rest.as_bytes(),
                token,
            );
            let mut expected = format!(
                "{}\nPOST\n/v3/alipay/trade/query\n{rest}\n",
                auth.auth_string
            );
            if let Some(t) = token {
                expected.push_str(t);
                expected.push('\n');
            }
            assert_eq!(content, expected.as_bytes());
        }
    }
});
