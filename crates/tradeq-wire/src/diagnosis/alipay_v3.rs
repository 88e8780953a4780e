//! Alipay v3 (`/v3/…`) request signatures that did not verify.

use openssl::pkey::{PKey, Public};

use super::rsa_digest::{decode, digest, recover};
use super::{KnownKey, MAX_OTHER_CREDENTIALS};
use crate::alipay::sign::SignType;
use crate::alipay::v3::request_sign_content;

/// What a v3 request signed, as tradeq received it.
#[derive(Debug, Clone, Copy)]
pub struct V3Signed<'a> {
    /// The `Authorization` header's auth string (`app_id=…,nonce=…,timestamp=…`).
    pub auth_string: &'a str,
    /// The HTTP method.
    pub http_method: &'a str,
    /// The request target: path and raw query, as sent.
    pub target: &'a str,
    /// The body, as sent.
    pub body: &'a [u8],
    /// The `alipay-app-auth-token` header, when sent.
    pub app_auth_token: Option<&'a str>,
    /// The `sign` of the `Authorization` header.
    pub sign: &'a str,
}

/// The lines tradeq verified, for a finding: each with its number and meaning.
pub fn content_lines(s: &V3Signed<'_>, token_shown: Option<&str>) -> String {
    let body = String::from_utf8_lossy(s.body);
    let mut out = format!(
        "line 1 (auth string): `{}`; line 2 (method): `{}`; line 3 (request target): `{}`; \
         line 4 (body, {} bytes): `{}`",
        s.auth_string,
        s.http_method,
        s.target,
        s.body.len(),
        super::shorten(&body)
    );
    if let Some(t) = token_shown {
        out.push_str(&format!("; line 5 (app auth token): `{t}`"));
    }
    out.push_str("; each line ends with \\n");
    out
}

