use super::*;

const WEEK: Duration = Duration::from_secs(7 * 24 * 3600);

fn at(text: &str) -> SystemTime {
    crate::clock::parse_rfc3339(text).expect("a time")
}

fn config(overrides: &str) -> Config {
    let text = format!(
        r#"
[[people]]
id = "alice"
role = "operations-manager"
[[people]]
id = "bob"
role = "operations-manager"
[[people]]
id = "carol"
role = "operations-manager"
[[people]]
id = "victor"
role = "vp-operations"

[[schedules]]
role = "operations-manager"
rotation = "1w"
start = "2026-01-05T09:00:00Z"
members = ["alice", "bob"]
{overrides}
"#
    );
    Config::from_toml(&text, |_| None).expect("a valid config")
}

fn ids(people: &[&Person]) -> Vec<String> {
    people.iter().map(|p| p.id.clone()).collect()
}

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
    assert_eq!(next_turn(start, WEEK, at(0, 5)), at(1, 0));
    assert_eq!(next_turn(start, WEEK, at(1, 0)), at(2, 0), "at a boundary: the one after");
    assert_eq!(next_turn(start, WEEK, start - Duration::from_secs(1)), start);
    // Exactly one rotation before start: the turn before it begins there, and ends at start.
    assert_eq!(turn_index(start, WEEK, start - WEEK, 3), 2);
    assert_eq!(turn_index(start, WEEK, start - WEEK - Duration::from_nanos(1), 3), 1);
    assert_eq!(next_turn(start, WEEK, start - WEEK), start);
}

#[test]
fn an_override_longer_than_many_turns_still_says_until_when_and_who_is_next() {
    let c = config("");
    let role = "operations-manager";
    let stored = [Override {
        role: role.to_string(),
        person: "carol".to_string(),
        start: at("2026-01-06T00:00:00Z"),
        end: at("2027-01-06T00:00:00Z"),
    }];
    let t = turn(&c, &stored, role, at("2026-02-01T00:00:00Z"));
    assert_eq!(ids(&t.now), ["carol"]);
    assert_eq!(t.until, Some(at("2027-01-06T00:00:00Z")), "a year of weekly turns is looked past");
    assert_eq!(t.next.len(), 1);
}

#[test]
fn a_stored_override_of_someone_no_longer_in_the_config_counts_for_nothing() {
    let c = config("");
    let role = "operations-manager";
    let stored = [Override {
        role: role.to_string(),
        person: "gone".to_string(),
        start: at("2026-01-06T00:00:00Z"),
        end: at("2026-01-07T00:00:00Z"),
    }];
    let t = turn(&c, &stored, role, at("2026-01-06T12:00:00Z"));
    assert_eq!((ids(&t.now), t.overridden), (vec!["alice".to_string()], false));
}

#[test]
fn the_turn_says_who_holds_the_pager_until_when_and_who_is_next() {
    let c = config("");
    let monday = at("2026-01-06T10:00:00Z");
    let t = turn(&c, &[], "operations-manager", monday);
    assert_eq!((ids(&t.now), ids(&t.next)), (vec!["alice".to_string()], vec!["bob".to_string()]));
    assert_eq!(t.until, Some(at("2026-01-12T09:00:00Z")));
    assert!(!t.overridden);
    // A role without a schedule: everybody with it, for ever.
    let vp = turn(&c, &[], "vp-operations", monday);
    assert_eq!((ids(&vp.now), vp.until, vp.next.len()), (vec!["victor".to_string()], None, 0));
}

#[test]
fn an_override_puts_its_person_on_the_pager_while_it_lasts_and_the_latest_start_wins() {
    let c = config(
        r#"
[[schedules.overrides]]
person = "carol"
start = "2026-01-06T00:00:00Z"
end = "2026-01-07T00:00:00Z"
"#,
    );
    let role = "operations-manager";
    assert_eq!(ids(&holders(&c, &[], role, at("2026-01-05T23:59:59Z"))), ["alice"]);
    assert_eq!(ids(&holders(&c, &[], role, at("2026-01-06T12:00:00Z"))), ["carol"]);
    assert_eq!(ids(&holders(&c, &[], role, at("2026-01-07T00:00:00Z"))), ["alice"], "the end is not inside");
    let t = turn(&c, &[], role, at("2026-01-06T12:00:00Z"));
    assert!(t.overridden);
    assert_eq!((t.until, ids(&t.next)), (Some(at("2026-01-07T00:00:00Z")), vec!["alice".to_string()]));
    // Before it: alice until the override starts, then carol.
    let before = turn(&c, &[], role, at("2026-01-05T12:00:00Z"));
    assert_eq!((before.until, ids(&before.next)), (Some(at("2026-01-06T00:00:00Z")), vec!["carol".to_string()]));

    // A stored override inside it, starting later, wins while it lasts; the file's resumes.
    let stored = [Override {
        role: role.to_string(),
        person: "victor".to_string(),
        start: at("2026-01-06T06:00:00Z"),
        end: at("2026-01-06T08:00:00Z"),
    }];
    assert_eq!(ids(&holders(&c, &stored, role, at("2026-01-06T07:00:00Z"))), ["victor"]);
    assert_eq!(ids(&holders(&c, &stored, role, at("2026-01-06T09:00:00Z"))), ["carol"]);
    let r = Recipient::Role(role.to_string());
    assert_eq!(ids(&resolve(&c, &stored, &r, at("2026-01-06T07:00:00Z"))), ["victor"]);
}

#[test]
fn roles_are_those_scheduled_held_or_paged() {
    assert_eq!(roles(&config("")), ["operations-manager", "vp-operations"]);
}
