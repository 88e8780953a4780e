//! Money as integer minor units of an ISO 4217 currency.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The currencies the Alipay documents list, with their ISO 4217 minor digits.
const CURRENCIES: &[(&str, u8)] = &[
    ("AED", 2),
    ("AUD", 2),
    ("CAD", 2),
    ("CHF", 2),
    ("CNY", 2),
    ("CZK", 2),
    ("DKK", 2),
    ("EUR", 2),
    ("GBP", 2),
    ("HKD", 2),
    ("IDR", 2),
    ("ILS", 2),
    ("JPY", 0),
    ("KRW", 0),
    ("LKR", 2),
    ("MUR", 2),
    ("MYR", 2),
    ("NOK", 2),
    ("NZD", 2),
    ("PHP", 2),
    ("RUB", 2),
    ("SEK", 2),
    ("SGD", 2),
    ("THB", 2),
    ("TWD", 2),
    ("USD", 2),
    ("ZAR", 2),
];

/// An ISO 4217 currency the platforms support.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency {
    code: &'static str,
    minor_digits: u8,
}

impl Currency {
    /// Renminbi, the default currency of every amount the documents do not qualify.
    pub const CNY: Currency = Currency {
        code: "CNY",
        minor_digits: 2,
    };

    /// Looks a currency up by its upper-case ISO code.
    pub fn from_code(code: &str) -> Option<Currency> {
        CURRENCIES
            .iter()
            .find(|(c, _)| *c == code)
            .map(|&(code, minor_digits)| Currency { code, minor_digits })
    }

    /// The ISO code, e.g. `CNY`.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// How many digits follow the decimal point: 2 for CNY and USD, 0 for JPY and KRW.
    pub fn minor_digits(&self) -> u8 {
        self.minor_digits
    }
}

impl Default for Currency {
    fn default() -> Self {
        Currency::CNY
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code)
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code)
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Currency::from_code(&s).ok_or_else(|| {
            serde::de::Error::custom(format!("`{s}` is not a supported ISO 4217 currency code"))
        })
    }
}

/// An amount: integer minor units of a currency, so 88.88 CNY is `8888` and 100 JPY is `100`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Money {
    /// Minor units (fen for CNY).
    pub minor: i64,
    /// The currency.
    pub currency: Currency,
}

impl Money {
    /// An amount in minor units of `currency`.
    pub fn new(minor: i64, currency: Currency) -> Money {
        Money { minor, currency }
    }

    /// An amount in fen.
    pub fn cny(minor: i64) -> Money {
        Money::new(minor, Currency::CNY)
    }

    /// The amount in major units with exactly the currency's minor digits: `88.88`, `10.00`,
    /// `-0.05`, `100` (JPY).
    pub fn to_decimal_string(&self) -> String {
        // Built digit by digit: this runs for every amount of every answer, and `format!` costs
        // several times as much.
        let digits = usize::from(self.currency.minor_digits);
        let mut buf = [0u8; 48];
        let mut at = buf.len();
        let mut rest = self.minor.unsigned_abs();
        let mut written = 0;
        while rest > 0 || written <= digits {
            if digits > 0 && written == digits {
                at -= 1;
                buf[at] = b'.';
            }
            at -= 1;
            buf[at] = b'0' + (rest % 10) as u8;
            rest /= 10;
            written += 1;
        }
        if self.minor < 0 {
            at -= 1;
            buf[at] = b'-';
        }
        // Only ASCII digits, `.` and `-` were written.
        std::str::from_utf8(&buf[at..])
            .map(str::to_owned)
            .unwrap_or_default()
    }

