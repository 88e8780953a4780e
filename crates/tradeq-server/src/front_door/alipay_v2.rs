//! Alipay OpenAPI v2 gateway: `/gateway.do`.
//!
//! Parameters are merged from the URL and the body and decoded in the request's `charset`; the
//! common parameters are checked in the gateway's order; the app's signature is verified over the
//! canonical string; `app_auth_token` picks the merchant; the method's answer is written as
//! `{"<method>_response":{…},"sign":"…"}` and signed over its exact bytes in the response charset.
//! Always HTTP 200, as every SDK expects.
//!
//! Certificate mode (docs/protocol/alipay-v2.md §5.4): `app_cert_sn` and `alipay_root_cert_sn`
//! are checked against the app's certificates before the signature, the answers then carry
//! `alipay_cert_sn` before `sign`, and `alipay.open.app.alipaycert.download` hands out the
//! platform certificates by SN.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Uri};
use axum::response::{IntoResponse, Response};
use chrono::Duration;
use serde_json::Value;

use tradeq_wire::alipay::aes::{aes_decrypt, aes_encrypt};
use tradeq_wire::alipay::cert::{check_request_sns, CertExpectation};
use tradeq_wire::alipay::sign::{rsa_sign, v2_verify_request, SignType};
use tradeq_wire::alipay::v2::{
    self, envelope_with_cert_sn, error_inner_json, response_key, signed_content_for_encrypted,
    success_inner_json, V2Common, V2Error,
};
use tradeq_wire::params::{raw_form_value, Charset, ParamError, ParamSet};

use super::params::collect;
use super::request_id;
use crate::credentials::{
    alipay_merchant, resolve_alipay_app, AlipayCallerError, ResolvedAlipayApp, SignatureCache,
};
use crate::methods::{self, Caller, Method, MethodCtx, MethodError, Platform};
use crate::metrics::record_request;
use crate::sandbox::error_catalogue::InjectedError;
use crate::sandbox::faults::{self, Signature};
use crate::sandbox::journal::{JournalParams, Outcome, SignBasis, Verification};
use crate::sandbox::{diagnose, FrontDoor, Trace};
use crate::state::AppState;

/// How the answer is to be written: its key, and the app that signs it (when known).
struct Reply {
    key: String,
    charset: Charset,
    signer: Option<(Arc<ResolvedAlipayApp>, SignType)>,
    /// The AES key when the request was encrypted and decrypted successfully.
    aes_key: Option<String>,
    /// The platform certificate's SN, when the request came in certificate mode and its SNs
    /// were accepted: written between the answer and `sign`, never otherwise.
    alipay_cert_sn: Option<String>,
    /// The certificate download's success answer goes unsigned, as the real gateway's does.
    unsigned: bool,
}

/// The method certificate-mode SDKs call for a platform certificate they do not know.
pub const CERT_DOWNLOAD_METHOD: &str = "alipay.open.app.alipaycert.download";

/// What a request asks for: a query method, or a platform certificate.
#[derive(Clone, Copy)]
enum Target {
    Method(Method),
    CertDownload,
}

