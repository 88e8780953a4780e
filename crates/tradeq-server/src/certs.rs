//! The sandbox certificate authority of public-key-certificate mode.
//!
//! One RSA root issues every certificate: the app public-key certificates and the platform
//! ("Alipay") public-key certificates. The bundle handed to developers also holds an ECDSA root,
//! as the real bundle holds a non-RSA one, so a client that forgets to skip it when computing the
//! root SN is caught here as it would be by the real gateway. Kept in the store's meta table, so
//! every node and every restart issue from the same root.

use std::fmt;

use openssl::asn1::{Asn1Integer, Asn1Time};
use openssl::bn::{BigNum, MsbOption};
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, PKeyRef, Private, Public};
use openssl::x509::extension::{
    AuthorityKeyIdentifier, BasicConstraints, KeyUsage, SubjectKeyIdentifier,
};
use openssl::x509::{X509Builder, X509Name, X509NameBuilder, X509};
use serde::{Deserialize, Serialize};

use tradeq_model::credentials::{AlipayApp, AlipayCertMode};
use tradeq_store::{Store, StoreError};
use tradeq_wire::alipay::cert::{self, CertError};
use tradeq_wire::alipay::keys;

/// Where the authority is kept in the meta table.
pub const META_KEY: &str = "alipay_sandbox_ca";

/// Validity of a root, in days, unless told otherwise.
pub const DEFAULT_ROOT_DAYS: u32 = 3650;
/// Validity of an issued certificate, in days, unless told otherwise.
pub const DEFAULT_CERT_DAYS: u32 = 1825;

/// The sandbox authority as stored.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SandboxCa {
    /// The RSA root that issues every certificate (PEM).
    pub root_cert_pem: String,
    /// The RSA root's private key (PKCS#8 PEM). Secret.
    pub root_key_pem: String,
    /// The root bundle developers configure: the RSA root, then an ECDSA root (PEM).
    pub bundle_pem: String,
    /// How long issued certificates are valid, in days.
    pub cert_validity_days: u32,
}

impl fmt::Debug for SandboxCa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SandboxCa")
            .field("cert_validity_days", &self.cert_validity_days)
            .finish_non_exhaustive()
    }
}

/// Why the authority could not do its work.
#[derive(Debug, thiserror::Error)]
pub enum CaError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// OpenSSL failed.
    #[error("OpenSSL failed: {0}")]
    OpenSsl(String),
    /// The stored authority does not parse.
    #[error("the stored sandbox certificate authority is unreadable: {0}")]
    Stored(String),
    /// A certificate could not be read.
    #[error(transparent)]
    Cert(#[from] CertError),
    /// A validity of zero days, or one past what X.509 times can say.
    #[error("validity must be between 1 and 36500 days, not {0}")]
    Validity(u32),
}

impl From<openssl::error::ErrorStack> for CaError {
    fn from(e: openssl::error::ErrorStack) -> Self {
        CaError::OpenSsl(e.to_string())
    }
}

impl From<keys::KeyError> for CaError {
    fn from(e: keys::KeyError) -> Self {
        CaError::OpenSsl(e.to_string())
    }
}

/// Refuses a validity of zero days or of more than a hundred years.
pub fn check_days(days: u32) -> Result<(), CaError> {
    if days == 0 || days > 36_500 {
        return Err(CaError::Validity(days));
    }
    Ok(())
}

fn name(parts: &[(Nid, &str)]) -> Result<X509Name, CaError> {
    let mut b = X509NameBuilder::new()?;
    for (nid, value) in parts {
        b.append_entry_by_nid(*nid, value)?;
    }
    Ok(b.build())
}

/// A positive random 127-bit serial: unique without a counter shared between nodes.
fn random_serial() -> Result<Asn1Integer, CaError> {
    let mut bn = BigNum::new()?;
    bn.rand(127, MsbOption::ONE, false)?;
    Ok(bn.to_asn1_integer()?)
}

