-- +goose Up
-- Users, sessions, refresh tokens and the session timeline; the same tables
-- as store/sqlite's 0001, version for version.
--
-- Times are BIGINT unix milliseconds, UTC, as in SQLite: both stores keep
-- one precision, so one contract suite holds them to the same times.
-- Deleting a session deletes its tokens and events (ON DELETE CASCADE).

CREATE TABLE users (
    id            TEXT   PRIMARY KEY,
    username      TEXT   NOT NULL,
    username_key  TEXT   NOT NULL UNIQUE, -- strings.ToLower(username): case-insensitive uniqueness
    password_hash TEXT   NOT NULL,
    created_at    BIGINT NOT NULL
);

CREATE TABLE sessions (
    id                  TEXT   PRIMARY KEY,
    user_id             TEXT   NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at          BIGINT NOT NULL,
    last_used_at        BIGINT NOT NULL,
    idle_expires_at     BIGINT NOT NULL, -- never after absolute_expires_at
    absolute_expires_at BIGINT NOT NULL,
    user_agent          TEXT   NOT NULL DEFAULT '',
    ip                  TEXT   NOT NULL DEFAULT '',
    revoked_at          BIGINT,
    revoke_reason       TEXT   NOT NULL DEFAULT ''
);

CREATE INDEX sessions_user_last_used ON sessions (user_id, last_used_at DESC);
CREATE INDEX sessions_idle_expires ON sessions (idle_expires_at);
CREATE INDEX sessions_absolute_expires ON sessions (absolute_expires_at);
CREATE INDEX sessions_revoked ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;

CREATE TABLE refresh_tokens (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    session_id  TEXT   NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    token_hash  TEXT   NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL,
    used_at     BIGINT,
    replaced_by BIGINT REFERENCES refresh_tokens(id) ON DELETE SET NULL
);

CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);
CREATE INDEX refresh_tokens_replaced_by ON refresh_tokens (replaced_by) WHERE replaced_by IS NOT NULL;

CREATE TABLE session_events (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    session_id TEXT   NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    user_id    TEXT   NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind       TEXT   NOT NULL,
    at         BIGINT NOT NULL,
    ip         TEXT   NOT NULL DEFAULT '',
    user_agent TEXT   NOT NULL DEFAULT '',
    detail     TEXT   NOT NULL DEFAULT ''
);

CREATE INDEX session_events_session_at ON session_events (session_id, at DESC, id DESC);
CREATE INDEX session_events_user ON session_events (user_id);
