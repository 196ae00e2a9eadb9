//! Case severity (PRODUCT.md section 1): 1 when no server of the service serves any more,
//! 2 while a secondary still does; 3 exists for the response targets. Stored as its number.

use std::fmt;

/// How urgent a case is; `One` is the most urgent. Orders by urgency (`One` first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Severity {
    One,
    Two,
    Three,
}

impl Severity {
    pub const ALL: [Severity; 3] = [Severity::One, Severity::Two, Severity::Three];

    /// 1, 2 or 3: the stored number, the metric label, what people read.
    pub const fn number(self) -> i64 {
        match self {
            Severity::One => 1,
            Severity::Two => 2,
            Severity::Three => 3,
        }
    }

    /// The metric label `"1"`, `"2"` or `"3"`.
    pub const fn label(self) -> &'static str {
        match self {
            Severity::One => "1",
            Severity::Two => "2",
            Severity::Three => "3",
        }
    }

    /// The severity stored as `n`.
    pub fn from_number(n: i64) -> Result<Severity, String> {
        Severity::ALL.into_iter().find(|s| s.number() == n).ok_or_else(|| format!("unknown severity {n}"))
    }
}

/// `1`, `2` or `3`.
impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.number())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severities_round_trip_through_their_number() {
        for s in Severity::ALL {
            assert_eq!(Severity::from_number(s.number()), Ok(s));
            assert_eq!(s.label(), s.to_string());
        }
        assert!(Severity::from_number(0).is_err() && Severity::from_number(4).is_err());
        assert!(Severity::One < Severity::Two);
    }
}
