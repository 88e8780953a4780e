//! Reading the settings: the defaults, then a TOML file, then `TRADEQ_*` variables, then flags,
//! each later one winning; then every number checked against its range, once.

use std::fmt;

use super::{Raw, ServerConfig, Setting, SETTINGS};

/// The variable naming the configuration file (not a setting: the file cannot name itself).
pub const CONFIG_VARIABLE: &str = "TRADEQ_CONFIG";

/// Where a setting's value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Its default.
    Default,
    /// The configuration file (its path, as given).
    File(String),
    /// An environment variable.
    Env(String),
    /// A command-line flag.
    Flag(String),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Default => f.write_str("default"),
            Source::File(path) => write!(f, "file {path}"),
            Source::Env(var) => write!(f, "variable {var}"),
            Source::Flag(flag) => write!(f, "flag --{flag}"),
        }
    }
}

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A number out of its range.
    #[error("configuration `{name}` is {value}{}; it must be between {min} and {max}", from_text(.from))]
    OutOfRange {
        /// The setting.
        name: &'static str,
        /// Its value.
        value: i128,
        /// Smallest accepted.
        min: i128,
        /// Largest accepted.
        max: i128,
        /// Where the value came from.
        from: Source,
    },
    /// A value that is not one the setting takes.
    #[error("configuration `{name}`{}: {reason}", from_text(.from))]
    Invalid {
        /// The setting.
        name: &'static str,
        /// What is wrong.
        reason: String,
        /// Where the value came from.
        from: Source,
    },
    /// A key of the file that is no setting.
    #[error("configuration file {file}: `{key}` is not a setting{}", hint(.suggestion))]
    UnknownKey {
        /// The file.
        file: String,
        /// The key.
        key: String,
        /// The setting it most resembles.
        suggestion: Option<&'static str>,
    },
    /// A file that is not TOML.
    #[error("configuration file {file} is not valid TOML: {reason}")]
    Syntax {
        /// The file.
        file: String,
        /// What the parser said.
        reason: String,
    },
}

impl ConfigError {
    /// The setting at fault, when one is.
    pub fn setting(&self) -> Option<&'static str> {
        match self {
            ConfigError::OutOfRange { name, .. } | ConfigError::Invalid { name, .. } => Some(name),
            ConfigError::UnknownKey { .. } | ConfigError::Syntax { .. } => None,
        }
    }
}

fn from_text(from: &Source) -> String {
    match from {
        Source::Default => String::new(),
        other => format!(" (from the {other})"),
    }
}

fn hint(suggestion: &Option<&'static str>) -> String {
    match suggestion {
        Some(name) => format!("; did you mean `{name}`?"),
        None => "; the settings are listed in docs/configuration.md".to_string(),
    }
}

/// A configuration read from its sources, with where each value came from.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The settings.
    pub config: ServerConfig,
    /// Per setting, in the order of [`SETTINGS`].
    sources: Vec<Source>,
    /// Things worth telling the operator that do not stop the start (a `TRADEQ_*` variable
    /// that looks like a misspelt setting).
    pub warnings: Vec<String>,
}