/// Serves `/gateway.do`.
pub async fn handle(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let trace_id = request_id();
    let mut trace = Trace::new(FrontDoor::AlipayV2, &trace_id);
    // A body over the size limit (or one that cannot be read) still gets the gateway's
    // envelope with HTTP 200: the official Python SDK cannot even report a non-200 answer.
    let body = match body {
        Ok(body) => body,
        Err(rejection) => {
            let reply = Reply {
                key: v2::ERROR_RESPONSE_KEY.to_string(),
                charset: request_charset(uri.query(), &[]).0,
                signer: None,
                aes_key: None,
                alipay_cert_sn: None,
                unsigned: false,
            };
            let err = V2Error::invalid_parameter_msg(format!(
                "参数无效: 请求体过大或无法读取 ({})",
                rejection.body_text()
            ));
            return finish(&state, &reply, Err(err), &trace_id, "-", trace);
        }
    };
    let (charset, charset_ok) = request_charset(uri.query(), &body);
    let mut reply = Reply {
        key: v2::ERROR_RESPONSE_KEY.to_string(),
        charset,
        signer: None,
        aes_key: None,
        alipay_cert_sn: None,
        unsigned: false,
    };
    let params = match collect(uri.query(), &headers, &body, charset) {
        Ok(p) => p,
        Err(e) => return finish(&state, &reply, Err(param_error(&e)), &trace_id, "-", trace),
    };
    let method_name = params.get("method").unwrap_or("-").to_string();
    if state.sandbox.journal.enabled() {
        trace.params = Some(JournalParams::capture(params.iter()));
        trace.sign_basis = Some(SignBasis::AlipayV2 { charset });
    }
    if !charset_ok {
        trace.method = params.get("method").map(str::to_string);
        trace.app = params.get("app_id").map(str::to_string);
        if let Some(t) = known_target(&params) {
            reply.key = response_key(t.name());
        }
        return finish(
            &state,
            &reply,
            Err(V2Error::invalid_charset()),
            &trace_id,
            &method_name,
            trace,
        );
    }
    let result = answer(&state, &params, &mut reply, &mut trace).await;
    // The journal takes the trace; the fault still shapes the answer after it.
    let fault = trace.fault.clone();
    let response = finish(&state, &reply, result, &trace_id, &method_name, trace);
    faults::shape(
        fault.as_ref(),
        response,
        Signature::BodySign,
        state.config.fault_max_timeout_ms,
    )
    .await
}

fn known_target(params: &ParamSet) -> Option<Target> {
    let name = params.get("method")?;
    if name == CERT_DOWNLOAD_METHOD {
        return Some(Target::CertDownload);
    }
    Method::from_name(name)
        .filter(|m| m.platform() == Platform::Alipay)
        .map(Target::Method)
}

impl Target {
    fn name(self) -> &'static str {
        match self {
            Target::Method(m) => m.name(),
            Target::CertDownload => CERT_DOWNLOAD_METHOD,
        }
    }
}

/// The request charset: the `charset` parameter, read raw from the URL (where every SDK puts it)
/// or else the body, before anything is decoded with it. `false` when it names no known charset.
pub(crate) fn request_charset(query: Option<&str>, body: &[u8]) -> (Charset, bool) {
    let raw = query
        .and_then(|q| raw_form_value(q.as_bytes(), "charset"))
        .or_else(|| raw_form_value(body, "charset"));
    match raw {
        None => (Charset::Utf8, true),
        Some([]) => (Charset::Utf8, true),
        Some(bytes) => match std::str::from_utf8(bytes)
            .ok()
            .and_then(Charset::from_label)
        {
            Some(c) => (c, true),
            None => (Charset::Utf8, false),
        },
    }
}

fn param_error(e: &ParamError) -> V2Error {
    match e {
        ParamError::BadEncoding { .. } => V2Error::invalid_signature_charset(),
        ParamError::Duplicate(name) => V2Error::invalid_parameter_msg(format!(
            "参数无效: {name} 重复出现 (parameter `{name}` is given more than once)"
        )),
        other => V2Error::invalid_parameter_msg(format!("参数无效: {other}")),
    }
}

