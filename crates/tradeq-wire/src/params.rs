//! Request parameters: form decoding (`+` is a space) in the request's charset, multipart bodies.
//!
//! Every front door (Alipay v2, TOP) receives parameters in the URL query, an
//! `application/x-www-form-urlencoded` body or a `multipart/form-data` body, and signs over the
//! decoded text of all of them together. This module turns those bytes into one ordered
//! [`ParamSet`], refusing anything ambiguous (a name given twice) rather than guessing.

use std::borrow::Cow;

use thiserror::Error;

/// Longest parameter name kept verbatim in an error message; names are attacker-controlled and
/// can be megabytes long.
const ERR_NAME_MAX: usize = 64;

/// The character sets a request may declare (`charset=` parameter or Content-Type).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Charset {
    /// UTF-8, the default and what every current SDK sends.
    Utf8,
    /// GBK and its relatives (`gbk`, `gb2312`, `gb18030`), still configured by older merchants.
    Gbk,
}

impl Charset {
    /// Recognises a charset label, ASCII case-insensitively and ignoring surrounding blanks
    /// (`utf-8`, `utf8`, `gbk`, `gb2312`, `gb18030`).
    pub fn from_label(label: &str) -> Option<Charset> {
        let l = label.trim();
        if l.eq_ignore_ascii_case("utf-8") || l.eq_ignore_ascii_case("utf8") {
            Some(Charset::Utf8)
        } else if l.eq_ignore_ascii_case("gbk")
            || l.eq_ignore_ascii_case("gb2312")
            || l.eq_ignore_ascii_case("gb18030")
        {
            Some(Charset::Gbk)
        } else {
            None
        }
    }

    /// The label written back on the wire (`utf-8` or `gbk`), as in a Content-Type header.
    pub fn label(&self) -> &'static str {
        match self {
            Charset::Utf8 => "utf-8",
            Charset::Gbk => "gbk",
        }
    }

    /// Decodes bytes strictly: malformed input is an error, never U+FFFD, because a replaced
    /// character would silently change the string a signature is checked against.
    pub fn decode(&self, bytes: &[u8]) -> Result<String, ParamError> {
        self.decode_cow(bytes)
            .map(Cow::into_owned)
            .map_err(|offset| ParamError::BadEncoding {
                charset: self.label(),
                param: None,
                offset,
            })
    }

    /// Decodes without copying when possible; on failure returns the offset of the first bad
    /// byte.
    fn decode_cow<'a>(&self, bytes: &'a [u8]) -> Result<Cow<'a, str>, usize> {
        match self {
            Charset::Utf8 => std::str::from_utf8(bytes)
                .map(Cow::Borrowed)
                .map_err(|e| e.valid_up_to()),
            Charset::Gbk => {
                if bytes.is_ascii() {
                    // ASCII is a subset of GBK and valid UTF-8 already.
                    return std::str::from_utf8(bytes)
                        .map(Cow::Borrowed)
                        .map_err(|e| e.valid_up_to());
                }
                // The GB18030 decoder is a superset of GBK's, so `gb2312`/`gbk` texts decode too.
                let mut decoder = encoding_rs::GB18030.new_decoder_without_bom_handling();
                let cap = decoder
                    .max_utf8_buffer_length_without_replacement(bytes.len())
                    .ok_or(0usize)?;
                let mut out = String::with_capacity(cap);
                let (result, read) =
                    decoder.decode_to_string_without_replacement(bytes, &mut out, true);
                match result {
                    encoding_rs::DecoderResult::InputEmpty => Ok(Cow::Owned(out)),
                    encoding_rs::DecoderResult::Malformed(bad, extra) => {
                        Err(read.saturating_sub(bad as usize + extra as usize))
                    }
                    // The buffer was sized for the worst case, so this means a decoder bug; still
                    // an error, not a panic.
                    encoding_rs::DecoderResult::OutputFull => Err(read),
                }
            }
        }
    }

    /// Encodes text for a response body or a string-to-sign.
    ///
    /// GBK output uses the GBK encoder (what Java's and Python's `gbk` codecs produce, e.g. `€`
    /// as `0x80`); a character GBK cannot represent becomes a `&#NNNN;` reference, so the bytes
    /// stay decodable by every GBK client and the signature covers exactly what was sent.
    pub fn encode(&self, text: &str) -> Vec<u8> {
        match self {
            Charset::Utf8 => text.as_bytes().to_vec(),
            Charset::Gbk => {
                let (bytes, _, _) = encoding_rs::GBK.encode(text);
                bytes.into_owned()
            }
        }
    }
}

