//! Trees git fsck refuses, made with the real `git` (`hash-object -t tree --literally`)
//! inside commits signed with `git commit-tree -S`: duplicate names, names holding `/`,
//! `.`/`..`/`.git`, entries out of git's order. Each must reject the revision with
//! `malformed-tree` (or make a keys file unusable), never have one of its entries
//! dropped or chosen silently. The commits are otherwise valid: the unmodified fixture
//! verifies, so the tree is the only thing wrong.

use crate::support;

use std::io::Write;
use std::process::{Command, Stdio};
use support::{Key, TestRepo};

const DENY: &str = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: default-deny\n  namespace: payments\nspec:\n  podSelector: {}\n  policyTypes: [Ingress, Egress]\n";
/// What an attacker would rather apply: the namespace opened up.
const ALLOW_ALL: &str = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: default-deny\n  namespace: payments\nspec:\n  podSelector: {}\n  ingress: [{}]\n  policyTypes: [Ingress]\n";
const HOSTILE_MANIFEST: &str =
    "apiVersion: netpol-sync/v1\nkind: Bundle\nname: prod\nnamespaces: [payments, kube-system]\n";

/// One entry of a tree, as `git ls-tree` lists it and as it is written back.
#[derive(Clone, Debug)]
struct Entry {
    mode: String,
    name: Vec<u8>,
    id: String,
}

impl Entry {
    fn new(mode: &str, name: impl AsRef<[u8]>, id: &str) -> Entry {
        Entry {
            mode: mode.to_string(),
            name: name.as_ref().to_vec(),
            id: id.to_string(),
        }
    }
}

struct Fixture {
    tmp: tempfile::TempDir,
    repo: TestRepo,
    alice: Key,
    anchor: std::path::PathBuf,
    /// The signed, valid commit every attack starts from.
    base: String,
}

fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let alice = Key::ed25519(tmp.path(), "alice@example.com");
    let anchor = tmp.path().join("anchor");
    std::fs::write(&anchor, alice.allowed_signers_line("")).unwrap();
    let repo = TestRepo::init(&tmp.path().join("repo"));
    repo.write("keys/allowed_signers", alice.allowed_signers_line(""));
    repo.write(
        "bundles/prod/bundle.yaml",
        "apiVersion: netpol-sync/v1\nkind: Bundle\nname: prod\nnamespaces: [payments]\n",
    );
    repo.write("bundles/prod/payments/deny.yaml", DENY);
    support::run(
        Command::new(support::netpol_sync_bin())
            .args(["bundle", "seal"])
            .arg(repo.dir.join("bundles/prod")),
    );
    let manifest = std::fs::read(repo.dir.join("bundles/prod/bundle.yaml")).unwrap();
    repo.write(
        "bundles/prod/signatures/alice.sig",
        alice.sign_detached("netpol-sync-bundle", &manifest),
    );
    let base = repo.commit_signed("a valid bundle", &alice);
    Fixture {
        tmp,
        repo,
        alice,
        anchor,
        base,
    }
}

impl Fixture {
    fn tree_of(&self, commit: &str) -> String {
        self.repo.git(&["rev-parse", &format!("{commit}^{{tree}}")])
    }

    /// `git ls-tree -z`: `<mode> SP <type> SP <id> TAB <name> NUL`, in the tree's order.
    fn ls_tree(&self, tree: &str) -> Vec<Entry> {
        let out = support::run(self.repo.git_cmd().args(["ls-tree", "-z", tree])).stdout;
        out.split(|&b| b == 0)
            .filter(|r| !r.is_empty())
            .map(|record| {
                let tab = record.iter().position(|&b| b == b'\t').unwrap();
                let head = std::str::from_utf8(&record[..tab]).unwrap();
                let mut fields = head.split(' ');
                // ls-tree pads modes to six digits; trees hold `40000`, not `040000`.
                let mode = fields.next().unwrap().trim_start_matches('0');
                let id = fields.nth(1).unwrap();
                Entry::new(mode, &record[tab + 1..], id)
            })
            .collect()
    }

    /// Store `entries` as a tree object exactly as given: no sorting, no checks.
    fn write_tree(&self, entries: &[Entry]) -> String {
        let mut bytes = Vec::new();
        for e in entries {
            bytes.extend_from_slice(e.mode.as_bytes());
            bytes.push(b' ');
            bytes.extend_from_slice(&e.name);
            bytes.push(0);
            bytes.extend_from_slice(&hex::decode(&e.id).unwrap());
        }
        self.hash_object(&["-t", "tree", "--literally"], &bytes)
    }

