-- Page sign-ins (PRODUCT.md section 11). The cookie holds a random session id; the database
-- keeps only its SHA-256, so a copy of this table signs nobody in. `name` and `role` are those
-- of the token that signed in, `token_hash` that token's SHA-256: a session ends at
-- `expires_at`, at sign-out, or when its token is no longer in the config.
CREATE TABLE sessions (
    id_hash    TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    role       TEXT NOT NULL,
    token_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);
