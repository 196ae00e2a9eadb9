-- Acknowledgement links (PRODUCT.md section 14): one random token per page or escalation
-- message to a person. Only its SHA-256 is kept. `outbox_key` is the message's idempotency
-- key, so a replayed enqueue makes no second token. A token acknowledges `case_id` as
-- `person` once (`used_at`), and only while the case is active.
CREATE TABLE ack_tokens (
    token_hash TEXT PRIMARY KEY,
    case_id    BIGINT NOT NULL,
    person     TEXT NOT NULL,
    outbox_key TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    used_at    BIGINT
);
CREATE INDEX ack_tokens_by_case ON ack_tokens (case_id);
