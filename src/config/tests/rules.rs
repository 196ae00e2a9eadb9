//! One test per validation rule: each asserts the exact key path and message an operator
//! sees, because those messages are the interface of a refused file (PRODUCT.md section 4).

use super::*;

#[test]
fn unknown_key_reports_its_path() {
    let text = BASE.replace("target = \"tcp://127.0.0.1:5432\"", "tagret = \"tcp://127.0.0.1:5432\"");
    assert_eq!(
        error(&text),
        "customers[1].services[0].servers[0].tagret: unknown field `tagret`, expected one of `id`, `target`, `role`, \
         `interval`, `retry_interval`, `failure_threshold`, `recovery_threshold`, `timeout`, `expect_status`"
    );
    assert!(error("[sever]\nlisten = \"x\"")
        .starts_with("sever: unknown field `sever`, expected one of `include`, `server`,"));
    assert_eq!(
        error("[probing]\nfailure_threshold = \"ten\""),
        "probing.failure_threshold: invalid type: string \"ten\", expected i64"
    );
    assert_eq!(error("[[customers]]\nname = \"x\"\n"), "customers[0]: missing field `id`");
}

#[test]
fn toml_syntax_error_reports_its_line() {
    let msg = error("[server]\nlisten = = 1\n");
    assert_eq!(msg, "line 2, column 10: invalid string; expected `\"`, `'`");
}

#[test]
fn unsupported_target_scheme() {
    let text = BASE.replace("tcp://127.0.0.1:5432", "ftp://127.0.0.1/x");
    assert_eq!(
        error(&text),
        "customers[1].services[0].servers[0].target: unsupported scheme \"ftp\" (use https://, http://, tcp://host:port or dns://name)"
    );
    assert_eq!(
        error("[guard]\ncanaries = [\"tcp://127.0.0.1\"]"),
        "guard.canaries[0]: tcp target needs a port (tcp://host:port)"
    );
    let text = BASE.replace("id = \"acme-1\"", "id = \"acme-1\"\nrole = \"backup\"");
    assert_eq!(
        error(&text),
        "customers[0].services[0].servers[0].role: unknown role \"backup\" (use primary or secondary)"
    );
}

#[test]
fn duplicate_ids_are_refused() {
    let text = BASE.replace("id = \"globex-1\"", "id = \"acme-1\"");
    assert_eq!(error(&text), "customers[1].services[0].servers[0].id: duplicate server id \"acme-1\" (first at customers[0].services[0].servers[0])");
    let text = base_with("", "[[customers]]\nid = \"acme\"\n");
    assert_eq!(error(&text), "customers[2].id: duplicate customer id \"acme\" (first at customers[0])");
    let text = base_with(
        "",
        "[[customers]]\nid = \"initech\"\n[[customers.services]]\nid = \"x\"\n[[customers.services]]\nid = \"x\"\n",
    );
    assert_eq!(
        error(&text),
        "customers[2].services[1].id: duplicate service id \"x\" (first at customers[2].services[0])"
    );
    let text = base_with("", "[[channels]]\nid = \"ops\"\ntype = \"slack\"\nurl = \"https://hooks.slack.test/x\"\n");
    assert_eq!(error(&text), "channels[1].id: duplicate channel id \"ops\" (first at channels[0])");
    let text = base_with("", "[[people]]\nid = \"alice\"\nrole = \"vp-operations\"\n");
    assert_eq!(error(&text), "people[2].id: duplicate person id \"alice\" (first at people[0])");
    // The same service id in two customers is fine.
    loaded(&BASE.replace("id = \"api\"", "id = \"web\""));
}

#[test]
fn ids_must_be_plain() {
    let text = BASE.replace("id = \"acme\"", "id = \"acme corp\"");
    assert_eq!(
        error(&text),
        "customers[0].id: \"acme corp\" contains ' '; ids may use only letters, digits, '_', '.' and '-'"
    );
    assert_eq!(error(&BASE.replace("id = \"web\"", "id = \"\"")), "customers[0].services[0].id: must not be empty");
    let long = "x".repeat(65);
    let msg = error(&BASE.replace("id = \"acme-1\"", &format!("id = \"{long}\"")));
    assert_eq!(msg, format!("customers[0].services[0].servers[0].id: \"{long}\" is longer than 64 characters"));
}

