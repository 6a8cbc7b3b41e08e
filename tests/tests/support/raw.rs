//! Raw HTTP/1.1 over TCP, for requests reqwest will not send (absolute-form targets, bytes that
//! are not valid in a URL or a header, duplicate credentials) and for upstream answers the mock
//! vendors cannot give (truncated, non-JSON, decompression bombs).

#![allow(dead_code)]

use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const IO_TIMEOUT: Duration = Duration::from_secs(20);

/// A response as read off the wire. `status` is 0 when the connection closed without one.
#[derive(Debug, Clone)]
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn deny_reason(&self) -> Option<&str> {
        self.header("x-keybrake-deny-reason")
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends `request` as is to 127.0.0.1:`port` and reads the answer until the server closes the
/// connection (send `Connection: close`).
pub async fn send(port: u16, request: &[u8]) -> RawResponse {
    tokio::time::timeout(IO_TIMEOUT, async {
        let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        // The server may answer (and close) before it has read everything: ignore write errors.
        let _ = s.write_all(request).await;
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf).await;
        parse_response(&buf)
    })
    .await
    .unwrap_or_else(|_| panic!("no answer within {IO_TIMEOUT:?}"))
}

/// A request with `Connection: close` and a correct `Content-Length` when there is a body.
pub fn request(method: &str, target: &str, headers: &[(&str, &[u8])], body: &[u8]) -> Vec<u8> {
    request_bytes(method, target.as_bytes(), headers, body)
}

/// [`request`] with a target that need not be UTF-8.
pub fn request_bytes(
    method: &str,
    target: &[u8],
    headers: &[(&str, &[u8])],
    body: &[u8],
) -> Vec<u8> {
    let mut out = format!("{method} ").into_bytes();
    out.extend_from_slice(target);
    out.extend_from_slice(b" HTTP/1.1\r\n");
    let mut has_host = false;
    for (name, value) in headers {
        has_host |= name.eq_ignore_ascii_case("host");
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    }
    if !has_host {
        out.extend_from_slice(b"Host: gateway.test\r\n");
    }
    if !body.is_empty() {
        out.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
    }
    out.extend_from_slice(b"Connection: close\r\n\r\n");
    out.extend_from_slice(body);
    out
}

fn parse_response(buf: &[u8]) -> RawResponse {
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return RawResponse {
            status: 0,
            headers: Vec::new(),
            body: buf.to_vec(),
        };
    };
    let head = String::from_utf8_lossy(&buf[..end]);
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = buf[end + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
    if chunked {
        body = dechunk(&body);
    }
    RawResponse {
        status,
        headers,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = data.windows(2).position(|w| w == b"\r\n") {
        let size_line = String::from_utf8_lossy(&data[..eol]);
        let size = usize::from_str_radix(size_line.split(';').next().unwrap_or("").trim(), 16)
            .unwrap_or(0);
        data = &data[eol + 2..];
        if size == 0 || data.len() < size {
            break;
        }
        out.extend_from_slice(&data[..size]);
        data = data.get(size + 2..).unwrap_or_default();
    }
    out
}

/// A one-trick upstream: answers every request on its port with `answer(request head)`, then
/// closes the connection. Stands in for a vendor that misbehaves.
pub struct RawUpstream {
    task: tokio::task::JoinHandle<()>,
}

impl RawUpstream {
    pub async fn start<F>(port: u16, answer: F) -> RawUpstream
    where
        F: Fn(&str) -> Vec<u8> + Send + Sync + 'static,
    {
        let listener = bind_retrying(port).await;
        let answer = std::sync::Arc::new(answer);
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut s, _)) = listener.accept().await else {
                    return;
                };
                let answer = answer.clone();
                tokio::spawn(async move {
                    let head = read_request(&mut s).await;
                    let _ = s.write_all(&answer(&head)).await;
                    let _ = s.shutdown().await;
                });
            }
        });
        RawUpstream { task }
    }
}

impl Drop for RawUpstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The port was just freed by a killed process: bind as soon as the OS lets go of it.
async fn bind_retrying(port: u16) -> TcpListener {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        match TcpListener::bind(("127.0.0.1", port)).await {
            Ok(l) => return l,
            Err(e) => {
                assert!(
                    std::time::Instant::now() < deadline,
                    "cannot bind 127.0.0.1:{port}: {e}"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
}

/// Reads a request's head and its Content-Length body; returns the head as text.
async fn read_request(s: &mut TcpStream) -> String {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let Ok(Ok(n)) = tokio::time::timeout(IO_TIMEOUT, s.read(&mut chunk)).await else {
            break;
        };
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).into_owned();
            let len: usize = head
                .lines()
                .filter_map(|l| l.split_once(':'))
                .find(|(n, _)| n.trim().eq_ignore_ascii_case("content-length"))
                .and_then(|(_, v)| v.trim().parse().ok())
                .unwrap_or(0);
            while buf.len() < end + 4 + len {
                let Ok(Ok(n)) = tokio::time::timeout(IO_TIMEOUT, s.read(&mut chunk)).await else {
                    break;
                };
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            return head;
        }
    }
    String::from_utf8_lossy(&buf).into_owned()
}
