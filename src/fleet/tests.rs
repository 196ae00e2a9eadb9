//! Unit tests of the fleet: counts in step with every change, marks for the sweep, state
//! carried across a rebuild and across a change of some customers.

use super::*;
use crate::config::Config;

#[test]
fn state_counts_follow_every_update_and_restore() {
    let text = "[[customers]]\nid = \"acme\"\n[[customers.services]]\nid = \"web\"\n\
                [[customers.services.servers]]\nid = \"a\"\ntarget = \"tcp://127.0.0.1:9\"\n\
                [[customers.services.servers]]\nid = \"b\"\ntarget = \"tcp://127.0.0.1:9\"\n";
    let config = Config::from_toml(text, |_| None).unwrap_or_else(|e| panic!("{e}"));
    let fleet = Fleet::new(&config, Vec::new(), 0);
    let counts = |fleet: &Fleet| ServerState::ALL.map(|s| fleet.counts().get(s));
    assert_eq!(counts(&fleet), [2, 0, 0, 0, 0], "both unknown");
    let (a, b) = (&fleet.entry(0).expect("a"), &fleet.entry(1).expect("b"));
    fleet.update(a, |s| s.state = ServerState::Down);
    fleet.update(b, |s| s.state = ServerState::Up);
    fleet.update(b, |s| s.consecutive_failures = 0);
    assert_eq!(counts(&fleet), [0, 1, 0, 1, 0]);
    let mut stored = a.stored();
    stored.state = ServerState::Failing;
    fleet.restore(a, stored);
    assert_eq!(counts(&fleet), [0, 1, 1, 0, 0], "a restore moves the counts too");
}

#[test]
fn a_server_going_down_marks_its_service_for_the_sweep_in_every_generation() {
    let text = "[[customers]]\nid = \"acme\"\n[[customers.services]]\nid = \"web\"\n\
                [[customers.services.servers]]\nid = \"a\"\ntarget = \"tcp://127.0.0.1:9\"\n\
                [[customers.services]]\nid = \"api\"\n\
                [[customers.services.servers]]\nid = \"b\"\ntarget = \"tcp://127.0.0.1:9\"\n";
    let config = Config::from_toml(text, |_| None).unwrap_or_else(|e| panic!("{e}"));
    let marks = |fleet: &Fleet| -> Vec<(String, String)> {
        fleet.attention().take().into_iter().map(|(c, s)| (c.to_string(), s.to_string())).collect()
    };
    let fleet = Fleet::new(&config, Vec::new(), 0);
    assert!(marks(&fleet).is_empty(), "nothing down, nothing to look at");
    let (a, b) = (&fleet.entry(0).expect("a"), &fleet.entry(1).expect("b"));
    fleet.update(b, |s| s.state = ServerState::Failing);
    fleet.update(a, |s| s.state = ServerState::Down);
    fleet.update(a, |s| s.consecutive_failures = 9);
    assert_eq!(marks(&fleet), [("acme".to_string(), "web".to_string())], "once, on the way down");
    assert!(marks(&fleet).is_empty(), "taken");
    let mut stored = b.stored();
    stored.state = ServerState::Down;
    fleet.restore(b, stored.clone());
    assert_eq!(marks(&fleet), [("acme".to_string(), "api".to_string())], "a restore marks too");
    // A rebuild marks every service with a server down; a start from stored statuses too.
    let (next, _) = fleet.rebuild(&config, 5);
    let mut marked = marks(&next);
    marked.sort();
    assert_eq!(marked, [("acme".to_string(), "api".to_string()), ("acme".to_string(), "web".to_string())]);
    let restarted = Fleet::new(&config, vec![stored], 0);
    assert_eq!(marks(&restarted), [("acme".to_string(), "api".to_string())]);
}

