//! Client-side reading of TOP answers (`docs/protocol/top.md` §6, §8).
//!
//! Both parsers return the business object in one normalized shape: the `<root>_response` level
//! and `request_id` removed, every list a JSON array (JSON wrappers `{"<item>":[…]}` unwrapped,
//! XML list elements collected). JSON keeps its scalar types; XML gives every leaf as a string.
//! The typed layer on top converts leniently, as the official SDKs do.
//!
//! Shapes that cannot be decided without the method's schema are left for that layer:
//! - an empty JSON list arrives as `{}` (real TOP writes it so) and stays `{}`;
//! - an XML list without `list="true"` holding a single item is indistinguishable from an object
//!   with one field, and stays `{"<item>":{…}}`.

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;
use serde_json::{Map, Value};

use super::envelope::{response_root, ERROR_ROOT};
use super::request::TopError;

/// Deepest nesting accepted, counting the root object or element as 1. Real answers stay below
/// 10; the bound keeps hostile bodies from costing stack or time.
pub const MAX_DEPTH: usize = 32;

/// Why an answer could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopParseError {
    /// The gateway answered with an `error_response`.
    #[error("{error} (request_id {request_id:?})")]
    Gateway {
        /// The decoded error.
        error: TopError,
        /// Its `request_id`, when present.
        request_id: Option<String>,
    },
    /// The body is not JSON.
    #[error("malformed JSON: {0}")]
    Json(String),
    /// The body is not well-formed XML, or uses XML features TOP never sends.
    #[error("malformed XML: {0}")]
    Xml(String),
    /// The root is not an object, or (non-simplified JSON) has other than exactly one key.
    #[error("the response root is not a single-key object")]
    RootShape,
    /// The root key or element is not the method's `<name>_response`.
    #[error("unexpected response root {found:?}, expected {expected:?}")]
    UnexpectedRoot {
        /// `response_root(method)`.
        expected: String,
        /// What the body had.
        found: String,
    },
    /// Nesting deeper than [`MAX_DEPTH`].
    #[error("response nested deeper than {MAX_DEPTH} levels")]
    TooDeep,
    /// An `error_response` without a usable integer `code`.
    #[error("malformed error_response")]
    MalformedError,
}

/// Reads a JSON answer of `method`; `simplify` says whether the request asked for
/// `simplify=true`.
///
/// Non-simplified: the root must be exactly `{"<response_root(method)>":{…}}` (the Java and .NET
/// SDKs take the first root key, PHP the last, Node the named one: a conforming body satisfies
/// all). Inside, an object with exactly one key whose value is an array is a list wrapper and is
/// replaced by the array; bare arrays never occur in this style, so the rule is unambiguous.
///
/// Simplified: the root object is the business object; nothing is unwrapped.
///
/// # Errors
///
/// [`TopParseError::Gateway`] for an `error_response` (in both styles); the other variants when
/// the body is not JSON, nests deeper than [`MAX_DEPTH`], or does not have the expected root.
pub fn parse_json_response(
    body: &str,
    method: &str,
    simplify: bool,
) -> Result<Value, TopParseError> {
    let body = body.strip_prefix('\u{FEFF}').unwrap_or(body);
    let value: Value =
        serde_json::from_str(body).map_err(|e| TopParseError::Json(e.to_string()))?;
    if json_depth_exceeds(&value, 1) {
        return Err(TopParseError::TooDeep);
    }
    let Value::Object(mut root) = value else {
        return Err(TopParseError::RootShape);
    };
    if let Some(err) = root.get(ERROR_ROOT) {
        if !simplify && root.len() != 1 {
            return Err(TopParseError::RootShape);
        }
        return Err(gateway_error_from_json(err));
    }
    if simplify {
        root.remove("request_id");
        return Ok(Value::Object(root));
    }
    if root.len() != 1 {
        return Err(TopParseError::RootShape);
    }
    let expected = response_root(method);
    let Some((found, inner)) = root.into_iter().next() else {
        return Err(TopParseError::RootShape);
    };
    if found != expected {
        return Err(TopParseError::UnexpectedRoot { expected, found });
    }
    let Value::Object(mut fields) = inner else {
        return Err(TopParseError::RootShape);
    };
    fields.remove("request_id");
    let fields = fields
        .into_iter()
        .map(|(k, v)| (k, unwrap_lists(v)))
        .collect();
    Ok(Value::Object(fields))
}

