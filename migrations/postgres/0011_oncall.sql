-- On-call (PRODUCT.md section 14). `oncall_overrides`: someone else on the pager for a role
-- from `start_at` to `end_at`, added through the API (those in the config file are not
-- stored); every instance reads them when it pages. `oncall_holders`: who held each
-- scheduled role at the last sweep, so a handover is seen once, from state. `paging_tests`:
-- a test page to a person; its ack tokens are `ack_tokens` rows with `test_id` set (and
-- `case_id` 0). Unacknowledged past the deadline, it is reported once (`reported_at`).
CREATE TABLE oncall_overrides (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    role       TEXT NOT NULL,
    person     TEXT NOT NULL,
    start_at   BIGINT NOT NULL,
    end_at     BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX oncall_overrides_by_end ON oncall_overrides (end_at);

CREATE TABLE oncall_holders (
    role   TEXT PRIMARY KEY,
    person TEXT NOT NULL,
    since  BIGINT NOT NULL
);

CREATE TABLE paging_tests (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    person          TEXT NOT NULL,
    reason          TEXT NOT NULL,
    sent_at         BIGINT NOT NULL,
    deadline        BIGINT NOT NULL,
    acknowledged_at BIGINT,
    acknowledged_via TEXT,
    reported_at     BIGINT
);
CREATE INDEX paging_tests_by_person ON paging_tests (person, id);
CREATE INDEX paging_tests_open ON paging_tests (deadline) WHERE acknowledged_at IS NULL AND reported_at IS NULL;

ALTER TABLE ack_tokens ADD COLUMN test_id BIGINT;
