//! TOP (`/router/rest`) request signatures that did not verify.

use super::MAX_OTHER_CREDENTIALS;
use crate::top::sign::{sign, sign_string, SignMethod};

/// A TOP app's key and secret. Secrets only go into digests here, never into a finding.
#[derive(Clone, Copy)]
pub struct TopSecret<'a> {
    /// `app_key`.
    pub app_key: &'a str,
    /// The app secret.
    pub secret: &'a str,
}

impl std::fmt::Debug for TopSecret<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TopSecret")
            .field("app_key", &self.app_key)
            .finish_non_exhaustive()
    }
}

const METHODS: [SignMethod; 3] = [SignMethod::Md5, SignMethod::Hmac, SignMethod::HmacSha256];

/// Why a TOP signature failed. `params` are every received parameter (`sign` included),
/// `app` the app the request names, `others` every other registered app.
pub fn diagnose_top_signature(
    params: &[(&str, &str)],
    app: TopSecret<'_>,
    others: &[TopSecret<'_>],
) -> Vec<String> {
    let get = |name: &str| params.iter().find(|(k, _)| *k == name).map(|(_, v)| *v);
    let given = get("sign").unwrap_or("").to_ascii_uppercase();
    let declared = get("sign_method")
        .and_then(SignMethod::from_param)
        .unwrap_or(SignMethod::Md5);
    let mut findings = Vec::new();
    if !given.bytes().all(|b| b.is_ascii_hexdigit()) || !matches!(given.len(), 32 | 64) {
        findings.push(format!(
            "`sign` has {} characters and is not hex: {} gives {} upper-case hex characters.",
            given.chars().count(),
            declared.as_str(),
            declared.hex_len()
        ));
        return findings;
    }
    // The strings a client may have signed: the canonical one, with empty values, and each with
    // one parameter left out.
    let mut strings: Vec<(Option<&str>, String)> = vec![
        (None, sign_string(params.iter().copied(), false)),
        (None, sign_string(params.iter().copied(), true)),
    ];
    for (name, _) in params.iter().filter(|(k, _)| *k != "sign") {
        let kept = params.iter().filter(|(k, _)| k != name).copied();
        strings.push((Some(name), sign_string(kept, false)));
    }
    let mut secrets = vec![app];
    secrets.extend(
        others
            .iter()
            .filter(|o| o.app_key != app.app_key)
            .take(MAX_OTHER_CREDENTIALS)
            .copied(),
    );
    // The declared method first, so the simplest explanation wins.
    let mut methods = vec![declared];
    methods.extend(METHODS.into_iter().filter(|m| *m != declared));
    for secret in &secrets {
        for method in methods.iter().filter(|m| m.hex_len() == given.len()) {
            for (left_out, s) in &strings {
                if sign(secret.secret, *method, s) != given {
                    continue;
                }
                if secret.app_key != app.app_key {
                    findings.push(format!(
                        "The request was signed with the secret of app_key {}, not of app_key \
                         {}: the client is configured with another app's secret (or the wrong \
                         app_key).",
                        secret.app_key, app.app_key
                    ));
                }
                if *method != declared {
                    findings.push(format!(
                        "The request was signed with {} but sign_method={}: send \
                         sign_method={} or sign with {}.",
                        method.as_str(),
                        declared.as_str(),
                        method.as_str(),
                        declared.as_str()
                    ));
                }
                if let Some(name) = left_out {
                    findings.push(format!(
                        "Parameter `{name}` is not in the string that was signed: it was added \
                         after signing, or the client leaves it out. Every parameter but `sign` \
                         is signed, system and business parameters alike."
                    ));
                }
                return findings;
            }
        }
    }
    if declared.hex_len() != given.len() {
        findings.push(format!(
            "`sign` has {} hex characters; sign_method={} gives {}.",
            given.len(),
            declared.as_str(),
            declared.hex_len()
        ));
    }
    findings.push(format!(
        "The sign is no md5, hmac or hmac-sha256 digest of this request under app_key {}'s \
         secret or any other registered app's: check the app secret, then compare your string \
         to sign with `sign_string` (every parameter but `sign`, sorted, name and value \
         concatenated; md5 wraps it in the secret).",
        app.app_key
    ));
    findings
}

#[cfg(test)]
mod tests {
    use super::*;

    const APP: TopSecret<'static> = TopSecret {
        app_key: "12345678",
        secret: "helloworld",
    };
    const OTHER: TopSecret<'static> = TopSecret {
        app_key: "87654321",
        secret: "otherworld",
    };

    fn params(sign_method: &'static str) -> Vec<(&'static str, &'static str)> {
        vec![
            ("method", "alibaba.omni.order.query"),
            ("app_key", "12345678"),
            ("session", "test"),
            ("timestamp", "2016-01-01 12:00:00"),
            ("format", "json"),
            ("v", "2.0"),
            ("sign_method", sign_method),
            ("order_id", "108717674563804955"),
        ]
    }

    fn diagnose(p: &[(&'static str, &'static str)], signed: &str) -> Vec<String> {
        let mut all = p.to_vec();
        all.push(("sign", signed));
        diagnose_top_signature(&all, APP, &[APP, OTHER])
    }

    fn has(f: &[String], needle: &str) -> bool {
        f.iter().any(|x| x.contains(needle))
    }

    #[test]
    fn the_other_digest_is_named() {
        let p = params("md5");
        let s = sign(APP.secret, SignMethod::Hmac, &sign_string(p.clone(), false));
        let f = diagnose(&p, &s);
        assert!(has(&f, "signed with hmac but sign_method=md5"), "{f:?}");
        let p = params("hmac");
        let s = sign(
            APP.secret,
            SignMethod::HmacSha256,
            &sign_string(p.clone(), false),
        );
        let f = diagnose(&p, &s);
        assert!(
            has(&f, "signed with hmac-sha256 but sign_method=hmac"),
            "{f:?}"
        );
        let p = params("hmac-sha256");
        let s = sign(APP.secret, SignMethod::Md5, &sign_string(p.clone(), false));
        let f = diagnose(&p, &s);
        assert!(
            has(&f, "signed with md5 but sign_method=hmac-sha256"),
            "{f:?}"
        );
    }

    #[test]
    fn another_apps_secret() {
        let p = params("md5");
        let s = sign(
            OTHER.secret,
            SignMethod::Md5,
            &sign_string(p.clone(), false),
        );
        let f = diagnose(&p, &s);
        assert!(
            has(&f, "secret of app_key 87654321, not of app_key 12345678"),
            "{f:?}"
        );
        assert!(!f
            .iter()
            .any(|x| x.contains("otherworld") || x.contains("helloworld")));
    }

    #[test]
    fn a_parameter_missing_from_the_string() {
        let p = params("md5");
        let signed: Vec<_> = p.iter().copied().filter(|(k, _)| *k != "session").collect();
        let s = sign(APP.secret, SignMethod::Md5, &sign_string(signed, false));
        let f = diagnose(&p, &s);
        assert!(
            has(
                &f,
                "Parameter `session` is not in the string that was signed"
            ),
            "{f:?}"
        );
    }

    #[test]
    fn unknown_secret_and_malformed_signs() {
        let p = params("md5");
        let s = sign("nobody", SignMethod::Md5, &sign_string(p.clone(), false));
        let f = diagnose(&p, &s);
        assert!(has(&f, "no md5, hmac or hmac-sha256 digest"), "{f:?}");
        let f = diagnose(&p, "xyz");
        assert!(has(&f, "is not hex"), "{f:?}");
        let s = sign("nobody", SignMethod::HmacSha256, "x");
        let f = diagnose(&p, &s);
        assert!(
            has(&f, "`sign` has 64 hex characters; sign_method=md5 gives 32"),
            "{f:?}"
        );
    }
}
