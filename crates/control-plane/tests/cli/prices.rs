//! prices and Twilio API key credentials from the command line.

use crate::support::{stderr, stdout, Server};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_sets_lists_and_resets_prices() {
    let server = Server::start().await;
    let table = server.run(&["prices", "list"]).await;
    assert!(table.status.success(), "{}", stderr(&table));
    let text = stdout(&table);
    assert!(text.starts_with("VENDOR"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>()
                == ["twilio", "sms", "segment", "+1", "$0.0083", "default"]),
        "{text}"
    );

    let set = server
        .run(&[
            "prices",
            "set",
            "twilio",
            "--sms-segment",
            "0.009",
            "--prefix-sms",
            "44=0.04",
            "--call-max-minutes",
            "60",
            "--channel-message",
            "whatsapp=0.005",
        ])
        .await;
    assert!(set.status.success(), "{}", stderr(&set));
    assert!(stdout(&set).contains("+44"), "{}", stdout(&set));
    assert!(
        stdout(&set)
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>()
                == ["twilio", "message", "whatsapp:", "$0.005", "set"]),
        "{}",
        stdout(&set)
    );
    // Another set keeps what was set before and adds to the prefix table.
    let more = server
        .run(&["prices", "set", "twilio", "--prefix-sms", "447=0.045"])
        .await;
    assert!(more.status.success(), "{}", stderr(&more));
    let resend = server
        .run(&["prices", "set", "resend", "--email", "0.001"])
        .await;
    assert!(resend.status.success(), "{}", stderr(&resend));

    let json = server.run(&["prices", "list", "--json"]).await;
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["twilio"]["prices"]["sms_segment_usd"], 0.009);
    assert_eq!(
        v["twilio"]["prices"]["sms_segment_by_prefix"],
        serde_json::json!({"44": 0.04, "447": 0.045})
    );
    assert_eq!(v["twilio"]["prices"]["call_max_minutes"], 60);
    assert_eq!(
        v["twilio"]["prices"]["message_by_channel"],
        serde_json::json!({"whatsapp": 0.005}),
        "a later set keeps the channel prices"
    );
    assert_eq!(v["twilio"]["default"]["mms_message_usd"], true);
    assert_eq!(v["resend"]["prices"]["email_usd"], 0.001);

    let bad = server
        .run(&["prices", "set", "twilio", "--call-max-minutes", "0"])
        .await;
    assert!(!bad.status.success());
    assert!(
        stderr(&bad).contains("call_max_minutes"),
        "{}",
        stderr(&bad)
    );
    let bad = server
        .run(&["prices", "set", "twilio", "--prefix-sms", "44:0.04"])
        .await;
    assert!(stderr(&bad).contains("PREFIX=USD"), "{}", stderr(&bad));
    let bad = server
        .run(&["prices", "set", "twilio", "--channel-call", "client"])
        .await;
    assert!(stderr(&bad).contains("CHANNEL=USD"), "{}", stderr(&bad));

    let replaced = server
        .run(&[
            "prices",
            "set",
            "twilio",
            "--replace",
            "--mms",
            "0.03",
            "--json",
        ])
        .await;
    let v: serde_json::Value = serde_json::from_slice(&replaced.stdout).unwrap();
    assert_eq!(v["default"]["sms_segment_by_prefix"], true);
    assert_eq!(v["prices"]["mms_message_usd"], 0.03);

    let reset = server.run(&["prices", "reset", "resend"]).await;
    assert!(reset.status.success(), "{}", stderr(&reset));
    let v: serde_json::Value =
        serde_json::from_slice(&server.run(&["prices", "list", "--json"]).await.stdout).unwrap();
    assert_eq!(v["resend"]["default"]["email_usd"], true);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_sets_a_twilio_api_key_from_a_file() {
    let server = Server::start().await;
    let secret_file = server.dir.join("twilio-key-secret.txt");
    std::fs::write(&secret_file, "api_key_secret_from_file\n").unwrap();
    let out = server
        .run(&[
            "vendors",
            "set",
            "twilio",
            "--account-sid",
            "AC0123",
            "--api-key-sid",
            "SK0456",
            "--api-key-secret-file",
            secret_file.to_str().unwrap(),
        ])
        .await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stdout(&out).contains("api_key_secret_from_file"));

    let token = std::fs::read_to_string(server.dir.join("dataplane.token")).unwrap();
    let snap: keybrake_core::Snapshot = reqwest::Client::new()
        .get(format!(
            "{}/dataplane/v1/snapshot?gateway=gw&wait_ms=0",
            server.url
        ))
        .bearer_auth(token.trim())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        snap.credentials,
        [keybrake_core::VendorCredential::Twilio {
            account_sid: "AC0123".into(),
            auth_token: None,
            api_key_sid: Some("SK0456".into()),
            api_key_secret: Some("api_key_secret_from_file".into()),
        }]
    );

    let both = server
        .run(&[
            "vendors",
            "set",
            "twilio",
            "--account-sid",
            "AC0123",
            "--api-key-sid",
            "SK0456",
            "--auth-token-file",
            secret_file.to_str().unwrap(),
        ])
        .await;
    assert!(!both.status.success());
    assert!(
        stderr(&both).contains("cannot be used with"),
        "{}",
        stderr(&both)
    );
    server.stop().await;
}
