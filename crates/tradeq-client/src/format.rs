//! Display helpers: indenting a verified answer without re-serializing it, so key order and the
//! exact text of every value (`25.00`, raw Chinese) stay as the platform sent them.

/// Indents JSON text (two spaces), keeping every token's text.
///
/// # Errors
///
/// The parser's message when `text` is not well-formed JSON.
pub fn pretty_json(text: &str) -> Result<String, String> {
    serde_json::from_str::<serde::de::IgnoredAny>(text).map_err(|e| e.to_string())?;
    let mut out = String::with_capacity(text.len() * 2);
    let mut indent = 0usize;
    let mut chars = text.trim().chars().peekable();
    let newline = |out: &mut String, indent: usize| {
        out.push('\n');
        for _ in 0..indent {
            out.push_str("  ");
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                out.push('"');
                let mut escaped = false;
                for s in chars.by_ref() {
                    out.push(s);
                    if escaped {
                        escaped = false;
                    } else if s == '\\' {
                        escaped = true;
                    } else if s == '"' {
                        break;
                    }
                }
            }
            '{' | '[' => {
                while chars.peek().is_some_and(|c| c.is_whitespace()) {
                    chars.next();
                }
                let close = if c == '{' { '}' } else { ']' };
                if chars.peek() == Some(&close) {
                    chars.next();
                    out.push(c);
                    out.push(close);
                } else {
                    out.push(c);
                    indent += 1;
                    newline(&mut out, indent);
                }
            }
            '}' | ']' => {
                indent = indent.saturating_sub(1);
                newline(&mut out, indent);
                out.push(c);
            }
            ',' => {
                out.push(',');
                newline(&mut out, indent);
            }
            ':' => out.push_str(": "),
            c if c.is_whitespace() => {}
            c => out.push(c),
        }
    }
    Ok(out)
}

/// Indents the simple XML of TOP answers (elements with text or child elements, a declaration,
/// comments) two spaces per level; an element holding only text stays on one line. Text and
/// attributes are copied verbatim.
pub fn pretty_xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    let mut depth = 0usize;
    let mut rest = text.trim();
    let mut line_open = false;
    let pad = |out: &mut String, depth: usize| {
        if !out.is_empty() {
            out.push('\n');
        }
        for _ in 0..depth {
            out.push_str("  ");
        }
    };
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('<') {
            let end = if after.starts_with("!--") {
                rest.find("-->").map(|i| i + 3)
            } else {
                rest.find('>').map(|i| i + 1)
            };
            let Some(end) = end else {
                out.push_str(rest);
                break;
            };
            let tag = &rest[..end];
            rest = &rest[end..];
            if tag.starts_with("</") {
                depth = depth.saturating_sub(1);
                if !line_open {
                    pad(&mut out, depth);
                }
                out.push_str(tag);
                line_open = false;
            } else if tag.starts_with("<?") || tag.starts_with("<!") || tag.ends_with("/>") {
                pad(&mut out, depth);
                out.push_str(tag);
                line_open = false;
            } else {
                pad(&mut out, depth);
                out.push_str(tag);
                depth += 1;
                // Text directly followed by the closing tag stays on this line.
                let text_end = rest.find('<').unwrap_or(rest.len());
                let inner = &rest[..text_end];
                if rest[text_end..].starts_with("</") && !inner.trim().is_empty() {
                    out.push_str(inner);
                    rest = &rest[text_end..];
                    line_open = true;
                } else if rest[text_end..].starts_with("</") && inner.is_empty() {
                    line_open = true;
                } else {
                    rest = rest[text_end..].trim_start();
                    line_open = false;
                }
            }
        } else {
            let text_end = rest.find('<').unwrap_or(rest.len());
            let t = rest[..text_end].trim();
            if !t.is_empty() {
                pad(&mut out, depth);
                out.push_str(t);
            }
            rest = &rest[text_end..];
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_keeps_order_and_literals() {
        let p = pretty_json(r#"{"b":25.00,"a":"x, {y}: \"z\"","l":[],"o":{},"n":[1,{"k":null}]}"#)
            .unwrap();
        assert_eq!(
            p,
            "{\n  \"b\": 25.00,\n  \"a\": \"x, {y}: \\\"z\\\"\",\n  \"l\": [],\n  \"o\": {},\n  \"n\": [\n    1,\n    {\n      \"k\": null\n    }\n  ]\n}"
        );
        let back: serde_json::Value = serde_json::from_str(&p).unwrap();
        assert_eq!(back["n"][1]["k"], serde_json::Value::Null);
        assert!(pretty_json("{").is_err());
    }

    #[test]
    fn xml_indents() {
        let x = r#"<?xml version="1.0" encoding="utf-8" ?><r><a>1</a><l list="true"><i><b>x &amp; y</b></i></l><e></e><request_id>q</request_id></r><!--host-->"#;
        assert_eq!(
            pretty_xml(x),
            "<?xml version=\"1.0\" encoding=\"utf-8\" ?>\n<r>\n  <a>1</a>\n  <l list=\"true\">\n    <i>\n      <b>x &amp; y</b>\n    </i>\n  </l>\n  <e></e>\n  <request_id>q</request_id>\n</r>\n<!--host-->"
        );
    }
}
