//! `tradeq query <method> [key=value …]`: the Rust client from the command line. Signs the call
//! with the credentials file, verifies the answer, and prints it as pretty JSON (or TOP XML).
//!
//! Exit status: 0 success; 1 the platform answered with an error (its code and message on
//! stderr); 2 usage or configuration error; 3 the answer failed verification; 4 transport
//! failure.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, ValueEnum};
use serde_json::{Map, Value};

use tradeq_client::format::{pretty_json, pretty_xml};
use tradeq_client::{
    AlipayV2Client, AlipayV3Client, Credentials, Error, PlatformError, SignMethod, TopClient,
    TopFormat,
};

/// The TOP method whose request is one JSON parameter.
const EDI_METHOD: &str = "tmall.luxury.stage.edi.alipay.trade.query";
const EDI_PARAM: &str = "edi_alipay_trade_query_request";

#[derive(Debug, Args)]
#[command(
    after_help = "Exit status: 0 verified answer printed; 1 the platform answered with an error \
(code and message on stderr); 2 usage or configuration error; 3 the answer failed verification; \
4 transport failure."
)]
pub struct QueryArgs {
    /// The method, e.g. alipay.trade.query, koubei.trade.itemorder.query,
    /// alibaba.xlife.onsite.trade.query, tmall.luxury.stage.edi.alipay.trade.query,
    /// alibaba.omni.order.query (any other name is called generically).
    pub method: String,
    /// Business parameters: `key=value` (a string), or `key:=JSON` (a raw JSON value).
    /// They become biz_content fields (v2), JSON body fields (v3) or TOP parameters;
    /// `query_options=a,b` becomes a JSON array for Alipay. For the EDI method, pairs other than
    /// `edi_alipay_trade_query_request` are wrapped into that JSON parameter.
    pub params: Vec<String>,
    /// Credentials file [default: $TRADEQ_CREDENTIALS, else ./tradeq-data/demo-credentials.json].
    #[arg(long)]
    pub credentials: Option<PathBuf>,
    /// Protocol [default: v2 for Alipay methods, top for alibaba.* / tmall.* / taobao.*].
    #[arg(long, value_enum)]
    pub protocol: Option<ProtocolArg>,
    /// Output format; xml asks TOP for an XML answer (Alipay answers JSON only).
    #[arg(long, value_enum, default_value_t = FormatArg::Json)]
    pub format: FormatArg,
    /// Gateway URL instead of the credentials file's `gateway_url`.
    #[arg(long)]
    pub gateway: Option<String>,
    /// Alipay: act for a merchant through this app auth token.
    #[arg(long)]
    pub app_auth_token: Option<String>,
    /// Alipay v2: encrypt biz_content with the credentials' `aes_key` (encrypt_type=AES).
    #[arg(long)]
    pub encrypt: bool,
    /// Alipay: call as the credentials' certificate-mode app (`alipay.cert_mode`): the
    /// certificate SNs are sent, and answers must name its Alipay certificate.
    #[arg(long)]
    pub cert_mode: bool,
    /// TOP: use this session instead of the file's `top.session`.
    #[arg(long, conflicts_with = "no_session")]
    pub session: Option<String>,
    /// TOP: send no session.
    #[arg(long)]
    pub no_session: bool,
    /// TOP: ask for the simplified JSON style (simplify=true).
    #[arg(long)]
    pub simplify: bool,
    /// TOP: signature digest.
    #[arg(long, value_enum)]
    pub sign_method: Option<SignMethodArg>,
    /// Per-attempt timeout, seconds.
    #[arg(long, default_value_t = 15)]
    pub timeout: u64,
    /// Retries of failures the platform calls temporary (isp.*, 20000, ACQ.SYSTEM_ERROR).
    #[arg(long, default_value_t = 10)]
    pub retries: u32,
    /// Pause between retries, milliseconds.
    #[arg(long, default_value_t = 2000)]
    pub retry_interval_ms: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProtocolArg {
    /// Alipay OpenAPI v2 (/gateway.do).
    V2,
    /// Alipay OpenAPI v3 (/v3/…).
    V3,
    /// Taobao Open Platform (/router/rest).
    Top,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// Pretty JSON.
    Json,
    /// XML (TOP only).
    Xml,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SignMethodArg {
    /// md5
    Md5,
    /// hmac (HMAC-MD5)
    Hmac,
    /// hmac-sha256
    #[value(name = "hmac-sha256")]
    HmacSha256,
}

/// A usage mistake: printed, exit 2.
fn usage(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {msg}");
    ExitCode::from(2)
}

/// The protocol of a method when none is given.
fn default_protocol(method: &str) -> ProtocolArg {
    let top = ["alibaba.", "tmall.", "taobao.", "cainiao."];
    if top.iter().any(|p| method.starts_with(p)) {
        ProtocolArg::Top
    } else {
        ProtocolArg::V2
    }
}

/// One `key=value` / `key:=json` argument.
fn parse_pair(arg: &str) -> Result<(String, Value), String> {
    let eq = arg
        .find('=')
        .ok_or_else(|| format!("`{arg}` is not key=value"))?;
    let (key, raw_json) = match arg[..eq].strip_suffix(':') {
        Some(k) => (k, true),
        None => (&arg[..eq], false),
    };
    if key.is_empty() {
        return Err(format!("`{arg}` has an empty key"));
    }
    let text = &arg[eq + 1..];
    let value = if raw_json {
        serde_json::from_str(text).map_err(|e| format!("`{key}:=` is not JSON: {e}"))?
    } else {
        Value::String(text.to_string())
    };
    Ok((key.to_string(), value))
}

/// The pairs as a JSON object for Alipay (and the EDI parameter): `query_options=a,b` becomes
/// an array.
fn alipay_object(pairs: &[(String, Value)]) -> Result<Map<String, Value>, String> {
    let mut map = Map::new();
    for (k, v) in pairs {
        let v = match (k.as_str(), v) {
            ("query_options", Value::String(s)) => Value::Array(
                s.split(',')
                    .map(str::trim)
                    .filter(|o| !o.is_empty())
                    .map(|o| Value::String(o.to_string()))
                    .collect(),
            ),
            _ => v.clone(),
        };
        if map.insert(k.clone(), v).is_some() {
            return Err(format!("`{k}` is given twice"));
        }
    }
    Ok(map)
}

/// The pairs as TOP parameters: strings as they are, JSON values as their JSON text.
fn top_params(method: &str, pairs: &[(String, Value)]) -> Result<Vec<(String, String)>, String> {
    if method == EDI_METHOD && !pairs.is_empty() && pairs.iter().all(|(k, _)| k != EDI_PARAM) {
        let obj = alipay_object(pairs)?;
        return Ok(vec![(
            EDI_PARAM.to_string(),
            Value::Object(obj).to_string(),
        )]);
    }
    Ok(pairs
        .iter()
        .map(|(k, v)| {
            let text = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (k.clone(), text)
        })
        .collect())
}

pub async fn run(args: QueryArgs) -> anyhow::Result<ExitCode> {
    let pairs: Vec<(String, Value)> = match args.params.iter().map(|a| parse_pair(a)).collect() {
        Ok(p) => p,
        Err(e) => return Ok(usage(e)),
    };
    let path = args
        .credentials
        .clone()
        .unwrap_or_else(Credentials::default_path);
    let mut creds = match Credentials::load(&path) {
        Ok(c) => c,
        Err(e) => {
            return Ok(usage(format!(
                "{e}\n(start `tradeq serve --demo` to create demo credentials, or pass --credentials FILE)"
            )))
        }
    };
    if let Some(g) = &args.gateway {
        creds.gateway_url = g.clone();
    }
    let protocol = args
        .protocol
        .unwrap_or_else(|| default_protocol(&args.method));
    if args.format == FormatArg::Xml && protocol != ProtocolArg::Top {
        return Ok(usage(
            "Alipay answers are JSON only (format=json); --format xml applies to TOP methods",
        ));
    }
    let options = tradeq_client::ClientOptions {
        timeout: Duration::from_secs(args.timeout.max(1)),
        retry: tradeq_client::RetryPolicy {
            max_retries: args.retries,
            interval: Duration::from_millis(args.retry_interval_ms),
            retry_transport: false,
        },
        ..Default::default()
    };
    let outcome = match protocol {
        ProtocolArg::V2 | ProtocolArg::V3 => {
            let built = if args.cert_mode {
                creds.alipay_cert_config()
            } else {
                creds.alipay_config()
            };
            let mut config = match built {
                Ok(c) => c,
                Err(e) => return Ok(usage(e)),
            };
            config.options = options;
            config.app_auth_token = args.app_auth_token.clone();
            if args.encrypt {
                if protocol == ProtocolArg::V3 {
                    return Ok(usage("--encrypt applies to v2"));
                }
                // The certificate-mode app's own key, else the file's (the demo's two Alipay
                // apps share one).
                let alipay = creds.alipay.as_ref();
                config.aes_key = alipay
                    .and_then(|a| a.cert_mode.as_ref())
                    .filter(|_| args.cert_mode)
                    .and_then(|c| c.aes_key.clone())
                    .or_else(|| alipay.and_then(|a| a.aes_key.clone()));
                if config.aes_key.is_none() {
                    return Ok(usage("--encrypt needs `alipay.aes_key` in the credentials"));
                }
            }
            let body = match alipay_object(&pairs) {
                Ok(m) => Value::Object(m),
                Err(e) => return Ok(usage(e)),
            };
            if protocol == ProtocolArg::V2 {
                match AlipayV2Client::new(config) {
                    Ok(c) => match check_sns(&creds, c.cert_sns()) {
                        Ok(()) => c.call(&args.method, &body).await.map(|r| r.raw),
                        Err(e) => Err(e),
                    },
                    Err(e) => Err(e),
                }
            } else {
                match AlipayV3Client::new(config) {
                    Ok(c) => match check_sns(&creds, c.cert_sns()) {
                        Ok(()) => c.call(&args.method, &body).await.map(|r| r.raw),
                        Err(e) => Err(e),
                    },
                    Err(e) => Err(e),
                }
            }
        }
        ProtocolArg::Top => {
            let mut config = match creds.top_config() {
                Ok(c) => c,
                Err(e) => return Ok(usage(e)),
            };
            config.options = options;
            config.format = match args.format {
                FormatArg::Json => TopFormat::Json,
                FormatArg::Xml => TopFormat::Xml,
            };
            config.simplify = args.simplify;
            if let Some(m) = args.sign_method {
                config.sign_method = match m {
                    SignMethodArg::Md5 => SignMethod::Md5,
                    SignMethodArg::Hmac => SignMethod::Hmac,
                    SignMethodArg::HmacSha256 => SignMethod::HmacSha256,
                };
            }
            // The EDI method acts for the app's merchant; the others for the session's.
            if args.no_session || (args.method == EDI_METHOD && args.session.is_none()) {
                config.session = None;
            } else if let Some(s) = &args.session {
                config.session = Some(s.clone());
            }
            let params = match top_params(&args.method, &pairs) {
                Ok(p) => p,
                Err(e) => return Ok(usage(e)),
            };
            let borrowed: Vec<(&str, &str)> = params
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            match TopClient::new(config) {
                Ok(c) => match c.call(&args.method, &borrowed).await {
                    Ok(r) => match r.business_failure() {
                        Some(e) => Err(e),
                        None => Ok(r.raw),
                    },
                    Err(e) => Err(e),
                },
                Err(e) => Err(e),
            }
        }
    };
    match outcome {
        Ok(raw) => {
            let text = if args.format == FormatArg::Xml {
                pretty_xml(&raw)
            } else {
                pretty_json(&raw).unwrap_or(raw)
            };
            // A closed pipe (`| head`) is not an error worth a panic.
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{text}").and_then(|()| out.flush());
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Ok(report(&e)),
    }
}

/// Certificate mode: the SNs the credentials file states must be the certificates'.
fn check_sns(creds: &Credentials, sns: Option<&tradeq_client::CertSns>) -> Result<(), Error> {
    match sns {
        Some(sns) => Ok(creds.check_cert_sns(sns)?),
        None => Ok(()),
    }
}

/// Prints an error with the platform's code and message; returns the exit status.
fn report(e: &Error) -> ExitCode {
    match e {
        Error::Gateway(p) | Error::Business(p) => {
            let kind = if matches!(e, Error::Business(_)) {
                "business error"
            } else {
                "gateway error"
            };
            eprintln!("error: {kind}: {p}");
            print_platform(p);
            ExitCode::from(1)
        }
        Error::Verification(_) | Error::Decode(_) => {
            eprintln!("error: {e}");
            ExitCode::from(3)
        }
        Error::Transport(_) => {
            eprintln!("error: {e}");
            ExitCode::from(4)
        }
        Error::Config(_) | Error::InvalidRequest(_) => usage(e),
    }
}

fn print_platform(p: &PlatformError) {
    eprintln!("  protocol: {} ({})", p.protocol, p.method);
    eprintln!("  code: {}", p.code);
    eprintln!("  msg: {}", p.msg);
    if let Some(s) = &p.sub_code {
        eprintln!("  sub_code: {s}");
    }
    if let Some(s) = &p.sub_msg {
        eprintln!("  sub_msg: {s}");
    }
    if let Some(s) = p.http_status {
        eprintln!("  http_status: {s}");
    }
    if let Some(t) = &p.trace_id {
        eprintln!("  trace_id: {t}");
    }
    let verified = match p.authenticity {
        tradeq_client::Authenticity::Verified => "yes (signature verified)",
        tradeq_client::Authenticity::Unsigned => "NO (the answer was not signed)",
        tradeq_client::Authenticity::NotSigned => "n/a (TOP answers are not signed)",
    };
    eprintln!("  verified: {verified}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_and_objects() {
        assert_eq!(
            parse_pair("a=b=c").unwrap(),
            ("a".into(), Value::String("b=c".into()))
        );
        assert_eq!(parse_pair("n:=5").unwrap(), ("n".into(), Value::from(5)));
        assert!(parse_pair("x").is_err());
        assert!(parse_pair("=x").is_err());
        assert!(parse_pair("n:={").is_err());
        let pairs = vec![
            ("out_trade_no".to_string(), Value::String("T1".into())),
            (
                "query_options".to_string(),
                Value::String("fund_bill_list, trade_settle_info".into()),
            ),
        ];
        let obj = alipay_object(&pairs).unwrap();
        assert_eq!(
            Value::Object(obj).to_string(),
            r#"{"out_trade_no":"T1","query_options":["fund_bill_list","trade_settle_info"]}"#
        );
        let edi = top_params(EDI_METHOD, &pairs).unwrap();
        assert_eq!(edi[0].0, EDI_PARAM);
        let flat = top_params("alibaba.omni.order.query", &pairs).unwrap();
        assert_eq!(flat.len(), 2);
        assert_eq!(default_protocol("alipay.trade.query"), ProtocolArg::V2);
        assert_eq!(
            default_protocol("koubei.trade.itemorder.query"),
            ProtocolArg::V2
        );
        assert_eq!(
            default_protocol("tmall.luxury.stage.edi.alipay.trade.query"),
            ProtocolArg::Top
        );
    }
}
