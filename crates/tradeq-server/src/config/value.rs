//! The kinds of value a setting takes: how each is read from TOML or from text (a variable, a
//! flag), and how it is shown.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

/// A value as a source holds it.
#[derive(Debug, Clone, Copy)]
pub enum Raw<'a> {
    /// A TOML value (the configuration file).
    Toml(&'a toml::Value),
    /// Text (an environment variable or a flag).
    Text(&'a str),
}

/// The kind of value a setting takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `host:port`.
    Address,
    /// A file or directory.
    Path,
    /// Any text.
    Text,
    /// Text that is never printed.
    Secret,
    /// `true` or `false`.
    Bool,
    /// A whole number.
    Integer,
}

impl Kind {
    /// The placeholder of a value in help and documentation.
    pub fn placeholder(self) -> &'static str {
        match self {
            Kind::Address => "ADDR",
            Kind::Path => "PATH",
            Kind::Text => "TEXT",
            Kind::Secret => "SECRET",
            Kind::Bool => "BOOL",
            Kind::Integer => "N",
        }
    }
}

/// A type a setting can have.
pub trait SettingValue: Sized + Shown {
    /// Its kind.
    const KIND: Kind;
    /// Reads it; the error says what was wrong with the value (the caller names the setting).
    fn parse(raw: Raw<'_>) -> Result<Self, String>;
}

/// A setting's value, shown.
pub trait Shown {
    /// The value as a TOML value; `None` when unset.
    fn toml(&self) -> Option<String>;
    /// The value of a number.
    fn number(&self) -> Option<i128> {
        None
    }
}

/// Text that is never printed, neither by `Debug` nor by the effective configuration.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(text: impl Into<String>) -> Secret {
        Secret(text.into())
    }

    /// The secret itself.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

fn toml_kind(value: &toml::Value) -> &'static str {
    match value {
        toml::Value::String(_) => "a string",
        toml::Value::Integer(_) => "a number",
        toml::Value::Float(_) => "a decimal number",
        toml::Value::Boolean(_) => "a boolean",
        toml::Value::Datetime(_) => "a date",
        toml::Value::Array(_) => "an array",
        toml::Value::Table(_) => "a table",
    }
}

/// The text of a value that must be a string; `what` names the expected value.
fn text<'a>(raw: Raw<'a>, what: &str) -> Result<&'a str, String> {
    match raw {
        Raw::Text(t) => Ok(t),
        Raw::Toml(toml::Value::String(s)) => Ok(s),
        Raw::Toml(other) => Err(format!(
            "expected {what} in quotes, found {}",
            toml_kind(other)
        )),
    }
}

