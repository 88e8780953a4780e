//! Alipay v2 (`/gateway.do`) request signatures that did not verify.

use openssl::pkey::{PKey, Public};

use super::rsa_digest::{decode, describe, digest, recover, Recovered};
use super::{shorten, KnownKey, MAX_OTHER_CREDENTIALS};
use crate::alipay::keys::same_public_key;
use crate::alipay::sign::{v2_sign_content, SignType};
use crate::params::{form_escape, Charset};

/// The keys a v2 signature is tested against.
#[derive(Debug, Clone, Copy)]
pub struct V2Keys<'a> {
    /// The app the request names (`app_id`).
    pub app_id: &'a str,
    /// The public key registered for it.
    pub app_key: &'a PKey<Public>,
    /// Every other registered app's public key.
    pub other_apps: &'a [KnownKey<'a>],
    /// The platform public keys tradeq hands to apps for their SDK's `alipayPublicKey`.
    pub platform_keys: &'a [KnownKey<'a>],
}

/// One way of building the string to sign, as some client builds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Variant {
    include_empty: bool,
    with_sign_type: bool,
    url_encoded: bool,
    charset: Charset,
}

/// Why a v2 request signature failed, tested against the mistakes integrators make. `params`
/// are every received parameter (`sign` included), decoded; `charset` the request's.
pub fn diagnose_v2_signature(
    params: &[(&str, &str)],
    charset: Charset,
    keys: &V2Keys<'_>,
) -> Vec<String> {
    let mut findings = Vec::new();
    let get = |name: &str| params.iter().find(|(k, _)| *k == name).map(|(_, v)| *v);
    let declared = get("sign_type")
        .and_then(SignType::from_param)
        .unwrap_or(SignType::Rsa2);
    for platform in keys.platform_keys.iter().take(MAX_OTHER_CREDENTIALS) {
        if same_public_key(keys.app_key, platform.key) {
            findings.push(format!(
                "The public key registered for app {} is a platform public key (the one tradeq \
                 gives app {} for its SDK's `alipayPublicKey`), not the app's own: register the \
                 public key that pairs with the app's private key.",
                keys.app_id, platform.label
            ));
            break;
        }
    }
    let sign = get("sign").unwrap_or("");
    let Some(sig) = decode(sign) else {
        findings.push(
            "`sign` is not base64: it was cut, escaped twice or mangled on the way (send it \
             form-encoded, once)."
                .to_string(),
        );
        return findings;
    };
    if sig.len() != keys.app_key.size() {
        findings.push(format!(
            "`sign` decodes to {} bytes; a signature by app {}'s {}-bit key has {}: it was cut \
             or made with a key of another size.",
            sig.len(),
            keys.app_id,
            keys.app_key.bits(),
            keys.app_key.size()
        ));
    }
    if let Some(rec) = recover(keys.app_key, &sig) {
        string_findings(&rec, params, charset, declared, &mut findings);
        return findings;
    }
    let other = keys
        .other_apps
        .iter()
        .take(MAX_OTHER_CREDENTIALS)
        .filter(|o| o.label != keys.app_id)
        .find_map(|o| recover(o.key, &sig).map(|rec| (o, rec)));
    match other {
        Some((o, rec)) => {
            findings.push(format!(
                "The signature was made with the private key of app {}, not of app {}: the SDK \
                 is configured with another app's private key (or the wrong app_id).",
                o.label, keys.app_id
            ));
            string_findings(&rec, params, charset, declared, &mut findings);
        }
        None => findings.push(format!(
            "The signature was not made with the private key that pairs with app {}'s \
             registered public key, nor with any other registered app's: check that the SDK's \
             private key and the public key registered in tradeq are one pair.",
            keys.app_id
        )),
    }
    findings
}

