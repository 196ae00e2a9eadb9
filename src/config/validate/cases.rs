//! `[cases]`, with its `[cases.response_targets]` and `[cases.business_hours]` tables.
//!
//! Business hours are parsed here (time zone, day names, `HH:MM`, dates) so that each broken
//! value is reported at its own key; [`BusinessCalendar::new`] then only re-checks invariants
//! that are already known to hold.

use std::collections::HashSet;

use jiff::civil::Date;
use jiff::tz::TimeZone;

use super::fields::Checker;
use super::fleet;
use crate::calendar::{format_minutes, BusinessCalendar, MINUTES_PER_DAY};
use crate::cases::sla::ResponseTargets;
use crate::config::raw::{RawBusinessHours, RawCases, RawResponseTargets};
use crate::config::{defaults, CasesConfig};

/// Day names accepted in `days`, Monday first; full names work too (`monday`).
const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const FULL_DAY_NAMES: [&str; 7] = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];

pub(super) fn cases(c: &mut Checker, raw: &RawCases, channel_ids: &HashSet<&str>) -> CasesConfig {
    fleet::channel_refs(c, "cases.feed", &raw.feed, channel_ids);
    CasesConfig {
        ack_timeout: c.duration_or("cases.ack_timeout", raw.ack_timeout.as_deref(), defaults::ACK_TIMEOUT),
        update_interval: c.duration_or(
            "cases.update_interval",
            raw.update_interval.as_deref(),
            defaults::UPDATE_INTERVAL,
        ),
        reopen_window: c.duration_or("cases.reopen_window", raw.reopen_window.as_deref(), defaults::REOPEN_WINDOW),
        auto_resolve: raw.auto_resolve.unwrap_or(defaults::AUTO_RESOLVE),
        feed: raw.feed.clone(),
        response_targets: response_targets(c, &raw.response_targets, &raw.business_hours),
    }
}

/// `[cases.response_targets]` on the calendar of `[cases.business_hours]`. A broken calendar
/// is replaced by the default one after its errors are recorded (the file is refused anyway).
fn response_targets(c: &mut Checker, raw: &RawResponseTargets, hours: &RawBusinessHours) -> ResponseTargets {
    let mut duration =
        |key: &str, raw: Option<&str>, default| c.duration_or(&format!("cases.response_targets.{key}"), raw, default);
    let severity_1 = duration("severity_1", raw.severity_1.as_deref(), defaults::RESPONSE_SEVERITY_1);
    let severity_2 = duration("severity_2", raw.severity_2.as_deref(), defaults::RESPONSE_SEVERITY_2);
    let severity_3 = duration("severity_3", raw.severity_3.as_deref(), defaults::RESPONSE_SEVERITY_3);
    let calendar = business_hours(c, hours).unwrap_or_else(|| ResponseTargets::default().calendar);
    ResponseTargets { severity_1, severity_2, severity_3, calendar }
}

/// `[cases.business_hours]`: every key checked at its own path; `None` if any is broken.
fn business_hours(c: &mut Checker, raw: &RawBusinessHours) -> Option<BusinessCalendar> {
    const BASE: &str = "cases.business_hours";
    let tz_name = raw.timezone.as_deref().unwrap_or(defaults::BUSINESS_TIMEZONE);
    let tz = TimeZone::get(tz_name)
        .map_err(|_| c.error(format!("{BASE}.timezone"), format!("unknown time zone {tz_name:?}")));
    let days = match raw.days.as_deref() {
        None => Some(defaults::BUSINESS_DAYS),
        Some(list) => days(c, &format!("{BASE}.days"), list),
    };
    let start = match raw.start.as_deref() {
        None => Some(defaults::BUSINESS_START),
        Some(text) => time_of_day(c, &format!("{BASE}.start"), text),
    };
    let end = match raw.end.as_deref() {
        None => Some(defaults::BUSINESS_END),
        Some(text) => time_of_day(c, &format!("{BASE}.end"), text),
    };
    let ordered = match (start, end) {
        (Some(start), Some(end)) if start >= end => {
            c.error(format!("{BASE}.end"), format!("must be after start ({})", format_minutes(start)));
            false
        }
        _ => true,
    };
    let mut holidays = Vec::with_capacity(raw.holidays.len());
    for (i, value) in raw.holidays.iter().enumerate() {
        if let Some(d) = date(c, &format!("{BASE}.holidays[{i}]"), value) {
            holidays.push(d);
        }
    }
    if !ordered || holidays.len() != raw.holidays.len() {
        return None;
    }
    let (tz, days, start, end) = (tz.ok()?, days?, start?, end?);
    BusinessCalendar::new(tz, days, start, end, holidays).map_err(|e| c.error(BASE, e.to_string())).ok()
}

