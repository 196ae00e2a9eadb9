//! The page shell (one small inline style sheet, optional 30-second refresh) and the pieces
//! several pages share: times as "12 min ago" with the RFC 3339 form in the tooltip, state
//! badges, 90-day uptime bars and pagination links.

use maud::{html, Markup, PreEscaped, DOCTYPE};

use super::form::encode;
use super::summary::{Counts, Row};
use super::uptime::DayTotal;
use crate::clock::rfc3339_ms;
use crate::config::ServerRole;
use crate::domain::{ServerState, Severity};

const CSS: &str = "\
*{box-sizing:border-box}\
body{font:15px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}\
header.top{background:#1d2330;color:#fff;padding:.6rem 1rem;display:flex;flex-wrap:wrap;gap:.4rem 1rem;align-items:center}\
header.top a,header.top button{color:#fff}header.top .brand{font-weight:700;margin-right:auto}\
header.top form{margin:0}header.top button{background:none;border:1px solid #fff6;border-radius:4px;padding:.1rem .5rem}\
main{max-width:72rem;margin:0 auto;padding:1rem}h1{font-size:1.4rem;margin:.2rem 0 .8rem}h2{font-size:1.15rem;margin:1.4rem 0 .5rem}\
h3{font-size:1rem;margin:.2rem 0}a{color:#1b5fc1}\
table{border-collapse:collapse;width:100%;background:#fff;font-size:.92rem}\
th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid #e3e6eb;vertical-align:top}\
th{background:#eef0f3;font-weight:600}.scroll{overflow-x:auto}\
.counts{display:flex;flex-wrap:wrap;gap:.4rem;margin:.3rem 0}\
.count{background:#fff;border:1px solid #dde1e7;border-radius:4px;padding:.15rem .5rem;font-size:.9rem}\
.badge{display:inline-block;border-radius:3px;padding:0 .4rem;font-size:.85rem;font-weight:600;background:#dde1e7}\
.s-up{background:#d3f2dc;color:#14532d}.s-failing{background:#fde9c4;color:#7a4a00}.s-down{background:#fbd0d0;color:#8a1010}\
.s-maintenance{background:#dcdcfb;color:#2a2a7a}.s-unknown{background:#e4e4e4;color:#444}\
.sev-1{background:#8a1010;color:#fff}.sev-2{background:#d97706;color:#fff}.sev-3{background:#64748b;color:#fff}\
.banner{background:#8a1010;color:#fff;padding:.6rem 1rem;border-radius:4px;margin:.5rem 0}\
.ok{background:#d3f2dc;padding:.6rem 1rem;border-radius:4px}\
.customer,.service,.card{background:#fff;border:1px solid #dde1e7;border-radius:6px;padding:.6rem .8rem;margin:.6rem 0}\
.service{border-color:#eceef2;margin:.4rem 0}\
.uptime{display:flex;gap:1px;height:22px;margin:.3rem 0 0}\
.day{flex:1 1 0;min-width:2px;border-radius:1px;background:#d5d8de}\
.u4{background:#22a05a}.u3{background:#8cc152}.u2{background:#f0b429}.u1{background:#e8712b}.u0{background:#c92a2a}\
.muted{color:#667085;font-size:.88rem}.nowrap{white-space:nowrap}td.latest{min-width:16rem}.error{color:#8a1010;font-weight:600}\
.pages{margin:.6rem 0;display:flex;gap:.8rem}\
#actions form{display:inline-block;margin:.2rem .6rem .4rem 0}#actions form.action-note{display:block}\
input,textarea,select,button{font:inherit}input[type=text],input[type=password],textarea{padding:.3rem;max-width:100%}\
textarea{width:100%;min-height:5rem}button{padding:.3rem .8rem;cursor:pointer}\
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;background:#fff;padding:.6rem .8rem;border-radius:6px}\
dl.facts dt{font-weight:600}dl.facts dd{margin:0}\
ol.updates{padding-left:1.2rem}ol.updates li{margin:.3rem 0}\
@media (max-width:40rem){main{padding:.5rem}th,td{padding:.3rem}.hide-narrow{display:none}}";

/// Which navigation a page shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    /// None at all: customer pages and error pages link nowhere else.
    None,
    /// The operator's links; `signed_in` adds the sign-out button, else a sign-in link.
    Operator { signed_in: bool },
}