    fn blob(&self, content: &str) -> String {
        self.hash_object(&[], content.as_bytes())
    }

    fn hash_object(&self, args: &[&str], bytes: &[u8]) -> String {
        let mut child = self
            .repo
            .git_cmd()
            .arg("hash-object")
            .args(args)
            .args(["-w", "--stdin"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(bytes).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    /// `tree` with the entries of the directory at `dir` (a path of names from the root)
    /// changed by `edit`; every tree above it rewritten to point at the new one.
    fn edit_tree(&self, tree: &str, dir: &[&str], edit: &mut dyn FnMut(&mut Vec<Entry>)) -> String {
        let mut entries = self.ls_tree(tree);
        match dir.split_first() {
            None => edit(&mut entries),
            Some((name, rest)) => {
                let e = entries
                    .iter_mut()
                    .find(|e| e.name == name.as_bytes())
                    .unwrap_or_else(|| panic!("no `{name}` in {tree}"));
                e.id = self.edit_tree(&e.id, rest, edit);
            }
        }
        self.write_tree(&entries)
    }

    /// The base commit's tree with the directory at `dir` edited.
    fn edited(&self, dir: &[&str], mut edit: impl FnMut(&mut Vec<Entry>)) -> String {
        self.edit_tree(&self.tree_of(&self.base), dir, &mut edit)
    }

    /// The id of the entry `name` in the directory `dir` of the base commit.
    fn id_at(&self, dir: &[&str], name: &str) -> String {
        let mut tree = self.tree_of(&self.base);
        for d in dir {
            tree = self.entry(&tree, d).id;
        }
        self.entry(&tree, name).id
    }

    fn entry(&self, tree: &str, name: &str) -> Entry {
        self.ls_tree(tree)
            .into_iter()
            .find(|e| e.name == name.as_bytes())
            .unwrap()
    }

    /// A commit of `tree` on `parent`, signed by `key` (`git commit-tree -S`), made HEAD.
    fn commit(&self, tree: &str, parent: &str, key: &Key) -> String {
        let signing_key = format!("user.signingkey={}", key.private.display());
        let commit = self.repo.git(&[
            "-c",
            &signing_key,
            "commit-tree",
            "-S",
            "-p",
            parent,
            "-m",
            "malformed tree",
            tree,
        ]);
        self.repo.git(&["update-ref", "HEAD", &commit]);
        commit
    }

    fn verify(&self, extra: &[&str]) -> (i32, serde_json::Value) {
        let repo = self.repo.dir.to_str().unwrap().to_string();
        let anchor = self.anchor.to_str().unwrap().to_string();
        let mut args = vec![
            "verify",
            "--repo",
            &repo,
            "--trust-anchor",
            &anchor,
            "--output",
            "json",
        ];
        args.extend_from_slice(extra);
        let (code, stdout, stderr) = support::run_netpol_sync(&args);
        assert!(!stderr.contains("panicked"), "{stderr}");
        let json = serde_json::from_str(stdout.trim())
            .unwrap_or_else(|e| panic!("stdout is one JSON object ({e}): {stdout:?} / {stderr}"));
        (code, json)
    }

    /// Commit `tree` on the base, signed by alice, and verify it: it must be refused as
    /// `malformed-tree`, located at `file` (and in `bundle` when given), its message
    /// naming every one of `mentions`.
    fn assert_refused(&self, tree: &str, bundle: Option<&str>, file: &str, mentions: &[&str]) {
        let commit = self.commit(tree, &self.base, &self.alice);
        let (code, json) = self.verify(&[]);
        assert_eq!(code, 1, "{json}");
        assert_eq!(json["verdict"], "rejected", "{json}");
        assert_eq!(json["reason"], "malformed-tree", "{json}");
        assert_eq!(json["revision"], commit.as_str(), "{json}");
        assert_eq!(json["location"]["file"], file, "{json}");
        match bundle {
            Some(b) => assert_eq!(json["location"]["bundle"], b, "{json}"),
            None => assert!(json["location"]["bundle"].is_null(), "{json}"),
        }
        let message = json["message"].as_str().unwrap();
        assert!(message.contains("malformed tree"), "{message}");
        for m in mentions {
            assert!(message.contains(m), "{m:?} not in {message}");
        }
    }
}

fn insert_at(entries: &mut Vec<Entry>, index: usize, entry: Entry) {
    entries.insert(index.min(entries.len()), entry);
}

fn position(entries: &[Entry], name: &str) -> usize {
    entries
        .iter()
        .position(|e| e.name == name.as_bytes())
        .unwrap()
}

#[test]
fn the_unmodified_fixture_verifies() {
    // The baseline every attack below starts from, rewritten by the same helpers without
    // a change: the refusals are about the trees, nothing else.
    let f = fixture();
    let same = f.edited(&["bundles", "prod"], |_| {});
    assert_eq!(same, f.tree_of(&f.base));
    f.commit(&same, &f.base, &f.alice);
    let (code, json) = f.verify(&[]);
    assert_eq!(code, 0, "{json}");
    assert_eq!(json["bundles"][0]["name"], "prod");
}

#[test]
fn duplicate_bundle_yaml_in_a_bundle_directory_is_refused_in_either_order() {
    let f = fixture();
    let hostile = f.blob(HOSTILE_MANIFEST);
    for hostile_first in [true, false] {
        let tree = f.edited(&["bundles", "prod"], |entries| {
            let at = position(entries, "bundle.yaml") + usize::from(!hostile_first);
            insert_at(entries, at, Entry::new("100644", "bundle.yaml", &hostile));
        });
        f.assert_refused(
            &tree,
            Some("prod"),
            ".",
            &["`bundles/prod/`", "two entries are named `bundle.yaml`"],
        );
    }
}

#[test]
fn duplicate_bundle_directories_under_bundles_are_refused_in_either_order() {
    let f = fixture();
    // A second `prod`: the real one with the manifest swapped for a hostile one.
    let hostile_prod = f.edited(&["bundles", "prod"], |entries| {
        let i = position(entries, "bundle.yaml");
        entries[i].id = f.blob(HOSTILE_MANIFEST);
    });
    let hostile_prod = f.entry(&f.entry(&hostile_prod, "bundles").id, "prod").id;
    for hostile_first in [true, false] {
        let tree = f.edited(&["bundles"], |entries| {
            let at = position(entries, "prod") + usize::from(!hostile_first);
            insert_at(entries, at, Entry::new("40000", "prod", &hostile_prod));
        });
        f.assert_refused(
            &tree,
            None,
            "bundles",
            &["`bundles/`", "two entries are named `prod`"],
        );
    }
}

#[test]
fn a_file_and_a_directory_of_the_same_name_are_refused_adjacent_or_apart() {
    let f = fixture();
    let policy = f.blob(ALLOW_ALL);
    // `payments` the file right before `payments/` the directory, as git would sort them.
    let adjacent = f.edited(&["bundles", "prod"], |entries| {
        let at = position(entries, "payments");
        insert_at(entries, at, Entry::new("100644", "payments", &policy));
    });
    f.assert_refused(
        &adjacent,
        Some("prod"),
        ".",
        &["two entries are named `payments`"],
    );
    // ... and with `payments.yaml` between them, still in git's order (`.` < `/`): a
    // check of neighbours alone would miss it.
    let apart = f.edited(&["bundles", "prod"], |entries| {
        let at = position(entries, "payments");
        insert_at(entries, at, Entry::new("100644", "payments.yaml", &policy));
        insert_at(entries, at, Entry::new("100644", "payments", &policy));
    });
    f.assert_refused(
        &apart,
        Some("prod"),
        ".",
        &["two entries are named `payments`"],
    );
}

#[test]
fn an_entry_named_with_a_slash_cannot_shadow_a_nested_file() {
    // `payments/deny.yaml` as one name in bundles/prod/ builds the same path as the real
    // `payments/` + `deny.yaml`; whichever the walk met last would have won.
    let f = fixture();
    let hostile = f.blob(ALLOW_ALL);
    for at_end in [false, true] {
        let tree = f.edited(&["bundles", "prod"], |entries| {
            let at = if at_end {
                entries.len()
            } else {
                position(entries, "payments") + 1
            };
            insert_at(
                entries,
                at,
                Entry::new("100644", "payments/deny.yaml", &hostile),
            );
        });
        f.assert_refused(
            &tree,
            Some("prod"),
            ".",
            &["`payments/deny.yaml` has `/` in its name"],
        );
    }
    // The same inside bundles/: `prod/bundle.yaml` beside the real `prod/`.
    let tree = f.edited(&["bundles"], |entries| {
        entries.push(Entry::new(
            "100644",
            "prod/bundle.yaml",
            &f.blob(HOSTILE_MANIFEST),
        ));
    });
    f.assert_refused(&tree, None, "bundles", &["`prod/bundle.yaml`"]);
}

#[test]
fn an_entry_named_with_a_slash_at_the_root_cannot_stand_in_for_the_keys_file() {
    let f = fixture();
    let mallory = Key::ed25519(f.tmp.path(), "mallory@example.com");
    let hostile = f.blob(&mallory.allowed_signers_line(""));
    let tree = f.edited(&[], |entries| {
        entries.push(Entry::new("100644", "keys/allowed_signers", &hostile));
    });
    f.assert_refused(
        &tree,
        None,
        ".",
        &["at the root of the revision", "`keys/allowed_signers`"],
    );
}

#[test]
fn duplicate_keys_directories_in_the_root_tree_are_refused() {
    let f = fixture();
    let mallory = Key::ed25519(f.tmp.path(), "mallory@example.com");
    let hostile_keys = f.write_tree(&[Entry::new(
        "100644",
        "allowed_signers",
        &f.blob(&mallory.allowed_signers_line("")),
    )]);
    for hostile_first in [true, false] {
        let tree = f.edited(&[], |entries| {
            let at = position(entries, "keys") + usize::from(!hostile_first);
            insert_at(entries, at, Entry::new("40000", "keys", &hostile_keys));
        });
        f.assert_refused(
            &tree,
            None,
            ".",
            &[
                "at the root of the revision",
                "two entries are named `keys`",
            ],
        );
    }
}

#[test]
fn duplicate_allowed_signers_in_keys_are_refused() {
    let f = fixture();
    let mallory = Key::ed25519(f.tmp.path(), "mallory@example.com");
    let hostile = f.blob(&mallory.allowed_signers_line(""));
    for hostile_first in [true, false] {
        let tree = f.edited(&["keys"], |entries| {
            let at = position(entries, "allowed_signers") + usize::from(!hostile_first);
            insert_at(
                entries,
                at,
                Entry::new("100644", "allowed_signers", &hostile),
            );
        });
        f.assert_refused(
            &tree,
            None,
            "keys",
            &["`keys/`", "two entries are named `allowed_signers`"],
        );
    }
}

/// A parent whose keys file sits in a malformed tree vouches for nobody: its child is
/// refused (`trust-file-invalid`, saying why), whichever duplicate a lookup would find.
#[test]
fn a_parent_with_a_malformed_keys_tree_cannot_vouch_for_its_child() {
    let f = fixture();
    let mallory = Key::ed25519(f.tmp.path(), "mallory@example.com");
    let mallory_signers = f.blob(&mallory.allowed_signers_line(""));
    let mallory_keys = f.write_tree(&[Entry::new("100644", "allowed_signers", &mallory_signers)]);
    let base_tree = f.tree_of(&f.base);
    let attacks: Vec<(String, &str)> = vec![
        (
            f.edited(&[], |e| {
                let at = position(e, "keys");
                insert_at(e, at, Entry::new("40000", "keys", &mallory_keys));
            }),
            "at the root of the revision",
        ),
        (
            f.edited(&[], |e| {
                let at = position(e, "keys") + 1;
                insert_at(e, at, Entry::new("40000", "keys", &mallory_keys));
            }),
            "at the root of the revision",
        ),
        (
            f.edited(&["keys"], |e| {
                insert_at(
                    e,
                    0,
                    Entry::new("100644", "allowed_signers", &mallory_signers),
                );
            }),
            "`keys/`",
        ),
        (
            f.edited(&["keys"], |e| {
                e.push(Entry::new("100644", "allowed_signers", &mallory_signers));
            }),
            "`keys/`",
        ),
        (
            // Out of order: a binary search for `allowed_signers` may miss the real one.
            f.edited(&["keys"], |e| {
                e.push(Entry::new("100644", "aaa", &mallory_signers));
            }),
            "`keys/`",
        ),
    ];
    for (parent_tree, shown) in attacks {
        // Alice signs the malformed commit (her base trusts her); mallory signs its child.
        let parent = f.commit(&parent_tree, &f.base, &f.alice);
        let child = f.commit(&base_tree, &parent, &mallory);
        let (code, json) = f.verify(&["--since", &f.base]);
        assert_eq!(code, 1, "{json}");
        assert_eq!(json["reason"], "trust-file-invalid", "{json}");
        assert_eq!(json["location"]["commit"], child.as_str(), "{json}");
        let message = json["message"].as_str().unwrap();
        assert!(
            message.contains("malformed tree") && message.contains(shown),
            "{message}"
        );
    }
}

#[test]
fn dot_dotdot_and_dot_git_entries_are_refused() {
    let f = fixture();
    let policy = f.blob(ALLOW_ALL);
    let deny_dir = f.id_at(&["bundles", "prod"], "payments");
    for (mode, name, id) in [
        ("40000", ".", &deny_dir),
        ("40000", "..", &deny_dir),
        ("40000", ".git", &deny_dir),
        ("40000", ".GIT", &deny_dir),
        ("100644", ".Git", &policy),
        ("40000", "git~1", &deny_dir),
    ] {
        let tree = f.edited(&["bundles", "prod"], |entries| {
            // Where git would sort it: before `bundle.yaml`, or after `bundle.yaml` for `git~1`.
            let at = if name.starts_with('.') { 0 } else { 1 };
            insert_at(entries, at, Entry::new(mode, name, id));
        });
        f.assert_refused(&tree, Some("prod"), ".", &[&format!("`{name}`")]);
    }
    // A `..` one level down, in payments/.
    let tree = f.edited(&["bundles", "prod", "payments"], |entries| {
        insert_at(entries, 0, Entry::new("100644", "..", &policy));
    });
    f.assert_refused(
        &tree,
        Some("prod"),
        "payments",
        &["`bundles/prod/payments/`", "`..`"],
    );
}

#[test]
fn an_empty_name_is_refused() {
    let f = fixture();
    let policy = f.blob(ALLOW_ALL);
    let tree = f.edited(&["bundles", "prod"], |entries| {
        insert_at(entries, 0, Entry::new("100644", "", &policy));
    });
    f.assert_refused(&tree, Some("prod"), ".", &["empty name"]);
}

#[test]
fn unsorted_entries_are_refused() {
    let f = fixture();
    // bundles/prod/ with `payments/` before `bundle.yaml`.
    let tree = f.edited(&["bundles", "prod"], |entries| {
        let i = position(entries, "payments");
        let payments = entries.remove(i);
        entries.insert(0, payments);
    });
    f.assert_refused(
        &tree,
        Some("prod"),
        ".",
        &["entry `bundle.yaml` comes after `payments`"],
    );
    // The root with `keys` before `bundles`.
    let tree = f.edited(&[], |entries| entries.reverse());
    f.assert_refused(&tree, None, ".", &["at the root of the revision"]);
}

#[test]
fn an_unsorted_tree_cannot_hide_a_duplicate_from_a_lookup() {
    // payments/ holding deny.yaml, then other.yaml, then a second deny.yaml: apart, so
    // only the order gives it away; the walk would have kept the last one.
    let f = fixture();
    let hostile = f.blob(ALLOW_ALL);
    let tree = f.edited(&["bundles", "prod", "payments"], |entries| {
        entries.push(Entry::new("100644", "other.yaml", &hostile));
        entries.push(Entry::new("100644", "deny.yaml", &hostile));
    });
    f.assert_refused(
        &tree,
        Some("prod"),
        "payments",
        &["`bundles/prod/payments/`", "`deny.yaml`"],
    );
}

#[test]
fn duplicate_signature_files_are_refused() {
    let f = fixture();
    let sig = f.id_at(&["bundles", "prod", "signatures"], "alice.sig");
    let tree = f.edited(&["bundles", "prod", "signatures"], |entries| {
        entries.push(Entry::new("100644", "alice.sig", &sig));
    });
    f.assert_refused(
        &tree,
        Some("prod"),
        "signatures",
        &[
            "`bundles/prod/signatures/`",
            "two entries are named `alice.sig`",
        ],
    );
}
