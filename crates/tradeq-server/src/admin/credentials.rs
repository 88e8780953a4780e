//! Credential endpoints: Alipay apps, app auth tokens, TOP apps and TOP sessions.
//!
//! Secrets never leave the server after creation: answers carry the platform *public* key but
//! never the platform private key or the AES key, and a TOP `app_secret` appears only in the
//! answer that created the app (afterwards `"<redacted>"`). Nothing secret is logged.

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use serde::{Deserialize, Serialize};

use tradeq_model::credentials::{AlipayApp, AlipayCertMode, AppAuthToken, TopApp, TopSession};
use tradeq_wire::alipay::cert;
use tradeq_wire::alipay::keys::{
    generate_rsa_2048, parse_private_key, parse_public_key, private_key_to_pkcs8_pem,
    public_from_private, public_key_to_spki_pem, same_public_key,
};

use super::error::AdminError;
use super::extract::{JsonObject, Nullable};
use crate::certs::{self, cert_mode_for, CertModeError, CertModeRequest};
use crate::state::AppState;

/// What a redacted secret reads as.
pub const REDACTED: &str = "<redacted>";

/// Sign types an Alipay app may use.
const SIGN_TYPES: [&str; 2] = ["RSA2", "RSA"];

/// Sign methods a TOP app may use.
const SIGN_METHODS: [&str; 3] = ["md5", "hmac", "hmac-sha256"];

const ALIPAY_APP_FIELDS: [&str; 10] = [
    "app_id",
    "merchant_pid",
    "app_public_key",
    "sign_types",
    "aes_key",
    "always_fund_bill_list",
    "platform_private_key",
    "cert_mode",
    "app_cert",
    "revoked_app_cert_sns",
];
const TOKEN_FIELDS: [&str; 4] = ["token", "app_id", "merchant_pid", "expires_at"];
const TOP_APP_FIELDS: [&str; 4] = ["app_key", "app_secret", "sign_methods", "merchant_id"];
const SESSION_FIELDS: [&str; 4] = ["session", "app_key", "merchant_id", "expires_at"];

// ---------------------------------------------------------------------------------------------
// Validation helpers

/// `[0-9A-Za-z_-]{1,max}`.
fn check_identifier(field: &str, value: &str, max: usize) -> Result<(), AdminError> {
    let n = value.chars().count();
    if n == 0 || n > max {
        return Err(AdminError::invalid_field(
            field,
            format!("must be 1–{max} characters long (it is {n})"),
        ));
    }
    if !value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(AdminError::invalid_field(
            field,
            "may contain only letters, digits, `_` and `-`",
        ));
    }
    Ok(())
}

/// A non-empty merchant id of at most `max` characters, without control characters.
fn check_merchant(field: &str, value: &str, max: usize) -> Result<(), AdminError> {
    let n = value.chars().count();
    if value.trim().is_empty() {
        return Err(AdminError::invalid_field(
            field,
            "is required and must not be empty",
        ));
    }
    if n > max {
        return Err(AdminError::invalid_field(
            field,
            format!("is {n} characters long; the maximum is {max}"),
        ));
    }
    if value.chars().any(|c| c.is_control()) || value.trim() != value {
        return Err(AdminError::invalid_field(
            field,
            "must not contain control characters or surrounding blanks",
        ));
    }
    Ok(())
}

/// A caller-chosen token, session or secret: 1–128 printable ASCII characters, no blanks.
/// The message never repeats the value.
fn check_opaque(field: &str, value: &str) -> Result<(), AdminError> {
    let n = value.len();
    if n == 0 || n > 128 || !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(AdminError::invalid_field(
            field,
            "must be 1–128 printable ASCII characters without blanks (omit it to have one generated)",
        ));
    }
    Ok(())
}

/// `bytes` random bytes from OpenSSL's RNG, as lower-case hex.
fn random_hex(bytes: usize) -> Result<String, AdminError> {
    let mut buf = vec![0u8; bytes];
    openssl::rand::rand_bytes(&mut buf).map_err(AdminError::internal)?;
    Ok(buf
        .iter()
        .fold(String::with_capacity(bytes * 2), |mut s, b| {
            use std::fmt::Write;
            let _ = write!(s, "{b:02x}");
            s
        }))
}

