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
pub fn request_id() -> String {
    const ALPHABET: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut bytes = [0u8; 13];
    if openssl::rand::rand_bytes(&mut bytes).is_err() {
        // The id only correlates logs; a clock-derived one will do if the RNG is unavailable.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        bytes.copy_from_slice(&nanos.to_le_bytes()[..13]);
    }
    bytes
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % 36] as char)
        .collect()
}