/// What is wrong with a request's parameters.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ParamError {
    /// A `%` not followed by two hex digits.
    #[error("bad percent escape at byte {offset}")]
    BadPercent {
        /// Byte offset of the `%` in the encoded input.
        offset: usize,
    },
    /// Bytes that are not valid in the declared charset.
    #[error("{} is not valid {charset} at byte {offset} of its decoded bytes", param.as_deref().map(|p| format!("parameter `{p}`")).unwrap_or_else(|| "text".to_string()))]
    BadEncoding {
        /// The charset label the bytes were decoded with.
        charset: &'static str,
        /// The parameter whose name or value failed, when known (possibly truncated).
        param: Option<String>,
        /// Offset of the first bad byte within the percent-decoded name or value.
        offset: usize,
    },
    /// A parameter name given more than once (in the URL and the body, or twice in one of them).
    #[error("parameter `{0}` is given more than once")]
    Duplicate(String),
    /// More parameters than the configured limit.
    #[error("too many parameters: {count} (at most {max})")]
    TooManyParams {
        /// How many were received.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A parameter name longer than the configured limit.
    #[error("parameter name `{name}…` is {len} bytes long (at most {max})")]
    NameTooLong {
        /// The start of the name.
        name: String,
        /// Its length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A parameter with an empty name (`=value`).
    #[error("a parameter has an empty name")]
    EmptyName,
    /// A multipart body that does not follow RFC 7578.
    #[error("malformed multipart body at byte {offset}: {reason}")]
    Multipart {
        /// Byte offset in the body where the problem was found.
        offset: usize,
        /// What was expected.
        reason: &'static str,
    },
}

/// Bounds on a parameter set, so a hostile request cannot make the server do unbounded work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Most parameters accepted in one request (URL, body and multipart text parts together).
    pub max_params: usize,
    /// Longest parameter name accepted, in bytes.
    pub max_name_len: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_params: 128,
            max_name_len: 128,
        }
    }
}

/// An ordered set of decoded text parameters in which every name occurs once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParamSet {
    pairs: Vec<(String, String)>,
}

impl ParamSet {
    /// Builds a set from decoded pairs (typically URL query pairs followed by body pairs).
    ///
    /// A name given twice is refused rather than resolved: a gateway that let the body override
    /// the URL (or the reverse) would verify one value and act on another.
    pub fn from_pairs(
        pairs: Vec<(String, String)>,
        limits: &Limits,
    ) -> Result<ParamSet, ParamError> {
        if pairs.len() > limits.max_params {
            return Err(ParamError::TooManyParams {
                count: pairs.len(),
                max: limits.max_params,
            });
        }
        // Requests carry a dozen parameters or so: comparing each name with the earlier ones
        // beats hashing them all, and the set takes over for long lists.
        let mut seen: std::collections::HashSet<&str> = std::collections::HashSet::new();
        for (i, (name, _)) in pairs.iter().enumerate() {
            if name.is_empty() {
                return Err(ParamError::EmptyName);
            }
            if name.len() > limits.max_name_len {
                return Err(ParamError::NameTooLong {
                    name: truncate_for_error(name),
                    len: name.len(),
                    max: limits.max_name_len,
                });
            }
            let repeated = if pairs.len() <= 32 {
                pairs[..i].iter().any(|(earlier, _)| earlier == name)
            } else {
                !seen.insert(name.as_str())
            };
            if repeated {
                return Err(ParamError::Duplicate(truncate_for_error(name)));
            }
        }
        Ok(ParamSet { pairs })
    }

    /// The value of a parameter, if present (possibly empty).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// All parameters in arrival order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> + Clone + '_ {
        self.pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Number of parameters.
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// The pairs, consuming the set.
    pub fn into_pairs(self) -> Vec<(String, String)> {
        self.pairs
    }
}

