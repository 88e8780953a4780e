//! Public-key-certificate mode (公钥证书模式): the app is configured with three certificates
//! instead of the bare Alipay public key.
//!
//! - Requests name the app certificate and the root bundle by SN: v2 adds the signed parameters
//!   `app_cert_sn` and `alipay_root_cert_sn`; v3 puts `app_cert_sn` in the signed auth string
//!   and sends the root SN in the `alipay-root-cert-sn` header.
//! - Answers name the platform certificate that signed them (`alipay_cert_sn` between the v2
//!   answer object and `sign`; the v3 `alipay-sn` header) and are verified with that
//!   certificate's key. An answer naming another certificate is refused with both SNs, which is
//!   what a rotation of the platform certificate looks like until the new one is configured.
//!
//! - Optionally ([`crate::AlipayConfig::follow_alipay_cert_rotation`]), as the official Java SDK
//!   does, an answer naming an unknown Alipay certificate makes the client fetch that certificate
//!   (`alipay.open.app.alipaycert.download`), accept it only if it chains to the configured root
//!   bundle, and verify the answer with it.
//!
//! The SNs are tradeq-wire's, the same computation as the official SDKs'.

use std::sync::{Arc, RwLock};

use openssl::asn1::Asn1Time;
use openssl::pkey::{PKey, Public};
use openssl::x509::{X509Ref, X509VerifyResult, X509};

use tradeq_wire::alipay::cert::{cert_sn, parse_certificates, root_cert_sn};
use tradeq_wire::alipay::keys::same_public_key;

use crate::error::{ConfigError, VerificationError};

/// The three certificates of an app in certificate mode, as PEM text — the files the console
/// hands out: `appCertPublicKey_<app_id>.crt`, `alipayCertPublicKey_RSA2.crt`,
/// `alipayRootCert.crt`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlipayCertificates {
    /// The app public-key certificate (its key is the public half of the app private key).
    pub app_cert: String,
    /// The Alipay public-key certificate: the first certificate of the text; any further ones
    /// are its issuers (the console's file holds the intermediate too).
    pub alipay_public_cert: String,
    /// The Alipay root certificate bundle (several roots; only the RSA-signed ones count in the
    /// root SN).
    pub alipay_root_cert: String,
}

/// The SNs a certificate-mode client sends and expects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertSns {
    /// `app_cert_sn`: the app certificate's SN.
    pub app_cert_sn: String,
    /// `alipay_cert_sn`: the SN answers must name.
    pub alipay_cert_sn: String,
    /// `alipay_root_cert_sn`: the root bundle's SN.
    pub alipay_root_cert_sn: String,
}

/// A platform certificate's SN and key.
type SnKey = (String, PKey<Public>);

/// Platform certificates learnt after rotations, by SN: shared by a client and its clones.
#[derive(Clone, Default)]
pub(crate) struct LearntCerts(Arc<RwLock<Vec<SnKey>>>);

/// The most rotated certificates remembered.
const MAX_LEARNT: usize = 8;

impl LearntCerts {
    pub fn get(&self, sn: &str) -> Option<PKey<Public>> {
        let list = self.0.read().ok()?;
        list.iter().find(|(s, _)| s == sn).map(|(_, k)| k.clone())
    }

    pub fn insert(&self, sn: String, key: PKey<Public>) {
        if let Ok(mut list) = self.0.write() {
            list.retain(|(s, _)| *s != sn);
            if list.len() >= MAX_LEARNT {
                list.remove(0);
            }
            list.push((sn, key));
        }
    }
}

/// The key of a downloaded platform certificate (`alipay_cert_content`: base64 of its PEM), once
/// it is shown to be the certificate asked for and to chain to the configured root bundle
/// (through the intermediates of the configured Alipay certificate file, if needed).
pub(crate) fn accept_downloaded(
    content_b64: &str,
    sn: &str,
    certs: &AlipayCertificates,
) -> Result<PKey<Public>, VerificationError> {
    use base64::Engine;
    let refuse = |why: &str| {
        VerificationError::Malformed(format!("downloaded Alipay certificate {sn}: {why}"))
    };
    let pem = base64::engine::general_purpose::STANDARD
        .decode(content_b64.trim())
        .map_err(|_| refuse("alipay_cert_content is not base64"))?;
    let pem = String::from_utf8(pem).map_err(|_| refuse("not PEM text"))?;
    let mut chain = parse_certificates(&pem).map_err(|e| refuse(&e.to_string()))?;
    let key = {
        let leaf = chain.first().ok_or_else(|| refuse("no certificate"))?;
        if cert_sn(leaf).map_err(|e| refuse(&e.to_string()))? != sn {
            return Err(refuse("its SN is not the one asked for"));
        }
        // As the Java SDK: a fetched certificate must be valid now.
        let now = Asn1Time::days_from_now(0).map_err(|e| refuse(&e.to_string()))?;
        if leaf.not_before() > now || leaf.not_after() < now {
            return Err(refuse("it is not valid now"));
        }
        leaf.public_key().map_err(|e| refuse(&e.to_string()))?
    };
    if let Ok(configured) = parse_certificates(&certs.alipay_public_cert) {
        chain.extend(configured.into_iter().skip(1));
    }
    let roots = parse_certificates(&certs.alipay_root_cert).map_err(|e| refuse(&e.to_string()))?;
    if !chains_to(&chain, &roots) {
        return Err(refuse(
            "it does not chain to the configured Alipay root certificate",
        ));
    }
    Ok(key)
}