/// A list of allowed names: defaults when absent, each one of `allowed` (case-insensitive,
/// written as in `allowed`), duplicates dropped, not empty.
fn allowed_list(
    field: &str,
    given: Option<Vec<String>>,
    allowed: &[&str],
) -> Result<Vec<String>, AdminError> {
    let Some(given) = given else {
        return Ok(allowed.iter().map(|s| s.to_string()).collect());
    };
    if given.is_empty() {
        return Err(AdminError::invalid_field(
            field,
            format!("must name at least one of: {}", allowed.join(", ")),
        ));
    }
    let mut out: Vec<String> = Vec::with_capacity(given.len());
    for (i, g) in given.iter().enumerate() {
        let Some(canonical) = allowed.iter().find(|a| a.eq_ignore_ascii_case(g.trim())) else {
            return Err(AdminError::invalid_field(
                &format!("{field}[{i}]"),
                format!("`{g}` is not allowed; use {}", allowed.join(", ")),
            ));
        };
        if !out.iter().any(|o| o == canonical) {
            out.push(canonical.to_string());
        }
    }
    Ok(out)
}

/// Validates a base64 AES key (16, 24 or 32 bytes) and writes it in canonical base64.
fn normalise_aes_key(text: &str) -> Result<String, AdminError> {
    let engine = base64::engine::general_purpose::STANDARD;
    let bytes = engine.decode(text.trim().as_bytes()).map_err(|_| {
        AdminError::invalid_field(
            "aes_key",
            "is not base64 (give the key as the console shows it)",
        )
    })?;
    if ![16, 24, 32].contains(&bytes.len()) {
        return Err(AdminError::invalid_field(
            "aes_key",
            format!(
                "decodes to {} bytes; an AES key is 16, 24 or 32 bytes (24, 32 or 44 base64 characters)",
                bytes.len()
            ),
        ));
    }
    Ok(engine.encode(bytes))
}

fn path_param(path: Result<Path<String>, PathRejection>) -> Result<String, AdminError> {
    path.map(|Path(p)| p)
        .map_err(AdminError::from_path_rejection)
}