#[test]
fn dangling_channel_references() {
    let text = BASE.replace("channels = [\"ops\"]", "channels = [\"ops\", \"ops-hook\"]");
    assert_eq!(error(&text), "people[0].channels[1]: unknown channel \"ops-hook\"");
    let text = base_with("[cases]\nfeed = [\"feed\"]", "");
    assert_eq!(error(&text), "cases.feed[0]: unknown channel \"feed\"");
    let text =
        BASE.replace("id = \"globex\"", "id = \"globex\"\ncontacts = [{ name = \"Hank\", channels = [\"sms\"] }]");
    assert_eq!(error(&text), "customers[1].contacts[0].channels[0]: unknown channel \"sms\"");
}

#[test]
fn schedule_members_must_hold_the_role() {
    let schedule =
        "[[schedules]]\nrole = \"operations-manager\"\nrotation = \"1w\"\nstart = \"2026-01-05T09:00:00Z\"\n";
    let text = base_with("", &format!("{schedule}members = [\"alice\", \"victor\", \"zed\"]\n"));
    assert_eq!(
        errors(&text),
        [
            "schedules[0].members[1]: person \"victor\" has role \"vp-operations\", not \"operations-manager\"",
            "schedules[0].members[2]: unknown person \"zed\"",
        ]
    );
    let text = base_with("", &format!("{schedule}members = []\n{schedule}members = [\"alice\"]\n"));
    assert_eq!(
        errors(&text),
        [
            "schedules[0].members: must name at least one person",
            "schedules[1].role: second schedule for role \"operations-manager\" (first at schedules[0])",
        ]
    );
}

#[test]
fn escalation_recipients_must_exist() {
    let text = base_with(
        "",
        "[[escalation]]\npage = [\"role:cto\", \"person:zed\", \"alice\"]\n[[escalation]]\nafter = \"1h\"\npage = []\n",
    );
    assert_eq!(
        errors(&text),
        [
            "escalation[0].page[0]: no person has role \"cto\"",
            "escalation[0].page[1]: unknown person \"zed\"",
            "escalation[0].page[2]: \"alice\" is neither role:NAME nor person:ID",
            "escalation[1].page: must name at least one recipient (role:NAME or person:ID)",
        ]
    );
    let text = base_with("", "[[escalation]]\nafter = \"1h\"\npage = [\"person:alice\"]\n[[escalation]]\nafter = \"30m\"\npage = [\"person:victor\"]\n");
    assert_eq!(
        error(&text),
        "escalation[1].after: 30m is earlier than the previous level's 1h; levels must be in order"
    );
    assert_eq!(
        error(&base_with("escalation = []", "")),
        "escalation: needs at least one level (leave [[escalation]] out for the default policy)"
    );
}

#[test]
fn thresholds_must_be_in_range() {
    assert_eq!(
        error("[probing]\nfailure_threshold = 0"),
        "probing.failure_threshold: must be between 1 and 1000, got 0"
    );
    let text = BASE.replace("id = \"api\"", "id = \"api\"\nrecovery_threshold = 1001");
    assert_eq!(error(&text), "customers[1].services[0].recovery_threshold: must be between 1 and 1000, got 1001");
    assert_eq!(error("[probing]\nmax_concurrency = 0"), "probing.max_concurrency: must be between 1 and 65536, got 0");
    assert_eq!(
        errors("[probing]\nexpect_status = [200, 700]\n[[customers]]\nid = \"a\"\nexpect_status = []"),
        [
            "probing.expect_status[1]: 700 is not an HTTP status (100 to 599)",
            "customers[0].expect_status: must list at least one status (leave it out to accept any 2xx)",
        ]
    );
    assert_eq!(
        error("[guard]\nmax_failing_fraction = 0"),
        "guard.max_failing_fraction: must be greater than 0 and at most 1, got 0"
    );
}

#[test]
fn durations_have_bounds() {
    let text = BASE.replace("id = \"globex-1\"", "id = \"globex-1\"\ntimeout = \"50ms\"");
    assert_eq!(error(&text), "customers[1].services[0].servers[0].timeout: 50ms is below the minimum of 100ms");
    assert_eq!(error("[probing]\ninterval = \"25h\""), "probing.interval: 1day 1h is above the maximum of 1day");
    assert_eq!(
        error("[cases]\nack_timeout = \"2 fortnights\""),
        "cases.ack_timeout: invalid duration \"2 fortnights\": unknown time unit \"fortnights\", supported units: \
         ns, us/µs, ms, sec, min, hours, days, weeks, months, years (and few variations) (write e.g. \"500ms\", \"1m\", \"2h\")"
    );
    // Anything from 100ms up is accepted, so tests can compress time.
    let c = loaded("[probing]\ninterval = \"1s\"\nretry_interval = \"200ms\"\ntimeout = \"100ms\"");
    assert_eq!(c.probing.defaults.timeout, Duration::from_millis(100));
}

