-- Notifications are kept as a message and its arguments, rendered in the
-- reader's language when listed, pushed or sent over a WebSocket; `title` and
-- `body` keep the English rendering for rows written before (and for tools
-- that read the table directly).
ALTER TABLE notifications
    ADD COLUMN message_key    TEXT,
    ADD COLUMN message_params JSONB NOT NULL DEFAULT '{}'::jsonb;
