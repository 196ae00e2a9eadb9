//! What the pages keep between requests, per running app (no globals): the finished days of the
//! uptime bars, and the rendered operations page for [`RENDERED_TTL`], so a wall of dashboards
//! refreshing at once costs one render a second instead of one per screen. A page older than
//! that but younger than [`STALE_TTL`] is served when a fresh render (one request's at a time)
//! does not finish within 15 ms; the render goes on in the background (the
//! page's "Updated" line says how old it is): a render takes a few milliseconds even with a
//! million servers, but a slow database read should not make a viewer wait.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::uptime;

/// How long a rendered operations page is served again. Well under its 30 s refresh.
pub const RENDERED_TTL: Duration = Duration::from_secs(1);
/// How long a rendered page may be served while a fresh one is made.
pub const STALE_TTL: Duration = Duration::from_secs(60);
/// A background render not kept within this long is taken to have failed.
const RENDER_GIVE_UP: Duration = Duration::from_secs(30);
/// Distinct rendered pages kept (query strings); beyond that the cache starts afresh.
const MAX_RENDERED: usize = 256;

/// When a page was rendered, the page, and since when a fresh render is under way.
type Rendered = (Instant, String, Option<Instant>);

/// What [`PageCache::lookup`] found.
pub(super) enum Lookup {
    Fresh(String),
    Stale { html: String, renew: bool },
}

#[derive(Default)]
pub struct PageCache {
    pub(super) uptime: Mutex<Option<uptime::Cached>>,
    /// Per key: when it was rendered, the page, and since when a fresh render is under way.
    rendered: Mutex<HashMap<String, Rendered>>,
}

impl PageCache {
    pub fn new() -> PageCache {
        PageCache::default()
    }

    /// The page rendered for `key`: fresh, stale (and whether the caller is the one to render it
    /// afresh: only one request per key at a time), or none worth serving.
    pub(super) fn lookup(&self, key: &str) -> Option<Lookup> {
        self.lookup_at(key, Instant::now())
    }

    fn lookup_at(&self, key: &str, now: Instant) -> Option<Lookup> {
        let mut rendered = self.rendered.lock().unwrap_or_else(|p| p.into_inner());
        let (at, html, renewing) = rendered.get_mut(key)?;
        let age = now.saturating_duration_since(*at);
        if age < RENDERED_TTL {
            return Some(Lookup::Fresh(html.clone()));
        }
        if age >= STALE_TTL {
            return None;
        }
        // A render started long ago and never kept (it failed) is started again.
        let renew = renewing.is_none_or(|since| now.saturating_duration_since(since) > RENDER_GIVE_UP);
        if renew {
            *renewing = Some(now);
        }
        Some(Lookup::Stale { html: html.clone(), renew })
    }

    pub(super) fn keep(&self, key: String, html: String) {
        let mut rendered = self.rendered.lock().unwrap_or_else(|p| p.into_inner());
        if rendered.len() >= MAX_RENDERED {
            rendered.clear();
        }
        rendered.insert(key, (Instant::now(), html, None));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn what(found: Option<Lookup>) -> Option<(String, Option<bool>)> {
        found.map(|l| match l {
            Lookup::Fresh(html) => (html, None),
            Lookup::Stale { html, renew } => (html, Some(renew)),
        })
    }

    #[test]
    fn a_stale_page_is_served_while_one_request_renders_it_afresh() {
        let cache = PageCache::new();
        let start = Instant::now();
        assert!(cache.lookup_at("k", start).is_none(), "nothing yet: render inline");
        cache.keep("k".into(), "v1".into());
        assert_eq!(what(cache.lookup_at("k", start)), Some(("v1".into(), None)), "fresh");
        let later = start + RENDERED_TTL + Duration::from_millis(10);
        assert_eq!(what(cache.lookup_at("k", later)), Some(("v1".into(), Some(true))), "stale: renew it");
        assert_eq!(what(cache.lookup_at("k", later)), Some(("v1".into(), Some(false))), "one renewal at a time");
        let given_up = later + RENDER_GIVE_UP + Duration::from_secs(1);
        assert_eq!(what(cache.lookup_at("k", given_up)), Some(("v1".into(), Some(true))), "a lost renewal is redone");
        assert!(cache.lookup_at("k", start + STALE_TTL + Duration::from_secs(1)).is_none(), "too old to serve");
        cache.keep("k".into(), "v2".into());
        assert_eq!(what(cache.lookup_at("k", Instant::now())), Some(("v2".into(), None)), "the fresh page kept");
    }
}
