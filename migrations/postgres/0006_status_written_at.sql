-- When each status row was last written, on the database's clock (Unix ms): an instance
-- reads only what other instances changed since its last look, not every status.
ALTER TABLE server_status ADD COLUMN written_at BIGINT NOT NULL DEFAULT 0;
CREATE INDEX server_status_by_written ON server_status (written_at);
