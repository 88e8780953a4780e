//! Alipay OpenAPI v3: what the front door does with a request body and query, and what the
//! client does with an answer body.
//!
//! Input layout: `<URL query>\n<body…>` (no line break: the whole input is the query and the body
//! is empty). The server side mirrors `business_params` (a POST body must be one JSON object; a
//! GET query is decoded as a UTF-8 form, a repeated `query_options` becoming an array and any
//! other repeated name an error), the string-to-sign over the literal target and body, and
//! `alipay-encrypt-type: AES` bodies (base64 of AES-CBC under the app's key). The client side
//! builds the answer's string-to-sign and checks it against the worked signature.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use openssl::pkey::{PKey, Public};
use serde_json::{Map, Value};
use tradeq_wire::alipay::aes::{aes_decrypt, aes_encrypt, AesError};
use tradeq_wire::alipay::keys::parse_public_key;
use tradeq_wire::alipay::sign::{rsa_verify, SignType};
use tradeq_wire::alipay::v3::{error_body, request_sign_content, response_sign_content, V3Error};
use tradeq_wire::params::{encode_form, parse_form, Charset};

/// Key bytes 00 01 … 0f, the key of the AES known-answer tests.
const KEY: &str = "AAECAwQFBgcICQoLDA0ODw==";

/// The auth string of the worked v3 request (its first line of the string-to-sign).
const AUTH_STRING: &str =
    "app_id=2021000000000001,nonce=5f2b8c4e-1d3a-4b7e-9c11-0a1b2c3d4e5f,timestamp=1704081600000";

/// The worked v3 answer: platform public key, timestamp, nonce, body and signature.
const PLATFORM_PUBLIC_PEM: &str = "-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA+JLcHLpOojKSdb/k/AqP
FVxFIXpfbH5+tzt0dZf9vX/AbAodpMqEH4XNF/2UwMrHQWNtrcQwLFtbAxfSrJNV
1FDpvYX6s4lWbl2hYTEgEHWA1nwi/csT9Jj23tC7L/Q6AKr+D/Cq/vXmGgWAyEXU
mmzdbsN4M0IQzDhoZrH6FbNLkhTmjEZTDxOpjwmEQw0rACWen8td8a9e03Y6O05s
DRNC2azqmuUKAwGI2UThhejQQYkn/M0aUO+O4Y5RRSEPFQOWFK7NJod7cAU69IYD
pI3vJyjNU66xhnqhSw/NiO4Ky0LPD/OpRLpuHQEQl5HQCwiYhTdTZFmRoH7gK18C
YQIDAQAB
-----END PUBLIC KEY-----
";
const ANSWER_TIMESTAMP: &str = "1704081600321";
const ANSWER_NONCE: &str = "8a1f0c2d3e4b5a6978695a4b3c2d1e0f";
const ANSWER_BODY: &[u8] = br#"{"out_trade_no":"T1","total_amount":"88.88","trade_no":"2024010122001446880500000001","trade_status":"TRADE_SUCCESS"}"#;
const ANSWER_SIGN: &str = "3EV/iVXYq65FtV0pcMHQENXasHzVG1Z1lZDLB5VJJM+LONPEzA05/q+0pacjklkdUkN0OwHrvhBtYVhaeUDvqOqYbovSIFNE0a/YPYCOgiCi80wLIGTqa+MoDKm7QCsSJ5ZIE3uBLJx4fev9lFkmn8/nwpQwXsB5ZI8acFpNgtX4htSTQR+iyLRhLm7xTOg275p+nj10dIJPNLOrZdI72PI1LoWtop+h9MBq/cCwgRQImNSJYPCAty4LWHponneQSjyOogAxtYOJ66my+2YwLazlZeToJGHJ6Q0pHZlWCP7rf1pIWovHp/Q27dJis4cHiMsHTQzJmNuQR89tRMpQ9w==";

fn platform_key() -> Option<&'static PKey<Public>> {
    static KEY: OnceLock<Option<PKey<Public>>> = OnceLock::new();
    KEY.get_or_init(|| parse_public_key(PLATFORM_PUBLIC_PEM).ok())
        .as_ref()
}

/// What the server's `business_params` accepts for a POST body; `None` where it answers 400.
fn post_params(body: &[u8]) -> Option<Map<String, Value>> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Some(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Some(map),
        _ => None,
    }
}

/// What the server's `business_params` builds from GET query pairs; `None` for a repeated name
/// other than `query_options`.
fn get_params(pairs: &[(String, String)]) -> Option<Map<String, Value>> {
    let mut map = Map::new();
    for (k, v) in pairs {
        match map.get_mut(k) {
            None => {
                map.insert(k.clone(), Value::String(v.clone()));
            }
            Some(existing) if k == "query_options" => {
                if let Value::String(first) = existing.clone() {
                    *existing = Value::Array(vec![Value::String(first)]);
                }
                if let Value::Array(items) = existing {
                    items.push(Value::String(v.clone()));
                }
            }
            Some(_) => return None,
        }
    }
    Some(map)
}

