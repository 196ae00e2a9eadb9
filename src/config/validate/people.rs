//! Who gets paged: `[[people]]`, `[[schedules]]` (on-call rotations per role) and
//! `[[escalation]]` levels, including the default policy of the source documents.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use humantime::format_duration;

use super::fields::Checker;
use super::fleet::channel_refs;
use crate::config::defaults;
use crate::config::raw::{RawEscalation, RawPerson, RawSchedule};
use crate::config::{EscalationLevel, Override, Person, Recipient, Schedule};

pub(super) fn people(c: &mut Checker, raw: &[RawPerson], channel_ids: &HashSet<&str>) -> Vec<Person> {
    let mut seen = HashMap::new();
    let mut out = Vec::with_capacity(raw.len());
    for (i, rp) in raw.iter().enumerate() {
        let base = format!("people[{i}]");
        if c.id(&format!("{base}.id"), &rp.id) {
            c.unique(&mut seen, "person", &rp.id, &format!("{base}.id"));
        }
        let name = c.name(&format!("{base}.name"), rp.name.as_deref(), &rp.id);
        // Roles are referenced as `role:NAME` and become the `role` label of `pages_total`.
        c.id(&format!("{base}.role"), &rp.role);
        if let Some(email) = &rp.email {
            c.email(&format!("{base}.email"), email);
        }
        if let Some(phone) = &rp.phone {
            c.phone(&format!("{base}.phone"), phone);
        }
        channel_refs(c, &format!("{base}.channels"), &rp.channels, channel_ids);
        out.push(Person {
            id: rp.id.clone(),
            name,
            role: rp.role.clone(),
            email: rp.email.clone(),
            phone: rp.phone.clone(),
            channels: rp.channels.clone(),
        });
    }
    out
}

/// At most one schedule per role; every member exists and holds that role, so a rotation
/// can never hand the pager to someone outside it.
pub(super) fn schedules(c: &mut Checker, raw: &[RawSchedule], people: &[RawPerson]) -> Vec<Schedule> {
    let mut roles: HashMap<&str, String> = HashMap::new();
    let mut out = Vec::with_capacity(raw.len());
    for (i, rs) in raw.iter().enumerate() {
        let base = format!("schedules[{i}]");
        if c.id(&format!("{base}.role"), &rs.role) {
            match roles.get(rs.role.as_str()) {
                Some(first) => c.error(
                    format!("{base}.role"),
                    format!("second schedule for role {:?} (first at {first})", rs.role),
                ),
                None => _ = roles.insert(&rs.role, base.clone()),
            }
        }
        let rotation = c.duration(&format!("{base}.rotation"), &rs.rotation);
        let start = c.time(&format!("{base}.start"), &rs.start);
        if rs.members.is_empty() {
            c.error(format!("{base}.members"), "must name at least one person");
        }
        for (m, member) in rs.members.iter().enumerate() {
            let path = format!("{base}.members[{m}]");
            match people.iter().find(|p| p.id == *member) {
                None => c.error(path, format!("unknown person {member:?}")),
                Some(p) if p.role != rs.role => {
                    c.error(path, format!("person {member:?} has role {:?}, not {:?}", p.role, rs.role));
                }
                Some(_) => {}
            }
        }
        let mut overrides = Vec::with_capacity(rs.overrides.len());
        for (o, ro) in rs.overrides.iter().enumerate() {
            let path = format!("{base}.overrides[{o}]");
            if !people.iter().any(|p| p.id == ro.person) {
                c.error(format!("{path}.person"), format!("unknown person {:?}", ro.person));
            }
            let (from, to) = (c.time(&format!("{path}.start"), &ro.start), c.time(&format!("{path}.end"), &ro.end));
            if let (Some(from), Some(to)) = (from, to) {
                if to <= from {
                    c.error(format!("{path}.end"), "must be after start");
                }
                overrides.push(Override { role: rs.role.clone(), person: ro.person.clone(), start: from, end: to });
            }
        }
        if let (Some(rotation), Some(start)) = (rotation, start) {
            out.push(Schedule { role: rs.role.clone(), rotation, start, members: rs.members.clone(), overrides });
        }
    }
    out
}

/// The escalation policy. Left out, it is the documents' default: page the operations
/// manager at once, then after `ack_timeout` the VP of operations and call the customer —
/// keeping only the levels whose role someone holds, so a file without people still loads.
pub(super) fn escalation(
    c: &mut Checker,
    raw: Option<&[RawEscalation]>,
    people: &[RawPerson],
    ack_timeout: Duration,
) -> Vec<EscalationLevel> {
    let has_role = |role: &str| people.iter().any(|p| p.role == role);
    let Some(raw) = raw else {
        let first = EscalationLevel {
            after: Duration::ZERO,
            page: vec![Recipient::Role(defaults::OPERATIONS_MANAGER_ROLE.to_string())],
            call_customer: false,
        };
        let second = EscalationLevel {
            after: ack_timeout,
            page: vec![Recipient::Role(defaults::VP_OPERATIONS_ROLE.to_string())],
            call_customer: true,
        };
        return [first, second]
            .into_iter()
            .filter(|level| level.page.iter().all(|r| matches!(r, Recipient::Role(role) if has_role(role))))
            .collect();
    };
    if raw.is_empty() {
        c.error("escalation", "needs at least one level (leave [[escalation]] out for the default policy)");
    }
    let mut out: Vec<EscalationLevel> = Vec::with_capacity(raw.len());
    for (i, level) in raw.iter().enumerate() {
        let base = format!("escalation[{i}]");
        let default_after = if i == 0 { Duration::ZERO } else { ack_timeout };
        let after = match level.after.as_deref() {
            None => default_after,
            Some(text) => escalation_after(c, &format!("{base}.after"), text).unwrap_or(default_after),
        };
        if let Some(previous) = out.last().map(|l| l.after).filter(|previous| after < *previous) {
            let (after, previous) = (format_duration(after), format_duration(previous));
            c.error(
                format!("{base}.after"),
                format!("{after} is earlier than the previous level's {previous}; levels must be in order"),
            );
        }
        if level.page.is_empty() {
            c.error(format!("{base}.page"), "must name at least one recipient (role:NAME or person:ID)");
        }
        let page = level.page.iter().enumerate();
        let page = page.filter_map(|(p, entry)| recipient(c, &format!("{base}.page[{p}]"), entry, people)).collect();
        out.push(EscalationLevel { after, page, call_customer: level.call_customer.unwrap_or(false) });
    }
    out
}

/// `0s` (page at once) or at least the minimum duration.
fn escalation_after(c: &mut Checker, path: &str, text: &str) -> Option<Duration> {
    let d = c.any_duration(path, text)?;
    if d.is_zero() {
        Some(d)
    } else {
        c.duration(path, text)
    }
}

/// `role:NAME` (someone holds that role) or `person:ID` (that person exists).
fn recipient(c: &mut Checker, path: &str, entry: &str, people: &[RawPerson]) -> Option<Recipient> {
    if let Some(role) = entry.strip_prefix("role:") {
        if people.iter().any(|p| p.role == role) {
            return Some(Recipient::Role(role.to_string()));
        }
        c.error(path, format!("no person has role {role:?}"));
    } else if let Some(id) = entry.strip_prefix("person:") {
        if people.iter().any(|p| p.id == id) {
            return Some(Recipient::Person(id.to_string()));
        }
        c.error(path, format!("unknown person {id:?}"));
    } else {
        c.error(path, format!("{entry:?} is neither role:NAME nor person:ID"));
    }
    None
}
