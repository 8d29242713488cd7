//! `remote` against real Git servers on loopback: git's http-backend and OpenSSH's sshd.

use crate::remote_servers;

use netpol_sync::remote::{GitAuth, GitRemote, KnownHosts, RemoteConfig, RemoteError};
use remote_servers::*;
use std::time::{Duration, Instant};

const USER: &str = "deploy";
const TOKEN: &str = "s3cret-token";

fn config(url: String, auth: GitAuth) -> RemoteConfig {
    let mut c = RemoteConfig::new(url, "main");
    c.auth = auth;
    c.timeout = Duration::from_secs(3);
    c
}

fn basic(user: &str, pass: &str) -> GitAuth {
    GitAuth::Basic {
        username: user.into(),
        password: pass.into(),
    }
}

fn random_bytes(len: usize) -> Vec<u8> {
    (0..len).map(|_| rand::random::<u8>()).collect()
}

#[test]
fn http_fetch_after_push_brings_the_new_head() {
    let tmp = tempfile::tempdir().unwrap();
    let bare = bare_repo(tmp.path());
    let author = Author::new(tmp.path(), &bare);
    let first = author.commit_and_push("a.yaml", b"one\n");
    let server = HttpGitServer::start(bare.parent().unwrap(), Some((USER, TOKEN)));
    let remote = GitRemote::new(
        config(server.url("policies.git"), basic(USER, TOKEN)),
        &tmp.path().join("cache"),
    )
    .unwrap();

    assert_eq!(remote.remote_head().unwrap().to_string(), first);
    let fetched = remote.fetch().unwrap();
    assert_eq!(fetched.head.to_string(), first);
    assert!(!fetched.recloned);

    let second = author.commit_and_push("b.yaml", b"two\n");
    assert_eq!(
        remote.remote_head().unwrap().to_string(),
        second,
        "ls-remote sees the push before any fetch"
    );
    assert_eq!(
        remote.cached_head().unwrap().to_string(),
        first,
        "ls-remote alone does not change the cache"
    );
    let fetched = remote.fetch().unwrap();
    assert_eq!(fetched.head.to_string(), second);
    assert!(fetched.received_bytes > 0);
    assert_eq!(remote.cached_head().unwrap().to_string(), second);
}

#[test]
fn http_wrong_token_is_refused_as_auth_failure() {
    let tmp = tempfile::tempdir().unwrap();
    let bare = bare_repo(tmp.path());
    Author::new(tmp.path(), &bare).commit_and_push("a.yaml", b"one\n");
    let server = HttpGitServer::start(bare.parent().unwrap(), Some((USER, TOKEN)));
    for auth in [basic(USER, "wrong-token"), GitAuth::Anonymous] {
        let remote = GitRemote::new(
            config(server.url("policies.git"), auth.clone()),
            &tmp.path().join("cache"),
        )
        .unwrap();
        let started = Instant::now();
        assert!(
            matches!(remote.remote_head(), Err(RemoteError::AuthRejected { .. })),
            "{auth:?}"
        );
        assert!(
            matches!(remote.fetch(), Err(RemoteError::AuthRejected { .. })),
            "{auth:?}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "a refused credential is not retried forever"
        );
        assert_eq!(remote.cached_head(), None);
    }
}

#[test]
fn http_server_down_then_back_fails_then_recovers() {
    let tmp = tempfile::tempdir().unwrap();
    let bare = bare_repo(tmp.path());
    let author = Author::new(tmp.path(), &bare);
    let first = author.commit_and_push("a.yaml", b"one\n");
    let mut server = HttpGitServer::start(bare.parent().unwrap(), None);
    let remote = GitRemote::new(
        config(server.url("policies.git"), GitAuth::Anonymous),
        &tmp.path().join("cache"),
    )
    .unwrap();
    assert_eq!(remote.fetch().unwrap().head.to_string(), first);

    server.stop();
    let second = author.commit_and_push("b.yaml", b"two\n");
    assert!(matches!(remote.remote_head(), Err(RemoteError::Git { .. })));
    assert!(matches!(remote.fetch(), Err(RemoteError::Git { .. })));
    assert_eq!(
        remote.cached_head().unwrap().to_string(),
        first,
        "a failed fetch keeps the cache as it was"
    );

    server.resume();
    assert_eq!(remote.remote_head().unwrap().to_string(), second);
    assert_eq!(remote.fetch().unwrap().head.to_string(), second);
}

