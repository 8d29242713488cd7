//! Checking a git tree object from its raw bytes, by git fsck's rules, before anything
//! looks a name up in it or lists it.
//!
//! libgit2 parses a tree without checking it: it keeps duplicate names, names holding
//! `/`, and entries in any order, and its lookups (`get_name`, `get_path`) are binary
//! searches that assume git's order. A tree git fsck refuses can therefore show one
//! reader one entry and another reader another, or hide an entry from a lookup while a
//! listing sees it. So every tree netpol-sync reads to decide trust or content is
//! checked here first, from the object's bytes (`<mode> SP <name> NUL <20-byte id>`
//! entries), and refused whole when git would refuse it:
//!
//! - a name that is empty, holds `/`, or is `.` or `..` (fsck: emptyName, fullPathname,
//!   hasDot, hasDotdot). A NUL cannot be in a name: it ends the name in this format, so
//!   a name "with a NUL" reads as a shorter name followed by bytes that do not parse;
//! - `.git` in any case, and the spellings NTFS and HFS+ read as `.git` (hasDotgit);
//! - two entries of the same name, a file and a directory included, adjacent or not
//!   (duplicateEntries);
//! - entries out of git's order, in which a directory sorts as if its name ended in `/`
//!   (treeNotSorted);
//! - bytes that do not parse as entries, or a mode that is not octal digits or does not
//!   fit 16 bits (libgit2 keeps a mode in 16 bits, so a larger one would read as another
//!   mode there than in git).
//!
//! It decides nothing about trust: callers turn a refusal into their own verdict. The
//! check is one pass over the bytes; it allocates only the error, and a small stack when
//! a file name is followed by names that extend it (`a`, `a-b`, `a.c`), since a
//! directory `a` sorts after those.

use super::GitError;
use git2::{ObjectType, Oid, Repository};
use std::cmp::Ordering;
use std::fmt;

/// Largest tree object read. A tree of a policy repository is a few KiB; 16 MiB holds
/// hundreds of thousands of entries.
pub const MAX_TREE_BYTES: usize = 16 * 1024 * 1024;
/// Most entries read from one tree.
pub const MAX_TREE_ENTRIES: usize = 500_000;
/// Longest entry name: libgit2 refuses to parse a tree with a longer one.
pub const MAX_NAME_BYTES: usize = u16::MAX as usize;
/// The length of an object id in a tree entry (SHA-1, the only hash libgit2 reads here).
pub const ID_BYTES: usize = 20;
/// Most bytes of a name shown in a message.
const SHOWN_NAME_BYTES: usize = 120;

const MODE_TYPE_MASK: u32 = 0o170000;
const MODE_DIR: u32 = 0o040000;
/// Most octal digits of a mode: git writes at most six (`100644`, `40000`, `160000`...);
/// zero padding (`040000`) is read as git reads it, fsck only warns about it.
const MAX_MODE_DIGITS: usize = 8;
/// libgit2 keeps a mode in 16 bits: a larger one would read as another mode there.
const MAX_MODE: u32 = 0o177777;

/// One entry of a tree, borrowed from the object's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawEntry<'a> {
    /// The mode as written, in octal digits (`0o100644`).
    pub mode: u32,
    /// The name's bytes, without its terminating NUL.
    pub name: &'a [u8],
    pub id: &'a [u8; ID_BYTES],
}

impl RawEntry<'_> {
    /// A directory, as git sorts it (any mode of the directory type).
    pub fn is_dir(&self) -> bool {
        self.mode & MODE_TYPE_MASK == MODE_DIR
    }

    /// A blob that is neither a symlink nor a submodule (`100644`, `100755`, or any
    /// `100xxx`, which git reads as one of them).
    pub fn is_regular_file(&self) -> bool {
        self.mode & MODE_TYPE_MASK == 0o100000
    }

    pub fn oid(&self) -> Oid {
        // 20 bytes always make an id.
        Oid::from_bytes(self.id).unwrap_or_else(|_| Oid::zero())
    }
}

/// An entry name fit for a message: lossy UTF-8, control characters escaped, cut short.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShownName(String);

impl ShownName {
    fn of(name: &[u8]) -> ShownName {
        let cut = name.len() > SHOWN_NAME_BYTES;
        let shown = String::from_utf8_lossy(&name[..name.len().min(SHOWN_NAME_BYTES)]);
        let mut s: String = shown.escape_debug().collect();
        if cut {
            s.push_str(&format!("… ({} bytes)", name.len()));
        }
        ShownName(s)
    }
}