fn created<T: Serialize>(location: String, body: T) -> Response {
    let mut response = (StatusCode::CREATED, Json(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    response
}

/// A list answer: `{"items":[…]}`.
#[derive(Debug, Serialize)]
pub struct Items<T> {
    /// The items.
    pub items: Vec<T>,
}

// ---------------------------------------------------------------------------------------------
// Alipay apps

/// An Alipay app as the API shows it: no platform private key, no AES key.
#[derive(Debug, Clone, Serialize)]
pub struct AlipayAppView {
    /// `app_id`.
    pub app_id: String,
    /// Owning merchant PID.
    pub merchant_pid: String,
    /// The app's public key, SPKI PEM.
    pub app_public_key_pem: String,
    /// Allowed sign types.
    pub sign_types: Vec<String>,
    /// The platform public key (SPKI PEM) the app's developers configure as "Alipay public key".
    pub platform_public_key_pem: String,
    /// Whether an AES key is set (the key itself is never shown).
    pub has_aes_key: bool,
    /// Contract flag: always return `fund_bill_list`.
    pub always_fund_bill_list: bool,
    /// The certificates, when the app is in public-key-certificate mode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cert_mode: Option<CertModeView>,
}

/// The certificates of an app in certificate mode, with the SNs the SDKs compute from them.
#[derive(Debug, Clone, Serialize)]
pub struct CertModeView {
    /// The app public-key certificate (`appCertPublicKey`).
    pub app_cert_pem: String,
    /// Its SN (`app_cert_sn`).
    pub app_cert_sn: String,
    /// App certificate SNs no longer accepted.
    pub revoked_app_cert_sns: Vec<String>,
    /// The platform public-key certificate (`alipayCertPublicKey_RSA2`).
    pub alipay_cert_pem: String,
    /// Its SN (`alipay_cert_sn` in answers).
    pub alipay_cert_sn: String,
    /// The root bundle (`alipayRootCert`).
    pub alipay_root_cert_pem: String,
    /// Its root SN (`alipay_root_cert_sn`).
    pub alipay_root_cert_sn: String,
}

impl CertModeView {
    /// The view of stored certificates; `None` when one does not parse (never stored so).
    pub fn new(c: &AlipayCertMode) -> Option<CertModeView> {
        Some(CertModeView {
            app_cert_sn: cert::cert_sn_from_pem(&c.app_cert_pem).ok()?,
            app_cert_pem: c.app_cert_pem.clone(),
            revoked_app_cert_sns: c.revoked_app_cert_sns.clone(),
            alipay_cert_sn: cert::cert_sn_from_pem(&c.alipay_cert_pem).ok()?,
            alipay_cert_pem: c.alipay_cert_pem.clone(),
            alipay_root_cert_sn: cert::root_cert_sn(&c.alipay_root_cert_pem).ok()?,
            alipay_root_cert_pem: c.alipay_root_cert_pem.clone(),
        })
    }
}

impl From<&AlipayApp> for AlipayAppView {
    fn from(app: &AlipayApp) -> Self {
        AlipayAppView {
            cert_mode: app.cert_mode.as_ref().and_then(CertModeView::new),
            app_id: app.app_id.clone(),
            merchant_pid: app.merchant_pid.clone(),
            app_public_key_pem: app.app_public_key_pem.clone(),
            sign_types: app.sign_types.clone(),
            platform_public_key_pem: app.platform_public_key_pem.clone(),
            has_aes_key: app.aes_key.is_some(),
            always_fund_bill_list: app.always_fund_bill_list,
        }
    }
}

/// A create/replace request for an Alipay app, field by field.
struct AlipayAppInput {
    app_id: Option<String>,
    merchant_pid: String,
    app_public_key: Option<String>,
    sign_types: Option<Vec<String>>,
    aes_key: Nullable<String>,
    always_fund_bill_list: Option<bool>,
    platform_private_key: Nullable<String>,
    cert_mode: Option<bool>,
    app_cert: Option<String>,
    revoked_app_cert_sns: Option<Vec<String>>,
}

fn read_alipay_app(mut o: JsonObject) -> Result<AlipayAppInput, AdminError> {
    let input = AlipayAppInput {
        app_id: o.opt_string("app_id")?,
        merchant_pid: o.string("merchant_pid")?,
        app_public_key: o.opt_string("app_public_key")?,
        sign_types: o.opt_string_list("sign_types")?,
        aes_key: o.nullable_string("aes_key")?,
        always_fund_bill_list: o.opt_bool("always_fund_bill_list")?,
        platform_private_key: o.nullable_string("platform_private_key")?,
        cert_mode: o.opt_bool("cert_mode")?,
        app_cert: o.opt_string("app_cert")?,
        revoked_app_cert_sns: o.opt_string_list("revoked_app_cert_sns")?,
    };
    o.finish(&ALIPAY_APP_FIELDS)?;
    Ok(input)
}

/// Validates a request and builds the app to store. `existing` is the stored app a PUT
/// replaces: its platform key pair and AES key are kept unless the request gives new ones.
async fn build_alipay_app(
    store: &dyn tradeq_store::Store,
    app_id: String,
    input: AlipayAppInput,
    existing: Option<&AlipayApp>,
) -> Result<AlipayApp, AdminError> {
    check_identifier("app_id", &app_id, 32)?;
    check_merchant("merchant_pid", &input.merchant_pid, 32)?;
    let from_cert = match &input.app_cert {
        Some(pem) => Some(
            cert::public_key_from_pem(pem).map_err(|e| AdminError::invalid_field("app_cert", e))?,
        ),
        None => None,
    };
    let app_public = match (&input.app_public_key, from_cert) {
        (Some(text), from_cert) => {
            let key = parse_public_key(text)
                .map_err(|e| AdminError::invalid_field("app_public_key", e))?;
            if from_cert.is_some_and(|c| !same_public_key(&c, &key)) {
                return Err(AdminError::invalid_field(
                    "app_cert",
                    "certifies another key than app_public_key (give one of them, or the matching pair)",
                ));
            }
            key
        }
        (None, Some(key)) => key,
        // A PUT that only changes other fields (say, revokes a certificate) keeps the key.
        (None, None) => match existing {
            Some(e) => parse_public_key(&e.app_public_key_pem).map_err(AdminError::internal)?,
            None => {
                return Err(AdminError::invalid_field(
                    "app_public_key",
                    "is required (or give app_cert, whose key is used)",
                ))
            }
        },
    };
    let app_public_key_pem = public_key_to_spki_pem(&app_public).map_err(AdminError::internal)?;
    let sign_types = allowed_list("sign_types", input.sign_types, &SIGN_TYPES)?;
    let aes_key = match input.aes_key {
        Nullable::Absent => existing.and_then(|e| e.aes_key.clone()),
        Nullable::Null => None,
        Nullable::Value(k) => Some(normalise_aes_key(&k)?),
    };
    let (platform_private_key_pem, platform_public_key_pem) = match input.platform_private_key {
        Nullable::Value(text) => {
            let private = parse_private_key(&text)
                .map_err(|e| AdminError::invalid_field("platform_private_key", e))?;
            let public = public_from_private(&private).map_err(AdminError::internal)?;
            if same_public_key(&public, &app_public) {
                return Err(AdminError::invalid_field(
                    "platform_private_key",
                    "is the private half of app_public_key; the platform signs with a key pair of its own (omit the field to have one generated)",
                ));
            }
            (
                private_key_to_pkcs8_pem(&private).map_err(AdminError::internal)?,
                public_key_to_spki_pem(&public).map_err(AdminError::internal)?,
            )
        }
        Nullable::Absent | Nullable::Null => match existing {
            Some(e) => (
                e.platform_private_key_pem.clone(),
                e.platform_public_key_pem.clone(),
            ),
            None => generate_platform_pair().await?,
        },
    };
    let wants_cert_mode = input
        .cert_mode
        .unwrap_or(input.app_cert.is_some() || existing.is_some_and(|e| e.cert_mode.is_some()));
    if !wants_cert_mode && (input.app_cert.is_some() || input.revoked_app_cert_sns.is_some()) {
        return Err(AdminError::invalid_field(
            "cert_mode",
            "is false, but app_cert or revoked_app_cert_sns was given",
        ));
    }
    let cert_mode = if wants_cert_mode {
        let ca = certs::load_or_create(store)
            .await
            .map_err(AdminError::internal)?;
        let previous = existing.and_then(|e| e.cert_mode.as_ref());
        Some(
            cert_mode_for(
                &ca,
                CertModeRequest {
                    app_id: &app_id,
                    merchant_pid: &input.merchant_pid,
                    app_public_key_pem: &app_public_key_pem,
                    platform_public_key_pem: &platform_public_key_pem,
                    app_cert: input.app_cert.as_deref(),
                    revoked: input.revoked_app_cert_sns,
                },
                previous,
            )
            .map_err(|e| match e {
                CertModeError::Field(field, reason) => AdminError::invalid_field(field, reason),
                CertModeError::Ca(e) => AdminError::internal(e),
            })?,
        )
    } else {
        None
    };
    Ok(AlipayApp {
        app_id,
        merchant_pid: input.merchant_pid,
        app_public_key_pem,
        sign_types,
        platform_private_key_pem,
        platform_public_key_pem,
        aes_key,
        always_fund_bill_list: input.always_fund_bill_list.unwrap_or(false),
        cert_mode,
    })
}

/// A fresh platform key pair (PKCS#8 PEM, SPKI PEM), generated off the async reactor.
async fn generate_platform_pair() -> Result<(String, String), AdminError> {
    tokio::task::spawn_blocking(|| {
        let private = generate_rsa_2048()?;
        let public = public_from_private(&private)?;
        Ok::<_, tradeq_wire::alipay::keys::KeyError>((
            private_key_to_pkcs8_pem(&private)?,
            public_key_to_spki_pem(&public)?,
        ))
    })
    .await
    .map_err(AdminError::internal)?
    .map_err(AdminError::internal)
}

/// `GET /v1/alipay-apps`.
pub async fn list_alipay_apps(
    State(state): State<AppState>,
) -> Result<Json<Items<AlipayAppView>>, AdminError> {
    let apps = state.store.list_alipay_apps().await?;
    Ok(Json(Items {
        items: apps.iter().map(AlipayAppView::from).collect(),
    }))
}

/// `POST /v1/alipay-apps`: 201 with the app (and its platform public key); 409 when the
/// `app_id` exists.
pub async fn create_alipay_app(
    State(state): State<AppState>,
    body: JsonObject,
) -> Result<Response, AdminError> {
    let input = read_alipay_app(body)?;
    let app_id = input
        .app_id
        .clone()
        .ok_or_else(|| AdminError::invalid_field("app_id", "is required"))?;
    check_identifier("app_id", &app_id, 32)?;
    if state.store.get_alipay_app(&app_id).await?.is_some() {
        return Err(AdminError::already_exists(format!(
            "Alipay app `{app_id}` exists; PUT /v1/alipay-apps/{app_id} to replace it"
        )));
    }
    let app = build_alipay_app(state.store.as_ref(), app_id, input, None).await?;
    state.store.put_alipay_app(&app).await?;
    tracing::info!(app_id = %app.app_id, merchant = %app.merchant_pid, "admin: Alipay app created");
    Ok(created(
        format!("/v1/alipay-apps/{}", app.app_id),
        AlipayAppView::from(&app),
    ))
}

/// `GET /v1/alipay-apps/{app_id}`.
pub async fn get_alipay_app(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<AlipayAppView>, AdminError> {
    let app_id = path_param(path)?;
    match state.store.get_alipay_app(&app_id).await? {
        Some(app) => Ok(Json(AlipayAppView::from(&app))),
        None => Err(AdminError::not_found(format!("no Alipay app `{app_id}`"))),
    }
}

/// `PUT /v1/alipay-apps/{app_id}`: creates (201) or replaces (200). Absent `aes_key` and
/// `platform_private_key` keep the stored ones; `"aes_key": null` removes the AES key.
pub async fn put_alipay_app(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    body: JsonObject,
) -> Result<Response, AdminError> {
    let app_id = path_param(path)?;
    let input = read_alipay_app(body)?;
    if let Some(given) = &input.app_id {
        if *given != app_id {
            return Err(AdminError::bad_request(
                "key_mismatch",
                format!("the path names app `{app_id}` but the body's app_id is `{given}`"),
            )
            .with_field("app_id"));
        }
    }
    let existing = state.store.get_alipay_app(&app_id).await?;
    let app = build_alipay_app(state.store.as_ref(), app_id, input, existing.as_ref()).await?;
    state.store.put_alipay_app(&app).await?;
    let view = AlipayAppView::from(&app);
    if existing.is_some() {
        tracing::info!(app_id = %app.app_id, "admin: Alipay app replaced");
        Ok(Json(view).into_response())
    } else {
        tracing::info!(app_id = %app.app_id, "admin: Alipay app created");
        Ok(created(format!("/v1/alipay-apps/{}", app.app_id), view))
    }
}

/// `DELETE /v1/alipay-apps/{app_id}`: removes the app and its app auth tokens.
pub async fn delete_alipay_app(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, AdminError> {
    let app_id = path_param(path)?;
    if state.store.delete_alipay_app(&app_id).await? {
        tracing::info!(app_id = %app_id, "admin: Alipay app deleted");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(AdminError::not_found(format!("no Alipay app `{app_id}`")))
    }
}

// ---------------------------------------------------------------------------------------------
// App auth tokens

/// Filter of the token and session lists.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenFilter {
    /// Only tokens of this Alipay app.
    pub app_id: Option<String>,
}

/// Filter of the session list.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionFilter {
    /// Only sessions of this TOP app.
    pub app_key: Option<String>,
}

/// `GET /v1/app-auth-tokens[?app_id=…]`.
pub async fn list_app_auth_tokens(
    State(state): State<AppState>,
    filter: Result<Query<TokenFilter>, QueryRejection>,
) -> Result<Json<Items<AppAuthToken>>, AdminError> {
    let Query(filter) = filter.map_err(AdminError::from_query_rejection)?;
    let mut items = state.store.list_app_auth_tokens().await?;
    if let Some(app_id) = &filter.app_id {
        items.retain(|t| &t.app_id == app_id);
    }
    Ok(Json(Items { items }))
}

/// `POST /v1/app-auth-tokens`: 201 with the token (generated when not given); 400
/// `unknown_app` when the app does not exist.
pub async fn create_app_auth_token(
    State(state): State<AppState>,
    mut body: JsonObject,
) -> Result<Response, AdminError> {
    let token = body.opt_string("token")?;
    let app_id = body.string("app_id")?;
    let merchant_pid = body.string("merchant_pid")?;
    let expires_at = body.opt_timestamp("expires_at")?;
    body.finish(&TOKEN_FIELDS)?;

    let token = match token {
        Some(t) => {
            check_opaque("token", &t)?;
            t
        }
        None => random_hex(20)?,
    };
    check_identifier("app_id", &app_id, 32)?;
    check_merchant("merchant_pid", &merchant_pid, 32)?;
    if state.store.get_alipay_app(&app_id).await?.is_none() {
        return Err(AdminError::bad_request(
            "unknown_app",
            format!("app_id: no Alipay app `{app_id}`; create it first with POST /v1/alipay-apps"),
        )
        .with_field("app_id"));
    }
    if state.store.get_app_auth_token(&token).await?.is_some() {
        return Err(AdminError::already_exists(
            "this app auth token exists; choose another or omit `token` to have one generated",
        )
        .with_field("token"));
    }
    let record = AppAuthToken {
        token,
        app_id,
        merchant_pid,
        expires_at,
    };
    state.store.put_app_auth_token(&record).await?;
    tracing::info!(token = ?record, "admin: app auth token created");
    Ok(created(
        format!("/v1/app-auth-tokens/{}", record.token),
        record,
    ))
}

/// `GET /v1/app-auth-tokens/{token}`.
pub async fn get_app_auth_token(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<AppAuthToken>, AdminError> {
    let token = path_param(path)?;
    state
        .store
        .get_app_auth_token(&token)
        .await?
        .map(Json)
        .ok_or_else(|| AdminError::not_found("no such app auth token"))
}

/// `DELETE /v1/app-auth-tokens/{token}`.
pub async fn delete_app_auth_token(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, AdminError> {
    let token = path_param(path)?;
    if state.store.delete_app_auth_token(&token).await? {
        tracing::info!(
            token = %tradeq_model::credentials::redact(&token),
            "admin: app auth token deleted"
        );
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(AdminError::not_found("no such app auth token"))
    }
}

// ---------------------------------------------------------------------------------------------
// TOP apps

/// A TOP app as the API shows it: the secret only in the answer that created it.
#[derive(Debug, Clone, Serialize)]
pub struct TopAppView {
    /// `app_key`.
    pub app_key: String,
    /// The secret when just created, else `"<redacted>"`.
    pub app_secret: String,
    /// Allowed sign methods.
    pub sign_methods: Vec<String>,
    /// Owning merchant.
    pub merchant_id: String,
}

impl TopAppView {
    /// The view of `app`, revealing the secret only when `reveal`.
    pub fn new(app: &TopApp, reveal: bool) -> TopAppView {
        TopAppView {
            app_key: app.app_key.clone(),
            app_secret: if reveal {
                app.app_secret.clone()
            } else {
                REDACTED.to_string()
            },
            sign_methods: app.sign_methods.clone(),
            merchant_id: app.merchant_id.clone(),
        }
    }
}

struct TopAppInput {
    app_key: Option<String>,
    app_secret: Option<String>,
    sign_methods: Option<Vec<String>>,
    merchant_id: String,
}

fn read_top_app(mut o: JsonObject) -> Result<TopAppInput, AdminError> {
    let input = TopAppInput {
        app_key: o.opt_string("app_key")?,
        app_secret: o.opt_string("app_secret")?,
        sign_methods: o.opt_string_list("sign_methods")?,
        merchant_id: o.string("merchant_id")?,
    };
    o.finish(&TOP_APP_FIELDS)?;
    Ok(input)
}

/// Validates a request and builds the app to store; an absent secret keeps the stored one
/// (PUT) or is generated (32 hex characters).
fn build_top_app(
    app_key: String,
    input: TopAppInput,
    existing: Option<&TopApp>,
) -> Result<TopApp, AdminError> {
    check_identifier("app_key", &app_key, 64)?;
    check_merchant("merchant_id", &input.merchant_id, 64)?;
    let sign_methods = allowed_list("sign_methods", input.sign_methods, &SIGN_METHODS)?;
    let app_secret = match (input.app_secret, existing) {
        (Some(s), _) => {
            check_opaque("app_secret", &s)?;
            s
        }
        (None, Some(e)) => e.app_secret.clone(),
        (None, None) => random_hex(16)?,
    };
    Ok(TopApp {
        app_key,
        app_secret,
        sign_methods,
        merchant_id: input.merchant_id,
    })
}

/// `GET /v1/top-apps`.
pub async fn list_top_apps(
    State(state): State<AppState>,
) -> Result<Json<Items<TopAppView>>, AdminError> {
    let apps = state.store.list_top_apps().await?;
    Ok(Json(Items {
        items: apps.iter().map(|a| TopAppView::new(a, false)).collect(),
    }))
}

/// `POST /v1/top-apps`: 201 with the app **and its secret** (the only time it is shown).
pub async fn create_top_app(
    State(state): State<AppState>,
    body: JsonObject,
) -> Result<Response, AdminError> {
    let input = read_top_app(body)?;
    let app_key = input
        .app_key
        .clone()
        .ok_or_else(|| AdminError::invalid_field("app_key", "is required"))?;
    check_identifier("app_key", &app_key, 64)?;
    if state.store.get_top_app(&app_key).await?.is_some() {
        return Err(AdminError::already_exists(format!(
            "TOP app `{app_key}` exists; PUT /v1/top-apps/{app_key} to replace it"
        )));
    }
    let app = build_top_app(app_key, input, None)?;
    state.store.put_top_app(&app).await?;
    tracing::info!(app_key = %app.app_key, merchant = %app.merchant_id, "admin: TOP app created");
    Ok(created(
        format!("/v1/top-apps/{}", app.app_key),
        TopAppView::new(&app, true),
    ))
}

/// `GET /v1/top-apps/{app_key}` (secret redacted).
pub async fn get_top_app(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<TopAppView>, AdminError> {
    let app_key = path_param(path)?;
    match state.store.get_top_app(&app_key).await? {
        Some(app) => Ok(Json(TopAppView::new(&app, false))),
        None => Err(AdminError::not_found(format!("no TOP app `{app_key}`"))),
    }
}

/// `PUT /v1/top-apps/{app_key}`: creates (201, secret shown) or replaces (200, secret
/// redacted; an absent `app_secret` keeps the stored one).
pub async fn put_top_app(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    body: JsonObject,
) -> Result<Response, AdminError> {
    let app_key = path_param(path)?;
    let input = read_top_app(body)?;
    if let Some(given) = &input.app_key {
        if *given != app_key {
            return Err(AdminError::bad_request(
                "key_mismatch",
                format!("the path names app `{app_key}` but the body's app_key is `{given}`"),
            )
            .with_field("app_key"));
        }
    }
    let existing = state.store.get_top_app(&app_key).await?;
    let app = build_top_app(app_key, input, existing.as_ref())?;
    state.store.put_top_app(&app).await?;
    if existing.is_some() {
        tracing::info!(app_key = %app.app_key, "admin: TOP app replaced");
        Ok(Json(TopAppView::new(&app, false)).into_response())
    } else {
        tracing::info!(app_key = %app.app_key, "admin: TOP app created");
        Ok(created(
            format!("/v1/top-apps/{}", app.app_key),
            TopAppView::new(&app, true),
        ))
    }
}

/// `DELETE /v1/top-apps/{app_key}`: removes the app and its sessions.
pub async fn delete_top_app(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, AdminError> {
    let app_key = path_param(path)?;
    if state.store.delete_top_app(&app_key).await? {
        tracing::info!(app_key = %app_key, "admin: TOP app deleted");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(AdminError::not_found(format!("no TOP app `{app_key}`")))
    }
}

// ---------------------------------------------------------------------------------------------
// TOP sessions

/// `GET /v1/top-sessions[?app_key=…]`.
pub async fn list_top_sessions(
    State(state): State<AppState>,
    filter: Result<Query<SessionFilter>, QueryRejection>,
) -> Result<Json<Items<TopSession>>, AdminError> {
    let Query(filter) = filter.map_err(AdminError::from_query_rejection)?;
    let mut items = state.store.list_top_sessions().await?;
    if let Some(app_key) = &filter.app_key {
        items.retain(|s| &s.app_key == app_key);
    }
    Ok(Json(Items { items }))
}

/// `POST /v1/top-sessions`: 201 with the session (generated when not given); 400
/// `unknown_app` when the TOP app does not exist.
pub async fn create_top_session(
    State(state): State<AppState>,
    mut body: JsonObject,
) -> Result<Response, AdminError> {
    let session = body.opt_string("session")?;
    let app_key = body.string("app_key")?;
    let merchant_id = body.string("merchant_id")?;
    let expires_at = body.opt_timestamp("expires_at")?;
    body.finish(&SESSION_FIELDS)?;

    let session = match session {
        Some(s) => {
            check_opaque("session", &s)?;
            s
        }
        None => random_hex(20)?,
    };
    check_identifier("app_key", &app_key, 64)?;
    check_merchant("merchant_id", &merchant_id, 64)?;
    if state.store.get_top_app(&app_key).await?.is_none() {
        return Err(AdminError::bad_request(
            "unknown_app",
            format!("app_key: no TOP app `{app_key}`; create it first with POST /v1/top-apps"),
        )
        .with_field("app_key"));
    }
    if state.store.get_top_session(&session).await?.is_some() {
        return Err(AdminError::already_exists(
            "this session exists; choose another or omit `session` to have one generated",
        )
        .with_field("session"));
    }
    let record = TopSession {
        session,
        app_key,
        merchant_id,
        expires_at,
    };
    state.store.put_top_session(&record).await?;
    tracing::info!(session = ?record, "admin: TOP session created");
    Ok(created(
        format!("/v1/top-sessions/{}", record.session),
        record,
    ))
}

/// `GET /v1/top-sessions/{session}`.
pub async fn get_top_session(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<TopSession>, AdminError> {
    let session = path_param(path)?;
    state
        .store
        .get_top_session(&session)
        .await?
        .map(Json)
        .ok_or_else(|| AdminError::not_found("no such TOP session"))
}

/// `DELETE /v1/top-sessions/{session}`.
pub async fn delete_top_session(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, AdminError> {
    let session = path_param(path)?;
    if state.store.delete_top_session(&session).await? {
        tracing::info!(
            session = %tradeq_model::credentials::redact(&session),
            "admin: TOP session deleted"
        );
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(AdminError::not_found("no such TOP session"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers() {
        assert!(check_identifier("app_id", "2021000000000001", 32).is_ok());
        assert!(check_identifier("app_id", "", 32).is_err());
        assert!(check_identifier("app_id", &"1".repeat(33), 32).is_err());
        assert!(check_identifier("app_id", "a b", 32).is_err());
    }

    #[test]
    fn lists_default_normalise_and_refuse() {
        assert_eq!(
            allowed_list("sign_types", None, &SIGN_TYPES).unwrap(),
            vec!["RSA2", "RSA"]
        );
        assert_eq!(
            allowed_list(
                "sign_types",
                Some(vec!["rsa2".into(), "RSA2".into()]),
                &SIGN_TYPES
            )
            .unwrap(),
            vec!["RSA2"]
        );
        let e = allowed_list("sign_types", Some(vec!["SM2".into()]), &SIGN_TYPES).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("sign_types[0]"));
        assert!(allowed_list("sign_types", Some(vec![]), &SIGN_TYPES).is_err());
    }

    #[test]
    fn aes_keys() {
        let engine = base64::engine::general_purpose::STANDARD;
        assert!(normalise_aes_key(&engine.encode([7u8; 16])).is_ok());
        assert!(normalise_aes_key(&engine.encode([7u8; 32])).is_ok());
        assert!(normalise_aes_key(&engine.encode([7u8; 15])).is_err());
        assert!(normalise_aes_key("not base64!").is_err());
    }

    #[test]
    fn random_hex_is_hex() {
        let h = random_hex(20).unwrap();
        assert_eq!(h.len(), 40);
        assert!(h.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(h, random_hex(20).unwrap());
    }
}
