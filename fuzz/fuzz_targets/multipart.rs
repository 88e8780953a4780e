//! `multipart/form-data`: `multipart_boundary` on the Content-Type line and `parse_multipart` on
//! the body, in both charsets, then `ParamSet::from_pairs` over the text parts as the front doors
//! build it.
//!
//! Input layout: `<Content-Type>\n<body…>`. When the first line yields no boundary, the body is
//! still parsed with the boundary `B`, so bodies get exercised whatever the header says.
//!
//! Invariants: the boundary is bounded and comes from the header; parts are never more than the
//! delimiters in the body; file contents are slices of the body, text contents no longer than
//! it; every accepted body re-encodes (fresh boundary, UTF-8 text) to one that parses back to the
//! same parts; a `ParamSet` built from the text parts has unique, non-empty, bounded names.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tradeq_wire::params::{
    multipart_boundary, parse_multipart, Charset, Limits, ParamSet, Part, PartValue,
};

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

/// A quoted-string for a header parameter.
fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// The parts written out again as a body with `boundary`, text parts in UTF-8.
fn encode(parts: &[Part], boundary: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for part in parts {
        out.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        let name = quoted(&part.name);
        match &part.value {
            PartValue::Text(text) => {
                out.extend_from_slice(
                    format!("Content-Disposition: form-data; name={name}\r\n").as_bytes(),
                );
                out.extend_from_slice(b"Content-Type: text/plain; charset=utf-8\r\n\r\n");
                out.extend_from_slice(text.as_bytes());
            }
            PartValue::File {
                filename,
                content_type,
                bytes,
            } => {
                out.extend_from_slice(
                    format!(
                        "Content-Disposition: form-data; name={name}; filename={}\r\n",
                        quoted(filename)
                    )
                    .as_bytes(),
                );
                if let Some(ct) = content_type {
                    out.extend_from_slice(format!("Content-Type: {ct}\r\n").as_bytes());
                }
                out.extend_from_slice(b"\r\n");
                out.extend_from_slice(bytes);
            }
        }
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    out
}

/// A boundary that occurs nowhere in the parts, so it cannot cut one of them short.
fn fresh_boundary(parts: &[Part]) -> String {
    let texts: Vec<&[u8]> = parts
        .iter()
        .flat_map(|p| {
            let content: &[u8] = match &p.value {
                PartValue::Text(t) => t.as_bytes(),
                PartValue::File { bytes, .. } => bytes,
            };
            let (filename, content_type) = match &p.value {
                PartValue::File {
                    filename,
                    content_type,
                    ..
                } => (
                    filename.as_bytes(),
                    content_type.as_deref().unwrap_or("").as_bytes(),
                ),
                PartValue::Text(_) => (&b""[..], &b""[..]),
            };
            [p.name.as_bytes(), content, filename, content_type]
        })
        .collect();
    (0u32..)
        .map(|n| format!("tradeq-fuzz-{n}"))
        .find(|b| texts.iter().all(|t| !contains(t, b.as_bytes())))
        .unwrap_or_default()
}

fn check(boundary: &str, body: &[u8]) {
    for charset in [Charset::Utf8, Charset::Gbk] {
        let parts = match parse_multipart(body, boundary, charset) {
            Ok(parts) => parts,
            Err(e) => {
                let _ = e.to_string();
                continue;
            }
        };
        // Each part starts at its own `--boundary` line.
        let delimiter = format!("--{boundary}");
        let delimiters = body
            .windows(delimiter.len())
            .filter(|w| *w == delimiter.as_bytes())
            .count();
        assert!(parts.len() < delimiters.max(1), "{} parts", parts.len());

        let declares_charset = contains(&body.to_ascii_lowercase(), b"charset");
        let mut total = 0usize;
        for part in &parts {
            assert!(part.name.len() <= body.len());
            match &part.value {
                PartValue::Text(text) => {
                    // GBK takes at least one byte per character, UTF-8 is copied as it is.
                    assert!(text.chars().count() <= body.len());
                    total += text.chars().count();
                    // Copied bytes, unless a part's own Content-Type named a charset.
                    if charset == Charset::Utf8 && !declares_charset {
                        assert!(text.is_empty() || contains(body, text.as_bytes()));
                    }
                }
                PartValue::File {
                    filename, bytes, ..
                } => {
                    assert!(filename.len() <= body.len());
                    assert!(contains(body, bytes), "file bytes not from the body");
                    total += bytes.len();
                }
            }
        }
        assert!(total <= body.len());

        // Re-encoded, the parts parse back exactly.
        let fresh = fresh_boundary(&parts);
        let encoded = encode(&parts, &fresh);
        match parse_multipart(&encoded, &fresh, Charset::Utf8) {
            Ok(again) => assert_eq!(again, parts, "re-encoded body: {:?}", {
                String::from_utf8_lossy(&encoded)
            }),
            Err(e) => panic!(
                "re-encoded parts are refused: {e}\n{:?}",
                String::from_utf8_lossy(&encoded)
            ),
        }

        // The front doors' parameter set over the text parts.
        let pairs: Vec<(String, String)> = parts
            .into_iter()
            .filter_map(|p| match p.value {
                PartValue::Text(v) => Some((p.name, v)),
                PartValue::File { .. } => None,
            })
            .collect();
        let limits = Limits::default();
        if let Ok(set) = ParamSet::from_pairs(pairs.clone(), &limits) {
            assert!(set.len() <= limits.max_params);
            let names: Vec<&str> = set.iter().map(|(k, _)| k).collect();
            for (i, k) in names.iter().enumerate() {
                assert!(!k.is_empty() && k.len() <= limits.max_name_len);
                assert!(!names[..i].contains(k), "duplicate {k:?}");
            }
            assert_eq!(set.into_pairs(), pairs);
        } else {
            let mut names: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
            let n = names.len();
            names.sort_unstable();
            names.dedup();
            assert!(
                n > limits.max_params
                    || names.len() < n
                    || names
                        .iter()
                        .any(|k| k.is_empty() || k.len() > limits.max_name_len),
                "a valid parameter list was refused"
            );
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let (first, body) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let content_type = String::from_utf8_lossy(first);
    match multipart_boundary(&content_type) {
        Some(boundary) => {
            assert!(!boundary.is_empty() && boundary.len() <= 70);
            assert!(!boundary.chars().any(char::is_control));
            // Unquoted, the boundary is in the header as it is; quoted, every character of it
            // is (escapes only remove backslashes).
            assert!(
                content_type.contains(&boundary)
                    || boundary.chars().all(|c| content_type.contains(c))
            );
            check(&boundary, body);
        }
        None => check("B", body),
    }
    assert!(parse_multipart(body, "", Charset::Utf8).is_err());
});
