//! Taobao Open Platform router: `/router/rest`.
//!
//! Parameters from the URL and the body (urlencoded or multipart) are merged; the system
//! parameters are checked in the gateway's order, the app's signature verified, the session
//! resolved to a merchant, and the method's answer rendered as JSON, simplified JSON or XML.
//! Every answer, errors included, is HTTP 200: the official SDKs drop bodies of other statuses.

use axum::body::Bytes;
use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, Method as HttpMethod, Uri};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde_json::{Map, Value};

use tradeq_model::credentials::TopApp;
use tradeq_wire::params::{raw_form_value, Charset, ParamSet};
use tradeq_wire::top::request::{TopCommon, SYSTEM_PARAMS};
use tradeq_wire::top::sign::{verify_detailed, SignMethod};
use tradeq_wire::top::{self, TopError, TopFormat};

use super::params::{collect, error_param};
use super::request_id;
use crate::methods::{self, Caller, Method, MethodCtx, MethodError, Platform};
use crate::metrics::record_request;
use crate::sandbox::error_catalogue::InjectedError;
use crate::sandbox::faults::{self, Signature};
use crate::sandbox::journal::{JournalParams, Outcome, SignBasis, Verification};
use crate::sandbox::{diagnose, FrontDoor, Trace};
use crate::state::AppState;

fn store_failure(err: impl std::fmt::Display) -> TopError {
    tracing::error!(error = %err, "store failure in the TOP gateway");
    TopError::business("isp.SYSTEM_ERROR", "系统异常，请稍后重试")
}

/// Serves `/router/rest`: the body read within the size limit, a panic answered like the router's
/// panic layer does. [`crate::serve::ProtocolService`] calls it straight from the connection.
pub async fn serve_request(state: AppState, req: Request) -> Response {
    use futures_util::FutureExt;
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, state.config.max_body_bytes)
        .await
        .map_err(|e| format!("Failed to buffer the request body: {e}"));
    let answer = respond_to(&state, &parts.method, &parts.uri, &parts.headers, body);
    let response = match std::panic::AssertUnwindSafe(answer).catch_unwind().await {
        Ok(response) => response,
        Err(panic) => super::panic_response(panic),
    };
    // The path only: the query holds `session` and `sign`.
    tracing::debug!(method = %parts.method, path = %parts.uri.path(), status = %response.status(), "answered");
    response
}

async fn respond_to(
    state: &AppState,
    http_method: &HttpMethod,
    uri: &Uri,
    headers: &HeaderMap,
    body: Result<Bytes, String>,
) -> Response {
    let request_id = request_id();
    let mut trace = Trace::new(FrontDoor::Top, &request_id);
    // A body that cannot be read (over the size limit, cut short) still gets an envelope with
    // HTTP 200: the SDKs drop bodies of any other status.
    let body = match body {
        Ok(b) => b,
        Err(reason) => {
            let err = TopError::new(43, "Parameter error").with_sub_msg(reason);
            return error_response(state, early_format(uri.query(), &[]), &err, "-", trace);
        }
    };
    let params = match collect(uri.query(), headers, &body, Charset::Utf8) {
        Ok(p) => p,
        Err(e) => {
            let err = match error_param(&e) {
                Some(name) => TopError::invalid_arguments(name),
                None => TopError::new(43, "Parameter error").with_sub_msg(e.to_string()),
            };
            return error_response(state, early_format(uri.query(), &body), &err, "-", trace);
        }
    };
    if state.sandbox.journal.enabled() {
        trace.params = Some(JournalParams::capture(params.iter()));
        trace.sign_basis = Some(SignBasis::Top);
    }
    // Errors use the requested format whenever it can be read, even before other checks pass.
    let format = params
        .get("format")
        .and_then(TopFormat::from_param)
        .unwrap_or_default();
    let method_name = params.get("method").unwrap_or("-").to_string();
    if http_method != HttpMethod::GET && http_method != HttpMethod::POST {
        let err = TopError::new(9, "Http action not allowed");
        trace.method = params.get("method").map(str::to_string);
        trace.app = params.get("app_key").map(str::to_string);
        return error_response(state, format, &err, &method_name, trace);
    }
    let result = answer(state, &params, &mut trace).await;
    // The journal takes the trace; the fault still shapes the answer after it.
    let fault = trace.fault.clone();
    let response = match result {
        Ok((common, method, node)) => {
            let body = top::render(
                common.format,
                common.simplify_json(),
                method.name(),
                &node,
                &request_id,
            );
            record_request("top", method.name(), "success");
            state.sandbox.record(trace, Outcome::success(), &body);
            respond(common.format, body)
        }
        Err(err) => error_response(state, format, &err, &method_name, trace),
    };
    faults::shape(
        fault.as_ref(),
        response,
        Signature::None,
        state.config.fault_max_timeout_ms,
    )
    .await
}

