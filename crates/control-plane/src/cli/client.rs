//! The HTTP client behind `keybrake keys`, `keybrake vendors` and `keybrake rates`.

use crate::secrets::{read_secret_file, ADMIN_KEY_FILE};
use anyhow::{anyhow, bail, Context as _};
use clap::Args;
use reqwest::{Method, Url};
use serde_json::Value;
use std::path::PathBuf;

/// How to reach the control plane. Every option can also be given in the environment.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Control plane")]
pub struct ClientArgs {
    /// Base URL of the control plane.
    #[arg(
        long,
        env = "KEYBRAKE_URL",
        default_value = "http://127.0.0.1:8484",
        global = true
    )]
    pub url: String,

    /// The admin key (better given in the environment). If neither is set, it is read from
    /// DATA_DIR/admin.key when that file exists.
    #[arg(
        long,
        env = "KEYBRAKE_ADMIN_KEY",
        hide_env_values = true,
        global = true
    )]
    pub admin_key: Option<String>,

    /// Where `keybrake serve` keeps its data; only used to find admin.key.
    #[arg(
        long,
        env = "KEYBRAKE_DATA_DIR",
        default_value = "./keybrake-data",
        global = true
    )]
    pub data_dir: PathBuf,

    /// Print the API's JSON instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
}

/// The control plane could not be reached, or answered a server error (5xx, such as its
/// database being away): worth asking again later, unlike a refusal of the request itself.
/// [`Client::send`]'s errors carry it; find it with `anyhow::Error::downcast_ref`.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Unavailable(String);

/// An authenticated client of the admin API.
pub struct Client {
    http: reqwest::Client,
    base: Url,
    admin_key: String,
}

impl Client {
    pub fn new(args: &ClientArgs) -> anyhow::Result<Self> {
        let admin_key = match args.admin_key.as_deref().map(str::trim) {
            Some(k) if !k.is_empty() => k.to_owned(),
            _ => {
                let path = args.data_dir.join(ADMIN_KEY_FILE);
                if !path.exists() {
                    bail!(
                        "no admin key: set KEYBRAKE_ADMIN_KEY (or --admin-key), or point \
                         KEYBRAKE_DATA_DIR at the control plane's data directory"
                    );
                }
                read_secret_file("the admin key", &path)
                    .with_context(|| format!("reading {}", path.display()))?
            }
        };
        let base = Url::parse(&args.url)
            .with_context(|| format!("KEYBRAKE_URL {:?} is not a URL", args.url))?;
        if base.cannot_be_a_base() {
            bail!("KEYBRAKE_URL {:?} is not an http(s) URL", args.url);
        }
        Ok(Self {
            http: reqwest::Client::new(),
            base,
            admin_key,
        })
    }

    /// The URL of `segments` below the base URL, each segment percent-encoded.
    pub fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    /// Sends a request and returns the JSON answer, or the API's error message ([`Unavailable`]
    /// when the control plane cannot be reached or answers 5xx).
    pub async fn send(
        &self,
        method: Method,
        url: Url,
        body: Option<&Value>,
    ) -> anyhow::Result<Value> {
        let mut req = self
            .http
            .request(method, url.clone())
            .bearer_auth(&self.admin_key);
        if let Some(body) = body {
            req = req.json(body);
        }
        let resp = req.send().await.map_err(|e| {
            Unavailable(format!(
                "cannot reach the control plane at {}: {e} (is `keybrake serve` running there? \
                     set KEYBRAKE_URL or --url to where it listens)",
                self.base
            ))
        })?;
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        let json: Option<Value> = serde_json::from_str(&text).ok();
        if status.is_success() {
            return json
                .ok_or_else(|| anyhow!("{url} answered {status} with a body that is not JSON"));
        }
        let message = json
            .as_ref()
            .and_then(|j| j.pointer("/error/message"))
            .and_then(Value::as_str);
        let message = match message {
            Some(m) => m.to_owned(),
            None => format!("{url} answered {status}"),
        };
        if status.is_server_error() {
            // The API says little about its own failures ("internal error"): name who and how.
            return Err(Unavailable(format!(
                "the control plane at {} answered {status}: {message}",
                self.base
            ))
            .into());
        }
        bail!("{message}")
    }
}
