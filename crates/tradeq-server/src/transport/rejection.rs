//! Answers written at the transport level, before any front door ran: a request hyper could not
//! parse (rendered in the protocol its path names), and a connection over the listener's cap.

use tradeq_wire::alipay::v2::{self, V2Error};
use tradeq_wire::alipay::v3::{error_body, V3Error};
use tradeq_wire::top::{self, TopError, TopFormat};

use crate::front_door::request_id;

/// The front door a request line names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Door {
    AlipayV2,
    AlipayV3,
    Top,
}

/// What hyper's status means, for a person.
fn reason(status: u16) -> &'static str {
    match status {
        414 => "请求 URL 过长 (the request URL is longer than 65,534 bytes: send the parameters in the body)",
        431 => "请求头过大 (the request headers are too large)",
        _ => "HTTP 请求格式错误 (malformed HTTP request)",
    }
}

/// A complete HTTP/1.1 answer, closing the connection (hyper closes it after a parse error).
fn http(status: u16, text: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status} {text}\r\n");
    for (name, value) in headers {
        out.push_str(name);
        out.push_str(": ");
        out.push_str(value);
        out.push_str("\r\n");
    }
    out.push_str(&format!(
        "content-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    ));
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// The front door's error envelope for a request hyper refused with `status`. v2 and TOP answer
/// HTTP 200 as the platforms do (their SDKs read only 200 bodies); v3 keeps the status.
pub(crate) fn render(door: Door, json: bool, status: u16) -> Vec<u8> {
    let id = request_id();
    let why = reason(status);
    match door {
        Door::AlipayV2 => {
            let err = V2Error::invalid_parameter_msg(format!("参数无效: {why}"));
            let body = v2::envelope(v2::ERROR_RESPONSE_KEY, &v2::error_inner_json(&err), None);
            http(
                200,
                "OK",
                &[
                    ("content-type", "application/json;charset=utf-8"),
                    ("trace_id", &id),
                ],
                body.as_bytes(),
            )
        }
        Door::AlipayV3 => {
            let err = V3Error::new(status, "invalid-parameter", why.to_string());
            let body = error_body(&err, &id);
            let text = match status {
                414 => "URI Too Long",
                431 => "Request Header Fields Too Large",
                _ => "Bad Request",
            };
            http(
                status,
                text,
                &[
                    ("content-type", "application/json;charset=utf-8"),
                    ("alipay-trace-id", &id),
                ],
                body.as_bytes(),
            )
        }
        Door::Top => {
            let format = if json {
                TopFormat::Json
            } else {
                TopFormat::Xml
            };
            let err = TopError::new(43, "Parameter error").with_sub_msg(why);
            let body = top::render_error(format, &err, &id);
            http(
                200,
                "OK",
                &[("content-type", format.content_type())],
                body.as_bytes(),
            )
        }
    }
}

/// The answer to a connection over the listener's cap: written without waiting, then closed.
pub(crate) fn over_capacity(admin: bool) -> Vec<u8> {
    let body: &[u8] = if admin {
        br#"{"error":{"code":"overloaded","message":"too many open connections to the admin listener; retry shortly"}}"#
    } else {
        br#"{"code":"overloaded","message":"too many open connections; retry shortly"}"#
    };
    http(
        503,
        "Service Unavailable",
        &[
            ("content-type", "application/json;charset=utf-8"),
            ("retry-after", "1"),
        ],
        body,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(bytes: &[u8]) -> (String, String) {
        let text = String::from_utf8_lossy(bytes).to_string();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        (head.to_string(), body.to_string())
    }

    #[test]
    fn each_front_door_answers_in_its_own_envelope() {
        let (head, body) = split(&render(Door::Top, true, 414));
        assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(json["error_response"]["code"], 43);
        assert!(head.contains(&format!("content-length: {}", body.len())));

        let (head, body) = split(&render(Door::Top, false, 431));
        assert!(body.starts_with("<?xml"), "{body}");
        assert!(head.contains("text/xml"), "{head}");

        let (head, body) = split(&render(Door::AlipayV2, false, 400));
        assert!(head.starts_with("HTTP/1.1 200 OK"));
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(json["error_response"]["code"], "40002");

        let (head, body) = split(&render(Door::AlipayV3, false, 414));
        assert!(head.starts_with("HTTP/1.1 414 URI Too Long"), "{head}");
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(json["code"], "invalid-parameter");
    }
}