#[test]
fn effective_settings_must_be_ordered() {
    // The server's interval is shorter than the inherited retry_interval: blame the server key.
    let text = BASE.replace("id = \"globex-1\"", "id = \"globex-1\"\ninterval = \"30s\"");
    assert_eq!(
        error(&text),
        "customers[1].services[0].servers[0].interval: 30s is shorter than retry_interval 1m (the default); \
         retries must come at least as often as regular checks"
    );
    // A customer-level timeout longer than the fleet retry_interval: reported once, at the customer.
    let text = BASE.replace("id = \"acme\"", "id = \"acme\"\ntimeout = \"2m\"");
    assert_eq!(
        error(&text),
        "customers[0].timeout: 2m is longer than retry_interval 1m (the default); a status request must end before the next one is due"
    );
    assert_eq!(
        error("[probing]\nretry_interval = \"20m\""),
        "probing.retry_interval: 20m is longer than interval 15m (the default); retries must come at least as often as regular checks"
    );
    // A deeper override that restores the order makes the file valid.
    loaded(&BASE.replace("id = \"acme\"", "id = \"acme\"\ntimeout = \"2m\"\nretry_interval = \"5m\""));
}

#[test]
fn times_are_rfc3339_with_a_zone() {
    let window = |start: &str, end: &str| {
        base_with("", &format!("[[maintenance]]\nserver = \"acme-1\"\nstart = {start}\nend = {end}\n"))
    };
    assert_eq!(
        error(&window("\"2026-12-01 02:00\"", "\"2026-12-01T04:00:00Z\"")),
        "maintenance[0].start: \"2026-12-01 02:00\" has no time zone; end it with Z (UTC) or an offset like +01:00"
    );
    assert_eq!(
        error(&window("\"2026-13-01T02:00:00Z\"", "\"2026-12-01T04:00:00Z\"")),
        "maintenance[0].start: \"2026-13-01T02:00:00Z\" is not an RFC 3339 time like 2026-12-01T02:00:00Z \
         (failed to parse two digit integer as month: parameter 'month' is not in the required range of 1..=12)"
    );
    assert_eq!(
        error(&window("\"2026-12-01T04:00:00Z\"", "\"2026-12-01T02:00:00Z\"")),
        "maintenance[0].end: must be after start"
    );
    assert_eq!(
        error(&window("1", "\"2026-12-01T04:00:00Z\"")),
        "maintenance[0].start: expected an RFC 3339 time like \"2026-12-01T02:00:00Z\", got a integer"
    );
    // Offsets are applied, and bare TOML datetimes are accepted too.
    let c = loaded(&window("\"2026-12-01T03:00:00+01:00\"", "2026-12-01T04:00:00Z"));
    assert_eq!(
        (c.maintenance[0].start, c.maintenance[0].end),
        (at("2026-12-01T02:00:00Z"), at("2026-12-01T04:00:00Z"))
    );
    assert_eq!(c.maintenance[0].scope, MaintenanceScope::Server("acme-1".into()));
}

#[test]
fn maintenance_scope_must_exist() {
    let times = "start = \"2026-12-01T02:00:00Z\"\nend = \"2026-12-01T04:00:00Z\"\n";
    let text = base_with(
        "",
        &format!(
            "[[maintenance]]\ncustomer = \"initech\"\n{times}[[maintenance]]\nserver = \"nope\"\n{times}\
             [[maintenance]]\ncustomer = \"acme\"\nserver = \"acme-1\"\n{times}[[maintenance]]\n{times}"
        ),
    );
    assert_eq!(
        errors(&text),
        [
            "maintenance[0].customer: unknown customer \"initech\"",
            "maintenance[1].server: unknown server \"nope\"",
            "maintenance[2]: give either `customer` or `server`, not both",
            "maintenance[3]: missing field `customer` or `server` (what the window covers)",
        ]
    );
}

#[test]
fn secrets_resolve_through_the_lookup() {
    assert_eq!(
        error("[server]\noperator_tokens = [\"env:FIRSTWATCH_OPERATOR_TOKEN\", \"env:NOT_SET\"]"),
        "server.operator_tokens[1]: environment variable NOT_SET is not set"
    );
    let text = BASE.replace("id = \"globex\"", "id = \"globex\"\nstatus_token = \"env:FIRSTWATCH_EMPTY\"");
    assert_eq!(error(&text), "customers[1].status_token: environment variable FIRSTWATCH_EMPTY is empty");
    assert_eq!(
        error("[database]\nurl = \"mysql://root:hunter2@db/fw\""),
        "database.url: must start with sqlite:, postgres:// or postgresql://"
    );
    let c = loaded("[database]\nurl = \"postgres://fw:pw@db.test:5432/firstwatch\"");
    assert_eq!(c.database.url.expose(), "postgres://fw:pw@db.test:5432/firstwatch");
}

