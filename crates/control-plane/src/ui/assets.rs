//! The console's static files, compiled into the binary: no CDN, works offline.
//!
//! `htmx.min.js` is htmx 2.0.11 and `sse.js` its SSE extension 2.2.4 (both 0BSD, from the
//! npm packages `htmx.org` and `htmx-ext-sse`, unchanged); `app.js`, `style.css` and
//! `favicon.svg` (a red disc with a white bar: a brake) are ours.

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

/// `(name, content type, bytes)` of every asset.
const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "htmx.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/ui/htmx.min.js"),
    ),
    (
        "sse.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/ui/sse.js"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/ui/app.js"),
    ),
    (
        "style.css",
        "text/css; charset=utf-8",
        include_bytes!("../../assets/ui/style.css"),
    ),
    (
        "favicon.svg",
        "image/svg+xml",
        include_bytes!("../../assets/ui/favicon.svg"),
    ),
];

/// `GET /ui/assets/{name}`. Assets need no session: they hold nothing secret.
pub async fn serve(Path(name): Path<String>) -> Response {
    match ASSETS.iter().find(|(n, _, _)| *n == name) {
        Some((_, content_type, bytes)) => (
            [
                (header::CONTENT_TYPE, *content_type),
                (header::CACHE_CONTROL, "public, max-age=300"),
            ],
            *bytes,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such asset").into_response(),
    }
}
