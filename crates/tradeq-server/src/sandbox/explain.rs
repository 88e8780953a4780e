//! `POST /v1/explain`: the authentication analysis of a raw request, without serving it.
//!
//! The request is parsed as its front door parses it, its common parameters, timestamp and
//! signature are checked against the registered credentials, and a refused check is diagnosed as
//! a live request would be. Nothing is stored: no nonce is spent, no method runs, the journal is
//! not written.

use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method as HttpMethod, Uri};
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use tradeq_wire::alipay::sign::{v2_verify_request, SignType};
use tradeq_wire::alipay::v2;
use tradeq_wire::alipay::v3::{parse_authorization, request_sign_content};
use tradeq_wire::params::ParamSet;
use tradeq_wire::top::{self, sign::verify_detailed};

use super::journal::{mask_secret, JournalParams};
use super::{diagnose, FrontDoor};
use crate::credentials::resolve_alipay_app;
use crate::front_door::alipay_v2::request_charset;
use crate::front_door::alipay_v3::check_timestamp;
use crate::front_door::params::collect;
use crate::methods::{Method, Platform};
use crate::state::AppState;

/// A raw request to analyse.
#[derive(Debug, Clone)]
pub struct RawRequest {
    /// `GET`, `POST`, …
    pub method: HttpMethod,
    /// Path and query (`/gateway.do?…`); a full URL's scheme and host are ignored.
    pub uri: Uri,
    /// The headers that matter: `Content-Type`, `Authorization`, `alipay-app-auth-token`.
    pub headers: HeaderMap,
    /// The body.
    pub body: Vec<u8>,
}

/// Why a raw request could not be analysed at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExplainError {
    /// A field of the request is unusable.
    #[error("{field}: {reason}")]
    Invalid {
        /// `method`, `url`, `headers`, `body`.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
}

impl RawRequest {
    /// Builds a request from the fields of `POST /v1/explain`.
    pub fn from_parts(
        method: &str,
        url: &str,
        headers: &[(String, String)],
        body: &str,
    ) -> Result<RawRequest, ExplainError> {
        let invalid = |field, reason: String| ExplainError::Invalid { field, reason };
        let method = HttpMethod::from_bytes(method.as_bytes())
            .map_err(|_| invalid("method", format!("`{method}` is not an HTTP method")))?;
        let uri: Uri = url
            .parse()
            .map_err(|e| invalid("url", format!("not a URL or path: {e}")))?;
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            let n = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| invalid("headers", format!("`{name}` is not a header name")))?;
            let v = HeaderValue::from_str(value)
                .map_err(|_| invalid("headers", format!("the value of `{name}` is not valid")))?;
            map.append(n, v);
        }
        Ok(RawRequest {
            method,
            uri,
            headers: map,
            body: body.as_bytes().to_vec(),
        })
    }
}

/// The analysis.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Explanation {
    /// `alipay_v2`, `alipay_v3` or `top`.
    pub front_door: &'static str,
    /// The app id or app key the request names.
    pub app: Option<String>,
    /// `ok` when the request would pass authentication, else `error`.
    pub outcome: &'static str,
    /// The check that failed: `parameters`, `app`, `timestamp`, `signature`.
    pub failed_check: Option<&'static str>,
    /// The error the front door would answer with (its sub-code or code, and message).
    pub error: Option<String>,
    /// The string the server verifies (credentials masked).
    pub sign_string: Option<String>,
    /// Plain-English findings; empty when nothing failed.
    pub diagnosis: Vec<String>,
}

impl Explanation {
    fn new(front_door: FrontDoor) -> Explanation {
        Explanation {
            front_door: front_door.as_str(),
            app: None,
            outcome: "ok",
            failed_check: None,
            error: None,
            sign_string: None,
            diagnosis: Vec::new(),
        }
    }

    fn fail(mut self, check: &'static str, error: String, diagnosis: Vec<String>) -> Self {
        self.outcome = "error";
        self.failed_check = Some(check);
        self.error = Some(error);
        self.diagnosis = diagnosis;
        self
    }
}