/// Runs every stage; on error, `reply` says how far it got (which key, whether it can sign).
async fn answer(
    state: &AppState,
    params: &ParamSet,
    reply: &mut Reply,
    trace: &mut Trace,
) -> Result<String, V2Error> {
    let now = state.sandbox.request_now();
    trace.method = params.get("method").map(str::to_string);
    trace.app = params.get("app_id").map(str::to_string);
    let method = known_target(params);
    if let Some(m) = method {
        reply.key = response_key(m.name());
    }
    let window = Duration::seconds(state.config.v2_timestamp_window_secs);
    let common = v2::read_common(params, now, window, |m| {
        m == CERT_DOWNLOAD_METHOD
            || Method::from_name(m).is_some_and(|m| m.platform() == Platform::Alipay)
    });
    // An app that can be identified signs every error, the common parameter errors and an
    // unknown method's `error_response` included: the official Python SDK rejects any unsigned
    // answer, so only a signed error reaches its caller as an error.
    let app_id = params.get("app_id").filter(|a| !a.is_empty());
    let app = match app_id {
        Some(app_id) => resolve_alipay_app(state, app_id)
            .await
            .map_err(v2_caller_error)?,
        None => None,
    };
    if let Some(app) = &app {
        let sign_type = params
            .get("sign_type")
            .and_then(SignType::from_param)
            .unwrap_or(SignType::Rsa2);
        reply.signer = Some((app.clone(), sign_type));
    }
    let common = match common {
        Ok(common) => common,
        Err(e) if e.sub_code == "isv.invalid-timestamp" => {
            trace.verification = Verification::Failed;
            let value = params.get("timestamp");
            let parsed = value.and_then(tradeq_wire::time::parse_gmt8);
            let findings = diagnose::timestamp(value, parsed, now, window, false);
            return Err(explained(state, trace, "v2 timestamp refused", e, findings));
        }
        Err(e) => return Err(e),
    };
    let (method, app) = match (method, app) {
        (Some(m), Some(a)) => (m, a),
        (None, _) => return Err(V2Error::invalid_method()),
        (Some(_), None) => return Err(V2Error::invalid_app_id()),
    };
    // The certificate the request names picks the key its signature is checked with, so the
    // SNs are checked first.
    let expected = app.cert.as_ref().map(|c| CertExpectation {
        app_cert_sn: &c.app_cert_sn,
        revoked: &c.revoked_app_cert_sns,
        root_cert_sn: &c.root_cert_sn,
    });
    let cert_mode = check_request_sns(
        expected,
        params.get("app_cert_sn"),
        params.get("alipay_root_cert_sn"),
    )
    .map_err(|refusal| {
        trace.verification = Verification::Failed;
        V2Error::cert(refusal)
    })?;
    if let (true, Some(c)) = (cert_mode, &app.cert) {
        reply.alipay_cert_sn = Some(c.alipay_cert_sn.clone());
    }
    if let Err(e) = authenticate(&app, &common, params).await {
        trace.verification = Verification::Failed;
        if e.sub_code != "isv.invalid-signature" {
            return Err(e);
        }
        let pairs: Vec<(&str, &str)> = params.iter().collect();
        let findings = if diagnose::within_budget(state) {
            diagnose::v2_signature(state, &app, &pairs, common.charset).await
        } else {
            diagnose::skipped()
        };
        return Err(explained(state, trace, "v2 signature refused", e, findings));
    }
    trace.verification = Verification::Verified;
    // Request timestamps are checked against real time above; business rules read the
    // sandbox clock.
    let now = state.sandbox.now();
    let merchant = alipay_merchant(state, &app, common.app_auth_token.as_deref(), now)
        .await
        .map_err(v2_caller_error)?;
    trace.merchant = Some(merchant.clone());
    let biz = business_params(&app, &common, reply)?;
    let method = match method {
        Target::Method(m) => m,
        Target::CertDownload => return cert_download(&app, &biz, reply),
    };
    trace.set_biz(biz);
    trace.fault = state.sandbox.fault_for(trace).await;
    if let Some(InjectedError::V2(e)) =
        faults::injected_error(trace.fault.as_ref(), FrontDoor::AlipayV2)
    {
        return Err(e);
    }
    faults::delay(trace.fault.as_ref()).await;
    let caller = Caller {
        merchant,
        always_fund_bill_list: app.app.always_fund_bill_list,
    };
    let ctx = MethodCtx {
        store: state.store.as_ref(),
        now,
    };
    match methods::call(method, &ctx, &caller, trace.biz()).await {
        Ok(node) => Ok(success_inner_json(&node)),
        Err(e) => Err(method_error(e)),
    }
}

/// `alipay.open.app.alipaycert.download`: the platform certificate with the SN in `biz_content`,
/// base64 of its PEM text in `alipay_cert_content`. The real gateway sends this answer without
/// `sign` (and the official SDKs do not verify it): the certificate is checked against the root
/// instead.
fn cert_download(
    app: &ResolvedAlipayApp,
    biz: &methods::BizParams,
    reply: &mut Reply,
) -> Result<String, V2Error> {
    let sn = match biz.get("alipay_cert_sn") {
        Some(Value::String(sn)) if !sn.is_empty() => sn,
        _ => return Err(V2Error::invalid_parameter_named("alipay_cert_sn")),
    };
    let pem = app
        .cert
        .as_ref()
        .and_then(|c| c.alipay_cert(sn))
        .ok_or_else(V2Error::alipay_cert_not_exist)?;
    let content = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, pem);
    reply.unsigned = true;
    reply.alipay_cert_sn = None;
    Ok(format!(
        r#"{{"code":"10000","msg":"Success","alipay_cert_content":{}}}"#,
        Value::String(content)
    ))
}

