-- The whole schema the API contract needs. Never edit once applied: add a new migration.
CREATE EXTENSION IF NOT EXISTS postgis;
CREATE EXTENSION IF NOT EXISTS unaccent;

-- unaccent() is STABLE; an IMMUTABLE wrapper lets expression indexes use it.
CREATE FUNCTION fold(text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    AS $$ SELECT lower(public.unaccent('public.unaccent'::regdictionary, $1)) $$;

CREATE TABLE users (
    uid                  TEXT PRIMARY KEY CHECK (char_length(uid) BETWEEN 1 AND 128),
    email                TEXT,
    phone                TEXT,
    display_name         TEXT CHECK (char_length(display_name) <= 120),
    language             TEXT NOT NULL DEFAULT 'en',
    notification_enabled BOOLEAN NOT NULL DEFAULT TRUE,
    marketing_opt_in     BOOLEAN NOT NULL DEFAULT FALSE,
    travel_notifications BOOLEAN NOT NULL DEFAULT TRUE,
    security_alerts      BOOLEAN NOT NULL DEFAULT TRUE,
    role                 TEXT NOT NULL DEFAULT 'standard' CHECK (role IN ('standard', 'premium', 'admin')),
    created_at           TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at           TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE device_sessions (
    id                   UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id              TEXT NOT NULL REFERENCES users (uid) ON DELETE CASCADE,
    device_id            TEXT NOT NULL,
    device_type          TEXT,
    device_os            TEXT,
    app_version          TEXT,
    fingerprint          TEXT,
    device_ip            INET,
    session_start        TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_activity        TIMESTAMPTZ NOT NULL DEFAULT now(),
    is_active            BOOLEAN NOT NULL DEFAULT TRUE,
    revoked_at           TIMESTAMPTZ,
    ip_rotation_detected BOOLEAN NOT NULL DEFAULT FALSE,
    CONSTRAINT device_sessions_user_device_key UNIQUE (user_id, device_id)
);

CREATE TABLE cities (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    country     TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    population  BIGINT NOT NULL CHECK (population >= 0),
    center      geometry(Point, 4326) NOT NULL,
    boundary    geometry(Polygon, 4326) NOT NULL,
    CONSTRAINT cities_name_key UNIQUE (name)
);
CREATE INDEX cities_boundary_gist ON cities USING GIST (boundary);
CREATE INDEX cities_name_fold_idx ON cities (fold(name));

CREATE TABLE attractions (
    id                   TEXT PRIMARY KEY,
    city_id              TEXT NOT NULL REFERENCES cities (id) ON DELETE CASCADE,
    name                 TEXT NOT NULL,
    description          TEXT NOT NULL DEFAULT '',
    category             TEXT NOT NULL,
    rating               DOUBLE PRECISION NOT NULL DEFAULT 0 CHECK (rating BETWEEN 0 AND 5),
    opening_hours        TEXT NOT NULL CHECK (opening_hours ~ '^\d{2}:\d{2}-\d{2}:\d{2}$'),
    entry_fee            TEXT NOT NULL DEFAULT 'Free',
    location             geometry(Point, 4326),
    accuracy_meters      DOUBLE PRECISION CHECK (accuracy_meters >= 0),
    location_recorded_at TIMESTAMPTZ,
    tags                 TEXT[] NOT NULL DEFAULT '{}'
);
CREATE INDEX attractions_city_idx ON attractions (city_id);
CREATE INDEX attractions_location_gist ON attractions USING GIST (location);
-- Distance searches cast to geography; index that expression too.
CREATE INDEX attractions_location_geog_gist ON attractions USING GIST ((location::geography));

CREATE TABLE vehicles (
    id            UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    owner_id      TEXT NOT NULL REFERENCES users (uid) ON DELETE CASCADE,
    vehicle_type  TEXT NOT NULL,
    license_plate TEXT NOT NULL,
    capacity      INTEGER NOT NULL CHECK (capacity BETWEEN 1 AND 100),
    photo_url     TEXT CHECK (photo_url ~* '^https?://'),
    make          TEXT,
    model         TEXT,
    year          INTEGER CHECK (year BETWEEN 1900 AND 2030),
    color         TEXT,
    amenities     TEXT[] NOT NULL DEFAULT '{}',
    is_active     BOOLEAN NOT NULL DEFAULT TRUE,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT vehicles_license_plate_key UNIQUE (license_plate)
);
CREATE INDEX vehicles_owner_idx ON vehicles (owner_id, created_at DESC);

-- A daily (or one-off, owner-published) service; travel_routes holds its dated departures.
CREATE TABLE route_schedules (
    id                    TEXT PRIMARY KEY,
    origin                TEXT NOT NULL,
    destination           TEXT NOT NULL,
    origin_city_id        TEXT REFERENCES cities (id) ON DELETE SET NULL,
    destination_city_id   TEXT REFERENCES cities (id) ON DELETE SET NULL,
    departure_time_of_day TIME NOT NULL,
    duration_minutes      INTEGER NOT NULL CHECK (duration_minutes > 0),
    total_seats           INTEGER NOT NULL CHECK (total_seats >= 0),
    price_per_seat        NUMERIC(12, 2) NOT NULL CHECK (price_per_seat >= 0),
    confidence            DOUBLE PRECISION NOT NULL CHECK (confidence BETWEEN 0 AND 1),
    distance_km           DOUBLE PRECISION CHECK (distance_km >= 0),
    amenities             TEXT[] NOT NULL DEFAULT '{}',
    geometry              geometry(LineString, 4326),
    vehicle_id            UUID REFERENCES vehicles (id) ON DELETE SET NULL,
    owner_id              TEXT REFERENCES users (uid) ON DELETE CASCADE,
    notes                 TEXT,
    is_daily              BOOLEAN NOT NULL DEFAULT TRUE,
    is_active             BOOLEAN NOT NULL DEFAULT TRUE,
    created_at            TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at            TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX route_schedules_geometry_gist ON route_schedules USING GIST (geometry);

CREATE TABLE travel_routes (
    id                  TEXT PRIMARY KEY,
    schedule_id         TEXT REFERENCES route_schedules (id) ON DELETE CASCADE,
    origin              TEXT NOT NULL,
    destination         TEXT NOT NULL,
    origin_city_id      TEXT REFERENCES cities (id) ON DELETE SET NULL,
    destination_city_id TEXT REFERENCES cities (id) ON DELETE SET NULL,
    departure_time      TIMESTAMPTZ NOT NULL,
    estimated_arrival   TIMESTAMPTZ NOT NULL,
    total_seats         INTEGER NOT NULL CHECK (total_seats >= 0),
    available_seats     INTEGER NOT NULL CHECK (available_seats >= 0),
    price_per_seat      NUMERIC(12, 2) NOT NULL CHECK (price_per_seat >= 0),
    confidence          DOUBLE PRECISION NOT NULL CHECK (confidence BETWEEN 0 AND 1),
    distance_km         DOUBLE PRECISION CHECK (distance_km >= 0),
    duration_minutes    INTEGER CHECK (duration_minutes > 0),
    amenities           TEXT[] NOT NULL DEFAULT '{}',
    geometry            geometry(LineString, 4326),
    vehicle_id          UUID REFERENCES vehicles (id) ON DELETE SET NULL,
    owner_id            TEXT REFERENCES users (uid) ON DELETE CASCADE,
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT travel_routes_seats_check CHECK (available_seats <= total_seats),
    CONSTRAINT travel_routes_times_check CHECK (estimated_arrival > departure_time),
    CONSTRAINT travel_routes_schedule_departure_key UNIQUE (schedule_id, departure_time)
);
CREATE INDEX travel_routes_departure_idx ON travel_routes (departure_time);
CREATE INDEX travel_routes_search_idx ON travel_routes (fold(origin), fold(destination), departure_time);
CREATE INDEX travel_routes_geometry_gist ON travel_routes USING GIST (geometry);

CREATE TABLE bookings (
    id               UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id          TEXT NOT NULL REFERENCES users (uid) ON DELETE CASCADE,
    route_id         TEXT NOT NULL REFERENCES travel_routes (id) ON DELETE RESTRICT,
    passengers       INTEGER NOT NULL CHECK (passengers BETWEEN 1 AND 20),
    passenger_names  JSONB NOT NULL DEFAULT '[]',
    total_price      NUMERIC(12, 2) NOT NULL CHECK (total_price >= 0),
    payment_method   TEXT NOT NULL,
    payment_status   TEXT NOT NULL DEFAULT 'pending' CHECK (payment_status IN ('pending', 'paid', 'refunded', 'failed')),
    status           TEXT NOT NULL DEFAULT 'confirmed' CHECK (status IN ('confirmed', 'pending', 'cancelled', 'completed')),
    special_requests TEXT CHECK (char_length(special_requests) <= 280),
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    cancelled_at     TIMESTAMPTZ
);
CREATE INDEX bookings_user_idx ON bookings (user_id, created_at DESC);
CREATE INDEX bookings_route_idx ON bookings (route_id);

CREATE TABLE notifications (
    id         UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id    TEXT NOT NULL REFERENCES users (uid) ON DELETE CASCADE,
    title      TEXT NOT NULL,
    body       TEXT NOT NULL,
    category   TEXT NOT NULL DEFAULT 'general',
    data       JSONB NOT NULL DEFAULT '{}',
    read       BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    read_at    TIMESTAMPTZ
);
CREATE INDEX notifications_user_idx ON notifications (user_id, created_at DESC);

CREATE TABLE notification_subscriptions (
    id         UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id    TEXT NOT NULL REFERENCES users (uid) ON DELETE CASCADE,
    token      TEXT NOT NULL CHECK (char_length(token) BETWEEN 1 AND 4096),
    channels   TEXT[] NOT NULL DEFAULT '{}',
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT notification_subscriptions_token_key UNIQUE (token)
);
CREATE INDEX notification_subscriptions_user_idx ON notification_subscriptions (user_id);

CREATE TABLE user_locations (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id         TEXT NOT NULL REFERENCES users (uid) ON DELETE CASCADE,
    session_id      UUID REFERENCES device_sessions (id) ON DELETE SET NULL,
    location        geometry(Point, 4326) NOT NULL,
    accuracy_meters DOUBLE PRECISION CHECK (accuracy_meters >= 0),
    activity_type   TEXT,
    device_ip       INET,
    recorded_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX user_locations_user_idx ON user_locations (user_id, recorded_at DESC);
CREATE INDEX user_locations_location_gist ON user_locations USING GIST (location);

CREATE TABLE reviews (
    id            UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    attraction_id TEXT NOT NULL REFERENCES attractions (id) ON DELETE CASCADE,
    user_id       TEXT NOT NULL REFERENCES users (uid) ON DELETE CASCADE,
    rating        INTEGER NOT NULL CHECK (rating BETWEEN 0 AND 5),
    comment       TEXT NOT NULL DEFAULT '' CHECK (char_length(comment) <= 4000),
    images        TEXT[] NOT NULL DEFAULT '{}',
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX reviews_attraction_idx ON reviews (attraction_id, created_at DESC);

CREATE TABLE saved_attractions (
    user_id       TEXT NOT NULL REFERENCES users (uid) ON DELETE CASCADE,
    attraction_id TEXT NOT NULL REFERENCES attractions (id) ON DELETE CASCADE,
    notes         TEXT CHECK (char_length(notes) <= 1000),
    saved_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, attraction_id)
);

CREATE TABLE trip_observations (
    id                UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    route_id          TEXT REFERENCES travel_routes (id) ON DELETE SET NULL,
    schedule_id       TEXT REFERENCES route_schedules (id) ON DELETE SET NULL,
    origin            TEXT NOT NULL,
    destination       TEXT NOT NULL,
    departed_at       TIMESTAMPTZ NOT NULL,
    arrived_at        TIMESTAMPTZ NOT NULL,
    average_speed_kmh DOUBLE PRECISION CHECK (average_speed_kmh >= 0),
    congestion_score  DOUBLE PRECISION CHECK (congestion_score BETWEEN 0 AND 1),
    source            TEXT NOT NULL DEFAULT 'operator',
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT trip_observations_times_check CHECK (arrived_at > departed_at)
);
CREATE INDEX trip_observations_corridor_idx ON trip_observations (fold(origin), fold(destination), departed_at DESC);

CREATE TABLE ai_predictions (
    id             UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    kind           TEXT NOT NULL,
    model_version  TEXT NOT NULL,
    route_id       TEXT REFERENCES travel_routes (id) ON DELETE SET NULL,
    user_id        TEXT REFERENCES users (uid) ON DELETE SET NULL,
    input          JSONB NOT NULL,
    output         JSONB NOT NULL,
    confidence     DOUBLE PRECISION NOT NULL CHECK (confidence BETWEEN 0 AND 1),
    fallback       BOOLEAN NOT NULL DEFAULT FALSE,
    actual_outcome JSONB,
    feedback_at    TIMESTAMPTZ,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX ai_predictions_kind_idx ON ai_predictions (kind, created_at DESC);
