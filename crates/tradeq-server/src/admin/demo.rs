//! `GET /v1/demo-credentials`: the demo's credentials, for the console's explorer.
//!
//! They are the credentials `serve --demo` writes to `demo-credentials.json` for any SDK to use,
//! private keys and secrets included: demo credentials are public by design. The admin token is
//! left out (the caller has it), and the answer needs the token like every data endpoint.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::Value;

use super::error::AdminError;
use crate::demo;
use crate::state::AppState;

/// `GET /v1/demo-credentials`: `404 not_found` when the store holds no demo.
pub async fn credentials(State(state): State<AppState>) -> Result<Response, AdminError> {
    let creds = demo::stored(state.store.as_ref())
        .await
        .map_err(|e| match e {
            demo::DemoError::Store(e) => AdminError::from(e),
            other => AdminError::internal(other),
        })?
        .ok_or_else(|| {
            AdminError::not_found(
                "this store holds no demo: start the server once with `serve --demo` to add it",
            )
        })?;
    let mut doc = serde_json::to_value(&creds).map_err(AdminError::internal)?;
    if let Value::Object(map) = &mut doc {
        map.remove("admin_token");
        map.insert(
            "gateway_url".into(),
            Value::String(format!("http://{}", state.config.listen)),
        );
        map.insert(
            "admin_url".into(),
            Value::String(format!("http://{}", state.config.admin_listen)),
        );
    }
    Ok(Json(doc).into_response())
}