    /// Parses a decimal string in major units (`88.88`, `10`, `0.5`) exactly; more fraction
    /// digits than the currency has is an error rather than a rounding.
    pub fn parse_decimal(s: &str, currency: Currency) -> Option<Money> {
        let digits = usize::from(currency.minor_digits);
        let (neg, body) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let (int_part, frac_part) = match body.split_once('.') {
            Some((i, f)) => (i, f),
            None => (body, ""),
        };
        if int_part.is_empty()
            || !int_part.bytes().all(|b| b.is_ascii_digit())
            || !frac_part.bytes().all(|b| b.is_ascii_digit())
            || frac_part.len() > digits
            || (body.contains('.') && frac_part.is_empty())
        {
            return None;
        }
        let mut minor: i64 = int_part.parse().ok()?;
        for _ in 0..digits {
            minor = minor.checked_mul(10)?;
        }
        let mut frac: i64 = 0;
        for i in 0..digits {
            let d = frac_part
                .as_bytes()
                .get(i)
                .map_or(0, |b| i64::from(b - b'0'));
            frac = frac * 10 + d;
        }
        minor = minor.checked_add(frac)?;
        Some(Money::new(if neg { -minor } else { minor }, currency))
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.to_decimal_string(), self.currency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_with_the_currency_minor_digits() {
        assert_eq!(Money::cny(8888).to_decimal_string(), "88.88");
        assert_eq!(Money::cny(1000).to_decimal_string(), "10.00");
        assert_eq!(Money::cny(5).to_decimal_string(), "0.05");
        assert_eq!(Money::cny(-5).to_decimal_string(), "-0.05");
        let jpy = Currency::from_code("JPY").unwrap();
        assert_eq!(Money::new(100, jpy).to_decimal_string(), "100");
        let krw = Currency::from_code("KRW").unwrap();
        assert_eq!(krw.minor_digits(), 0);
        assert_eq!(Currency::from_code("USD").unwrap().minor_digits(), 2);
    }

    #[test]
    fn renders_like_the_formatting_machinery_for_every_magnitude() {
        fn reference(m: &Money) -> String {
            let digits = u32::from(m.currency.minor_digits);
            if digits == 0 {
                return m.minor.to_string();
            }
            let scale = 10u64.pow(digits);
            let abs = m.minor.unsigned_abs();
            let sign = if m.minor < 0 { "-" } else { "" };
            format!(
                "{sign}{}.{:0w$}",
                abs / scale,
                abs % scale,
                w = digits as usize
            )
        }
        let mut values = vec![0, 1, 9, 10, 99, 100, 101, 999, 1000, i64::MAX, i64::MIN];
        let mut v: i64 = 7;
        while let Some(next) = v.checked_mul(10) {
            values.extend([v, v + 3, -v]);
            v = next + 1;
        }
        for (code, _) in CURRENCIES {
            let currency = Currency::from_code(code).unwrap();
            for &minor in &values {
                let m = Money::new(minor, currency);
                assert_eq!(m.to_decimal_string(), reference(&m), "{minor} {code}");
            }
        }
    }

    #[test]
    fn parses_decimal_strings_exactly() {
        assert_eq!(
            Money::parse_decimal("88.88", Currency::CNY),
            Some(Money::cny(8888))
        );
        assert_eq!(
            Money::parse_decimal("10", Currency::CNY),
            Some(Money::cny(1000))
        );
        assert_eq!(
            Money::parse_decimal("0.5", Currency::CNY),
            Some(Money::cny(50))
        );
        assert_eq!(Money::parse_decimal("1.234", Currency::CNY), None);
        assert_eq!(Money::parse_decimal("1.", Currency::CNY), None);
        assert_eq!(Money::parse_decimal("abc", Currency::CNY), None);
        let jpy = Currency::from_code("JPY").unwrap();
        assert_eq!(Money::parse_decimal("1.5", jpy), None);
        assert_eq!(
            Money::parse_decimal("99999999999999999999", Currency::CNY),
            None
        );
    }

    #[test]
    fn unknown_currency_is_rejected_by_serde() {
        assert!(serde_json::from_str::<Currency>("\"XXX\"").is_err());
        assert_eq!(
            serde_json::from_str::<Currency>("\"USD\"").unwrap().code(),
            "USD"
        );
    }
}