/// Logs and journals the findings about a refused request, and appends the hint to its
/// `sub_msg` when `explain_in_errors` is on.
fn explained(
    state: &AppState,
    trace: &mut Trace,
    what: &str,
    mut err: V2Error,
    findings: Vec<String>,
) -> V2Error {
    diagnose::log(trace, what, &findings);
    if state.config.explain_in_errors {
        if let Some(hint) = diagnose::hint(&findings) {
            err.sub_msg.push_str(&hint);
        }
    }
    trace.diagnosis = findings;
    err
}

async fn authenticate(
    app: &Arc<ResolvedAlipayApp>,
    common: &V2Common,
    params: &ParamSet,
) -> Result<(), V2Error> {
    if !app
        .app
        .sign_types
        .iter()
        .any(|t| t == common.sign_type.as_str())
    {
        return Err(V2Error::missing_signature_config());
    }
    let sign_type = common.sign_type;
    // RSA runs inline on the worker thread, verification (~15 µs) and signing (~260 µs) alike:
    // a hand-off to another thread costs context switches and cold caches on every answer
    // (BENCHMARKS.md), and the runtime has one worker per core to keep the other connections
    // moving.
    let verdict = v2_verify_request(
        &app.app_public_key,
        sign_type,
        params.iter(),
        &common.sign,
        common.charset,
    );
    verdict.map_err(|mismatch| {
        if mismatch.other_sign_type_matches {
            V2Error::invalid_signature_type_mismatch(sign_type)
        } else {
            V2Error::invalid_signature(&mismatch.canonical)
        }
    })
}

/// `biz_content` as a JSON object, decrypted first when `encrypt_type=AES`.
fn business_params(
    app: &ResolvedAlipayApp,
    common: &V2Common,
    reply: &mut Reply,
) -> Result<methods::BizParams, V2Error> {
    let Some(text) = &common.biz_content else {
        return Ok(methods::BizParams::new());
    };
    let plain = match &common.encrypt_type {
        Some(_) => {
            let key = app
                .app
                .aes_key
                .as_deref()
                .ok_or_else(V2Error::missing_encrypt_key)?;
            let bytes = aes_decrypt(key, text).map_err(|_| V2Error::decryption_error_unknown())?;
            let plain = common
                .charset
                .decode(&bytes)
                .map_err(|_| V2Error::decryption_error_unknown())?;
            reply.aes_key = Some(key.to_string());
            plain
        }
        None => text.clone(),
    };
    match serde_json::from_str::<Value>(&plain) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(V2Error::invalid_parameter_msg(
            "参数无效: biz_content 必须是 JSON 对象 (biz_content must be a JSON object)",
        )),
    }
}

fn method_error(e: MethodError) -> V2Error {
    match e {
        MethodError::Business { sub_code, sub_msg } | MethodError::System { sub_code, sub_msg } => {
            V2Error::business(sub_code, sub_msg)
        }
        MethodError::MissingArgument(name) | MethodError::InvalidArgument(name) => {
            V2Error::invalid_parameter_named(name)
        }
    }
}

