//! Reading YAML files a person points at (`--workloads`, `--policies`): a file, or every
//! `.yaml`/`.yml`/`.json` file below a directory, in name order, under the bundle limits
//! (file size, file count, total bytes) and the hazard-checked YAML loader.

use super::ReachError;
use crate::bundle::yaml::load_documents;
use crate::bundle::Limits;
use sha2::Digest;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Which documents of the files a reader needs.
#[derive(Debug, Clone, Copy)]
pub enum Scope<'a> {
    /// Every document.
    All,
    /// Only those that may be in one of these namespaces: a document whose
    /// `metadata.namespace` is plainly another one is not parsed (docs/reachability.md,
    /// "What a query reads").
    Namespaces(&'a BTreeSet<String>),
}

/// What earlier reads made of each document text (by SHA-256), so that a second set of
/// files (the other side of a diff) parses only the documents that differ.
pub struct DocumentCache<T>(std::sync::Mutex<std::collections::HashMap<[u8; 32], Vec<T>>>);

impl<T> Default for DocumentCache<T> {
    fn default() -> Self {
        DocumentCache(Default::default())
    }
}

/// One document's text, where it is.
pub struct Chunk<'a> {
    file: usize,
    /// Its index among the documents of its file, as the whole-file loader counts them.
    index: usize,
    text: &'a [u8],
}

impl<'a> Chunk<'a> {
    pub fn text(&self) -> &'a [u8] {
        self.text
    }
}

/// The files at some paths, read whole under the limits.
pub struct Files {
    shown: Vec<String>,
    contents: Vec<Vec<u8>>,
}

impl Files {
    /// Every `.yaml`/`.yml`/`.json` file at `paths`, in name order, within the limits on
    /// their count and bytes.
    pub fn read(paths: &[PathBuf], limits: &Limits) -> Result<Files, ReachError> {
        let mut files = Vec::new();
        for p in paths {
            collect(p, &mut files, limits)?;
        }
        let mut total = 0u64;
        let mut contents = Vec::with_capacity(files.len());
        for file in &files {
            let bytes = read_bounded(file, limits.max_file_bytes)?;
            total += bytes.len() as u64;
            if total > limits.max_total_bytes {
                return Err(ReachError::Input {
                    file: file.display().to_string(),
                    message: format!("the files hold more than {} bytes", limits.max_total_bytes),
                });
            }
            contents.push(bytes);
        }
        let shown = files.iter().map(|f| f.display().to_string()).collect();
        Ok(Files { shown, contents })
    }