/// Valid from an hour ago (clients' clocks differ) for `days` days.
fn validity(b: &mut X509Builder, days: u32) -> Result<(), CaError> {
    let now = chrono::Utc::now().timestamp();
    let from = Asn1Time::from_unix(now - 3600)?;
    let to = Asn1Time::days_from_now(days)?;
    b.set_not_before(&from)?;
    b.set_not_after(&to)?;
    Ok(())
}

fn self_signed_root(
    key: &PKeyRef<Private>,
    subject: &X509Name,
    days: u32,
    digest: MessageDigest,
) -> Result<X509, CaError> {
    let mut b = X509Builder::new()?;
    b.set_version(2)?;
    let serial = random_serial()?;
    b.set_serial_number(&serial)?;
    b.set_subject_name(subject)?;
    b.set_issuer_name(subject)?;
    b.set_pubkey(key)?;
    validity(&mut b, days)?;
    b.append_extension(BasicConstraints::new().critical().ca().build()?)?;
    b.append_extension(
        KeyUsage::new()
            .critical()
            .key_cert_sign()
            .crl_sign()
            .build()?,
    )?;
    let ski = SubjectKeyIdentifier::new().build(&b.x509v3_context(None, None))?;
    b.append_extension(ski)?;
    b.sign(key, digest)?;
    Ok(b.build())
}

impl SandboxCa {
    /// A new authority: roots valid `root_days`, issuing certificates valid `cert_days`.
    pub fn create(root_days: u32, cert_days: u32) -> Result<SandboxCa, CaError> {
        check_days(root_days)?;
        check_days(cert_days)?;
        let rsa_key = keys::generate_rsa_2048()?;
        let rsa_root = self_signed_root(
            &rsa_key,
            &name(&[
                (Nid::COUNTRYNAME, "CN"),
                (Nid::ORGANIZATIONNAME, "tradeq sandbox"),
                (Nid::ORGANIZATIONALUNITNAME, "Certification Authority"),
                (Nid::COMMONNAME, "tradeq Sandbox Root CA R1"),
            ])?,
            root_days,
            MessageDigest::sha256(),
        )?;
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1)?;
        let ec_key = PKey::from_ec_key(EcKey::generate(&group)?)?;
        let ec_root = self_signed_root(
            &ec_key,
            &name(&[
                (Nid::COUNTRYNAME, "CN"),
                (Nid::ORGANIZATIONNAME, "tradeq sandbox"),
                (Nid::COMMONNAME, "tradeq Sandbox Root CA E1"),
            ])?,
            root_days,
            MessageDigest::sha256(),
        )?;
        let root_cert_pem = pem_text(&rsa_root)?;
        Ok(SandboxCa {
            // A blank line between the certificates, as in the real alipayRootCert.crt: the
            // community Python SDK splits the bundle on it.
            bundle_pem: format!("{root_cert_pem}\n{}", pem_text(&ec_root)?),
            root_cert_pem,
            root_key_pem: keys::private_key_to_pkcs8_pem(&rsa_key)?,
            cert_validity_days: cert_days,
        })
    }

    /// The bundle's root SN (`alipay_root_cert_sn`).
    pub fn root_cert_sn(&self) -> Result<String, CaError> {
        Ok(cert::root_cert_sn(&self.bundle_pem)?)
    }

    /// Issues an X.509 v3 end-entity certificate for `key`.
    fn issue(&self, key: &PKeyRef<Public>, subject: &X509Name) -> Result<String, CaError> {
        let root = cert::parse_certificate(&self.root_cert_pem)?;
        let root_key = keys::parse_private_key(&self.root_key_pem)?;
        let mut b = X509Builder::new()?;
        b.set_version(2)?;
        let serial = random_serial()?;
        b.set_serial_number(&serial)?;
        b.set_subject_name(subject)?;
        b.set_issuer_name(root.subject_name())?;
        b.set_pubkey(key)?;
        validity(&mut b, self.cert_validity_days)?;
        b.append_extension(BasicConstraints::new().critical().build()?)?;
        b.append_extension(
            KeyUsage::new()
                .critical()
                .digital_signature()
                .non_repudiation()
                .key_encipherment()
                .build()?,
        )?;
        let ski = SubjectKeyIdentifier::new().build(&b.x509v3_context(Some(&root), None))?;
        b.append_extension(ski)?;
        let aki = AuthorityKeyIdentifier::new()
            .keyid(true)
            .build(&b.x509v3_context(Some(&root), None))?;
        b.append_extension(aki)?;
        b.sign(&root_key, MessageDigest::sha256())?;
        pem_text(&b.build())
    }

    /// An app public-key certificate (`appCertPublicKey`) for the app's public key.
    pub fn issue_app_cert(
        &self,
        app_id: &str,
        merchant_pid: &str,
        app_public_key_pem: &str,
    ) -> Result<String, CaError> {
        let key = keys::parse_public_key(app_public_key_pem)?;
        self.issue(
            &key,
            &name(&[
                (Nid::COUNTRYNAME, "CN"),
                (Nid::ORGANIZATIONNAME, merchant_pid),
                (Nid::ORGANIZATIONALUNITNAME, "Alipay"),
                (Nid::COMMONNAME, app_id),
            ])?,
        )
    }

    /// A platform ("Alipay") public-key certificate (`alipayCertPublicKey_RSA2`) for the key pair
    /// that signs the app's answers.
    pub fn issue_alipay_cert(
        &self,
        app_id: &str,
        platform_public_key_pem: &str,
    ) -> Result<String, CaError> {
        let key = keys::parse_public_key(platform_public_key_pem)?;
        self.issue(
            &key,
            &name(&[
                (Nid::COUNTRYNAME, "CN"),
                (Nid::ORGANIZATIONNAME, "tradeq sandbox"),
                (Nid::ORGANIZATIONALUNITNAME, "Alipay"),
                (Nid::COMMONNAME, &format!("Alipay platform key {app_id}")),
            ])?,
        )
    }

    /// Whether `cert_pem` was issued by this authority.
    pub fn issued(&self, cert_pem: &str) -> Result<bool, CaError> {
        let c = cert::parse_certificate(cert_pem)?;
        Ok(cert::issued_by_bundle(&c, &self.root_cert_pem)?)
    }
}