#[test]
fn channel_keys_follow_the_type() {
    let channel = |body: &str| format!("[[channels]]\nid = \"x\"\n{body}\n");
    assert_eq!(
        error(&channel("type = \"webhook\"\nurl = \"http://127.0.0.1:9000/\"\nrouting_key = \"k\"")),
        "channels[0].routing_key: not a key of webhook channels (they take url, secret, api_base)"
    );
    assert_eq!(
        error(&channel("type = \"pagerduty\"")),
        "channels[0]: missing field `routing_key` (required for pagerduty channels)"
    );
    assert_eq!(
        error(&channel("type = \"sms\"")),
        "channels[0].type: unknown channel type \"sms\" (use one of webhook, slack, mattermost, pagerduty, email, twilio)"
    );
    assert_eq!(
        errors(&channel("type = \"email\"\nsmtp_url = \"http://mail.test\"\nfrom = \"ops\"")),
        [
            "channels[0].smtp_url: unsupported scheme \"http\" (use smtp:// or smtps://)",
            "channels[0].from: \"ops\" is not an email address",
        ]
    );
    assert_eq!(
        error(&channel("type = \"slack\"\nurl = \"ftp://hooks.slack.test/x\"")),
        "channels[0].url: unsupported scheme \"ftp\" (use http:// or https://)"
    );
    assert_eq!(
        error(&channel("type = \"twilio\"\naccount_sid = \"AC1\"\nauth_token = \"t\"\nfrom = \"5550100\"")),
        "channels[0].from: \"5550100\" is not an E.164 phone number (+ then 6 to 15 digits)"
    );
    let c = loaded(&channel(
        "type = \"twilio\"\naccount_sid = \"AC1\"\nauth_token = \"env:FIRSTWATCH_WEBHOOK_SECRET\"\nfrom = \"+15550100\"\n\
         api_base = \"http://127.0.0.1:9002\"",
    ));
    let ChannelSettings::Twilio(twilio) = &c.channels[0].settings else {
        panic!("a twilio channel, not {:?}", c.channels[0].kind());
    };
    assert_eq!(twilio.auth_token.expose(), "hook-secret");
    assert_eq!(twilio.api_base.as_ref().map(|u| u.as_str()), Some("http://127.0.0.1:9002/"));
}

#[test]
fn addresses_are_checked() {
    let text = BASE.replace("id = \"victor\"", "id = \"victor\"\nemail = \"victor@@x\"\nphone = \"+1 555 0100\"");
    assert_eq!(
        errors(&text),
        [
            "people[1].email: \"victor@@x\" is not an email address",
            "people[1].phone: \"+1 555 0100\" is not an E.164 phone number (+ then 6 to 15 digits)",
        ]
    );
    assert_eq!(
        error("[server]\nlisten = \"localhost:8080\""),
        "server.listen: \"localhost:8080\" is not an ip:port address (e.g. 127.0.0.1:8080 or [::1]:8080)"
    );
    assert_eq!(
        error("[dns]\nservers = [\"127.0.0.1:53\", \"1.1.1.1\"]"),
        "dns.servers[1]: \"1.1.1.1\" is not an ip:port address (e.g. 127.0.0.1:8080 or [::1]:8080)"
    );
}

#[test]
fn several_errors_are_reported_together() {
    let text = BASE
        .replace("tcp://127.0.0.1:5432", "ftp://127.0.0.1/x")
        .replace("id = \"acme-1\"", "id = \"globex-1\"")
        .replace("channels = [\"ops\"]", "channels = [\"pager\"]");
    let text = format!("[probing]\nfailure_threshold = 0\ntimeout = \"50ms\"\n{text}");
    assert_eq!(errors(&text), [
        "probing.failure_threshold: must be between 1 and 1000, got 0",
        "probing.timeout: 50ms is below the minimum of 100ms",
        "people[0].channels[0]: unknown channel \"pager\"",
        "customers[1].services[0].servers[0].id: duplicate server id \"globex-1\" (first at customers[0].services[0].servers[0])",
        "customers[1].services[0].servers[0].target: unsupported scheme \"ftp\" (use https://, http://, tcp://host:port or dns://name)",
    ]);
    let shown = load(&text).err().map(|e| e.to_string()).unwrap_or_default();
    assert_eq!(shown.lines().count(), 5, "{shown}");
}
