//! The `apiserver-emu` binary: writes its kubeconfig once listening, prints its URL,
//! serves until killed.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use crate::support;

struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn binary_serves_and_writes_a_usable_kubeconfig() {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    let child = Command::new(env!("CARGO_BIN_EXE_apiserver-emu"))
        .args(["--listen", "127.0.0.1:0", "--kubeconfig-out"])
        .arg(&kubeconfig)
        .args(["--token", "bin-token", "--namespace", "payments"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = KillOnDrop(child);
    let mut url = String::new();
    BufReader::new(child.0.stdout.take().unwrap())
        .read_line(&mut url)
        .unwrap();
    let url = url.trim().to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");

    // The URL is printed after the kubeconfig is written.
    let config: serde_json::Value =
        serde_yaml::from_str(&std::fs::read_to_string(&kubeconfig).unwrap()).unwrap();
    assert_eq!(config["clusters"][0]["cluster"]["server"], url.as_str());
    assert_eq!(config["users"][0]["user"]["token"], "bin-token");

    let denied = support::get(&url, "/api/v1/namespaces");
    assert_eq!(denied.status, 401);
    let ok = support::request_with_headers(
        &url,
        "GET",
        "/api/v1/namespaces/payments",
        None,
        b"",
        &[("Authorization", "Bearer bin-token")],
    );
    assert_eq!(ok.status, 200);
    assert_eq!(ok.json()["status"]["phase"], "Active");
}
