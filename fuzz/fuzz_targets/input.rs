#![allow(dead_code)] // each target uses a different subset

//! The shared input layout of the request-side targets, chosen so that seeds stay readable:
//!
//! ```text
//! <URL query>\n<Content-Type header>\n<body…>
//! ```
//!
//! The first line is the raw query string, the second the Content-Type (which decides between a
//! form body and a multipart body, as the server's `collect` does), and everything after the
//! second `\n` is the body, CRLFs included. Missing lines are empty. The whole input is also fed,
//! as text, to the client-side response parsers, so a seed may just as well be a response body.

use chrono::{DateTime, Utc};
use tradeq_wire::params::{multipart_boundary, parse_form, parse_multipart, Charset, PartValue};

pub struct Request<'a> {
    pub query: &'a [u8],
    pub content_type: String,
    pub body: &'a [u8],
}

pub fn split(data: &[u8]) -> Request<'_> {
    let (query, rest) = cut_line(data);
    let (content_type, body) = cut_line(rest);
    Request {
        query,
        content_type: String::from_utf8_lossy(content_type).into_owned(),
        body,
    }
}

fn cut_line(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[]),
    }
}

/// 2024-01-01 12:00:00 GMT+8, the time of every worked example in the protocol documents, so
/// seeds get past the timestamp-window checks.
pub fn now() -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp_millis(1_704_081_600_000).unwrap()
}

/// Decoded text pairs of query + body in `charset`, as the server's `collect` gathers them, but
/// without stopping at the first failure (each piece that parses contributes), so the later
/// stages see as much as possible.
pub fn pairs(req: &Request<'_>, charset: Charset) -> Vec<(String, String)> {
    let mut pairs = parse_form(req.query, charset).unwrap_or_default();
    match multipart_boundary(&req.content_type) {
        Some(boundary) => {
            assert!(
                !boundary.is_empty() && boundary.len() <= 70,
                "bad boundary {boundary:?}"
            );
            if let Ok(parts) = parse_multipart(req.body, &boundary, charset) {
                for part in parts {
                    if let PartValue::Text(v) = part.value {
                        pairs.push((part.name, v));
                    }
                }
            }
        }
        None => {
            if let Ok(p) = parse_form(req.body, charset) {
                pairs.extend(p);
            }
        }
    }
    pairs
}

/// `true` when `inner` lies inside `outer` (a borrowed sub-slice, not a copy).
pub fn is_subslice(outer: &[u8], inner: &[u8]) -> bool {
    let o = outer.as_ptr() as usize;
    let i = inner.as_ptr() as usize;
    i >= o && i + inner.len() <= o + outer.len()
}
