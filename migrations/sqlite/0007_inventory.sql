-- Customers managed through the inventory API (PRODUCT.md section 13), as the JSON body that
-- was PUT (a `[[customers]]` entry). A DELETE keeps the row with no body (a tombstone), so an
-- instance that reads the rows changed since its last look learns of removals too. `version`
-- comes from the one-row counter below, bumped in the same transaction: the row lock orders
-- the commits, so "every row with a version above mine" never misses an earlier commit.
CREATE TABLE inventory_customers (
    id TEXT PRIMARY KEY,
    body TEXT,
    version BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    updated_by TEXT NOT NULL
);
CREATE INDEX inventory_customers_by_version ON inventory_customers (version);
CREATE TABLE inventory_version (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version BIGINT NOT NULL
);
INSERT INTO inventory_version (id, version) VALUES (1, 0);
