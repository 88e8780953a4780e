//! A protocol-neutral response document.
//!
//! A method builds its answer once as a [`Node`] tree; each front door renders the same tree in its
//! own style: the Alipay envelopes keep field order and write lists as bare arrays, TOP JSON sorts
//! keys and wraps lists as `{"<item>":[…]}`, TOP XML writes `<list><item>…</item></list>`.

/// One value of a response document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// A string value.
    Str(String),
    /// A JSON number literal kept as text, so `25.00` stays `25.00` (never `null`, never a float
    /// round-trip).
    Num(String),
    /// A boolean.
    Bool(bool),
    /// An object whose fields keep the order they were pushed in.
    Obj(Vec<(&'static str, Node)>),
    /// A list; `item` is the element name TOP uses to wrap it (`fund_bill`,
    /// `trade_fund_bill_d_t_o`, …).
    List {
        /// The element name of each item in TOP's list wrapper and XML.
        item: &'static str,
        /// The items, in order.
        items: Vec<Node>,
    },
}

impl Node {
    /// An empty object, to be filled with [`Node::push`] and friends.
    pub fn obj() -> Node {
        Node::Obj(Vec::new())
    }

    /// Appends a field to an object node; does nothing on other variants.
    pub fn push(&mut self, key: &'static str, value: Node) {
        if let Node::Obj(fields) = self {
            fields.push((key, value));
        }
    }

    /// Appends a string field.
    pub fn push_str(&mut self, key: &'static str, value: impl Into<String>) {
        self.push(key, Node::Str(value.into()));
    }

    /// Appends a string field only when a value is present: absent fields are omitted, never
    /// `null`.
    pub fn push_opt_str(&mut self, key: &'static str, value: Option<impl Into<String>>) {
        if let Some(v) = value {
            self.push_str(key, v);
        }
    }

    /// Appends an integer field.
    pub fn push_int(&mut self, key: &'static str, value: i64) {
        self.push(key, Node::Num(value.to_string()));
    }

    /// Appends an integer field only when present.
    pub fn push_opt_int(&mut self, key: &'static str, value: Option<i64>) {
        if let Some(v) = value {
            self.push_int(key, v);
        }
    }

    /// Looks a field up by name (first match) in an object node.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Node::Obj(fields) => fields.iter().find(|(k, _)| *k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Writes the node as compact JSON in field order, lists as bare arrays (the Alipay style).
    pub fn write_json_ordered(&self, out: &mut String) {
        match self {
            Node::Str(s) => write_json_string(s, out),
            Node::Num(n) => out.push_str(n),
            Node::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Node::Obj(fields) => {
                out.push('{');
                for (i, (k, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_json_string(k, out);
                    out.push(':');
                    v.write_json_ordered(out);
                }
                out.push('}');
            }
            Node::List { items, .. } => {
                out.push('[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    v.write_json_ordered(out);
                }
                out.push(']');
            }
        }
    }

    /// The node as compact JSON in field order (see [`Node::write_json_ordered`]).
    pub fn to_json_ordered(&self) -> String {
        let mut out = String::with_capacity(256);
        self.write_json_ordered(&mut out);
        out
    }
}

/// Writes `s` as a JSON string literal. Non-ASCII text stays raw UTF-8: the official TOP Java SDK
/// mis-decodes `\u` escapes with hex letters, and Alipay answers carry raw UTF-8 too.
pub fn write_json_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{2028}' || c == '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordered_json_keeps_field_order_and_bare_lists() {
        let mut n = Node::obj();
        n.push_str("z", "中文\"q\"");
        n.push("a", Node::Num("25.00".into()));
        n.push(
            "list",
            Node::List {
                item: "fund_bill",
                items: vec![Node::Bool(true)],
            },
        );
        assert_eq!(
            n.to_json_ordered(),
            r#"{"z":"中文\"q\"","a":25.00,"list":[true]}"#
        );
    }

    #[test]
    fn control_characters_are_escaped() {
        let mut s = String::new();
        write_json_string("a\u{1}b", &mut s);
        assert_eq!(s, "\"a\\u0001b\"");
    }
}
