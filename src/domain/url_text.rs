//! Percent-encoding of one URL component (path segment, query value) or cookie value: every
//! byte but RFC 3986's unreserved characters is escaped. Shared by the pages' links and cookies
//! and the links in notifications.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

const RESERVED: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// `s` percent-encoded for any URL component or cookie value.
pub fn encode_component(s: &str) -> String {
    utf8_percent_encode(s, RESERVED).to_string()
}
