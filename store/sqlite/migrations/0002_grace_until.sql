-- +goose Up
-- grace_until anchors the reuse grace window at the rotation that forked a
-- session, so a replayed token can never buy a later deadline (see
-- SQLite.RotateRefreshToken).
--
-- On a used token it is the end of its forgiveness: presented again at or
-- after it, the token is reuse. On a live token it is the deadline of the
-- fork the token belongs to (set while a grace sibling exists), which the
-- token keeps if another branch's rotation retires it; NULL when the token
-- is the session's only branch.
--
-- Tokens rotated before this migration get grace_until = used_at: no
-- forgiveness. The grace setting is not known here, and at worst a replay in
-- the seconds around the upgrade ends a session, which is the safe side.
ALTER TABLE refresh_tokens ADD COLUMN grace_until INTEGER;
UPDATE refresh_tokens SET grace_until = used_at WHERE used_at IS NOT NULL;
