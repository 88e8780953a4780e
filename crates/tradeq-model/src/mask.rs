//! Masking of buyer identifiers: raw account names never leave the store unmasked.

/// Masks an Alipay logon id as the platform shows it: a phone number keeps its first three and
/// last four digits (`159****5620`), an e-mail keeps up to three characters of the local part
/// (`abc***@example.com`), anything else keeps its first and last quarter.
pub fn mask_logon_id(raw: &str) -> String {
    if let Some((local, domain)) = raw.split_once('@') {
        let mut out = String::with_capacity(raw.len() + 3);
        out.push_str(&local[..byte_offset(local, 3)]);
        out.push_str("***@");
        out.push_str(domain);
        return out;
    }
    let n = raw.chars().count();
    if n >= 11 && raw.bytes().all(|b| b.is_ascii_digit()) {
        return keep_ends(raw, n, 3, 4, 4);
    }
    if n <= 2 {
        return "*".repeat(n.max(1));
    }
    let keep = (n / 4).max(1);
    keep_ends(raw, n, keep, keep, n - 2 * keep)
}

/// Masks a buyer nick with `*` as the Miaojie document's example shows (`59****5620`).
pub fn mask_nick(raw: &str) -> String {
    let n = raw.chars().count();
    if n >= 8 {
        let mut out = String::with_capacity(raw.len());
        out.push_str(&raw[..byte_offset(raw, 2)]);
        out.push_str("****");
        out.push_str(&raw[byte_offset(raw, n - 4)..]);
        return out;
    }
    mask_logon_id(raw)
}

/// The byte offset of the `chars`-th character of `s` (its length when `s` is shorter).
fn byte_offset(s: &str, chars: usize) -> usize {
    s.char_indices().nth(chars).map_or(s.len(), |(at, _)| at)
}

/// The first `head` and last `tail` of the `n` characters of `s` around `stars` asterisks.
fn keep_ends(s: &str, n: usize, head: usize, tail: usize, stars: usize) -> String {
    let mut out = String::with_capacity(s.len() + stars);
    out.push_str(&s[..byte_offset(s, head)]);
    out.extend(std::iter::repeat_n('*', stars));
    out.push_str(&s[byte_offset(s, n - tail)..]);
    out
}

/// True when `s` already looks masked (contains `*`), so masking is not applied twice.
pub fn is_masked(s: &str) -> bool {
    s.contains('*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_like_the_platform() {
        assert_eq!(mask_logon_id("15901825620"), "159****5620");
        assert_eq!(mask_logon_id("abcdef@example.com"), "abc***@example.com");
        assert_eq!(mask_logon_id("ab@example.com"), "ab***@example.com");
        assert_eq!(mask_nick("5912345620"), "59****5620");
        let m = mask_logon_id("zhangsan");
        assert!(m.contains('*') && !m.contains("zhangsan"), "{m}");
        assert_eq!(mask_logon_id("a"), "*");
    }

    /// The rules written out character by character, as a reference for the byte-offset code.
    fn reference_logon_id(raw: &str) -> String {
        if let Some((local, domain)) = raw.split_once('@') {
            let keep: String = local.chars().take(3).collect();
            return format!("{keep}***@{domain}");
        }
        let chars: Vec<char> = raw.chars().collect();
        let n = chars.len();
        if n >= 11 && chars.iter().all(|c| c.is_ascii_digit()) {
            let head: String = chars[..3].iter().collect();
            let tail: String = chars[n - 4..].iter().collect();
            return format!("{head}****{tail}");
        }
        if n <= 2 {
            return "*".repeat(n.max(1));
        }
        let keep = (n / 4).max(1);
        let head: String = chars[..keep].iter().collect();
        let tail: String = chars[n - keep..].iter().collect();
        format!("{head}{}{tail}", "*".repeat(n - 2 * keep))
    }

    fn reference_nick(raw: &str) -> String {
        let chars: Vec<char> = raw.chars().collect();
        let n = chars.len();
        if n >= 8 {
            let head: String = chars[..2].iter().collect();
            let tail: String = chars[n - 4..].iter().collect();
            return format!("{head}****{tail}");
        }
        reference_logon_id(raw)
    }

    #[test]
    fn masks_agree_with_the_character_rules_at_every_length() {
        for piece in ["1", "a", "张", "𝄞", "@", "x@y"] {
            for n in 0..16 {
                let raw = piece.repeat(n);
                for text in [raw.clone(), format!("{raw}@example.com"), format!("9{raw}")] {
                    assert_eq!(mask_logon_id(&text), reference_logon_id(&text), "{text:?}");
                    assert_eq!(mask_nick(&text), reference_nick(&text), "{text:?}");
                }
            }
        }
    }
}
