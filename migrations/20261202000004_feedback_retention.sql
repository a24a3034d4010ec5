-- Feedback on an AI prediction: only from a signed-in traveller, one per
-- prediction and user (a second is a 409, not a silent overwrite).
CREATE TABLE ai_feedback (
    id               UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    prediction_id    UUID NOT NULL REFERENCES ai_predictions (id) ON DELETE CASCADE,
    user_id          TEXT NOT NULL REFERENCES users (uid) ON DELETE CASCADE,
    rating           INTEGER CHECK (rating BETWEEN 1 AND 5),
    comment          TEXT CHECK (char_length(comment) <= 1000),
    actual_departure TIMESTAMPTZ,
    actual_arrival   TIMESTAMPTZ,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT ai_feedback_prediction_user_key UNIQUE (prediction_id, user_id)
);
CREATE INDEX ai_feedback_user_idx ON ai_feedback (user_id);

-- Retention (`migrate --prune`) deletes by age in small batches; each batch
-- finds its rows through one of these instead of scanning the table.
CREATE INDEX ai_predictions_created_idx ON ai_predictions (created_at);
CREATE INDEX user_locations_recorded_idx ON user_locations (recorded_at);
CREATE INDEX notifications_read_created_idx ON notifications (created_at) WHERE read;
CREATE INDEX trip_observations_departed_idx ON trip_observations (departed_at);
CREATE INDEX device_sessions_last_activity_idx ON device_sessions (last_activity);
CREATE INDEX ai_models_fitted_idx ON ai_models (fitted_at) WHERE NOT active;