/// What the certificates yield once read and cross-checked.
pub(crate) struct LoadedCerts {
    pub sns: CertSns,
    pub alipay_public: PKey<Public>,
}

/// The most certificates followed from the Alipay certificate up to a root.
const MAX_CHAIN: usize = 8;

/// Reads the certificates, computes the SNs and checks that they belong together: the app
/// certificate holds `app_public`, the Alipay certificate is not the app's own and chains to
/// the root bundle.
pub(crate) fn load(
    certs: &AlipayCertificates,
    app_public: &PKey<Public>,
) -> Result<LoadedCerts, ConfigError> {
    let bad = |which: &'static str| {
        move |e: tradeq_wire::alipay::cert::CertError| ConfigError::Certificate {
            which,
            reason: e.to_string(),
        }
    };
    let app = first(&certs.app_cert, "app certificate")?;
    let app_key = app.public_key().map_err(|e| ConfigError::Certificate {
        which: "app certificate",
        reason: e.to_string(),
    })?;
    if !same_public_key(&app_key, app_public) {
        return Err(ConfigError::AppCertKeyMismatch);
    }
    let alipay_chain =
        parse_certificates(&certs.alipay_public_cert).map_err(bad("Alipay public certificate"))?;
    let alipay = alipay_chain
        .first()
        .ok_or_else(|| ConfigError::Certificate {
            which: "Alipay public certificate",
            reason: "no certificate".into(),
        })?;
    let alipay_public = alipay.public_key().map_err(|e| ConfigError::Certificate {
        which: "Alipay public certificate",
        reason: e.to_string(),
    })?;
    if same_public_key(&alipay_public, app_public) {
        return Err(ConfigError::AppKeyAsAlipayKey);
    }
    let roots =
        parse_certificates(&certs.alipay_root_cert).map_err(bad("Alipay root certificate"))?;
    if !chains_to(&alipay_chain, &roots) {
        return Err(ConfigError::AlipayCertNotFromRoot);
    }
    Ok(LoadedCerts {
        sns: CertSns {
            app_cert_sn: cert_sn(&app).map_err(bad("app certificate"))?,
            alipay_cert_sn: cert_sn(alipay).map_err(bad("Alipay public certificate"))?,
            alipay_root_cert_sn: root_cert_sn(&certs.alipay_root_cert)
                .map_err(bad("Alipay root certificate"))?,
        },
        alipay_public,
    })
}

fn first(pem: &str, which: &'static str) -> Result<X509, ConfigError> {
    parse_certificates(pem)
        .map_err(|e| ConfigError::Certificate {
            which,
            reason: e.to_string(),
        })?
        .into_iter()
        .next()
        .ok_or_else(|| ConfigError::Certificate {
            which,
            reason: "no certificate".into(),
        })
}

/// Whether `issuer` names and signed `cert`.
fn issued_by(cert: &X509Ref, issuer: &X509Ref) -> bool {
    issuer.issued(cert) == X509VerifyResult::OK
        && issuer
            .public_key()
            .and_then(|key| cert.verify(&key))
            .unwrap_or(false)
}

/// Whether the first certificate of `chain` leads to one of `roots`, through the other
/// certificates of `chain` as intermediates. Signatures and names only: validity periods are
/// the platform's business, as in the official SDKs.
fn chains_to(chain: &[X509], roots: &[X509]) -> bool {
    let Some(mut current) = chain.first() else {
        return false;
    };
    for _ in 0..MAX_CHAIN {
        if roots.iter().any(|r| issued_by(current, r)) {
            return true;
        }
        match chain.iter().skip(1).find(|c| issued_by(current, c)) {
            // A self-signed certificate outside the roots ends the walk.
            Some(next) if !std::ptr::eq(next, current) => current = next,
            _ => return false,
        }
    }
    false
}
