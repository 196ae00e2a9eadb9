-- Probes and failures per service and UTC day (Unix ms of 00:00), summed from the same deltas
-- as the hourly per-server roll-ups in the same transaction: the uptime bars read one row per
-- service and day, not one per server.
CREATE TABLE service_days (
    customer TEXT NOT NULL,
    service TEXT NOT NULL,
    day BIGINT NOT NULL,
    probes BIGINT NOT NULL,
    failures BIGINT NOT NULL,
    PRIMARY KEY (customer, service, day)
);
CREATE INDEX service_days_by_day ON service_days (day);
