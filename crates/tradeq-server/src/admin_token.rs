//! The admin API's bearer token, held and stored only as its SHA-256 digest.
//!
//! The token is 24 random bytes when tradeq generates it, so a plain digest is as good as a slow
//! password hash here: nobody can search a 192-bit space. What the digest buys is that a copy of
//! the store (a backup, a `pg_dump`, a read-only role) no longer hands out admin access. A token
//! given with `--admin-token` is never stored at all.

use sha2::{Digest, Sha256};

/// The stored form's prefix: `sha256:<64 hex digits>`.
const STORED_PREFIX: &str = "sha256:";

/// The admin token's digest; compares presented tokens in constant time.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct AdminToken {
    /// `None`: no token is configured and nothing matches.
    digest: Option<[u8; 32]>,
}

impl std::fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminToken(..)")
    }
}

impl AdminToken {
    /// The digest of `token`; an empty token matches nothing.
    pub fn from_plain(token: &str) -> AdminToken {
        AdminToken {
            digest: (!token.is_empty()).then(|| Sha256::digest(token.as_bytes()).into()),
        }
    }

    /// Reads the stored form written by [`AdminToken::stored_form`]; `None` for anything else
    /// (a token stored in clear by an older version, which the caller then replaces).
    pub fn from_stored(stored: &str) -> Option<AdminToken> {
        let hex_digest = stored.strip_prefix(STORED_PREFIX)?;
        let bytes = hex::decode(hex_digest).ok()?;
        let digest: [u8; 32] = bytes.try_into().ok()?;
        Some(AdminToken {
            digest: Some(digest),
        })
    }

    /// What the store keeps: `sha256:` and the digest in hex (empty when no token is set).
    pub fn stored_form(&self) -> String {
        match &self.digest {
            Some(d) => format!("{STORED_PREFIX}{}", hex::encode(d)),
            None => String::new(),
        }
    }

    /// Whether `given` is the token. Digests are compared in constant time, so the time taken
    /// tells nothing about how much of a guess was right.
    pub fn matches(&self, given: &str) -> bool {
        let Some(expected) = &self.digest else {
            return false;
        };
        if given.is_empty() {
            return false;
        }
        let digest: [u8; 32] = Sha256::digest(given.as_bytes()).into();
        openssl::memcmp::eq(expected, &digest)
    }
}

impl From<String> for AdminToken {
    fn from(token: String) -> AdminToken {
        AdminToken::from_plain(&token)
    }
}

impl From<&str> for AdminToken {
    fn from(token: &str) -> AdminToken {
        AdminToken::from_plain(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_only_the_token() {
        let t = AdminToken::from_plain("s3cret-token");
        assert!(t.matches("s3cret-token"));
        assert!(!t.matches("s3cret-tokeN"));
        assert!(!t.matches("s3cret-token "));
        assert!(!t.matches(""));
    }

    #[test]
    fn the_stored_form_is_a_digest_that_round_trips() {
        let t = AdminToken::from_plain("s3cret-token");
        let stored = t.stored_form();
        assert!(stored.starts_with("sha256:"), "{stored}");
        assert_eq!(stored.len(), 7 + 64);
        assert!(!stored.contains("s3cret"), "{stored}");
        let back = AdminToken::from_stored(&stored).unwrap();
        assert!(back.matches("s3cret-token"));
        assert!(!back.matches("other"));
        assert_eq!(back, t);
    }

    #[test]
    fn a_token_stored_in_clear_is_not_read_as_a_digest() {
        assert!(AdminToken::from_stored("0123abcd").is_none());
        assert!(AdminToken::from_stored("sha256:zz").is_none());
        assert!(AdminToken::from_stored("sha256:00").is_none());
    }

    #[test]
    fn an_empty_token_matches_nothing() {
        let t = AdminToken::from_plain("");
        assert!(!t.matches(""));
        assert!(!t.matches("x"));
        assert_eq!(t.stored_form(), "");
    }

    #[test]
    fn debug_shows_no_digest() {
        let t = AdminToken::from_plain("s3cret");
        assert_eq!(format!("{t:?}"), "AdminToken(..)");
    }
}
