-- The first schema: accounts, sessions, API tokens, stored files and the
-- audit log. Times are UTC text in a fixed-width RFC 3339 form, so they sort
-- as strings.

CREATE TABLE users (
	id            TEXT    PRIMARY KEY,
	username      TEXT    NOT NULL UNIQUE COLLATE NOCASE
	                      CHECK (length(username) BETWEEN 1 AND 64),
	password_hash TEXT    NOT NULL,
	is_admin      INTEGER NOT NULL DEFAULT 0 CHECK (is_admin IN (0, 1)),
	created_at    TEXT    NOT NULL
) STRICT;

CREATE TABLE sessions (
	token_hash  BLOB PRIMARY KEY,
	user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	client_addr TEXT NOT NULL,
	created_at  TEXT NOT NULL,
	expires_at  TEXT NOT NULL
) STRICT;

CREATE INDEX sessions_expires_at ON sessions (expires_at);

CREATE TABLE api_tokens (
	id           TEXT PRIMARY KEY,
	user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	name         TEXT NOT NULL,
	token_hash   BLOB NOT NULL UNIQUE,
	created_at   TEXT NOT NULL,
	last_used_at TEXT
) STRICT;

CREATE TABLE files (
	id           TEXT    PRIMARY KEY,
	owner_id     TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	name         TEXT    NOT NULL CHECK (length(CAST(name AS BLOB)) BETWEEN 1 AND 255),
	size         INTEGER NOT NULL CHECK (size >= 0),
	sha256       TEXT    NOT NULL CHECK (length(sha256) = 64),
	content_type TEXT    NOT NULL,
	status       TEXT    NOT NULL
	                     CHECK (status IN ('pending', 'clean', 'infected', 'unscannable', 'unscanned', 'missing')),
	created_at   TEXT    NOT NULL
) STRICT;

CREATE INDEX files_owner_created ON files (owner_id, created_at DESC);

CREATE TABLE audit_events (
	id          INTEGER PRIMARY KEY,
	at          TEXT NOT NULL,
	actor       TEXT NOT NULL,
	client_addr TEXT NOT NULL,
	action      TEXT NOT NULL,
	target      TEXT NOT NULL,
	outcome     TEXT NOT NULL CHECK (outcome IN ('success', 'failure')),
	detail      TEXT NOT NULL
) STRICT;

CREATE INDEX audit_events_at ON audit_events (at);

-- Small server-wide values, such as the hash of the one-time setup token.
CREATE TABLE settings (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
) STRICT;