/// Writes the envelope: encrypts when asked, signs whenever the app is known, encodes in the
/// request charset.
fn finish(
    state: &AppState,
    reply: &Reply,
    result: Result<String, V2Error>,
    trace_id: &str,
    method: &str,
    trace: Trace,
) -> Response {
    let mut outcome = if result.is_ok() { "success" } else { "error" };
    let mut inner = match &result {
        Ok(inner) => inner.clone(),
        Err(e) => error_inner_json(e),
    };
    // Gateway errors raised before decryption travel in clear; answers after it are encrypted.
    // An answer that cannot be encrypted is never sent in clear: the caller asked for its data
    // to stay encrypted, so it gets the gateway's system error instead (as v3 does).
    let encrypted = match &reply.aes_key {
        Some(key) => match aes_encrypt(key, &reply.charset.encode(&inner)) {
            Ok(ct) => Some(ct),
            Err(e) => {
                tracing::error!(error = %e, "encrypting an answer failed; answering a system error");
                inner = error_inner_json(&V2Error::system_error());
                outcome = "error";
                None
            }
        },
        None => None,
    };
    let signed_text = match &encrypted {
        Some(ct) => signed_content_for_encrypted(ct),
        None => inner.clone(),
    };
    let sign = match &reply.signer {
        Some(_) if reply.unsigned && result.is_ok() => None,
        Some((app, sign_type)) => {
            sign_cached(state, app, *sign_type, &reply.charset.encode(&signed_text))
        }
        None => None,
    };
    let body = match &encrypted {
        Some(ct) => envelope_with_cert_sn(
            &reply.key,
            &signed_content_for_encrypted(ct),
            reply.alipay_cert_sn.as_deref(),
            sign.as_deref(),
        ),
        None => envelope_with_cert_sn(
            &reply.key,
            &inner,
            reply.alipay_cert_sn.as_deref(),
            sign.as_deref(),
        ),
    };
    record_request("alipay_v2", method, outcome);
    let journal_outcome = match &result {
        Ok(_) if outcome == "success" => Outcome::success(),
        // The answer could not be encrypted: the system error was sent instead.
        Ok(_) => {
            let e = V2Error::system_error();
            Outcome::error(e.code, Some(e.sub_code))
        }
        Err(e) => Outcome::error(e.code, (!e.sub_code.is_empty()).then(|| e.sub_code.clone())),
    };
    state.sandbox.record(trace, journal_outcome, &body);
    let mut res = reply.charset.encode(&body).into_response();
    let h = res.headers_mut();
    let content_type = format!("application/json;charset={}", reply.charset.label());
    if let Ok(v) = HeaderValue::from_str(&content_type) {
        h.insert(header::CONTENT_TYPE, v);
    }
    if let Ok(v) = HeaderValue::from_str(trace_id) {
        h.insert("trace_id", v);
    }
    res
}

/// Signs `content`, reusing the signature of identical bytes signed before with the same key.
fn sign_cached(
    state: &AppState,
    app: &ResolvedAlipayApp,
    sign_type: SignType,
    content: &[u8],
) -> Option<String> {
    let key = SignatureCache::key(&app.platform_key_id, sign_type.as_str(), content);
    if let Some(hit) = state.signatures.get(&key) {
        return Some(hit.to_string());
    }
    match rsa_sign(&app.platform_private_key, sign_type, content) {
        Ok(sig) => {
            state.signatures.put(key, Arc::from(sig.as_str()));
            Some(sig)
        }
        Err(e) => {
            tracing::error!(error = %e, "signing an answer failed");
            None
        }
    }
}

fn v2_caller_error(e: AlipayCallerError) -> V2Error {
    match e {
        AlipayCallerError::Store => V2Error::system_error(),
        AlipayCallerError::UnusableKeys => V2Error::missing_signature_config(),
        AlipayCallerError::InvalidToken => V2Error::invalid_app_auth_token(),
        AlipayCallerError::ExpiredToken => V2Error::app_auth_token_time_out(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_answer_that_cannot_be_encrypted_is_never_sent_in_clear() {
        let store = tradeq_store::open("sqlite::memory:").await.unwrap();
        let nonces = store.clone().nonce_store();
        let state = AppState::new(
            store,
            nonces,
            crate::ServerConfig::default(),
            "t".to_string(),
        );
        let reply = Reply {
            key: response_key("alipay.trade.query"),
            charset: Charset::Utf8,
            signer: None,
            // Not a base64 AES key: encryption fails.
            aes_key: Some("%%% not a key %%%".to_string()),
            alipay_cert_sn: None,
            unsigned: false,
        };
        let secret = r#"{"code":"10000","msg":"Success","buyer_logon_id":"secret-buyer"}"#;
        let trace = Trace::new(FrontDoor::AlipayV2, "trace");
        let res = finish(&state, &reply, Ok(secret.to_string()), "trace", "m", trace);
        let body = axum::body::to_bytes(res.into_body(), 1 << 20)
            .await
            .unwrap();
        let text = String::from_utf8(body.to_vec()).unwrap();
        assert!(!text.contains("secret-buyer"), "{text}");
        assert!(text.contains("\"code\":\"20000\""), "{text}");
        assert!(text.contains("isp.unknow-error"), "{text}");
    }
}
