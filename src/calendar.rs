//! Business hours: when the support organisation is "open", and how much open time lies
//! between two instants.
//!
//! Response-time targets for Severity 2 and 3 count only business hours (PRODUCT.md section 2;
//! seed 003: "1, 2, 8 business hours", seed 000: "business days"), so "2 hours" opened on a
//! Friday at 16:00 is due on Monday at 10:00. Severity 1 runs on a 24x7 clock, which is
//! [`BusinessCalendar::always`].
//!
//! Design:
//! - Business hours are *wall-clock* hours in the calendar's time zone: "09:00 to 17:00 in
//!   Europe/Berlin" stays 09:00 to 17:00 local time on both sides of a daylight-saving change.
//!   Each day's window is turned into instants with jiff's zoned conversion (the tz database),
//!   never with hand-written offset maths. A local time that does not exist (inside a DST gap)
//!   is resolved the way RFC 5545 and Temporal do ("compatible": moved forward by the gap), an
//!   ambiguous one (inside a fold) to its earlier instant.
//! - Inside a window, business time is elapsed (real) time: a window in which the clocks jump
//!   holds correspondingly less or more business time.
//! - Everything is pure and works on [`SystemTime`], the type the rest of the crate (and
//!   [`crate::clock::Clock`]) uses; jiff stays an implementation detail of this module and of
//!   configuration loading.
//! - Cost is one small loop step per calendar day spanned, which is nothing for response
//!   targets (hours to days).

use std::time::{Duration, SystemTime};

use jiff::civil::{Date, DateTime, Time};
use jiff::tz::TimeZone;
use jiff::Timestamp;

/// Minutes in a day; also the largest accepted closing time (`24:00`, i.e. midnight at the end
/// of the day).
pub const MINUTES_PER_DAY: u16 = 24 * 60;

/// Why a calendar was refused by [`BusinessCalendar::new`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    #[error("must list at least one business day")]
    NoBusinessDays,
    #[error("{} is not a time of day (00:00 to 24:00)", format_minutes(*.0))]
    TimeOutOfRange(u16),
    #[error("closing time {} must be after opening time {}", format_minutes(*.end), format_minutes(*.start))]
    NotAfterStart { start: u16, end: u16 },
}

/// `HH:MM` for minutes since midnight (`24:00` for the end of the day).
pub fn format_minutes(minutes: u16) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// Opening hours in one time zone: the same window on every business day, except holidays.
///
/// Built only through [`BusinessCalendar::new`] (validated) or [`BusinessCalendar::always`],
/// so every calendar has at least one business day and a non-empty daily window, which is what
/// guarantees that [`BusinessCalendar::add_business_time`] finds an end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusinessCalendar {
    tz: TimeZone,
    /// Monday first, Sunday last.
    days: [bool; 7],
    /// Opening time, minutes since local midnight.
    start: u16,
    /// Closing time, minutes since local midnight (up to `24:00`), after `start`.
    end: u16,
    /// Closed all day; sorted, no duplicates.
    holidays: Vec<Date>,
}

impl BusinessCalendar {
    /// A calendar open from `start` to `end` (minutes since midnight, `end` up to
    /// [`MINUTES_PER_DAY`]) on each day whose flag in `days` (Monday first) is set, in `tz`,
    /// except on `holidays` (in any order; duplicates are harmless).
    pub fn new(
        tz: TimeZone,
        days: [bool; 7],
        start: u16,
        end: u16,
        mut holidays: Vec<Date>,
    ) -> Result<Self, CalendarError> {
        if !days.contains(&true) {
            return Err(CalendarError::NoBusinessDays);
        }
        for minutes in [start, end] {
            if minutes > MINUTES_PER_DAY {
                return Err(CalendarError::TimeOutOfRange(minutes));
            }
        }
        if start >= end {
            return Err(CalendarError::NotAfterStart { start, end });
        }
        holidays.sort_unstable();
        holidays.dedup();
        Ok(BusinessCalendar { tz, days, start, end, holidays })
    }

    /// Open around the clock, every day, no holidays: business time is plain elapsed time.
    /// Severity 1 targets run on this clock (PRODUCT.md section 2).
    pub fn always() -> Self {
        BusinessCalendar { tz: TimeZone::UTC, days: [true; 7], start: 0, end: MINUTES_PER_DAY, holidays: Vec::new() }
    }

