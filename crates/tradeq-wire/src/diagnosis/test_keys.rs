//! Keys generated once per test run for the diagnosis tests.

use std::sync::OnceLock;

use openssl::pkey::{PKey, Private, Public};

use crate::alipay::keys::{generate_rsa_2048, public_from_private};

/// A key pair.
pub struct Pair {
    pub private: PKey<Private>,
    pub public: PKey<Public>,
}

fn pair() -> Pair {
    let private = generate_rsa_2048().unwrap_or_else(|e| panic!("key generation: {e}"));
    let public = public_from_private(&private).unwrap_or_else(|e| panic!("public key: {e}"));
    Pair { private, public }
}

/// Three pairs: app A's, app B's, and a platform pair.
pub fn keys() -> &'static [Pair; 3] {
    static KEYS: OnceLock<[Pair; 3]> = OnceLock::new();
    KEYS.get_or_init(|| [pair(), pair(), pair()])
}