    /// The documents of the files in scope and of one of `kinds`: a document whose
    /// `metadata.namespace` or top-level `kind` is plainly another one is left out unparsed
    /// (docs/reachability.md, "What a query reads"). Each reader ignores every other kind
    /// anyway, and a `kind` YAML reads as no string (`true`, `null`) too.
    pub fn chunks(
        &self,
        limits: &Limits,
        scope: Scope<'_>,
        kinds: &[&str],
    ) -> Result<Vec<Chunk<'_>>, ReachError> {
        let mut split = self.chunks_for(limits, scope, &[kinds])?;
        Ok(split.pop().unwrap_or_default())
    }

    /// [`Files::chunks`] for several readers at once, each with its kinds: every file is
    /// split, and every document's hints read, once (one directory given to both
    /// `--policies` and `--workloads`).
    pub fn chunks_for(
        &self,
        limits: &Limits,
        scope: Scope<'_>,
        readers: &[&[&str]],
    ) -> Result<Vec<Vec<Chunk<'_>>>, ReachError> {
        let mut out: Vec<Vec<Chunk<'_>>> = readers.iter().map(|_| Vec::new()).collect();
        for (file, bytes) in self.contents.iter().enumerate() {
            let split = split_documents(bytes);
            let documents = split.last().map_or(0, |c| c.0 + 1);
            if documents > limits.max_documents_per_file {
                return Err(ReachError::Input {
                    file: self.shown[file].clone(),
                    message: format!("more than {} YAML documents", limits.max_documents_per_file),
                });
            }
            for (index, text) in split {
                let other_namespace = match scope {
                    Scope::All => false,
                    Scope::Namespaces(wanted) => {
                        namespace_hint(text).is_some_and(|ns| !wanted.contains(ns))
                    }
                };
                if other_namespace {
                    continue;
                }
                let kind = kind_hint(text);
                for (reader, kinds) in readers.iter().enumerate() {
                    if kind.is_none_or(|k| kinds.contains(&k)) {
                        out[reader].push(Chunk { file, index, text });
                    }
                }
            }
        }
        Ok(out)
    }

    /// The documents `chunks` (of these files) parsed and handed to `each` with the file
    /// they came from and their index in it; `each` keeps what it returns. Documents are
    /// parsed on a few threads; the results keep the chunks' order.
    pub fn parse<T: Send + Clone>(
        &self,
        chunks: &[Chunk<'_>],
        limits: &Limits,
        cache: Option<&DocumentCache<T>>,
        each: impl Fn(&str, usize, serde_json::Value) -> Result<Option<T>, ReachError> + Sync,
    ) -> Result<Vec<T>, ReachError> {
        let refs: Vec<&Chunk<'_>> = chunks.iter().collect();
        self.parse_with(&refs, limits, cache, each)
    }

    /// [`Files::parse`] of some of the chunks, with no cache.
    pub fn parse_refs<T: Send + Clone>(
        &self,
        chunks: &[&Chunk<'_>],
        limits: &Limits,
        each: impl Fn(&str, usize, serde_json::Value) -> Result<Option<T>, ReachError> + Sync,
    ) -> Result<Vec<T>, ReachError> {
        self.parse_with(chunks, limits, None, each)
    }

    fn parse_with<T: Send + Clone>(
        &self,
        chunks: &[&Chunk<'_>],
        limits: &Limits,
        cache: Option<&DocumentCache<T>>,
        each: impl Fn(&str, usize, serde_json::Value) -> Result<Option<T>, ReachError> + Sync,
    ) -> Result<Vec<T>, ReachError> {
        let shown = &self.shown;
        let parse = |chunk: &&Chunk<'_>| -> Result<Vec<T>, ReachError> {
            let key: Option<[u8; 32]> = cache.map(|_| sha2::Sha256::digest(chunk.text).into());
            if let (Some(cache), Some(key)) = (cache, &key) {
                if let Some(known) = cache.0.lock().unwrap_or_else(|p| p.into_inner()).get(key) {
                    return Ok(known.clone());
                }
            }
            let file = &shown[chunk.file];
            let docs =
                load_documents(chunk.text, limits.file_yaml()).map_err(|e| ReachError::Input {
                    file: file.clone(),
                    message: format!(
                        "document {}: {}",
                        chunk.index + e.document.unwrap_or(0),
                        e.error
                    ),
                })?;
            let mut out = Vec::new();
            for d in docs.into_iter().filter(|d| !d.value.is_null()) {
                if let Some(t) = each(file, chunk.index + d.index, d.value)? {
                    out.push(t);
                }
            }
            if let (Some(cache), Some(key)) = (cache, key) {
                cache
                    .0
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(key, out.clone());
            }
            Ok(out)
        };
        let workers = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
        let per_worker = chunks.len().div_ceil(workers.max(1)).max(1);
        let results: Vec<Result<Vec<T>, ReachError>> = if workers <= 1 || chunks.len() < 64 {
            chunks.iter().map(parse).collect()
        } else {
            std::thread::scope(|s| {
                let handles: Vec<_> = chunks
                    .chunks(per_worker)
                    .map(|part| s.spawn(|| part.iter().map(parse).collect::<Vec<_>>()))
                    .collect();
                handles
                    .into_iter()
                    .flat_map(|h| {
                        h.join()
                            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                    })
                    .collect()
            })
        };
        let mut out = Vec::new();
        for r in results {
            out.extend(r?);
        }
        Ok(out)
    }
}

/// Every document of the files at `paths` (in scope, of one of `kinds`), read and handed
/// to `each` with the file it came from and its index in that file ([`Files::parse`]).
pub fn read<T: Send + Clone>(
    paths: &[PathBuf],
    limits: &Limits,
    scope: Scope<'_>,
    kinds: &[&str],
    cache: Option<&DocumentCache<T>>,
    each: impl Fn(&str, usize, serde_json::Value) -> Result<Option<T>, ReachError> + Sync,
) -> Result<Vec<T>, ReachError> {
    let files = Files::read(paths, limits)?;
    let chunks = files.chunks(limits, scope, kinds)?;
    files.parse(&chunks, limits, cache, each)
}

/// A file's documents as (index, text), split at YAML's document markers: a line that
/// starts with `---` followed by a space, a tab or its end. YAML forbids that line inside
/// any scalar, so it always starts a document. A file with directives (`%`) or
/// document-end markers (`...`) is left whole, for the YAML loader to split.
fn split_documents(bytes: &[u8]) -> Vec<(usize, &[u8])> {
    let is_marker = |line: &[u8], mark: &[u8]| {
        line.starts_with(mark) && matches!(line.get(3), None | Some(b' ' | b'\t' | b'\r' | b'\n'))
    };
    if has_other_line_breaks(bytes) {
        return vec![(0, bytes)];
    }
    let mut starts = Vec::new();
    let mut at = 0;
    for line in bytes.split_inclusive(|b| *b == b'\n') {
        if line.first() == Some(&b'%') || is_marker(line, b"...") {
            return vec![(0, bytes)];
        }
        if is_marker(line, b"---") {
            starts.push(at);
        }
        at += line.len();
    }
    if starts.is_empty() {
        return vec![(0, bytes)];
    }
    // The text before the first marker is a document only if it holds more than
    // comments and blank lines, as the YAML loader counts documents.
    let first_end = starts.first().copied().unwrap_or(bytes.len());
    let leading = &bytes[..first_end];
    let mut out = Vec::with_capacity(starts.len() + 1);
    let leading_is_document = leading.split(|b| *b == b'\n').any(|line| {
        let t = line.trim_ascii();
        !t.is_empty() && !t.starts_with(b"#") && t != b"\xef\xbb\xbf"
    });
    if leading_is_document {
        out.push((0, leading));
    }
    for (k, &start) in starts.iter().enumerate() {
        let end = starts.get(k + 1).copied().unwrap_or(bytes.len());
        out.push((out.len(), &bytes[start..end]));
    }
    out
}

/// The text of a document whose structure shows line by line (without a leading `---`
/// marker line), or `None`. YAML lets a quoted scalar or a flow collection run over
/// several lines, down to column 0 even when it starts in a nested value (`  x: "a` then
/// `metadata:` then `  namespace: b"` is one string), so a document is taken as it looks
/// only when no quote starts on any line and every `[` and `{` is closed on its line
/// (comments aside). A line break YAML knows besides `\n` and `\r\n` (a lone CR, NEL, LS,
/// PS) would split lines elsewhere, so such a document is not plain either. One pass over
/// the bytes, as it runs on every document a reader is given.
fn plain_text(text: &[u8]) -> Option<&str> {
    let mut open = 0i32;
    let mut in_comment = false;
    let mut after_blank = true;
    for (i, &b) in text.iter().enumerate() {
        match b {
            b'\n' => {
                if open != 0 {
                    return None;
                }
                in_comment = false;
                after_blank = true;
                continue;
            }
            b'\r' if text.get(i + 1) != Some(&b'\n') => return None,
            0xc2 if text.get(i + 1) == Some(&0x85) => return None,
            0xe2 if text.get(i + 1) == Some(&0x80)
                && matches!(text.get(i + 2), Some(0xa8 | 0xa9)) =>
            {
                return None
            }
            _ if in_comment => {}
            b'#' if after_blank => in_comment = true,
            b'"' | b'\'' => return None,
            b'[' | b'{' => open += 1,
            b']' | b'}' => {
                open -= 1;
                if open < 0 {
                    return None;
                }
            }
            _ => {}
        }
        after_blank = b == b' ';
    }
    if open != 0 {
        return None;
    }
    let text = std::str::from_utf8(text).ok()?;
    match text.split_once('\n') {
        Some((first, rest)) if first.starts_with("---") => {
            first[3..].trim().is_empty().then_some(rest)
        }
        None if text.starts_with("---") => text[3..].trim().is_empty().then_some(""),
        _ => Some(text),
    }
}

/// The namespace a document is certainly in, read without parsing it: only from a plain
/// block `metadata:` at the top level holding exactly one `namespace:` with a plain
/// DNS-1123 value, in a document of [`plain_text`]. Anything less plain (flow style,
/// quotes, tags, anchors, tabs, a second `metadata`, a key that is not a plain word) gives
/// `None`, and the document is parsed.
pub(crate) fn namespace_hint(text: &[u8]) -> Option<&str> {
    let lines = plain_text(text)?.lines();
    let mut metadata_seen = false;
    let mut in_metadata = false;
    let mut indent: Option<usize> = None;
    let mut namespace: Option<&str> = None;
    let mut after_namespace = false;
    for line in lines {
        // Outside the metadata block only the top-level keys matter (a second
        // `metadata`, a key that is not plain): an indented line there is skipped unread.
        if !in_metadata && line.starts_with(' ') {
            continue;
        }
        if line.contains('\t') {
            return None;
        }
        let content = line.trim_start_matches(' ');
        if content.is_empty() || content.starts_with('#') {
            continue;
        }
        let depth = line.len() - content.len();
        if depth == 0 {
            let (key, rest) = content.split_once(':')?;
            if !is_plain_key(key) {
                return None;
            }
            in_metadata = key == "metadata";
            if in_metadata {
                if metadata_seen || !is_empty_or_comment(rest) {
                    return None;
                }
                metadata_seen = true;
            }
            continue;
        }
        if !in_metadata {
            continue;
        }
        if content.contains(['"', '\'', '&', '*', '!', '{', '[', '|', '>', '?', '@', '`']) {
            return None;
        }
        let level = *indent.get_or_insert(depth);
        if depth < level {
            return None;
        }
        if depth > level {
            // More indented after the namespace: its value goes on (`other` then `  x`
            // is `other x`).
            if after_namespace {
                return None;
            }
            continue;
        }
        after_namespace = false;
        let (key, rest) = content.split_once(':')?;
        if !is_plain_key(key) {
            return None;
        }
        if key == "namespace" {
            after_namespace = true;
            let value = plain_value(rest)?;
            // Only a value YAML reads as a string: one starting with a digit may be a
            // number (`8`, `0x1f`, `1e5`), and `true`, `false`, `null` are not strings.
            let plainly_a_string = value.starts_with(|c: char| c.is_ascii_lowercase())
                && !matches!(value, "true" | "false" | "null");
            if namespace.is_some()
                || !plainly_a_string
                || !crate::bundle::manifest::is_dns1123_label(value)
            {
                return None;
            }
            namespace = Some(value);
        }
    }
    namespace
}

/// The top-level `kind` of a document, read without parsing it: a document of
/// [`plain_text`] whose top-level lines are all plain `key:` lines (or comments), with
/// exactly one `kind:` holding one word of ASCII letters and digits that starts with a
/// letter. The word may still be one YAML reads as no string (`true`, `Null`): that is no
/// kind a reader takes, as the word is no kind it takes. Anything else gives `None`.
pub(crate) fn kind_hint(text: &[u8]) -> Option<&str> {
    let lines = plain_text(text)?.lines();
    let mut kind: Option<&str> = None;
    let mut after_kind = false;
    for line in lines {
        let content = line.trim();
        if content.is_empty() || content.starts_with('#') {
            continue;
        }
        if line.starts_with(' ') {
            // Indented after `kind: word`: the word goes on (`Deploy` then `  ment`).
            if after_kind {
                return None;
            }
            continue;
        }
        after_kind = false;
        if content.contains(['\t', '&', '*', '!', '|', '>', '?', '@', '`']) {
            return None;
        }
        let (key, rest) = content.split_once(':')?;
        if !is_plain_key(key) {
            return None;
        }
        if key == "kind" {
            let value = plain_value(rest)?;
            let word = value.starts_with(|c: char| c.is_ascii_alphabetic())
                && value.bytes().all(|b| b.is_ascii_alphanumeric());
            if kind.is_some() || !word {
                return None;
            }
            kind = Some(value);
            after_kind = true;
        }
    }
    kind
}

/// The value after `key:`: a space then the value (and maybe a comment), or `None`.
fn plain_value(rest: &str) -> Option<&str> {
    let value = rest.split(" #").next().unwrap_or("");
    value.starts_with(' ').then(|| value.trim())
}

/// The claims a reader of drafts leans on, checked on any bytes (the `reach_documents` fuzz
/// target and the tests below): when the whole file parses, its split documents parse to
/// the same documents with the same indexes, and a namespace read without parsing is the
/// `metadata.namespace` the YAML parser finds.
#[cfg(any(test, feature = "fuzzing"))]
pub fn check_split_and_hints(data: &[u8]) {
    let limits = crate::bundle::yaml::YamlLimits {
        max_documents: 64,
        max_depth: 32,
    };
    let Ok(whole) = load_documents(data, limits) else {
        return;
    };
    let mut split = Vec::new();
    for (index, chunk) in split_documents(data) {
        let docs = load_documents(chunk, limits).unwrap_or_else(|e| {
            panic!("document {index} does not parse alone ({e:?}) though the whole file does")
        });
        if let Some(ns) = namespace_hint(chunk) {
            let found = docs
                .first()
                .and_then(|d| d.value.get("metadata"))
                .and_then(|m| m.get("namespace"))
                .and_then(|n| n.as_str());
            assert_eq!(
                found,
                Some(ns),
                "document {index}: the hint is not the parser's"
            );
        }
        if let Some(kind) = kind_hint(chunk) {
            match docs.first().and_then(|d| d.value.get("kind")) {
                Some(serde_json::Value::String(found)) => assert_eq!(
                    found, kind,
                    "document {index}: the kind hint is not the parser's"
                ),
                found => assert!(
                    found.is_some() && !super::reads_kind(kind),
                    "document {index}: the kind hint {kind:?} is the parser's {found:?}"
                ),
            }
        }
        split.extend(docs.into_iter().map(|d| (index + d.index, d.value)));
    }
    let whole: Vec<_> = whole
        .into_iter()
        .filter(|d| !d.value.is_null())
        .map(|d| (d.index, d.value))
        .collect();
    split.retain(|(_, v)| !v.is_null());
    assert_eq!(split, whole, "the split documents are not the file's");
}

/// Line breaks the YAML parser knows besides `\n` and `\r\n`: a lone `\r`, NEL, LS and PS
/// (libyaml reads YAML 1.1's). Lines here are split at `\n` only, so a file holding one
/// is left to the parser whole.
fn has_other_line_breaks(bytes: &[u8]) -> bool {
    bytes.iter().enumerate().any(|(i, b)| {
        (*b == b'\r' && bytes.get(i + 1) != Some(&b'\n'))
            || (*b == 0xc2 && bytes.get(i + 1) == Some(&0x85))
            || (*b == 0xe2
                && bytes.get(i + 1) == Some(&0x80)
                && matches!(bytes.get(i + 2), Some(0xa8 | 0xa9)))
    })
}

fn is_plain_key(key: &str) -> bool {
    !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'/'))
}

