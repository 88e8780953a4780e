//! The web console: a single-page application served on the admin listener at `/console/`.
//!
//! Its files are embedded in the binary, so a plain `cargo build` builds it and nothing else
//! needs to run. The files hold no data and are served without the admin token; every data
//! call the application makes goes to the admin API with the token as a bearer header.

use axum::extract::Path;
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;

mod assets;

use assets::{Asset, ASSETS};

/// Where the console is served.
pub const PREFIX: &str = "/console/";

/// No inline script or style, nothing from elsewhere: a script injected into a page (a record
/// field, a journal entry) can neither run nor send the token anywhere.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; \
     base-uri 'none'; form-action 'self'";

/// The console's routes, to be merged into the admin router (no token required).
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/console", get(|| async { Redirect::permanent(PREFIX) }))
        .route("/console/", get(|| async { serve("index.html") }))
        .route(
            "/console/{*file}",
            get(|Path(file): Path<String>| async move { serve(&file) }),
        )
}

/// The headers every console answer carries.
fn security_headers() -> [(HeaderName, HeaderValue); 4] {
    [
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        ),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
    ]
}

fn serve(file: &str) -> Response {
    match ASSETS.iter().find(|a| a.path == file) {
        Some(asset) => asset_response(asset),
        None => (
            StatusCode::NOT_FOUND,
            security_headers(),
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            )],
            format!("the console has no file `{file}`; open {PREFIX}"),
        )
            .into_response(),
    }
}

fn asset_response(asset: &Asset) -> Response {
    // The page must always be the one of this binary; the other files are named in it and
    // revalidated, so an upgrade never mixes old and new modules.
    let cache = if asset.path == "index.html" {
        "no-store"
    } else {
        "no-cache"
    };
    (
        security_headers(),
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(asset.content_type),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
        ],
        asset.body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_module_the_page_imports_is_embedded() {
        let page = ASSETS
            .iter()
            .find(|a| a.path == "index.html")
            .map(|a| String::from_utf8_lossy(a.body).into_owned())
            .unwrap_or_default();
        assert!(page.contains("<script type=\"module\" src=\"js/main.js\">"));
        for asset in ASSETS.iter().filter(|a| a.path.ends_with(".js")) {
            let text = String::from_utf8_lossy(asset.body);
            for line in text.lines() {
                let Some(rest) = line.trim().strip_prefix("import ") else {
                    continue;
                };
                let Some(from) = rest.split(" from './").nth(1) else {
                    continue;
                };
                let name = from.split('\'').next().unwrap_or_default();
                let wanted = format!("js/{name}");
                assert!(
                    ASSETS.iter().any(|a| a.path == wanted),
                    "{} imports {wanted}, which is not embedded",
                    asset.path
                );
            }
        }
    }

    #[test]
    fn no_inline_script_or_style() {
        for asset in ASSETS.iter().filter(|a| a.path.ends_with(".html")) {
            let text = String::from_utf8_lossy(asset.body);
            assert!(!text.contains("style="), "{}", asset.path);
            assert!(!text.contains("<style"), "{}", asset.path);
            for part in text.split("<script").skip(1) {
                assert!(part.contains(" src="), "inline script in {}", asset.path);
            }
        }
    }
}