/// The format of an answer to a request whose parameters could not all be read: the first
/// readable `format` of the query string, else of the body, else the default (XML). The Python
/// SDK puts `format=json` in the URL and `json.loads` every answer, so an XML answer to its
/// malformed or oversized request would surface as a JSON decoding crash, not a `TopException`.
fn early_format(query: Option<&str>, body: &[u8]) -> TopFormat {
    [query.map(str::as_bytes).unwrap_or_default(), body]
        .into_iter()
        .find_map(|input| raw_form_value(input, "format"))
        .and_then(|v| std::str::from_utf8(v).ok())
        .and_then(TopFormat::from_param)
        .unwrap_or_default()
}

async fn answer(
    state: &AppState,
    params: &ParamSet,
    trace: &mut Trace,
) -> Result<(TopCommon, Method, tradeq_wire::view::Node), TopError> {
    let pairs: Vec<(&str, &str)> = params.iter().collect();
    trace.method = params.get("method").map(str::to_string);
    trace.app = params.get("app_key").map(str::to_string);
    let now = state.sandbox.request_now();
    // `Duration::seconds` panics past ±i64::MAX ms; an absurd setting falls back to the default.
    let window = chrono::Duration::try_seconds(state.config.top_timestamp_window_secs)
        .unwrap_or(top::request::TIMESTAMP_WINDOW);
    let common = match top::read_common_within(&pairs, now, window, |m| {
        Method::from_name(m).is_some_and(|m| m.platform() == Platform::Top)
    }) {
        Ok(common) => common,
        Err(e) if e.code == TopError::invalid_timestamp().code => {
            trace.verification = Verification::Failed;
            let value = params.get("timestamp");
            let parsed = value.and_then(top::request::parse_timestamp);
            let findings = diagnose::timestamp(value, parsed, now, window, true);
            return Err(explained(
                state,
                trace,
                "TOP timestamp refused",
                e,
                findings,
            ));
        }
        Err(e) => return Err(e),
    };
    let method = Method::from_name(&common.method).ok_or_else(TopError::invalid_method)?;
    let app = state
        .credentials
        .top_app(state.store.as_ref(), &common.app_key)
        .await
        .map_err(store_failure)?
        .ok_or_else(TopError::invalid_app_key)?;
    if let Err(e) = authenticate(&app, &common, params) {
        trace.verification = Verification::Failed;
        let checked = app
            .sign_methods
            .iter()
            .any(|m| SignMethod::from_param(m) == Some(common.sign_method));
        if !checked {
            return Err(e);
        }
        let findings = if diagnose::within_budget(state) {
            diagnose::top_signature(state, &app, &pairs).await
        } else {
            diagnose::skipped()
        };
        return Err(explained(
            state,
            trace,
            "TOP signature refused",
            e,
            findings,
        ));
    }
    trace.verification = Verification::Verified;
    // Request timestamps are checked against real time above; business rules read the
    // sandbox clock.
    let now = state.sandbox.now();
    let merchant = resolve_merchant(state, &app, &common, method, now).await?;
    trace.merchant = Some(merchant.clone());
    let caller = Caller {
        merchant,
        always_fund_bill_list: false,
    };
    let biz: Map<String, Value> = params
        .iter()
        .filter(|(k, _)| !SYSTEM_PARAMS.contains(k))
        .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
        .collect();
    trace.set_biz(biz);
    trace.fault = state.sandbox.fault_for(trace).await;
    if let Some(InjectedError::Top(e)) =
        faults::injected_error(trace.fault.as_ref(), FrontDoor::Top)
    {
        return Err(e);
    }
    faults::delay(trace.fault.as_ref()).await;
    let ctx = MethodCtx {
        store: state.store.as_ref(),
        now,
    };
    match methods::call(method, &ctx, &caller, trace.biz()).await {
        Ok(node) => Ok((common, method, node)),
        Err(e) => Err(method_error(e)),
    }
}