#[test]
fn a_rebuild_keeps_unchanged_cells_counts_afresh_on_a_new_target_and_retires_the_removed() {
    let server = |id: &str, port: u16| {
        format!("[[customers.services.servers]]\nid = \"{id}\"\ntarget = \"tcp://127.0.0.1:{port}\"\n")
    };
    let config = |servers: &[String]| {
        let text = format!("[[customers]]\nid = \"acme\"\n[[customers.services]]\nid = \"web\"\n{}", servers.concat());
        Config::from_toml(&text, |_| None).unwrap_or_else(|e| panic!("{e}"))
    };
    let counts = |fleet: &Fleet| ServerState::ALL.map(|s| fleet.counts().get(s));
    let fleet = Fleet::new(&config(&[server("a", 9), server("b", 9), server("c", 9)]), Vec::new(), 0);
    for (i, state) in [ServerState::Down, ServerState::Up, ServerState::Failing].into_iter().enumerate() {
        fleet.update(fleet.entry(i).expect("slot"), |s| {
            s.state = state;
            s.consecutive_failures = 4;
            s.seq = 7;
        });
    }
    // a unchanged, b re-targeted, c removed, d new.
    let (next, changes) = fleet.rebuild(&config(&[server("a", 9), server("b", 10), server("d", 9)]), 5);
    assert_eq!(next.get("d").map(|d| d.status().seq), Some(5), "a new server's seq starts at the clock");
    assert_eq!(next.generation(), 1);
    assert_eq!((changes.added, changes.removed.as_slice()), (1, ["c".to_string()].as_slice()));
    assert_eq!(changes.retargeted.len(), 1);
    let (a, b) = (next.get("a").expect("a"), next.get("b").expect("b"));
    assert!(a.same_cell(fleet.entry(0).expect("a")) && a.status().consecutive_failures == 4, "a keeps its count");
    let fresh = b.status();
    assert_eq!((fresh.state, fresh.consecutive_failures, fresh.seq), (ServerState::Unknown, 0, 8), "b afresh, seq on");
    assert_eq!(counts(&next), [2, 0, 0, 1, 0], "a down; b and d unknown; c no longer counted");
    // The former fleet's cells: a kept one still moves the shared counts, a retired one not.
    fleet.update(fleet.entry(0).expect("a"), |s| s.state = ServerState::Up);
    fleet.update(fleet.entry(2).expect("c"), |s| s.state = ServerState::Up);
    assert_eq!(counts(&next), [2, 1, 0, 0, 0]);
}

fn acme(servers: &[(&str, &str, u16)]) -> String {
    let mut text = String::new();
    let mut last = "";
    for (service, id, port) in servers {
        if *service != last {
            text.push_str(&format!("[[customers.services]]\nid = \"{service}\"\n"));
            last = service;
        }
        text.push_str(&format!("[[customers.services.servers]]\nid = \"{id}\"\ntarget = \"tcp://127.0.0.1:{port}\"\n"));
    }
    text
}

fn two_customers(acme_servers: &[(&str, &str, u16)], globex: bool) -> Config {
    let mut text = String::new();
    if !acme_servers.is_empty() {
        text = format!("[[customers]]\nid = \"acme\"\n{}", acme(acme_servers));
    }
    if globex {
        text.push_str(
            "[[customers]]\nid = \"globex\"\n[[customers.services]]\nid = \"db\"\n\
                       [[customers.services.servers]]\nid = \"g\"\ntarget = \"tcp://127.0.0.1:9\"\n",
        );
    }
    Config::from_toml(&text, |_| None).unwrap_or_else(|e| panic!("{e}"))
}

fn state_counts(counts: &StateCounts) -> [usize; 5] {
    ServerState::ALL.map(|s| counts.get(s))
}

