//! Page sign-in sessions: rows keyed by the SHA-256 of the session id (the id itself lives only
//! in the cookie). Not here: how ids are made or cookies set (`crate::web::session`).

use sqlx::Row;

use super::{Store, StoreError};

/// A live session: who signed in and until when (Unix ms).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SessionRow {
    pub name: String,
    pub role: String,
    /// SHA-256 (hex) of the token that signed in.
    pub token_hash: String,
    pub expires_at: i64,
}

impl Store {
    /// Record a new session; sessions that ended before `now` are cleared on the way.
    pub async fn create_session(&self, id_hash: &str, session: &SessionRow, now: i64) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sessions WHERE expires_at <= $1").bind(now).execute(&self.pool).await?;
        sqlx::query(
            "INSERT INTO sessions (id_hash, name, role, token_hash, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id_hash)
        .bind(&session.name)
        .bind(&session.role)
        .bind(&session.token_hash)
        .bind(now)
        .bind(session.expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The session with this id hash, if it has not ended by `now`.
    pub async fn session(&self, id_hash: &str, now: i64) -> Result<Option<SessionRow>, StoreError> {
        let row = sqlx::query_as::<_, SessionRow>(
            "SELECT name, role, token_hash, expires_at FROM sessions WHERE id_hash = $1 AND expires_at > $2",
        )
        .bind(id_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row)
    }

    /// How many sessions are stored, ended ones included (for tests and diagnostics).
    pub async fn session_count(&self) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM sessions").fetch_one(&self.pool).await?;
        Ok(row.try_get("n")?)
    }

    /// End a session (sign-out); ending one that does not exist is not an error.
    pub async fn delete_session(&self, id_hash: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sessions WHERE id_hash = $1").bind(id_hash).execute(&self.pool).await?;
        Ok(())
    }
}
