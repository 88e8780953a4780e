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
    out.reserve(s.len() + 2);
    out.push('"');
    // Runs of bytes that need no escape are copied whole; a table finds the next candidate.
    let bytes = s.as_bytes();
    let mut run = 0;
    let mut i = 0;
    while let Some(offset) = bytes[i..]
        .iter()
        .position(|&b| JSON_SPECIAL[usize::from(b)])
    {
        i += offset;
        let b = bytes[i];
        let (escape, width): (Option<&str>, usize) = match b {
            b'"' => (Some("\\\""), 1),
            b'\\' => (Some("\\\\"), 1),
            b'\n' => (Some("\\n"), 1),
            b'\r' => (Some("\\r"), 1),
            b'\t' => (Some("\\t"), 1),
            0..=0x1f => (None, 1),
            // U+2028 and U+2029 (E2 80 A8/A9) end lines in JavaScript; other E2 sequences pass.
            _ if bytes.get(i + 1) == Some(&0x80)
                && matches!(bytes.get(i + 2), Some(0xa8 | 0xa9)) =>
            {
                (None, 3)
            }
            _ => {
                i += 1;
                continue;
            }
        };
        out.push_str(&s[run..i]);
        match escape {
            Some(e) => out.push_str(e),
            None => {
                let code = s[i..].chars().next().map_or(0, u32::from);
                push_unicode_escape(code, out);
            }
        }
        i += width;
        run = i;
    }
    out.push_str(&s[run..]);
    out.push('"');
}

/// Bytes that may start something [`write_json_string`] escapes: `"`, `\`, controls, and the
/// lead byte of U+2028/U+2029.
const JSON_SPECIAL: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        t[b] = true;
        b += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t[0xe2] = true;
    t
};

/// `\uXXXX` with lower-case hex.
fn push_unicode_escape(code: u32, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push_str("\\u");
    for shift in [12, 8, 4, 0] {
        out.push(char::from(HEX[((code >> shift) & 0xf) as usize]));
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Strings that put every escape at the start, middle and end of a text, next to multi-byte
    /// characters and near-misses of the U+2028/2029 byte patterns.
    pub(crate) fn tricky_texts() -> Vec<String> {
        let pieces = [
            "", "a", "中", "𝄞", "\"", "\\", "\n", "\r", "\t", "\u{1}", "\u{1f}", "\u{7f}",
            "\u{2028}", "\u{2029}", "\u{2027}", "\u{202a}", "\u{20ac}", "&", "<", ">", "'",
            "\u{fffe}", "\u{ffff}", "\u{fffd}", "\u{e000}",
        ];
        let mut out = Vec::new();
        for a in pieces {
            for b in pieces {
                out.push(format!("{a}{b}"));
                out.push(format!("x{a}y{b}z"));
            }
        }
        out
    }

    fn reference_json_string(s: &str) -> String {
        let mut out = String::from("\"");
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
        out
    }

    #[test]
    fn json_strings_escape_exactly_what_json_and_javascript_need() {
        for text in tricky_texts() {
            let mut out = String::new();
            write_json_string(&text, &mut out);
            assert_eq!(out, reference_json_string(&text), "{text:?}");
            let back: String = serde_json::from_str(&out).unwrap();
            assert_eq!(back, text);
        }
    }

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
