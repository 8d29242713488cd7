//! Silencing findings (docs/lint.md, "Silencing").
//!
//! - A bundle's signed bundle.yaml lists rule ids under `lint: {ignore: [...]}`; check
//!   hands them over as [`LintInput::ignored_by_bundle`]. They silence every finding of
//!   the bundle's policies, and the namespace-level findings of the namespaces it governs.
//! - A comment `# netpol-sync: ignore=rule-id[,rule-id...]` silences those rules for
//!   findings on its own line and on the line directly below it;
//!   `# netpol-sync: ignore-file=rule-id[,...]` anywhere in a file silences them for the
//!   whole file. Text after the list (`ignore=allow-all-ingress  the load balancer`) is a
//!   free reason.
//!
//! Comments are read by the YAML event parser, so a `#` inside a quoted or block scalar is
//! never taken for a directive. A file the parser cannot read to its end keeps the
//! directives before the failure: a lost directive shows a finding, never hides one. An
//! unknown rule id or directive is itself a finding (`unknown-ignore`), so a typo does
//! not silently silence nothing. Input is bounded: at most [`MAX_DIRECTIVES`] directives
//! a file and [`MAX_IDS`] ids a directive are read, and ids are shown cut to
//! [`MAX_SHOWN`] characters.

use super::model::{manifest_fallback, manifest_item_location};
use super::{rule, Finding, LintInput, Location, UNKNOWN_IGNORE};
use granit_parser::{Event, Parser};
use std::collections::{BTreeMap, BTreeSet};

/// Directives read per file; more are ignored (they would silence nothing new).
pub const MAX_DIRECTIVES: usize = 10_000;
/// Rule ids read per directive.
pub const MAX_IDS: usize = 64;
/// Characters of an unknown id or directive shown in a message.
pub const MAX_SHOWN: usize = 64;

/// What a directive applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Its own line and the next.
    Line,
    File,
}

/// One `# netpol-sync:` comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    /// 1-based line and column of the `#`.
    pub line: usize,
    pub column: usize,
    pub scope: Scope,
    /// The known rule ids it names.
    pub rules: Vec<&'static str>,
    /// What is wrong with it: unknown ids, an unknown directive, an empty list.
    pub problems: Vec<String>,
}

/// Every `netpol-sync:` directive among the comments of `text`.
pub fn parse_directives(text: &str) -> Vec<Directive> {
    // Buffered comments are bounded by the text itself; the parser's default bound (96
    // in a row) would make a long comment block a parse error.
    let options = granit_parser::options! {
        emit_comments: true,
        max_buffered_comment_events: text.len().saturating_add(1),
    };
    let mut out = Vec::new();
    for next in Parser::new_from_str_with_options(text, options) {
        let Ok((event, span)) = next else {
            break;
        };
        if let Event::Comment(payload, _) = event {
            if let Some(mut d) = parse_comment(&payload) {
                d.line = span.start.line();
                d.column = span.start.col().saturating_add(1);
                out.push(d);
                if out.len() >= MAX_DIRECTIVES {
                    break;
                }
            }
        }
    }
    out
}

fn shorten(s: &str) -> String {
    if s.chars().count() <= MAX_SHOWN {
        s.to_string()
    } else {
        let cut: String = s.chars().take(MAX_SHOWN).collect();
        format!("{cut}…")
    }
}

/// The directive of one comment's text (after `#`), or `None` when the comment is not
/// one (it does not start with `netpol-sync:`).
pub fn parse_comment(payload: &str) -> Option<Directive> {
    let rest = payload
        .trim_start()
        .strip_prefix("netpol-sync:")?
        .trim_start();
    let mut d = Directive {
        line: 0,
        column: 0,
        scope: Scope::Line,
        rules: Vec::new(),
        problems: Vec::new(),
    };
    let list = if let Some(list) = rest.strip_prefix("ignore-file=") {
        d.scope = Scope::File;
        list
    } else if let Some(list) = rest.strip_prefix("ignore=") {
        list
    } else {
        let word: String = rest.chars().take_while(|c| !c.is_whitespace()).collect();
        d.problems.push(format!(
            "unknown netpol-sync directive `{}`; expected `ignore=RULE[,RULE]` or `ignore-file=RULE[,RULE]`",
            shorten(&word)
        ));
        return Some(d);
    };
    // Ids separated by commas (spaces around a comma allowed); the first space not
    // followed by a comma ends the list and starts the reason.
    let mut ids = Vec::new();
    let mut rest = list;
    loop {
        let end = rest
            .find(|c: char| c == ',' || c.is_whitespace())
            .unwrap_or(rest.len());
        let (id, after) = rest.split_at(end);
        if !id.is_empty() {
            ids.push(id);
        }
        let after_space = after.trim_start();
        match after_space.strip_prefix(',') {
            Some(more) if ids.len() < MAX_IDS => rest = more.trim_start(),
            _ => break,
        }
    }
    if ids.is_empty() {
        d.problems
            .push("an ignore comment that names no rule silences nothing".to_string());
    }
    for id in ids {
        match rule(id) {
            Some(r) => d.rules.push(r.id),
            None => d.problems.push(format!(
                "unknown rule `{}` in an ignore comment; it silences nothing (docs/lint.md lists the rules)",
                shorten(id)
            )),
        }
    }
    Some(d)
}

