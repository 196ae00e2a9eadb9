-- Several instances on one database (PRODUCT.md section 12). Times are Unix ms on the
-- database's clock. A lease is held while `owner` is set and `expires_at` is in the future;
-- `epoch` grows on every take-over, so writes can be fenced against a former owner.

CREATE TABLE shard_leases (
    shard      BIGINT PRIMARY KEY,
    owner      TEXT,
    epoch      BIGINT NOT NULL DEFAULT 0,
    expires_at BIGINT NOT NULL DEFAULT 0
);

-- Singleton work: one row, `leader`.
CREATE TABLE cluster_leases (
    name       TEXT PRIMARY KEY,
    owner      TEXT,
    epoch      BIGINT NOT NULL DEFAULT 0,
    expires_at BIGINT NOT NULL DEFAULT 0
);

-- Live instances, for the fair share (256 / live instances, rounded up).
CREATE TABLE cluster_instances (
    id         TEXT PRIMARY KEY,
    started_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
