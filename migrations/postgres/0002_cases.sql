-- Cases, their timelines, the notification outbox, run-time maintenance windows and the
-- monitor's own flags. Times are Unix milliseconds (UTC).

CREATE TABLE cases (
    id                   BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,   -- shown as FW-000042
    customer             TEXT    NOT NULL,
    service              TEXT    NOT NULL,
    server               TEXT    NOT NULL,                    -- the server whose outage opened it
    severity             BIGINT  NOT NULL,
    status               TEXT    NOT NULL,
    opened_at            BIGINT  NOT NULL,
    updated_at           BIGINT  NOT NULL,
    acknowledged_at      BIGINT,
    acknowledged_by      TEXT,
    recovered_at         BIGINT,
    resolved_at          BIGINT,
    closed_at            BIGINT,
    consecutive_failures BIGINT  NOT NULL,
    last_error           TEXT,
    response_due_at      BIGINT  NOT NULL,
    sla_breached         BIGINT  NOT NULL DEFAULT 0
);
-- At most one case per customer service that is not resolved or closed: two racing engines
-- or a restart can never open a second one.
CREATE UNIQUE INDEX cases_one_open_per_service ON cases (customer, service)
    WHERE status NOT IN ('resolved', 'closed');
CREATE INDEX cases_by_service ON cases (customer, service, id);
CREATE INDEX cases_by_status ON cases (status);

CREATE TABLE case_events (
    id      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    case_id BIGINT  NOT NULL REFERENCES cases (id),
    at      BIGINT  NOT NULL,
    kind    TEXT    NOT NULL,
    actor   TEXT    NOT NULL,
    text    TEXT    NOT NULL
);
CREATE INDEX case_events_by_case ON case_events (case_id, id);

-- One row per message to one recipient through one channel, written in the same transaction
-- as the change that caused it. The worker delivers and marks it; `body` never changes.
CREATE TABLE outbox (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    case_id         BIGINT,
    event           TEXT    NOT NULL,
    channel         TEXT    NOT NULL,
    recipient_kind  TEXT    NOT NULL,
    recipient_id    TEXT    NOT NULL,
    idempotency_key TEXT    NOT NULL UNIQUE,
    body            TEXT    NOT NULL,
    created_at      BIGINT  NOT NULL,
    attempts        BIGINT  NOT NULL DEFAULT 0,
    next_attempt_at BIGINT  NOT NULL,
    delivered_at    BIGINT,
    dead_at         BIGINT,
    last_error      TEXT
);
CREATE INDEX outbox_pending ON outbox (next_attempt_at) WHERE delivered_at IS NULL AND dead_at IS NULL;
CREATE INDEX outbox_by_case ON outbox (case_id);

CREATE TABLE maintenance_windows (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer   TEXT,
    server     TEXT,
    start_at   BIGINT NOT NULL,
    end_at     BIGINT NOT NULL,
    reason     TEXT,
    created_by TEXT   NOT NULL,
    created_at BIGINT NOT NULL
);

-- Small durable flags of the monitor itself (e.g. whether the guard is tripped).
CREATE TABLE monitor_flags (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    since BIGINT NOT NULL
);