/// The directives of every file the findings can point at, and the bundles' sets.
pub(crate) struct Silencer<'i> {
    input: &'i LintInput<'i>,
    /// File -> (bundle, directives).
    files: BTreeMap<&'i str, (&'i str, Vec<Directive>)>,
}

impl<'i> Silencer<'i> {
    pub(crate) fn new(input: &'i LintInput<'i>) -> Silencer<'i> {
        let mut files: BTreeMap<&str, (&str, Vec<Directive>)> = BTreeMap::new();
        for p in input.policies {
            files
                .entry(p.file)
                .or_insert_with(|| (p.bundle, parse_directives(p.text)));
        }
        for (bundle, (file, text)) in input.manifest_texts.into_iter().flatten() {
            files
                .entry(file.as_str())
                .or_insert_with(|| (bundle.as_str(), parse_directives(text)));
        }
        Silencer { input, files }
    }

    /// An `unknown-ignore` finding for each problem of a directive, and for each id a
    /// bundle's `lint.ignore` lists that is no rule.
    pub(crate) fn unknown_ignores(&self) -> Vec<Finding> {
        let mut out = Vec::new();
        for (file, (bundle, directives)) in &self.files {
            for d in directives {
                for problem in &d.problems {
                    out.push(Finding::new(
                        &UNKNOWN_IGNORE,
                        Some(bundle),
                        Location {
                            file: file.to_string(),
                            line: d.line,
                            column: Some(d.column),
                        },
                        problem.clone(),
                    ));
                }
            }
        }
        for (bundle, ids) in self.input.ignored_by_bundle {
            for id in ids.iter().filter(|id| rule(id).is_none()) {
                let manifest = self.input.manifest_texts.and_then(|m| m.get(bundle));
                let location = manifest
                    .and_then(|(file, text)| manifest_item_location(file, text, "lint.ignore", id))
                    .or_else(|| {
                        manifest.map(|(file, _)| Location {
                            file: file.clone(),
                            line: 1,
                            column: None,
                        })
                    })
                    .unwrap_or_else(|| manifest_fallback(bundle));
                out.push(Finding::new(
                    &UNKNOWN_IGNORE,
                    Some(bundle),
                    location,
                    format!(
                        "bundle `{bundle}` ignores unknown rule `{}`; it silences nothing (docs/lint.md lists the rules)",
                        shorten(id)
                    ),
                ));
            }
        }
        out
    }

    /// Whether the finding's bundle, or a comment of its file, silences it.
    pub(crate) fn silences(&self, f: &Finding) -> bool {
        let by_bundle = f.bundle.as_ref().is_some_and(|b| {
            self.input
                .ignored_by_bundle
                .get(b)
                .is_some_and(|ids: &BTreeSet<String>| ids.contains(f.rule))
        });
        by_bundle
            || self
                .files
                .get(f.location.file.as_str())
                .is_some_and(|(_, directives)| {
                    directives.iter().any(|d| {
                        d.rules.contains(&f.rule)
                            && match d.scope {
                                Scope::File => true,
                                Scope::Line => {
                                    d.line == f.location.line
                                        || d.line.saturating_add(1) == f.location.line
                                }
                            }
                    })
                })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::testutil::Fixture;

    #[test]
    fn directives_are_read_from_comments_only() {
        let text = "\
# netpol-sync: ignore-file=redundant-rule
a: 1 # netpol-sync: ignore=any-address-peer, allow-all-ingress  the load balancer
b: \"# netpol-sync: ignore=allow-all-egress\"
c: |
  # netpol-sync: ignore=allow-all-egress
#netpol-sync:ignore=duplicate-policy
# some other comment
";
        let d = parse_directives(text);
        assert_eq!(d.len(), 3);
        assert_eq!((d[0].line, d[0].scope), (1, Scope::File));
        assert_eq!(d[0].rules, vec!["redundant-rule"]);
        assert_eq!((d[1].line, d[1].column, d[1].scope), (2, 6, Scope::Line));
        assert_eq!(d[1].rules, vec!["any-address-peer", "allow-all-ingress"]);
        assert!(d[1].problems.is_empty());
        assert_eq!(d[2].line, 6);
        assert_eq!(d[2].rules, vec!["duplicate-policy"]);
    }

    #[test]
    fn unknown_ids_and_directives_are_problems() {
        let d = parse_comment(" netpol-sync: ignore=allow-all-ingres,any-address-peer").unwrap();
        assert_eq!(d.rules, vec!["any-address-peer"]);
        assert_eq!(d.problems.len(), 1);
        assert!(d.problems[0].contains("`allow-all-ingres`"));
        let d = parse_comment(" netpol-sync: ignroe=any-address-peer").unwrap();
        assert!(d.problems[0].contains("unknown netpol-sync directive `ignroe=any-address-peer`"));
        let d = parse_comment(" netpol-sync: ignore=").unwrap();
        assert!(d.problems[0].contains("names no rule"));
        assert_eq!(parse_comment(" netpol-syncing"), None);
        assert_eq!(parse_comment(" see netpol-sync: ignore=x"), None);
    }

    #[test]
    fn hostile_comments_are_bounded() {
        let long = format!(" netpol-sync: ignore={}", "x,".repeat(100_000));
        let d = parse_comment(&long).unwrap();
        assert_eq!(d.problems.len(), MAX_IDS);
        let huge_id = format!(" netpol-sync: ignore={}", "y".repeat(10_000));
        let d = parse_comment(&huge_id).unwrap();
        assert!(d.problems[0].len() < 300);
        let many = "# netpol-sync: ignore=redundant-rule\n".repeat(MAX_DIRECTIVES + 5);
        assert_eq!(parse_directives(&many).len(), MAX_DIRECTIVES);
        for text in [
            "#",
            "# netpol-sync:",
            "a: [\n# netpol-sync: ignore=x\n",
            "\u{feff}#é netpol-sync: ignore=é",
        ] {
            let _ = parse_directives(text);
        }
        // A long comment block is no parse error.
        let block = format!(
            "{}a: 1\n# netpol-sync: ignore=redundant-rule\n",
            "# licence\n".repeat(500)
        );
        assert_eq!(parse_directives(&block).len(), 1);
    }

    const POLICY: &str = "\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: a, namespace: shop}
spec:
  policyTypes: [Ingress]
  ingress:
    - {}
";

    #[test]
    fn an_unknown_id_in_a_comment_is_a_finding_at_its_line() {
        let text = format!("# netpol-sync: ignore=allow-all-ingres\n{POLICY}");
        let f = Fixture::new()
            .file("shop", "bundles/shop/a.yaml", &text)
            .run();
        let unknown: Vec<_> = f.iter().filter(|f| f.rule == "unknown-ignore").collect();
        assert_eq!(unknown.len(), 1);
        assert_eq!(unknown[0].severity, crate::lint::Severity::Warning);
        assert_eq!(
            (unknown[0].location.file.as_str(), unknown[0].location.line),
            ("bundles/shop/a.yaml", 1)
        );
        // The misspelt id silenced nothing: ingress[0] (line 8) still fires.
        assert!(f
            .iter()
            .any(|f| f.rule == "allow-all-ingress" && f.location.line == 8));
    }

    #[test]
    fn an_unknown_id_in_a_bundle_is_a_finding_at_the_manifest() {
        let manifest = "apiVersion: netpol-sync/v1\nkind: Bundle\nname: shop\nnamespaces: [shop]\nlint:\n  ignore:\n    - allow-all-ingress\n    - no-such-rule\n";
        let f = Fixture::new()
            .manifest("shop", manifest)
            .file("shop", "bundles/shop/a.yaml", POLICY)
            .ignore("shop", "allow-all-ingress")
            .ignore("shop", "no-such-rule")
            .run();
        let unknown: Vec<_> = f.iter().filter(|f| f.rule == "unknown-ignore").collect();
        assert_eq!(unknown.len(), 1);
        assert_eq!(
            (unknown[0].location.file.as_str(), unknown[0].location.line),
            ("bundles/shop/bundle.yaml", 8)
        );
        assert!(!f.iter().any(|f| f.rule == "allow-all-ingress"));
    }

    #[test]
    fn a_line_comment_covers_its_line_and_the_next_only() {
        // ingress[0] is line 7 here; a comment on line 6 covers lines 6 and 7.
        let text = POLICY.replace(
            "  ingress:\n",
            "  ingress: # netpol-sync: ignore=allow-all-ingress\n",
        );
        let f = Fixture::new()
            .file("shop", "bundles/shop/a.yaml", &text)
            .run();
        assert!(!f.iter().any(|f| f.rule == "allow-all-ingress"));
        // Two lines above does not.
        let text = POLICY.replace("spec:\n", "spec: # netpol-sync: ignore=allow-all-ingress\n");
        let f = Fixture::new()
            .file("shop", "bundles/shop/a.yaml", &text)
            .run();
        assert!(f.iter().any(|f| f.rule == "allow-all-ingress"));
    }
}