#[test]
fn a_change_keeps_other_slots_and_cells_and_moves_only_what_changed() {
    let before = two_customers(&[("web", "a", 9), ("web", "b", 9), ("api", "c", 9)], true);
    let fleet = Fleet::new(&before, Vec::new(), 0);
    let g = fleet.index_of("g").expect("g");
    for (id, state) in
        [("a", ServerState::Down), ("b", ServerState::Up), ("c", ServerState::Failing), ("g", ServerState::Up)]
    {
        let entry = fleet.get(id).expect("server");
        fleet.update(entry, |s| {
            s.state = state;
            s.seq = 7;
        });
    }
    fleet.attention().take();
    // a kept, b re-targeted, c removed with its service, d new in a new service.
    let after = two_customers(&[("web", "a", 9), ("web", "b", 10), ("db", "d", 9)], true);
    let (next, changes) = fleet.change(&after, &["acme"], 5);
    assert_eq!((next.generation(), next.layout()), (1, 0), "same layout");
    assert_eq!(
        (changes.added, changes.retargeted.len(), changes.removed.as_slice()),
        (1, 1, ["c".to_string()].as_slice())
    );
    assert_eq!(next.index_of("a"), fleet.index_of("a"), "a keeps its slot");
    assert!(next.get("a").expect("a").same_cell(fleet.get("a").expect("a")), "and its cell");
    assert_eq!(next.index_of("g"), Some(g), "another customer's server is not touched");
    assert!(next.get("g").expect("g").same_cell(fleet.get("g").expect("g")));
    let b = next.index_of("b").expect("b");
    assert!(b >= fleet.slots(), "a re-targeted server takes a new slot");
    assert!(next.entry(fleet.index_of("b").expect("old b")).is_none(), "and its former slot is empty");
    assert_eq!(next.get("b").map(|b| b.status().seq), Some(8), "seq goes on");
    assert!(next.get("c").is_none() && next.service_index("acme", "api").is_none(), "c and its service are gone");
    assert_eq!(next.len(), 4);
    assert_eq!(next.slots(), fleet.slots() + 2);
    let web = next.service_index("acme", "web").expect("web");
    assert_eq!(web, fleet.service_index("acme", "web").expect("web"), "a kept service keeps its index");
    assert_eq!(next.members(web).map(|e| e.id.to_string()).collect::<Vec<_>>(), ["a", "b"]);
    let db = next.service_index("acme", "db").expect("new service");
    assert_eq!(next.members(db).map(|e| e.id.to_string()).collect::<Vec<_>>(), ["d"]);
    assert_eq!(next.customer_services("acme").map(|(id, _)| id.to_string()).collect::<Vec<_>>(), ["web", "db"]);
    // Counts: a down and g up stay; b and d unknown; c retired.
    assert_eq!(state_counts(next.counts()), [2, 1, 0, 1, 0]);
    assert_eq!(state_counts(&next.services()[web].counts), [1, 0, 0, 1, 0]);
    assert_eq!(state_counts(&next.services()[db].counts), [1, 0, 0, 0, 0]);
    assert_eq!(next.attention().take().len(), 1, "the service with a down server is marked");
    // The former fleet's cells: a kept one moves the shared counts; a retired one does not.
    fleet.update(fleet.get("a").expect("a"), |s| s.state = ServerState::Up);
    fleet.update(fleet.get("c").expect("c"), |s| s.state = ServerState::Up);
    assert_eq!(state_counts(next.counts()), [2, 2, 0, 0, 0]);
    assert_eq!(state_counts(&next.services()[web].counts), [1, 1, 0, 0, 0]);
    // Removing the customer whole.
    let (gone, changes) = next.change(&two_customers(&[], true), &["acme"], 6);
    assert_eq!(changes.removed.len(), 3);
    assert_eq!((gone.len(), gone.customer_services("acme").count()), (1, 0));
    assert_eq!(state_counts(gone.counts()), [0, 1, 0, 0, 0]);
    assert_eq!(gone.iter().map(|(slot, e)| (slot, e.id.to_string())).collect::<Vec<_>>(), [(g, "g".to_string())]);
}

#[test]
fn a_server_moving_between_changed_customers_keeps_its_cell_and_counts_move_with_it() {
    let fleet = Fleet::new(&two_customers(&[("web", "a", 9), ("web", "g2", 9)], true), Vec::new(), 0);
    fleet.update(fleet.get("g2").expect("g2"), |s| s.state = ServerState::Down);
    let text = format!(
        "[[customers]]\nid = \"acme\"\n{}[[customers]]\nid = \"globex\"\n{}",
        acme(&[("web", "a", 9)]),
        acme(&[("db", "g", 9), ("db", "g2", 9)])
    );
    let config = Config::from_toml(&text, |_| None).unwrap_or_else(|e| panic!("{e}"));
    let (next, changes) = fleet.change(&config, &["acme", "globex"], 5);
    assert!(changes.is_empty(), "{changes:?}");
    let g2 = next.get("g2").expect("g2");
    assert!(g2.same_cell(fleet.get("g2").expect("g2")));
    assert_eq!((&*g2.customer, &*g2.service), ("globex", "db"));
    let db = next.service_index("globex", "db").expect("db");
    let web = next.service_index("acme", "web").expect("web");
    assert_eq!(state_counts(&next.services()[db].counts), [1, 0, 0, 1, 0], "g unknown, g2 down");
    assert_eq!(state_counts(&next.services()[web].counts), [1, 0, 0, 0, 0], "a unknown");
    assert_eq!(next.len(), 3);
}

#[test]
fn many_changes_empty_slots_until_a_change_compacts_into_a_fresh_layout() {
    let servers: Vec<String> = (0..3000).map(|i| format!("s{i}")).collect();
    let all: Vec<(&str, &str, u16)> = servers.iter().map(|id| ("web", id.as_str(), 9)).collect();
    let fleet = Fleet::new(&two_customers(&all, true), Vec::new(), 0);
    // Re-targeting every server empties 3,000 slots: more than a quarter, so a fresh layout.
    let moved: Vec<(&str, &str, u16)> = servers.iter().map(|id| ("web", id.as_str(), 10)).collect();
    let (next, changes) = fleet.change(&two_customers(&moved, true), &["acme"], 5);
    assert_eq!(changes.retargeted.len(), 3000);
    assert_eq!((next.layout(), next.slots(), next.len()), (1, 3001, 3001));
    // A small change stays in the layout.
    let (small, _) = next.change(&two_customers(&moved[..2990], true), &["acme"], 6);
    assert_eq!((small.layout(), small.slots(), small.len()), (1, 3001, 2991));
}
