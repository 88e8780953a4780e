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
        let starts = |prefix: &str| {
            content_type
                .get(..prefix.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
        };
        if starts("multipart/form-data") || is_node_multipart(content_type, body) {
            let boundary = multipart_boundary(content_type).ok_or(ParamError::Multipart {
                offset: 0,
                reason: "multipart/form-data without a boundary",
            })?;
            for part in parse_multipart(body, &boundary, charset)? {
                if let PartValue::Text(v) = part.value {
                    pairs.push((part.name, v));
                }
            }
        } else if starts("application/json") || starts("text/plain") {
            // Not a form: such a body carries no parameters of these protocols.
        } else {
            // application/x-www-form-urlencoded, or no content type at all (curl -d without -H).
            pairs.extend(parse_form(body, charset)?);
        }
    }
    ParamSet::from_pairs(pairs, &Limits::default())
}

/// The Node TOP SDK's `network.js`, when the caller preset a Content-Type, sends its multipart
/// body as `application/x-www-form-urlencoded; boundary=…` (it keeps the preset type and appends
/// the boundary). Such a body starts with its delimiter, which no form body does.
fn is_node_multipart(content_type: &str, body: &[u8]) -> bool {
    // A form body cannot start with `--` (it would be a name beginning with dashes): most
    // requests are decided without reading the Content-Type's parameters.
    body.strip_prefix(b"--".as_slice()).is_some_and(|rest| {
        multipart_boundary(content_type).is_some_and(|b| rest.starts_with(b.as_bytes()))
    })
}

/// The parameter a parse error is about, when it names one.
pub fn error_param(err: &ParamError) -> Option<&str> {
    match err {
        ParamError::Duplicate(name) => Some(name),
        ParamError::BadEncoding { param, .. } => param.as_deref(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(content_type: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_str(content_type).unwrap(),
        );
        h
    }

    const NODE_BODY: &[u8] = b"--XyZ\r\nContent-Disposition: form-data; name=\"method\"\r\n\r\nm\r\n--XyZ\r\nContent-Disposition: form-data; name=\"sign\"\r\n\r\nAB\r\n--XyZ--\r\n";

    #[test]
    fn node_sdk_multipart_under_a_form_content_type() {
        for ct in [
            "multipart/form-data; boundary=XyZ",
            "application/x-www-form-urlencoded; boundary=XyZ",
        ] {
            let p = collect(Some("format=json"), &headers(ct), NODE_BODY, Charset::Utf8).unwrap();
            assert_eq!(p.get("method"), Some("m"), "{ct}");
            assert_eq!(p.get("sign"), Some("AB"), "{ct}");
            assert_eq!(p.get("format"), Some("json"), "{ct}");
        }
    }

    #[test]
    fn a_form_body_with_a_stray_boundary_stays_a_form() {
        let ct = "application/x-www-form-urlencoded; boundary=XyZ";
        let p = collect(None, &headers(ct), b"method=m&sign=AB", Charset::Utf8).unwrap();
        assert_eq!(p.get("method"), Some("m"));
        assert_eq!(p.get("sign"), Some("AB"));
    }
}
