-- Delivery leases on the outbox, and what escalation and customer updates need to survive
-- restarts (their timers are computed from these stored times, never held only in memory).

-- Set by the worker that claims a row; a crashed worker's claim expires and the row is taken
-- again (at-least-once: only the message in flight can be sent twice).
ALTER TABLE outbox ADD COLUMN lease_until BIGINT;
CREATE INDEX outbox_by_recipient ON outbox (channel, recipient_kind, recipient_id, id)
    WHERE delivered_at IS NULL AND dead_at IS NULL;

-- When the case last became Severity 1 (escalation levels count from here), and when the
-- customer last got an update.
ALTER TABLE cases ADD COLUMN severity1_since BIGINT;
ALTER TABLE cases ADD COLUMN last_update_at BIGINT;

-- Escalation levels already fired for a case; the key makes firing a level idempotent.
CREATE TABLE case_escalations (
    case_id  BIGINT NOT NULL REFERENCES cases (id),
    level    BIGINT NOT NULL,
    fired_at BIGINT NOT NULL,
    PRIMARY KEY (case_id, level)
);
