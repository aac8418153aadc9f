-- +goose Up
-- grace_until: see store/sqlite's 0002. A PostgreSQL store starts at this
-- version, so no rotated token predates it.
ALTER TABLE refresh_tokens ADD COLUMN grace_until BIGINT;
