//! Field paths to source lines. A finding names the line of the field it is about
//! (`spec.ingress[1].from[0]`), so the locator walks the YAML events of one document of
//! the file's text, with their positions, until it meets that path. It reads the text
//! granit-parser reads (the event parser under serde-saphyr, already in the tree): no
//! value is built, aliases are not expanded, nesting is bounded by the parser (255
//! levels), so the work is linear in the text whatever it holds.
//!
//! Documents are counted as docs/bundles.md counts them for errors: 0-based, every
//! document of the file, empty ones included.

use granit_parser::{Event, Parser};

/// One step of a field path: a mapping key or a sequence index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathSegment<'a> {
    Key(&'a str),
    Index(usize),
}

/// `spec.ingress[1].from[0]`, as the apiserver writes field paths.
pub fn display_path(path: &[PathSegment<'_>]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            PathSegment::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            PathSegment::Index(i) => {
                out.push('[');
                out.push_str(&i.to_string());
                out.push(']');
            }
        }
    }
    out
}

/// What a walk found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lookup {
    /// 1-based line and column of the field: a mapping entry's key, a sequence item's
    /// node (for a block item, the line of its `-`).
    Found(usize, usize),
    /// The document was read to its end and the path is not in it.
    Absent,
    /// No such document, or the text does not parse up to the end of it.
    Unreadable,
}

/// The 1-based line and column of `path` in the `document`-th YAML document of `text`;
/// the empty path is the document's first node. `None` when the path is not there or the
/// text cannot be read that far; callers fall back to [`document_start`].
pub fn locate(text: &str, document: usize, path: &[PathSegment<'_>]) -> Option<(usize, usize)> {
    match lookup(text, document, path) {
        Lookup::Found(line, column) => Some((line, column)),
        Lookup::Absent | Lookup::Unreadable => None,
    }
}

/// The line of the `document`-th document's first node, else 1.
pub fn document_start(text: &str, document: usize) -> (usize, Option<usize>) {
    match locate(text, document, &[]) {
        Some((line, column)) => (line, Some(column)),
        None => (1, None),
    }
}

/// Where a node sits in its parent.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
    /// A complex (non-scalar) mapping key, or what is inside one: no path reaches it.
    Opaque,
}

/// An open collection.
enum Frame {
    Mapping {
        /// The next node is a key.
        at_key: bool,
        /// The current entry's key and the key's position.
        key: Step,
        key_at: (usize, usize),
    },
    Sequence {
        next: usize,
    },
}

impl Step {
    fn is(&self, seg: &PathSegment<'_>) -> bool {
        match (self, seg) {
            (Step::Key(k), PathSegment::Key(s)) => k == s,
            (Step::Index(i), PathSegment::Index(j)) => i == j,
            _ => false,
        }
    }
}

