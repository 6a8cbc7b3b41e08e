//! The Stripe mock over a real socket: `serve_stripe` on port 0, plain HTTP/1.1, graceful stop.

// Helpers here are test code too, but not `#[test]` functions, which is all that
// `allow-unwrap-in-tests` covers.
#![allow(clippy::unwrap_used, clippy::type_complexity)]

use std::time::Duration;

use keybrake_mock_vendors::serve_stripe;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

async fn exchange(addr: std::net::SocketAddr, request: &str) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut response))
        .await
        .unwrap()
        .unwrap();
    String::from_utf8_lossy(&response).into_owned()
}

#[tokio::test]
async fn serves_on_a_pre_bound_listener_and_stops() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve_stripe(listener, "sk_test_socket".to_owned(), async {
        let _ = stopped.await;
    }));

    let body = "amount=1000&currency=usd&metadata[order]=7";
    let response = exchange(
        addr,
        &format!(
            "POST /v1/payment_intents HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer sk_test_socket\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\
             Connection: close\r\n\r\n{body}",
            body.len()
        ),
    )
    .await;
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    let lower = response.to_ascii_lowercase();
    assert!(
        lower.contains("\r\ncontent-type: application/json\r\n"),
        "{response}"
    );
    assert!(lower.contains("\r\nrequest-id: req_"), "{response}");
    assert!(
        response.contains("\"object\": \"payment_intent\""),
        "{response}"
    );
    assert!(response.contains("\"order\": \"7\""), "{response}");

    let log = exchange(
        addr,
        &format!("GET /__mock/requests HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"),
    )
    .await;
    assert!(log.contains("\"path\":\"/v1/payment_intents\""), "{log}");

    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}
