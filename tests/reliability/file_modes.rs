//! The data directory and every file holding secrets are readable by their owner only, and the
//! store keeps only a digest of the admin token.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::node::{demo_credentials, Node};

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

#[tokio::test(flavor = "multi_thread")]
async fn secrets_are_owner_only_and_the_admin_token_is_stored_as_a_digest() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("nested").join("data");
    let node = Node::start(&data, &["--demo"]);
    let creds = demo_credentials(&data);
    assert_eq!(mode(&data), 0o700, "data directory");
    for file in [
        "tradeq.db",
        "tradeq.db-wal",
        "tradeq.db-shm",
        "tradeq.db-nonces",
        "admin-token",
        "demo-credentials.json",
    ] {
        assert_eq!(mode(&data.join(file)), 0o600, "{file}");
    }

    let token = std::fs::read_to_string(data.join("admin-token")).unwrap();
    assert_eq!(creds["admin_token"].as_str(), Some(token.as_str()));
    let http = reqwest::Client::new();
    let stats = |t: String| {
        http.get(format!("{}/v1/stats", node.admin_url))
            .bearer_auth(t)
            .send()
    };
    assert_eq!(stats(token.clone()).await.unwrap().status(), 200);
    assert_eq!(stats(format!("{token}x")).await.unwrap().status(), 401);

    let url = format!("sqlite://{}", data.join("tradeq.db").display());
    let store = tradeq_store::open(&url).await.unwrap();
    let stored = store.get_meta("admin_token").await.unwrap().unwrap();
    assert!(stored.starts_with("sha256:"), "{stored}");
    assert!(!stored.contains(&token), "the token is kept in clear");
    store.close().await;
    assert!(node.stop());

    // A restart keeps the same token working (and the demo file keeps showing it).
    let node = Node::start(&data, &["--demo"]);
    assert_eq!(
        demo_credentials(&data)["admin_token"].as_str(),
        Some(token.as_str())
    );
    let http = reqwest::Client::new();
    let again = http
        .get(format!("{}/v1/stats", node.admin_url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 200);
    assert!(node.stop());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_an_older_version_kept_in_clear_is_replaced_by_its_digest() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let url = format!("sqlite://{}", data.join("tradeq.db").display());
    let store = tradeq_store::open(&url).await.unwrap();
    store
        .put_meta("admin_token", "legacy-token-in-clear")
        .await
        .unwrap();
    store.close().await;
    drop(store);

    let node = Node::start(&data, &[]);
    let ok = reqwest::Client::new()
        .get(format!("{}/v1/stats", node.admin_url))
        .bearer_auth("legacy-token-in-clear")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200, "the existing token keeps working");
    assert!(node.stop());
    let store = tradeq_store::open(&url).await.unwrap();
    let stored = store.get_meta("admin_token").await.unwrap().unwrap();
    assert!(stored.starts_with("sha256:"), "{stored}");
    store.close().await;
}