/// Findings about the hash and the string, once the key that made the signature is known.
fn string_findings(
    rec: &Recovered,
    params: &[(&str, &str)],
    charset: Charset,
    declared: SignType,
    findings: &mut Vec<String>,
) {
    let Some(actual) = rec.sign_type else {
        findings.push(
            "The signature holds a digest that is neither SHA-256 nor SHA-1: sign with RSA2 \
             (SHA256withRSA)."
                .to_string(),
        );
        return;
    };
    if actual != declared {
        findings.push(format!(
            "The request was signed with {} but `sign_type` says {}: send sign_type={} or sign \
             with the declared hash.",
            describe(actual),
            declared.as_str(),
            actual.as_str()
        ));
    }
    let other_charset = match charset {
        Charset::Utf8 => Charset::Gbk,
        Charset::Gbk => Charset::Utf8,
    };
    let mut matched = None;
    'search: for charset_used in [charset, other_charset] {
        for url_encoded in [false, true] {
            for with_sign_type in [true, false] {
                for include_empty in [false, true] {
                    let v = Variant {
                        include_empty,
                        with_sign_type,
                        url_encoded,
                        charset: charset_used,
                    };
                    if digest(actual, &charset_used.encode(&build(params, v, None))) == rec.digest {
                        matched = Some(v);
                        break 'search;
                    }
                }
            }
        }
    }
    if let Some(v) = matched {
        variant_findings(v, params, charset, findings);
        return;
    }
    // A parameter added after signing (or one the SDK skips).
    let base = Variant {
        include_empty: false,
        with_sign_type: true,
        url_encoded: false,
        charset,
    };
    for (name, _) in params.iter().filter(|(k, _)| *k != "sign") {
        for include_empty in [false, true] {
            let v = Variant {
                include_empty,
                ..base
            };
            if digest(actual, &charset.encode(&build(params, v, Some(name)))) == rec.digest {
                findings.push(format!(
                    "Parameter `{name}` is not in the string that was signed: it was added to \
                     the request after signing, or the SDK leaves it out. Every parameter but \
                     `sign` is signed."
                ));
                return;
            }
        }
    }
    findings.push(
        "The key is right but the signed string differs from the one tradeq verified (see \
         `sign_string`: every parameter but `sign`, sorted by name, `name=value` joined with \
         `&`, decoded values): compare it with your SDK's string to sign."
            .to_string(),
    );
}

fn variant_findings(v: Variant, params: &[(&str, &str)], charset: Charset, out: &mut Vec<String>) {
    if !v.with_sign_type {
        out.push(
            "`sign_type` was left out of the string that was signed: a v2 request signs every \
             parameter but `sign`, `sign_type` included (only notification checks drop it)."
                .to_string(),
        );
    }
    if v.url_encoded {
        let example = params
            .iter()
            .find(|(k, val)| {
                !matches!(*k, "sign" | "app_auth_token") && form_escape(val, charset) != *val
            })
            .map(|(k, val)| format!(" (e.g. `{k}={}`)", shorten(&form_escape(val, charset))))
            .unwrap_or_default();
        out.push(format!(
            "The values were signed URL-encoded{example}: sign the decoded values and encode \
             only when sending."
        ));
    }
    if v.charset != charset {
        out.push(format!(
            "The string was signed as {} bytes but the request declares charset={}: sign the \
             bytes of the declared charset, or declare charset={}.",
            v.charset.label().to_uppercase(),
            charset.label(),
            v.charset.label()
        ));
    }
    let empties: Vec<&str> = params
        .iter()
        .filter(|(k, val)| *k != "sign" && val.is_empty())
        .map(|(k, _)| *k)
        .collect();
    // Both empty-value rules verify, so signing `name=` is only worth saying beside another
    // mistake.
    if v.include_empty && !empties.is_empty() {
        out.push(format!(
            "Empty parameters (`{}`) were signed as `name=`; tradeq accepts that, though the \
             documented rule drops them.",
            empties.join("`, `")
        ));
    }
}