/// The whole document around `body`. `refresh` reloads the page every 30 seconds.
pub fn page(title: &str, nav: Nav, refresh: bool, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                @if refresh {
                    meta http-equiv="refresh" content="30";
                }
                title { (title) }
                style { (PreEscaped(CSS)) }
            }
            body {
                @if let Nav::Operator { signed_in } = nav {
                    header.top {
                        a.brand href="/" { "firstwatch" }
                        a href="/" { "Overview" }
                        a href="/maintenance" { "Maintenance" }
                        @if signed_in {
                            form method="post" action="/logout" { button #logout type="submit" { "Sign out" } }
                        } @else {
                            a #login-link href="/login" { "Sign in" }
                        }
                    }
                }
                main { (body) }
            }
        }
    }
}

/// "just now", "45s ago", "12m ago", "3h 5m ago"; "in 12m" for the future.
pub fn ago(now: i64, at: i64) -> String {
    let ms = u64::try_from((now - at).abs()).unwrap_or(u64::MAX);
    if ms < 5_000 {
        return "just now".to_string();
    }
    let amount = crate::clock::short_duration(std::time::Duration::from_millis(ms));
    if at > now {
        format!("in {amount}")
    } else {
        format!("{amount} ago")
    }
}

/// A duration in milliseconds for people ("2h 5m").
pub fn span(ms: i64) -> String {
    crate::clock::short_duration(std::time::Duration::from_millis(u64::try_from(ms).unwrap_or(0)))
}

/// A time as relative text, with its RFC 3339 UTC form in `datetime` and the tooltip.
pub fn time(now: i64, at: i64) -> Markup {
    let exact = rfc3339_ms(at);
    html! { time datetime=(exact) title=(exact) { (ago(now, at)) } }
}

/// An optional time; a dash when absent.
pub fn time_opt(now: i64, at: Option<i64>) -> Markup {
    match at {
        Some(at) => time(now, at),
        None => html! { "—" },
    }
}

pub fn state_badge(state: ServerState) -> Markup {
    html! { span class={ "badge s-" (state.as_str()) } { (state.as_str()) } }
}

pub fn severity_badge(severity: Severity) -> Markup {
    html! { span class={ "badge sev-" (severity) } { "Sev " (severity) } }
}

/// One `span.count[data-state]` per state that has servers, worst first.
pub fn state_counts(counts: &Counts) -> Markup {
    html! {
        div.counts {
            @for state in super::summary::WORST_FIRST {
                @let n = counts.get(state);
                @if n > 0 {
                    span.count data-state=(state.as_str()) data-count=(n) { (state_badge(state)) " " (n) }
                }
            }
        }
    }
}

/// A table of servers (`tr.server[data-server][data-state]`). `with_customer` adds a column
/// linking to the operator's per-customer list; customer pages never set it. The last error
/// is shown while the server is failing, not after it answers again.
pub fn server_table(now: i64, rows: &[&Row<'_>], with_customer: bool) -> Markup {
    html! {
        div.scroll {
            table.servers {
                thead { tr {
                    th { "Server" }
                    @if with_customer { th { "Customer / service" } } @else { th { "Service" } }
                    th { "State" } th { "Failures" } th { "Last error" } th { "Last probe" }
                } }
                tbody {
                    @for row in rows {
                        tr.server data-server=(row.entry.id) data-state=(row.status.state.as_str()) {
                            td.nowrap {
                                (row.entry.id)
                                @if row.entry.role == ServerRole::Secondary { " " span.muted { "(secondary)" } }
                            }
                            @if with_customer {
                                td {
                                    a href={ "/?customer=" (encode(&row.entry.customer)) } { (row.entry.customer) }
                                    " / " (row.entry.service)
                                }
                            } @else {
                                td { (row.entry.service) }
                            }
                            td { (state_badge(row.status.state)) }
                            td { (row.status.consecutive_failures) }
                            td {
                                @match row.status.last_error.as_deref() {
                                    Some(error) if row.status.consecutive_failures > 0 => (error),
                                    _ => "—",
                                }
                            }
                            td { (time_opt(now, row.status.last_probe_at)) }
                        }
                    }
                }
            }
        }
    }
}

/// The colour class of a day's uptime.
fn day_class(day: &DayTotal) -> &'static str {
    match day.uptime() {
        None => "nd",
        Some(u) if u >= 99.9 => "u4",
        Some(u) if u >= 99.0 => "u3",
        Some(u) if u >= 95.0 => "u2",
        Some(u) if u >= 80.0 => "u1",
        Some(_) => "u0",
    }
}

/// "2026-11-28: 99.95% up, 2 failures" (percent rounded down, so 100% means no failure).
fn day_title(day_start: i64, day: &DayTotal) -> String {
    let date: String = rfc3339_ms(day_start).chars().take(10).collect();
    match day.uptime() {
        None => format!("{date}: no data"),
        Some(u) => {
            let failures =
                if day.failures == 1 { "1 failure".to_string() } else { format!("{} failures", day.failures) };
            format!("{date}: {:.2}% up, {failures}", (u * 100.0).floor() / 100.0)
        }
    }
}