/// Logs and journals the findings about a refused request, and appends the hint to its
/// `sub_msg` when `explain_in_errors` is on.
fn explained(
    state: &AppState,
    trace: &mut Trace,
    what: &str,
    mut err: TopError,
    findings: Vec<String>,
) -> TopError {
    diagnose::log(trace, what, &findings);
    if state.config.explain_in_errors {
        if let Some(hint) = diagnose::hint(&findings) {
            let mut sub_msg = err.sub_msg.take().unwrap_or_default();
            sub_msg.push_str(&hint);
            err.sub_msg = Some(sub_msg.trim_start().to_string());
        }
    }
    trace.diagnosis = findings;
    err
}

fn authenticate(app: &TopApp, common: &TopCommon, params: &ParamSet) -> Result<(), TopError> {
    if !app
        .sign_methods
        .iter()
        .any(|m| SignMethod::from_param(m) == Some(common.sign_method))
    {
        return Err(TopError::unsupported_sign_method());
    }
    verify_detailed(
        &app.app_secret,
        common.sign_method,
        params.iter(),
        &common.sign,
    )
    .map(|_| ())
    .map_err(|mismatch| TopError::invalid_signature(Some(&mismatch.sign_string)))
}

/// The merchant a request acts for: its session's, or for app-level methods without a session,
/// the app owner's.
async fn resolve_merchant(
    state: &AppState,
    app: &TopApp,
    common: &TopCommon,
    method: Method,
    now: chrono::DateTime<Utc>,
) -> Result<String, TopError> {
    let Some(session_key) = &common.session else {
        if method.needs_session() {
            return Err(TopError::missing_session());
        }
        return Ok(app.merchant_id.clone());
    };
    let session = state
        .credentials
        .top_session(state.store.as_ref(), session_key)
        .await
        .map_err(store_failure)?
        .filter(|s| s.app_key == app.app_key)
        .filter(|s| s.expires_at.is_none_or(|t| t.0 > now))
        .ok_or_else(TopError::invalid_session)?;
    Ok(session.merchant_id.clone())
}

fn method_error(e: MethodError) -> TopError {
    match e {
        MethodError::Business { sub_code, sub_msg } | MethodError::System { sub_code, sub_msg } => {
            TopError::business(sub_code, sub_msg)
        }
        MethodError::MissingArgument(name) => TopError::missing_required_arguments(name),
        MethodError::InvalidArgument(name) => TopError::invalid_arguments(name),
    }
}

fn error_response(
    state: &AppState,
    format: TopFormat,
    err: &TopError,
    method: &str,
    trace: Trace,
) -> Response {
    record_request("top", method, "error");
    let body = top::render_error(format, err, &trace.id);
    let outcome = Outcome::error(err.code.to_string(), err.sub_code.clone());
    state.sandbox.record(trace, outcome, &body);
    respond(format, body)
}