/// The string a client built with variant `v`, leaving out `skip`.
fn build(params: &[(&str, &str)], v: Variant, skip: Option<&str>) -> String {
    let encoded: Vec<(String, String)>;
    let kept = params
        .iter()
        .filter(|(k, _)| Some(*k) != skip && (v.with_sign_type || *k != "sign_type"));
    if v.url_encoded {
        encoded = kept
            .map(|(k, val)| (k.to_string(), form_escape(val, v.charset)))
            .collect();
        v2_sign_content(
            encoded.iter().map(|(k, val)| (k.as_str(), val.as_str())),
            v.include_empty,
        )
    } else {
        v2_sign_content(kept.copied(), v.include_empty)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_keys::keys;
    use super::*;
    use crate::alipay::sign::{rsa_sign, v2_verify_request};

    const APP: &str = "2021000000000001";
    const OTHER: &str = "2021000000000002";

    fn request(sign_type: &str, charset: &str) -> Vec<(&'static str, String)> {
        vec![
            ("app_id", APP.to_string()),
            ("method", "alipay.trade.query".to_string()),
            ("charset", charset.to_string()),
            ("format", "json".to_string()),
            ("sign_type", sign_type.to_string()),
            ("timestamp", "2024-01-01 12:00:00".to_string()),
            ("version", "1.0".to_string()),
            ("notify_url", String::new()),
            ("biz_content", r#"{"out_trade_no":"T1 中文"}"#.to_string()),
        ]
    }

    /// Signs `params` as a client with key `which` would, over `content`, and diagnoses.
    fn diagnose_signed(
        params: &[(&'static str, String)],
        key: usize,
        t: SignType,
        content: &[u8],
        charset: Charset,
        app_key: usize,
    ) -> Vec<String> {
        let k = keys();
        let sign = rsa_sign(&k[key].private, t, content).unwrap_or_default();
        let mut all: Vec<(&str, &str)> = params.iter().map(|(a, b)| (*a, b.as_str())).collect();
        all.push(("sign", &sign));
        // The diagnosis only runs when verification failed; check that it did.
        assert!(
            v2_verify_request(
                &k[app_key].public,
                SignType::Rsa2,
                all.iter().copied(),
                &sign,
                charset
            )
            .is_err()
                || t != SignType::Rsa2
        );
        let others = [
            KnownKey {
                label: APP,
                key: &k[0].public,
            },
            KnownKey {
                label: OTHER,
                key: &k[1].public,
            },
        ];
        let platform = [KnownKey {
            label: APP,
            key: &k[2].public,
        }];
        diagnose_v2_signature(
            &all,
            charset,
            &V2Keys {
                app_id: APP,
                app_key: &k[app_key].public,
                other_apps: &others,
                platform_keys: &platform,
            },
        )
    }

    fn pairs<'a>(params: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
        params.iter().map(|(a, b)| (*a, b.as_str())).collect()
    }

    fn has(findings: &[String], needle: &str) -> bool {
        findings.iter().any(|f| f.contains(needle))
    }

    #[test]
    fn another_apps_key() {
        let p = request("RSA2", "utf-8");
        let content = v2_sign_content(pairs(&p), false);
        let f = diagnose_signed(&p, 1, SignType::Rsa2, content.as_bytes(), Charset::Utf8, 0);
        assert!(
            has(&f, &format!("private key of app {OTHER}, not of app {APP}")),
            "{f:?}"
        );
    }

    #[test]
    fn rsa_declared_rsa2() {
        let p = request("RSA2", "utf-8");
        let content = v2_sign_content(pairs(&p), false);
        let f = diagnose_signed(&p, 0, SignType::Rsa, content.as_bytes(), Charset::Utf8, 0);
        assert!(
            has(
                &f,
                "signed with RSA (SHA1withRSA) but `sign_type` says RSA2"
            ),
            "{f:?}"
        );
        // Nothing else was wrong with the string.
        assert!(!has(&f, "left out"), "{f:?}");
        assert!(!has(&f, "differs"), "{f:?}");
    }

    #[test]
    fn sign_type_left_out() {
        let p = request("RSA2", "utf-8");
        let without: Vec<(&str, &str)> = pairs(&p)
            .into_iter()
            .filter(|(k, _)| *k != "sign_type")
            .collect();
        let content = v2_sign_content(without, false);
        let f = diagnose_signed(&p, 0, SignType::Rsa2, content.as_bytes(), Charset::Utf8, 0);
        assert!(has(&f, "`sign_type` was left out"), "{f:?}");
    }

    #[test]
    fn empty_values_included_are_reported_with_another_mistake() {
        // Empty values signed as `name=` and the wrong hash: the server tries both empty rules,
        // so only the combination fails; the finding names both.
        let p = request("RSA2", "utf-8");
        let content = v2_sign_content(pairs(&p), true);
        let f = diagnose_signed(&p, 0, SignType::Rsa, content.as_bytes(), Charset::Utf8, 0);
        assert!(has(&f, "`sign_type` says RSA2"), "{f:?}");
        assert!(
            has(&f, "Empty parameters (`notify_url`) were signed as `name=`"),
            "{f:?}"
        );
        let content = v2_sign_content(pairs(&p), false);
        let f = diagnose_signed(&p, 0, SignType::Rsa, content.as_bytes(), Charset::Utf8, 0);
        assert!(!has(&f, "Empty parameters"), "{f:?}");
    }

    #[test]
    fn values_signed_url_encoded() {
        let p = request("RSA2", "utf-8");
        let encoded: Vec<(&str, String)> = pairs(&p)
            .into_iter()
            .map(|(k, v)| (k, form_escape(v, Charset::Utf8)))
            .collect();
        let content = v2_sign_content(encoded.iter().map(|(k, v)| (*k, v.as_str())), false);
        let f = diagnose_signed(&p, 0, SignType::Rsa2, content.as_bytes(), Charset::Utf8, 0);
        assert!(
            has(
                &f,
                "signed URL-encoded (e.g. `timestamp=2024-01-01+12%3A00%3A00`)"
            ),
            "{f:?}"
        );
    }

    #[test]
    fn gbk_bytes_for_a_utf8_request_and_the_reverse() {
        let p = request("RSA2", "utf-8");
        let content = v2_sign_content(pairs(&p), false);
        let gbk = Charset::Gbk.encode(&content);
        let f = diagnose_signed(&p, 0, SignType::Rsa2, &gbk, Charset::Utf8, 0);
        assert!(
            has(
                &f,
                "signed as GBK bytes but the request declares charset=utf-8"
            ),
            "{f:?}"
        );
        let p = request("RSA2", "GBK");
        let content = v2_sign_content(pairs(&p), false);
        let f = diagnose_signed(&p, 0, SignType::Rsa2, content.as_bytes(), Charset::Gbk, 0);
        assert!(
            has(
                &f,
                "signed as UTF-8 bytes but the request declares charset=gbk"
            ),
            "{f:?}"
        );
    }

    #[test]
    fn platform_key_registered_as_the_app_key() {
        // The integrator registered the platform key tradeq handed out: no app key signs for it.
        let p = request("RSA2", "utf-8");
        let content = v2_sign_content(pairs(&p), false);
        let f = diagnose_signed(&p, 0, SignType::Rsa2, content.as_bytes(), Charset::Utf8, 2);
        assert!(has(&f, "is a platform public key"), "{f:?}");
    }

    #[test]
    fn unknown_key_and_a_parameter_added_after_signing() {
        let k = keys();
        let p = request("RSA2", "utf-8");
        let content = v2_sign_content(pairs(&p), false);
        let sign = rsa_sign(&k[2].private, SignType::Rsa2, content.as_bytes()).unwrap_or_default();
        let mut all = pairs(&p);
        all.push(("sign", &sign));
        let f = diagnose_v2_signature(
            &all,
            Charset::Utf8,
            &V2Keys {
                app_id: APP,
                app_key: &k[0].public,
                other_apps: &[],
                platform_keys: &[],
            },
        );
        assert!(has(&f, "nor with any other registered app's"), "{f:?}");

        let signed: Vec<(&str, &str)> = pairs(&p)
            .into_iter()
            .filter(|(k, _)| *k != "version")
            .collect();
        let content = v2_sign_content(signed, false);
        let f = diagnose_signed(&p, 0, SignType::Rsa2, content.as_bytes(), Charset::Utf8, 0);
        assert!(
            has(
                &f,
                "Parameter `version` is not in the string that was signed"
            ),
            "{f:?}"
        );
    }

    #[test]
    fn garbage_signatures() {
        let k = keys();
        let p = request("RSA2", "utf-8");
        let keys = V2Keys {
            app_id: APP,
            app_key: &k[0].public,
            other_apps: &[],
            platform_keys: &[],
        };
        let mut all = pairs(&p);
        all.push(("sign", "%%%"));
        let f = diagnose_v2_signature(&all, Charset::Utf8, &keys);
        assert!(has(&f, "`sign` is not base64"), "{f:?}");
        let mut all = pairs(&p);
        all.push(("sign", "AAAA"));
        let f = diagnose_v2_signature(&all, Charset::Utf8, &keys);
        assert!(has(&f, "decodes to 3 bytes"), "{f:?}");
    }
}