/// What an app's certificate mode is built from.
pub struct CertModeRequest<'a> {
    /// The app.
    pub app_id: &'a str,
    /// Its merchant (the app certificate's organisation).
    pub merchant_pid: &'a str,
    /// The app's public key (SPKI PEM).
    pub app_public_key_pem: &'a str,
    /// The platform public key that signs the app's answers (SPKI PEM).
    pub platform_public_key_pem: &'a str,
    /// An app certificate the developers already hold (issued by this authority), if any.
    pub app_cert: Option<&'a str>,
    /// The revoked app certificate SNs, when they change.
    pub revoked: Option<Vec<String>>,
}

/// Why certificate mode could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum CertModeError {
    /// A field of the request is wrong: its name and why.
    #[error("{0} {1}")]
    Field(&'static str, String),
    /// The authority failed.
    #[error(transparent)]
    Ca(#[from] CaError),
}

/// How many replaced platform certificates stay downloadable.
const KEPT_PREVIOUS: usize = 10;
/// How many revoked SNs an app may list.
const MAX_REVOKED: usize = 100;

fn certifies(cert_pem: &str, public_key_pem: &str) -> bool {
    match (
        cert::public_key_from_pem(cert_pem),
        keys::parse_public_key(public_key_pem),
    ) {
        (Ok(a), Ok(b)) => keys::same_public_key(&a, &b),
        _ => false,
    }
}

/// An app's certificate mode. Certificates of `previous` are kept while they come from this
/// authority and still certify the same keys; otherwise new ones are issued, and a replaced
/// platform certificate stays downloadable by its SN.
pub fn cert_mode_for(
    ca: &SandboxCa,
    req: CertModeRequest<'_>,
    previous: Option<&AlipayCertMode>,
) -> Result<AlipayCertMode, CertModeError> {
    let same_root = previous.filter(|p| p.alipay_root_cert_pem == ca.bundle_pem);
    let app_cert_pem = match req.app_cert {
        Some(pem) => {
            let c = cert::parse_certificate(pem)
                .map_err(|e| CertModeError::Field("app_cert", e.to_string()))?;
            if !cert::issued_by_bundle(&c, &ca.root_cert_pem).map_err(CaError::from)? {
                return Err(CertModeError::Field(
                    "app_cert",
                    "is not issued by this server's sandbox root (`tradeq keys ca` prints it); omit app_cert to have one issued".into(),
                ));
            }
            pem_text(&c)?
        }
        None => match same_root.filter(|p| certifies(&p.app_cert_pem, req.app_public_key_pem)) {
            Some(p) => p.app_cert_pem.clone(),
            None => ca.issue_app_cert(req.app_id, req.merchant_pid, req.app_public_key_pem)?,
        },
    };
    let (alipay_cert_pem, previous_alipay_cert_pems) =
        match same_root.filter(|p| certifies(&p.alipay_cert_pem, req.platform_public_key_pem)) {
            Some(p) => (
                p.alipay_cert_pem.clone(),
                p.previous_alipay_cert_pems.clone(),
            ),
            None => {
                let mut kept = same_root
                    .map(|p| p.previous_alipay_cert_pems.clone())
                    .unwrap_or_default();
                if let Some(p) = same_root {
                    kept.push(p.alipay_cert_pem.clone());
                }
                let drop = kept.len().saturating_sub(KEPT_PREVIOUS);
                kept.drain(..drop);
                (
                    ca.issue_alipay_cert(req.app_id, req.platform_public_key_pem)?,
                    kept,
                )
            }
        };
    let revoked_app_cert_sns = match req.revoked {
        Some(list) => {
            if list.len() > MAX_REVOKED {
                return Err(CertModeError::Field(
                    "revoked_app_cert_sns",
                    format!("lists more than {MAX_REVOKED} SNs"),
                ));
            }
            for sn in &list {
                if sn.len() != 32 || !sn.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
                    return Err(CertModeError::Field(
                        "revoked_app_cert_sns",
                        format!("`{sn}` is not an SN (32 lowercase hex digits)"),
                    ));
                }
            }
            list
        }
        None => previous
            .map(|p| p.revoked_app_cert_sns.clone())
            .unwrap_or_default(),
    };
    Ok(AlipayCertMode {
        app_cert_pem,
        revoked_app_cert_sns,
        alipay_cert_pem,
        previous_alipay_cert_pems,
        alipay_root_cert_pem: ca.bundle_pem.clone(),
    })
}

