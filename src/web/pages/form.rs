//! `application/x-www-form-urlencoded` bodies as the pages' forms send them (`form_urlencoded`),
//! and the percent-encoding used in links (`domain::url_text`). Decoding
//! never fails: a broken escape is kept as written and invalid UTF-8 becomes U+FFFD, so bad
//! input reaches validation, not a 500.

pub use crate::domain::url_text::encode_component as encode;

/// The fields of a form body, in order.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Form(Vec<(String, String)>);

impl Form {
    pub fn parse(body: &[u8]) -> Form {
        Form(form_urlencoded::parse(body).map(|(name, value)| (name.into_owned(), value.into_owned())).collect())
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
        assert_eq!(Form::parse(b"a=%FF&b=%").get("a"), Some("\u{FFFD}"));
        assert_eq!(Form::parse(b"a=%FF&b=%").get("b"), Some("%"));
    }

    #[test]
    fn encoding_round_trips() {
        let raw = "a b/c?d=e&f;g\"h";
        assert_eq!(encode("FW-000001"), "FW-000001");
        assert_eq!(Form::parse(format!("v={}", encode(raw)).as_bytes()).get("v"), Some(raw));
        assert!(!encode(raw).contains([' ', '/', ';', '"', '&']));
    }
}
