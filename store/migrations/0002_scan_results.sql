-- Each verdict keeps the engine and signature version that produced it, so
-- a rescan can pick the files judged by older signatures.
ALTER TABLE files ADD COLUMN scan_engine TEXT NOT NULL DEFAULT '';
ALTER TABLE files ADD COLUMN scan_signatures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE files ADD COLUMN scanned_at TEXT;
ALTER TABLE files ADD COLUMN signature TEXT NOT NULL DEFAULT '';

CREATE INDEX files_status ON files (status);