/// Cuts a name to a bounded, char-aligned prefix for an error message.
fn truncate_for_error(name: &str) -> String {
    if name.len() <= ERR_NAME_MAX {
        return name.to_string();
    }
    let mut end = ERR_NAME_MAX;
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    name[..end].to_string()
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Splits a form body or query string into `(offset, segment)` pairs, skipping empty segments.
fn form_segments(input: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    let mut offset = 0usize;
    input.split(|&b| b == b'&').filter_map(move |seg| {
        let start = offset;
        offset += seg.len() + 1;
        if seg.is_empty() {
            None
        } else {
            Some((start, seg))
        }
    })
}

fn split_pair(seg: &[u8]) -> (&[u8], Option<&[u8]>) {
    match seg.iter().position(|&b| b == b'=') {
        Some(eq) => (&seg[..eq], Some(&seg[eq + 1..])),
        None => (seg, None),
    }
}

/// Decodes an `application/x-www-form-urlencoded` query string or body.
///
/// `+` is a space and `%XX` a byte, and only then are the bytes decoded in `charset`: SDKs
/// percent-encode the charset's bytes, so decoding `%XX` as UTF-8 would break every GBK request.
/// Empty segments (`a=1&&b=2`) are skipped; a name without `=` has the value `""`.
pub fn parse_form(input: &[u8], charset: Charset) -> Result<Vec<(String, String)>, ParamError> {
    let mut out = Vec::with_capacity(16);
    for (start, seg) in form_segments(input) {
        let (raw_name, raw_value) = split_pair(seg);
        let name = decode_component(raw_name, start, charset, None)?;
        let value = match raw_value {
            Some(v) => decode_component(v, start + raw_name.len() + 1, charset, Some(&name))?,
            None => String::new(),
        };
        out.push((name, value));
    }
    Ok(out)
}

/// Percent-decodes one form component straight into the buffer that becomes its `String`, then
/// decodes that in `charset`. `base` is the component's offset in the whole input, so errors point
/// at the right byte; `param` names the parameter a value belongs to.
fn decode_component(
    raw: &[u8],
    base: usize,
    charset: Charset,
    param: Option<&str>,
) -> Result<String, ParamError> {
    let mut bytes = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let run = raw[i..]
            .iter()
            .position(|&b| b == b'%' || b == b'+')
            .unwrap_or(raw.len() - i);
        bytes.extend_from_slice(&raw[i..i + run]);
        i += run;
        match raw.get(i) {
            Some(b'+') => {
                bytes.push(b' ');
                i += 1;
            }
            Some(_) => {
                let hi = raw.get(i + 1).copied().and_then(hex_val);
                let lo = raw.get(i + 2).copied().and_then(hex_val);
                match (hi, lo) {
                    (Some(h), Some(l)) => bytes.push(h << 4 | l),
                    _ => return Err(ParamError::BadPercent { offset: base + i }),
                }
                i += 3;
            }
            None => {}
        }
    }
    let bad_encoding = |bytes: &[u8], offset: usize| ParamError::BadEncoding {
        charset: charset.label(),
        param: Some(truncate_for_error(&param.map_or_else(
            || String::from_utf8_lossy(bytes).into_owned(),
            str::to_owned,
        ))),
        offset,
    };
    match charset {
        Charset::Utf8 => String::from_utf8(bytes).map_err(|e| {
            let offset = e.utf8_error().valid_up_to();
            bad_encoding(e.as_bytes(), offset)
        }),
        Charset::Gbk => match charset.decode_cow(&bytes) {
            Ok(text) => Ok(text.into_owned()),
            Err(offset) => Err(bad_encoding(&bytes, offset)),
        },
    }
}

/// Encodes `(name, value)` pairs as an `application/x-www-form-urlencoded` string, the inverse of
/// [`parse_form`]: each name and value is encoded in `charset`, every byte except ASCII letters,
/// digits and `-_.~` becomes `%XX` (upper-case hex), and a space becomes `+` — what the official
/// SDKs send (Python `quote_plus`, Java `URLEncoder`). Pairs keep their order.
///
/// Used for a client's URL query and form body; the result is plain ASCII.
pub fn encode_form<'a>(
    pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    charset: Charset,
) -> String {
    let mut out = String::new();
    for (i, (name, value)) in pairs.into_iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        form_escape_into(&charset.encode(name), &mut out);
        out.push('=');
        form_escape_into(&charset.encode(value), &mut out);
    }
    out
}

/// One value form-encoded as [`encode_form`] writes it (`%XX` bytes in `charset`, `+` for a
/// space): how a client that signs encoded values wrote it.
pub fn form_escape(value: &str, charset: Charset) -> String {
    let mut out = String::with_capacity(value.len() * 3);
    form_escape_into(&charset.encode(value), &mut out);
    out
}

fn form_escape_into(bytes: &[u8], out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in bytes {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => {
                out.push('%');
                out.push(HEX[usize::from(b >> 4)] as char);
                out.push(HEX[usize::from(b & 0x0f)] as char);
            }
        }
    }
}

