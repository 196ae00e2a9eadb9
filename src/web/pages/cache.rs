//! What the pages keep between requests, per running app (no globals): the finished days of the
//! uptime bars, and the rendered operations page for [`RENDERED_TTL`], so a wall of dashboards
//! refreshing at once costs one render a second instead of one per screen.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::uptime;

/// How long a rendered operations page is served again. Well under its 30 s refresh.
pub const RENDERED_TTL: Duration = Duration::from_secs(1);
/// Distinct rendered pages kept (query strings); beyond that the cache starts afresh.
const MAX_RENDERED: usize = 256;

#[derive(Default)]
pub struct PageCache {
    pub(super) uptime: Mutex<Option<uptime::Cached>>,
    rendered: Mutex<HashMap<String, (Instant, String)>>,
}

impl PageCache {
    pub fn new() -> PageCache {
        PageCache::default()
    }

    /// The page rendered for `key` less than [`RENDERED_TTL`] ago, if any.
    pub(super) fn rendered(&self, key: &str) -> Option<String> {
        let rendered = self.rendered.lock().unwrap_or_else(|p| p.into_inner());
        rendered.get(key).filter(|(at, _)| at.elapsed() < RENDERED_TTL).map(|(_, html)| html.clone())
    }

    pub(super) fn keep(&self, key: String, html: String) {
        let mut rendered = self.rendered.lock().unwrap_or_else(|p| p.into_inner());
        if rendered.len() >= MAX_RENDERED {
            rendered.clear();
        }
        rendered.insert(key, (Instant::now(), html));
    }
}
