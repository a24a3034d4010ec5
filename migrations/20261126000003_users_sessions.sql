-- Users, device sessions, locations, reviews: what the app's profile,
-- preferences, sessions and tourism screens read, and account deletion that
-- never strands another user's booking.

ALTER TABLE users
    ADD COLUMN first_name    TEXT CHECK (char_length(first_name) <= 80),
    ADD COLUMN last_name     TEXT CHECK (char_length(last_name) <= 80),
    ADD COLUMN profile_photo TEXT CHECK (char_length(profile_photo) <= 2048 AND profile_photo ~* '^https?://'),
    ADD COLUMN date_of_birth DATE,
    ADD COLUMN gender        TEXT CHECK (char_length(gender) <= 32),
    ADD COLUMN currency      TEXT NOT NULL DEFAULT 'XAF' CHECK (currency IN ('XAF', 'USD', 'EUR')),
    -- The app's notificationSettings / privacySettings / accessibility objects.
    ADD COLUMN settings      JSONB NOT NULL DEFAULT '{}',
    ADD COLUMN last_login    TIMESTAMPTZ;

ALTER TABLE device_sessions
    ADD COLUMN user_agent TEXT CHECK (char_length(user_agent) <= 512);
CREATE INDEX device_sessions_user_idx ON device_sessions (user_id, last_activity DESC);

-- Where a travelling user was, and on which departure's line.
ALTER TABLE user_locations
    ADD COLUMN route_id TEXT REFERENCES travel_routes (id) ON DELETE SET NULL,
    ADD COLUMN city_id  TEXT REFERENCES cities (id) ON DELETE SET NULL;
CREATE INDEX user_locations_route_idx ON user_locations (route_id, recorded_at DESC) WHERE route_id IS NOT NULL;

-- One review per user per attraction; a second one updates the first.
ALTER TABLE reviews ADD COLUMN updated_at TIMESTAMPTZ NOT NULL DEFAULT now();
ALTER TABLE reviews ADD CONSTRAINT reviews_user_attraction_key UNIQUE (attraction_id, user_id);
ALTER TABLE reviews ADD CONSTRAINT reviews_rating_range CHECK (rating BETWEEN 1 AND 5);
ALTER TABLE reviews ADD CONSTRAINT reviews_comment_length CHECK (char_length(comment) <= 2000);
CREATE INDEX saved_attractions_user_idx ON saved_attractions (user_id, saved_at DESC);

-- A driver's deleted account must not delete (or block on) rides other people
-- booked: their rides stay, ownerless and cancelled, with the passengers told.
ALTER TABLE travel_routes ADD COLUMN cancelled_at TIMESTAMPTZ;
ALTER TABLE travel_routes DROP CONSTRAINT travel_routes_owner_id_fkey;
ALTER TABLE travel_routes ADD CONSTRAINT travel_routes_owner_id_fkey
    FOREIGN KEY (owner_id) REFERENCES users (uid) ON DELETE SET NULL;
ALTER TABLE route_schedules DROP CONSTRAINT route_schedules_owner_id_fkey;
ALTER TABLE route_schedules ADD CONSTRAINT route_schedules_owner_id_fkey
    FOREIGN KEY (owner_id) REFERENCES users (uid) ON DELETE SET NULL;
