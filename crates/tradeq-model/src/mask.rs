//! Masking of buyer identifiers: raw account names never leave the store unmasked.

/// Masks an Alipay logon id as the platform shows it: a phone number keeps its first three and
/// last four digits (`159****5620`), an e-mail keeps up to three characters of the local part
/// (`abc***@example.com`), anything else keeps its first and last quarter.
pub fn mask_logon_id(raw: &str) -> String {
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

/// Masks a buyer nick with `*` as the Miaojie document's example shows (`59****5620`).
pub fn mask_nick(raw: &str) -> String {
    let chars: Vec<char> = raw.chars().collect();
    let n = chars.len();
    if n >= 8 {
        let head: String = chars[..2].iter().collect();
        let tail: String = chars[n - 4..].iter().collect();
        return format!("{head}****{tail}");
    }
    mask_logon_id(raw)
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
}
