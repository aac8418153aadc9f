-- +goose Up
-- signing_keys: see store/sqlite's 0003. The private half is sealed before
-- it gets here.
CREATE TABLE signing_keys (
    kid                TEXT   PRIMARY KEY,
    alg                TEXT   NOT NULL,
    state              TEXT   NOT NULL CHECK (state IN ('next', 'current', 'previous')),
    public_key         BYTEA  NOT NULL,
    sealed_private_key BYTEA  NOT NULL,
    created_at         BIGINT NOT NULL,
    activates_at       BIGINT NOT NULL,
    expires_at         BIGINT
);

CREATE UNIQUE INDEX signing_keys_one_current ON signing_keys (state) WHERE state = 'current';
