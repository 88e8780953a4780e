//! The one error shape of the administration API:
//! `{"error":{"code":"<machine_code>","message":"<what to fix>"}}`, plus `"field"` when one
//! field of the request is to blame.

use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use tradeq_model::ValidationError;
use tradeq_store::StoreError;

/// An administration API error: an HTTP status, a stable machine code and a message that says
/// what to fix. It never carries secrets: messages are built from field names and reasons,
/// never from key material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The machine code, e.g. `invalid_record`.
    pub code: &'static str,
    /// What went wrong and how to fix it.
    pub message: String,
    /// The request field to blame, when there is one.
    pub field: Option<String>,
}

#[derive(Serialize)]
struct Envelope<'a> {
    error: Body<'a>,
}

#[derive(Serialize)]
struct Body<'a> {
    code: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
}

impl AdminError {
    /// An error with any status and code.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> AdminError {
        AdminError {
            status,
            code,
            message: message.into(),
            field: None,
        }
    }

    /// A 400 with `code`.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> AdminError {
        AdminError::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// A 400 `invalid_field`: one field of a credentials request is wrong. The message reads
    /// `field: reason`.
    pub fn invalid_field(field: &str, reason: impl std::fmt::Display) -> AdminError {
        AdminError {
            status: StatusCode::BAD_REQUEST,
            code: "invalid_field",
            message: format!("{field}: {reason}"),
            field: Some(field.to_string()),
        }
    }

    /// A 400 `invalid_record`: the record failed to parse or validate.
    pub fn invalid_record(e: &ValidationError) -> AdminError {
        AdminError {
            status: StatusCode::BAD_REQUEST,
            code: "invalid_record",
            message: e.to_string(),
            field: Some(e.field.clone()),
        }
    }

    /// A 401 `unauthorized`: no admin token was sent.
    pub fn unauthorized() -> AdminError {
        AdminError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "no admin token: send it as `Authorization: Bearer <token>` (it is printed once \
             when generated, kept in <data-dir>/admin-token, and in demo-credentials.json under \
             `admin_token`)",
        )
    }

    /// A 401 `invalid_token`: a token was sent and is not this server's.
    pub fn invalid_token() -> AdminError {
        AdminError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "the admin token is not this server's: check <data-dir>/admin-token or the \
             --admin-token / TRADEQ_ADMIN_TOKEN it was started with",
        )
    }

    /// A 404 `not_found`.
    pub fn not_found(message: impl Into<String>) -> AdminError {
        AdminError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// A 409 `already_exists`.
    pub fn already_exists(message: impl Into<String>) -> AdminError {
        AdminError::new(StatusCode::CONFLICT, "already_exists", message)
    }

    /// A 413 `body_too_large`.
    pub fn body_too_large(limit: usize) -> AdminError {
        AdminError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("the request body exceeds the limit of {limit} bytes (max_admin_body_bytes); split the upload"),
        )
    }

    /// A 415 `unsupported_media_type`.
    pub fn unsupported_media_type(expected: &str) -> AdminError {
        AdminError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!("send the body with `Content-Type: {expected}`"),
        )
    }

    /// A 500 `internal_error` for failures that are not the store's (random numbers, key
    /// generation). The detail is logged, not returned.
    pub fn internal(detail: impl std::fmt::Display) -> AdminError {
        tracing::error!(error = %detail, "admin API internal error");
        AdminError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "internal error; the server log has the detail",
        )
    }

    /// Names the field to blame.
    pub fn with_field(mut self, field: impl Into<String>) -> AdminError {
        self.field = Some(field.into());
        self
    }

    /// Maps a failure to read the body: over the limit is 413, anything else 400.
    pub fn from_bytes_rejection(rejection: BytesRejection, limit: usize) -> AdminError {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            AdminError::body_too_large(limit)
        } else {
            AdminError::bad_request(
                "invalid_body",
                format!(
                    "the request body could not be read: {}",
                    rejection.body_text()
                ),
            )
        }
    }

    /// Maps an unreadable path parameter (not UTF-8 after percent-decoding).
    pub fn from_path_rejection(rejection: PathRejection) -> AdminError {
        AdminError::bad_request("invalid_path", rejection.body_text())
    }

    /// Maps an unreadable query string.
    pub fn from_query_rejection(rejection: QueryRejection) -> AdminError {
        AdminError::bad_request("invalid_query", rejection.body_text())
    }
}

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> AdminError {
        match e {
            StoreError::Stale { .. } => {
                AdminError::new(StatusCode::CONFLICT, "stale_write", e.to_string())
            }
            StoreError::KeyConflict { field, .. } => {
                AdminError::new(StatusCode::CONFLICT, "key_conflict", e.to_string())
                    .with_field(field)
            }
            other => {
                tracing::error!(error = %other, "admin API store failure");
                AdminError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "store_error",
                    "the store failed; the server log has the detail",
                )
            }
        }
    }
}

impl std::fmt::Display for AdminError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&Envelope {
            error: Body {
                code: self.code,
                message: &self.message,
                field: self.field.as_deref(),
            },
        })
        .unwrap_or_else(|_| {
            br#"{"error":{"code":"internal_error","message":"internal error"}}"#.to_vec()
        });
        let mut response = (
            self.status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            body,
        )
            .into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"tradeq-admin\""),
            );
        }
        response
    }
}
