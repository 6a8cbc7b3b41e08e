//! Console sessions: signing in with the admin key, the session cookie, signing out.
//!
//! A session is a random token in an HttpOnly cookie; the control plane keeps only its SHA-256
//! (in memory), with the session's CSRF token and expiry. The admin key is compared in
//! constant time and never stored by the console, in the browser or here.

use super::guard::{self, Operator};
use super::page::{self, UiError};
use crate::secrets::random_token;
use crate::state::AppState;
use askama::Template;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;
use subtle::ConstantTimeEq;

/// The session cookie's name.
pub const COOKIE: &str = "keybrake_session";
/// Default `KEYBRAKE_UI_SESSION_TTL`.
pub const DEFAULT_SESSION_TTL: Duration = Duration::from_secs(8 * 3600);
/// Most sessions kept; past this the one closest to expiry is dropped.
const MAX_SESSIONS: usize = 1024;

/// How console sessions behave.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UiSettings {
    /// A session ends this long after signing in.
    pub session_ttl: Duration,
    /// Mark the cookie Secure on every answer, not only when a proxy says the request came
    /// over https.
    pub always_secure_cookies: bool,
}

impl Default for UiSettings {
    fn default() -> Self {
        Self {
            session_ttl: DEFAULT_SESSION_TTL,
            always_secure_cookies: false,
        }
    }
}

/// One signed-in browser.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    /// Put in every state-changing form; compared in constant time.
    pub csrf: String,
    /// Unix ms.
    pub expires_at_ms: u64,
}

/// Signed-in sessions by the SHA-256 of their token.
#[derive(Debug, Default)]
pub struct Sessions {
    map: Mutex<HashMap<[u8; 32], Session>>,
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

// === impl Sessions ===

impl Sessions {
    /// Starts a session; returns its token (for the cookie only) and the session.
    pub fn create(&self, now_ms: u64, ttl: Duration) -> Result<(String, Session), UiError> {
        let token = random_token("kbs_").map_err(UiError::internal)?;
        let csrf = random_token("").map_err(UiError::internal)?;
        let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
        let session = Session {
            csrf,
            expires_at_ms: now_ms.saturating_add(ttl_ms),
        };
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        map.retain(|_, s| s.expires_at_ms > now_ms);
        if map.len() >= MAX_SESSIONS {
            let first = map
                .iter()
                .min_by_key(|(_, s)| s.expires_at_ms)
                .map(|(k, _)| *k);
            if let Some(k) = first {
                map.remove(&k);
            }
        }
        map.insert(digest(&token), session.clone());
        Ok((token, session))
    }

    /// The live session of `token`; an expired one is forgotten.
    pub fn get(&self, token: &str, now_ms: u64) -> Option<Session> {
        let key = digest(token);
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        match map.get(&key) {
            Some(s) if s.expires_at_ms > now_ms => Some(s.clone()),
            Some(_) => {
                map.remove(&key);
                None
            }
            None => None,
        }
    }

    /// Ends the session of `token`, if any.
    pub fn remove(&self, token: &str) {
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        map.remove(&digest(token));
    }
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

/// Whether the request reached us over TLS, as a TLS-terminating proxy in front says.
fn behind_tls(headers: &HeaderMap) -> bool {
    let says_https = |name: &str, check: &dyn Fn(&str) -> bool| {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(check)
    };
    says_https("x-forwarded-proto", &|v| {
        v.split(',')
            .next()
            .is_some_and(|p| p.trim().eq_ignore_ascii_case("https"))
    }) || says_https("forwarded", &|v| {
        v.split([';', ','])
            .filter_map(|kv| kv.trim().split_once('='))
            .any(|(k, p)| k.eq_ignore_ascii_case("proto") && p.trim_matches('"') == "https")
    })
}

/// `Set-Cookie` for `token`, living `max_age_secs` (0 deletes it).
fn set_cookie(state: &AppState, headers: &HeaderMap, token: &str, max_age_secs: u64) -> String {
    let secure = if state.ui.always_secure_cookies || behind_tls(headers) {
        "; Secure"
    } else {
        ""
    };
    format!("{COOKIE}={token}; Path=/ui; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}{secure}")
}

#[derive(Template)]
#[template(path = "ui/login.html")]
struct LoginPage {
    error: Option<&'static str>,
}

/// `GET /ui/login`.
pub async fn login_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if guard::operator(&state, &headers).is_some() {
        return Redirect::to("/ui/keys").into_response();
    }
    page::render(StatusCode::OK, &LoginPage { error: None })
}

/// `POST /ui/login` with `admin_key`: a session cookie and the keys page, or `401` and the
/// form again. The key is never echoed back.
pub async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, UiError> {
    guard::same_origin(&headers)?;
    let fields = guard::form_fields(&body);
    let given = fields.get("admin_key").map(String::as_str).unwrap_or("");
    let expected = state.admin_key.expose();
    if given.is_empty() || !bool::from(given.as_bytes().ct_eq(expected.as_bytes())) {
        state
            .counters
            .admin_auth_failures
            .fetch_add(1, Ordering::Relaxed);
        tracing::info!("console sign-in refused: wrong admin key");
        let error = Some("That is not the admin key of this control plane.");
        return Ok(page::render(StatusCode::UNAUTHORIZED, &LoginPage { error }));
    }
    let ttl = state.ui.session_ttl;
    let (token, _) = state.sessions.create(state.clock.now_ms(), ttl)?;
    let cookie = set_cookie(&state, &headers, &token, ttl.as_secs());
    tracing::info!("console session started");
    let mut response = Redirect::to("/ui/keys").into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).map_err(UiError::internal)?,
    );
    Ok(response)
}

/// `POST /ui/logout`: ends the session here and deletes the cookie.
pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: guard::PostForm,
) -> Result<Response, UiError> {
    let Operator { token, .. } = form.operator;
    state.sessions.remove(&token);
    let mut response = Redirect::to("/ui/login").into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&set_cookie(&state, &headers, "", 0)).map_err(UiError::internal)?,
    );
    Ok(response)
}