fn respond(format: TopFormat, body: String) -> Response {
    let length = top::envelope::top_bodylength(&body);
    let mut res = body.into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    if let Ok(v) = HeaderValue::from_str(&length.to_string()) {
        h.insert("top-bodylength", v);
    }
    res
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use http_body_util::BodyExt;
    use serde_json::Value;
    use tower::ServiceExt;

    use tradeq_store::memory_nonces::MemoryNonceStore;
    use tradeq_wire::top::sign::{sign, sign_string};

    use super::*;
    use crate::config::ServerConfig;
    use crate::demo;
    use crate::serve::protocol_service;

    async fn demo_state(config: ServerConfig) -> (AppState, demo::DemoTop) {
        let store = tradeq_store::open("sqlite::memory:").await.unwrap();
        let creds = demo::install(store.as_ref(), "", "", "t", Utc::now())
            .await
            .unwrap();
        let nonces = Arc::new(MemoryNonceStore::new());
        (AppState::new(store, nonces, config, "t".into()), creds.top)
    }

    async fn send(state: &AppState, req: Request<Body>) -> (StatusCode, String, Value) {
        let res = protocol_service(state.clone()).oneshot(req).await.unwrap();
        let status = res.status();
        let ct = res.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .to_string();
        let body = res.into_body().collect().await.unwrap().to_bytes();
        let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
        (status, ct, json)
    }

    fn signed_query(top: &demo::DemoTop, timestamp: &str) -> String {
        let mut p = vec![
            ("method", "alibaba.omni.order.query"),
            ("app_key", top.app_key.as_str()),
            ("session", top.session.as_str()),
            ("timestamp", timestamp),
            ("format", "json"),
            ("v", "2.0"),
            ("sign_method", "md5"),
            ("user_id", "3031798632"),
            ("order_id", "108717674563804955"),
            ("out_order_id", "12348"),
        ];
        let s = sign(
            &top.app_secret,
            SignMethod::Md5,
            &sign_string(p.clone(), false),
        );
        p.push(("sign", &s));
        p.iter()
            .map(|(k, v)| format!("{k}={}", v.replace(' ', "+").replace(':', "%3A")))
            .collect::<Vec<_>>()
            .join("&")
    }

    #[test]
    fn early_format_reads_the_query_then_the_body() {
        assert_eq!(
            early_format(Some("a=%ZZ&format=json"), b""),
            TopFormat::Json
        );
        assert_eq!(early_format(None, b"x=1&format=json"), TopFormat::Json);
        assert_eq!(
            early_format(Some("format=xml"), b"format=json"),
            TopFormat::Xml
        );
        assert_eq!(early_format(Some("format=yaml"), b""), TopFormat::Xml);
        assert_eq!(early_format(None, b""), TopFormat::Xml);
    }

    #[tokio::test]
    async fn oversized_body_gets_an_http_200_envelope_in_the_url_format() {
        let config = ServerConfig {
            max_body_bytes: 1024,
            ..ServerConfig::default()
        };
        let (state, _) = demo_state(config).await;
        let req = Request::post("/router/rest?format=json&method=alibaba.omni.order.query")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(vec![b'a'; 4096]))
            .unwrap();
        let (status, ct, json) = send(&state, req).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(ct, "text/javascript;charset=UTF-8");
        assert_eq!(json["error_response"]["code"], 43, "{json}");
        assert!(json["error_response"]["request_id"].is_string());
    }

    #[tokio::test]
    async fn the_configured_timestamp_window_is_honoured() {
        let five_minutes_ago =
            tradeq_wire::time::format_gmt8(Utc::now() - chrono::Duration::minutes(5));
        let (state, top) = demo_state(ServerConfig::default()).await;
        let uri = format!("/router/rest?{}", signed_query(&top, &five_minutes_ago));
        let (_, _, json) = send(&state, Request::get(&uri).body(Body::empty()).unwrap()).await;
        assert_eq!(
            json["alibaba_omni_order_query_response"]["result"]["success"], true,
            "{json}"
        );
        let config = ServerConfig {
            top_timestamp_window_secs: 60,
            ..ServerConfig::default()
        };
        let (state, top) = demo_state(config).await;
        let uri = format!("/router/rest?{}", signed_query(&top, &five_minutes_ago));
        let (status, _, json) = send(&state, Request::get(&uri).body(Body::empty()).unwrap()).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(json["error_response"]["code"], 31, "{json}");
    }
}