/// Finds the raw (still percent-encoded) value of the first parameter whose raw name is exactly
/// `name`, without decoding anything else.
///
/// Used to read `charset` before the rest of the request can be decoded in it. A name written
/// with percent escapes (`%63harset`) is not recognised, which is what the gateways do too.
pub fn raw_form_value<'a>(input: &'a [u8], name: &str) -> Option<&'a [u8]> {
    form_segments(input).find_map(|(_, seg)| {
        let (k, v) = split_pair(seg);
        if k == name.as_bytes() {
            Some(v.unwrap_or(&[]))
        } else {
            None
        }
    })
}

/// One part of a `multipart/form-data` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// The `name` of its Content-Disposition.
    pub name: String,
    /// Its content.
    pub value: PartValue,
}

/// The content of a multipart part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartValue {
    /// An ordinary field, decoded as text.
    Text(String),
    /// A file (its Content-Disposition carries `filename`); files are never signed.
    File {
        /// The file name as sent.
        filename: String,
        /// The part's Content-Type, if any.
        content_type: Option<String>,
        /// The raw bytes.
        bytes: Vec<u8>,
    },
}

/// Splits a header-parameter list (`; a=b; c="d;e"`) on semicolons outside quotes, yielding
/// trimmed `(name, value)` pairs with quoted values unescaped. Items without `=` are skipped.
fn header_params(s: &str) -> Vec<(String, String)> {
    let mut items = Vec::new();
    let mut current = String::new();
    let mut in_quotes = false;
    let mut escaped = false;
    for c in s.chars() {
        if in_quotes {
            current.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_quotes = false;
            }
        } else if c == ';' {
            items.push(std::mem::take(&mut current));
        } else {
            if c == '"' {
                in_quotes = true;
            }
            current.push(c);
        }
    }
    items.push(current);
    items
        .into_iter()
        .filter_map(|item| {
            let (k, v) = item.split_once('=')?;
            Some((k.trim().to_ascii_lowercase(), unquote(v.trim())))
        })
        .collect()
}

