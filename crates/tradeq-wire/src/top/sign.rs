//! TOP request signatures (`docs/protocol/top.md` §5).
//!
//! The string to sign is every parameter except `sign`, sorted by name in byte order and written
//! as `name1value1name2value2…` over the decoded values. The official SDKs disagree on empty
//! values, so verification tries two strings (see [`verify`]).

use hmac::{Hmac, Mac};
use md5::{Digest, Md5};
use sha2::Sha256;

/// The three digest algorithms of the `sign_method` parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignMethod {
    /// `md5`: `MD5(secret + S + secret)`.
    Md5,
    /// `hmac`: `HMAC-MD5(secret, S)`.
    Hmac,
    /// `hmac-sha256`: `HMAC-SHA256(secret, S)`.
    HmacSha256,
}

impl SignMethod {
    /// Reads a `sign_method` value. Only the exact lower-case spellings the SDKs send are accepted,
    /// because the value is itself signed and a gateway that folded case would verify a different
    /// algorithm than the client claims.
    pub fn from_param(value: &str) -> Option<SignMethod> {
        match value {
            "md5" => Some(SignMethod::Md5),
            "hmac" => Some(SignMethod::Hmac),
            "hmac-sha256" => Some(SignMethod::HmacSha256),
            _ => None,
        }
    }

    /// The wire spelling of the method.
    pub fn as_str(self) -> &'static str {
        match self {
            SignMethod::Md5 => "md5",
            SignMethod::Hmac => "hmac",
            SignMethod::HmacSha256 => "hmac-sha256",
        }
    }

    /// Length in hex characters of a signature made with this method.
    pub fn hex_len(self) -> usize {
        match self {
            SignMethod::Md5 | SignMethod::Hmac => 32,
            SignMethod::HmacSha256 => 64,
        }
    }
}

/// Which of the two strings-to-sign matched in [`verify_detailed`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignVariant {
    /// The canonical string: empty and whitespace-only values skipped (Java SDK, doc).
    Canonical,
    /// Every parameter included, empty values as bare names (Python and Node SDKs).
    WithEmpty,
}

/// A signature that matched neither string-to-sign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignMismatch {
    /// The canonical string the server verified against, for the `Invalid signature` hint: it
    /// holds only request parameters, never the secret.
    pub sign_string: String,
}

/// Builds the string to sign.
///
/// `sign` is always skipped. With `include_empty == false` (the canonical form) a parameter whose
/// name or value is empty or whitespace-only is skipped, exactly as the Java SDK's
/// `StringUtils.areNotEmpty` does, and as the doc allows ("如果没有value值，也可不参与签名").
/// With `include_empty == true` every parameter is written verbatim, so an empty value appears as
/// its bare name: this is what the Python and Node SDKs sign.
///
/// Parameters with the same name keep their input order (the sort is stable).
pub fn sign_string<'a>(
    params: impl IntoIterator<Item = (&'a str, &'a str)>,
    include_empty: bool,
) -> String {
    let mut kept: Vec<(&str, &str)> = params
        .into_iter()
        .filter(|(name, value)| {
            *name != "sign" && (include_empty || (!is_blank(name) && !is_blank(value)))
        })
        .collect();
    kept.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let len = kept.iter().map(|(n, v)| n.len() + v.len()).sum();
    let mut out = String::with_capacity(len);
    for (name, value) in kept {
        out.push_str(name);
        out.push_str(value);
    }
    out
}

/// Java's `StringUtils.isEmpty`: empty, or only characters `Character.isWhitespace` accepts.
/// Rust's Unicode whitespace is a superset of Java's; the extra characters (no-break spaces) never
/// occur alone in a real parameter, and the retry in [`verify`] covers any disagreement.
fn is_blank(s: &str) -> bool {
    s.chars().all(char::is_whitespace)
}

