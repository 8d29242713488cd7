//! Cluster access the way kubectl does it: `--kubeconfig` (or `$KUBECONFIG`, a
//! colon-separated list merged in order), `--context`, `~/.kube/config`, and the in-cluster
//! service account when running in a pod.

pub mod pods;
pub mod read;

use kube::config::{Config, KubeConfigOptions, Kubeconfig};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Errors that happen before any request is sent.
#[derive(Debug, thiserror::Error)]
pub enum KubeClientError {
    #[error("cannot read kubeconfig {path}")]
    Kubeconfig {
        path: PathBuf,
        #[source]
        source: kube::config::KubeconfigError,
    },
    #[error("cannot use kubeconfig context {context:?}")]
    Context {
        context: String,
        #[source]
        source: kube::config::KubeconfigError,
    },
    #[error("no cluster configuration found (no kubeconfig, not in a pod)")]
    Infer(#[source] kube::config::InferConfigError),
    #[error("cannot build a Kubernetes client")]
    Client(#[source] kube::Error),
}

/// An error and every cause under it, `outer: inner: root`: a TLS or connection failure
/// is only clear with its root cause ("invalid peer certificate: UnknownIssuer").
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

/// Where to find the cluster: the `KubeArgs` flags, decoupled from clap.
#[derive(Debug, Clone, Default)]
pub struct ClusterTarget {
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
}

/// How long a single request may take. A dead API server must fail a cycle quickly and
/// clearly, not hang it: retries above decide how long to keep trying.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// A client, and the server URL for error messages.
pub async fn connect(target: &ClusterTarget) -> Result<(kube::Client, String), KubeClientError> {
    let mut config = load_config(target).await?;
    let url = config.cluster_url.to_string();
    config.connect_timeout = Some(CONNECT_TIMEOUT);
    config.read_timeout = Some(READ_TIMEOUT);
    // Our writer retries with its own backoff and honours Retry-After; a second, hidden
    // retry layer underneath would multiply attempts and blur what the logs say.
    config.default_retry = false;
    let client = kube::Client::try_from(config).map_err(KubeClientError::Client)?;
    Ok((client, url))
}

async fn load_config(target: &ClusterTarget) -> Result<Config, KubeClientError> {
    let options = KubeConfigOptions {
        context: target.context.clone(),
        ..Default::default()
    };
    match &target.kubeconfig {
        Some(list) => {
            let merged = read_kubeconfig_list(list)?;
            Config::from_custom_kubeconfig(merged, &options)
                .await
                .map_err(|source| KubeClientError::Context {
                    context: target.context.clone().unwrap_or_default(),
                    source,
                })
        }
        None if target.context.is_some() => {
            Config::from_kubeconfig(&options)
                .await
                .map_err(|source| KubeClientError::Context {
                    context: target.context.clone().unwrap_or_default(),
                    source,
                })
        }
        None => Config::infer().await.map_err(KubeClientError::Infer),
    }
}

/// `$KUBECONFIG` may name several files separated by ':'; kubectl merges them, the first
/// file winning for each entry.
fn read_kubeconfig_list(list: &Path) -> Result<Kubeconfig, KubeClientError> {
    let text = list.to_string_lossy();
    let mut merged: Option<Kubeconfig> = None;
    for part in text.split(':').filter(|p| !p.is_empty()) {
        let path = PathBuf::from(part);
        let next = Kubeconfig::read_from(&path).map_err(|source| KubeClientError::Kubeconfig {
            path: path.clone(),
            source,
        })?;
        merged = Some(match merged {
            None => next,
            Some(m) => m
                .merge(next)
                .map_err(|source| KubeClientError::Kubeconfig { path, source })?,
        });
    }
    merged.ok_or_else(|| KubeClientError::Kubeconfig {
        path: list.to_path_buf(),
        source: kube::config::KubeconfigError::ReadConfig(
            std::io::Error::new(std::io::ErrorKind::NotFound, "empty kubeconfig path"),
            list.to_path_buf(),
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const KUBECONFIG_A: &str = r#"
apiVersion: v1
kind: Config
clusters:
- name: a
  cluster: { server: "http://127.0.0.1:1" }
users:
- name: a
  user: { token: "token-a" }
contexts:
- name: a
  context: { cluster: a, user: a }
current-context: a
"#;

    const KUBECONFIG_B: &str = r#"
apiVersion: v1
kind: Config
clusters:
- name: b
  cluster: { server: "http://127.0.0.1:2" }
users:
- name: b
  user: { token: "token-b" }
contexts:
- name: b
  context: { cluster: b, user: b }
current-context: b
"#;

    #[tokio::test]
    async fn colon_separated_kubeconfigs_merge_and_context_selects_the_second_file() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        std::fs::write(&a, KUBECONFIG_A).unwrap();
        std::fs::write(&b, KUBECONFIG_B).unwrap();
        let list = PathBuf::from(format!("{}:{}", a.display(), b.display()));

        let first = load_config(&ClusterTarget {
            kubeconfig: Some(list.clone()),
            context: None,
        })
        .await
        .unwrap();
        assert_eq!(first.cluster_url.to_string(), "http://127.0.0.1:1/");

        let second = load_config(&ClusterTarget {
            kubeconfig: Some(list),
            context: Some("b".into()),
        })
        .await
        .unwrap();
        assert_eq!(second.cluster_url.to_string(), "http://127.0.0.1:2/");
    }

    #[tokio::test]
    async fn missing_kubeconfig_file_is_named_in_the_error() {
        let err = load_config(&ClusterTarget {
            kubeconfig: Some("/nonexistent/kubeconfig".into()),
            context: None,
        })
        .await
        .unwrap_err();
        assert!(
            error_chain(&err).contains("/nonexistent/kubeconfig"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn unknown_context_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        std::fs::write(&a, KUBECONFIG_A).unwrap();
        let err = load_config(&ClusterTarget {
            kubeconfig: Some(a),
            context: Some("nope".into()),
        })
        .await
        .unwrap_err();
        assert!(error_chain(&err).contains("nope"), "{err}");
    }
}
