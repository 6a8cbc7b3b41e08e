//! The audit trail as a test reads it: every record of a query, following cursors.

#![allow(dead_code)]

use keybrake_e2e::Stack;
use serde_json::Value;
use std::collections::HashSet;

/// Every audit record matching `query` (through the stack's first control plane), following
/// cursors.
pub async fn audit(stack: &Stack, query: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/audit?limit=1000&{query}");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let (status, body) = stack.admin_request(reqwest::Method::GET, &path, None).await;
        assert_eq!(status, 200, "GET {path}: {body}");
        out.extend(body["records"].as_array().unwrap().iter().cloned());
        match body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return out,
        }
    }
}

/// Fails if two records share an `(instance, seq)`.
pub fn assert_each_once(records: &[Value]) {
    let mut seen = HashSet::new();
    for r in records {
        let id = (
            r["instance"].as_str().unwrap().to_owned(),
            r["seq"].as_u64().unwrap(),
        );
        assert!(seen.insert(id.clone()), "record {id:?} stored twice");
    }
}