fn is_empty_or_comment(rest: &str) -> bool {
    let rest = rest.trim();
    rest.is_empty() || rest.starts_with('#')
}

fn collect(path: &Path, out: &mut Vec<PathBuf>, limits: &Limits) -> Result<(), ReachError> {
    let io = |e: std::io::Error| ReachError::Input {
        file: path.display().to_string(),
        message: e.to_string(),
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    if meta.is_file() {
        out.push(path.to_path_buf());
    } else if meta.is_dir() {
        // Below a directory, a symlink is never followed: a link back up would make the
        // walk endless, and a draft's files are its own, not what it links to.
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(io)?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()
            .map_err(io)?;
        entries.sort();
        for e in entries {
            let kind = std::fs::symlink_metadata(&e).map_err(io)?.file_type();
            let is_yaml = e
                .extension()
                .and_then(|x| x.to_str())
                .is_some_and(|x| matches!(x, "yaml" | "yml" | "json"));
            if kind.is_dir() || (kind.is_file() && is_yaml) {
                collect(&e, out, limits)?;
            }
        }
    }
    if out.len() > limits.max_files {
        return Err(ReachError::Input {
            file: path.display().to_string(),
            message: format!("more than {} files", limits.max_files),
        });
    }
    Ok(())
}

fn read_bounded(path: &Path, limit: u64) -> Result<Vec<u8>, ReachError> {
    crate::bounded::read_file(path, limit).map_err(|e| ReachError::Input {
        file: path.display().to_string(),
        message: if e.kind() == std::io::ErrorKind::FileTooLarge {
            format!("larger than {limit} bytes")
        } else {
            e.to_string()
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(text: &str) -> Vec<(usize, String)> {
        split_documents(text.as_bytes())
            .into_iter()
            .map(|(i, t)| (i, String::from_utf8(t.to_vec()).unwrap()))
            .collect()
    }

    /// The splitter's indexes are the whole-file loader's, document for document.
    #[test]
    fn documents_split_at_markers_with_the_loaders_indexes() {
        let cases = [
            "a: 1\n---\nb: 2\n",
            "# only a comment\n---\na: 1\n--- \nb: 2\n",
            "---\n---\na: 1\n",
            "a: |\n  text\n---\nb: 2\n",
            "x: 1\n----: 2\n",
            "\u{feff}a: 1\n---\nb: 2\n",
            "a: 1\r\n---\r\nb: 2\r\n",
            "",
            "# nothing\n",
        ];
        for text in cases {
            let whole = load_documents(
                text.as_bytes(),
                crate::bundle::yaml::YamlLimits {
                    max_documents: 100,
                    max_depth: 32,
                },
            )
            .unwrap();
            let mut indexes = Vec::new();
            for (index, chunk) in split_documents(text.as_bytes()) {
                let docs = load_documents(
                    chunk,
                    crate::bundle::yaml::YamlLimits {
                        max_documents: 100,
                        max_depth: 32,
                    },
                )
                .unwrap();
                for d in docs {
                    indexes.push((index + d.index, d.value));
                }
            }
            let expected: Vec<_> = whole.into_iter().map(|d| (d.index, d.value)).collect();
            assert_eq!(indexes, expected, "{text:?}");
        }
    }

    #[test]
    fn directives_and_end_markers_leave_the_file_whole() {
        assert_eq!(split("%YAML 1.2\n---\na: 1\n").len(), 1);
        assert_eq!(split("a: 1\n...\nb: 2\n").len(), 1);
        assert_eq!(split("a: 1\n---\nb: 2\n").len(), 2);
    }

    /// A lone `\r` (and NEL, LS, PS) breaks a line for the YAML parser: `# c\r x` is a
    /// comment and then a document. Found by the `reach_documents` fuzz target.
    #[test]
    fn other_line_breaks_leave_the_file_whole_and_give_no_hint() {
        for text in [
            "# c\r x\n---\na: 1\n",
            "a: 1\r---\rb: 2\n---\nc: 3\n",
            "# c\u{85} x\n---\na: 1\n",
            "# c\u{2028} x\n---\na: 1\n",
        ] {
            assert_eq!(split(text).len(), 1, "{text:?}");
            check_split_and_hints(text.as_bytes());
        }
        assert_eq!(hint("metadata:\r  namespace: a\r"), None);
    }

    /// A value YAML reads as a number, a boolean or null is no namespace name: no hint.
    /// Found by the `reach_documents` fuzz target (`namespace: 8`).
    #[test]
    fn values_yaml_reads_as_other_than_a_string_give_no_hint() {
        for value in [
            "8", "0x1f", "1e5", "0o17", "true", "false", "null", "123-abc",
        ] {
            let doc = format!("metadata:\n  namespace: {value}\n");
            assert_eq!(hint(&doc), None, "{value}");
            check_split_and_hints(doc.as_bytes());
        }
        assert_eq!(hint("metadata:\n  namespace: a8\n"), Some("a8"));
        assert_eq!(hint("metadata:\r\n  namespace: a\r\n"), Some("a"));
    }

    fn hint(text: &str) -> Option<&str> {
        namespace_hint(text.as_bytes())
    }

    #[test]
    fn a_plain_metadata_block_gives_its_namespace() {
        let doc = "---\napiVersion: v1\nkind: NetworkPolicy\nmetadata:\n  name: a # the name\n  namespace: payments   # a comment\n  labels:\n    namespace: not-this\nspec:\n  podSelector: {}\n";
        assert_eq!(hint(doc), Some("payments"));
        assert_eq!(
            hint("metadata:\n    namespace: shop\n    name: x\n"),
            Some("shop")
        );
    }

    /// Whatever could make the plain reading differ from the YAML parser's leaves the
    /// document to the parser: no hint, never a wrong one.
    #[test]
    fn anything_less_plain_gives_no_hint() {
        let hostile = [
            // flow style, inline metadata, quotes, tags, anchors and aliases
            "metadata: {namespace: a}\n",
            "{metadata: {namespace: a}}\n",
            "metadata:\n  namespace: \"a\"\n",
            "metadata:\n  namespace: 'a'\n",
            "metadata:\n  namespace: !!str a\n",
            "metadata: &m\n  namespace: a\n",
            "metadata:\n  namespace: *ns\n",
            "metadata:\n  <<: *base\n  namespace: a\n",
            // a quoted key, a complex key, a second metadata, a second namespace
            "\"metadata\":\n  namespace: a\n",
            "? metadata\n: {namespace: a}\n",
            "metadata:\n  namespace: a\nmetadata:\n  namespace: b\n",
            "metadata:\n  namespace: a\n  namespace: b\n",
            // tabs, a value on the next line, block scalars, odd indentation
            "metadata:\n\tnamespace: a\n",
            "metadata:\n  namespace:\n    a\n",
            "metadata:\n  name: |\n    x\n  namespace: a\n",
            "metadata:\n    name: x\n  namespace: a\n",
            // not a DNS-1123 label, or no namespace at all
            "metadata:\n  namespace: Payments\n",
            "metadata:\n  namespace: a b\n",
            "metadata:\n  name: x\n",
            "kind: Namespace\n",
            "- metadata:\n    namespace: a\n",
            "--- {metadata: {namespace: a}}\n",
            "--- !NetworkPolicy\nmetadata:\n  namespace: a\n",
        ];
        for doc in hostile {
            assert_eq!(hint(doc), None, "{doc:?}");
        }
    }

    /// A quoted scalar or a flow collection that starts in a nested value may run on over
    /// top-level lines: what looks like `metadata:` or `kind:` there is inside a string.
    #[test]
    fn a_scalar_or_collection_running_over_lines_gives_no_hint() {
        let swallowed = [
            "kind: NetworkPolicy\nspec:\n  x: \"a\nmetadata:\n  namespace: other\nc: d\"\n",
            "kind: NetworkPolicy\nspec:\n  x: 'a\nmetadata:\n  namespace: other'\n",
            "kind: NetworkPolicy\nspec:\n  x: [a,\nmetadata: {namespace: other}]\n",
            "spec:\n  x: \"a\nkind: Pod\"\nkind: NetworkPolicy\n",
            "spec:\n  x: {a: b,\nkind: Pod}\n",
        ];
        for doc in swallowed {
            assert_eq!(hint(doc), None, "{doc:?}");
            assert_eq!(kind_hint(doc.as_bytes()), None, "{doc:?}");
            check_split_and_hints(doc.as_bytes());
        }
        // What the parser makes of the first: no metadata at all.
        let docs = load_documents(swallowed[0].as_bytes(), Limits::default().file_yaml()).unwrap();
        assert_eq!(docs[0].value.get("metadata"), None);
        // A quote in a comment, and a flow collection closed on its line, leave it plain.
        let plain = "kind: NetworkPolicy # the team's\nmetadata:\n  namespace: a\nspec: {podSelector: {}}\n";
        assert_eq!(hint(plain), Some("a"));
        assert_eq!(kind_hint(plain.as_bytes()), Some("NetworkPolicy"));
    }

    #[test]
    fn a_plain_top_level_kind_is_read_and_anything_less_plain_is_not() {
        fn kind(t: &str) -> Option<&str> {
            kind_hint(t.as_bytes())
        }
        assert_eq!(
            kind("apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n"),
            Some("Pod")
        );
        assert_eq!(kind("---\nkind: Deployment # app\n"), Some("Deployment"));
        // YAML reads these as no string: no reader takes such a document either.
        assert_eq!(kind("kind: true\n"), Some("true"));
        let hostile = [
            "kind: Deploy\n  ment\n",
            "kind: 'Pod'\n",
            "kind: \"Pod\"\n",
            "kind: !!str Pod\n",
            "kind: &k Pod\n",
            "kind: *k\n",
            "kind: Pod\nkind: Namespace\n",
            "kind:Pod\n",
            "kind:\n  Pod\n",
            "kind: Net-Policy\n",
            "kind: 8\n",
            "{kind: Pod}\n",
            "- kind: Pod\n",
            "? kind\n: Pod\n",
            "\"kind\": Pod\n",
            "kind: Pod\r\u{85}metadata: x\n",
            "--- |\nkind: Pod\n",
            "metadata:\n  name: x\n",
        ];
        for doc in hostile {
            assert_eq!(kind(doc), None, "{doc:?}");
            check_split_and_hints(doc.as_bytes());
        }
    }

    #[test]
    fn the_split_and_the_hints_agree_with_the_parser_on_the_fuzz_seeds() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/seeds/reach_documents");
        let mut seen = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            check_split_and_hints(&std::fs::read(entry.unwrap().path()).unwrap());
            seen += 1;
        }
        assert!(seen >= 3, "{seen} seeds");
    }

    #[test]
    fn non_utf8_and_empty_documents_give_no_hint() {
        assert_eq!(namespace_hint(b"metadata:\n  namespace: \xff\n"), None);
        assert_eq!(namespace_hint(b""), None);
        assert_eq!(namespace_hint(b"---\n"), None);
    }
}