/// Signs a string-to-sign; upper-case hex.
///
/// The digests are computed in-process (a few hundred bytes per request): no library state, no
/// locks, nothing that can fail.
pub fn sign(secret: &str, method: SignMethod, sign_string: &str) -> String {
    let (secret, data) = (secret.as_bytes(), sign_string.as_bytes());
    match method {
        SignMethod::Md5 => {
            let digest = Md5::new()
                .chain_update(secret)
                .chain_update(data)
                .chain_update(secret)
                .finalize();
            hex::encode_upper(digest)
        }
        // HMAC takes keys of any length, the empty key included (zero-padded to the block).
        SignMethod::Hmac => match Hmac::<Md5>::new_from_slice(secret) {
            Ok(mac) => hex::encode_upper(mac.chain_update(data).finalize().into_bytes()),
            Err(_) => String::new(),
        },
        SignMethod::HmacSha256 => match Hmac::<Sha256>::new_from_slice(secret) {
            Ok(mac) => hex::encode_upper(mac.chain_update(data).finalize().into_bytes()),
            Err(_) => String::new(),
        },
    }
}

/// Verifies a request signature; see [`verify_detailed`].
pub fn verify<'a>(
    secret: &str,
    method: SignMethod,
    params: impl IntoIterator<Item = (&'a str, &'a str)>,
    given_sign: &str,
) -> bool {
    verify_detailed(secret, method, params, given_sign).is_ok()
}

/// Verifies a request signature, first over the canonical string and, on mismatch, over the
/// string that includes empty values as bare names (`docs/protocol/top.md` §5: Java drops empty
/// values, Python and Node sign them). The given sign is compared case-insensitively and in
/// constant time; one that is not hex of the method's length is rejected before any digest.
///
/// # Errors
///
/// [`SignMismatch`], carrying the canonical string, which the gateway may show as a hint.
pub fn verify_detailed<'a>(
    secret: &str,
    method: SignMethod,
    params: impl IntoIterator<Item = (&'a str, &'a str)>,
    given_sign: &str,
) -> Result<SignVariant, SignMismatch> {
    let params: Vec<(&str, &str)> = params.into_iter().collect();
    let canonical = sign_string(params.iter().copied(), false);
    let given = given_sign.to_ascii_uppercase();
    if given.len() != method.hex_len() || !given.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(SignMismatch {
            sign_string: canonical,
        });
    }
    if digest_matches(secret, method, &canonical, &given) {
        return Ok(SignVariant::Canonical);
    }
    let with_empty = sign_string(params.iter().copied(), true);
    if with_empty != canonical && digest_matches(secret, method, &with_empty, &given) {
        return Ok(SignVariant::WithEmpty);
    }
    Err(SignMismatch {
        sign_string: canonical,
    })
}