#[test]
fn hanging_git_host_times_out() {
    let tmp = tempfile::tempdir().unwrap();
    let hang = HangingServer::start();
    let remote = GitRemote::new(
        config(
            format!("http://127.0.0.1:{}/policies.git", hang.port),
            GitAuth::Anonymous,
        ),
        &tmp.path().join("cache"),
    )
    .unwrap();
    let started = Instant::now();
    let err = remote.fetch().unwrap_err();
    assert!(matches!(err, RemoteError::Timeout { .. }), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn repository_that_grows_past_the_size_cap_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let bare = bare_repo(tmp.path());
    let author = Author::new(tmp.path(), &bare);
    let first = author.commit_and_push("a.yaml", b"one\n");
    let server = HttpGitServer::start(bare.parent().unwrap(), None);
    let mut cfg = config(server.url("policies.git"), GitAuth::Anonymous);
    cfg.max_fetch_bytes = 64 * 1024;
    let remote = GitRemote::new(cfg, &tmp.path().join("cache")).unwrap();
    assert_eq!(remote.fetch().unwrap().head.to_string(), first);

    // Incompressible, so the pack really is that large.
    author.commit_and_push("huge.bin", &random_bytes(1 << 20));
    let err = remote.fetch().unwrap_err();
    assert!(
        matches!(err, RemoteError::TooLarge { limit: 65536, .. }),
        "{err}"
    );
    assert_eq!(remote.cached_head().unwrap().to_string(), first);
}

#[test]
fn force_push_on_the_server_is_fetched_as_is_for_the_verifier_to_judge() {
    let tmp = tempfile::tempdir().unwrap();
    let bare = bare_repo(tmp.path());
    let author = Author::new(tmp.path(), &bare);
    let first = author.commit_and_push("a.yaml", b"one\n");
    let second = author.commit_and_push("b.yaml", b"two\n");
    let server = HttpGitServer::start(bare.parent().unwrap(), None);
    let remote = GitRemote::new(
        config(server.url("policies.git"), GitAuth::Anonymous),
        &tmp.path().join("cache"),
    )
    .unwrap();
    assert_eq!(remote.fetch().unwrap().head.to_string(), second);

    author.force_push(&first);
    let fetched = remote.fetch().unwrap();
    assert_eq!(
        fetched.head.to_string(),
        first,
        "the cache shows the server's real (rewound) head"
    );
}

#[test]
fn corrupted_cache_is_detected_and_recloned() {
    let tmp = tempfile::tempdir().unwrap();
    let bare = bare_repo(tmp.path());
    let author = Author::new(tmp.path(), &bare);
    let head = author.commit_and_push("a.yaml", &random_bytes(4096));
    let server = HttpGitServer::start(bare.parent().unwrap(), None);
    let cache = tmp.path().join("cache");
    let remote = GitRemote::new(
        config(server.url("policies.git"), GitAuth::Anonymous),
        &cache,
    )
    .unwrap();
    remote.fetch().unwrap();

    // Packs truncated to nothing: the ref is there, the objects are not.
    for entry in walk(&remote.cache_path().join("objects")) {
        std::fs::write(&entry, b"").unwrap();
    }
    // A process starting over this cache checks it in full.
    let restarted = GitRemote::new(
        config(server.url("policies.git"), GitAuth::Anonymous),
        &cache,
    )
    .unwrap();
    assert_eq!(
        restarted.cached_head(),
        None,
        "a cache missing its objects is not trusted"
    );
    // The running one takes the head it checked after its fetch, until told otherwise
    // (the daemon does after any failed cycle).
    assert_eq!(
        remote.cached_head().map(|h| h.to_string()),
        Some(head.clone())
    );
    remote.recheck_cache();
    assert_eq!(remote.cached_head(), None);
    let fetched = remote.fetch().unwrap();
    assert!(fetched.recloned);
    assert_eq!(fetched.head.to_string(), head);

    // Not a repository at all any more.
    std::fs::remove_dir_all(remote.cache_path().join("objects")).unwrap();
    std::fs::write(remote.cache_path().join("HEAD"), b"garbage").unwrap();
    let fetched = remote.fetch().unwrap();
    assert!(fetched.recloned);
    assert_eq!(remote.cached_head().unwrap().to_string(), head);
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[test]
fn local_path_and_file_url_remotes_work_for_demos() {
    let tmp = tempfile::tempdir().unwrap();
    let bare = bare_repo(tmp.path());
    let head = Author::new(tmp.path(), &bare).commit_and_push("a.yaml", b"one\n");
    for url in [
        bare.display().to_string(),
        format!("file://{}", bare.display()),
    ] {
        let cache = tempfile::tempdir().unwrap();
        let remote = GitRemote::new(config(url.clone(), GitAuth::Anonymous), cache.path()).unwrap();
        assert_eq!(remote.remote_head().unwrap().to_string(), head, "{url}");
        assert_eq!(remote.fetch().unwrap().head.to_string(), head, "{url}");
    }
}

fn ssh_remote(
    server: &SshGitServer,
    bare: &std::path::Path,
    known_hosts: &str,
    cache: &std::path::Path,
) -> GitRemote {
    let mut cfg = config(
        server.url(bare),
        GitAuth::ssh_key(&server.client_key, Some(&server.user)).unwrap(),
    );
    cfg.known_hosts = Some(KnownHosts::parse(known_hosts.as_bytes()).unwrap());
    GitRemote::new(cfg, cache).unwrap()
}

#[test]
fn ssh_fetch_after_push_with_pinned_host_key() {
    let tmp = tempfile::tempdir().unwrap();
    let bare = bare_repo(tmp.path());
    let author = Author::new(tmp.path(), &bare);
    let first = author.commit_and_push("a.yaml", b"one\n");
    let server = SshGitServer::start(tmp.path());
    let remote = ssh_remote(
        &server,
        &bare,
        &server.known_hosts_line(),
        &tmp.path().join("cache"),
    );
    assert_eq!(remote.remote_head().unwrap().to_string(), first);
    assert_eq!(remote.fetch().unwrap().head.to_string(), first);
    let second = author.commit_and_push("b.yaml", b"two\n");
    assert_eq!(remote.remote_head().unwrap().to_string(), second);
    assert_eq!(remote.fetch().unwrap().head.to_string(), second);
}

#[test]
fn ssh_wrong_or_unknown_host_key_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let bare = bare_repo(tmp.path());
    Author::new(tmp.path(), &bare).commit_and_push("a.yaml", b"one\n");
    let server = SshGitServer::start(tmp.path());

    let impostor_dir = tmp.path().join("impostor");
    std::fs::create_dir_all(&impostor_dir).unwrap();
    let impostor = impostor_dir.join("key");
    let status = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&impostor)
        .status()
        .unwrap();
    assert!(status.success());
    let impostor_pub = std::fs::read_to_string(impostor.with_extension("pub")).unwrap();
    let mut fields = impostor_pub.split_whitespace();
    let wrong_key = format!(
        "[127.0.0.1]:{} {} {}\n",
        server.port,
        fields.next().unwrap(),
        fields.next().unwrap()
    );
    let other_port = server
        .known_hosts_line()
        .replacen(&format!(":{}", server.port), ":1", 1);

    for (case, known_hosts) in [
        ("changed host key", wrong_key),
        ("host not pinned", other_port),
    ] {
        let remote = ssh_remote(&server, &bare, &known_hosts, &tmp.path().join("cache"));
        let err = remote.remote_head().unwrap_err();
        assert!(
            matches!(err, RemoteError::HostKeyRejected { .. }),
            "{case}: {err}"
        );
        let err = remote.fetch().unwrap_err();
        assert!(
            matches!(err, RemoteError::HostKeyRejected { .. }),
            "{case}: {err}"
        );
        assert_eq!(remote.cached_head(), None, "{case}");
    }
}

