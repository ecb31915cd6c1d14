-- 0001 initial schema (SQLite). Times are milliseconds since the Unix epoch. Numbered the same
-- for PostgreSQL (migrations/postgres/0001_initial.sql, when that backend arrives).

-- A student exists while it has contacts (SPEC §2.1: a student with none has no record).
CREATE TABLE students (
    user_id    TEXT    NOT NULL PRIMARY KEY,
    admin_term INTEGER NOT NULL CHECK (admin_term BETWEEN 0 AND 4294967295),
    updated_at INTEGER NOT NULL
) STRICT;

-- Contacts in binding order (`position`), one of them the administrator (role 1).
CREATE TABLE contacts (
    user_id  TEXT    NOT NULL REFERENCES students (user_id) ON DELETE CASCADE,
    open_id  TEXT    NOT NULL,
    role     INTEGER NOT NULL CHECK (role IN (0, 1)),
    bound_at INTEGER NOT NULL,
    position INTEGER NOT NULL CHECK (position >= 0),
    PRIMARY KEY (user_id, open_id),
    UNIQUE (user_id, position)
) STRICT, WITHOUT ROWID;
-- At most one administrator per student, enforced by the database itself.
CREATE UNIQUE INDEX contacts_one_admin ON contacts (user_id) WHERE role = 1;
-- The students of a parent, in the list order (bind time, then userId).
CREATE INDEX contacts_by_parent ON contacts (open_id, bound_at, user_id);

-- Contacts the administrator deleted in the current term (SPEC §3.4 row 4b).
CREATE TABLE removals (
    user_id TEXT    NOT NULL REFERENCES students (user_id) ON DELETE CASCADE,
    open_id TEXT    NOT NULL,
    at      INTEGER NOT NULL,
    PRIMARY KEY (user_id, open_id)
) STRICT, WITHOUT ROWID;

-- VoIP consent (scope.voip): a row while granted.
CREATE TABLE consents (
    open_id    TEXT    NOT NULL PRIMARY KEY,
    granted_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- Used face-pay tokens, one unique row each (two admissions of one token cannot both insert).
CREATE TABLE used_tokens (
    token_id   BLOB    NOT NULL PRIMARY KEY CHECK (length(token_id) = 12),
    expires_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX used_tokens_by_expiry ON used_tokens (expires_at);

-- Face-pay devices. The key is shown once; only SHA-256 of its secret part is kept.
CREATE TABLE devices (
    name       TEXT    NOT NULL PRIMARY KEY,
    key_id     TEXT    NOT NULL UNIQUE,
    key_hash   BLOB    NOT NULL CHECK (length(key_hash) = 32),
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
) STRICT;

-- Ticket and face-pay token keyrings (generated at the first migrate, rotated by `keys rotate`).
-- The newest key of a purpose (highest seq) signs; the others verify until pruned.
CREATE TABLE server_keys (
    seq        INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    purpose    TEXT    NOT NULL CHECK (purpose IN ('ticket', 'token')),
    kid        INTEGER NOT NULL CHECK (kid BETWEEN 0 AND 255),
    secret     BLOB    NOT NULL CHECK (length(secret) = 32),
    created_at INTEGER NOT NULL,
    UNIQUE (purpose, kid)
) STRICT;

-- Developer-interface access tokens (WeChat semantics). Looked up by SHA-256 of the token; the
-- stable token's text is kept so the same one can be handed out again.
CREATE TABLE access_tokens (
    token_hash BLOB    NOT NULL PRIMARY KEY CHECK (length(token_hash) = 32),
    kind       TEXT    NOT NULL CHECK (kind IN ('classic', 'stable')),
    app_id     TEXT    NOT NULL,
    token      TEXT,
    issued_at  INTEGER NOT NULL,
    expires_at INTEGER NOT NULL CHECK (expires_at > issued_at),
    retire_at  INTEGER
) STRICT, WITHOUT ROWID;
CREATE INDEX access_tokens_by_app ON access_tokens (app_id, kind, issued_at);

-- Service settings: the key id of the session secret last served with, the clock's high-water
-- mark, and (with --dev only) the generated development credentials.
CREATE TABLE settings (
    name  TEXT NOT NULL PRIMARY KEY,
    value TEXT NOT NULL
) STRICT, WITHOUT ROWID;
