-- +goose Up
-- The throttle's counters (throttle.Store), shared by every instance on
-- this database so a brute force spread over them is counted as one.
-- Keys are throttle.AccountKey / throttle.AddressKey; times are Unix ms.
CREATE TABLE throttle_accounts (
    key          TEXT    PRIMARY KEY,
    failures     INTEGER NOT NULL,
    last_failure BIGINT  NOT NULL,
    locked_until BIGINT  NOT NULL
);

-- kind: 'failures' (failed logins of an address), 'logins' (every login of
-- an address), 'registrations'.
CREATE TABLE throttle_windows (
    kind       TEXT    NOT NULL,
    key        TEXT    NOT NULL,
    started_at BIGINT  NOT NULL,
    count      INTEGER NOT NULL,
    PRIMARY KEY (kind, key)
);

-- Attempts in flight: checks let through and not yet resolved. Each row
-- expires AttemptTimeout after it began, so an instance killed mid-check
-- never holds room for ever.
CREATE TABLE throttle_attempts (
    id         TEXT   PRIMARY KEY,
    account    TEXT   NOT NULL,
    address    TEXT   NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX throttle_attempts_account ON throttle_attempts (account);
CREATE INDEX throttle_attempts_address ON throttle_attempts (address);
