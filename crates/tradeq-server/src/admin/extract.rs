//! Request bodies read the administration API's way: every failure (wrong content type, body too
//! large, malformed JSON, a field of the wrong type) becomes an [`AdminError`] in the API's JSON
//! error shape, naming the field when there is one.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{header, HeaderMap};
use serde_json::{Map, Value};

use tradeq_model::Timestamp;

use super::error::AdminError;
use crate::state::AppState;

/// The media type of a request, lower-cased and without parameters (`application/json`).
pub fn media_type(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    let essence = value.split(';').next().unwrap_or("").trim();
    Some(essence.to_ascii_lowercase())
}

/// Requires a JSON body (`application/json` or any `…+json` type).
pub fn require_json(headers: &HeaderMap) -> Result<(), AdminError> {
    match media_type(headers) {
        Some(m)
            if m == "application/json"
                || (m.starts_with("application/") && m.ends_with("+json")) =>
        {
            Ok(())
        }
        _ => Err(AdminError::unsupported_media_type("application/json")),
    }
}

/// Checks that `bytes` are one well-formed JSON value, so that a syntax error is reported as
/// `invalid_json` (with its position) rather than as a field error.
pub fn check_json_syntax(bytes: &[u8]) -> Result<(), AdminError> {
    serde_json::from_slice::<serde::de::IgnoredAny>(bytes)
        .map(|_| ())
        .map_err(|e| {
            AdminError::bad_request("invalid_json", format!("the body is not valid JSON: {e}"))
        })
}

/// The raw body of a JSON request, after the content type, the size limit and the JSON syntax
/// have been checked.
pub struct JsonBytes(pub Bytes);

impl FromRequest<AppState> for JsonBytes {
    type Rejection = AdminError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        require_json(req.headers())?;
        let limit = state.config.max_admin_body_bytes;
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|r| AdminError::from_bytes_rejection(r, limit))?;
        check_json_syntax(&bytes)?;
        Ok(JsonBytes(bytes))
    }
}

/// A JSON object body whose fields are taken one by one, so that each mistake names its field
/// and unknown fields are refused.
pub struct JsonObject {
    fields: Map<String, Value>,
}

/// A field that may be absent, `null`, or given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Nullable<T> {
    /// Not in the request.
    Absent,
    /// Explicitly `null`.
    Null,
    /// Given.
    Value(T),
}

impl FromRequest<AppState> for JsonObject {
    type Rejection = AdminError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let JsonBytes(bytes) = JsonBytes::from_request(req, state).await?;
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(fields)) => Ok(JsonObject { fields }),
            Ok(_) => Err(AdminError::bad_request(
                "invalid_json",
                "the body must be a JSON object",
            )),
            Err(e) => Err(AdminError::bad_request(
                "invalid_json",
                format!("the body is not valid JSON: {e}"),
            )),
        }
    }
}

impl JsonObject {
    /// An object from already-parsed fields.
    pub fn from_map(fields: Map<String, Value>) -> JsonObject {
        JsonObject { fields }
    }

    /// A string field that may be absent or `null` (both read as `None`).
    pub fn opt_string(&mut self, name: &str) -> Result<Option<String>, AdminError> {
        match self.nullable_string(name)? {
            Nullable::Value(s) => Ok(Some(s)),
            Nullable::Absent | Nullable::Null => Ok(None),
        }
    }

    /// A required string field.
    pub fn string(&mut self, name: &str) -> Result<String, AdminError> {
        self.opt_string(name)?
            .ok_or_else(|| AdminError::invalid_field(name, "is required"))
    }

    /// A string field telling absent from `null`.
    pub fn nullable_string(&mut self, name: &str) -> Result<Nullable<String>, AdminError> {
        match self.fields.remove(name) {
            None => Ok(Nullable::Absent),
            Some(Value::Null) => Ok(Nullable::Null),
            Some(Value::String(s)) => Ok(Nullable::Value(s)),
            Some(other) => Err(AdminError::invalid_field(
                name,
                format!("must be a string, not {}", type_name(&other)),
            )),
        }
    }

    /// A boolean field that may be absent or `null`.
    pub fn opt_bool(&mut self, name: &str) -> Result<Option<bool>, AdminError> {
        match self.fields.remove(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(b)),
            Some(other) => Err(AdminError::invalid_field(
                name,
                format!("must be true or false, not {}", type_name(&other)),
            )),
        }
    }

    /// A list-of-strings field that may be absent or `null`.
    pub fn opt_string_list(&mut self, name: &str) -> Result<Option<Vec<String>>, AdminError> {
        match self.fields.remove(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(items)) => items
                .into_iter()
                .enumerate()
                .map(|(i, v)| match v {
                    Value::String(s) => Ok(s),
                    other => Err(AdminError::invalid_field(
                        &format!("{name}[{i}]"),
                        format!("must be a string, not {}", type_name(&other)),
                    )),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(other) => Err(AdminError::invalid_field(
                name,
                format!("must be a list of strings, not {}", type_name(&other)),
            )),
        }
    }

    /// An optional platform time (`yyyy-MM-dd HH:mm:ss`, GMT+8).
    pub fn opt_timestamp(&mut self, name: &str) -> Result<Option<Timestamp>, AdminError> {
        match self.opt_string(name)? {
            None => Ok(None),
            Some(s) => Timestamp::parse(&s).map(Some).ok_or_else(|| {
                AdminError::invalid_field(
                    name,
                    "is not a platform time: expected yyyy-MM-dd HH:mm:ss (GMT+8)",
                )
            }),
        }
    }

    /// Refuses any field not taken yet; `expected` lists the fields the endpoint knows.
    pub fn finish(self, expected: &[&str]) -> Result<(), AdminError> {
        match self.fields.keys().next() {
            None => Ok(()),
            Some(unknown) => Err(AdminError::invalid_field(
                unknown,
                format!("unknown field; expected one of: {}", expected.join(", ")),
            )),
        }
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> JsonObject {
        match v {
            Value::Object(m) => JsonObject::from_map(m),
            _ => JsonObject::from_map(Map::new()),
        }
    }

    #[test]
    fn fields_name_their_mistakes() {
        let mut o = obj(json!({"a": 5, "b": null, "c": ["x", 1], "d": "2024-01-01"}));
        assert_eq!(o.string("a").unwrap_err().field.as_deref(), Some("a"));
        assert_eq!(o.nullable_string("b").unwrap(), Nullable::Null);
        assert_eq!(o.nullable_string("zz").unwrap(), Nullable::Absent);
        assert_eq!(
            o.opt_string_list("c").unwrap_err().field.as_deref(),
            Some("c[1]")
        );
        assert!(o.opt_timestamp("d").unwrap_err().message.starts_with("d: "));
        assert!(o.finish(&["a"]).is_ok());
        let o = obj(json!({"extra": 1}));
        let e = o.finish(&["a", "b"]).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("extra"));
        assert!(e.message.contains("a, b"));
    }

    #[test]
    fn media_types() {
        let mut h = HeaderMap::new();
        assert!(require_json(&h).is_err());
        h.insert(
            header::CONTENT_TYPE,
            "Application/JSON; charset=utf-8".parse().unwrap(),
        );
        assert!(require_json(&h).is_ok());
        h.insert(
            header::CONTENT_TYPE,
            "application/merge-patch+json".parse().unwrap(),
        );
        assert!(require_json(&h).is_ok());
        h.insert(header::CONTENT_TYPE, "text/plain".parse().unwrap());
        assert_eq!(require_json(&h).unwrap_err().code, "unsupported_media_type");
    }
}
