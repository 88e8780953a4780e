//! Lifecycle templates: listing them and attaching one to a record.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::error::AdminError;
use super::extract::JsonObject;
use super::records::{parse_kind, record_document};
use crate::sandbox::lifecycle::{attach, AttachError, TEMPLATES};
use crate::state::AppState;

/// `GET /v1/lifecycle-templates`: every template's name, record kind and description.
pub async fn list_templates() -> Json<Value> {
    let templates: Vec<Value> = TEMPLATES
        .iter()
        .map(|t| json!({"name": t.name, "kind": t.kind.as_str(), "description": t.description}))
        .collect();
    Json(json!({ "templates": templates }))
}

/// `POST /v1/records/{kind}/{key}/lifecycle {"template": "…"}`: attaches the template's timeline
/// to the record (replacing any it had) and starts it now. Answers the record as `GET` shows it.
pub async fn attach_template(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    mut body: JsonObject,
) -> Result<Response, AdminError> {
    let Path((kind, key)) = path.map_err(AdminError::from_path_rejection)?;
    let kind = parse_kind(&kind)?;
    let name = body.string("template")?;
    body.finish(&["template"])?;
    let (record, _) = attach(&*state.store, kind, &key, &name, state.sandbox.now())
        .await
        .map_err(|e| match e {
            AttachError::UnknownTemplate(_) | AttachError::DoesNotFit(..) => {
                AdminError::invalid_field("template", e)
            }
            AttachError::NotFound(..) => AdminError::not_found(e.to_string()),
            AttachError::Invalid(v) => AdminError::invalid_record(&v),
            AttachError::Store(s) => AdminError::from(s),
        })?;
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        record_document(&state, &record).await?,
    )
        .into_response())
}
