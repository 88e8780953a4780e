//! The Taobao Open Platform client (`POST /router/rest`).
//!
//! System parameters (`method`, `app_key`, `session`, `timestamp` in GMT+8, `format`, `v=2.0`,
//! `sign_method`, `partner_id`, `simplify`, `sign`) travel in the URL query and business
//! parameters in a form body, as the official Java SDK sends them; the signature covers all of
//! them (docs/protocol/top.md §5). TOP answers are not signed: they are parsed strictly (JSON, simplified
//! JSON or XML) and an `error_response` becomes a typed error.

use std::sync::Arc;

use chrono::Utc;
use serde::de::DeserializeOwned;
use serde_json::Value;

use tradeq_wire::params::{encode_form, Charset};
use tradeq_wire::time::format_gmt8;
use tradeq_wire::top::request::SYSTEM_PARAMS;
use tradeq_wire::top::{
    parse_json_response, parse_xml_response, sign_string, SignMethod, TopError, TopFormat,
    TopParseError,
};

use crate::error::{
    Authenticity, ConfigError, Error, PlatformError, Protocol, TransportError, VerificationError,
};
use crate::model::{
    EdiAlipayTradeQueryRequest, EdiAlipayTradeQueryResponse, OmniOrder, OmniOrderQueryRequest,
    OmniOrderQueryResponse, XlifeOnsiteTradeQueryRequest, XlifeOnsiteTradeQueryResponse,
};
use crate::options::{exchange, gateway_url, ClientOptions, RawAnswer};

/// The real TOP gateway (HTTPS).
pub const TOP_GATEWAY: &str = "https://eco.taobao.com/router/rest";
/// The TOP sandbox gateway.
pub const TOP_SANDBOX_GATEWAY: &str = "http://gw.api.tbsandbox.com/router/rest";

/// Configuration of a TOP app.
#[derive(Debug, Clone)]
pub struct TopConfig {
    /// tradeq's base URL (`http://127.0.0.1:8080`, `/router/rest` is appended) or
    /// [`TOP_GATEWAY`].
    pub gateway_url: String,
    /// The app key.
    pub app_key: String,
    /// The app secret.
    pub app_secret: String,
    /// The user session, for methods that act for a merchant (`alibaba.xlife.onsite.trade.query`,
    /// `alibaba.omni.order.query`).
    pub session: Option<String>,
    /// Digest of the signature; default [`SignMethod::HmacSha256`] (the Java SDK's default).
    pub sign_method: SignMethod,
    /// Answer format; default JSON.
    pub format: TopFormat,
    /// Ask for simplified JSON (`simplify=true`; JSON only).
    pub simplify: bool,
    /// `partner_id` (signed like any parameter); `None` to omit.
    pub partner_id: Option<String>,
    /// Timeouts, retries and limits.
    pub options: ClientOptions,
}

impl TopConfig {
    /// A configuration with the defaults: no session, hmac-sha256, JSON, not simplified.
    pub fn new(
        gateway_url: impl Into<String>,
        app_key: impl Into<String>,
        app_secret: impl Into<String>,
    ) -> TopConfig {
        TopConfig {
            gateway_url: gateway_url.into(),
            app_key: app_key.into(),
            app_secret: app_secret.into(),
            session: None,
            sign_method: SignMethod::HmacSha256,
            format: TopFormat::Json,
            simplify: false,
            partner_id: Some(concat!("tradeq-client-", env!("CARGO_PKG_VERSION")).to_string()),
            options: ClientOptions::default(),
        }
    }
}

/// A TOP answer that parsed as the method's success.
#[derive(Debug, Clone, PartialEq)]
pub struct TopResponse {
    /// The method called.
    pub method: String,
    /// The format of `raw`.
    pub format: TopFormat,
    /// The body exactly as received.
    pub raw: String,
    /// The business object, normalized: root and `request_id` removed, lists as arrays (XML
    /// leaves are strings).
    pub value: Value,
}

