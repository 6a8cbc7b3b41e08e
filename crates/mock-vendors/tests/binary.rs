//! The `keybrake-mock-vendors` binary as `make run` and the end-to-end tests start it:
//! which mocks it serves for which flags, what it prints, and that SIGTERM stops it.

// Helpers here are test code too, but not `#[test]` functions, which is all that
// `allow-unwrap-in-tests` covers.
#![allow(clippy::unwrap_used, clippy::panic)]
#![cfg(unix)]

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

const DEADLINE: Duration = Duration::from_secs(20);

struct Mocks {
    child: Child,
    /// `(vendor, address)` from each `mock <vendor> listening on http://<addr>` line.
    listening: Vec<(String, String)>,
}

impl Mocks {
    /// Starts the binary and waits, up to the deadline, for `expected` listening lines.
    fn start(args: &[&str], expected: usize) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_keybrake-mock-vendors"))
            .args(args)
            .env_remove("MOCK_TWILIO_LISTEN")
            .env_remove("MOCK_RESEND_LISTEN")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let started = Instant::now();
        let mut listening = Vec::new();
        while listening.len() < expected {
            let left = DEADLINE.saturating_sub(started.elapsed());
            let Ok(line) = rx.recv_timeout(left) else {
                let _ = child.kill();
                panic!("only {listening:?} were listening after {DEADLINE:?}");
            };
            if let Some(rest) = line.strip_prefix("mock ") {
                if let Some((vendor, addr)) = rest.split_once(" listening on http://") {
                    listening.push((vendor.to_owned(), addr.to_owned()));
                }
            }
        }
        // Any further line would name a mock that should not be there.
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(300)) {
            let _ = child.kill();
            panic!("unexpected output: {line}");
        }
        Self { child, listening }
    }

    fn vendors(&self) -> Vec<&str> {
        self.listening.iter().map(|(v, _)| v.as_str()).collect()
    }

    fn addr(&self, vendor: &str) -> &str {
        &self.listening.iter().find(|(v, _)| v == vendor).unwrap().1
    }

    /// Sends SIGTERM and expects a clean exit within the deadline.
    fn stop(mut self) {
        let pid = self.child.id().to_string();
        let status = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(status.success());
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "exit status {status}");
                return;
            }
            if started.elapsed() > DEADLINE {
                let _ = self.child.kill();
                panic!("did not stop on SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// One plain HTTP/1.1 exchange; returns the status line and the body.
fn exchange(addr: &str, request: &str) -> (String, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response.lines().next().unwrap_or_default().to_owned();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

#[test]
fn stripe_alone_by_default() {
    let mocks = Mocks::start(&["--stripe-listen", "127.0.0.1:0"], 1);
    assert_eq!(mocks.vendors(), ["stripe"]);
    mocks.stop();
}

#[test]
fn all_three_with_their_credentials() {
    let mocks = Mocks::start(
        &[
            "--stripe-listen",
            "127.0.0.1:0",
            "--stripe-key",
            "sk_test_bin",
            "--twilio-listen",
            "127.0.0.1:0",
            "--twilio-account-sid",
            "AC00000000000000000000000000000042",
            "--twilio-auth-token",
            "tok",
            "--resend-listen",
            "127.0.0.1:0",
            "--resend-key",
            "re_bin",
        ],
        3,
    );
    assert_eq!(mocks.vendors(), ["stripe", "twilio", "resend"]);

    let twilio_auth = STANDARD.encode("AC00000000000000000000000000000042:tok");
    let body = "To=%2B15558675310&From=%2B15005550006&Body=hi";
    let payout = "amount=100&currency=usd";
    let cases = [
        ("stripe", format!(
            "POST /v1/payouts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sk_test_bin\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{payout}",
            payout.len()
        ), "HTTP/1.1 200 OK", "\"object\": \"payout\""),
        ("twilio", format!(
            "POST /2010-04-01/Accounts/AC00000000000000000000000000000042/Messages.json HTTP/1.1\r\n\
             Host: x\r\nAuthorization: Basic {twilio_auth}\r\nContent-Length: {}\r\n\
             Connection: close\r\n\r\n{body}", body.len()
        ), "HTTP/1.1 201 Created", "\"status\":\"queued\""),
        ("resend", "POST /emails HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer re_wrong\r\n\
             Content-Length: 2\r\nConnection: close\r\n\r\n{}".to_owned(),
         "HTTP/1.1 403 Forbidden", "\"name\":\"invalid_api_key\""),
    ];
    for (vendor, request, status, fragment) in cases {
        let (got_status, got_body) = exchange(mocks.addr(vendor), &request);
        assert_eq!(got_status, status, "{vendor}: {got_body}");
        assert!(got_body.contains(fragment), "{vendor}: {got_body}");
    }
    mocks.stop();
}
