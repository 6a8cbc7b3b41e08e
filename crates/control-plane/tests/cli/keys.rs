//! keys, vendors, rates and errors from the command line.

use crate::support::{stderr, stdout, Server};
use tokio::io::AsyncWriteExt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_issues_lists_revokes_and_sets_credentials() {
    let server = Server::start().await;

    let issued = server
        .run(&[
            "keys",
            "issue",
            "--vendor",
            "stripe",
            "--daily-usd-cap",
            "500",
            "--allow",
            "POST /v1/payment_intents",
            "--expires-in",
            "30m",
            "--label",
            "billing-agent/42",
            "--json",
        ])
        .await;
    assert!(issued.status.success(), "{}", stderr(&issued));
    let v: serde_json::Value = serde_json::from_slice(&issued.stdout).unwrap();
    let key_id = v["key_id"].as_str().unwrap().to_owned();
    assert!(v["vault_key"].as_str().unwrap().starts_with("vk_"));

    let table = server.run(&["keys", "list"]).await;
    assert!(table.status.success(), "{}", stderr(&table));
    let text = stdout(&table);
    assert!(text.starts_with("KEY ID"), "{text}");
    assert!(text.contains(&key_id) && text.contains("billing-agent/42") && text.contains("active"));

    let revoked = server.run(&["keys", "revoke", &key_id]).await;
    assert!(revoked.status.success(), "{}", stderr(&revoked));
    assert!(stdout(&revoked).contains("revoked"));

    let mut set = server.cli(&["vendors", "set", "stripe"]);
    set.stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = set.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"sk_test_from_stdin\n").await.unwrap();
    drop(stdin);
    let out = child.wait_with_output().await.unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stdout(&out).contains("sk_test_from_stdin"));

    let vendors = server.run(&["vendors", "list", "--json"]).await;
    let v: serde_json::Value = serde_json::from_slice(&vendors.stdout).unwrap();
    assert_eq!(v["vendors"][0]["configured"], true);

    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_prints_the_api_error_and_fails() {
    let server = Server::start().await;
    let cases: [(&str, &[&str], &str); 3] = [
        (
            "bad cap",
            &[
                "keys",
                "issue",
                "--vendor",
                "stripe",
                "--daily-usd-cap",
                "0",
                "--allow",
                "POST /v1/x",
                "--expires-in",
                "30m",
                "--label",
                "l",
            ],
            "daily_usd_cap must be greater than 0",
        ),
        (
            "unknown key",
            &["keys", "show", "kid_0123456789abcdef"],
            "no vault key kid_0123456789abcdef",
        ),
        (
            "malformed key",
            &["keys", "revoke", "nope"],
            "is not a key id",
        ),
    ];
    for (name, args, want) in cases {
        let out = server.run(args).await;
        assert!(!out.status.success(), "case {name}");
        assert!(stderr(&out).contains(want), "case {name}: {}", stderr(&out));
    }
    let wrong = server
        .cli(&["keys", "list"])
        .env("KEYBRAKE_ADMIN_KEY", "kba_wrong")
        .output()
        .await
        .unwrap();
    assert!(!wrong.status.success());
    assert!(
        stderr(&wrong).contains("missing or invalid bearer token"),
        "{}",
        stderr(&wrong)
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_sets_lists_and_deletes_rates_and_shows_spend() {
    let server = Server::start().await;
    let set = server.run(&["rates", "set", "jpy", "0.0067"]).await;
    assert!(set.status.success(), "{}", stderr(&set));
    assert!(stdout(&set).contains("0.0067"), "{}", stdout(&set));

    let table = server.run(&["rates", "list"]).await;
    assert!(table.status.success(), "{}", stderr(&table));
    let text = stdout(&table);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("CURRENCY"), "{text}");
    assert!(
        lines[1].starts_with("usd") && lines[1].contains("built in"),
        "{text}"
    );
    assert!(
        lines[2].starts_with("jpy") && lines[2].contains("0.0067"),
        "{text}"
    );

    let json = server.run(&["rates", "list", "--json"]).await;
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["rates"][1]["usd_per_unit"], 0.0067);

    let bad = server.run(&["rates", "set", "usd", "2"]).await;
    assert!(!bad.status.success());
    assert!(stderr(&bad).contains("built in"), "{}", stderr(&bad));

    let deleted = server.run(&["rates", "delete", "jpy"]).await;
    assert!(deleted.status.success(), "{}", stderr(&deleted));
    let v: serde_json::Value =
        serde_json::from_slice(&server.run(&["rates", "list", "--json"]).await.stdout).unwrap();
    assert_eq!(v["rates"].as_array().unwrap().len(), 1);

    let issued = server
        .run(&[
            "keys",
            "issue",
            "--vendor",
            "stripe",
            "--daily-usd-cap",
            "500",
            "--allow",
            "POST /v1/payment_intents",
            "--expires-in",
            "30m",
            "--label",
            "run/spend",
            "--json",
        ])
        .await;
    let v: serde_json::Value = serde_json::from_slice(&issued.stdout).unwrap();
    let show = server
        .run(&["keys", "show", v["key_id"].as_str().unwrap()])
        .await;
    let text = stdout(&show);
    for want in [
        ["daily_usd_cap", "500.00"],
        ["spend_today_usd", "0.00"],
        ["leased_usd", "0.00"],
        ["remaining_usd", "500.00"],
    ] {
        assert!(
            text.lines()
                .any(|l| l.split_whitespace().collect::<Vec<_>>() == want),
            "{want:?} in\n{text}"
        );
    }
    server.stop().await;
}