impl TopResponse {
    /// The answer as a typed response.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_value(self.value.clone()).map_err(|e| Error::Decode(e.to_string()))
    }

    /// A business failure reported inside the answer rather than as an `error_response`: a
    /// `result` object with `success` false (the style of `alibaba.omni.order.query`), as a
    /// business error with `msg_code` / `msg_info`.
    pub fn business_failure(&self) -> Option<Error> {
        let result = self.value.get("result")?;
        let failed = match result.get("success")? {
            Value::Bool(b) => !b,
            Value::String(s) => s == "false",
            _ => false,
        };
        if !failed {
            return None;
        }
        let text = |k: &str| result.get(k).and_then(Value::as_str).map(str::to_string);
        let code = text("msg_code").unwrap_or_else(|| "result.success=false".to_string());
        let msg = text("msg_info").unwrap_or_default();
        Some(Error::Business(Box::new(PlatformError {
            protocol: Protocol::Top,
            method: self.method.clone(),
            sub_code: Some(code.clone()),
            sub_msg: Some(msg.clone()),
            code,
            msg,
            http_status: None,
            authenticity: Authenticity::NotSigned,
            trace_id: None,
            body: self.raw.clone(),
        })))
    }
}

/// A signed TOP request before it is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopSignedRequest {
    /// URL query parameters: the system parameters, `sign` last.
    pub query: Vec<(String, String)>,
    /// Form body parameters: the business parameters.
    pub body: Vec<(String, String)>,
    /// The string-to-sign (docs/protocol/top.md §5), without the secret.
    pub sign_string: String,
}

#[derive(Debug)]
struct Inner {
    config: TopConfig,
    url: reqwest::Url,
    http: reqwest::Client,
}

/// A Taobao Open Platform client. Cheap to clone.
///
/// ```no_run
/// # async fn demo() -> Result<(), tradeq_client::Error> {
/// use tradeq_client::{TopClient, TopConfig, model::XlifeOnsiteTradeQueryRequest};
/// let mut config = TopConfig::new("http://127.0.0.1:8080", "12345678", "secret");
/// config.session = Some("session-of-the-merchant".into());
/// let client = TopClient::new(config)?;
/// let answer = client
///     .xlife_onsite_trade_query(&XlifeOnsiteTradeQueryRequest::by_short_trade_no("77778888"))
///     .await?;
/// println!("{}", answer.onsite_trade_query_response.trade_status);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct TopClient {
    inner: Arc<Inner>,
}

