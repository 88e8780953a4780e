//! Why a request failed authentication, in plain English.
//!
//! These functions run only after a signature or timestamp check has failed: the success path
//! never pays for them. Each tests the mistakes integrators actually make (another app's key, the
//! other hash, a parameter left out of the string, values signed URL-encoded, the wrong charset,
//! a client clock in the wrong time zone, …) and returns one sentence per finding; an empty list
//! means nothing recognisable was found.
//!
//! An RSA signature is tested by recovering the digest it carries with each candidate public key
//! (one RSA operation per key) and comparing it with the digests of the candidate strings (cheap
//! hashes), rather than by verifying every string under every key.

pub mod alipay_v2;
pub mod alipay_v3;
mod rsa_digest;
pub mod timestamp;
pub mod top;

#[cfg(test)]
mod test_keys;

use openssl::pkey::{PKey, Public};

/// A public key tradeq knows, named for the findings (an app id).
#[derive(Clone, Copy)]
pub struct KnownKey<'a> {
    /// Whose key it is: an app id.
    pub label: &'a str,
    /// The key.
    pub key: &'a PKey<Public>,
}

impl std::fmt::Debug for KnownKey<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KnownKey")
            .field("label", &self.label)
            .finish_non_exhaustive()
    }
}

/// How many other apps' keys or secrets are tried: bounds the work a failed request can cause.
pub const MAX_OTHER_CREDENTIALS: usize = 64;

/// A parameter value shortened for a finding.
fn shorten(value: &str) -> String {
    const MAX: usize = 40;
    if value.chars().count() <= MAX {
        value.to_string()
    } else {
        let head: String = value.chars().take(MAX).collect();
        format!("{head}…")
    }
}
