//! Case numbers people can say on the phone: `FW-000042`, the database id behind a prefix.

use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CaseNumber(pub i64);

impl fmt::Display for CaseNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FW-{:06}", self.0)
    }
}

impl FromStr for CaseNumber {
    type Err = String;

    /// Accepts `FW-000042`, `fw-42` and `42`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let digits = s.strip_prefix("FW-").or_else(|| s.strip_prefix("fw-")).unwrap_or(s);
        match digits.parse::<i64>() {
            Ok(n) if n > 0 && !digits.starts_with('+') => Ok(CaseNumber(n)),
            _ => Err(format!("not a case number: {s:?} (expected e.g. FW-000042)")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_print_padded_and_parse_leniently() {
        assert_eq!(CaseNumber(42).to_string(), "FW-000042");
        assert_eq!(CaseNumber(1_234_567).to_string(), "FW-1234567");
        assert_eq!("FW-000042".parse(), Ok(CaseNumber(42)));
        assert_eq!("fw-42".parse(), Ok(CaseNumber(42)));
        assert_eq!("42".parse(), Ok(CaseNumber(42)));
        assert!("FW-0".parse::<CaseNumber>().is_err());
        assert!("FW-x".parse::<CaseNumber>().is_err());
        assert!("../etc".parse::<CaseNumber>().is_err());
    }
}
