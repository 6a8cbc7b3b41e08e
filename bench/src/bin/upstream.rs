//! A fast stand-in for Stripe for `make bench`: answers `POST /v1/payment_intents` with a
//! realistic ~1 KB PaymentIntent (echoing the request's `amount` and `currency`, so keybrake
//! settles from the response), `GET /v1/customers/{id}` with a customer, and `GET /v1/balance`.
//! Unlike the mock vendors it records nothing and checks no credential: it must never be the
//! bottleneck. One thread unless `--threads N`.
//!
//! Usage: `keybrake-bench-upstream 127.0.0.1:PORT [--threads N]`

use axum::body::Bytes;
use axum::extract::Path;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use std::sync::atomic::{AtomicU64, Ordering};

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr = args
        .next()
        .ok_or_else(|| anyhow::anyhow!("usage: keybrake-bench-upstream ADDR [--threads N]"))?;
    let mut threads = 1;
    while let Some(a) = args.next() {
        if a == "--threads" {
            threads = args.next().and_then(|n| n.parse().ok()).unwrap_or(1);
        }
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()?;
    rt.block_on(serve(&addr))
}

async fn serve(addr: &str) -> anyhow::Result<()> {
    let app = Router::new()
        .route("/v1/payment_intents", post(payment_intent))
        .route("/v1/customers/{id}", get(customer))
        .route("/v1/balance", get(balance));
    let listener = tokio::net::TcpListener::bind(addr).await?;
    axum::serve(listener, app).await?;
    Ok(())
}

fn json(body: String) -> impl IntoResponse {
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    (
        [
            (header::CONTENT_TYPE, "application/json".to_owned()),
            (
                header::HeaderName::from_static("request-id"),
                format!("req_bench{id:016}"),
            ),
        ],
        body,
    )
}

/// `amount` and `currency` from a form body (Stripe's encoding), as the real API reads them.
async fn payment_intent(body: Bytes) -> impl IntoResponse {
    let mut amount = 0u64;
    let mut currency = String::from("usd");
    for (k, v) in form_urlencoded::parse(&body) {
        match &*k {
            "amount" => amount = v.parse().unwrap_or(0),
            "currency" => currency = v.to_ascii_lowercase(),
            _ => {}
        }
    }
    let n = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    json(format!(
        concat!(
            r#"{{"id":"pi_3Bench{n:018}","object":"payment_intent","amount":{amount},"#,
            r#""amount_capturable":0,"amount_details":{{"tip":{{}}}},"amount_received":0,"#,
            r#""application":null,"application_fee_amount":null,"automatic_payment_methods":null,"#,
            r#""canceled_at":null,"cancellation_reason":null,"capture_method":"automatic","#,
            r#""client_secret":"pi_3Bench{n:018}_secret_bench000000000000000000","#,
            r#""confirmation_method":"automatic","created":1767225600,"currency":"{currency}","#,
            r#""customer":null,"description":"keybrake bench","last_payment_error":null,"#,
            r#""latest_charge":null,"livemode":false,"metadata":{{"order_id":"bench-{n}"}},"#,
            r#""next_action":null,"on_behalf_of":null,"payment_method":null,"#,
            r#""payment_method_configuration_details":null,"#,
            r#""payment_method_options":{{"card":{{"installments":null,"mandate_options":null,"#,
            r#""network":null,"request_three_d_secure":"automatic"}}}},"#,
            r#""payment_method_types":["card"],"processing":null,"receipt_email":null,"#,
            r#""review":null,"setup_future_usage":null,"shipping":null,"source":null,"#,
            r#""statement_descriptor":null,"statement_descriptor_suffix":null,"#,
            r#""status":"requires_payment_method","transfer_data":null,"transfer_group":null}}"#
        ),
        n = n,
        amount = amount,
        currency = currency,
    ))
}

async fn customer(Path(id): Path<String>) -> impl IntoResponse {
    let id: String = id
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(40)
        .collect();
    json(format!(
        concat!(
            r#"{{"id":"cus_{id}","object":"customer","address":null,"balance":0,"#,
            r#""created":1767225600,"currency":"usd","default_source":null,"delinquent":false,"#,
            r#""description":"keybrake bench customer","discount":null,"#,
            r#""email":"jenny.rosen@example.com","invoice_prefix":"BENCH001","#,
            r#""invoice_settings":{{"custom_fields":null,"default_payment_method":null,"#,
            r#""footer":null,"rendering_options":null}},"livemode":false,"#,
            r#""metadata":{{"segment":"bench"}},"name":"Jenny Rosen","next_invoice_sequence":1,"#,
            r#""phone":"+15555550123","preferred_locales":["en"],"shipping":null,"#,
            r#""tax_exempt":"none","test_clock":null}}"#
        ),
        id = id
    ))
}

async fn balance() -> impl IntoResponse {
    json(
        concat!(
            r#"{"object":"balance","available":[{"amount":666670,"currency":"usd","#,
            r#""source_types":{"card":666670}}],"livemode":false,"#,
            r#""pending":[{"amount":61414,"currency":"usd","source_types":{"card":61414}}]}"#
        )
        .to_owned(),
    )
}
