-- A per-user storage quota set by an admin. NULL means the server's
-- --user-quota applies; 0 means this user has no quota.
ALTER TABLE users ADD COLUMN quota_bytes INTEGER CHECK (quota_bytes IS NULL OR quota_bytes >= 0);
