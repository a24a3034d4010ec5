-- "Sign out everywhere" (Firebase's tokensValidAfterTime): every token of
-- this user whose sign-in (`auth_time`) is at or before `valid_after` is
-- refused, on every device. No foreign key: it outlives the account row, so
-- a stolen token cannot come back by recreating the user.
CREATE TABLE token_revocations (
    user_id     TEXT PRIMARY KEY,
    valid_after TIMESTAMPTZ NOT NULL
);

-- Revoking one session also revokes the sign-in it was using: that
-- sign-in's tokens are refused whatever X-Device-ID comes with them.
CREATE TABLE revoked_sign_ins (
    user_id    TEXT NOT NULL,
    auth_time  BIGINT NOT NULL,
    revoked_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, auth_time)
);

-- The latest sign-in (`auth_time`, seconds) seen on the device.
ALTER TABLE device_sessions ADD COLUMN auth_time BIGINT;
