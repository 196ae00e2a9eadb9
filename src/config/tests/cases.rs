//! `[cases.response_targets]` and `[cases.business_hours]`: defaults, a full section, and one
//! test per rule with the exact key path and message.

use jiff::tz::TimeZone;

use super::*;
use crate::cases::sla::{response_due, ResponseTargets};

const WEEKDAYS: [bool; 7] = [true, true, true, true, true, false, false];

fn hours(h: u64) -> Duration {
    Duration::from_secs(h * 3600)
}

fn business_hours(keys: &str) -> String {
    format!("[cases.business_hours]\n{keys}\n")
}

#[test]
fn response_targets_default_to_weekdays_nine_to_five_utc() {
    let t = loaded("").cases.response_targets;
    assert_eq!(t, ResponseTargets::default());
    assert_eq!((t.severity_1, t.severity_2, t.severity_3), (hours(1), hours(2), hours(8)));
    assert_eq!(
        (defaults::RESPONSE_SEVERITY_1, defaults::RESPONSE_SEVERITY_2, defaults::RESPONSE_SEVERITY_3),
        (hours(1), hours(2), hours(8))
    );
    let cal = &t.calendar;
    assert_eq!(cal.time_zone(), &TimeZone::get(defaults::BUSINESS_TIMEZONE).expect("known zone"));
    assert_eq!(cal.days(), WEEKDAYS);
    assert_eq!((cal.start_minutes(), cal.end_minutes()), (9 * 60, 17 * 60));
    assert!(cal.holidays().is_empty());
    // An empty table is the same as none.
    assert_eq!(loaded("[cases.response_targets]\n[cases.business_hours]\n").cases.response_targets, t);
}

#[test]
fn full_sections_load_with_their_values() {
    let text = r#"
[cases]
ack_timeout = "2h"

[cases.response_targets]
severity_1 = "30m"
severity_2 = "4h"
severity_3 = "1day"

[cases.business_hours]
timezone = "Europe/Berlin"
days = ["mon", "Tue", "wednesday", "thu", "fri", "sat"]
start = "8:30"
end = "24:00"
holidays = ["2026-12-25", 2026-12-26, "2026-12-25"]
"#;
    let c = loaded(text);
    assert_eq!(c.cases.ack_timeout, hours(2));
    let t = &c.cases.response_targets;
    assert_eq!((t.severity_1, t.severity_2, t.severity_3), (Duration::from_secs(1800), hours(4), hours(24)));
    let cal = &t.calendar;
    assert_eq!(cal.time_zone().iana_name(), Some("Europe/Berlin"));
    assert_eq!(cal.days(), [true, true, true, true, true, true, false]);
    assert_eq!((cal.start_minutes(), cal.end_minutes()), (8 * 60 + 30, 24 * 60));
    let holidays: Vec<String> = cal.holidays().iter().map(ToString::to_string).collect();
    assert_eq!(holidays, ["2026-12-25", "2026-12-26"]);
    // Thursday 2026-12-24 23:00 Berlin (22:00Z), Severity 2: one hour until 24:00, then Friday
    // and Saturday are holidays and Sunday is closed, so the other 3h run from Monday 08:30 to
    // 11:30 (10:30Z).
    assert_eq!(response_due(t, crate::domain::Severity::Two, at("2026-12-24T22:00:00Z")), at("2026-12-28T10:30:00Z"));
    assert_eq!(response_due(t, crate::domain::Severity::One, at("2026-12-24T22:00:00Z")), at("2026-12-24T22:30:00Z"));
}

#[test]
fn example_file_sets_response_targets() {
    let c = loaded(include_str!("../../../config/firstwatch.toml"));
    let t = &c.cases.response_targets;
    assert_eq!((t.severity_1, t.severity_2, t.severity_3), (hours(1), hours(2), hours(8)));
    assert_eq!(t.calendar.time_zone().iana_name(), Some("Europe/Berlin"));
    assert_eq!(t.calendar.days(), WEEKDAYS);
    assert_eq!(t.calendar.holidays().len(), 3);
}

#[test]
fn unknown_keys_are_refused() {
    assert_eq!(
        error("[cases.response_targets]\nseverity_4 = \"1h\""),
        "cases.response_targets.severity_4: unknown field `severity_4`, expected one of `severity_1`, `severity_2`, \
         `severity_3`"
    );
    assert_eq!(
        error(&business_hours("timezone = \"UTC\"\ntz = \"UTC\"")),
        "cases.business_hours.tz: unknown field `tz`, expected one of `timezone`, `days`, `start`, `end`, `holidays`"
    );
    assert!(error("[cases.bussiness_hours]\nstart = \"09:00\"")
        .starts_with("cases.bussiness_hours: unknown field `bussiness_hours`, expected one of"));
    assert_eq!(
        error(&business_hours("days = \"mon\"")),
        "cases.business_hours.days: invalid type: string \"mon\", expected a sequence"
    );
}