fn digest_matches(secret: &str, method: SignMethod, s: &str, given_upper: &str) -> bool {
    let expected = sign(secret, method, s);
    // `memcmp::eq` panics on unequal lengths, and an empty digest must never match.
    expected.len() == given_upper.len()
        && openssl::memcmp::eq(expected.as_bytes(), given_upper.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC_SECRET: &str = "helloworld";

    fn doc_params(sign_method: &'static str) -> Vec<(&'static str, &'static str)> {
        vec![
            ("method", "taobao.item.seller.get"),
            ("app_key", "12345678"),
            ("session", "test"),
            ("timestamp", "2016-01-01 12:00:00"),
            ("format", "json"),
            ("v", "2.0"),
            ("sign_method", sign_method),
            ("fields", "num_iid,title,nick,price,num"),
            ("num_iid", "11223344"),
        ]
    }

    #[test]
    fn doc_vector_string_and_md5() {
        let s = sign_string(doc_params("md5"), false);
        assert_eq!(
            s,
            "app_key12345678fieldsnum_iid,title,nick,price,numformatjsonmethodtaobao.item.seller.getnum_iid11223344sessiontestsign_methodmd5timestamp2016-01-01 12:00:00v2.0"
        );
        assert_eq!(
            sign(DOC_SECRET, SignMethod::Md5, &s),
            "66987CB115214E59E6EC978214934FB8"
        );
    }

    #[test]
    fn doc_vector_hmac_and_hmac_sha256() {
        let s = sign_string(doc_params("hmac"), false);
        assert_eq!(
            sign(DOC_SECRET, SignMethod::Hmac, &s),
            "D56D7858309C31B6251083A874D48273"
        );
        let s = sign_string(doc_params("hmac-sha256"), false);
        assert_eq!(
            sign(DOC_SECRET, SignMethod::HmacSha256, &s),
            "04DB15AD0774D5CFCE2C837DE43E3FCEA9011ED74F3038FB6AB5F3C4CEA119E8"
        );
    }

    #[test]
    fn second_published_vector() {
        let s = "app_keytestfieldsnickformatxmlmethodtaobao.user.seller.getsessiontestsign_methodmd5timestamp2013-05-06 13:52:03v2.0";
        assert_eq!(
            sign("test", SignMethod::Md5, s),
            "72CB4D809B375A54502C09360D879C64"
        );
    }

    fn edi_params(sign_method: &'static str) -> Vec<(&'static str, &'static str)> {
        vec![
            ("method", "tmall.luxury.stage.edi.alipay.trade.query"),
            ("app_key", "12345678"),
            ("session", "test-session"),
            ("timestamp", "2024-01-01 12:00:00"),
            ("format", "json"),
            ("v", "2.0"),
            ("sign_method", sign_method),
            ("partner_id", "top-sdk-java-20200706"),
            (
                "edi_alipay_trade_query_request",
                r#"{"out_trade_no":"T20240101001","trade_no":"2024010122001"}"#,
            ),
        ]
    }

    #[test]
    fn edi_example_all_methods() {
        let s = sign_string(edi_params("md5"), false);
        assert_eq!(
            s,
            r#"app_key12345678edi_alipay_trade_query_request{"out_trade_no":"T20240101001","trade_no":"2024010122001"}formatjsonmethodtmall.luxury.stage.edi.alipay.trade.querypartner_idtop-sdk-java-20200706sessiontest-sessionsign_methodmd5timestamp2024-01-01 12:00:00v2.0"#
        );
        assert_eq!(
            sign(DOC_SECRET, SignMethod::Md5, &s),
            "6742B0372E20FB719C6C8E8C5407802F"
        );
        let s = sign_string(edi_params("hmac"), false);
        assert_eq!(
            sign(DOC_SECRET, SignMethod::Hmac, &s),
            "6F7B70D4BD5AE3E954AA05A3532F6947"
        );
        let s = sign_string(edi_params("hmac-sha256"), false);
        assert_eq!(
            sign(DOC_SECRET, SignMethod::HmacSha256, &s),
            "22620C8A26F07855338D23706EFA117FB89246FFE83A32B7A766BE57645914B3"
        );
    }

    #[test]
    fn non_ascii_omni_example() {
        let params = [
            ("method", "alibaba.omni.order.query"),
            ("app_key", "12345678"),
            ("timestamp", "2024-01-01 12:00:00"),
            ("format", "json"),
            ("v", "2.0"),
            ("sign_method", "md5"),
            ("note", "测试"),
        ];
        let s = sign_string(params, false);
        assert_eq!(
            s,
            "app_key12345678formatjsonmethodalibaba.omni.order.querynote测试sign_methodmd5timestamp2024-01-01 12:00:00v2.0"
        );
        assert_eq!(
            sign(DOC_SECRET, SignMethod::Md5, &s),
            "5683121CAF74EE60D4DB8CD76D7C3146"
        );
    }

    #[test]
    fn sign_param_is_excluded_and_order_is_bytewise() {
        let s = sign_string(
            [
                ("foobar", "4"),
                ("sign", "X"),
                ("foo_bar", "3"),
                ("bar", "1"),
                ("foo", "2"),
            ],
            false,
        );
        assert_eq!(s, "bar1foo2foo_bar3foobar4");
    }

    #[test]
    fn blank_values_skipped_canonically_and_kept_on_retry() {
        let params = [("a", "1"), ("b", ""), ("c", "  "), ("d", "4")];
        assert_eq!(sign_string(params, false), "a1d4");
        assert_eq!(sign_string(params, true), "a1bc  d4");
    }

    #[test]
    fn method_names_round_trip() {
        for m in [SignMethod::Md5, SignMethod::Hmac, SignMethod::HmacSha256] {
            assert_eq!(SignMethod::from_param(m.as_str()), Some(m));
        }
        for bad in ["MD5", "Hmac", "sha1", "", "hmac-sha1", "hmac_sha256"] {
            assert_eq!(SignMethod::from_param(bad), None, "{bad}");
        }
    }

    fn with_sign(
        mut p: Vec<(&'static str, &'static str)>,
        s: &'static str,
    ) -> Vec<(&'static str, &'static str)> {
        p.push(("sign", s));
        p
    }

    #[test]
    fn verify_accepts_lower_case_and_rejects_a_flipped_digit() {
        let p = with_sign(doc_params("md5"), "66987cb115214e59e6ec978214934fb8");
        assert_eq!(
            verify_detailed(
                DOC_SECRET,
                SignMethod::Md5,
                p.iter().copied(),
                "66987cb115214e59e6ec978214934fb8"
            ),
            Ok(SignVariant::Canonical)
        );
        assert!(verify(
            DOC_SECRET,
            SignMethod::Md5,
            doc_params("md5"),
            "66987CB115214E59E6EC978214934FB8"
        ));
        assert!(!verify(
            DOC_SECRET,
            SignMethod::Md5,
            doc_params("md5"),
            "66987CB115214E59E6EC978214934FB9"
        ));
        assert!(!verify(
            DOC_SECRET,
            SignMethod::Hmac,
            doc_params("md5"),
            "66987CB115214E59E6EC978214934FB8"
        ));
        assert!(!verify(
            "other",
            SignMethod::Md5,
            doc_params("md5"),
            "66987CB115214E59E6EC978214934FB8"
        ));
    }

    #[test]
    fn verify_rejects_malformed_signs_without_panicking() {
        for bad in [
            "",
            "66987CB115214E59E6EC978214934FB",
            "66987CB115214E59E6EC978214934FB8A",
            "66987CB115214E59E6EC978214934FBZ",
            "66987CB115214E59E6EC978214934F中",
            "04DB15AD0774D5CFCE2C837DE43E3FCEA9011ED74F3038FB6AB5F3C4CEA119E8",
        ] {
            assert!(
                !verify(DOC_SECRET, SignMethod::Md5, doc_params("md5"), bad),
                "{bad}"
            );
        }
        let err = verify_detailed(DOC_SECRET, SignMethod::Md5, doc_params("md5"), "x").unwrap_err();
        assert!(err.sign_string.starts_with("app_key12345678fields"));
        assert!(!err.sign_string.contains(DOC_SECRET));
    }

    #[test]
    fn python_style_empty_value_verifies_on_retry() {
        let mut params = doc_params("md5");
        params.push(("nick", ""));
        // A Python client signs the empty value as the bare name `nick`.
        let python = sign(
            DOC_SECRET,
            SignMethod::Md5,
            &sign_string(params.iter().copied(), true),
        );
        assert_ne!(python, "66987CB115214E59E6EC978214934FB8");
        assert_eq!(
            verify_detailed(DOC_SECRET, SignMethod::Md5, params.iter().copied(), &python),
            Ok(SignVariant::WithEmpty)
        );
        // A Java client dropped it from the string: the canonical pass accepts that one.
        assert_eq!(
            verify_detailed(
                DOC_SECRET,
                SignMethod::Md5,
                params.iter().copied(),
                "66987CB115214E59E6EC978214934FB8"
            ),
            Ok(SignVariant::Canonical)
        );
    }

    #[test]
    fn empty_secret_hmac_matches_zero_padded_key() {
        // HMAC-MD5 with an empty key over the empty message (RFC 2104 definition, openssl dgst).
        assert_eq!(
            sign("", SignMethod::Hmac, ""),
            "74E6F7298A9C2D168935F58C001BAD88"
        );
    }
}