    pub fn time_zone(&self) -> &TimeZone {
        &self.tz
    }

    /// Business days, Monday first.
    pub fn days(&self) -> [bool; 7] {
        self.days
    }

    /// Opening time in minutes since local midnight.
    pub fn start_minutes(&self) -> u16 {
        self.start
    }

    /// Closing time in minutes since local midnight (`1440` is midnight at the end of the day).
    pub fn end_minutes(&self) -> u16 {
        self.end
    }

    /// Holidays, sorted.
    pub fn holidays(&self) -> &[Date] {
        &self.holidays
    }

    /// Whether the calendar never closes, so business time is elapsed time (in any zone: the
    /// daily windows then tile time without gaps, whatever the clocks do).
    pub fn is_24x7(&self) -> bool {
        self.days == [true; 7] && self.start == 0 && self.end == MINUTES_PER_DAY && self.holidays.is_empty()
    }

    /// Whether `at` falls inside business hours (opening instant included, closing excluded).
    pub fn is_open(&self, at: SystemTime) -> bool {
        if self.is_24x7() {
            return true;
        }
        let Ok(at) = Timestamp::try_from(at) else {
            return false;
        };
        let date = self.tz.to_datetime(at).date();
        // The previous day's window can reach into this date only when it closes at 24:00 and
        // the clocks jump at midnight; looking at it keeps that corner right.
        [date.yesterday().ok(), Some(date)]
            .into_iter()
            .flatten()
            .filter_map(|d| self.window(d))
            .any(|(open, close)| open <= at && at < close)
    }

    /// The earliest instant by which `d` of business time has passed since `from`.
    ///
    /// Time outside business hours does not count: Friday 16:00 plus 2 hours on a Monday to
    /// Friday 09:00–17:00 calendar is Monday 10:00. Adding zero returns `from` itself. A
    /// result past the year 9999 (or an input outside jiff's range) saturates instead of
    /// panicking.
    pub fn add_business_time(&self, from: SystemTime, d: Duration) -> SystemTime {
        if d.is_zero() {
            return from;
        }
        if self.is_24x7() {
            return from.checked_add(d).unwrap_or_else(end_of_time);
        }
        let Ok(start) = Timestamp::try_from(from) else {
            return from.checked_add(d).unwrap_or_else(end_of_time);
        };
        self.add_to_timestamp(start, d).map_or_else(end_of_time, SystemTime::from)
    }

    /// How much business time lies between `a` and `b`; zero when `b` is not after `a`.
    pub fn business_time_between(&self, a: SystemTime, b: SystemTime) -> Duration {
        if b <= a {
            return Duration::ZERO;
        }
        let elapsed = b.duration_since(a).unwrap_or_default();
        if self.is_24x7() {
            return elapsed;
        }
        let (Ok(a), Ok(b)) = (Timestamp::try_from(a), Timestamp::try_from(b)) else {
            return elapsed;
        };
        let last = self.tz.to_datetime(b).date();
        let mut date = self.tz.to_datetime(a).date();
        date = date.yesterday().unwrap_or(date);
        let mut total = Duration::ZERO;
        while date <= last {
            if let Some((open, close)) = self.window(date) {
                let (from, to) = (open.max(a), close.min(b));
                if from < to {
                    total = total.saturating_add(from.duration_until(to).unsigned_abs());
                }
            }
            match date.tomorrow() {
                Ok(next) => date = next,
                Err(_) => break,
            }
        }
        total
    }

    /// `None` when the calendar runs past jiff's last representable day.
    fn add_to_timestamp(&self, from: Timestamp, d: Duration) -> Option<Timestamp> {
        let mut remaining = d;
        let date = self.tz.to_datetime(from).date();
        let mut date = date.yesterday().unwrap_or(date);
        loop {
            if let Some((open, close)) = self.window(date) {
                let begin = open.max(from);
                if begin < close {
                    let available = begin.duration_until(close).unsigned_abs();
                    if remaining <= available {
                        return begin.checked_add(remaining).ok();
                    }
                    remaining -= available;
                }
            }
            // Terminates: every calendar has a business day each week and finitely many
            // holidays, and `tomorrow` fails at the end of jiff's range.
            date = date.tomorrow().ok()?;
        }
    }

