-- When each case row was last written, on the database's clock (Unix ms): the engine's sweep
-- reads only the cases written since its last look, not the latest case of every service.
ALTER TABLE cases ADD COLUMN written_at BIGINT NOT NULL DEFAULT 0;
CREATE INDEX cases_by_written ON cases (written_at);
