//! `application/x-www-form-urlencoded` bodies as the pages' forms send them, and the
//! percent-encoding used in links and cookie values. Decoding never fails: a broken escape is
//! kept as written and invalid UTF-8 becomes U+FFFD, so bad input reaches validation, not a 500.

/// The fields of a form body, in order.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Form(Vec<(String, String)>);

impl Form {
    pub fn parse(body: &[u8]) -> Form {
        let text = String::from_utf8_lossy(body);
        Form(
            text.split('&')
                .filter(|pair| !pair.is_empty())
                .map(|pair| {
                    let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
                    (decode(name), decode(value))
                })
                .collect(),
        )
    }

    /// The first value of `name`, as sent.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The first value of `name`, trimmed; `None` when absent or blank (an empty form field).
    pub fn text(&self, name: &str) -> Option<String> {
        self.get(name).map(str::trim).filter(|v| !v.is_empty()).map(str::to_string)
    }
}

/// Decode one form component: `+` is a space, `%XX` a byte.
pub fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => match (bytes.get(i + 1).and_then(hex), bytes.get(i + 2).and_then(hex)) {
                (Some(hi), Some(lo)) => {
                    out.push(hi << 4 | lo);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: &u8) -> Option<u8> {
    char::from(*b).to_digit(16).and_then(|d| u8::try_from(d).ok())
}

/// Percent-encode everything but RFC 3986 unreserved characters: safe in a path segment, a
/// query value and a cookie value.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_decode_plus_and_escapes() {
        let form = Form::parse(b"text=hello+world%21+%C3%A9&actor=&x=%zz&flag");
        assert_eq!(form.get("text"), Some("hello world! é"));
        assert_eq!(form.get("actor"), Some(""));
        assert_eq!(form.text("actor"), None);
        assert_eq!(form.get("x"), Some("%zz"));
        assert_eq!(form.get("flag"), Some(""));
        assert_eq!(form.get("missing"), None);
    }

    #[test]
    fn invalid_utf8_does_not_fail() {
        assert_eq!(decode("%FF"), "\u{FFFD}");
        assert_eq!(decode("%"), "%");
    }

    #[test]
    fn encoding_round_trips() {
        let raw = "a b/c?d=e&f;g\"h";
        assert_eq!(encode("FW-000001"), "FW-000001");
        assert_eq!(decode(&encode(raw)), raw);
        assert!(!encode(raw).contains([' ', '/', ';', '"', '&']));
    }
}
