//! Rendering pages, and the console's one mapping from error to status and page.

use crate::error::ApiError;
use askama::Template;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};

/// Why a console request was not served. Messages are for the operator and never carry a
/// secret or an internal detail (causes are logged).
#[derive(Debug, thiserror::Error)]
pub enum UiError {
    /// No session, or it expired or was ended: sign in again.
    #[error("sign in to use the console")]
    SignedOut,
    /// The same, for a page: answered with a redirect to the sign-in page.
    #[error("sign in to use the console")]
    SignIn,
    /// A post from another origin (`Sec-Fetch-Site`, `Origin`).
    #[error("cross-site request refused: the console only accepts forms from its own pages")]
    CrossSite,
    /// A post without this session's CSRF token.
    #[error("the form's security token is missing or stale: reload the page and try again")]
    BadCsrf,
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    /// The API refused (its status and message are the operator's to read).
    #[error("{message}")]
    Api { status: StatusCode, message: String },
    #[error("internal error: see the control plane's log")]
    Internal(#[source] anyhow::Error),
}

#[derive(Template)]
#[template(path = "ui/error.html")]
struct ErrorPage<'a> {
    status: u16,
    message: &'a str,
}

/// `template` as an HTML answer with `status`; a template that fails to render is logged and
/// answered `500`.
pub fn render(status: StatusCode, template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => UiError::internal(e).into_response(),
    }
}

// === impl UiError ===

impl UiError {
    pub fn internal(cause: impl Into<anyhow::Error>) -> Self {
        UiError::Internal(cause.into())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            UiError::SignedOut => StatusCode::UNAUTHORIZED,
            UiError::SignIn => StatusCode::SEE_OTHER,
            UiError::CrossSite | UiError::BadCsrf => StatusCode::FORBIDDEN,
            UiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            UiError::NotFound(_) => StatusCode::NOT_FOUND,
            UiError::Api { status, .. } => *status,
            UiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        if let UiError::Internal(cause) = &self {
            tracing::error!(error = format!("{cause:#}"), "console request failed");
        }
        if let UiError::SignIn = self {
            return axum::response::Redirect::to("/ui/login").into_response();
        }
        if matches!(self, UiError::CrossSite | UiError::BadCsrf) {
            tracing::warn!(reason = %self, "console post refused");
        }
        let status = self.status();
        let message = self.to_string();
        let html = ErrorPage {
            status: status.as_u16(),
            message: &message,
        }
        .render()
        .unwrap_or_else(|_| "console error".to_owned());
        let mut response = (status, Html(html)).into_response();
        if let UiError::SignedOut = self {
            // htmx follows this header instead of swapping the answer into the page.
            response
                .headers_mut()
                .insert("hx-redirect", HeaderValue::from_static("/ui/login"));
        }
        response
    }
}

impl From<ApiError> for UiError {
    fn from(e: ApiError) -> Self {
        match e {
            ApiError::Internal(cause) => UiError::Internal(cause),
            ApiError::Unavailable(ref cause) => {
                tracing::warn!(
                    error = crate::error::chain_text(cause),
                    "console request failed: the database is unavailable"
                );
                UiError::Api {
                    status: e.status_and_type().0,
                    message: e.to_string(),
                }
            }
            other => UiError::Api {
                status: other.status_and_type().0,
                message: other.to_string(),
            },
        }
    }
}

impl From<crate::store::StoreError> for UiError {
    /// As the API maps it: `503` when the database is away, else an internal error.
    fn from(e: crate::store::StoreError) -> Self {
        ApiError::from(e).into()
    }
}

impl From<crate::wire::FieldError> for UiError {
    fn from(e: crate::wire::FieldError) -> Self {
        UiError::BadRequest(e.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreError;

    #[test]
    fn a_database_away_is_a_503_and_anything_else_a_500() {
        let away = UiError::from(StoreError::Pool(
            "timed out waiting for a connection".into(),
        ));
        assert_eq!(away.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(away.to_string().contains("ask again"), "{away}");
        assert!(
            !away.to_string().contains("timed out"),
            "the cause stays in the log"
        );
        let broken = UiError::from(StoreError::Corrupt {
            table: "vault_keys",
            detail: "x".into(),
        });
        assert_eq!(broken.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