/// Analyses `req` as the front door its path names would.
pub async fn explain(state: &AppState, req: &RawRequest) -> Result<Explanation, ExplainError> {
    let path = req.uri.path();
    match FrontDoor::for_path(path) {
        Some(FrontDoor::AlipayV2) => Ok(alipay_v2(state, req).await),
        Some(FrontDoor::Top) => Ok(top_request(state, req).await),
        Some(FrontDoor::AlipayV3) => Ok(alipay_v3(state, req).await),
        None => Err(ExplainError::Invalid {
            field: "url",
            reason: format!("the path `{path}` is none of /gateway.do, /v3/…, /router/rest"),
        }),
    }
}

fn params_of(req: &RawRequest, charset: tradeq_wire::params::Charset) -> Result<ParamSet, String> {
    collect(req.uri.query(), &req.headers, &req.body, charset).map_err(|e| e.to_string())
}

async fn alipay_v2(state: &AppState, req: &RawRequest) -> Explanation {
    let mut out = Explanation::new(FrontDoor::AlipayV2);
    let (charset, _) = request_charset(req.uri.query(), &req.body);
    let params = match params_of(req, charset) {
        Ok(p) => p,
        Err(e) => return out.fail("parameters", e, Vec::new()),
    };
    out.app = params.get("app_id").map(str::to_string);
    out.sign_string = Some(tradeq_wire::alipay::sign::v2_sign_content(
        JournalParams::capture(params.iter()).iter(),
        false,
    ));
    let now = Utc::now();
    let window = Duration::seconds(state.config.v2_timestamp_window_secs);
    let common = match v2::read_common(&params, now, window, |m| {
        Method::from_name(m).is_some_and(|m| m.platform() == Platform::Alipay)
    }) {
        Ok(c) => c,
        Err(e) if e.sub_code == "isv.invalid-timestamp" => {
            let value = params.get("timestamp");
            let parsed = value.and_then(tradeq_wire::time::parse_gmt8);
            let findings = diagnose::timestamp(value, parsed, now, window, false);
            return out.fail("timestamp", v2_error_text(&e), findings);
        }
        Err(e) => return out.fail("parameters", v2_error_text(&e), Vec::new()),
    };
    let app = match resolve_alipay_app(state, &common.app_id).await {
        Ok(Some(app)) => app,
        _ => {
            let e = v2::V2Error::invalid_app_id();
            return out.fail(
                "app",
                v2_error_text(&e),
                vec![format!(
                    "app_id {} is not registered on this server (`tradeq apps alipay list`).",
                    common.app_id
                )],
            );
        }
    };
    let sign_type: SignType = common.sign_type;
    let verdict = v2_verify_request(
        &app.app_public_key,
        sign_type,
        params.iter(),
        &common.sign,
        common.charset,
    );
    if verdict.is_ok() {
        return out;
    }
    let pairs: Vec<(&str, &str)> = params.iter().collect();
    let findings = diagnose::v2_signature(state, &app, &pairs, common.charset).await;
    out.fail("signature", "isv.invalid-signature".to_string(), findings)
}

fn v2_error_text(e: &v2::V2Error) -> String {
    format!("{} {}: {}", e.code, e.sub_code, e.sub_msg)
}

fn top_error_text(e: &top::TopError) -> String {
    let mut s = format!("{} {}", e.code, e.msg);
    if let Some(sub) = &e.sub_code {
        s.push_str(&format!(" {sub}"));
    }
    if let Some(msg) = &e.sub_msg {
        s.push_str(&format!(": {msg}"));
    }
    s
}

