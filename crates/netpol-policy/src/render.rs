//! Go's renderings of bad values, so that messages match the apiserver byte for byte.
//!
//! field.Error renders a Go `string` with `%q` (strconv.Quote) and every other non-numeric
//! value (named string types such as Protocol or LabelSelectorOperator, slices, structs)
//! with encoding/json, which escapes differently; both are reproduced here.

use std::fmt::Write;

/// Go's `strconv.Quote` (what `%q` prints).
///
/// Go decides printability with its Unicode tables (`unicode.IsPrint`); without those
/// tables this treats control characters, every space except U+0020, and the common
/// format and private-use characters as non-printable, which covers what appears in
/// practice (unassigned code points are the remaining difference).
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if go_is_print(c) => out.push(c),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if (c as u32) < 0x10000 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => {
                let _ = write!(out, "\\U{:08x}", c as u32);
            }
        }
    }
    out.push('"');
    out
}

fn go_is_print(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    let u = c as u32;
    let format_or_private = matches!(u,
        0x00AD
        | 0x0600..=0x0605
        | 0x061C
        | 0x06DD
        | 0x070F
        | 0x180E
        | 0x200B..=0x200F
        | 0x202A..=0x202E
        | 0x2060..=0x2064
        | 0x2066..=0x206F
        | 0xD800..=0xDFFF
        | 0xE000..=0xF8FF
        | 0xFEFF
        | 0xFFF9..=0xFFFB
        | 0xFFFE..=0xFFFF
        | 0x110BD
        | 0x1D173..=0x1D17A
        | 0xE0001
        | 0xE0020..=0xE007F
        | 0xF0000..);
    !format_or_private
}

/// A JSON string as Go's `json.Marshal` writes it (HTML-safe escaping included).
pub fn go_json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    push_go_json_string(&mut out, s);
    out
}

pub(crate) fn push_go_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A `[]string`-like value as `json.Marshal` writes it: `["a","b"]`.
pub fn go_json_string_list<S: AsRef<str>>(items: &[S]) -> String {
    let mut out = String::from("[");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_go_json_string(&mut out, item.as_ref());
    }
    out.push(']');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_escapes_like_strconv_quote() {
        assert_eq!(go_quote("plain"), r#""plain""#);
        assert_eq!(go_quote("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(go_quote("tab\there\nnl"), r#""tab\there\nnl""#);
        assert_eq!(go_quote("\u{1}\u{7f}"), r#""\x01\x7f""#);
        assert_eq!(go_quote("é☃"), "\"é☃\"");
        assert_eq!(go_quote("zero\u{200b}width"), r#""zero\u200bwidth""#);
        assert_eq!(go_quote("nbsp\u{a0}"), r#""nbsp\u00a0""#);
        assert_eq!(go_quote("\u{e0001}"), r#""\U000e0001""#);
    }

    #[test]
    fn json_escapes_like_go_encoding_json() {
        assert_eq!(go_json_string("SCTPx"), r#""SCTPx""#);
        assert_eq!(go_json_string("<a&b>"), r#""\u003ca\u0026b\u003e""#);
        assert_eq!(go_json_string("\u{1}\n"), r#""\u0001\n""#);
        assert_eq!(
            go_json_string_list(&["Ingress", "Egress"]),
            r#"["Ingress","Egress"]"#
        );
        assert_eq!(go_json_string_list::<&str>(&[]), "[]");
    }
}