fn check_post_body(body: &[u8]) {
    let Some(map) = post_params(body) else {
        return;
    };
    // What the method layer receives survives its own serialisation unchanged.
    let text = serde_json::to_string(&map).unwrap_or_default();
    let again: Map<String, Value> = serde_json::from_str(&text).unwrap_or_default();
    assert_eq!(again, map);
}

fn check_query(query: &[u8]) {
    let Ok(pairs) = parse_form(query, Charset::Utf8) else {
        return;
    };
    // Decoding never invents parameters: each came from a non-empty `&` segment.
    assert!(pairs.len() <= query.split(|&b| b == b'&').count());
    // Encoding the decoded pairs the way the SDKs do and decoding again gives the same pairs.
    let encoded = encode_form(
        pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        Charset::Utf8,
    );
    assert!(encoded.is_ascii());
    assert_eq!(
        parse_form(encoded.as_bytes(), Charset::Utf8).ok().as_ref(),
        Some(&pairs)
    );
    if let Some(map) = get_params(&pairs) {
        assert!(map.len() <= pairs.len());
        for (k, v) in &pairs {
            match map.get(k) {
                Some(Value::String(s)) => assert_eq!(s, v),
                Some(Value::Array(items)) => {
                    assert_eq!(k, "query_options");
                    assert!(items.contains(&Value::String(v.clone())));
                }
                other => panic!("parameter {k:?} became {other:?}"),
            }
        }
    }
}

fn check_sign_content(query: &[u8], body: &[u8]) {
    let query = String::from_utf8_lossy(query);
    let target = if query.is_empty() {
        "/v3/alipay/trade/query".to_string()
    } else {
        format!("/v3/alipay/trade/query?{query}")
    };
    for (method, token) in [("POST", None), ("GET", Some("tok123"))] {
        let content = request_sign_content(AUTH_STRING, method, &target, body, token);
        let head = format!("{AUTH_STRING}\n{method}\n{target}\n");
        assert!(content.starts_with(head.as_bytes()));
        let rest = &content[head.len()..];
        assert_eq!(&rest[..body.len()], body);
        let tail = &rest[body.len()..];
        match token {
            None => assert_eq!(tail, b"\n"),
            Some(t) => assert_eq!(tail, format!("\n{t}\n").as_bytes()),
        }
        // The 401 that names the verified string is valid JSON carrying it whole.
        let verified = String::from_utf8_lossy(&content);
        let err = V3Error::invalid_signature(&verified);
        let json: Value = serde_json::from_str(&error_body(&err, &query)).unwrap_or(Value::Null);
        assert_eq!(json["code"], "invalid-signature");
        let message = json["message"].as_str().unwrap_or_default();
        assert!(message.ends_with(verified.as_ref()));
        let link = json["links"][0]["link"].as_str().unwrap_or_default();
        assert!(link.starts_with("https://open.alipay.com/api/errCheck?traceId="));
        assert!(link.is_ascii() && !link.contains(['"', '&', ' ', '\n']));
    }
}

/// An encrypted body: the server decrypts text, and what it accepts re-encrypts to the same
/// ciphertext (a zero IV and PKCS#7 make AES-CBC deterministic, and base64 is decoded strictly).
fn check_encrypted(key: &str, body: &[u8]) {
    let Ok(text) = std::str::from_utf8(body) else {
        return;
    };
    match aes_decrypt(key, text) {
        Ok(plain) => {
            let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
            assert_eq!(aes_encrypt(key, &plain).ok().as_deref(), Some(&*compact));
            // The decrypted body then takes the plain path.
            check_post_body(&plain);
        }
        Err(AesError::KeyNotBase64 | AesError::BadKeyLength(_)) => {
            assert!(aes_encrypt(key, b"").is_err());
        }
        Err(e) => {
            assert!(!matches!(e, AesError::OpenSsl(_)), "{e}");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let (query, body) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };

    check_post_body(body);
    check_query(query);
    check_sign_content(query, body);

    check_encrypted(KEY, body);
    // The first line as the key: every bad key is an error, never a panic.
    if let Ok(key) = std::str::from_utf8(query) {
        check_encrypted(key, body);
    }
    // Any body encrypts and decrypts back under the app key.
    let ct = aes_encrypt(KEY, body).unwrap_or_default();
    assert_eq!(aes_decrypt(KEY, &ct).ok().as_deref(), Some(body));

    // The client: the worked answer signature verifies over the worked body and no other.
    let content = response_sign_content(ANSWER_TIMESTAMP, ANSWER_NONCE, body);
    assert_eq!(
        content.len(),
        ANSWER_TIMESTAMP.len() + ANSWER_NONCE.len() + body.len() + 3
    );
    let key = platform_key().expect("the worked platform key parses");
    assert_eq!(
        rsa_verify(key, SignType::Rsa2, &content, ANSWER_SIGN),
        body == ANSWER_BODY
    );
    // A signature header the fuzzer chose never verifies, unless it is the worked one written
    // with blanks or without padding (`rsa_verify` ignores both, as it documents).
    let sig = String::from_utf8_lossy(query);
    if rsa_verify(key, SignType::Rsa2, &content, &sig) {
        let compact: String = sig.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        assert_eq!(
            compact.trim_end_matches('='),
            ANSWER_SIGN.trim_end_matches('=')
        );
    }
});
