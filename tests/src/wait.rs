//! Polling with a deadline: tests never sleep for a fixed time.

use std::future::Future;
use std::time::{Duration, Instant};

/// Calls `check` until it returns `Some`, or panics with `what` after `timeout`.
pub async fn wait_until<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
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
