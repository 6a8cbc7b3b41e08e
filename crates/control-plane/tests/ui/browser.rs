//! A browser stand-in: keeps the session cookie and the page's CSRF token, and sends forms
//! the way a same-origin page does.

use crate::support::{As, Reply, TestApp};
use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};

pub const HOST: &str = "127.0.0.1:8484";

pub struct Browser {
    pub app: TestApp,
    /// `keybrake_session=…`, once signed in.
    pub cookie: Option<String>,
    pub csrf: String,
}

/// The value of the first `name="csrf"` field of a page.
pub fn csrf_of(html: &str) -> Option<String> {
    let at = html.find("name=\"csrf\" value=\"")? + "name=\"csrf\" value=\"".len();
    let end = html[at..].find('"')?;
    Some(html[at..at + end].to_owned())
}

pub fn form(fields: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish()
}

impl Browser {
    pub async fn new() -> Self {
        Self {
            app: TestApp::new().await,
            cookie: None,
            csrf: String::new(),
        }
    }

    /// Sends `req` with the cookie (if any); no bearer token, as a browser.
    pub async fn send(&self, mut req: Request<Body>) -> Reply {
        if let Some(c) = &self.cookie {
            req.headers_mut().insert(header::COOKIE, c.parse().unwrap());
        }
        req.headers_mut()
            .entry(header::HOST)
            .or_insert(HOST.parse().unwrap());
        self.app.send(As::Nobody, req).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(Request::get(path).body(Body::empty()).unwrap())
            .await
    }

    /// A form post as a same-origin page sends it, plus `headers`.
    pub async fn post(&self, path: &str, body: String, headers: &[(&str, &str)]) -> Reply {
        let mut req = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ORIGIN, format!("http://{HOST}"))
            .header("sec-fetch-site", "same-origin");
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        self.send(req.body(Body::from(body)).unwrap()).await
    }

    /// Signs in with `key`; returns the reply and keeps the cookie it set.
    pub async fn sign_in_with(&mut self, key: &str) -> Reply {
        let r = self
            .post("/ui/login", form(&[("admin_key", key)]), &[])
            .await;
        if let Some(set) = r.headers.get(header::SET_COOKIE) {
            let pair = set.to_str().unwrap().split(';').next().unwrap().to_owned();
            self.cookie = Some(pair);
        }
        r
    }

    /// Signs in with the admin key and reads the CSRF token off the keys page.
    pub async fn sign_in(&mut self) {
        let key = self.app.state.admin_key.expose().to_owned();
        let r = self.sign_in_with(&key).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
        let page = self.get("/ui/keys").await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text());
        self.csrf = csrf_of(&page.text()).expect("the keys page has a CSRF token");
    }

    /// The issue form posted with `fields` (CSRF added).
    pub async fn issue(&self, fields: &[(&str, &str)]) -> Reply {
        let mut all = vec![("csrf", self.csrf.as_str())];
        all.extend_from_slice(fields);
        self.post("/ui/keys", form(&all), &[]).await
    }
}