pub(crate) fn lookup(text: &str, document: usize, path: &[PathSegment<'_>]) -> Lookup {
    let mut found = None;
    let end = walk(text, document, |steps, step, reported, _| {
        let depth = steps.len() + usize::from(step.is_some());
        let on_path = depth <= path.len()
            && steps.iter().zip(path).all(|(s, p)| s.is(p))
            && step.is_none_or(|s| s.is(&path[depth - 1]));
        if on_path && depth == path.len() {
            found = Some(reported);
            return true;
        }
        false
    });
    match (found, end) {
        (Some((line, column)), _) => Lookup::Found(line, column),
        (None, end) => end,
    }
}

/// The scalar items of the sequence at `path` in the `document`-th document, each with its
/// 1-based line and column, in one reading of the text (a bundle.yaml listing hundreds of
/// namespaces is read once, not once per namespace). `None` when the document cannot be
/// read to its end.
pub(crate) fn sequence_items(
    text: &str,
    document: usize,
    path: &[PathSegment<'_>],
) -> Option<Vec<(String, usize, usize)>> {
    let mut items = Vec::new();
    let end = walk(text, document, |steps, step, reported, event| {
        if let (Some(Step::Index(_)), Event::Scalar(value, ..)) = (step, event) {
            if steps.len() == path.len() && steps.iter().zip(path).all(|(s, p)| s.is(p)) {
                items.push((value.to_string(), reported.0, reported.1));
            }
        }
        false
    });
    (end == Lookup::Absent).then_some(items)
}

/// Walk the nodes of the `document`-th document of `text`, handing `visit` the steps to
/// the node's parent collection, the node's own step (`None` for the root), the position a
/// path to it reports and its event, until `visit` returns true (then `Found(0, 0)`, which
/// callers do not read), the document ends (`Absent`) or the text cannot be read
/// (`Unreadable`).
fn walk(
    text: &str,
    document: usize,
    mut visit: impl FnMut(&[Step], Option<&Step>, (usize, usize), &Event<'_>) -> bool,
) -> Lookup {
    // Comments are not needed here, and not buffering them removes the parser's bound
    // on consecutive comments from what the locator can read.
    let options = granit_parser::options! { emit_comments: false };
    let mut parser = Parser::new_from_str_with_options(text, options);
    let mut documents_seen = 0usize;
    let mut in_target = false;
    // The open collections, and the steps from the root collection to each of the others.
    let mut steps: Vec<Step> = Vec::new();
    let mut frames: Vec<Frame> = Vec::new();
    loop {
        let Some(next) = parser.next_event() else {
            return Lookup::Unreadable;
        };
        let Ok((event, span)) = next else {
            return Lookup::Unreadable;
        };
        let at = (span.start.line(), span.start.col().saturating_add(1));
        match event {
            Event::StreamEnd => return Lookup::Unreadable,
            Event::DocumentStart(..) => {
                in_target = documents_seen == document;
                documents_seen = documents_seen.saturating_add(1);
                steps.clear();
                frames.clear();
                continue;
            }
            Event::DocumentEnd => {
                if in_target {
                    return Lookup::Absent;
                }
                continue;
            }
            _ if !in_target => continue,
            Event::MappingEnd | Event::SequenceEnd => {
                // The root collection has a frame and no step.
                frames.pop();
                steps.truncate(frames.len().saturating_sub(1));
                continue;
            }
            Event::Scalar(..)
            | Event::Alias(..)
            | Event::UnresolvedAlias(..)
            | Event::MappingStart(..)
            | Event::SequenceStart(..) => {}
            _ => continue,
        }
        let opens = matches!(event, Event::MappingStart(..) | Event::SequenceStart(..));
        // Where this node sits, and the position a path to it reports.
        let (step, reported) = match frames.last_mut() {
            None => (None, at),
            Some(Frame::Mapping {
                at_key,
                key,
                key_at,
            }) => {
                if *at_key {
                    *at_key = false;
                    *key = match &event {
                        Event::Scalar(value, ..) => Step::Key(value.to_string()),
                        _ => Step::Opaque,
                    };
                    *key_at = at;
                    if opens {
                        // A complex key's contents are never on a path.
                        steps.push(Step::Opaque);
                        frames.push(new_frame(&event));
                    }
                    continue;
                }
                *at_key = true;
                (Some(key.clone()), *key_at)
            }
            Some(Frame::Sequence { next }) => {
                let index = *next;
                *next = next.saturating_add(1);
                (Some(Step::Index(index)), at)
            }
        };
        if visit(&steps, step.as_ref(), reported, &event) {
            return Lookup::Found(0, 0);
        }
        if opens {
            if let Some(step) = step {
                steps.push(step);
            }
            frames.push(new_frame(&event));
        }
    }
}

fn new_frame(event: &Event<'_>) -> Frame {
    match event {
        Event::MappingStart(..) => Frame::Mapping {
            at_key: true,
            key: Step::Opaque,
            key_at: (0, 0),
        },
        _ => Frame::Sequence { next: 0 },
    }
}

#[cfg(test)]
mod tests {
    use super::PathSegment::{Index as I, Key as K};
    use super::*;

    const POLICY: &str = "\
# a comment
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: a
  namespace: shop
spec:
  podSelector: {}
  ingress:
    - from:
        - podSelector: {matchLabels: {app: web}}
      ports: [{port: 80}]
    - from:
        - namespaceSelector: {}
          podSelector:
            matchLabels: {app: lb}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: b, namespace: shop}
spec:
  policyTypes: [Egress]
";

    #[test]
    fn finds_keys_items_and_nested_fields() {
        assert_eq!(locate(POLICY, 0, &[K("metadata")]), Some((4, 1)));
        assert_eq!(locate(POLICY, 0, &[K("spec"), K("ingress")]), Some((9, 3)));
        // The item `- from:` of ingress[1] is line 13; its node starts after the dash.
        assert_eq!(
            locate(POLICY, 0, &[K("spec"), K("ingress"), I(1)]),
            Some((13, 7))
        );
        assert_eq!(
            locate(POLICY, 0, &[K("spec"), K("ingress"), I(1), K("from"), I(0)]),
            Some((14, 11))
        );
        assert_eq!(
            locate(
                POLICY,
                0,
                &[
                    K("spec"),
                    K("ingress"),
                    I(1),
                    K("from"),
                    I(0),
                    K("podSelector")
                ]
            ),
            Some((15, 11))
        );
        // A flow sequence item sits on its own column of the line: the `{` after `[`.
        assert_eq!(
            locate(
                POLICY,
                0,
                &[K("spec"), K("ingress"), I(0), K("ports"), I(0)]
            ),
            Some((12, 15))
        );
    }

    #[test]
    fn counts_documents_and_reports_absence() {
        assert_eq!(locate(POLICY, 1, &[]), Some((18, 1)));
        assert_eq!(
            locate(POLICY, 1, &[K("spec"), K("policyTypes")]),
            Some((22, 3))
        );
        assert_eq!(
            locate(POLICY, 1, &[K("metadata"), K("name")]),
            Some((20, 12))
        );
        assert_eq!(
            lookup(POLICY, 0, &[K("spec"), K("policyTypes")]),
            Lookup::Absent
        );
        assert_eq!(lookup(POLICY, 2, &[]), Lookup::Unreadable);
        assert_eq!(
            lookup(POLICY, 0, &[K("spec"), K("ingress"), I(7)]),
            Lookup::Absent
        );
        // A key of a nested mapping is not a key of its parent.
        assert_eq!(lookup(POLICY, 0, &[K("name")]), Lookup::Absent);
        assert_eq!(document_start(POLICY, 9), (1, None));
    }

    #[test]
    fn empty_documents_count() {
        let text = "---\n---\na: 1\n";
        assert_eq!(locate(text, 1, &[K("a")]), Some((3, 1)));
        assert_eq!(lookup(text, 0, &[K("a")]), Lookup::Absent);
    }

    #[test]
    fn complex_keys_and_aliases_are_walked_over() {
        let text = "? [a, b]\n: {x: 1}\nc: &anchor {d: 2}\ne: *anchor\nf: {g: 3}\n";
        assert_eq!(locate(text, 0, &[K("f"), K("g")]), Some((5, 5)));
        assert_eq!(locate(text, 0, &[K("e")]), Some((4, 1)));
        assert_eq!(lookup(text, 0, &[K("e"), K("d")]), Lookup::Absent);
        assert_eq!(lookup(text, 0, &[K("a")]), Lookup::Absent);
    }

    #[test]
    fn broken_text_is_unreadable_not_a_panic() {
        assert_eq!(lookup("a: [1, 2\nb: 3\n", 0, &[K("b")]), Lookup::Unreadable);
        for text in [
            "",
            "\0",
            "a: b: c",
            "- [\n",
            "{{{{",
            "'",
            "a:\n\t- b",
            "%YAML 9\n",
        ] {
            let _ = lookup(text, 0, &[K("a"), I(0)]);
            let _ = document_start(text, 3);
        }
        let deep = "[".repeat(100_000);
        // Beyond the parser's nesting bound the walk stops, unread.
        assert_eq!(lookup(&deep, 0, &[I(0); 300]), Lookup::Unreadable);
    }

    proptest::proptest! {
        /// Any text built from YAML's indicators is walked, and its comments read,
        /// without a panic.
        #[test]
        fn any_yaml_like_text_is_read_without_panic(
            text in "[-:#\\[\\]{}?&*!|>'\" \na-z0-9,.%@`\t]{0,300}",
            document in 0usize..3,
        ) {
            let _ = lookup(&text, document, &[K("a"), I(0), K("b")]);
            let _ = document_start(&text, document);
            let _ = crate::lint::silence::parse_directives(&text);
        }
    }

    #[test]
    fn paths_display_as_the_apiserver_writes_them() {
        assert_eq!(
            display_path(&[K("spec"), K("ingress"), I(1), K("from"), I(0)]),
            "spec.ingress[1].from[0]"
        );
    }
}