impl TopClient {
    /// Builds a client.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for a bad gateway URL, an empty app key or secret, or `simplify` with
    /// XML.
    pub fn new(config: TopConfig) -> Result<TopClient, Error> {
        let url = gateway_url(&config.gateway_url, "/router/rest")?;
        if config.app_key.trim().is_empty() || config.app_secret.is_empty() {
            return Err(
                ConfigError::Invalid("the TOP app key and secret must be set".into()).into(),
            );
        }
        if config.simplify && config.format == TopFormat::Xml {
            return Err(
                ConfigError::Invalid("simplify applies to JSON answers only".into()).into(),
            );
        }
        let http = config.options.http_client()?;
        Ok(TopClient {
            inner: Arc::new(Inner { config, url, http }),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &TopConfig {
        &self.inner.config
    }

    /// The same client with another session (`None`: no session).
    pub fn with_session(&self, session: Option<String>) -> TopClient {
        self.with_config(|c| c.session = session)
    }

    /// The same client asking for another answer format and style.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for `simplify` with XML.
    pub fn with_format(&self, format: TopFormat, simplify: bool) -> Result<TopClient, Error> {
        if simplify && format == TopFormat::Xml {
            return Err(
                ConfigError::Invalid("simplify applies to JSON answers only".into()).into(),
            );
        }
        Ok(self.with_config(|c| {
            c.format = format;
            c.simplify = simplify;
        }))
    }

    fn with_config(&self, change: impl FnOnce(&mut TopConfig)) -> TopClient {
        let mut config = self.inner.config.clone();
        change(&mut config);
        TopClient {
            inner: Arc::new(Inner {
                config,
                url: self.inner.url.clone(),
                http: self.inner.http.clone(),
            }),
        }
    }

    /// `alibaba.xlife.onsite.trade.query` (needs the session of the trade's merchant).
    ///
    /// # Errors
    ///
    /// [`Error::Business`] with `sub_code` `isp.TRADE_ORDER_NOT_FOUND` or
    /// `isv.INVALID_PARAMETER`; [`Error::Gateway`] code 26 without a session; see
    /// [`TopClient::call`].
    pub async fn xlife_onsite_trade_query(
        &self,
        request: &XlifeOnsiteTradeQueryRequest,
    ) -> Result<XlifeOnsiteTradeQueryResponse, Error> {
        let params = request.params();
        self.call("alibaba.xlife.onsite.trade.query", &borrow(&params))
            .await?
            .parse()
    }

    /// `tmall.luxury.stage.edi.alipay.trade.query` (acts for the app's merchant; no session
    /// needed).
    ///
    /// # Errors
    ///
    /// [`Error::Business`] with `sub_code` `ACQ.TRADE_NOT_EXIST` or `ACQ.INVALID_PARAMETER`;
    /// see [`TopClient::call`].
    pub async fn edi_alipay_trade_query(
        &self,
        request: &EdiAlipayTradeQueryRequest,
    ) -> Result<EdiAlipayTradeQueryResponse, Error> {
        let json =
            serde_json::to_string(request).map_err(|e| Error::InvalidRequest(e.to_string()))?;
        self.call(
            "tmall.luxury.stage.edi.alipay.trade.query",
            &[("edi_alipay_trade_query_request", json.as_str())],
        )
        .await?
        .parse()
    }

    /// `alibaba.omni.order.query` (needs the session of the order's merchant). A `result` with
    /// `success` false is returned as [`Error::Business`] with its `msg_code`
    /// (`daogoubao.order-not-exist`) as `sub_code`.
    ///
    /// # Errors
    ///
    /// As described, plus [`Error::Gateway`] code 40 for a missing key; see [`TopClient::call`].
    pub async fn omni_order_query(
        &self,
        request: &OmniOrderQueryRequest,
    ) -> Result<OmniOrder, Error> {
        let params = request.params();
        let response = self
            .call("alibaba.omni.order.query", &borrow(&params))
            .await?;
        if let Some(err) = response.business_failure() {
            return Err(err);
        }
        let parsed: OmniOrderQueryResponse = response.parse()?;
        parsed.result.model.ok_or_else(|| {
            Error::Decode("`result.model` is missing from a successful answer".into())
        })
    }

    /// Calls any method with business parameters; retries temporary failures per the configured
    /// policy.
    ///
    /// # Errors
    ///
    /// [`Error::Gateway`] for an `error_response` with a platform code (signature, app, session,
    /// arguments, flow control, platform faults), [`Error::Business`] for code 15/50 with a
    /// business sub-code, [`Error::Verification`] for a body that is not the method's answer,
    /// [`Error::Transport`] for network failures and non-200 statuses.
    pub async fn call(&self, method: &str, params: &[(&str, &str)]) -> Result<TopResponse, Error> {
        self.inner
            .config
            .options
            .retry
            .run(|| async {
                let timestamp = format_gmt8(Utc::now());
                let request = self.sign_request(method, params, &timestamp)?;
                self.send(method, &request.query, &request.body).await
            })
            .await
    }

    /// Builds and signs a request without sending it: the URL query parameters (with `sign`)
    /// and the body parameters. Empty business values are left out (as the Java SDK does).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRequest`] for a business parameter that collides with a system one, or
    /// a failed digest.
    pub fn sign_request(
        &self,
        method: &str,
        params: &[(&str, &str)],
        timestamp: &str,
    ) -> Result<TopSignedRequest, Error> {
        let c = &self.inner.config;
        let mut system: Vec<(String, String)> = vec![
            ("method".into(), method.to_string()),
            ("app_key".into(), c.app_key.clone()),
            ("timestamp".into(), timestamp.to_string()),
            ("format".into(), c.format.as_str().to_string()),
            ("v".into(), "2.0".into()),
            ("sign_method".into(), c.sign_method.as_str().to_string()),
        ];
        if let Some(s) = c.session.as_deref().filter(|s| !s.trim().is_empty()) {
            system.push(("session".into(), s.to_string()));
        }
        if let Some(p) = c.partner_id.as_deref().filter(|p| !p.trim().is_empty()) {
            system.push(("partner_id".into(), p.to_string()));
        }
        if c.simplify {
            system.push(("simplify".into(), "true".into()));
        }
        let mut business: Vec<(String, String)> = Vec::new();
        for (k, v) in params {
            if v.trim().is_empty() {
                continue;
            }
            if SYSTEM_PARAMS.contains(k) || business.iter().any(|(b, _)| b == k) {
                return Err(Error::InvalidRequest(format!(
                    "parameter `{k}` is a system parameter or given twice"
                )));
            }
            business.push((k.to_string(), v.to_string()));
        }
        let s = sign_string(
            system
                .iter()
                .chain(business.iter())
                .map(|(k, v)| (k.as_str(), v.as_str())),
            false,
        );
        let sign = tradeq_wire::top::sign::sign(&c.app_secret, c.sign_method, &s);
        system.push(("sign".into(), sign));
        Ok(TopSignedRequest {
            query: system,
            body: business,
            sign_string: s,
        })
    }

    async fn send(
        &self,
        method: &str,
        query: &[(String, String)],
        body: &[(String, String)],
    ) -> Result<TopResponse, Error> {
        let c = &self.inner.config;
        let mut url = self.inner.url.clone();
        url.set_query(Some(&encode_form(
            query.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            Charset::Utf8,
        )));
        let builder = self
            .inner
            .http
            .post(url)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded;charset=UTF-8",
            )
            .body(encode_form(
                body.iter().map(|(k, v)| (k.as_str(), v.as_str())),
                Charset::Utf8,
            ));
        let answer = exchange(builder, c.options.max_response_bytes).await?;
        read_answer(&answer, method, c.format, c.simplify)
    }
}

fn borrow(params: &[(String, String)]) -> Vec<(&str, &str)> {
    params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

/// Parses a TOP answer into a response or a typed error.
fn read_answer(
    answer: &RawAnswer,
    method: &str,
    format: TopFormat,
    simplify: bool,
) -> Result<TopResponse, Error> {
    if answer.status != 200 {
        return Err(TransportError::Status {
            status: answer.status,
            body: answer.body_excerpt(),
        }
        .into());
    }
    let raw =
        String::from_utf8(answer.body.clone()).map_err(|_| VerificationError::Charset("utf-8"))?;
    let parsed = match format {
        TopFormat::Json => parse_json_response(&raw, method, simplify),
        TopFormat::Xml => parse_xml_response(&raw, method),
    };
    match parsed {
        Ok(value) => Ok(TopResponse {
            method: method.to_string(),
            format,
            raw,
            value,
        }),
        Err(TopParseError::Gateway { error, request_id }) => {
            Err(platform_error(method, &error, request_id, raw))
        }
        Err(e) => Err(VerificationError::TopShape(e).into()),
    }
}

/// Codes 15 and 50 ("Remote service error") carry the method's own sub-code: a business
/// failure, unless the sub-code is a platform fault (`isp.` followed by lower-case words, such as
/// `isp.top-remote-connection-timeout`). Every other code is the gateway's.
fn platform_error(method: &str, e: &TopError, request_id: Option<String>, body: String) -> Error {
    let business = matches!(e.code, 15 | 50)
        && e.sub_code.as_deref().is_some_and(|s| {
            let platform_fault =
                s.starts_with("isp.") && !s.bytes().any(|b| b.is_ascii_uppercase());
            !s.is_empty() && !platform_fault
        });
    let err = Box::new(PlatformError {
        protocol: Protocol::Top,
        method: method.to_string(),
        code: e.code.to_string(),
        msg: e.msg.clone(),
        sub_code: e.sub_code.clone(),
        sub_msg: e.sub_msg.clone(),
        http_status: None,
        authenticity: Authenticity::NotSigned,
        trace_id: request_id,
        body,
    });
    if business {
        Error::Business(err)
    } else {
        Error::Gateway(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(sign_method: SignMethod, session: Option<&str>) -> TopClient {
        let mut c = TopConfig::new("http://127.0.0.1:9/", "12345678", "helloworld");
        c.sign_method = sign_method;
        c.session = session.map(str::to_string);
        c.partner_id = None;
        TopClient::new(c).unwrap()
    }

    fn sign_of(q: &[(String, String)]) -> &str {
        q.iter()
            .find(|(k, _)| k == "sign")
            .map(|(_, v)| v.as_str())
            .unwrap()
    }

    /// docs/protocol/top.md §5.1: the official documentation's vector.
    #[test]
    fn doc_vector_comes_out_of_the_signer() {
        let c = client(SignMethod::Md5, Some("test"));
        let TopSignedRequest {
            query: q, body: b, ..
        } = c
            .sign_request(
                "taobao.item.seller.get",
                &[
                    ("fields", "num_iid,title,nick,price,num"),
                    ("num_iid", "11223344"),
                ],
                "2016-01-01 12:00:00",
            )
            .unwrap();
        assert_eq!(sign_of(&q), "66987CB115214E59E6EC978214934FB8");
        assert_eq!(b.len(), 2);
        let c = client(SignMethod::Hmac, Some("test"));
        let TopSignedRequest { query: q, .. } = c
            .sign_request(
                "taobao.item.seller.get",
                &[
                    ("fields", "num_iid,title,nick,price,num"),
                    ("num_iid", "11223344"),
                ],
                "2016-01-01 12:00:00",
            )
            .unwrap();
        assert_eq!(sign_of(&q), "D56D7858309C31B6251083A874D48273");
        let c = client(SignMethod::HmacSha256, Some("test"));
        let TopSignedRequest { query: q, .. } = c
            .sign_request(
                "taobao.item.seller.get",
                &[
                    ("fields", "num_iid,title,nick,price,num"),
                    ("num_iid", "11223344"),
                ],
                "2016-01-01 12:00:00",
            )
            .unwrap();
        assert_eq!(
            sign_of(&q),
            "04DB15AD0774D5CFCE2C837DE43E3FCEA9011ED74F3038FB6AB5F3C4CEA119E8"
        );
    }

    /// docs/protocol/top.md §5.1: the in-scope EDI example, with `partner_id`.
    #[test]
    fn edi_vector_comes_out_of_the_signer() {
        for (m, want) in [
            (SignMethod::Md5, "6742B0372E20FB719C6C8E8C5407802F"),
            (SignMethod::Hmac, "6F7B70D4BD5AE3E954AA05A3532F6947"),
            (
                SignMethod::HmacSha256,
                "22620C8A26F07855338D23706EFA117FB89246FFE83A32B7A766BE57645914B3",
            ),
        ] {
            let mut cfg = TopConfig::new("http://127.0.0.1:9", "12345678", "helloworld");
            cfg.sign_method = m;
            cfg.session = Some("test-session".into());
            cfg.partner_id = Some("top-sdk-java-20200706".into());
            let c = TopClient::new(cfg).unwrap();
            let TopSignedRequest {
                query: q, body: b, ..
            } = c
                .sign_request(
                    "tmall.luxury.stage.edi.alipay.trade.query",
                    &[(
                        "edi_alipay_trade_query_request",
                        r#"{"out_trade_no":"T20240101001","trade_no":"2024010122001"}"#,
                    )],
                    "2024-01-01 12:00:00",
                )
                .unwrap();
            assert_eq!(sign_of(&q), want, "{m:?}");
            assert_eq!(b[0].0, "edi_alipay_trade_query_request");
            assert!(q.iter().any(|(k, v)| k == "v" && v == "2.0"));
        }
    }

    /// The non-ASCII vector: UTF-8 bytes are hashed.
    #[test]
    fn non_ascii_vector() {
        let c = client(SignMethod::Md5, None);
        let TopSignedRequest { query: q, .. } = c
            .sign_request(
                "alibaba.omni.order.query",
                &[("note", "测试")],
                "2024-01-01 12:00:00",
            )
            .unwrap();
        assert_eq!(sign_of(&q), "5683121CAF74EE60D4DB8CD76D7C3146");
    }

    #[test]
    fn system_parameters_cannot_be_smuggled() {
        let c = client(SignMethod::Md5, None);
        assert!(c.sign_request("m", &[("sign", "x")], "t").is_err());
        assert!(c.sign_request("m", &[("a", "1"), ("a", "2")], "t").is_err());
    }

    #[test]
    fn error_classification() {
        let e = |code, sub: Option<&str>| {
            let err = TopError {
                code,
                msg: "m".into(),
                sub_code: sub.map(str::to_string),
                sub_msg: None,
            };
            platform_error("x", &err, None, String::new())
        };
        assert!(matches!(
            e(50, Some("isp.TRADE_ORDER_NOT_FOUND")),
            Error::Business(_)
        ));
        assert!(matches!(
            e(15, Some("isv.MOBILE_NUMBER_ILLEGAL")),
            Error::Business(_)
        ));
        assert!(matches!(
            e(50, Some("ACQ.TRADE_NOT_EXIST")),
            Error::Business(_)
        ));
        assert!(matches!(
            e(15, Some("isp.top-remote-connection-timeout")),
            Error::Gateway(_)
        ));
        assert!(matches!(e(50, None), Error::Gateway(_)));
        assert!(matches!(e(25, None), Error::Gateway(_)));
        assert!(matches!(e(40, None), Error::Gateway(_)));
    }
}