fn quoted(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

impl SettingValue for SocketAddr {
    const KIND: Kind = Kind::Address;
    fn parse(raw: Raw<'_>) -> Result<Self, String> {
        let t = text(raw, "an address")?;
        t.trim()
            .parse()
            .map_err(|_| format!("`{t}` is not an address such as 127.0.0.1:8080"))
    }
}

impl Shown for SocketAddr {
    fn toml(&self) -> Option<String> {
        Some(quoted(&self.to_string()))
    }
}

impl SettingValue for PathBuf {
    const KIND: Kind = Kind::Path;
    fn parse(raw: Raw<'_>) -> Result<Self, String> {
        let t = text(raw, "a path")?;
        if t.is_empty() {
            return Err("the path is empty".into());
        }
        Ok(PathBuf::from(t))
    }
}

impl Shown for PathBuf {
    fn toml(&self) -> Option<String> {
        Some(quoted(&self.display().to_string()))
    }
}

impl SettingValue for String {
    const KIND: Kind = Kind::Text;
    fn parse(raw: Raw<'_>) -> Result<Self, String> {
        let t = text(raw, "text")?;
        if t.is_empty() {
            return Err("the value is empty".into());
        }
        Ok(t.to_string())
    }
}

impl Shown for String {
    fn toml(&self) -> Option<String> {
        // The text setting is a database URL, which may carry a password.
        Some(quoted(&redact_url(self)))
    }
}

/// A URL without its password, for messages.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{}:***{}", &url[..scheme_end + 3], user, &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

impl SettingValue for Secret {
    const KIND: Kind = Kind::Secret;
    fn parse(raw: Raw<'_>) -> Result<Self, String> {
        String::parse(raw).map(Secret)
    }
}

impl Shown for Secret {
    fn toml(&self) -> Option<String> {
        Some(quoted("***"))
    }
}

impl SettingValue for bool {
    const KIND: Kind = Kind::Bool;
    fn parse(raw: Raw<'_>) -> Result<Self, String> {
        match raw {
            Raw::Toml(toml::Value::Boolean(b)) => Ok(*b),
            Raw::Toml(other) => Err(format!(
                "expected true or false (no quotes), found {}",
                toml_kind(other)
            )),
            Raw::Text(t) => match t.trim() {
                "true" => Ok(true),
                "false" => Ok(false),
                _ => Err(format!("`{t}` is neither true nor false")),
            },
        }
    }
}

impl Shown for bool {
    fn toml(&self) -> Option<String> {
        Some(self.to_string())
    }
}

macro_rules! integers {
    ($($ty:ty),*) => {$(
        impl SettingValue for $ty {
            const KIND: Kind = Kind::Integer;
            fn parse(raw: Raw<'_>) -> Result<Self, String> {
                let n: i128 = match raw {
                    Raw::Toml(toml::Value::Integer(n)) => i128::from(*n),
                    Raw::Toml(other) => {
                        return Err(format!(
                            "expected a whole number (no quotes), found {}",
                            toml_kind(other)
                        ))
                    }
                    Raw::Text(t) => t
                        .trim()
                        .replace('_', "")
                        .parse()
                        .map_err(|_| format!("`{t}` is not a whole number"))?,
                };
                <$ty>::try_from(n).map_err(|_| format!("{n} is out of range"))
            }
        }

        impl Shown for $ty {
            fn toml(&self) -> Option<String> {
                Some(self.to_string())
            }
            fn number(&self) -> Option<i128> {
                i128::try_from(*self).ok()
            }
        }
    )*};
}

integers!(i64, u64, usize);

impl<T: SettingValue> SettingValue for Option<T> {
    const KIND: Kind = T::KIND;
    fn parse(raw: Raw<'_>) -> Result<Self, String> {
        T::parse(raw).map(Some)
    }
}

impl<T: Shown> Shown for Option<T> {
    fn toml(&self) -> Option<String> {
        self.as_ref().and_then(Shown::toml)
    }
    fn number(&self) -> Option<i128> {
        self.as_ref().and_then(Shown::number)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_from_text_and_toml() {
        assert_eq!(u64::parse(Raw::Text("1_000")), Ok(1000));
        assert_eq!(u64::parse(Raw::Toml(&toml::Value::Integer(7))), Ok(7));
        assert_eq!(
            u64::parse(Raw::Text("-1")),
            Err("-1 is out of range".to_string())
        );
        assert_eq!(
            usize::parse(Raw::Text("lots")),
            Err("`lots` is not a whole number".to_string())
        );
        assert_eq!(
            i64::parse(Raw::Toml(&toml::Value::String("5".into()))),
            Err("expected a whole number (no quotes), found a string".to_string())
        );
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact_url("postgres://u:secret@host/db"),
            "postgres://u:***@host/db"
        );
        assert_eq!(redact_url("postgres://u@host/db"), "postgres://u@host/db");
        assert_eq!(redact_url("sqlite://x.db"), "sqlite://x.db");
        let url = String::from("postgres://u:secret@host/db");
        assert_eq!(url.toml().as_deref(), Some("\"postgres://u:***@host/db\""));
    }

    #[test]
    fn booleans_addresses_and_secrets() {
        assert_eq!(bool::parse(Raw::Text("true")), Ok(true));
        assert!(bool::parse(Raw::Text("yes")).is_err());
        assert!(bool::parse(Raw::Toml(&toml::Value::String("true".into()))).is_err());
        assert!(SocketAddr::parse(Raw::Text("localhost")).is_err());
        let secret = Secret::parse(Raw::Text("hunter2")).unwrap();
        assert_eq!(secret.expose(), "hunter2");
        assert!(!format!("{secret:?}").contains("hunter2"));
        assert_eq!(secret.toml().as_deref(), Some("\"***\""));
    }
}
