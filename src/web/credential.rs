//! Who is calling: a credential's name and [`Role`], from a bearer token (compared in constant
//! time against every configured token) or a session (`session.rs`). What each role may call
//! is in `access.rs`.

use axum::http::header::AUTHORIZATION;
use axum::http::HeaderMap;

use super::AppState;
use crate::config::{token_name, Config, NamedToken};

crate::named_enum! {
    /// What a credential may do; stored by name with a session.
    pub enum Role ("role") {
        Viewer => "viewer",
        Operator => "operator",
    }
}

impl Role {
    /// The configured tokens of this role.
    pub fn tokens(self, config: &Config) -> &[NamedToken] {
        match self {
            Role::Viewer => &config.server.viewer_tokens,
            Role::Operator => &config.server.operator_tokens,
        }
    }
}

/// Who is calling, proven by a token or a session. Handlers behind [`Access::Read`] and
/// [`Access::Write`] take it as `Extension<Credential>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    /// The token's name in the config: the actor of every action taken with it.
    pub name: String,
    pub role: Role,
    /// Signed in through `/login` (the pages then offer to sign out).
    pub session: bool,
}

/// Which name and role `token` belongs to, comparing against every token in constant time.
pub fn of_token(state: &AppState, token: &str) -> Option<(String, Role)> {
    let config = state.config();
    let operator = token_name(&config.server.operator_tokens, token);
    let viewer = token_name(&config.server.viewer_tokens, token);
    operator.map(|n| (n.to_string(), Role::Operator)).or(viewer.map(|n| (n.to_string(), Role::Viewer)))
}

/// The token of an `Authorization: Bearer …` header, if there is one.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty())
}