/// Why a v3 signature failed. `token_shown` is the app auth token as it may be shown (masked).
pub fn diagnose_v3_signature(
    s: &V3Signed<'_>,
    app_id: &str,
    app_key: &PKey<Public>,
    other_apps: &[KnownKey<'_>],
    token_shown: Option<&str>,
) -> Vec<String> {
    let mut findings = Vec::new();
    let Some(sig) = decode(s.sign) else {
        findings.push(
            "The `sign` of the Authorization header is not base64: it was cut or escaped."
                .to_string(),
        );
        return findings;
    };
    let rec = match recover(app_key, &sig) {
        Some(rec) => rec,
        None => {
            let other = other_apps
                .iter()
                .take(MAX_OTHER_CREDENTIALS)
                .filter(|o| o.label != app_id)
                .find_map(|o| recover(o.key, &sig).map(|_| o.label));
            findings.push(match other {
                Some(label) => format!(
                    "The signature was made with the private key of app {label}, not of app \
                     {app_id}: the SDK is configured with another app's private key (or the \
                     wrong app_id)."
                ),
                None => format!(
                    "The signature was not made with the private key that pairs with app \
                     {app_id}'s registered public key, nor with any other registered app's: \
                     check that the SDK's private key and the registered public key are one pair."
                ),
            });
            return findings;
        }
    };
    let Some(t) = rec.sign_type else {
        findings.push("The signature holds neither a SHA-256 nor a SHA-1 digest.".to_string());
        return findings;
    };
    if t == SignType::Rsa {
        findings.push(
            "The request was signed with SHA1withRSA; v3 signs with SHA256withRSA \
             (ALIPAY-SHA256withRSA)."
                .to_string(),
        );
    }
    let matches = |auth: &str, method: &str, target: &str, body: &[u8], token: Option<&str>| {
        digest(t, &request_sign_content(auth, method, target, body, token)) == rec.digest
    };
    let path = s.target.split('?').next().unwrap_or(s.target);
    let trimmed_body = s.body.trim_ascii();
    let reserialised = serde_json::from_slice::<serde_json::Value>(s.body)
        .ok()
        .map(|v| v.to_string().into_bytes());
    let mut explained = Vec::new();
    if matches(
        s.auth_string,
        s.http_method,
        s.target,
        s.body,
        s.app_auth_token,
    ) {
        // Only the hash was wrong.
    } else if !s.body.is_empty()
        && matches(
            s.auth_string,
            s.http_method,
            s.target,
            b"",
            s.app_auth_token,
        )
    {
        explained.push(format!(
            "An empty body was signed but {} bytes were sent: sign the exact body you send.",
            s.body.len()
        ));
    } else if trimmed_body != s.body
        && matches(
            s.auth_string,
            s.http_method,
            s.target,
            trimmed_body,
            s.app_auth_token,
        )
    {
        explained.push(
            "The body was signed without its leading or trailing whitespace: sign the exact \
             bytes you send."
                .to_string(),
        );
    } else if reserialised.as_deref().is_some_and(|b| {
        b != s.body && matches(s.auth_string, s.http_method, s.target, b, s.app_auth_token)
    }) {
        explained.push(
            "The signed body is the same JSON written differently (spacing or key order): the \
             body was serialised once for signing and again for sending; sign the bytes you send."
                .to_string(),
        );
    } else if path != s.target
        && matches(s.auth_string, s.http_method, path, s.body, s.app_auth_token)
    {
        explained.push(format!(
            "The request target was signed without its query string (`{path}`): sign the path \
             and the query exactly as sent."
        ));
    } else if s.http_method != s.http_method.to_ascii_lowercase()
        && matches(
            s.auth_string,
            &s.http_method.to_ascii_lowercase(),
            s.target,
            s.body,
            s.app_auth_token,
        )
    {
        explained.push("The HTTP method was signed in lower case: sign it upper case.".to_string());
    } else if s.app_auth_token.is_some()
        && matches(s.auth_string, s.http_method, s.target, s.body, None)
    {
        explained.push(
            "The `alipay-app-auth-token` header was sent but not signed: when it is sent, its \
             value is the fifth line of the signed content."
                .to_string(),
        );
    } else {
        explained.push(format!(
            "The key is right but the signed content differs from what tradeq verified. Check \
             that the auth string (app_id, nonce, timestamp, expired_seconds) is byte for byte the \
             one in the Authorization header, and that the body is the one sent. tradeq verified: {}.",
            content_lines(s, token_shown)
        ));
    }
    findings.extend(explained);
    findings
}

#[cfg(test)]
mod tests {
    use super::super::test_keys::keys;
    use super::*;
    use crate::alipay::sign::rsa_sign;

    const AUTH: &str = "app_id=2021000000000001,nonce=n-1,timestamp=1704081600000";
    const BODY: &[u8] = br#"{"out_trade_no":"T1","query_options":["fund_bill_list"]}"#;

    fn signed(content: &[u8], key: usize, t: SignType) -> String {
        rsa_sign(&keys()[key].private, t, content).unwrap_or_default()
    }

    fn diagnose(sign: &str, body: &[u8], target: &str, token: Option<&str>) -> Vec<String> {
        let k = keys();
        let s = V3Signed {
            auth_string: AUTH,
            http_method: "POST",
            target,
            body,
            app_auth_token: token,
            sign,
        };
        let others = [KnownKey {
            label: "2021000000000002",
            key: &k[1].public,
        }];
        diagnose_v3_signature(&s, "2021000000000001", &k[0].public, &others, token)
    }

    fn has(f: &[String], needle: &str) -> bool {
        f.iter().any(|x| x.contains(needle))
    }

    const PATH: &str = "/v3/alipay/trade/query";

    #[test]
    fn body_mismatches() {
        let sign = signed(
            &request_sign_content(AUTH, "POST", PATH, b"", None),
            0,
            SignType::Rsa2,
        );
        let f = diagnose(&sign, BODY, PATH, None);
        assert!(has(&f, "An empty body was signed but"), "{f:?}");
        let spaced = br#"{"out_trade_no": "T1", "query_options": ["fund_bill_list"]}"#;
        let sign = signed(
            &request_sign_content(AUTH, "POST", PATH, BODY, None),
            0,
            SignType::Rsa2,
        );
        let f = diagnose(&sign, spaced, PATH, None);
        assert!(has(&f, "same JSON written differently"), "{f:?}");
        let mut padded = BODY.to_vec();
        padded.push(b'\n');
        let f = diagnose(&sign, &padded, PATH, None);
        assert!(
            has(&f, "without its leading or trailing whitespace"),
            "{f:?}"
        );
    }

    #[test]
    fn target_token_hash_and_key() {
        let target = "/v3/alipay/trade/query?x=1";
        let sign = signed(
            &request_sign_content(AUTH, "POST", PATH, BODY, None),
            0,
            SignType::Rsa2,
        );
        let f = diagnose(&sign, BODY, target, None);
        assert!(has(&f, "without its query string"), "{f:?}");
        let f = diagnose(&sign, BODY, PATH, Some("tok"));
        assert!(has(&f, "sent but not signed"), "{f:?}");
        let sign = signed(
            &request_sign_content(AUTH, "POST", PATH, BODY, None),
            0,
            SignType::Rsa,
        );
        let f = diagnose(&sign, BODY, PATH, None);
        assert!(has(&f, "signed with SHA1withRSA"), "{f:?}");
        let sign = signed(
            &request_sign_content(AUTH, "POST", PATH, BODY, None),
            1,
            SignType::Rsa2,
        );
        let f = diagnose(&sign, BODY, PATH, None);
        assert!(has(&f, "private key of app 2021000000000002"), "{f:?}");
    }

    #[test]
    fn another_auth_string_lists_the_lines() {
        // Signed with another nonce than the header carries.
        let other_auth = "app_id=2021000000000001,nonce=n-2,timestamp=1704081600000";
        let sign = signed(
            &request_sign_content(other_auth, "POST", PATH, BODY, None),
            0,
            SignType::Rsa2,
        );
        let f = diagnose(&sign, BODY, PATH, None);
        assert!(
            has(
                &f,
                "line 1 (auth string): `app_id=2021000000000001,nonce=n-1"
            ),
            "{f:?}"
        );
        assert!(
            has(&f, "line 3 (request target): `/v3/alipay/trade/query`"),
            "{f:?}"
        );
    }
}
