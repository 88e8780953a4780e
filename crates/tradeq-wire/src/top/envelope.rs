//! TOP response envelopes (`docs/protocol/top.md` §6, §7.1): JSON with sorted keys and wrapped lists,
//! simplified JSON, and XML; success and `error_response`.

use super::request::{TopError, TopFormat};
use crate::view::{write_json_string, Node};

/// `Content-Type` of JSON answers, as real TOP sends it. The Node SDK only parses bodies whose
/// type contains `text/javascript` or `application/json`.
pub const CONTENT_TYPE_JSON: &str = "text/javascript;charset=UTF-8";

/// `Content-Type` of XML answers.
pub const CONTENT_TYPE_XML: &str = "text/xml;charset=UTF-8";

/// The XML declaration exactly as real TOP writes it (note the space before `?>`).
pub const XML_DECLARATION: &str = "<?xml version=\"1.0\" encoding=\"utf-8\" ?>";

/// The root key of an error answer, in every format and style.
pub const ERROR_ROOT: &str = "error_response";

/// The root key of a success answer: dots become `_`, a leading `taobao.` is dropped (as the Node
/// SDK's `getApiResponseName` expects), and `_response` is appended.
pub fn response_root(method: &str) -> String {
    let name = method.strip_prefix("taobao.").unwrap_or(method);
    let mut root = name.replace('.', "_");
    root.push_str("_response");
    root
}

/// The `top-bodylength` header value real TOP sends: the body length in UTF-16 code units (Java
/// `String.length()`), not bytes.
pub fn top_bodylength(body: &str) -> usize {
    let bytes = body.as_bytes();
    if bytes.is_ascii() {
        return bytes.len();
    }
    // One unit per character (every byte but UTF-8 continuation bytes, 10xxxxxx), two for
    // characters outside the BMP (4-byte sequences, lead byte 11110xxx), eight bytes at a time.
    const LOW: u64 = 0x0101_0101_0101_0101;
    let mut units = 0usize;
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let w = u64::from_le_bytes(word);
        let continuation = (w >> 7) & !(w >> 6) & LOW;
        let four_byte_lead = (w >> 7) & (w >> 6) & (w >> 5) & (w >> 4) & !(w >> 3) & LOW;
        units += 8 - continuation.count_ones() as usize + four_byte_lead.count_ones() as usize;
    }
    units
        + chunks
            .remainder()
            .iter()
            .map(|&b| usize::from(b & 0xc0 != 0x80) + usize::from(b >= 0xf0))
            .sum::<usize>()
}

/// Renders a success answer in the requested format and style; `simplify` only applies to JSON.
pub fn render(
    format: TopFormat,
    simplify: bool,
    method: &str,
    body: &Node,
    request_id: &str,
) -> String {
    match (format, simplify) {
        (TopFormat::Json, true) => render_json_simplify(body, request_id),
        (TopFormat::Json, false) => render_json(method, body, request_id),
        (TopFormat::Xml, _) => render_xml(method, body, request_id),
    }
}