async fn top_request(state: &AppState, req: &RawRequest) -> Explanation {
    let mut out = Explanation::new(FrontDoor::Top);
    let params = match params_of(req, tradeq_wire::params::Charset::Utf8) {
        Ok(p) => p,
        Err(e) => return out.fail("parameters", e, Vec::new()),
    };
    out.app = params.get("app_key").map(str::to_string);
    out.sign_string = Some(tradeq_wire::top::sign::sign_string(
        JournalParams::capture(params.iter()).iter(),
        false,
    ));
    let pairs: Vec<(&str, &str)> = params.iter().collect();
    let now = Utc::now();
    let window = Duration::try_seconds(state.config.top_timestamp_window_secs)
        .unwrap_or(top::request::TIMESTAMP_WINDOW);
    let common = match top::read_common_within(&pairs, now, window, |m| {
        Method::from_name(m).is_some_and(|m| m.platform() == Platform::Top)
    }) {
        Ok(c) => c,
        Err(e) if e.code == top::TopError::invalid_timestamp().code => {
            let value = params.get("timestamp");
            let parsed = value.and_then(top::request::parse_timestamp);
            let findings = diagnose::timestamp(value, parsed, now, window, true);
            return out.fail("timestamp", top_error_text(&e), findings);
        }
        Err(e) => return out.fail("parameters", top_error_text(&e), Vec::new()),
    };
    let app = match state
        .credentials
        .top_app(state.store.as_ref(), &common.app_key)
        .await
    {
        Ok(Some(app)) => app,
        _ => {
            return out.fail(
                "app",
                top_error_text(&top::TopError::invalid_app_key()),
                vec![format!(
                    "app_key {} is not registered on this server (`tradeq apps top list`).",
                    common.app_key
                )],
            )
        }
    };
    if verify_detailed(
        &app.app_secret,
        common.sign_method,
        params.iter(),
        &common.sign,
    )
    .is_ok()
    {
        return out;
    }
    let findings = diagnose::top_signature(state, &app, &pairs).await;
    out.fail(
        "signature",
        top_error_text(&top::TopError::invalid_signature(None)),
        findings,
    )
}

async fn alipay_v3(state: &AppState, req: &RawRequest) -> Explanation {
    let mut out = Explanation::new(FrontDoor::AlipayV3);
    let header_text = match req
        .headers
        .get(header::AUTHORIZATION)
        .map(|v| v.to_str().map(str::to_string))
    {
        Some(Ok(text)) => text,
        Some(Err(_)) => {
            return out.fail(
                "parameters",
                "invalid-parameter".to_string(),
                vec!["The Authorization header has non-ASCII characters.".to_string()],
            )
        }
        None => {
            return out.fail(
                "parameters",
                "missing-signature".to_string(),
                vec!["There is no Authorization header: a v3 request carries `Authorization: ALIPAY-SHA256withRSA app_id=…,nonce=…,timestamp=…,sign=…`.".to_string()],
            )
        }
    };
    let auth = match parse_authorization(&header_text) {
        Ok(a) => a,
        Err(e) => return out.fail("parameters", e.to_string(), Vec::new()),
    };
    out.app = Some(auth.app_id.clone());
    let token = req
        .headers
        .get("alipay-app-auth-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let shown_token = token.as_deref().map(mask_secret);
    let target = req
        .uri
        .path_and_query()
        .map_or_else(|| req.uri.path().to_string(), |pq| pq.as_str().to_string());
    let content = request_sign_content(
        &auth.auth_string,
        req.method.as_str(),
        &target,
        &req.body,
        shown_token.as_deref(),
    );
    out.sign_string = Some(String::from_utf8_lossy(&content).into_owned());
    let now = Utc::now();
    let window = Duration::seconds(state.config.v3_timestamp_window_secs);
    if let Err(e) = check_timestamp(window, &auth, now) {
        let parsed = DateTime::<Utc>::from_timestamp_millis(auth.timestamp_ms);
        let value = auth.timestamp_ms.to_string();
        let findings = diagnose::timestamp(Some(&value), parsed, now, window, true);
        return out.fail("timestamp", e.code, findings);
    }
    let app = match resolve_alipay_app(state, &auth.app_id).await {
        Ok(Some(app)) => app,
        _ => {
            return out.fail(
                "app",
                "invalid-app-id".to_string(),
                vec![format!(
                    "app_id {} is not registered on this server (`tradeq apps alipay list`).",
                    auth.app_id
                )],
            )
        }
    };
    let content = request_sign_content(
        &auth.auth_string,
        req.method.as_str(),
        &target,
        &req.body,
        token.as_deref(),
    );
    if app
        .app_public_key
        .verify(SignType::Rsa2, &content, &auth.sign)
    {
        return out;
    }
    let signed = tradeq_wire::diagnosis::alipay_v3::V3Signed {
        auth_string: &auth.auth_string,
        http_method: req.method.as_str(),
        target: &target,
        body: &req.body,
        app_auth_token: token.as_deref(),
        sign: &auth.sign,
    };
    let findings = diagnose::v3_signature(state, &app, &signed, shown_token.as_deref()).await;
    out.fail("signature", "invalid-signature".to_string(), findings)
}
