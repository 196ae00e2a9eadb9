-- Per-server tracking that must survive restarts, plus the history kept of it.
-- Times are Unix milliseconds (UTC); hours are the Unix millisecond of the hour's start.

CREATE TABLE server_status (
    server_id             TEXT PRIMARY KEY,
    state                 TEXT    NOT NULL,
    consecutive_failures  BIGINT  NOT NULL,
    consecutive_successes BIGINT  NOT NULL,
    -- 1 once the failure threshold was reached, until recovery_threshold successes follow.
    confirmed_down        BIGINT  NOT NULL,
    last_error            TEXT,
    last_probe_at         BIGINT,
    state_since           BIGINT  NOT NULL,
    -- Number of results applied so far; a write only lands if it is newer than the row.
    seq                   BIGINT  NOT NULL
);

CREATE TABLE state_changes (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    server_id            TEXT    NOT NULL,
    at                   BIGINT  NOT NULL,
    from_state           TEXT    NOT NULL,
    to_state             TEXT    NOT NULL,
    consecutive_failures BIGINT  NOT NULL,
    error                TEXT
);
CREATE INDEX state_changes_by_server ON state_changes (server_id, at);
CREATE INDEX state_changes_by_time ON state_changes (at);

CREATE TABLE probe_failures (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    server_id   TEXT    NOT NULL,
    at          BIGINT  NOT NULL,
    error       TEXT    NOT NULL,
    duration_ms BIGINT  NOT NULL
);
CREATE INDEX probe_failures_by_server ON probe_failures (server_id, at);
CREATE INDEX probe_failures_by_time ON probe_failures (at);

CREATE TABLE probe_rollups (
    server_id      TEXT   NOT NULL,
    hour           BIGINT NOT NULL,
    probes         BIGINT NOT NULL,
    failures       BIGINT NOT NULL,
    latency_sum_ms BIGINT NOT NULL,
    latency_max_ms BIGINT NOT NULL,
    PRIMARY KEY (server_id, hour)
);
CREATE INDEX probe_rollups_by_hour ON probe_rollups (hour);
