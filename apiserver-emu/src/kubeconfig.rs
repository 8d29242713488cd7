//! A kubeconfig that points kubectl and kube-rs at the emulator.

use base64::Engine;
use serde_json::json;

const NAME: &str = "apiserver-emu";

pub fn render(url: &str, ca_pem: Option<&str>, token: Option<&str>) -> String {
    let mut cluster = json!({"server": url});
    if let Some(pem) = ca_pem {
        cluster["certificate-authority-data"] =
            json!(base64::engine::general_purpose::STANDARD.encode(pem));
    }
    let user = match token {
        Some(t) => json!({"token": t}),
        None => json!({}),
    };
    let config = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": NAME, "cluster": cluster}],
        "users": [{"name": NAME, "user": user}],
        "contexts": [{"name": NAME, "context": {"cluster": NAME, "user": NAME, "namespace": "default"}}],
        "current-context": NAME,
        "preferences": {},
    });
    serde_yaml::to_string(&config).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_and_ca_land_in_the_right_places() {
        let text = render("https://127.0.0.1:1", Some("PEM"), Some("s3cret"));
        let parsed: serde_json::Value = serde_yaml::from_str(&text).unwrap();
        assert_eq!(parsed["users"][0]["user"]["token"], "s3cret");
        assert_eq!(
            parsed["clusters"][0]["cluster"]["certificate-authority-data"],
            "UEVN"
        );
        assert_eq!(parsed["current-context"], "apiserver-emu");
    }
}
