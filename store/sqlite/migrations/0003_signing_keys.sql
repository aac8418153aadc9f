-- +goose Up
-- signing_keys holds the asymmetric keys every instance signs and verifies
-- with, so a rotation or a revocation made by one instance (or by the keys
-- command) reaches them all. The private half is sealed (AES-256-GCM under
-- a key derived from KEY_ENCRYPTION_KEY) before it gets here: a copy of
-- the database alone signs nothing.
--
-- state: next (published, not signing yet), current (signs), previous
-- (published until its last token has expired). At most one is current.
-- activates_at: for next, the earliest it may sign (published long enough
-- for every JWKS cache to hold it); for current and previous, when it began
-- signing. expires_at: for previous, when it is deleted; NULL otherwise.
CREATE TABLE signing_keys (
	kid                TEXT    PRIMARY KEY,
	alg                TEXT    NOT NULL,
	state              TEXT    NOT NULL CHECK (state IN ('next', 'current', 'previous')),
	public_key         BLOB    NOT NULL,
	sealed_private_key BLOB    NOT NULL,
	created_at         INTEGER NOT NULL,
	activates_at       INTEGER NOT NULL,
	expires_at         INTEGER
) STRICT;

CREATE UNIQUE INDEX signing_keys_one_current ON signing_keys (state) WHERE state = 'current';