/// True when `value`, standing at nesting level `level`, reaches deeper than [`MAX_DEPTH`].
/// `serde_json` already stops at 128 levels, so this recursion is bounded.
fn json_depth_exceeds(value: &Value, level: usize) -> bool {
    match value {
        Value::Object(map) => {
            level > MAX_DEPTH || map.values().any(|v| json_depth_exceeds(v, level + 1))
        }
        Value::Array(items) => {
            level > MAX_DEPTH || items.iter().any(|v| json_depth_exceeds(v, level + 1))
        }
        _ => false,
    }
}

fn unwrap_lists(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            if map.len() == 1 && map.values().all(Value::is_array) {
                if let Some((_, Value::Array(items))) = map.into_iter().next() {
                    return Value::Array(items.into_iter().map(unwrap_lists).collect());
                }
                return Value::Array(Vec::new());
            }
            Value::Object(map.into_iter().map(|(k, v)| (k, unwrap_lists(v))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(unwrap_lists).collect()),
        other => other,
    }
}

fn json_text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn gateway_error_from_json(err: &Value) -> TopParseError {
    let Value::Object(fields) = err else {
        return TopParseError::MalformedError;
    };
    let code = match fields.get("code") {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.trim().parse::<i64>().ok(),
        _ => None,
    };
    let Some(code) = code else {
        return TopParseError::MalformedError;
    };
    TopParseError::Gateway {
        error: TopError {
            code,
            msg: json_text(fields.get("msg")).unwrap_or_default(),
            sub_code: json_text(fields.get("sub_code")),
            sub_msg: json_text(fields.get("sub_msg")),
        },
        request_id: json_text(fields.get("request_id")),
    }
}

/// One open element while reading XML.
struct Frame {
    name: String,
    is_list: bool,
    children: Vec<(String, Value)>,
    text: String,
}

impl Frame {
    fn open(start: &BytesStart<'_>) -> Result<Frame, TopParseError> {
        let name = std::str::from_utf8(start.name().as_ref())
            .map_err(|e| TopParseError::Xml(e.to_string()))?
            .to_owned();
        let mut is_list = false;
        for attr in start.attributes() {
            let attr = attr.map_err(|e| TopParseError::Xml(e.to_string()))?;
            if attr.key.as_ref() == b"list" {
                let value = attr
                    .unescape_value()
                    .map_err(|e| TopParseError::Xml(e.to_string()))?;
                is_list = value.as_ref() == "true";
            }
        }
        Ok(Frame {
            name,
            is_list,
            children: Vec::new(),
            text: String::new(),
        })
    }

    fn has_text(&self) -> bool {
        !self.text.trim().is_empty()
    }

    /// The element's value: an array for a list (by attribute, or two or more children all of
    /// one name), an object for distinct children, else its text verbatim.
    fn into_value(self) -> Result<Value, TopParseError> {
        if !self.children.is_empty() && self.has_text() {
            return Err(mixed_content(&self.name));
        }
        if self.is_list {
            if self.has_text() {
                return Err(mixed_content(&self.name));
            }
            return Ok(Value::Array(
                self.children.into_iter().map(|(_, v)| v).collect(),
            ));
        }
        if self.children.is_empty() {
            return Ok(Value::String(self.text));
        }
        let repeated = match self.children.split_first() {
            Some(((first, _), rest)) => !rest.is_empty() && rest.iter().all(|(n, _)| n == first),
            None => false,
        };
        if repeated {
            return Ok(Value::Array(
                self.children.into_iter().map(|(_, v)| v).collect(),
            ));
        }
        children_object(&self.name, self.children)
    }
}

fn mixed_content(name: &str) -> TopParseError {
    TopParseError::Xml(format!("<{name}> mixes text and elements"))
}

fn children_object(name: &str, children: Vec<(String, Value)>) -> Result<Value, TopParseError> {
    let mut map = Map::new();
    for (key, value) in children {
        if map.contains_key(&key) {
            return Err(TopParseError::Xml(format!(
                "<{name}> repeats <{key}> among other elements"
            )));
        }
        map.insert(key, value);
    }
    Ok(Value::Object(map))
}

