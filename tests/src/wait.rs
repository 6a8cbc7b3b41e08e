//! Polling with a deadline: tests never sleep for a fixed time.

use std::future::Future;
use std::time::{Duration, Instant};

/// A condition that did not hold before its deadline.
#[derive(Debug)]
pub struct TimedOut {
    pub what: String,
    pub timeout: Duration,
}

impl std::fmt::Display for TimedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "timed out after {:?} waiting for {}",
            self.timeout, self.what
        )
    }
}

impl std::error::Error for TimedOut {}

/// Calls `check` every 20 ms until it returns `Some`, or gives up after `timeout`. The one
/// polling loop of the end-to-end tests and the bench.
pub async fn poll_until<T, F, Fut>(
    timeout: Duration,
    what: &str,
    mut check: F,
) -> Result<T, TimedOut>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return Ok(v);
        }
        if Instant::now() >= deadline {
            return Err(TimedOut {
                what: what.to_owned(),
                timeout,
            });
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// [`poll_until`] for tests: panics with `what` after `timeout`.
pub async fn wait_until<T, F, Fut>(timeout: Duration, what: &str, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    poll_until(timeout, what, check)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Sends the request `request` builds until the gateway refuses it with `reason` (the
/// `x-keybrake-deny-reason` header), or panics with `what` after `timeout`.
pub async fn wait_refused(
    timeout: Duration,
    what: &str,
    reason: &str,
    request: impl Fn() -> reqwest::RequestBuilder,
) {
    wait_until(timeout, what, || {
        let req = request();
        async move {
            let r = req.send().await.ok()?;
            (crate::deny_reason(&r).as_deref() == Some(reason)).then_some(())
        }
    })
    .await;
}
