//! Who holds the pager for a role at a given instant. A `[[schedules]]` entry rotates its
//! members in order, one `rotation` each, counted from `start` (before `start` the rotation is
//! extended backwards, so there is always someone). A role without a schedule pages everybody
//! who has that role: better two people woken than none.

use std::time::{Duration, SystemTime};

use crate::config::{Config, Person, Recipient};

/// The people to page for `role` at `at`.
pub fn holders<'a>(config: &'a Config, role: &str, at: SystemTime) -> Vec<&'a Person> {
    let person = |id: &str| config.people.iter().find(|p| p.id == id);
    match config.schedules.iter().find(|s| s.role == role) {
        Some(schedule) if !schedule.members.is_empty() => {
            let turn = turn_index(schedule.start, schedule.rotation, at, schedule.members.len());
            person(&schedule.members[turn]).into_iter().collect()
        }
        _ => config.people.iter().filter(|p| p.role == role).collect(),
    }
}

/// The people an escalation recipient stands for at `at`, each with the role they are paged as.
pub fn resolve<'a>(config: &'a Config, recipient: &Recipient, at: SystemTime) -> Vec<&'a Person> {
    match recipient {
        Recipient::Role(role) => holders(config, role, at),
        Recipient::Person(id) => config.people.iter().filter(|p| &p.id == id).collect(),
    }
}

fn turn_index(start: SystemTime, rotation: Duration, at: SystemTime, members: usize) -> usize {
    let rotation = rotation.as_millis().max(1) as i128;
    let elapsed = match at.duration_since(start) {
        Ok(d) => d.as_millis() as i128,
        Err(e) => -(e.duration().as_millis() as i128) - 1,
    };
    elapsed.div_euclid(rotation).rem_euclid(members as i128) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    const WEEK: Duration = Duration::from_secs(7 * 24 * 3600);

    #[test]
    fn members_take_turns_of_one_rotation_each() {
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let at = |weeks: u32, extra: u64| start + WEEK * weeks + Duration::from_secs(extra);
        assert_eq!(turn_index(start, WEEK, at(0, 0), 3), 0);
        assert_eq!(turn_index(start, WEEK, at(0, 3600), 3), 0);
        assert_eq!(turn_index(start, WEEK, at(1, 0), 3), 1);
        assert_eq!(turn_index(start, WEEK, at(2, 5), 3), 2);
        assert_eq!(turn_index(start, WEEK, at(3, 5), 3), 0, "wraps around");
        assert_eq!(turn_index(start, WEEK, start - Duration::from_secs(1), 3), 2, "before start: the last member");
    }
}