impl ServerConfig {
    /// Reads the settings: the defaults, then `file` (its path as shown in messages, and its
    /// text), then the `TRADEQ_*` variables among `env` (empty ones count as unset), then
    /// `flags` (setting name, text), each later one winning; then checks every number.
    pub fn load(
        file: Option<(&str, &str)>,
        env: impl IntoIterator<Item = (String, String)>,
        flags: &[(&'static str, String)],
    ) -> Result<Loaded, ConfigError> {
        let mut loaded = Loaded {
            config: ServerConfig::default(),
            sources: vec![Source::Default; SETTINGS.len()],
            warnings: Vec::new(),
        };
        if let Some((path, text)) = file {
            let table: toml::Table =
                text.parse()
                    .map_err(|e: toml::de::Error| ConfigError::Syntax {
                        file: path.to_string(),
                        reason: e.message().to_string(),
                    })?;
            for (key, value) in &table {
                let Some(setting) = Setting::named(key) else {
                    return Err(ConfigError::UnknownKey {
                        file: path.to_string(),
                        key: key.clone(),
                        suggestion: suggest(key, SETTINGS.iter().map(|s| s.name)),
                    });
                };
                loaded.set(setting, Raw::Toml(value), Source::File(path.to_string()))?;
            }
        }
        let mut env: Vec<(String, String)> = env
            .into_iter()
            .filter(|(k, _)| k.starts_with("TRADEQ_"))
            .collect();
        // Messages in a stable order, whatever order the environment came in.
        env.sort();
        let variables: Vec<String> = SETTINGS.iter().map(Setting::env_var).collect();
        for (key, value) in &env {
            match variables.iter().position(|v| v == key) {
                Some(i) if !value.is_empty() => {
                    loaded.set(&SETTINGS[i], Raw::Text(value), Source::Env(key.clone()))?;
                }
                Some(_) => {}
                None if key == CONFIG_VARIABLE => {}
                None => {
                    // Other tools read TRADEQ_* variables too: only a near miss is suspicious.
                    if let Some(near) = suggest(key, variables.iter().map(String::as_str)) {
                        loaded.warnings.push(format!(
                            "{key} is not a setting and is ignored; did you mean {near}?"
                        ));
                    }
                }
            }
        }
        for (name, value) in flags {
            let setting = Setting::named(name).ok_or_else(|| ConfigError::Invalid {
                name,
                reason: "no such setting".into(),
                from: Source::Flag(name.replace('_', "-")),
            })?;
            loaded.set(setting, Raw::Text(value), Source::Flag(setting.flag()))?;
        }
        check_ranges(&loaded.config, |i| loaded.sources[i].clone())?;
        Ok(loaded)
    }
}

impl Loaded {
    fn set(
        &mut self,
        setting: &'static Setting,
        raw: Raw<'_>,
        from: Source,
    ) -> Result<(), ConfigError> {
        self.config
            .set(setting.name, raw)
            .map_err(|reason| ConfigError::Invalid {
                name: setting.name,
                reason,
                from: from.clone(),
            })?;
        if let Some(i) = SETTINGS.iter().position(|s| s.name == setting.name) {
            self.sources[i] = from;
        }
        Ok(())
    }

    /// Where the setting `name` came from.
    pub fn source(&self, name: &str) -> &Source {
        SETTINGS
            .iter()
            .position(|s| s.name == name)
            .map_or(&Source::Default, |i| &self.sources[i])
    }

    /// Whether any source set the setting `name`.
    pub fn is_set(&self, name: &str) -> bool {
        *self.source(name) != Source::Default
    }

    /// The effective configuration as a TOML file, secrets masked, each value with where it
    /// came from.
    pub fn render(&self) -> String {
        let mut out = String::from("# tradeq serve: the effective configuration\n");
        for (setting, source) in SETTINGS.iter().zip(&self.sources) {
            match self.config.value(setting.name).and_then(|v| v.toml()) {
                Some(value) => out.push_str(&format!("{} = {value}  # {source}\n", setting.name)),
                None => out.push_str(&format!("# {} is not set\n", setting.name)),
            }
        }
        out
    }
}

/// Checks every number of `config` against its range; `source` says where setting `i` came
/// from.
pub(super) fn check_ranges(
    config: &ServerConfig,
    source: impl Fn(usize) -> Source,
) -> Result<(), ConfigError> {
    for (i, setting) in SETTINGS.iter().enumerate() {
        let (Some((min, max)), Some(value)) = (
            setting.range,
            config.value(setting.name).and_then(|v| v.number()),
        ) else {
            continue;
        };
        if value < min || value > max {
            return Err(ConfigError::OutOfRange {
                name: setting.name,
                value,
                min,
                max,
                from: source(i),
            });
        }
    }
    Ok(())
}

/// The candidate closest to `word`, if it is close enough to be a likely misspelling.
pub fn suggest<'a>(word: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let word = word.to_ascii_lowercase();
    candidates
        .map(|c| (edit_distance(&word, &c.to_ascii_lowercase()), c))
        .filter(|(d, c)| *d <= (c.len() / 4).max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance, by bytes (setting names are ASCII).
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = if ca == cb {
                diagonal
            } else {
                1 + diagonal.min(above).min(row[j])
            };
            diagonal = above;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    const FILE: &str = r#"
        listen = "127.0.0.1:9001"
        data_dir = "/from/file"
        explain_in_errors = true
        max_body_bytes = 4096
        admin_token = "file-token"
    "#;

    #[test]
    fn a_flag_beats_a_variable_which_beats_the_file() {
        // One setting of each kind, set in all three places.
        let all = ServerConfig::load(
            Some(("t.toml", FILE)),
            env(&[
                ("TRADEQ_LISTEN", "127.0.0.1:9002"),
                ("TRADEQ_DATA_DIR", "/from/env"),
                ("TRADEQ_EXPLAIN_IN_ERRORS", "false"),
                ("TRADEQ_MAX_BODY_BYTES", "8192"),
                ("TRADEQ_ADMIN_TOKEN", "env-token"),
            ]),
            &[
                ("listen", "127.0.0.1:9003".into()),
                ("data_dir", "/from/flag".into()),
                ("explain_in_errors", "true".into()),
                ("max_body_bytes", "16384".into()),
                ("admin_token", "flag-token".into()),
            ],
        )
        .unwrap();
        let c = &all.config;
        assert_eq!(c.listen.port(), 9003);
        assert_eq!(c.data_dir, std::path::PathBuf::from("/from/flag"));
        assert!(c.explain_in_errors);
        assert_eq!(c.max_body_bytes, 16384);
        assert_eq!(c.admin_token.as_ref().unwrap().expose(), "flag-token");
        assert_eq!(*all.source("listen"), Source::Flag("listen".into()));

        let no_flags = ServerConfig::load(
            Some(("t.toml", FILE)),
            env(&[
                ("TRADEQ_LISTEN", "127.0.0.1:9002"),
                ("TRADEQ_DATA_DIR", "/from/env"),
                ("TRADEQ_EXPLAIN_IN_ERRORS", "false"),
                ("TRADEQ_MAX_BODY_BYTES", "8192"),
                ("TRADEQ_ADMIN_TOKEN", "env-token"),
            ]),
            &[],
        )
        .unwrap();
        let c = &no_flags.config;
        assert_eq!(c.listen.port(), 9002);
        assert_eq!(c.data_dir, std::path::PathBuf::from("/from/env"));
        assert!(!c.explain_in_errors);
        assert_eq!(c.max_body_bytes, 8192);
        assert_eq!(c.admin_token.as_ref().unwrap().expose(), "env-token");
        assert_eq!(
            *no_flags.source("max_body_bytes"),
            Source::Env("TRADEQ_MAX_BODY_BYTES".into())
        );

        let file_only = ServerConfig::load(Some(("t.toml", FILE)), env(&[]), &[]).unwrap();
        let c = &file_only.config;
        assert_eq!(c.listen.port(), 9001);
        assert_eq!(c.data_dir, std::path::PathBuf::from("/from/file"));
        assert!(c.explain_in_errors);
        assert_eq!(c.max_body_bytes, 4096);
        assert_eq!(c.admin_token.as_ref().unwrap().expose(), "file-token");
        assert_eq!(*file_only.source("data_dir"), Source::File("t.toml".into()));
        assert!(!file_only.is_set("max_connections"));
        assert_eq!(file_only.config.max_connections, 10_000);
    }

    #[test]
    fn an_empty_variable_counts_as_unset() {
        let loaded = ServerConfig::load(
            Some(("t.toml", FILE)),
            env(&[("TRADEQ_ADMIN_TOKEN", ""), ("TRADEQ_MAX_BODY_BYTES", "")]),
            &[],
        )
        .unwrap();
        assert_eq!(loaded.config.max_body_bytes, 4096);
        assert_eq!(
            loaded.config.admin_token.as_ref().unwrap().expose(),
            "file-token"
        );
    }

    #[test]
    fn a_value_out_of_range_is_named_with_its_source() {
        let err = ServerConfig::load(
            None,
            env(&[("TRADEQ_RECORD_CACHE_ENTRIES", "99999999999")]),
            &[],
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            err,
            "configuration `record_cache_entries` is 99999999999 (from the variable \
             TRADEQ_RECORD_CACHE_ENTRIES); it must be between 0 and 10000000"
        );
        let err = ServerConfig::load(
            Some(("t.toml", "signature_cache_entries = -1")),
            env(&[]),
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("`signature_cache_entries`"), "{err}");
        assert!(err.contains("file t.toml"), "{err}");
        let err = ServerConfig::load(None, env(&[]), &[("max_connections", "0".into())])
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "configuration `max_connections` is 0 (from the flag --max-connections); it must \
             be between 1 and 1000000"
        );
    }

    #[test]
    fn a_value_of_the_wrong_kind_is_named_with_its_source() {
        let err = ServerConfig::load(Some(("t.toml", "max_body_bytes = \"1MB\"")), env(&[]), &[])
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "configuration `max_body_bytes` (from the file t.toml): expected a whole number \
             (no quotes), found a string"
        );
        let err = ServerConfig::load(None, env(&[("TRADEQ_LISTEN", "8080")]), &[])
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "configuration `listen` (from the variable TRADEQ_LISTEN): `8080` is not an \
             address such as 127.0.0.1:8080"
        );
    }

    #[test]
    fn an_unknown_key_is_refused_with_the_closest_setting() {
        let err = ServerConfig::load(Some(("t.toml", "record_cache_entires = 5")), env(&[]), &[])
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "configuration file t.toml: `record_cache_entires` is not a setting; did you mean \
             `record_cache_entries`?"
        );
        let err = ServerConfig::load(Some(("t.toml", "colour = 5")), env(&[]), &[])
            .unwrap_err()
            .to_string();
        assert!(err.ends_with("listed in docs/configuration.md"), "{err}");
        let err = ServerConfig::load(Some(("t.toml", "listen = ")), env(&[]), &[])
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("configuration file t.toml is not valid TOML"),
            "{err}"
        );
    }

    #[test]
    fn only_a_variable_resembling_a_setting_is_warned_about() {
        let loaded = ServerConfig::load(
            None,
            env(&[
                ("TRADEQ_MAX_BODY_BYTE", "1"),
                ("TRADEQ_ADMIN_URL", "http://x"),
                ("TRADEQ_CREDENTIALS", "c.json"),
                ("TRADEQ_CONFIG", "t.toml"),
                ("TRADEQ_REQUIRE_ALL", "1"),
                ("TRADEQ_TEST_DATABASE_URL", "postgres://x"),
                ("HOME", "/root"),
            ]),
            &[],
        )
        .unwrap();
        assert_eq!(
            loaded.warnings,
            vec![
                "TRADEQ_MAX_BODY_BYTE is not a setting and is ignored; did you mean \
                 TRADEQ_MAX_BODY_BYTES?"
                    .to_string()
            ]
        );
        assert_eq!(loaded.config.max_body_bytes, 256 * 1024);
    }

    #[test]
    fn the_rendering_masks_the_token_and_names_sources() {
        let loaded = ServerConfig::load(
            Some(("t.toml", FILE)),
            env(&[("TRADEQ_IDLE_TIMEOUT_SECS", "5")]),
            &[],
        )
        .unwrap();
        let text = loaded.render();
        assert!(!text.contains("file-token"), "{text}");
        assert!(
            text.contains("admin_token = \"***\"  # file t.toml\n"),
            "{text}"
        );
        assert!(
            text.contains("idle_timeout_secs = 5  # variable TRADEQ_IDLE_TIMEOUT_SECS\n"),
            "{text}"
        );
        assert!(text.contains("# database_url is not set\n"), "{text}");
        // What it prints is a configuration file that reads back to the same settings.
        let body: String = text
            .lines()
            .filter(|l| !l.starts_with("admin_token"))
            .map(|l| format!("{l}\n"))
            .collect();
        let again = ServerConfig::load(Some(("again.toml", &body)), env(&[]), &[]).unwrap();
        assert_eq!(again.config.idle_timeout_secs, 5);
        assert_eq!(again.config.max_body_bytes, 4096);
    }

    #[test]
    fn the_direct_check_names_the_setting() {
        let config = ServerConfig {
            journal_body_bytes: 64 << 20,
            ..ServerConfig::default()
        };
        assert_eq!(
            config.validate().unwrap_err().to_string(),
            "configuration `journal_body_bytes` is 67108864; it must be between 0 and 16777216"
        );
    }
}