/// A new platform key pair for `app` and, in certificate mode, a new platform certificate (the
/// replaced one stays downloadable by its SN). Answers are signed with the new key at once.
pub fn rotate_platform(
    ca: Option<&SandboxCa>,
    app: &AlipayApp,
) -> Result<AlipayApp, CertModeError> {
    let private = keys::generate_rsa_2048().map_err(CaError::from)?;
    let public = keys::public_from_private(&private).map_err(CaError::from)?;
    let mut next = app.clone();
    next.platform_private_key_pem =
        keys::private_key_to_pkcs8_pem(&private).map_err(CaError::from)?;
    next.platform_public_key_pem = keys::public_key_to_spki_pem(&public).map_err(CaError::from)?;
    if let Some(previous) = &app.cert_mode {
        let ca = ca.ok_or(CertModeError::Field(
            "cert_mode",
            "needs the sandbox certificate authority (`tradeq keys ca`)".into(),
        ))?;
        next.cert_mode = Some(cert_mode_for(
            ca,
            CertModeRequest {
                app_id: &app.app_id,
                merchant_pid: &app.merchant_pid,
                app_public_key_pem: &app.app_public_key_pem,
                platform_public_key_pem: &next.platform_public_key_pem,
                app_cert: None,
                revoked: None,
            },
            Some(previous),
        )?);
    }
    Ok(next)
}

