-- Mobility: idempotent retries of writes, and one ride per vehicle at a time.

CREATE TABLE idempotency_keys (
    user_id      TEXT NOT NULL REFERENCES users (uid) ON DELETE CASCADE,
    scope        TEXT NOT NULL,
    key          TEXT NOT NULL CHECK (char_length(key) BETWEEN 1 AND 255),
    request_hash TEXT NOT NULL,
    response     JSONB,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, scope, key)
);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);

-- A vehicle cannot leave twice at the same instant: publishing the same ride again updates it.
CREATE UNIQUE INDEX travel_routes_vehicle_departure_key
    ON travel_routes (vehicle_id, departure_time) WHERE vehicle_id IS NOT NULL;

CREATE INDEX travel_routes_owner_idx ON travel_routes (owner_id, departure_time DESC) WHERE owner_id IS NOT NULL;
