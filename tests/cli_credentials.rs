//! `tradeq keys gen` and `tradeq apps …` against a data directory: keys in every encoding, apps,
//! tokens and sessions added, listed without secrets, and removed.

use std::process::{Command, Output};

fn tradeq(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tradeq"))
        .args(args)
        .env("RUST_LOG", "warn")
        .env_remove("TRADEQ_DATABASE_URL")
        .output()
        .expect("run tradeq")
}

fn ok(args: &[&str]) -> String {
    let out = tradeq(args);
    assert!(
        out.status.success(),
        "tradeq {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn keys_and_credentials_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    ok(&["keys", "gen", "--out", keys.to_str().unwrap()]);
    let pkcs1 = std::fs::read_to_string(keys.join("app_private_key_pkcs1.pem")).unwrap();
    let pkcs8 = std::fs::read_to_string(keys.join("app_private_key_pkcs8.pem")).unwrap();
    let public = std::fs::read_to_string(keys.join("app_public_key.pem")).unwrap();
    let one_line = std::fs::read_to_string(keys.join("app_public_key.txt")).unwrap();
    assert!(pkcs1.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
    assert!(pkcs8.starts_with("-----BEGIN PRIVATE KEY-----"));
    assert!(public.starts_with("-----BEGIN PUBLIC KEY-----"));
    assert!(!one_line.trim().contains('\n') && !one_line.contains("-----"));
    // The two private files hold one key, and the public files its public half.
    let a = tradeq_wire::alipay::keys::parse_private_key(&pkcs1).unwrap();
    let b = tradeq_wire::alipay::keys::parse_private_key(&pkcs8).unwrap();
    let pa = tradeq_wire::alipay::keys::public_from_private(&a).unwrap();
    let pb = tradeq_wire::alipay::keys::public_from_private(&b).unwrap();
    let p = tradeq_wire::alipay::keys::parse_public_key(one_line.trim()).unwrap();
    assert!(tradeq_wire::alipay::keys::same_public_key(&pa, &pb));
    assert!(tradeq_wire::alipay::keys::same_public_key(&pa, &p));
    // Refuses to overwrite a key.
    assert!(!tradeq(&["keys", "gen", "--out", keys.to_str().unwrap()])
        .status
        .success());

    // The one-line base64 public key is accepted; a private key where the public one belongs is
    // refused by name.
    let added = ok(&[
        "apps",
        "alipay",
        "add",
        "--app-id",
        "2021000000000099",
        "--merchant-pid",
        "2088000000000099",
        "--public-key",
        one_line.trim(),
        "--gen-aes-key",
        "--data-dir",
        data,
    ]);
    assert!(added.contains("-----BEGIN PUBLIC KEY-----"), "{added}");
    let wrong = tradeq(&[
        "apps",
        "alipay",
        "add",
        "--app-id",
        "2021000000000098",
        "--merchant-pid",
        "2088",
        "--public-key",
        keys.join("app_private_key_pkcs8.pem").to_str().unwrap(),
        "--data-dir",
        data,
    ]);
    assert!(!wrong.status.success());
    let err = String::from_utf8_lossy(&wrong.stderr);
    assert!(err.to_lowercase().contains("private key"), "{err}");

    let listed = ok(&["apps", "alipay", "list", "--data-dir", data]);
    assert!(
        listed.contains("2021000000000099") && listed.contains("aes yes"),
        "{listed}"
    );
    assert!(
        !listed.contains("PRIVATE"),
        "listing must not show keys: {listed}"
    );

    let token = ok(&[
        "apps",
        "token",
        "add",
        "--app-id",
        "2021000000000099",
        "--merchant-pid",
        "2088000000000100",
        "--data-dir",
        data,
    ]);
    let token = token.trim();
    assert_eq!(token.len(), 40, "{token}");
    let tokens = ok(&["apps", "token", "list", "--data-dir", data]);
    assert!(
        tokens.contains("2088000000000100") && !tokens.contains(token),
        "{tokens}"
    );
    assert!(!tradeq(&[
        "apps",
        "token",
        "add",
        "--app-id",
        "nope",
        "--merchant-pid",
        "1",
        "--data-dir",
        data
    ])
    .status
    .success());

    let top = ok(&[
        "apps",
        "top",
        "add",
        "--app-key",
        "23456789",
        "--merchant-id",
        "2088000000000099",
        "--data-dir",
        data,
    ]);
    assert!(top.contains("secret"), "{top}");
    let session = ok(&[
        "apps",
        "session",
        "add",
        "--app-key",
        "23456789",
        "--merchant-id",
        "2088000000000099",
        "--expires-at",
        "2099-01-01 00:00:00",
        "--data-dir",
        data,
    ]);
    let sessions = ok(&["apps", "session", "list", "--data-dir", data]);
    assert!(sessions.contains("2099-01-01 00:00:00") && !sessions.contains(session.trim()));

    ok(&[
        "apps",
        "session",
        "remove",
        session.trim(),
        "--data-dir",
        data,
    ]);
    ok(&["apps", "token", "remove", token, "--data-dir", data]);
    ok(&["apps", "top", "remove", "23456789", "--data-dir", data]);
    ok(&[
        "apps",
        "alipay",
        "remove",
        "2021000000000099",
        "--data-dir",
        data,
    ]);
    assert!(!ok(&["apps", "alipay", "list", "--data-dir", data]).contains("2021000000000099"));
    assert!(!tradeq(&[
        "apps",
        "alipay",
        "remove",
        "2021000000000099",
        "--data-dir",
        data
    ])
    .status
    .success());
}
