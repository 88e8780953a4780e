//! Gathering a request's parameters from the URL query and the body (urlencoded or multipart),
//! as the SDKs split them differently between the two.

use axum::http::{header, HeaderMap};

use tradeq_wire::params::{
    multipart_boundary, parse_form, parse_multipart, Charset, Limits, ParamError, ParamSet,
    PartValue,
};

/// The decoded text parameters of a request (file parts are dropped: they are never signed and
/// no query method takes one).
pub fn collect(
    query: Option<&str>,
    headers: &HeaderMap,
    body: &[u8],
    charset: Charset,
) -> Result<ParamSet, ParamError> {
    let mut pairs = match query {
        Some(q) => parse_form(q.as_bytes(), charset)?,
        None => Vec::new(),
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !body.is_empty() {
        let lower = content_type.to_ascii_lowercase();
        if lower.starts_with("multipart/form-data") {
            let boundary = multipart_boundary(content_type).ok_or(ParamError::Multipart {
                offset: 0,
                reason: "multipart/form-data without a boundary",
            })?;
            for part in parse_multipart(body, &boundary, charset)? {
                if let PartValue::Text(v) = part.value {
                    pairs.push((part.name, v));
                }
            }
        } else if lower.starts_with("application/json") || lower.starts_with("text/plain") {
            // Not a form: such a body carries no parameters of these protocols.
        } else {
            // application/x-www-form-urlencoded, or no content type at all (curl -d without -H).
            pairs.extend(parse_form(body, charset)?);
        }
    }
    ParamSet::from_pairs(pairs, &Limits::default())
}

/// The parameter a parse error is about, when it names one.
pub fn error_param(err: &ParamError) -> Option<&str> {
    match err {
        ParamError::Duplicate(name) => Some(name),
        ParamError::BadEncoding { param, .. } => param.as_deref(),
        _ => None,
    }
}