/// Reads an XML answer of `method` into the same normalized shape as [`parse_json_response`],
/// with every leaf a string.
///
/// The root element must be `<response_root(method)>` or `error_response`. Declarations,
/// comments (real TOP appends `<!--host-->` after the root) and processing instructions are
/// skipped; a DOCTYPE, text outside the root, text mixed with elements, or a repeated child among
/// differently named siblings is rejected, as is nesting deeper than [`MAX_DEPTH`].
///
/// # Errors
///
/// [`TopParseError::Gateway`] for an `error_response` root; the other variants for the
/// rejections above.
pub fn parse_xml_response(body: &str, method: &str) -> Result<Value, TopParseError> {
    let body = body.strip_prefix('\u{FEFF}').unwrap_or(body);
    let (name, root) = read_xml_tree(body)?;
    if name == ERROR_ROOT {
        return Err(gateway_error_from_xml(&root));
    }
    let expected = response_root(method);
    if name != expected {
        return Err(TopParseError::UnexpectedRoot {
            expected,
            found: name,
        });
    }
    let mut fields = root;
    fields.retain(|(k, _)| k != "request_id");
    children_object(&name, fields)
}

/// Reads the document into the root element's name and its children's `(name, value)` pairs.
fn read_xml_tree(body: &str) -> Result<(String, Vec<(String, Value)>), TopParseError> {
    let xml_err = |e: quick_xml::Error| TopParseError::Xml(e.to_string());
    let mut reader = Reader::from_str(body);
    reader.config_mut().trim_text(false);
    let mut stack: Vec<Frame> = Vec::new();
    let mut root: Option<(String, Vec<(String, Value)>)> = None;
    loop {
        let event = reader.read_event().map_err(xml_err)?;
        match event {
            Event::Start(start) => {
                open_element(&stack, root.as_ref())?;
                stack.push(Frame::open(&start)?);
            }
            Event::Empty(start) => {
                open_element(&stack, root.as_ref())?;
                let frame = Frame::open(&start)?;
                close_element(frame, &mut stack, &mut root)?;
            }
            Event::End(_) => {
                // quick-xml has already checked that the end tag matches the open one.
                let frame = stack
                    .pop()
                    .ok_or_else(|| TopParseError::Xml("unmatched end tag".into()))?;
                close_element(frame, &mut stack, &mut root)?;
            }
            Event::Text(text) => {
                let text = text.unescape().map_err(xml_err)?;
                push_text(&mut stack, &text)?;
            }
            Event::CData(data) => {
                let data = data
                    .decode()
                    .map_err(|e| TopParseError::Xml(e.to_string()))?;
                push_text(&mut stack, &data)?;
            }
            Event::DocType(_) => {
                return Err(TopParseError::Xml("DOCTYPE is not allowed".into()));
            }
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(TopParseError::Xml("truncated document".into()));
    }
    root.ok_or_else(|| TopParseError::Xml("no root element".into()))
}

fn open_element(
    stack: &[Frame],
    root: Option<&(String, Vec<(String, Value)>)>,
) -> Result<(), TopParseError> {
    if stack.is_empty() && root.is_some() {
        return Err(TopParseError::Xml("content after the root element".into()));
    }
    if stack.len() >= MAX_DEPTH {
        return Err(TopParseError::TooDeep);
    }
    Ok(())
}

fn close_element(
    frame: Frame,
    stack: &mut [Frame],
    root: &mut Option<(String, Vec<(String, Value)>)>,
) -> Result<(), TopParseError> {
    match stack.last_mut() {
        Some(parent) => {
            let name = frame.name.clone();
            let value = frame.into_value()?;
            parent.children.push((name, value));
        }
        None => {
            if frame.has_text() {
                return Err(mixed_content(&frame.name));
            }
            *root = Some((frame.name, frame.children));
        }
    }
    Ok(())
}

fn push_text(stack: &mut [Frame], text: &str) -> Result<(), TopParseError> {
    match stack.last_mut() {
        Some(frame) => frame.text.push_str(text),
        None if text.trim().is_empty() => {}
        None => return Err(TopParseError::Xml("text outside the root element".into())),
    }
    Ok(())
}

fn gateway_error_from_xml(children: &[(String, Value)]) -> TopParseError {
    let field = |name: &str| {
        children.iter().find_map(|(k, v)| match v {
            Value::String(s) if k == name => Some(s.clone()),
            _ => None,
        })
    };
    let Some(code) = field("code").and_then(|c| c.trim().parse::<i64>().ok()) else {
        return TopParseError::MalformedError;
    };
    TopParseError::Gateway {
        error: TopError {
            code,
            msg: field("msg").unwrap_or_default(),
            sub_code: field("sub_code"),
            sub_msg: field("sub_msg"),
        },
        request_id: field("request_id"),
    }
}
