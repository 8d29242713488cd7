//! Printing paths into the commands a command suggests, so they can be pasted.

use std::path::Path;

/// `path` as one word of a POSIX shell command line, quoted only when it needs it.
pub fn shell_word(path: &Path) -> String {
    let s = path.to_string_lossy();
    let plain = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+@=:,".contains(&b));
    if plain {
        s.into_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_words_are_quoted_only_when_needed() {
        assert_eq!(
            shell_word(Path::new("/tmp/repo-1/bundles/main")),
            "/tmp/repo-1/bundles/main"
        );
        assert_eq!(shell_word(Path::new("my repo")), "'my repo'");
        assert_eq!(shell_word(Path::new("it's")), r"'it'\''s'");
        assert_eq!(shell_word(Path::new("$(rm)")), "'$(rm)'");
    }
}
