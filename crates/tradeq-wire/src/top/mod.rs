//! Taobao Open Platform (TOP) router protocol (`/router/rest`).
//!
//! - [`sign`](mod@sign): strings-to-sign, md5 / hmac / hmac-sha256 signatures, tolerant verification;
//! - [`request`]: the system-parameter checks and the platform error catalogue;
//! - [`envelope`]: success and error answers in JSON, simplified JSON and XML;
//! - [`parse`]: the client side, reading those answers back into one normalized shape.

pub mod envelope;
pub mod parse;
pub mod request;
pub mod sign;

#[cfg(test)]
mod tests;

pub use envelope::{
    render, render_error, render_error_json, render_error_xml, render_json, render_json_simplify,
    render_xml, response_root, CONTENT_TYPE_JSON, CONTENT_TYPE_XML,
};
pub use parse::{parse_json_response, parse_xml_response, TopParseError};
pub use request::{read_common, read_common_within, TopCommon, TopError, TopFormat};
pub use sign::{sign, sign_string, verify, SignMethod};