impl fmt::Display for ShownName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}`", self.0)
    }
}

/// What is wrong with a tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The bytes from `offset` on are not a whole entry.
    Unparsable {
        offset: usize,
        what: &'static str,
    },
    EmptyName,
    NameWithSlash(ShownName),
    /// `.` or `..`.
    DotName(ShownName),
    /// `.git`, or a name NTFS or HFS+ reads as `.git`.
    DotGit(ShownName),
    NameTooLong(ShownName),
    /// Two entries of this name (a file and a directory count).
    Duplicate(ShownName),
    /// `entry` comes after `previous` but git sorts it before.
    Unsorted {
        previous: ShownName,
        entry: ShownName,
    },
    /// More than [`MAX_TREE_BYTES`].
    TooLarge {
        size: usize,
        limit: usize,
    },
    /// More than [`MAX_TREE_ENTRIES`].
    TooManyEntries {
        limit: usize,
    },
    /// The object could not be read, or is not a tree: the repository's state, not a
    /// verdict on the tree.
    Unreadable(String),
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Unparsable { offset, what } => {
                write!(f, "it does not parse as a tree at byte {offset}: {what}")
            }
            Problem::EmptyName => write!(f, "an entry has an empty name"),
            Problem::NameWithSlash(n) => write!(f, "entry {n} has `/` in its name"),
            Problem::DotName(n) => write!(f, "an entry is named {n}"),
            Problem::DotGit(n) => write!(f, "entry {n} is named like `.git`"),
            Problem::NameTooLong(n) => {
                write!(f, "entry {n} has a name longer than {MAX_NAME_BYTES} bytes")
            }
            Problem::Duplicate(n) => write!(f, "two entries are named {n}"),
            Problem::Unsorted { previous, entry } => write!(
                f,
                "entry {entry} comes after {previous}, out of git's order"
            ),
            Problem::TooLarge { size, limit } => {
                write!(f, "it is {size} bytes, more than the {limit} read")
            }
            Problem::TooManyEntries { limit } => write!(f, "it has more than {limit} entries"),
            Problem::Unreadable(why) => write!(f, "{why}"),
        }
    }
}

/// A tree refused: its path in the revision (`""` for the root), its id, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeCheckError {
    pub path: String,
    pub tree: Oid,
    pub problem: Problem,
}

impl TreeCheckError {
    /// git fsck refuses the tree: a verdict on the revision.
    pub fn is_malformed(&self) -> bool {
        !self.is_limit() && !self.is_unreadable()
    }

    /// Larger than netpol-sync reads.
    pub fn is_limit(&self) -> bool {
        matches!(
            self.problem,
            Problem::TooLarge { .. } | Problem::TooManyEntries { .. }
        )
    }

    /// Not readable as a tree at all (missing object, wrong type, I/O).
    pub fn is_unreadable(&self) -> bool {
        matches!(self.problem, Problem::Unreadable(_))
    }
}

impl fmt::Display for TreeCheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = if self.is_malformed() {
            "malformed tree"
        } else {
            "tree"
        };
        if self.path.is_empty() {
            write!(f, "{what} at the root of the revision")?;
        } else {
            write!(f, "{what} `{}/`", self.path)?;
        }
        write!(f, " ({}): {}", self.tree, self.problem)
    }
}

impl std::error::Error for TreeCheckError {}

/// For callers of [`super::Repo::tree_file`]: a refused tree travels as an I/O error of
/// kind `InvalidData` carrying the [`TreeCheckError`] (see [`refused`]); an unreadable
/// one as the git error it is.
impl From<TreeCheckError> for GitError {
    fn from(e: TreeCheckError) -> GitError {
        if e.is_unreadable() {
            GitError::Git(git2::Error::from_str(&e.to_string()))
        } else {
            GitError::Io(std::io::Error::new(std::io::ErrorKind::InvalidData, e))
        }
    }
}

/// The tree check behind a [`GitError`], if a tree was refused (malformed or too large).
pub fn refused(e: &GitError) -> Option<&TreeCheckError> {
    match e {
        GitError::Io(io) => io.get_ref()?.downcast_ref::<TreeCheckError>(),
        _ => None,
    }
}

/// Check tree `tree` of `repo`, shown in messages as `shown_path` (`""` for the root):
/// its size from the object header first, then its bytes by [`check_raw_tree`].
pub fn check_tree(repo: &Repository, tree: Oid, shown_path: &str) -> Result<(), TreeCheckError> {
    read_checked_tree(repo, tree, shown_path).map(|_| ())
}

/// [`check_tree`], handing back the bytes of the tree object it read and checked: a
/// reader looks names up in those entries ([`raw_entries`]), so the bytes checked are
/// the bytes read.
pub fn read_checked_tree(
    repo: &Repository,
    tree: Oid,
    shown_path: &str,
) -> Result<Vec<u8>, TreeCheckError> {
    let refuse = |problem: Problem| TreeCheckError {
        path: shown_path.to_string(),
        tree,
        problem,
    };
    let unreadable = |e: git2::Error| refuse(Problem::Unreadable(e.message().to_string()));
    let odb = repo.odb().map_err(unreadable)?;
    let (size, kind) = odb.read_header(tree).map_err(unreadable)?;
    if kind != ObjectType::Tree {
        return Err(refuse(Problem::Unreadable(format!(
            "object {tree} is a {kind}, not a tree"
        ))));
    }
    if size > MAX_TREE_BYTES {
        return Err(refuse(Problem::TooLarge {
            size,
            limit: MAX_TREE_BYTES,
        }));
    }
    let object = odb.read(tree).map_err(unreadable)?;
    check_raw_tree(object.data()).map_err(refuse)?;
    Ok(object.data().to_vec())
}

/// Check a tree object's bytes (without the `tree <size>\0` header) by the rules in the
/// module documentation; the number of entries if it passes.
pub fn check_raw_tree(bytes: &[u8]) -> Result<usize, Problem> {
    if bytes.len() > MAX_TREE_BYTES {
        return Err(Problem::TooLarge {
            size: bytes.len(),
            limit: MAX_TREE_BYTES,
        });
    }
    let mut count = 0usize;
    let mut previous: Option<RawEntry<'_>> = None;
    // Files whose name every entry since has extended by a byte below `/`: a directory
    // of the same name would sort right after those entries, not next to the file.
    let mut open_files: Vec<&[u8]> = Vec::new();
    for entry in raw_entries(bytes) {
        let entry = entry?;
        count += 1;
        if count > MAX_TREE_ENTRIES {
            return Err(Problem::TooManyEntries {
                limit: MAX_TREE_ENTRIES,
            });
        }
        check_name(entry.name)?;
        if let Some(previous) = previous {
            if previous.name == entry.name {
                return Err(Problem::Duplicate(ShownName::of(entry.name)));
            }
            if canonical_order(&previous, &entry) != Ordering::Less {
                return Err(Problem::Unsorted {
                    previous: ShownName::of(previous.name),
                    entry: ShownName::of(entry.name),
                });
            }
        }
        while let Some(&file) = open_files.last() {
            if file == entry.name {
                // Only a directory gets here: a file of the same name would be adjacent
                // or out of order, both refused above.
                return Err(Problem::Duplicate(ShownName::of(entry.name)));
            }
            if extends_below_slash(entry.name, file) {
                break;
            }
            open_files.pop();
        }
        if !entry.is_dir() {
            open_files.push(entry.name);
        }
        previous = Some(entry);
    }
    Ok(count)
}

/// The entries of a tree object's bytes, in the order written; no rule but the syntax
/// (see [`check_raw_tree`] for the rest). Refuses more than [`MAX_TREE_BYTES`] bytes or
/// [`MAX_TREE_ENTRIES`] entries.
pub fn parse_tree(bytes: &[u8]) -> Result<Vec<RawEntry<'_>>, Problem> {
    if bytes.len() > MAX_TREE_BYTES {
        return Err(Problem::TooLarge {
            size: bytes.len(),
            limit: MAX_TREE_BYTES,
        });
    }
    let mut out = Vec::new();
    for entry in raw_entries(bytes) {
        if out.len() == MAX_TREE_ENTRIES {
            return Err(Problem::TooManyEntries {
                limit: MAX_TREE_ENTRIES,
            });
        }
        out.push(entry?);
    }
    Ok(out)
}

/// An iterator over the entries of a tree object's bytes; it ends after the first error.
pub fn raw_entries(bytes: &[u8]) -> RawEntries<'_> {
    RawEntries {
        bytes,
        offset: 0,
        failed: false,
    }
}

pub struct RawEntries<'a> {
    bytes: &'a [u8],
    offset: usize,
    failed: bool,
}

impl<'a> RawEntries<'a> {
    fn entry(&mut self) -> Result<RawEntry<'a>, Problem> {
        let start = self.offset;
        let rest = &self.bytes[start..];
        let fail = |what| Problem::Unparsable {
            offset: start,
            what,
        };
        let space = rest
            .iter()
            .take(MAX_MODE_DIGITS + 1)
            .position(|&b| b == b' ')
            .ok_or_else(|| fail("no mode of at most 8 octal digits followed by a space"))?;
        if space == 0 {
            return Err(fail("an entry has an empty mode"));
        }
        let mut mode = 0u32;
        for &digit in &rest[..space] {
            if !(b'0'..=b'7').contains(&digit) {
                return Err(fail("a mode holds a byte that is not an octal digit"));
            }
            mode = (mode << 3) | u32::from(digit - b'0');
        }
        if mode > MAX_MODE {
            return Err(fail("a mode does not fit 16 bits"));
        }
        let name_start = space + 1;
        let name_len = rest[name_start..]
            .iter()
            .position(|&b| b == 0)
            .ok_or_else(|| fail("an entry's name is not terminated by NUL"))?;
        let name = &rest[name_start..name_start + name_len];
        let id_start = name_start + name_len + 1;
        let id: &[u8; ID_BYTES] = rest
            .get(id_start..id_start + ID_BYTES)
            .and_then(|s| s.try_into().ok())
            .ok_or_else(|| fail("the object ends inside an entry's id"))?;
        self.offset = start + id_start + ID_BYTES;
        Ok(RawEntry { mode, name, id })
    }
}

impl<'a> Iterator for RawEntries<'a> {
    type Item = Result<RawEntry<'a>, Problem>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.offset >= self.bytes.len() {
            return None;
        }
        let entry = self.entry();
        self.failed = entry.is_err();
        Some(entry)
    }
}

fn check_name(name: &[u8]) -> Result<(), Problem> {
    if name.is_empty() {
        return Err(Problem::EmptyName);
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(Problem::NameTooLong(ShownName::of(name)));
    }
    if name.contains(&b'/') {
        return Err(Problem::NameWithSlash(ShownName::of(name)));
    }
    if name == b"." || name == b".." {
        return Err(Problem::DotName(ShownName::of(name)));
    }
    if is_dot_git(name) {
        return Err(Problem::DotGit(ShownName::of(name)));
    }
    Ok(())
}

/// `.git` in any case, or a name that NTFS or HFS+ opens as `.git`.
pub fn is_dot_git(name: &[u8]) -> bool {
    name.eq_ignore_ascii_case(b".git") || is_ntfs_dot_git(name) || is_hfs_dot_git(name)
}

/// NTFS drops trailing dots and spaces, reads `name:stream` as `name`, takes `\` as a
/// separator, and has the 8.3 short name `GIT~1` for `.git`.
fn is_ntfs_dot_git(name: &[u8]) -> bool {
    let rest = if name.len() >= 4 && name[0] == b'.' && name[1..4].eq_ignore_ascii_case(b"git") {
        &name[4..]
    } else if name.len() >= 5 && name[..5].eq_ignore_ascii_case(b"git~1") {
        &name[5..]
    } else {
        return false;
    };
    for &b in rest {
        match b {
            b'.' | b' ' => {}
            b':' | b'\\' | b'/' => return true,
            _ => return false,
        }
    }
    true
}

/// HFS+ ignores some zero-width and direction code points in names, and folds ASCII
/// case. A name that is not UTF-8 is not `.git` there.
fn is_hfs_dot_git(name: &[u8]) -> bool {
    if name.len() < 4 || name.is_ascii() {
        return false; // plain ASCII: the exact comparison decided it
    }
    let Ok(name) = std::str::from_utf8(name) else {
        return false;
    };
    let mut chars = name.chars().filter(|&c| !is_hfs_ignorable(c));
    for want in ['.', 'g', 'i', 't'] {
        match chars.next() {
            Some(c) if c.to_ascii_lowercase() == want => {}
            _ => return false,
        }
    }
    chars.next().is_none()
}

fn is_hfs_ignorable(c: char) -> bool {
    matches!(
        c,
        '\u{200C}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{206A}'..='\u{206F}' | '\u{FEFF}'
    )
}

/// git's order of tree entries: by name bytes, a directory's name compared as if it
/// ended in `/`.
fn canonical_order(a: &RawEntry<'_>, b: &RawEntry<'_>) -> Ordering {
    let common = a.name.len().min(b.name.len());
    match a.name[..common].cmp(&b.name[..common]) {
        Ordering::Equal => {}
        other => return other,
    }
    let next = |e: &RawEntry<'_>| match e.name.get(common) {
        Some(&b) => b,
        None if e.is_dir() => b'/',
        None => 0,
    };
    next(a).cmp(&next(b))
}

/// `name` is `file` followed by a byte that sorts below `/`: entries like it sit between
/// the file `file` and a directory `file`.
fn extends_below_slash(name: &[u8], file: &[u8]) -> bool {
    name.len() > file.len() && name.starts_with(file) && name[file.len()] < b'/'
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::git::{Repo, TreeFile};
    use proptest::prelude::*;

    const FILE: &str = "100644";
    const DIR: &str = "40000";

    fn id(n: u8) -> [u8; ID_BYTES] {
        [n; ID_BYTES]
    }

    /// Tree bytes with entries exactly as given: no sorting, no checks.
    fn tree(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        for (i, (mode, name)) in entries.iter().enumerate() {
            out.extend_from_slice(mode.as_bytes());
            out.push(b' ');
            out.extend_from_slice(name);
            out.push(0);
            out.extend_from_slice(&id(i as u8 + 1));
        }
        out
    }

    fn problem(entries: &[(&str, &[u8])]) -> Problem {
        check_raw_tree(&tree(entries)).unwrap_err()
    }

    #[test]
    fn a_tree_git_writes_parses_and_passes() {
        let bytes = tree(&[
            (FILE, b"a"),
            (FILE, b"a-b"),
            (FILE, b"a.yaml"),
            (DIR, b"a"),
            (FILE, b"a0"),
            (DIR, b"bundles"),
            ("120000", b"link"),
            ("160000", b"vendor"),
        ]);
        // `a` as a file and as a directory is a duplicate; drop the file to make it valid.
        let valid = tree(&[
            (FILE, b"a-b"),
            (FILE, b"a.yaml"),
            (DIR, b"a"),
            (FILE, b"a0"),
            (DIR, b"bundles"),
            ("120000", b"link"),
            ("160000", b"vendor"),
        ]);
        assert_eq!(check_raw_tree(&valid), Ok(7));
        let entries = parse_tree(&valid).unwrap();
        assert_eq!(entries.len(), 7);
        assert_eq!(entries[2].name, b"a");
        assert!(entries[2].is_dir());
        assert_eq!(entries[2].mode, 0o40000);
        assert_eq!(entries[2].oid(), Oid::from_bytes(&id(3)).unwrap());
        assert_eq!(entries[5].mode, 0o120000);
        assert_eq!(
            check_raw_tree(&bytes),
            Err(Problem::Duplicate(ShownName::of(b"a")))
        );
        assert_eq!(check_raw_tree(b""), Ok(0));
    }

    #[test]
    fn names_git_fsck_refuses_are_refused() {
        assert_eq!(problem(&[(FILE, b"")]), Problem::EmptyName);
        assert!(matches!(
            problem(&[(FILE, b"a/b.yaml")]),
            Problem::NameWithSlash(_)
        ));
        assert!(matches!(
            problem(&[(FILE, b"/")]),
            Problem::NameWithSlash(_)
        ));
        assert!(matches!(problem(&[(DIR, b".")]), Problem::DotName(_)));
        assert!(matches!(problem(&[(DIR, b"..")]), Problem::DotName(_)));
        for name in [
            &b".git"[..],
            b".GIT",
            b".Git",
            b".git.",
            b".git ",
            b".git. .",
            b".git::$INDEX_ALLOCATION",
            b"git~1",
            b"GIT~1",
            ".\u{200C}git".as_bytes(),
            ".g\u{FEFF}IT\u{202A}".as_bytes(),
        ] {
            assert!(
                matches!(problem(&[(DIR, name)]), Problem::DotGit(_)),
                "{}",
                String::from_utf8_lossy(name)
            );
        }
        for fine in [
            &b".gitignore"[..],
            b".github",
            b"git",
            b".gi",
            b"git~2",
            b"...",
            b"caf\xe9",
        ] {
            assert!(check_raw_tree(&tree(&[(FILE, fine)])).is_ok());
        }
        let long = vec![b'x'; MAX_NAME_BYTES + 1];
        assert!(matches!(problem(&[(FILE, &long)]), Problem::NameTooLong(_)));
    }

    #[test]
    fn duplicates_are_refused_adjacent_or_not() {
        assert_eq!(
            problem(&[(FILE, b"bundle.yaml"), (FILE, b"bundle.yaml")]),
            Problem::Duplicate(ShownName::of(b"bundle.yaml"))
        );
        assert_eq!(
            problem(&[(DIR, b"prod"), (DIR, b"prod")]),
            Problem::Duplicate(ShownName::of(b"prod"))
        );
        // A file and a directory of one name, adjacent.
        assert_eq!(
            problem(&[(FILE, b"keys"), (DIR, b"keys")]),
            Problem::Duplicate(ShownName::of(b"keys"))
        );
        // ... and with entries between them, in git's order (`-` and `.` sort below `/`).
        assert_eq!(
            problem(&[
                (FILE, b"keys"),
                (FILE, b"keys-old"),
                (FILE, b"keys.d"),
                (FILE, b"keys.d-x"),
                (DIR, b"keys"),
            ]),
            Problem::Duplicate(ShownName::of(b"keys"))
        );
        // Nested: both `a` and `a-b` have directories of their name later.
        assert_eq!(
            problem(&[
                (FILE, b"a"),
                (FILE, b"a-b"),
                (FILE, b"a-b.c"),
                (DIR, b"a-b")
            ]),
            Problem::Duplicate(ShownName::of(b"a-b"))
        );
        assert_eq!(
            problem(&[(FILE, b"a"), (FILE, b"a-b"), (DIR, b"a")]),
            Problem::Duplicate(ShownName::of(b"a"))
        );
        // A directory then a file of the same name is out of order.
        assert_eq!(
            problem(&[(DIR, b"a"), (FILE, b"a")]),
            Problem::Duplicate(ShownName::of(b"a"))
        );
        assert!(matches!(
            problem(&[(DIR, b"a"), (FILE, b"a.b"), (FILE, b"a")]),
            Problem::Unsorted { .. }
        ));
    }

    #[test]
    fn entries_out_of_git_order_are_refused() {
        assert!(matches!(
            problem(&[(FILE, b"keys"), (DIR, b"bundles")]),
            Problem::Unsorted { .. }
        ));
        // A directory sorts as `a/`, after `a.yaml` and `a-b`, before `a0`.
        assert!(matches!(
            problem(&[(DIR, b"a"), (FILE, b"a.yaml")]),
            Problem::Unsorted { .. }
        ));
        assert!(matches!(
            problem(&[(FILE, b"a0"), (DIR, b"a")]),
            Problem::Unsorted { .. }
        ));
        assert!(check_raw_tree(&tree(&[(FILE, b"a.yaml"), (DIR, b"a")])).is_ok());
        assert!(check_raw_tree(&tree(&[(DIR, b"a"), (FILE, b"a0")])).is_ok());
        // A shorter name first, whatever the kind... unless a directory's `/` sorts it
        // after the longer one.
        assert!(check_raw_tree(&tree(&[(FILE, b"ab"), (FILE, b"abc")])).is_ok());
        assert!(matches!(
            problem(&[(DIR, b"ab"), (FILE, b"ab!")]),
            Problem::Unsorted { .. }
        ));
        // Bytes compare unsigned.
        assert!(check_raw_tree(&tree(&[(FILE, b"z"), (FILE, b"\xc3\xa9")])).is_ok());
        // Hidden duplicate: sorted wrong, `bundles` twice, not adjacent.
        let p = problem(&[(DIR, b"bundles"), (DIR, b"keys"), (DIR, b"bundles")]);
        assert_eq!(
            p,
            Problem::Unsorted {
                previous: ShownName::of(b"keys"),
                entry: ShownName::of(b"bundles")
            }
        );
    }

    #[test]
    fn bytes_that_are_not_entries_are_refused() {
        let unparsable = |bytes: &[u8]| {
            matches!(check_raw_tree(bytes), Err(Problem::Unparsable { .. }))
                && parse_tree(bytes).is_err()
        };
        assert!(unparsable(b"100644"));
        assert!(unparsable(b"100644 name"));
        assert!(unparsable(b"100644 name\0short-id"));
        assert!(unparsable(b" name\0aaaaaaaaaaaaaaaaaaaa"));
        assert!(unparsable(b"10064x name\0aaaaaaaaaaaaaaaaaaaa"));
        assert!(unparsable(b"-1 name\0aaaaaaaaaaaaaaaaaaaa"));
        // Past 16 bits: libgit2 would not read `1100644` as git does.
        assert!(unparsable(b"1100644 name\0aaaaaaaaaaaaaaaaaaaa"));
        assert!(unparsable(b"1040000 name\0aaaaaaaaaaaaaaaaaaaa"));
        assert!(unparsable(b"000000001 name\0aaaaaaaaaaaaaaaaaaaa"));
        assert!(unparsable(b"+100644 name\0aaaaaaaaaaaaaaaaaaaa"));
        // A valid entry followed by garbage.
        let mut bytes = tree(&[(FILE, b"a")]);
        bytes.push(b'1');
        match check_raw_tree(&bytes) {
            Err(Problem::Unparsable { offset, .. }) => assert_eq!(offset, bytes.len() - 1),
            other => panic!("{other:?}"),
        }
        // A NUL "inside" a name ends it: the rest is read as the id and the next entry.
        let mut bytes = b"100644 a\0b.yaml\0".to_vec();
        bytes.extend_from_slice(&id(1));
        assert!(check_raw_tree(&bytes).is_err());
        // Zero-padded modes are read as git reads them (fsck only warns).
        let bytes = tree(&[("040000", b"a"), ("0100644", b"b")]);
        let entries = parse_tree(&bytes).unwrap();
        assert!(entries[0].is_dir());
        assert_eq!(entries[1].mode, 0o100644);
    }

    #[test]
    fn oversized_and_crowded_trees_are_refused_before_they_are_walked() {
        let huge = vec![b'1'; MAX_TREE_BYTES + 1];
        assert!(matches!(
            check_raw_tree(&huge),
            Err(Problem::TooLarge { .. })
        ));
        assert!(matches!(parse_tree(&huge), Err(Problem::TooLarge { .. })));
        // Small entries (`1 <3 bytes>\0<id>`, 26 bytes) under the byte limit, past the
        // entry limit: names distinct and in order, from bytes above `/`.
        let mut bytes = Vec::with_capacity((MAX_TREE_ENTRIES + 1) * 26);
        for i in 0..=MAX_TREE_ENTRIES {
            let digit = |n: usize| b'0' + (n % 208) as u8;
            bytes.extend_from_slice(b"1 ");
            bytes.extend_from_slice(&[digit(i / 208 / 208), digit(i / 208), digit(i)]);
            bytes.push(0);
            bytes.extend_from_slice(&id(1));
        }
        assert!(bytes.len() <= MAX_TREE_BYTES);
        assert_eq!(
            check_raw_tree(&bytes),
            Err(Problem::TooManyEntries {
                limit: MAX_TREE_ENTRIES
            })
        );
        assert!(matches!(
            parse_tree(&bytes),
            Err(Problem::TooManyEntries { .. })
        ));
    }

    #[test]
    fn hostile_names_are_shown_escaped_and_cut() {
        let name = [b"evil\n\x1b[31m".as_slice(), &[b'x'; 500]].concat();
        let shown = ShownName::of(&name).to_string();
        assert!(!shown.contains('\n') && !shown.contains('\x1b'), "{shown}");
        assert!(shown.contains("(510 bytes)"), "{shown}");
        assert!(shown.len() < 200, "{shown}");
    }

    fn bare_repo() -> (tempfile::TempDir, Repository) {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init_bare(dir.path()).unwrap();
        (dir, repo)
    }

    /// Store tree bytes as they are: libgit2's object database does not check them.
    fn write_tree(repo: &Repository, entries: &[(&str, &[u8], Oid)]) -> Oid {
        let mut bytes = Vec::new();
        for (mode, name, id) in entries {
            bytes.extend_from_slice(mode.as_bytes());
            bytes.push(b' ');
            bytes.extend_from_slice(name);
            bytes.push(0);
            bytes.extend_from_slice(id.as_bytes());
        }
        repo.odb().unwrap().write(ObjectType::Tree, &bytes).unwrap()
    }

    #[test]
    fn check_tree_reads_the_object_and_names_the_path() {
        let (_d, repo) = bare_repo();
        let blob = repo.blob(b"x").unwrap();
        let good = write_tree(&repo, &[(FILE, b"allowed_signers", blob)]);
        assert_eq!(check_tree(&repo, good, "keys"), Ok(()));
        let bad = write_tree(
            &repo,
            &[
                (FILE, b"allowed_signers", blob),
                (FILE, b"allowed_signers", blob),
            ],
        );
        let e = check_tree(&repo, bad, "keys").unwrap_err();
        assert!(e.is_malformed());
        let message = e.to_string();
        assert!(
            message.starts_with("malformed tree `keys/`")
                && message.contains("`allowed_signers`")
                && message.contains(&bad.to_string()),
            "{message}"
        );
        let root = check_tree(&repo, bad, "").unwrap_err().to_string();
        assert!(root.contains("at the root of the revision"), "{root}");
        // A blob is not a tree, and a missing object is not a verdict.
        let e = check_tree(&repo, blob, "keys").unwrap_err();
        assert!(e.is_unreadable() && !e.is_malformed(), "{e}");
        let missing = Oid::from_bytes(&id(9)).unwrap();
        assert!(check_tree(&repo, missing, "keys")
            .unwrap_err()
            .is_unreadable());
    }

    #[test]
    fn tree_file_refuses_every_malformed_tree_on_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo::open(
            Repository::init_bare(dir.path())
                .unwrap()
                .path()
                .to_str()
                .unwrap(),
        )
        .unwrap();
        let git = repo.git2();
        let real = git.blob(b"real").unwrap();
        let evil = git.blob(b"evil").unwrap();
        let keys = write_tree(git, &[(FILE, b"allowed_signers", real)]);
        let root = write_tree(git, &[(DIR, b"keys", keys)]);
        assert_eq!(
            repo.tree_file(root, "keys/allowed_signers").unwrap(),
            TreeFile::File(real)
        );
        assert_eq!(
            repo.tree_file(root, "keys/missing").unwrap(),
            TreeFile::Missing
        );
        assert_eq!(
            repo.tree_file(root, "nothing/here").unwrap(),
            TreeFile::Missing
        );
        assert!(matches!(
            repo.tree_file(root, "keys").unwrap(),
            TreeFile::NotAFile(_)
        ));
        // `keys/` names the file twice.
        let dup_keys = write_tree(
            git,
            &[
                (FILE, b"allowed_signers", evil),
                (FILE, b"allowed_signers", real),
            ],
        );
        let root_dup_file = write_tree(git, &[(DIR, b"keys", dup_keys)]);
        // The root names `keys/` twice.
        let evil_keys = write_tree(git, &[(FILE, b"allowed_signers", evil)]);
        let root_dup_dir = write_tree(git, &[(DIR, b"keys", evil_keys), (DIR, b"keys", keys)]);
        // The root holds a file literally named `keys/allowed_signers`.
        let root_slash = write_tree(
            git,
            &[(DIR, b"keys", keys), (FILE, b"keys/allowed_signers", evil)],
        );
        // Out of order, so that a binary search for `keys` misses one of two.
        let other = write_tree(git, &[(FILE, b"x", real)]);
        let root_unsorted = write_tree(
            git,
            &[
                (DIR, b"keys", evil_keys),
                (DIR, b"a", other),
                (DIR, b"keys", keys),
            ],
        );
        for (root, path) in [
            (root_dup_file, "keys/"),
            (root_dup_dir, "at the root"),
            (root_slash, "at the root"),
            (root_unsorted, "at the root"),
        ] {
            let e = repo.tree_file(root, "keys/allowed_signers").unwrap_err();
            let refused = refused(&e).expect("a tree check refusal");
            assert!(refused.is_malformed());
            let message = e.to_string();
            assert!(
                message.contains("malformed tree") && message.contains(path),
                "{message}"
            );
        }
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_give_entries_or_an_error_never_a_panic(
            bytes in proptest::collection::vec(any::<u8>(), 0..512)
        ) {
            let parsed = parse_tree(&bytes);
            let checked = check_raw_tree(&bytes);
            // What the check accepts, the parser lists, entry for entry.
            if let Ok(n) = checked {
                prop_assert_eq!(parsed.map(|e| e.len()), Ok(n));
            }
        }

        #[test]
        fn entry_shaped_bytes_never_panic(
            entries in proptest::collection::vec(
                (
                    prop_oneof![Just("100644"), Just("40000"), Just("1"), Just("0777777")],
                    proptest::collection::vec(
                        prop_oneof![Just(b'a'), Just(b'.'), Just(b'-'), Just(b'/'), Just(b'g'), any::<u8>()],
                        0..6,
                    ),
                ),
                0..12,
            ),
            cut in any::<usize>(),
        ) {
            let mut bytes = Vec::new();
            for (mode, name) in &entries {
                bytes.extend_from_slice(mode.as_bytes());
                bytes.push(b' ');
                bytes.extend_from_slice(name);
                bytes.push(0);
                bytes.extend_from_slice(&id(7));
            }
            let _ = check_raw_tree(&bytes);
            let _ = parse_tree(&bytes);
            let cut = cut % (bytes.len() + 1);
            let _ = check_raw_tree(&bytes[..cut]);
            let _ = parse_tree(&bytes[..cut]);
        }

        /// A tree whose names are distinct and sorted the way git sorts them passes:
        /// the check refuses what fsck refuses, not more.
        #[test]
        fn trees_in_git_order_with_distinct_names_pass(
            names in proptest::collection::btree_map(
                "[a-z.\\-_0-9]{1,6}",
                any::<bool>(),
                0..16,
            )
        ) {
            let mut entries: Vec<(Vec<u8>, bool)> = names
                .into_iter()
                .filter(|(n, _)| n != "." && n != ".." && !is_dot_git(n.as_bytes()))
                .map(|(n, dir)| (n.into_bytes(), dir))
                .collect();
            let key = |(n, dir): &(Vec<u8>, bool)| {
                let mut k = n.clone();
                if *dir {
                    k.push(b'/');
                }
                k
            };
            entries.sort_by_key(key);
            let modes: Vec<(&str, &[u8])> = entries
                .iter()
                .map(|(n, dir)| (if *dir { DIR } else { FILE }, n.as_slice()))
                .collect();
            prop_assert_eq!(check_raw_tree(&tree(&modes)), Ok(modes.len()));
        }
    }
}
