//! The table of every setting, as `docs/configuration.md` holds it.

use super::{Kind, ServerConfig, Setting, SETTINGS};

/// The settings as a Markdown table: key, variable, flag, default, accepted values, meaning.
pub fn markdown_table() -> String {
    let defaults = ServerConfig::default();
    let mut out = String::from(
        "| setting (TOML key) | variable | flag | default | values | meaning |\n\
         |---|---|---|---|---|---|\n",
    );
    for setting in SETTINGS {
        out.push_str(&format!(
            "| `{}` | `{}` | `--{}` | {} | {} | {} |\n",
            setting.name,
            setting.env_var(),
            setting.flag(),
            default_cell(setting, &defaults),
            values_cell(setting),
            setting.meaning().replace('|', "\\|"),
        ));
    }
    out
}

fn default_cell(setting: &Setting, defaults: &ServerConfig) -> String {
    if let Some(note) = setting.default_note {
        return note.to_string();
    }
    let Some(value) = defaults.value(setting.name).and_then(|v| v.toml()) else {
        return "not set".to_string();
    };
    let shown = format!("`{}`", value.trim_matches('"'));
    match defaults.value(setting.name).and_then(|v| v.number()) {
        Some(n) if setting.name.ends_with("_bytes") => format!("{shown} ({})", binary_size(n)),
        _ => shown,
    }
}

fn values_cell(setting: &Setting) -> String {
    match (setting.kind, setting.range) {
        (Kind::Integer, Some((min, max))) => format!("{min} to {max}"),
        (Kind::Address, _) => "`host:port`".to_string(),
        (Kind::Path, _) => "a path".to_string(),
        (Kind::Text, _) => "text".to_string(),
        (Kind::Secret, _) => "text, never printed".to_string(),
        (Kind::Bool, _) => "`true`, `false`".to_string(),
        (Kind::Integer, None) => "a whole number".to_string(),
    }
}

/// `n` bytes in KiB, MiB or GiB when it is a whole number of one of them.
fn binary_size(n: i128) -> String {
    for (unit, size) in [("GiB", 1i128 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] {
        if n >= size && n % size == 0 {
            return format!("{} {unit}", n / size);
        }
    }
    format!("{n} B")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_row_per_setting() {
        let table = markdown_table();
        assert_eq!(table.lines().count(), SETTINGS.len() + 2);
        assert!(table.contains(
            "| `max_body_bytes` | `TRADEQ_MAX_BODY_BYTES` | `--max-body-bytes` | `262144` \
             (256 KiB) | 1024 to 67108864 |"
        ));
        assert!(table
            .contains("| `database_url` | `TRADEQ_DATABASE_URL` | `--database-url` | not set |"));
        assert_eq!(binary_size(1000), "1000 B");
        assert_eq!(binary_size(8 << 10), "8 KiB");
    }
}
