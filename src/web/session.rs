//! Page sign-in sessions (PRODUCT.md section 11): `/login` exchanges a token for a random
//! session id (256 bits from the system's generator) that lives only in the `fw_session`
//! cookie; the database keeps its SHA-256, the token's name and role, and when it ends
//! (`[server] session_ttl`). A session whose token was since removed from the config no longer
//! signs anybody in. A session seen live is kept in memory for [`RECHECK`], so a page view
//! costs no database round trip; its expiry is still checked on every request, and a
//! sign-out on another instance takes effect within [`RECHECK`]. Not here: the login form and
//! its rate limit (`pages/login.rs`, `throttle.rs`), or what a credential may do
//! (`access.rs`).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::HeaderMap;

use super::cookies::{clear_cookie, cookie, set_cookie};
use super::credential::{Credential, Role};
use super::AppState;
use crate::store::{SessionRow, StoreError};

pub const SESSION_COOKIE: &str = "fw_session";
/// How long a session read from the database is trusted without reading it again.
pub const RECHECK: Duration = Duration::from_secs(5);
/// Sessions kept in memory at most; beyond that the cache starts afresh.
const MAX_CACHED: usize = 10_000;

/// Live sessions recently read from the database, by id hash.
#[derive(Debug, Default)]
pub struct SessionCache {
    seen: Mutex<HashMap<String, (SessionRow, Instant)>>,
}

impl SessionCache {
    pub fn new() -> SessionCache {
        SessionCache::default()
    }

    fn get(&self, id_hash: &str) -> Option<SessionRow> {
        let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.get(id_hash).filter(|(_, at)| at.elapsed() < RECHECK).map(|(row, _)| row.clone())
    }

    fn keep(&self, id_hash: String, row: SessionRow) {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if seen.len() >= MAX_CACHED {
            seen.clear();
        }
        seen.insert(id_hash, (row, Instant::now()));
    }

    fn forget(&self, id_hash: &str) {
        self.seen.lock().unwrap_or_else(|p| p.into_inner()).remove(id_hash);
    }
}

/// Start a session for `token` (named `name`, of `role`); the `Set-Cookie` value that
/// carries it.
pub async fn start(state: &AppState, name: &str, role: Role, token: &str) -> anyhow::Result<String> {
    let id =
        crate::domain::secret::random_token().ok_or_else(|| anyhow::anyhow!("the system's random generator failed"))?;
    let now = state.clock.now_ms();
    let ttl = state.config().server.session_ttl;
    let expires_at = now.saturating_add(i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX));
    let row =
        SessionRow { name: name.to_string(), role: role.as_str().to_string(), token_hash: hash(token), expires_at };
    state.store.create_session(&hash(&id), &row, now).await?;
    Ok(format!("{}; Max-Age={}", set_cookie(state, SESSION_COOKIE, &id, "Strict", "/"), ttl.as_secs()))
}

/// The signed-in credential of a request's session cookie, if it is live.
pub async fn of_request(state: &AppState, headers: &HeaderMap) -> Result<Option<Credential>, StoreError> {
    let Some(id) = cookie(headers, SESSION_COOKIE).filter(|id| well_formed(id)) else { return Ok(None) };
    let id_hash = hash(&id);
    let now = state.clock.now_ms();
    let row = match state.sessions.get(&id_hash) {
        Some(row) => row,
        None => {
            let Some(row) = state.store.session(&id_hash, now).await? else { return Ok(None) };
            state.sessions.keep(id_hash, row.clone());
            row
        }
    };
    if row.expires_at <= now {
        return Ok(None);
    }
    let Ok(role) = row.role.parse::<Role>() else { return Ok(None) };
    // The token that signed in must still be one of this role's; its name now is the actor.
    let config = state.config();
    let Some(token) = role.tokens(&config).iter().find(|t| hash(t.token.expose()) == row.token_hash) else {
        return Ok(None);
    };
    Ok(Some(Credential { name: token.name.clone(), role, session: true }))
}

/// End the request's session, if any; the `Set-Cookie` value that removes the cookie.
pub async fn end(state: &AppState, headers: &HeaderMap) -> Result<String, StoreError> {
    if let Some(id) = cookie(headers, SESSION_COOKIE) {
        let id_hash = hash(&id);
        state.sessions.forget(&id_hash);
        state.store.delete_session(&id_hash).await?;
        // A request that read the row just before the delete may have cached it again.
        state.sessions.forget(&id_hash);
    }
    Ok(clear_cookie(state, SESSION_COOKIE, "Strict", "/"))
}

/// Whether `id` looks like one of ours (64 hex digits): anything else is refused without a
/// database round trip.
fn well_formed(id: &str) -> bool {
    crate::domain::secret::is_token(id)
}

/// What the database keeps of a session id (and of the token that signed in).
fn hash(id: &str) -> String {
    crate::domain::secret::sha256_hex(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_well_formed_ids_are_looked_up() {
        assert!(well_formed(&"ab12".repeat(16)));
        assert!(!well_formed("guess"));
        assert!(!well_formed(&"zz".repeat(32)));
    }

    #[test]
    fn the_stored_hash_is_not_the_id() {
        let id = "0123abcd";
        assert_eq!(hash(id).len(), 64);
        assert_ne!(hash(id), id);
        assert_eq!(hash(id), hash(id));
        assert_ne!(hash(id), hash("0123abce"));
    }
}
