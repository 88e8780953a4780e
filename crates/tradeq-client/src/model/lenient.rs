//! Lenient field readers, as the official SDKs convert: TOP XML gives every leaf as a string, TOP
//! JSON writes an empty list as `{}`, and an XML list without `list="true"` holding one item reads
//! as `{"<item>":{…}}`. Each reader captures the field's raw JSON text first, so number literals
//! keep their exact spelling (`25.00`).

use std::collections::BTreeMap;

use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

fn raw<'de, D: Deserializer<'de>>(d: D) -> Result<Box<RawValue>, D::Error> {
    Box::<RawValue>::deserialize(d)
}

/// The text of a scalar: a string's content, a number's or boolean's literal; `None` for `null`;
/// an error for objects and arrays.
pub(crate) fn scalar_text(raw: &str) -> Result<Option<String>, String> {
    let t = raw.trim();
    match t.as_bytes().first() {
        Some(b'"') => serde_json::from_str::<String>(t)
            .map(Some)
            .map_err(|e| e.to_string()),
        Some(b'{' | b'[') => Err(format!("expected a scalar, found {}", excerpt(t))),
        Some(_) if t == "null" => Ok(None),
        Some(_) => Ok(Some(t.to_string())),
        None => Err("empty value".to_string()),
    }
}

fn excerpt(t: &str) -> String {
    t.chars().take(40).collect()
}

fn parse_int(text: &str) -> Result<i64, String> {
    text.trim()
        .parse::<i64>()
        .map_err(|_| format!("expected an integer, found `{}`", excerpt(text)))
}

fn parse_bool(text: &str) -> Result<bool, String> {
    match text.trim() {
        "true" => Ok(true),
        "false" => Ok(false),
        other => Err(format!("expected a boolean, found `{}`", excerpt(other))),
    }
}

/// An integer given as a JSON number or a numeric string.
pub fn int<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    let r = raw(d)?;
    match scalar_text(r.get()).map_err(D::Error::custom)? {
        Some(t) => parse_int(&t).map_err(D::Error::custom),
        None => Err(D::Error::custom("expected an integer, found null")),
    }
}

/// An optional integer (number, numeric string, or `null`).
pub fn opt_int<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    let r = raw(d)?;
    match scalar_text(r.get()).map_err(D::Error::custom)? {
        Some(t) if t.trim().is_empty() => Ok(None),
        Some(t) => parse_int(&t).map(Some).map_err(D::Error::custom),
        None => Ok(None),
    }
}

/// A boolean given as `true`/`false` or the strings `"true"`/`"false"`.
pub fn bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    let r = raw(d)?;
    match scalar_text(r.get()).map_err(D::Error::custom)? {
        Some(t) => parse_bool(&t).map_err(D::Error::custom),
        None => Err(D::Error::custom("expected a boolean, found null")),
    }
}

/// An optional boolean.
pub fn opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    let r = raw(d)?;
    match scalar_text(r.get()).map_err(D::Error::custom)? {
        Some(t) => parse_bool(&t).map(Some).map_err(D::Error::custom),
        None => Ok(None),
    }
}

/// A list: a JSON array, `{}` or `null` (empty), or a one-key wrapper object
/// `{"<item>": [...]}` / `{"<item>": {…}}` (TOP list style, XML single item).
pub fn vec<'de, D: Deserializer<'de>, T: DeserializeOwned>(d: D) -> Result<Vec<T>, D::Error> {
    let r = raw(d)?;
    vec_from_raw(r.get(), 0).map_err(D::Error::custom)
}

fn vec_from_raw<T: DeserializeOwned>(text: &str, depth: usize) -> Result<Vec<T>, String> {
    let t = text.trim();
    match t.as_bytes().first() {
        Some(b'[') => serde_json::from_str::<Vec<T>>(t).map_err(|e| e.to_string()),
        Some(b'{') if depth == 0 => {
            let map: BTreeMap<String, Box<RawValue>> =
                serde_json::from_str(t).map_err(|e| e.to_string())?;
            let mut values = map.into_values();
            match (values.next(), values.next()) {
                (None, _) => Ok(Vec::new()),
                (Some(inner), None) => {
                    let inner = inner.get().trim();
                    if inner.starts_with('[') {
                        vec_from_raw(inner, depth + 1)
                    } else {
                        serde_json::from_str::<T>(inner)
                            .map(|v| vec![v])
                            .map_err(|e| e.to_string())
                    }
                }
                _ => Err("expected a list, found an object with several keys".to_string()),
            }
        }
        Some(_) if t == "null" || t == "\"\"" => Ok(Vec::new()),
        _ => Err(format!("expected a list, found {}", excerpt(t))),
    }
}

/// Deserializes `T` from raw JSON text (strict, with serde_json's own reader so raw number
/// literals reach [`super::Amount`]).
pub(crate) fn from_text<T: DeserializeOwned>(text: &str) -> Result<T, String> {
    serde_json::from_str::<T>(text).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Item {
        #[serde(deserialize_with = "int")]
        n: i64,
    }

    #[derive(Debug, Deserialize, PartialEq, Default)]
    #[serde(default)]
    struct Holder {
        #[serde(deserialize_with = "vec")]
        items: Vec<Item>,
        #[serde(deserialize_with = "opt_int")]
        o: Option<i64>,
        #[serde(deserialize_with = "opt_bool")]
        b: Option<bool>,
    }

    fn h(text: &str) -> Holder {
        from_text(text).unwrap()
    }

    #[test]
    fn lists_in_every_style() {
        let two = vec![Item { n: 1 }, Item { n: 2 }];
        assert_eq!(h(r#"{"items":[{"n":1},{"n":"2"}]}"#).items, two);
        assert_eq!(h(r#"{"items":{"item":[{"n":1},{"n":2}]}}"#).items, two);
        assert_eq!(
            h(r#"{"items":{"item":{"n":"1"}}}"#).items,
            vec![Item { n: 1 }]
        );
        assert!(h(r#"{"items":{}}"#).items.is_empty());
        assert!(h(r#"{"items":null}"#).items.is_empty());
        assert!(h("{}").items.is_empty());
        assert!(from_text::<Holder>(r#"{"items":{"a":[],"b":[]}}"#).is_err());
        assert!(from_text::<Holder>(r#"{"items":7}"#).is_err());
    }

    #[test]
    fn scalars_from_numbers_or_strings() {
        let x = h(r#"{"o":"12","b":"true"}"#);
        assert_eq!((x.o, x.b), (Some(12), Some(true)));
        let x = h(r#"{"o":12,"b":false}"#);
        assert_eq!((x.o, x.b), (Some(12), Some(false)));
        let x = h(r#"{"o":null,"b":null}"#);
        assert_eq!((x.o, x.b), (None, None));
        assert!(from_text::<Holder>(r#"{"o":"x"}"#).is_err());
        assert!(from_text::<Holder>(r#"{"b":"yes"}"#).is_err());
        // Through a `Value`, as the TOP parsers hand answers over.
        let v: serde_json::Value = serde_json::from_str(r#"{"items":[{"n":"3"}],"o":4}"#).unwrap();
        let x: Holder = serde_json::from_value(v).unwrap();
        assert_eq!((x.items, x.o), (vec![Item { n: 3 }], Some(4)));
    }
}
