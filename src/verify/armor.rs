//! The SSHSIG armor (OpenSSH PROTOCOL.sshsig §"Armored format"): a BEGIN line, base64 in
//! lines of at most 76 columns, an END line. CRLF line ends are tolerated.

use base64::Engine;

pub const BEGIN: &str = "-----BEGIN SSH SIGNATURE-----";
pub const END: &str = "-----END SSH SIGNATURE-----";
/// An Ed25519 SSHSIG is about 300 armored bytes; this leaves room for any key type's
/// signature to be parsed far enough to be named, and no more.
pub const MAX_ARMORED: usize = 64 * 1024;
const MAX_LINE: usize = 76;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArmorError {
    #[error("armored signature is {0} bytes, more than the {MAX_ARMORED} allowed")]
    TooLong(usize),
    #[error("signature is not text")]
    NotText,
    /// An OpenPGP or x509 (CMS) signature: a format netpol-sync never verifies.
    #[error("signature is {0:?}, not an SSH signature")]
    OtherFormat(String),
    #[error("signature does not start with {BEGIN:?}")]
    MissingBegin,
    #[error("signature has no {END:?} line")]
    MissingEnd,
    #[error("text after the {END:?} line")]
    TrailingText,
    #[error("armor line {0} is longer than 76 columns")]
    LongLine(usize),
    #[error("armor line {0} is not base64")]
    BadCharacter(usize),
    #[error("armor is not valid base64")]
    Base64,
    #[error("armor holds no data")]
    Empty,
}

/// Decode an armored SSHSIG to its binary blob.
pub fn dearmor(armored: &[u8]) -> Result<Vec<u8>, ArmorError> {
    if armored.len() > MAX_ARMORED {
        return Err(ArmorError::TooLong(armored.len()));
    }
    let text = std::str::from_utf8(armored).map_err(|_| ArmorError::NotText)?;
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let first = lines.next().unwrap_or_default();
    if first != BEGIN {
        if let Some(label) = first
            .strip_prefix("-----BEGIN ")
            .and_then(|l| l.strip_suffix("-----"))
        {
            return Err(ArmorError::OtherFormat(label.chars().take(40).collect()));
        }
        return Err(ArmorError::MissingBegin);
    }
    let mut body = String::new();
    let mut ended = false;
    for (index, line) in lines.enumerate() {
        let number = index + 2;
        if ended {
            if !line.is_empty() {
                return Err(ArmorError::TrailingText);
            }
            continue;
        }
        if line == END {
            ended = true;
            continue;
        }
        if line.len() > MAX_LINE {
            return Err(ArmorError::LongLine(number));
        }
        if !line
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'=')
        {
            return Err(ArmorError::BadCharacter(number));
        }
        body.push_str(line);
    }
    if !ended {
        return Err(ArmorError::MissingEnd);
    }
    if body.is_empty() {
        return Err(ArmorError::Empty);
    }
    base64::engine::general_purpose::STANDARD
        .decode(body.as_bytes())
        .map_err(|_| ArmorError::Base64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn armor(body: &str, eol: &str) -> Vec<u8> {
        format!("{BEGIN}{eol}{body}{eol}{END}{eol}").into_bytes()
    }

    #[test]
    fn decodes_lf_and_crlf() {
        assert_eq!(dearmor(&armor("U1NIU0lH", "\n")).unwrap(), b"SSHSIG");
        assert_eq!(dearmor(&armor("U1NIU0lH", "\r\n")).unwrap(), b"SSHSIG");
    }

    #[test]
    fn pgp_signature_is_named_other_format() {
        let pgp = b"-----BEGIN PGP SIGNATURE-----\n\niQ==\n-----END PGP SIGNATURE-----\n";
        assert_eq!(
            dearmor(pgp),
            Err(ArmorError::OtherFormat("PGP SIGNATURE".into()))
        );
    }

    #[test]
    fn bad_base64_character_is_rejected() {
        assert_eq!(
            dearmor(&armor("U1NI*0lH", "\n")),
            Err(ArmorError::BadCharacter(2))
        );
    }

    #[test]
    fn non_canonical_padding_is_rejected() {
        assert_eq!(dearmor(&armor("U1NIU0l=", "\n")), Err(ArmorError::Base64));
    }

    #[test]
    fn line_over_76_columns_is_rejected() {
        let long = "A".repeat(80);
        assert_eq!(dearmor(&armor(&long, "\n")), Err(ArmorError::LongLine(2)));
    }

    #[test]
    fn missing_end_and_trailing_text_are_rejected() {
        assert_eq!(
            dearmor(format!("{BEGIN}\nU1NIU0lH\n").as_bytes()),
            Err(ArmorError::MissingEnd)
        );
        let mut trailing = armor("U1NIU0lH", "\n");
        trailing.extend_from_slice(b"extra\n");
        assert_eq!(dearmor(&trailing), Err(ArmorError::TrailingText));
    }

    #[test]
    fn oversized_armor_is_rejected_before_decoding() {
        let huge = vec![b'A'; MAX_ARMORED + 1];
        assert_eq!(dearmor(&huge), Err(ArmorError::TooLong(MAX_ARMORED + 1)));
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let _ = dearmor(&bytes);
        }

        #[test]
        fn arbitrary_armor_bodies_never_panic(body in "[A-Za-z0-9+/=\r\n]{0,400}") {
            let _ = dearmor(&armor(&body, "\n"));
        }
    }
}
