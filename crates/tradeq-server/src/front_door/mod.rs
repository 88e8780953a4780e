//! The three protocol front doors. Each parses and authenticates requests in its protocol's terms,
//! hands decoded business parameters to a method, and renders and signs the method's answer.

use std::any::Any;

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

pub mod alipay_v2;
pub mod alipay_v3;
pub mod params;
pub mod top;

/// Paths outside the three front doors.
pub async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "application/json;charset=utf-8")],
        r#"{"code":"not-found","message":"tradeq serves /gateway.do (Alipay v2), /v3/... (Alipay v3) and /router/rest (TOP)"}"#,
    )
        .into_response()
}

/// A handler that panicked still gets a JSON answer (and the panic is a bug to fix).
pub fn panic_response(_err: Box<dyn Any + Send + 'static>) -> Response {
    tracing::error!("request handler panicked");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        [(header::CONTENT_TYPE, "application/json;charset=utf-8")],
        r#"{"code":"unknow-error","message":"internal error"}"#,
    )
        .into_response()
}

/// A request id like real TOP's: 13 lower-case base-36 characters.
///
/// Ids correlate logs and answers; they must not repeat, but they are no secret. A per-thread
/// generator seeded once from OpenSSL's RNG costs nanoseconds, where a call into the RNG per
/// request took microseconds and a lock.
pub fn request_id() -> String {
    const ALPHABET: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut x = next_id_bits();
    let mut id = String::with_capacity(13);
    for _ in 0..13 {
        id.push(char::from(ALPHABET[(x % 36) as usize]));
        x /= 36;
    }
    id
}

/// splitmix64 over a per-thread state (36^13 < 2^68, so 64 bits fill all but the last digits).
fn next_id_bits() -> u64 {
    use std::cell::Cell;
    thread_local! {
        static STATE: Cell<u64> = Cell::new(seed());
    }
    fn seed() -> u64 {
        let mut bytes = [0u8; 8];
        if openssl::rand::rand_bytes(&mut bytes).is_err() {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            bytes.copy_from_slice(&nanos.to_le_bytes()[..8]);
        }
        u64::from_le_bytes(bytes)
    }
    STATE.with(|state| {
        let s = state.get().wrapping_add(0x9E37_79B9_7F4A_7C15);
        state.set(s);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    })
}

#[cfg(test)]
mod request_id_tests {
    use super::request_id;

    #[test]
    fn ids_are_13_base36_characters_and_do_not_repeat() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..20_000 {
            let id = request_id();
            assert_eq!(id.len(), 13, "{id}");
            assert!(
                id.bytes()
                    .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase()),
                "{id}"
            );
            assert!(seen.insert(id));
        }
        // Another thread has its own seed: its ids do not replay this thread's.
        let other: Vec<String> = std::thread::spawn(|| (0..1_000).map(|_| request_id()).collect())
            .join()
            .unwrap_or_default();
        assert_eq!(other.len(), 1_000);
        assert!(other.iter().all(|id| !seen.contains(id)));
    }
}