    /// The instants at which `date`'s business hours open and close, or `None` on a closed day.
    /// May be empty (`open >= close`) when both ends fall into a DST gap.
    fn window(&self, date: Date) -> Option<(Timestamp, Timestamp)> {
        let weekday = usize::try_from(date.weekday().to_monday_zero_offset()).ok()?;
        if !self.days.get(weekday).copied().unwrap_or(false) || self.holidays.binary_search(&date).is_ok() {
            return None;
        }
        let open = self.instant(date, self.start)?;
        let close = self.instant(date, self.end)?;
        Some((open, close))
    }

    /// The instant of a wall-clock time on `date` in the calendar's zone; `24:00` is the next
    /// day's midnight.
    fn instant(&self, date: Date, minutes: u16) -> Option<Timestamp> {
        let (date, minutes) = if minutes >= MINUTES_PER_DAY { (date.tomorrow().ok()?, 0) } else { (date, minutes) };
        let hour = i8::try_from(minutes / 60).ok()?;
        let minute = i8::try_from(minutes % 60).ok()?;
        let time = Time::new(hour, minute, 0, 0).ok()?;
        let zoned = DateTime::from_parts(date, time).to_zoned(self.tz.clone()).ok()?;
        Some(zoned.timestamp())
    }
}

/// The latest instant jiff can represent (end of year 9999), where arithmetic saturates.
fn end_of_time() -> SystemTime {
    SystemTime::from(Timestamp::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const WEEKDAYS: [bool; 7] = [true, true, true, true, true, false, false];

    fn hours(h: u64) -> Duration {
        Duration::from_secs(h * 3600)
    }

    /// A UTC instant from RFC 3339.
    fn at(rfc3339: &str) -> SystemTime {
        let ts: Timestamp = rfc3339.parse().expect("test times are valid");
        SystemTime::from(ts)
    }

    /// A local wall-clock time in `tz` (`2026-03-27T16:00`).
    fn local(tz: &str, civil: &str) -> SystemTime {
        let dt: DateTime = civil.parse().expect("test datetimes are valid");
        let zoned = dt.to_zoned(TimeZone::get(tz).expect("known zone")).expect("in range");
        SystemTime::from(zoned.timestamp())
    }

    fn date(text: &str) -> Date {
        text.parse().expect("test dates are valid")
    }

    fn nine_to_five(tz: &str, holidays: Vec<Date>) -> BusinessCalendar {
        let tz = TimeZone::get(tz).expect("known zone");
        BusinessCalendar::new(tz, WEEKDAYS, 9 * 60, 17 * 60, holidays).expect("valid calendar")
    }

    #[test]
    fn friday_afternoon_plus_two_hours_is_monday_morning() {
        let cal = nine_to_five("UTC", vec![]);
        // 2026-03-06 is a Friday.
        let due = cal.add_business_time(at("2026-03-06T16:00:00Z"), hours(2));
        assert_eq!(due, at("2026-03-09T10:00:00Z"));
        assert_eq!(cal.business_time_between(at("2026-03-06T16:00:00Z"), due), hours(2));
    }

    #[test]
    fn ending_exactly_at_closing_time_stays_on_that_day() {
        let cal = nine_to_five("UTC", vec![]);
        assert_eq!(cal.add_business_time(at("2026-03-06T16:00:00Z"), hours(1)), at("2026-03-06T17:00:00Z"));
        assert_eq!(cal.add_business_time(at("2026-03-06T16:00:00Z"), Duration::ZERO), at("2026-03-06T16:00:00Z"));
    }

    #[test]
    fn start_outside_hours_counts_from_next_opening() {
        let cal = nine_to_five("UTC", vec![]);
        // Before opening on a Tuesday.
        assert_eq!(cal.add_business_time(at("2026-03-10T06:30:00Z"), hours(2)), at("2026-03-10T11:00:00Z"));
        // After closing on a Tuesday.
        assert_eq!(cal.add_business_time(at("2026-03-10T20:00:00Z"), hours(2)), at("2026-03-11T11:00:00Z"));
        // On a Saturday.
        assert_eq!(cal.add_business_time(at("2026-03-07T12:00:00Z"), hours(8)), at("2026-03-09T17:00:00Z"));
        // Longer than one business day: 8h Tuesday 13:00 -> Wednesday 13:00.
        assert_eq!(cal.add_business_time(at("2026-03-10T13:00:00Z"), hours(8)), at("2026-03-11T13:00:00Z"));
        assert_eq!(cal.business_time_between(at("2026-03-07T00:00:00Z"), at("2026-03-09T00:00:00Z")), Duration::ZERO);
        assert_eq!(cal.business_time_between(at("2026-03-09T00:00:00Z"), at("2026-03-16T00:00:00Z")), hours(40));
    }

    #[test]
    fn holidays_are_skipped() {
        // 2026-12-24 is a Thursday, 2026-12-25 a Friday.
        let cal = nine_to_five("UTC", vec![date("2026-12-25"), date("2026-12-24"), date("2026-12-25")]);
        assert_eq!(cal.holidays(), [date("2026-12-24"), date("2026-12-25")]);
        let due = cal.add_business_time(at("2026-12-23T16:00:00Z"), hours(2));
        assert_eq!(due, at("2026-12-28T10:00:00Z"));
        assert!(!cal.is_open(at("2026-12-25T12:00:00Z")));
        assert!(cal.is_open(at("2026-12-28T12:00:00Z")));
        assert_eq!(cal.business_time_between(at("2026-12-21T00:00:00Z"), at("2026-12-28T00:00:00Z")), hours(24));
    }

    #[test]
    fn is_open_includes_opening_and_excludes_closing() {
        let cal = nine_to_five("Europe/Berlin", vec![]);
        assert!(cal.is_open(local("Europe/Berlin", "2026-03-10T09:00")));
        assert!(cal.is_open(local("Europe/Berlin", "2026-03-10T16:59")));
        assert!(!cal.is_open(local("Europe/Berlin", "2026-03-10T17:00")));
        assert!(!cal.is_open(local("Europe/Berlin", "2026-03-10T08:59")));
        assert!(!cal.is_open(at("2026-03-10T16:30:00Z")), "17:30 in Berlin");
        assert!(!cal.is_open(local("Europe/Berlin", "2026-03-14T12:00")), "Saturday");
    }

    #[test]
    fn spring_dst_change_keeps_wall_clock_hours() {
        // Berlin switches to summer time on Sunday 2026-03-29 (UTC+1 -> UTC+2).
        let cal = nine_to_five("Europe/Berlin", vec![]);
        let friday = local("Europe/Berlin", "2026-03-27T16:00");
        assert_eq!(friday, at("2026-03-27T15:00:00Z"));
        let due = cal.add_business_time(friday, hours(2));
        assert_eq!(due, local("Europe/Berlin", "2026-03-30T10:00"));
        assert_eq!(due, at("2026-03-30T08:00:00Z"), "10:00 summer time");
        assert!(cal.is_open(at("2026-03-30T07:00:00Z")) && !cal.is_open(at("2026-03-30T06:59:00Z")));
        assert_eq!(cal.business_time_between(friday, due), hours(2));
    }

    #[test]
    fn autumn_dst_change_keeps_wall_clock_hours() {
        // Berlin returns to standard time on Sunday 2026-10-25 (UTC+2 -> UTC+1).
        let cal = nine_to_five("Europe/Berlin", vec![]);
        let friday = local("Europe/Berlin", "2026-10-23T16:00");
        assert_eq!(friday, at("2026-10-23T14:00:00Z"));
        let due = cal.add_business_time(friday, hours(2));
        assert_eq!(due, at("2026-10-26T09:00:00Z"), "10:00 standard time");
        assert_eq!(cal.business_time_between(friday, due), hours(2));
    }

    #[test]
    fn a_window_across_the_clock_change_holds_real_time() {
        let berlin = || TimeZone::get("Europe/Berlin").expect("known zone");
        let sunday_only = [false, false, false, false, false, false, true];
        let all_day = BusinessCalendar::new(berlin(), sunday_only, 0, MINUTES_PER_DAY, vec![]).expect("valid");
        let week = |from: &str, to: &str| all_day.business_time_between(at(from), at(to));
        assert_eq!(week("2026-03-23T00:00:00Z", "2026-04-01T00:00:00Z"), hours(23));
        assert_eq!(week("2026-10-19T00:00:00Z", "2026-10-28T00:00:00Z"), hours(25));
        // 01:00 to 04:00 local on the spring day: the hour 02:00-03:00 does not exist.
        let night = BusinessCalendar::new(berlin(), sunday_only, 60, 240, vec![]).expect("valid");
        let from = local("Europe/Berlin", "2026-03-29T01:00");
        assert_eq!(night.add_business_time(from, hours(2)), local("Europe/Berlin", "2026-03-29T04:00"));
        assert_eq!(night.business_time_between(at("2026-03-28T00:00:00Z"), at("2026-03-30T00:00:00Z")), hours(2));
    }

    #[test]
    fn always_is_plain_addition() {
        let cal = BusinessCalendar::always();
        assert!(cal.is_24x7());
        for (from, d) in [
            (at("2026-03-06T16:00:00Z"), hours(2)),
            (at("2026-03-28T23:30:00Z"), hours(49)),
            (at("2026-10-24T12:00:00Z"), Duration::from_millis(1500)),
        ] {
            assert_eq!(cal.add_business_time(from, d), from + d);
            assert_eq!(cal.business_time_between(from, from + d), d);
            assert!(cal.is_open(from));
        }
        // A 24x7 calendar in a zone with DST is still plain addition.
        let tz = TimeZone::get("Europe/Berlin").expect("known zone");
        let berlin = BusinessCalendar::new(tz, [true; 7], 0, MINUTES_PER_DAY, vec![]).expect("valid");
        let from = at("2026-03-28T12:00:00Z");
        assert_eq!(berlin.add_business_time(from, hours(30)), from + hours(30));
    }

    #[test]
    fn the_loop_and_the_shortcut_agree() {
        // Open around the clock but with a (far-away) holiday: not 24x7, so the day loop runs.
        let cal = BusinessCalendar::new(TimeZone::UTC, [true; 7], 0, MINUTES_PER_DAY, vec![date("2030-01-01")])
            .expect("valid");
        assert!(!cal.is_24x7());
        let from = at("2026-03-06T16:00:00Z");
        assert_eq!(cal.add_business_time(from, hours(100)), from + hours(100));
        assert_eq!(cal.business_time_between(from, from + hours(100)), hours(100));
    }

    #[test]
    fn reversed_or_equal_bounds_hold_no_time() {
        let cal = nine_to_five("UTC", vec![]);
        let t = at("2026-03-10T12:00:00Z");
        assert_eq!(cal.business_time_between(t, t), Duration::ZERO);
        assert_eq!(cal.business_time_between(t + hours(1), t), Duration::ZERO);
    }

    #[test]
    fn huge_durations_saturate_instead_of_panicking() {
        let cal = nine_to_five("UTC", vec![]);
        let from = at("9999-12-30T10:00:00Z");
        assert_eq!(cal.add_business_time(from, hours(48)), end_of_time());
        assert_eq!(BusinessCalendar::always().add_business_time(from, Duration::MAX), end_of_time());
    }

    #[test]
    fn constructor_refuses_broken_calendars() {
        let new = |days, start, end| BusinessCalendar::new(TimeZone::UTC, days, start, end, vec![]);
        assert_eq!(new([false; 7], 540, 1020), Err(CalendarError::NoBusinessDays));
        assert_eq!(new(WEEKDAYS, 1020, 540), Err(CalendarError::NotAfterStart { start: 1020, end: 540 }));
        assert_eq!(new(WEEKDAYS, 540, 540), Err(CalendarError::NotAfterStart { start: 540, end: 540 }));
        assert_eq!(new(WEEKDAYS, 540, 1441), Err(CalendarError::TimeOutOfRange(1441)));
        assert_eq!(
            CalendarError::NotAfterStart { start: 1020, end: 540 }.to_string(),
            "closing time 09:00 must be after opening time 17:00"
        );
        assert!(new(WEEKDAYS, 0, MINUTES_PER_DAY).is_ok());
        assert_eq!(format_minutes(MINUTES_PER_DAY), "24:00");
    }
}