/// The 90-day bar: one `span.day` per UTC day, oldest first, coloured by uptime.
pub fn uptime_bar(first_day: i64, days: &[DayTotal]) -> Markup {
    html! {
        div.uptime role="img" aria-label=(format!("uptime over the last {} days", days.len())) {
            @for (i, day) in days.iter().enumerate() {
                @let start = first_day + i as i64 * crate::store::views::DAY_MS;
                span class={ "day " (day_class(day)) } title=(day_title(start, day)) {}
            }
        }
        div.muted.uptime-total { (uptime_total(first_day, days)) }
    }
}

/// "99.95% up over 90 days" only when there is data from the first day on; a younger fleet
/// says since when ("… since 2026-12-01 (3 days)", "… today, the first day with data").
fn uptime_total(first_day: i64, days: &[DayTotal]) -> String {
    let total = days.iter().fold(DayTotal::default(), |acc, d| DayTotal {
        probes: acc.probes + d.probes,
        failures: acc.failures + d.failures,
    });
    let (Some(uptime), Some(first)) = (total.uptime(), days.iter().position(|d| d.probes > 0)) else {
        return "no data yet".to_string();
    };
    let percent = format!("{:.2}%", (uptime * 100.0).floor() / 100.0);
    let with_data = days.len() - first;
    if first == 0 {
        format!("{percent} up over {} days", days.len())
    } else if with_data == 1 {
        format!("{percent} up today, the first day with data")
    } else {
        let since: String =
            rfc3339_ms(first_day + first as i64 * crate::store::views::DAY_MS).chars().take(10).collect();
        format!("{percent} up since {since} ({with_data} days with data)")
    }
}

/// "Page 2 of 5" with previous/next links; `link(page)` builds each target.
pub fn pagination(page: usize, pages: usize, link: impl Fn(usize) -> String) -> Markup {
    html! {
        @if pages > 1 {
            nav.pages {
                @if page > 1 {
                    a rel="prev" href=(link(page - 1)) { "← previous" }
                }
                span { "page " (page) " of " (pages) }
                @if page < pages {
                    a rel="next" href=(link(page + 1)) { "next →" }
                }
            }
        }
    }
}

/// How many pages `total` rows make at `per_page` rows a page (at least one).
pub fn page_count(total: usize, per_page: usize) -> usize {
    total.div_ceil(per_page.max(1)).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_times_read_naturally() {
        let now = 10_000_000;
        assert_eq!(ago(now, now - 1_000), "just now");
        assert_eq!(ago(now, now - 45_000), "45s ago");
        assert_eq!(ago(now, now - 12 * 60_000), "12m ago");
        assert_eq!(ago(now, now + 12 * 60_000), "in 12m");
        assert_eq!(span(2 * 3_600_000 + 5 * 60_000), "2h 5m");
    }

    #[test]
    fn day_titles_say_uptime_and_failures() {
        let day = DayTotal { probes: 4000, failures: 2 };
        assert_eq!(day_title(0, &day), "1970-01-01: 99.95% up, 2 failures");
        assert_eq!(day_title(0, &DayTotal::default()), "1970-01-01: no data");
        assert_eq!(day_class(&day), "u4");
        assert_eq!(day_class(&DayTotal { probes: 10, failures: 10 }), "u0");
    }

    #[test]
    fn the_total_says_since_when_there_is_data() {
        let mut days = vec![DayTotal::default(); 90];
        let total = |days: &[DayTotal]| uptime_total(0, days);
        assert_eq!(total(&days), "no data yet");
        days[89] = DayTotal { probes: 100, failures: 1 };
        assert_eq!(total(&days), "99.00% up today, the first day with data");
        days[87] = DayTotal { probes: 100, failures: 0 };
        assert_eq!(total(&days), "99.50% up since 1970-03-29 (3 days with data)", "day 87 from 1970-01-01");
        days[0] = DayTotal { probes: 100, failures: 0 };
        assert_eq!(total(&days), "99.66% up over 90 days");
    }

    #[test]
    fn bars_have_one_span_per_day() {
        let html = uptime_bar(0, &[DayTotal::default(); 90]).into_string();
        assert_eq!(html.matches("class=\"day ").count(), 90);
    }

    #[test]
    fn page_counts_round_up() {
        assert_eq!(page_count(0, 200), 1);
        assert_eq!(page_count(200, 200), 1);
        assert_eq!(page_count(201, 200), 2);
    }
}