#[test]
fn response_targets_must_be_durations_of_at_least_the_minimum() {
    assert_eq!(
        error("[cases.response_targets]\nseverity_2 = \"10ms\""),
        "cases.response_targets.severity_2: 10ms is below the minimum of 100ms"
    );
    assert_eq!(
        error("[cases.response_targets]\nseverity_1 = \"soon\""),
        "cases.response_targets.severity_1: invalid duration \"soon\": expected number at 0 (write e.g. \"500ms\", \
         \"1m\", \"2h\")"
    );
    assert_eq!(
        error("[cases.response_targets]\nseverity_3 = \"0s\""),
        "cases.response_targets.severity_3: 0s is below the minimum of 100ms"
    );
}

#[test]
fn unknown_time_zone() {
    assert_eq!(
        error(&business_hours("timezone = \"Mars/Base\"")),
        "cases.business_hours.timezone: unknown time zone \"Mars/Base\""
    );
    assert_eq!(error(&business_hours("timezone = \"\"")), "cases.business_hours.timezone: unknown time zone \"\"");
}

#[test]
fn bad_days() {
    assert_eq!(
        error(&business_hours("days = [\"mon\", \"fry\"]")),
        "cases.business_hours.days[1]: unknown day \"fry\" (use mon, tue, wed, thu, fri, sat, sun)"
    );
    assert_eq!(
        error(&business_hours("days = [\"mon\", \"tue\", \"Monday\"]")),
        "cases.business_hours.days[2]: \"Monday\" is listed twice"
    );
    assert_eq!(error(&business_hours("days = []")), "cases.business_hours.days: must list at least one day");
}

#[test]
fn bad_times_of_day() {
    assert_eq!(
        error(&business_hours("start = \"9am\"")),
        "cases.business_hours.start: \"9am\" is not a time of day like \"09:00\" (HH:MM, 00:00 to 24:00)"
    );
    assert_eq!(
        error(&business_hours("end = \"25:00\"")),
        "cases.business_hours.end: \"25:00\" is not a time of day like \"09:00\" (HH:MM, 00:00 to 24:00)"
    );
    assert_eq!(
        error(&business_hours("start = \"17:00\"\nend = \"09:00\"")),
        "cases.business_hours.end: must be after start (17:00)"
    );
    assert_eq!(
        error(&business_hours("start = \"09:00\"\nend = \"9:00\"")),
        "cases.business_hours.end: must be after start (09:00)"
    );
    assert_eq!(
        errors(&business_hours("start = \"17:00\"\nend = \"09:00\"\nholidays = [\"2026-12-32\"]")),
        [
            "cases.business_hours.end: must be after start (17:00)",
            "cases.business_hours.holidays[0]: \"2026-12-32\" is not a date like \"2026-12-25\" (YYYY-MM-DD)",
        ]
    );
    // Only `end` written: it must still be after the default start.
    assert_eq!(error(&business_hours("end = \"08:00\"")), "cases.business_hours.end: must be after start (09:00)");
}

#[test]
fn bad_holidays() {
    assert_eq!(
        errors(&business_hours("holidays = [\"2026-02-30\", \"25.12.2026\", 2026-12-25T10:00:00Z, 20261225]")),
        [
            "cases.business_hours.holidays[0]: \"2026-02-30\" is not a date like \"2026-12-25\" (YYYY-MM-DD)",
            "cases.business_hours.holidays[1]: \"25.12.2026\" is not a date like \"2026-12-25\" (YYYY-MM-DD)",
            "cases.business_hours.holidays[2]: expected a date like \"2026-12-25\", got a date with a time",
            "cases.business_hours.holidays[3]: expected a date like \"2026-12-25\", got a TOML integer",
        ]
    );
}

#[test]
fn every_broken_key_is_reported_in_one_pass() {
    let text = "[cases.response_targets]\nseverity_1 = \"1ms\"\n\
                [cases.business_hours]\ntimezone = \"Mars/Base\"\ndays = [\"someday\"]\nstart = \"noon\"\n\
                holidays = [\"tomorrow\"]\n";
    assert_eq!(
        errors(text),
        [
            "cases.response_targets.severity_1: 1ms is below the minimum of 100ms",
            "cases.business_hours.timezone: unknown time zone \"Mars/Base\"",
            "cases.business_hours.days[0]: unknown day \"someday\" (use mon, tue, wed, thu, fri, sat, sun)",
            "cases.business_hours.start: \"noon\" is not a time of day like \"09:00\" (HH:MM, 00:00 to 24:00)",
            "cases.business_hours.holidays[0]: \"tomorrow\" is not a date like \"2026-12-25\" (YYYY-MM-DD)",
        ]
    );
}