fn pem_text(c: &X509) -> Result<String, CaError> {
    String::from_utf8(c.to_pem()?).map_err(|e| CaError::OpenSsl(e.to_string()))
}

/// The stored authority, if one was created.
pub async fn load(store: &dyn Store) -> Result<Option<SandboxCa>, CaError> {
    match store.get_meta(META_KEY).await? {
        None => Ok(None),
        Some(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| CaError::Stored(e.to_string())),
    }
}

/// Stores `ca`, replacing any authority stored before.
pub async fn save(store: &dyn Store, ca: &SandboxCa) -> Result<(), CaError> {
    let text = serde_json::to_string(ca).map_err(|e| CaError::Stored(e.to_string()))?;
    store.put_meta(META_KEY, &text).await?;
    Ok(())
}

/// The stored authority, created with the default validities on first use.
pub async fn load_or_create(store: &dyn Store) -> Result<SandboxCa, CaError> {
    if let Some(ca) = load(store).await? {
        return Ok(ca);
    }
    let ca =
        tokio::task::spawn_blocking(|| SandboxCa::create(DEFAULT_ROOT_DAYS, DEFAULT_CERT_DAYS))
            .await
            .map_err(|e| CaError::OpenSsl(e.to_string()))??;
    save(store, &ca).await?;
    // Another node may have created one at the same moment: everyone issues from the stored one.
    Ok(load(store).await?.unwrap_or(ca))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_certificates_are_v3_chain_to_the_rsa_root_and_carry_the_key() {
        let ca = SandboxCa::create(30, 10).unwrap();
        let key = keys::generate_rsa_2048().unwrap();
        let public = keys::public_from_private(&key).unwrap();
        let public_pem = keys::public_key_to_spki_pem(&public).unwrap();
        let pem = ca
            .issue_app_cert("2021000000000002", "2088102146225135", &public_pem)
            .unwrap();
        let c = cert::parse_certificate(&pem).unwrap();
        assert_eq!(c.version(), 2, "X.509 v3");
        assert!(ca.issued(&pem).unwrap());
        assert!(keys::same_public_key(
            &cert::public_key(&c).unwrap(),
            &public
        ));
        // Valid for the configured period: not after is ~10 days away, not 30.
        let in_11_days = Asn1Time::days_from_now(11).unwrap();
        let in_9_days = Asn1Time::days_from_now(9).unwrap();
        assert!(c.not_after() < in_11_days && c.not_after() > in_9_days);
        assert_eq!(
            cert::issuer_string(&c),
            "CN=tradeq Sandbox Root CA R1,OU=Certification Authority,O=tradeq sandbox,C=CN"
        );
        // Another authority's certificate is not ours.
        let other = SandboxCa::create(30, 10).unwrap();
        assert!(!other.issued(&pem).unwrap());
    }

    #[test]
    fn the_bundle_root_sn_names_only_the_rsa_root() {
        let ca = SandboxCa::create(30, 10).unwrap();
        let certs = cert::parse_certificates(&ca.bundle_pem).unwrap();
        assert_eq!(certs.len(), 2);
        assert_eq!(
            ca.bundle_pem
                .matches("-----END CERTIFICATE-----\n\n")
                .count(),
            1
        );
        assert!(!cert::is_rsa_signed(&certs[1]));
        let sn = ca.root_cert_sn().unwrap();
        assert_eq!(sn, cert::cert_sn(&certs[0]).unwrap());
        assert_eq!(sn.len(), 32);
    }

    fn pem_of_new_key() -> String {
        let key = keys::generate_rsa_2048().unwrap();
        keys::public_key_to_spki_pem(&keys::public_from_private(&key).unwrap()).unwrap()
    }

    #[test]
    fn cert_mode_keeps_certificates_of_unchanged_keys_and_rotation_replaces_the_platform_one() {
        let ca = SandboxCa::create(30, 10).unwrap();
        let app_pem = pem_of_new_key();
        let platform = keys::generate_rsa_2048().unwrap();
        let platform_pem =
            keys::public_key_to_spki_pem(&keys::public_from_private(&platform).unwrap()).unwrap();
        let req = |revoked| CertModeRequest {
            app_id: "2021000000000002",
            merchant_pid: "2088102146225135",
            app_public_key_pem: &app_pem,
            platform_public_key_pem: &platform_pem,
            app_cert: None,
            revoked,
        };
        let first = cert_mode_for(&ca, req(None), None).unwrap();
        assert!(certifies(&first.app_cert_pem, &app_pem));
        assert!(certifies(&first.alipay_cert_pem, &platform_pem));
        let again = cert_mode_for(&ca, req(None), Some(&first)).unwrap();
        assert_eq!(again, first, "unchanged keys keep their certificates");

        let sn = cert::cert_sn_from_pem(&first.app_cert_pem).unwrap();
        let revoked = cert_mode_for(&ca, req(Some(vec![sn.clone()])), Some(&first)).unwrap();
        assert_eq!(revoked.revoked_app_cert_sns, vec![sn]);
        assert!(matches!(
            cert_mode_for(&ca, req(Some(vec!["XYZ".into()])), Some(&first)),
            Err(CertModeError::Field("revoked_app_cert_sns", _))
        ));

        let app = AlipayApp {
            app_id: "2021000000000002".into(),
            merchant_pid: "2088102146225135".into(),
            app_public_key_pem: app_pem.clone(),
            sign_types: vec!["RSA2".into()],
            platform_private_key_pem: keys::private_key_to_pkcs8_pem(&platform).unwrap(),
            platform_public_key_pem: platform_pem.clone(),
            aes_key: None,
            always_fund_bill_list: false,
            cert_mode: Some(first.clone()),
        };
        let rotated = rotate_platform(Some(&ca), &app).unwrap();
        let rc = rotated.cert_mode.as_ref().unwrap();
        assert_ne!(rotated.platform_public_key_pem, platform_pem);
        assert!(certifies(
            &rc.alipay_cert_pem,
            &rotated.platform_public_key_pem
        ));
        assert_eq!(
            rc.previous_alipay_cert_pems,
            vec![first.alipay_cert_pem.clone()]
        );
        assert_eq!(
            rc.app_cert_pem, first.app_cert_pem,
            "the app certificate is untouched"
        );
    }

    #[test]
    fn a_foreign_app_certificate_is_refused() {
        let ca = SandboxCa::create(30, 10).unwrap();
        let other = SandboxCa::create(30, 10).unwrap();
        let app_pem = pem_of_new_key();
        let foreign = other.issue_app_cert("1", "2", &app_pem).unwrap();
        let platform_pem = pem_of_new_key();
        let r = cert_mode_for(
            &ca,
            CertModeRequest {
                app_id: "1",
                merchant_pid: "2",
                app_public_key_pem: &app_pem,
                platform_public_key_pem: &platform_pem,
                app_cert: Some(&foreign),
                revoked: None,
            },
            None,
        );
        assert!(matches!(r, Err(CertModeError::Field("app_cert", _))));
    }

    #[test]
    fn validity_is_bounded() {
        assert!(matches!(
            SandboxCa::create(0, 10),
            Err(CaError::Validity(0))
        ));
        assert!(matches!(
            SandboxCa::create(10, 40_000),
            Err(CaError::Validity(40_000))
        ));
    }

    #[test]
    fn debug_never_prints_the_root_key() {
        let ca = SandboxCa::create(30, 10).unwrap();
        assert!(!format!("{ca:?}").contains("PRIVATE"));
    }
}
