//! Who holds the pager for a role at a given instant. A `[[schedules]]` entry rotates its
//! members in order, one `rotation` each, counted from `start` (before `start` the rotation is
//! extended backwards, so there is always someone). An override (`[[schedules.overrides]]`,
//! or stored through the API) puts its person on the pager instead while it lasts; of several
//! at once, the one that started last wins, and of those the one given last (stored ones after
//! the file's). A role without a schedule or override pages everybody who has that role:
//! better two people woken than none.
//!
//! Pure reads of the configuration and the overrides the caller passes (the stored ones come
//! from the database in the transaction that pages); nothing here is remembered.

use std::time::{Duration, SystemTime};

use crate::config::{Config, Override, Person, Recipient};

/// The file's overrides followed by `stored`: the order [`holders`] breaks ties by.
fn every_override<'a>(config: &'a Config, stored: &'a [Override]) -> impl Iterator<Item = &'a Override> {
    config.schedules.iter().flat_map(|s| s.overrides.iter()).chain(stored)
}

/// The override in force for `role` at `at`, if any. A stored override of someone no longer
/// in the config counts for nothing.
fn override_at<'a>(config: &'a Config, stored: &'a [Override], role: &str, at: SystemTime) -> Option<&'a Override> {
    let known = |o: &&Override| config.people.iter().any(|p| p.id == o.person);
    every_override(config, stored).filter(|o| o.role == role && o.start <= at && at < o.end).filter(known).fold(
        None,
        |best: Option<&Override>, o| match best {
            Some(b) if b.start > o.start => Some(b),
            _ => Some(o),
        },
    )
}

/// The people to page for `role` at `at`.
pub fn holders<'a>(config: &'a Config, stored: &[Override], role: &str, at: SystemTime) -> Vec<&'a Person> {
    let person = |id: &str| config.people.iter().find(|p| p.id == id);
    if let Some(o) = override_at(config, stored, role, at) {
        if let Some(p) = person(&o.person) {
            return vec![p];
        }
    }
    match config.schedules.iter().find(|s| s.role == role) {
        Some(schedule) if !schedule.members.is_empty() => {
            let turn = turn_index(schedule.start, schedule.rotation, at, schedule.members.len());
            person(&schedule.members[turn]).into_iter().collect()
        }
        _ => config.people.iter().filter(|p| p.role == role).collect(),
    }
}

/// The people an escalation recipient stands for at `at`.
pub fn resolve<'a>(config: &'a Config, stored: &[Override], recipient: &Recipient, at: SystemTime) -> Vec<&'a Person> {
    match recipient {
        Recipient::Role(role) => holders(config, stored, role, at),
        Recipient::Person(id) => config.people.iter().filter(|p| &p.id == id).collect(),
    }
}

/// Who holds a role now, until when, and who after them (`GET /api/v1/oncall`).
#[derive(Debug, Clone)]
pub struct Turn<'a> {
    pub role: String,
    pub now: Vec<&'a Person>,
    /// When the pager passes on; `None` when nothing scheduled ever changes it.
    pub until: Option<SystemTime>,
    pub next: Vec<&'a Person>,
    /// The override in force, if the holder is one.
    pub overridden: bool,
}

/// How many changes of the schedule to look through for the next different holder.
const LOOK_AHEAD: usize = 64;

/// The role's turn at `at`.
pub fn turn<'a>(config: &'a Config, stored: &[Override], role: &str, at: SystemTime) -> Turn<'a> {
    let now = holders(config, stored, role, at);
    let ids = |people: &[&Person]| people.iter().map(|p| p.id.clone()).collect::<Vec<_>>();
    let mut until = None;
    let mut next = Vec::new();
    let mut from = at;
    for _ in 0..LOOK_AHEAD {
        let Some(change) = next_change(config, stored, role, from) else { break };
        let then = holders(config, stored, role, change);
        if ids(&then) != ids(&now) {
            until = Some(change);
            next = then;
            break;
        }
        from = change;
    }
    Turn { role: role.to_string(), now, until, next, overridden: override_at(config, stored, role, at).is_some() }
}

/// The first instant after `at` at which the holder of `role` may change: a rotation turn
/// (unless an override holds it, however many turns it covers), or an override starting or
/// ending.
fn next_change(config: &Config, stored: &[Override], role: &str, at: SystemTime) -> Option<SystemTime> {
    let overridden = override_at(config, stored, role, at).is_some();
    let turn = config
        .schedules
        .iter()
        .find(|s| s.role == role && s.members.len() > 1 && !overridden)
        .map(|s| next_turn(s.start, s.rotation, at));
    every_override(config, stored)
        .filter(|o| o.role == role)
        .flat_map(|o| [o.start, o.end])
        .filter(|t| *t > at)
        .chain(turn)
        .min()
}

/// Every role someone can be paged as: those with a schedule, held by a person, or named by
/// an escalation level, sorted.
pub fn roles(config: &Config) -> Vec<String> {
    let mut roles: Vec<String> = config
        .schedules
        .iter()
        .map(|s| s.role.clone())
        .chain(config.people.iter().map(|p| p.role.clone()))
        .chain(config.escalation.iter().flat_map(|level| {
            level.page.iter().filter_map(|r| match r {
                Recipient::Role(role) => Some(role.clone()),
                Recipient::Person(_) => None,
            })
        }))
        .collect();
    roles.sort_unstable();
    roles.dedup();
    roles
}

fn turn_index(start: SystemTime, rotation: Duration, at: SystemTime, members: usize) -> usize {
    let rotation = rotation.as_millis().max(1) as i128;
    elapsed_ms(start, at).div_euclid(rotation).rem_euclid(members as i128) as usize
}

/// The start of the turn after the one holding `at`.
fn next_turn(start: SystemTime, rotation: Duration, at: SystemTime) -> SystemTime {
    let rotation_ms = rotation.as_millis().max(1) as i128;
    let turns = elapsed_ms(start, at).div_euclid(rotation_ms) + 1;
    let offset = turns * rotation_ms;
    let magnitude = Duration::from_millis(u64::try_from(offset.unsigned_abs()).unwrap_or(u64::MAX));
    if offset >= 0 {
        start.checked_add(magnitude).unwrap_or(at)
    } else {
        start.checked_sub(magnitude).unwrap_or(at)
    }
}

/// Milliseconds from `start` to `at`, rounded down (an instant a fraction of a millisecond
/// before `start` is in the turn before it).
fn elapsed_ms(start: SystemTime, at: SystemTime) -> i128 {
    match at.duration_since(start) {
        Ok(d) => d.as_millis() as i128,
        Err(e) => -(e.duration().as_nanos().div_ceil(1_000_000) as i128),
    }
}

#[cfg(test)]
mod tests;
