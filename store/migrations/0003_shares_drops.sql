-- Share links (files out) and drop links (files in), both without accounts.
-- A link's token is a 256-bit bearer secret and only its SHA-256 is stored.
-- password_hash is an argon2id PHC string, or '' for a link without one.
-- unlock_key is a random per-link HMAC key that signs the cookie a browser
-- gets after entering the password, so the cookie never holds the password.

CREATE TABLE shares (
	id            TEXT    PRIMARY KEY,
	owner_id      TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	token_hash    BLOB    NOT NULL UNIQUE,
	password_hash TEXT    NOT NULL DEFAULT '',
	unlock_key    BLOB    NOT NULL CHECK (length(unlock_key) = 32),
	-- NULL means no limit. downloads never exceeds max_downloads, because
	-- the only statement that raises it checks the limit in its WHERE clause.
	max_downloads INTEGER CHECK (max_downloads IS NULL OR max_downloads > 0),
	downloads     INTEGER NOT NULL DEFAULT 0
	                      CHECK (downloads >= 0 AND (max_downloads IS NULL OR downloads <= max_downloads)),
	created_at    TEXT    NOT NULL,
	expires_at    TEXT    NOT NULL,
	revoked_at    TEXT
) STRICT;

CREATE INDEX shares_owner_created ON shares (owner_id, created_at DESC);

-- Deleting a file removes it from every share that holds it.
CREATE TABLE share_files (
	share_id TEXT    NOT NULL REFERENCES shares (id) ON DELETE CASCADE,
	file_id  TEXT    NOT NULL REFERENCES files (id) ON DELETE CASCADE,
	position INTEGER NOT NULL,
	PRIMARY KEY (share_id, file_id)
) STRICT;

CREATE INDEX share_files_file ON share_files (file_id);

-- One row per counted download. A request that resumes a transfer (a Range
-- that does not start at byte 0) is served only to a client address that
-- has a counted download of the same file here.
CREATE TABLE share_downloads (
	id          INTEGER PRIMARY KEY,
	share_id    TEXT NOT NULL REFERENCES shares (id) ON DELETE CASCADE,
	file_id     TEXT NOT NULL, -- '' for the zip of the whole share
	client_addr TEXT NOT NULL,
	at          TEXT NOT NULL
) STRICT;

CREATE INDEX share_downloads_share_file ON share_downloads (share_id, file_id, client_addr);

CREATE TABLE drops (
	id            TEXT    PRIMARY KEY,
	owner_id      TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	token_hash    BLOB    NOT NULL UNIQUE,
	label         TEXT    NOT NULL CHECK (length(CAST(label AS BLOB)) <= 400),
	password_hash TEXT    NOT NULL DEFAULT '',
	unlock_key    BLOB    NOT NULL CHECK (length(unlock_key) = 32),
	-- NULL means no limit.
	max_files     INTEGER CHECK (max_files IS NULL OR max_files > 0),
	max_bytes     INTEGER CHECK (max_bytes IS NULL OR max_bytes > 0),
	close_after_first_upload INTEGER NOT NULL DEFAULT 0 CHECK (close_after_first_upload IN (0, 1)),
	-- files and bytes include uploads in progress: a slot is reserved before
	-- the body is read and released if the upload fails.
	files         INTEGER NOT NULL DEFAULT 0 CHECK (files >= 0),
	bytes         INTEGER NOT NULL DEFAULT 0 CHECK (bytes >= 0),
	created_at    TEXT    NOT NULL,
	expires_at    TEXT    NOT NULL,
	revoked_at    TEXT
) STRICT;

CREATE INDEX drops_owner_created ON drops (owner_id, created_at DESC);

-- The files that arrived through a drop link. visitor_hash is the SHA-256
-- of the uploading browser's random visitor cookie, so a visitor is shown
-- only their own uploads.
CREATE TABLE drop_uploads (
	file_id       TEXT PRIMARY KEY REFERENCES files (id) ON DELETE CASCADE,
	drop_id       TEXT NOT NULL REFERENCES drops (id) ON DELETE CASCADE,
	visitor_hash  BLOB NOT NULL,
	uploader_name TEXT NOT NULL DEFAULT '',
	note          TEXT NOT NULL DEFAULT '',
	created_at    TEXT NOT NULL
) STRICT;

CREATE INDEX drop_uploads_drop_visitor ON drop_uploads (drop_id, visitor_hash);
CREATE INDEX drop_uploads_created ON drop_uploads (created_at);

-- When each user last saw the notice of new drop arrivals.
CREATE TABLE drop_arrivals_seen (
	user_id TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
	seen_at TEXT NOT NULL
) STRICT;