/// A non-empty list of day names, each named once.
fn days(c: &mut Checker, path: &str, list: &[String]) -> Option<[bool; 7]> {
    if list.is_empty() {
        c.error(path, "must list at least one day");
        return None;
    }
    let mut days = [false; 7];
    let mut ok = true;
    for (i, name) in list.iter().enumerate() {
        let lower = name.to_ascii_lowercase();
        let index =
            DAY_NAMES.iter().position(|d| *d == lower).or_else(|| FULL_DAY_NAMES.iter().position(|d| *d == lower));
        match index {
            Some(day) if days[day] => {
                c.error(format!("{path}[{i}]"), format!("{name:?} is listed twice"));
                ok = false;
            }
            Some(day) => days[day] = true,
            None => {
                c.error(format!("{path}[{i}]"), format!("unknown day {name:?} (use {})", DAY_NAMES.join(", ")));
                ok = false;
            }
        }
    }
    ok.then_some(days)
}

/// `HH:MM` (or `H:MM`) from `00:00` to `24:00`, as minutes since midnight.
fn time_of_day(c: &mut Checker, path: &str, raw: &str) -> Option<u16> {
    let parsed = parse_time_of_day(raw);
    if parsed.is_none() {
        c.error(path, format!("{raw:?} is not a time of day like \"09:00\" (HH:MM, 00:00 to 24:00)"));
    }
    parsed
}

fn parse_time_of_day(raw: &str) -> Option<u16> {
    let (h, m) = raw.split_once(':')?;
    let digits = |s: &str, len: std::ops::RangeInclusive<usize>| {
        (len.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse::<u16>().ok()).flatten()
    };
    let (h, m) = (digits(h, 1..=2)?, digits(m, 2..=2)?);
    let minutes = h * 60 + m;
    (m < 60 && minutes <= MINUTES_PER_DAY).then_some(minutes)
}

/// A calendar date: a quoted `"2026-12-25"` or a bare TOML date `2026-12-25`.
fn date(c: &mut Checker, path: &str, raw: &toml::Value) -> Option<Date> {
    let text = match raw {
        toml::Value::String(s) => s.clone(),
        toml::Value::Datetime(dt) if dt.time.is_none() && dt.offset.is_none() => dt.to_string(),
        toml::Value::Datetime(_) => {
            c.error(path, "expected a date like \"2026-12-25\", got a date with a time");
            return None;
        }
        other => {
            c.error(path, format!("expected a date like \"2026-12-25\", got a TOML {}", other.type_str()));
            return None;
        }
    };
    let parsed = parse_date(&text);
    if parsed.is_none() {
        c.error(path, format!("{text:?} is not a date like \"2026-12-25\" (YYYY-MM-DD)"));
    }
    parsed
}

/// Exactly `YYYY-MM-DD`, and a day that exists (no 2026-02-30).
fn parse_date(raw: &str) -> Option<Date> {
    let b = raw.as_bytes();
    let shape = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter().enumerate().all(|(i, ch)| i == 4 || i == 7 || ch.is_ascii_digit());
    if !shape {
        return None;
    }
    let year = raw.get(0..4)?.parse().ok()?;
    let month = raw.get(5..7)?.parse().ok()?;
    let day = raw.get(8..10)?.parse().ok()?;
    Date::new(year, month, day).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_of_day() {
        assert_eq!(parse_time_of_day("09:00"), Some(540));
        assert_eq!(parse_time_of_day("9:30"), Some(570));
        assert_eq!(parse_time_of_day("00:00"), Some(0));
        assert_eq!(parse_time_of_day("24:00"), Some(1440));
        for bad in ["24:01", "25:00", "09:60", "9", "09:0", "009:00", "9am", "09:00:00", "-1:00", "+9:00", ""] {
            assert_eq!(parse_time_of_day(bad), None, "{bad}");
        }
    }

    #[test]
    fn dates() {
        assert_eq!(parse_date("2026-12-25"), "2026-12-25".parse().ok());
        for bad in ["2026-02-30", "2026-13-01", "2026-1-01", "26-12-25", "2026/12/25", "2026-12-25T00:00", "+026-12-25"]
        {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }
}
