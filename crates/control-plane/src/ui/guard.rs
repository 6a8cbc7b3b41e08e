//! Who may see a console page, and which posts are the operator's own.
//!
//! A page needs a live session ([`Operator`]). A post ([`PostForm`]) needs more: it must come
//! from this origin (a browser's `Sec-Fetch-Site` and `Origin` say so; a cross-site one is
//! refused even if the cookie came along) and carry the session's CSRF token.

use super::page::UiError;
use super::session::{cookie, Session, COOKIE};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use std::collections::HashMap;
use subtle::ConstantTimeEq;

/// A signed-in operator: the session's token and what it holds.
#[derive(Clone, Debug)]
pub struct Operator {
    pub token: String,
    pub session: Session,
}

/// A same-origin, CSRF-checked form post of a signed-in operator.
#[derive(Debug)]
pub struct PostForm {
    pub operator: Operator,
    /// The form's fields, decoded; the last of a repeated name wins.
    pub fields: HashMap<String, String>,
}

/// The operator signed in on this request, if any.
pub fn operator(state: &AppState, headers: &HeaderMap) -> Option<Operator> {
    let token = cookie(headers, COOKIE).filter(|t| !t.is_empty())?;
    let session = state.sessions.get(token, state.clock.now_ms())?;
    Some(Operator {
        token: token.to_owned(),
        session,
    })
}

/// Refuses a request a browser marks as coming from another origin: `Sec-Fetch-Site` other
/// than `same-origin` (or `none`, typed by the user), or an `Origin` whose host is not the one
/// addressed. Clients that send neither (curl, scripts) still need the session and its token.
pub fn same_origin(headers: &HeaderMap) -> Result<(), UiError> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = text("sec-fetch-site") {
        if site != "same-origin" && site != "none" {
            return Err(UiError::CrossSite);
        }
    }
    if let Some(origin) = text(header::ORIGIN.as_str()) {
        let authority = origin
            .split_once("://")
            .map(|(_, rest)| rest.trim_end_matches('/'));
        let host = text("x-forwarded-host").or_else(|| text(header::HOST.as_str()));
        if authority.is_none() || authority != host {
            return Err(UiError::CrossSite);
        }
    }
    Ok(())
}

/// The fields of a urlencoded form body.
pub fn form_fields(body: &[u8]) -> HashMap<String, String> {
    form_urlencoded::parse(body).into_owned().collect()
}

impl FromRequestParts<AppState> for Operator {
    type Rejection = UiError;

    /// A page asked for without a session goes to the sign-in page; anything else (htmx,
    /// the live tail) is answered `401`.
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, UiError> {
        operator(state, &parts.headers).ok_or_else(|| {
            let page = parts.method == axum::http::Method::GET
                && !parts.headers.contains_key("hx-request")
                && !parts.uri.path().ends_with("/stream");
            if page {
                UiError::SignIn
            } else {
                UiError::SignedOut
            }
        })
    }
}

impl FromRequest<AppState> for PostForm {
    type Rejection = UiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, UiError> {
        same_origin(req.headers())?;
        let operator = operator(state, req.headers()).ok_or(UiError::SignedOut)?;
        let body = Bytes::from_request(req, state)
            .await
            .map_err(|_| UiError::BadRequest("the form could not be read".into()))?;
        let fields = form_fields(&body);
        let given = fields.get("csrf").map(String::as_str).unwrap_or("");
        let expected = operator.session.csrf.as_bytes();
        if !bool::from(given.as_bytes().ct_eq(expected)) {
            return Err(UiError::BadCsrf);
        }
        Ok(PostForm { operator, fields })
    }
}