/// Removes surrounding quotes and backslash escapes from a quoted-string; other values are
/// returned as they are.
fn unquote(v: &str) -> String {
    let Some(inner) = v.strip_prefix('"') else {
        return v.to_string();
    };
    let inner = inner.strip_suffix('"').unwrap_or(inner);
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The boundary of a multipart Content-Type, e.g. `multipart/form-data; charset=UTF-8;
/// boundary="abc"` → `abc`.
///
/// Also accepted: `application/x-www-form-urlencoded; boundary=…`, which is what the Node TOP
/// SDK's `network.js` sends for a multipart body when a Content-Type header was preset (it keeps
/// the preset type and appends the boundary). Returns `None` for other types, and for a missing,
/// empty or over-long (> 70 characters, RFC 2046) boundary.
pub fn multipart_boundary(content_type: &str) -> Option<String> {
    let (media, rest) = match content_type.split_once(';') {
        Some((m, r)) => (m.trim(), r),
        None => (content_type.trim(), ""),
    };
    let is_multipart = media.eq_ignore_ascii_case("multipart/form-data");
    let is_node_quirk = media.eq_ignore_ascii_case("application/x-www-form-urlencoded");
    if !is_multipart && !is_node_quirk {
        return None;
    }
    let boundary = header_params(rest)
        .into_iter()
        .find(|(k, _)| k == "boundary")
        .map(|(_, v)| v)?;
    if boundary.is_empty() || boundary.len() > 70 || boundary.chars().any(|c| c.is_control()) {
        return None;
    }
    Some(boundary)
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || from > hay.len() {
        return None;
    }
    hay[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// Finds the next `\n--boundary` that really is a delimiter: followed by `--`, blanks or a line
/// break. A content line that merely starts with the boundary text (`--boundaryX`) is content.
fn find_delimiter(body: &[u8], line_delim: &[u8], mut from: usize) -> Option<usize> {
    loop {
        let at = find(body, line_delim, from)?;
        let after = at + line_delim.len();
        let closing = body.get(after..after + 2) == Some(b"--".as_slice());
        match body.get(after) {
            None | Some(b' ' | b'\t' | b'\r' | b'\n') => return Some(at),
            Some(_) if closing => return Some(at),
            Some(_) => from = at + 1,
        }
    }
}

/// Skips one line break (CRLF or a bare LF) at `pos`, returning the position after it.
fn skip_newline(body: &[u8], pos: usize) -> Option<usize> {
    match body.get(pos..) {
        Some([b'\r', b'\n', ..]) => Some(pos + 2),
        Some([b'\n', ..]) => Some(pos + 1),
        _ => None,
    }
}

/// Parses a `multipart/form-data` body (RFC 7578) into its parts, in order.
///
/// Lines may end in CRLF or, tolerantly, a bare LF. A preamble before the first boundary and an
/// epilogue after the closing one are ignored. Text parts are decoded in the part's own
/// `charset` if its Content-Type names one this module knows, else in `charset`.
pub fn parse_multipart(
    body: &[u8],
    boundary: &str,
    charset: Charset,
) -> Result<Vec<Part>, ParamError> {
    if boundary.is_empty() {
        return Err(ParamError::Multipart {
            offset: 0,
            reason: "empty boundary",
        });
    }
    let delim: Vec<u8> = [b"--".as_slice(), boundary.as_bytes()].concat();
    // Inside the body a delimiter only counts at the start of a line.
    let line_delim: Vec<u8> = [b"\n".as_slice(), &delim].concat();

    let mut pos = if body.starts_with(&delim) {
        0
    } else {
        find(body, &line_delim, 0)
            .map(|p| p + 1)
            .ok_or(ParamError::Multipart {
                offset: 0,
                reason: "no boundary delimiter found",
            })?
    };
    let mut parts = Vec::new();
    loop {
        // `pos` is at a delimiter.
        pos += delim.len();
        if body.get(pos..pos + 2) == Some(b"--".as_slice()) {
            return Ok(parts);
        }
        // RFC 2046 allows transport padding (blanks) after the delimiter.
        while matches!(body.get(pos), Some(b' ' | b'\t')) {
            pos += 1;
        }
        pos = skip_newline(body, pos).ok_or(ParamError::Multipart {
            offset: pos,
            reason: "line break after the boundary",
        })?;

        let (disposition, content_type, content_start) = read_part_headers(body, pos)?;
        let next =
            find_delimiter(body, &line_delim, content_start).ok_or(ParamError::Multipart {
                offset: content_start,
                reason: "closing boundary",
            })?;
        let mut content_end = next;
        if content_end > content_start && body[content_end - 1] == b'\r' {
            content_end -= 1;
        }
        let content = &body[content_start..content_end];

        let disposition = disposition.ok_or(ParamError::Multipart {
            offset: pos,
            reason: "a Content-Disposition header",
        })?;
        let (kind, params) = match disposition.split_once(';') {
            Some((k, p)) => (k.trim(), header_params(p)),
            None => (disposition.trim(), Vec::new()),
        };
        if !kind.eq_ignore_ascii_case("form-data") {
            return Err(ParamError::Multipart {
                offset: pos,
                reason: "Content-Disposition form-data",
            });
        }
        let name = params
            .iter()
            .find(|(k, _)| k == "name")
            .map(|(_, v)| v.clone())
            .ok_or(ParamError::Multipart {
                offset: pos,
                reason: "a name in Content-Disposition",
            })?;
        let filename = params
            .iter()
            .find(|(k, _)| k == "filename" || k == "filename*")
            .map(|(_, v)| v.clone());
        let value = match filename {
            Some(filename) => PartValue::File {
                filename,
                content_type,
                bytes: content.to_vec(),
            },
            None => {
                let part_charset = content_type
                    .as_deref()
                    .and_then(|ct| ct.split_once(';'))
                    .and_then(|(_, p)| {
                        header_params(p)
                            .into_iter()
                            .find(|(k, _)| k == "charset")
                            .and_then(|(_, v)| Charset::from_label(&v))
                    })
                    .unwrap_or(charset);
                let text =
                    part_charset
                        .decode_cow(content)
                        .map_err(|offset| ParamError::BadEncoding {
                            charset: part_charset.label(),
                            param: Some(truncate_for_error(&name)),
                            offset,
                        })?;
                PartValue::Text(text.into_owned())
            }
        };
        parts.push(Part { name, value });
        pos = next + 1;
    }
}

/// Reads a part's header block starting at `pos`; returns Content-Disposition, Content-Type and
/// the offset where the content starts.
#[allow(clippy::type_complexity)]
fn read_part_headers(
    body: &[u8],
    mut pos: usize,
) -> Result<(Option<String>, Option<String>, usize), ParamError> {
    let mut disposition = None;
    let mut content_type = None;
    loop {
        if let Some(after) = skip_newline(body, pos) {
            return Ok((disposition, content_type, after));
        }
        let line_end = body[pos..]
            .iter()
            .position(|&b| b == b'\n')
            .map(|p| p + pos)
            .ok_or(ParamError::Multipart {
                offset: pos,
                reason: "end of the part headers",
            })?;
        let mut line = &body[pos..line_end];
        if let [rest @ .., b'\r'] = line {
            line = rest;
        }
        // Header values are ASCII in practice, but browsers put raw UTF-8 in names and
        // filenames.
        let line = std::str::from_utf8(line).map_err(|e| ParamError::Multipart {
            offset: pos + e.valid_up_to(),
            reason: "UTF-8 in a part header",
        })?;
        let (hname, hvalue) = line.split_once(':').ok_or(ParamError::Multipart {
            offset: pos,
            reason: "`Name: value` part header",
        })?;
        let hname = hname.trim();
        if hname.eq_ignore_ascii_case("content-disposition") {
            if disposition.is_some() {
                return Err(ParamError::Multipart {
                    offset: pos,
                    reason: "one Content-Disposition per part",
                });
            }
            disposition = Some(hvalue.trim().to_string());
        } else if hname.eq_ignore_ascii_case("content-type") {
            content_type = Some(hvalue.trim().to_string());
        }
        pos = line_end + 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_character_split_between_name_and_value_is_refused() {
        // `中` is E4 B8 AD: each half alone is invalid UTF-8, though the name and the value
        // side by side would read as one valid character.
        let err = parse_form(b"%E4%B8=%AD", Charset::Utf8).unwrap_err();
        assert!(
            matches!(&err, ParamError::BadEncoding { param: Some(p), offset: 0, .. } if p == "\u{FFFD}"),
            "{err:?}"
        );
        let err = parse_form(b"a=%E4%B8&%AD=b", Charset::Utf8).unwrap_err();
        assert!(
            matches!(&err, ParamError::BadEncoding { param: Some(p), offset: 0, .. } if p == "a"),
            "{err:?}"
        );
        // A bad escape after good pairs points at its byte in the whole input.
        assert_eq!(
            parse_form(b"a=1&b=%G1", Charset::Utf8),
            Err(ParamError::BadPercent { offset: 6 })
        );
    }

    #[test]
    fn encode_form_matches_the_sdks_and_round_trips() {
        // docs/protocol/alipay-v2.md §2.1: what the official Python SDK puts in the body.
        let body = encode_form(
            [("biz_content", "{\"out_trade_no\":\"T1 中文\"}")],
            Charset::Utf8,
        );
        assert_eq!(
            body,
            "biz_content=%7B%22out_trade_no%22%3A%22T1+%E4%B8%AD%E6%96%87%22%7D"
        );
        let ts = encode_form([("timestamp", "2024-01-01 12:00:00")], Charset::Utf8);
        assert_eq!(ts, "timestamp=2024-01-01+12%3A00%3A00");
        let pairs = [("a b", "x+y&z=1"), ("中", "文€"), ("e", "")];
        for charset in [Charset::Utf8, Charset::Gbk] {
            let text = encode_form(pairs, charset);
            assert!(text.is_ascii());
            let back = parse_form(text.as_bytes(), charset).unwrap();
            let want: Vec<(String, String)> = pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            assert_eq!(back, want, "{charset:?}");
        }
        // GBK bytes, not UTF-8 ones.
        assert_eq!(encode_form([("k", "中")], Charset::Gbk), "k=%D6%D0");
    }

    #[test]
    fn charset_labels() {
        assert_eq!(Charset::from_label("UTF-8"), Some(Charset::Utf8));
        assert_eq!(Charset::from_label("utf8"), Some(Charset::Utf8));
        for l in ["GBK", "gb2312", "GB18030"] {
            assert_eq!(Charset::from_label(l), Some(Charset::Gbk), "{l}");
        }
        assert_eq!(Charset::from_label("latin1"), None);
        assert_eq!(Charset::from_label(""), None);
    }

    #[test]
    fn strict_decoding() {
        assert!(matches!(
            Charset::Utf8.decode(b"ab\xff"),
            Err(ParamError::BadEncoding { offset: 2, .. })
        ));
        // 中文 in GBK.
        assert_eq!(Charset::Gbk.decode(b"\xd6\xd0\xce\xc4").unwrap(), "中文");
        assert!(Charset::Gbk.decode(b"a\xd6").is_err());
        assert_eq!(Charset::Gbk.encode("中文"), b"\xd6\xd0\xce\xc4");
    }

    #[test]
    fn form_rules() {
        let p = parse_form(b"a=1&&b=x+y%2Bz&c&d=&%E4%B8%AD=%E6%96%87", Charset::Utf8).unwrap();
        assert_eq!(
            p,
            vec![
                ("a".into(), "1".into()),
                ("b".into(), "x y+z".into()),
                ("c".into(), "".into()),
                ("d".into(), "".into()),
                ("中".into(), "文".into()),
            ]
        );
        assert_eq!(
            parse_form(b"a=%G1", Charset::Utf8),
            Err(ParamError::BadPercent { offset: 2 })
        );
        assert_eq!(
            parse_form(b"abc=1&a=%4", Charset::Utf8),
            Err(ParamError::BadPercent { offset: 8 })
        );
        assert!(matches!(
            parse_form(b"a=%FF", Charset::Utf8),
            Err(ParamError::BadEncoding { param: Some(ref p), offset: 0, .. }) if p == "a"
        ));
        assert_eq!(parse_form(b"", Charset::Utf8).unwrap(), vec![]);
    }

    #[test]
    fn gbk_form_body() {
        // biz_content={"subject":"中文 商品"} percent-encoded in GBK, as PYO does with charset=gbk.
        let body = b"charset=gbk&biz_content=%7B%22subject%22%3A%22%D6%D0%CE%C4+%C9%CC%C6%B7%22%7D";
        let charset = Charset::from_label(
            std::str::from_utf8(raw_form_value(body, "charset").unwrap()).unwrap(),
        )
        .unwrap();
        assert_eq!(charset, Charset::Gbk);
        let p = parse_form(body, charset).unwrap();
        assert_eq!(p[1].1, r#"{"subject":"中文 商品"}"#);
        // The same bytes read as UTF-8 are refused, not replaced.
        assert!(parse_form(body, Charset::Utf8).is_err());
    }

    #[test]
    fn raw_values() {
        let q = b"a=1&charset=GBK&charset=utf-8&flag";
        assert_eq!(raw_form_value(q, "charset"), Some(b"GBK".as_slice()));
        assert_eq!(raw_form_value(q, "flag"), Some(b"".as_slice()));
        assert_eq!(raw_form_value(q, "char"), None);
    }

    #[test]
    fn param_set_rules() {
        let limits = Limits::default();
        let ok = ParamSet::from_pairs(
            vec![("a".into(), "1".into()), ("b".into(), "".into())],
            &limits,
        )
        .unwrap();
        assert_eq!(ok.get("a"), Some("1"));
        assert_eq!(ok.get("b"), Some(""));
        assert_eq!(ok.get("c"), None);
        assert_eq!(ok.len(), 2);
        assert_eq!(ok.iter().map(|(k, _)| k).collect::<Vec<_>>(), ["a", "b"]);

        assert_eq!(
            ParamSet::from_pairs(
                vec![("a".into(), "1".into()), ("a".into(), "2".into())],
                &limits
            ),
            Err(ParamError::Duplicate("a".into()))
        );
        // Short and long lists (compared name by name, or through a set) find the repeat alike.
        for n in [3, 31, 32, 33, 100] {
            let mut pairs: Vec<(String, String)> =
                (0..n).map(|i| (format!("p{i}"), String::new())).collect();
            assert!(ParamSet::from_pairs(pairs.clone(), &limits).is_ok(), "{n}");
            pairs.push((format!("p{}", n / 2), "again".into()));
            assert_eq!(
                ParamSet::from_pairs(pairs, &limits),
                Err(ParamError::Duplicate(format!("p{}", n / 2))),
                "{n}"
            );
        }
        let many: Vec<_> = (0..129).map(|i| (format!("p{i}"), String::new())).collect();
        assert!(matches!(
            ParamSet::from_pairs(many, &limits),
            Err(ParamError::TooManyParams {
                count: 129,
                max: 128
            })
        ));
        let long = "n".repeat(129);
        assert!(matches!(
            ParamSet::from_pairs(vec![(long, String::new())], &limits),
            Err(ParamError::NameTooLong { len: 129, .. })
        ));
        assert_eq!(
            ParamSet::from_pairs(vec![(String::new(), "x".into())], &limits),
            Err(ParamError::EmptyName)
        );
    }

    #[test]
    fn boundaries() {
        assert_eq!(
            multipart_boundary("multipart/form-data; boundary=abc").as_deref(),
            Some("abc")
        );
        assert_eq!(
            multipart_boundary("multipart/form-data;charset=UTF-8;boundary=123").as_deref(),
            Some("123")
        );
        assert_eq!(
            multipart_boundary("Multipart/Form-Data; boundary=\"a;b c\"; charset=utf-8").as_deref(),
            Some("a;b c")
        );
        assert_eq!(
            multipart_boundary("application/x-www-form-urlencoded; boundary=--x").as_deref(),
            Some("--x")
        );
        assert_eq!(
            multipart_boundary("application/x-www-form-urlencoded;charset=utf-8"),
            None
        );
        assert_eq!(multipart_boundary("multipart/form-data"), None);
        assert_eq!(multipart_boundary("multipart/form-data; boundary="), None);
        assert_eq!(multipart_boundary("multipart/form-data; boundary=\""), None);
        assert_eq!(multipart_boundary("text/plain; boundary=x"), None);
        let long = format!("multipart/form-data; boundary={}", "x".repeat(71));
        assert_eq!(multipart_boundary(&long), None);
    }

    /// The shape the Node TOP SDK produces: every field, `sign` included, as a form-data part
    /// (npm `form-data`: 26 dashes + 24 digits, CRLF lines, no per-part Content-Type for text).
    #[test]
    fn node_top_sdk_multipart() {
        let boundary = "--------------------------515890814546601021194782";
        let ct = format!("multipart/form-data; boundary={boundary}");
        assert_eq!(multipart_boundary(&ct).as_deref(), Some(boundary));
        let fields = [
            ("timestamp", "2024-01-01 12:00:00"),
            ("format", "json"),
            ("app_key", "12345678"),
            ("v", "2.0"),
            ("sign_method", "md5"),
            ("method", "alibaba.omni.order.query"),
            ("order_id", "108717674563804955"),
            ("sign", "0F3E2A1B8C7D6E5F4A3B2C1D0E9F8A7B"),
        ];
        let mut body = Vec::new();
        for (k, v) in fields {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
                )
                .as_bytes(),
            );
        }
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n\x00\r\n--x\r\n--{boundary}--\r\n"
            )
            .as_bytes(),
        );
        let parts = parse_multipart(&body, boundary, Charset::Utf8).unwrap();
        assert_eq!(parts.len(), fields.len() + 1);
        for ((k, v), p) in fields.iter().zip(&parts) {
            assert_eq!(&p.name, k);
            assert_eq!(p.value, PartValue::Text(v.to_string()));
        }
        assert_eq!(
            parts[fields.len()].value,
            PartValue::File {
                filename: "a.bin".into(),
                content_type: Some("application/octet-stream".into()),
                bytes: b"\x00\r\n--x".to_vec(),
            }
        );
    }

    #[test]
    fn multipart_tolerances() {
        // Preamble, bare LF, quoted name with an escaped quote, unquoted name, transport padding,
        // epilogue, a GBK part declared in its own Content-Type.
        let body = b"preamble\n--b \nContent-Disposition: form-data; name=\"a\\\"q\"\n\nv1\n--b\r\ncontent-disposition: form-data; name=plain\r\n\r\n\r\n--b\r\nContent-Disposition: form-data; name=\"g\"\r\nContent-Type: text/plain; charset=GBK\r\n\r\n\xd6\xd0\r\n--b--\r\nepilogue";
        let parts = parse_multipart(body, "b", Charset::Utf8).unwrap();
        assert_eq!(parts[0].name, "a\"q");
        assert_eq!(parts[0].value, PartValue::Text("v1".into()));
        assert_eq!(parts[1].name, "plain");
        assert_eq!(parts[1].value, PartValue::Text(String::new()));
        assert_eq!(parts[2].value, PartValue::Text("中".into()));
    }

    #[test]
    fn multipart_errors() {
        let cases: [&[u8]; 9] = [
            b"",
            b"no boundary here",
            b"--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nvalue without end",
            b"--b\r\nContent-Disposition: form-data; name=\"a\"",
            b"--b\r\n\r\nx\r\n--b--",
            b"--b\r\nContent-Disposition: form-data\r\n\r\nx\r\n--b--",
            b"--b\r\nContent-Disposition: attachment; name=a\r\n\r\nx\r\n--b--",
            b"--bX\r\n",
            b"--b\r\nContent-Disposition: form-data; name=a\r\n\r\n\xff\r\n--b--",
        ];
        for body in cases {
            assert!(
                parse_multipart(body, "b", Charset::Utf8).is_err(),
                "{:?}",
                String::from_utf8_lossy(body)
            );
        }
        assert!(parse_multipart(b"--\r\n", "", Charset::Utf8).is_err());
    }
}