#[test]
fn ssh_remote_without_known_hosts_is_a_configuration_error() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config(
        "ssh://git@127.0.0.1:2222/srv/repo.git".into(),
        GitAuth::Anonymous,
    );
    assert!(matches!(
        GitRemote::new(cfg, tmp.path()),
        Err(RemoteError::Config(_))
    ));
}

#[test]
fn packs_piled_up_by_fetches_are_consolidated_without_losing_an_object() {
    use netpol_sync::remote::repack::{pack_count, MAX_PACKS};
    let tmp = tempfile::tempdir().unwrap();
    let bare = bare_repo(tmp.path());
    let author = Author::new(tmp.path(), &bare);
    let server = HttpGitServer::start(bare.parent().unwrap(), None);
    let remote = GitRemote::new(
        config(server.url("policies.git"), GitAuth::Anonymous),
        &tmp.path().join("cache"),
    )
    .unwrap();
    let mut heads = Vec::new();
    for i in 0..=MAX_PACKS + 1 {
        heads.push(author.commit_and_push(&format!("p{i}.yaml"), format!("{i}\n").as_bytes()));
        remote.fetch().unwrap();
    }
    let cache = || git2::Repository::open_bare(remote.cache_path()).unwrap();
    let piled = pack_count(&cache()).unwrap();
    assert!(piled > MAX_PACKS, "one pack per fetch: {piled}");

    // The branch is force-pushed back: later commits are no longer on any ref, and
    // the verifier may still need them (to say `not-fast-forward`).
    author.force_push(&heads[0]);
    assert_eq!(remote.fetch().unwrap().head.to_string(), heads[0]);

    let removed = remote.consolidate_packs().unwrap();
    assert!(removed > MAX_PACKS, "removed {removed}");
    assert_eq!(pack_count(&cache()).unwrap(), 1);
    let repo = cache();
    for head in &heads {
        let commit = repo
            .find_commit(git2::Oid::from_str(head).unwrap())
            .unwrap_or_else(|e| panic!("commit {head} lost: {e}"));
        for entry in commit.tree().unwrap().iter() {
            repo.find_blob(entry.id()).expect("blob kept");
        }
    }
    assert_eq!(remote.cached_head().unwrap().to_string(), heads[0]);
    // Nothing to do the second time.
    assert_eq!(remote.consolidate_packs().unwrap(), 0);
}