/// Renders an error answer in the requested format; simplified JSON errors are wrapped like the
/// others, so there is no style argument.
pub fn render_error(format: TopFormat, err: &TopError, request_id: &str) -> String {
    match format {
        TopFormat::Json => render_error_json(err, request_id),
        TopFormat::Xml => render_error_xml(err, request_id),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum JsonStyle {
    /// Lists as `{"<item>":[…]}` (`{}` when empty).
    Wrapped,
    /// Lists as bare arrays.
    Simplify,
}

/// Renders a success answer as `{"<root>":{…,"request_id":"…"}}`, compact.
///
/// Keys are sorted in byte order inside every object, as real TOP does; `request_id` comes last.
/// Lists become `{"<item>":[…]}`, and an empty list `{}` (as in a real capture). Strings keep
/// non-ASCII raw, because the Java SDK mis-decodes `\u` escapes.
///
/// `body` should be a [`Node::Obj`]; any other node contributes no fields. A `request_id` field in
/// `body` is dropped so the envelope's own one is the only one.
pub fn render_json(method: &str, body: &Node, request_id: &str) -> String {
    let mut out = String::with_capacity(512);
    out.push('{');
    write_json_string(&response_root(method), &mut out);
    out.push(':');
    write_json_root_object(body, request_id, JsonStyle::Wrapped, &mut out);
    out.push('}');
    out
}

/// Renders a success answer in the `simplify=true` style: no root wrapper, lists as bare arrays,
/// keys sorted, `request_id` last at the top level (its placement there is unverified but is what
/// the simplified parsers tolerate).
pub fn render_json_simplify(body: &Node, request_id: &str) -> String {
    let mut out = String::with_capacity(512);
    write_json_root_object(body, request_id, JsonStyle::Simplify, &mut out);
    out
}

fn write_json_root_object(body: &Node, request_id: &str, style: JsonStyle, out: &mut String) {
    out.push('{');
    let fields = match body {
        Node::Obj(fields) => sorted_fields(fields),
        _ => Vec::new(),
    };
    for (key, value) in fields.into_iter().filter(|(k, _)| *k != "request_id") {
        write_json_string(key, out);
        out.push(':');
        write_json_node(value, style, out);
        out.push(',');
    }
    out.push_str("\"request_id\":");
    write_json_string(request_id, out);
    out.push('}');
}

fn sorted_fields<'a>(fields: &'a [(&'static str, Node)]) -> Vec<(&'static str, &'a Node)> {
    let mut sorted: Vec<(&'static str, &Node)> = fields.iter().map(|(k, v)| (*k, v)).collect();
    sorted.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    sorted
}

fn write_json_node(node: &Node, style: JsonStyle, out: &mut String) {
    match node {
        Node::Str(s) => write_json_string(s, out),
        Node::Num(n) => out.push_str(n),
        Node::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Node::Obj(fields) => {
            out.push('{');
            for (i, (key, value)) in sorted_fields(fields).into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_string(key, out);
                out.push(':');
                write_json_node(value, style, out);
            }
            out.push('}');
        }
        Node::List { item, items } => {
            let wrapped = style == JsonStyle::Wrapped;
            if wrapped {
                if items.is_empty() {
                    out.push_str("{}");
                    return;
                }
                out.push('{');
                write_json_string(item, out);
                out.push(':');
            }
            out.push('[');
            for (i, value) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_node(value, style, out);
            }
            out.push(']');
            if wrapped {
                out.push('}');
            }
        }
    }
}

/// Renders a success answer as XML: the declaration, immediately `<root>`, the fields in
/// insertion order (the API documents' XML examples keep document order), `<request_id>` last.
///
/// Lists are `<list_name list="true"><item>…</item></list_name>`. `body` should be a
/// [`Node::Obj`]; any other node contributes no fields, and a `request_id` field in it is dropped.
pub fn render_xml(method: &str, body: &Node, request_id: &str) -> String {
    let root = response_root(method);
    let mut out = String::with_capacity(1024);
    out.push_str(XML_DECLARATION);
    open_tag(&root, &mut out);
    if let Node::Obj(fields) = body {
        for (key, value) in fields.iter().filter(|(k, _)| *k != "request_id") {
            write_xml_node(key, value, &mut out);
        }
    }
    write_xml_leaf("request_id", request_id, &mut out);
    close_tag(&root, &mut out);
    out
}

fn open_tag(name: &str, out: &mut String) {
    out.push('<');
    out.push_str(name);
    out.push('>');
}

fn close_tag(name: &str, out: &mut String) {
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

fn write_xml_leaf(name: &str, text: &str, out: &mut String) {
    open_tag(name, out);
    write_xml_text(text, out);
    close_tag(name, out);
}

fn write_xml_node(name: &str, node: &Node, out: &mut String) {
    match node {
        Node::Str(s) => write_xml_leaf(name, s, out),
        Node::Num(n) => write_xml_leaf(name, n, out),
        Node::Bool(b) => write_xml_leaf(name, if *b { "true" } else { "false" }, out),
        Node::Obj(fields) => {
            open_tag(name, out);
            for (key, value) in fields {
                write_xml_node(key, value, out);
            }
            close_tag(name, out);
        }
        Node::List { item, items } => {
            out.push('<');
            out.push_str(name);
            out.push_str(" list=\"true\">");
            for value in items {
                write_xml_node(item, value, out);
            }
            close_tag(name, out);
        }
    }
}

/// Escapes text content. `"` is written `&quot;` as in the API documents' XML examples. `\r` becomes `&#13;` so XML
/// end-of-line normalisation does not turn it into `\n`. Characters XML 1.0 cannot carry at all
/// (other C0 controls, U+FFFE, U+FFFF) become U+FFFD: dropping them silently would be worse, and
/// emitting them would make every parser reject the whole answer.
fn write_xml_text(s: &str, out: &mut String) {
    out.reserve(s.len());
    let bytes = s.as_bytes();
    let mut run = 0;
    let mut i = 0;
    while i < bytes.len() {
        let (replacement, width) = match bytes[i] {
            b'&' => ("&amp;", 1),
            b'<' => ("&lt;", 1),
            b'>' => ("&gt;", 1),
            b'"' => ("&quot;", 1),
            b'\'' => ("&apos;", 1),
            b'\r' => ("&#13;", 1),
            b'\t' | b'\n' => {
                i += 1;
                continue;
            }
            0..=0x1f => ("\u{FFFD}", 1),
            // U+FFFE and U+FFFF (EF BF BE/BF).
            0xef if bytes.get(i + 1) == Some(&0xbf)
                && matches!(bytes.get(i + 2), Some(0xbe | 0xbf)) =>
            {
                ("\u{FFFD}", 3)
            }
            _ => {
                i += 1;
                continue;
            }
        };
        out.push_str(&s[run..i]);
        out.push_str(replacement);
        i += width;
        run = i;
    }
    out.push_str(&s[run..]);
}

/// Renders `{"error_response":{"code":…,"msg":"…","sub_code":"…","sub_msg":"…","request_id":"…"}}`
/// in the key order of real captures, `code` as a JSON number, absent sub fields omitted. Used for
/// simplified JSON too: errors are always wrapped.
pub fn render_error_json(err: &TopError, request_id: &str) -> String {
    let mut out = String::with_capacity(160);
    out.push_str("{\"error_response\":{\"code\":");
    out.push_str(&err.code.to_string());
    out.push_str(",\"msg\":");
    write_json_string(&err.msg, &mut out);
    if let Some(sub_code) = &err.sub_code {
        out.push_str(",\"sub_code\":");
        write_json_string(sub_code, &mut out);
    }
    if let Some(sub_msg) = &err.sub_msg {
        out.push_str(",\"sub_msg\":");
        write_json_string(sub_msg, &mut out);
    }
    out.push_str(",\"request_id\":");
    write_json_string(request_id, &mut out);
    out.push_str("}}");
    out
}

/// Renders the XML `error_response`, children in the order `code`, `msg`, `sub_code`,
/// `sub_msg`, `request_id`.
pub fn render_error_xml(err: &TopError, request_id: &str) -> String {
    let mut out = String::with_capacity(200);
    out.push_str(XML_DECLARATION);
    open_tag(ERROR_ROOT, &mut out);
    write_xml_leaf("code", &err.code.to_string(), &mut out);
    write_xml_leaf("msg", &err.msg, &mut out);
    if let Some(sub_code) = &err.sub_code {
        write_xml_leaf("sub_code", sub_code, &mut out);
    }
    if let Some(sub_msg) = &err.sub_msg {
        write_xml_leaf("sub_msg", sub_msg, &mut out);
    }
    write_xml_leaf("request_id", request_id, &mut out);
    close_tag(ERROR_ROOT, &mut out);
    out
}
