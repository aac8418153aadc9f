-- +goose Up
-- Users, sessions, refresh tokens and the session timeline.
--
-- Times are INTEGER unix milliseconds, UTC. Tables are STRICT so a time can
-- never sneak in as text. Deleting a session deletes its tokens and events
-- (ON DELETE CASCADE; the connection turns foreign_keys on).

CREATE TABLE users (
    id            TEXT    PRIMARY KEY,
    username      TEXT    NOT NULL,
    username_key  TEXT    NOT NULL UNIQUE, -- strings.ToLower(username): case-insensitive uniqueness
    password_hash TEXT    NOT NULL,
    created_at    INTEGER NOT NULL
) STRICT;

CREATE TABLE sessions (
    id                  TEXT    PRIMARY KEY,
    user_id             TEXT    NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at          INTEGER NOT NULL,
    last_used_at        INTEGER NOT NULL,
    idle_expires_at     INTEGER NOT NULL, -- never after absolute_expires_at
    absolute_expires_at INTEGER NOT NULL,
    user_agent          TEXT    NOT NULL DEFAULT '',
    ip                  TEXT    NOT NULL DEFAULT '',
    revoked_at          INTEGER,
    revoke_reason       TEXT    NOT NULL DEFAULT ''
) STRICT;

-- ActiveSessions and RevokeUserSessions: a user's sessions, most recently used first.
CREATE INDEX sessions_user_last_used ON sessions (user_id, last_used_at DESC);
-- DeleteExpired.
CREATE INDEX sessions_idle_expires ON sessions (idle_expires_at);
CREATE INDEX sessions_absolute_expires ON sessions (absolute_expires_at);
CREATE INDEX sessions_revoked ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;

CREATE TABLE refresh_tokens (
    id          INTEGER PRIMARY KEY,
    session_id  TEXT    NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    token_hash  TEXT    NOT NULL UNIQUE, -- the UNIQUE index is the lookup by presented hash
    created_at  INTEGER NOT NULL,
    used_at     INTEGER,
    replaced_by INTEGER REFERENCES refresh_tokens(id) ON DELETE SET NULL
) STRICT;

CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);
-- Lets SQLite check the replaced_by foreign key on delete without a scan.
CREATE INDEX refresh_tokens_replaced_by ON refresh_tokens (replaced_by) WHERE replaced_by IS NOT NULL;

CREATE TABLE session_events (
    id         INTEGER PRIMARY KEY,
    session_id TEXT    NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    user_id    TEXT    NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind       TEXT    NOT NULL,
    at         INTEGER NOT NULL,
    ip         TEXT    NOT NULL DEFAULT '',
    user_agent TEXT    NOT NULL DEFAULT '',
    detail     TEXT    NOT NULL DEFAULT ''
) STRICT;

-- SessionEvents: one session's timeline, newest first.
CREATE INDEX session_events_session_at ON session_events (session_id, at DESC, id DESC);
-- Cascading deletes from users.
CREATE INDEX session_events_user ON session_events (user_id);
