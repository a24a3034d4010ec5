//! Vehicles drivers register, in the shapes the vehicle functions answer with,
//! and the rules every vehicle write shares: field limits, the normalised
//! licence plate, and "the caller's own vehicle, else 403/404".

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use sqlx::{FromRow, PgConnection};
use utoipa::ToSchema;
use uuid::Uuid;

use shared::error::{ApiError, ApiResult, forbidden, not_found};
use shared::extract::Validator;

use crate::MESSAGES;

/// A vehicle, as `/api/vehicles` answers it.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct Vehicle {
    #[schema(value_type = String, example = "0b3f6a1e-2a4c-4d7e-9a51-6f1c2d3e4f50")]
    pub id: Uuid,
    pub owner_id: String,
    #[schema(example = "minibus")]
    pub vehicle_type: String,
    /// Upper case, single inner spaces.
    #[schema(example = "LT 123 AB")]
    pub license_plate: String,
    /// Seats, 1 to 100.
    #[schema(minimum = 1, maximum = 100)]
    pub capacity: i32,
    #[schema(example = "https://example.com/bus.jpg")]
    pub photo_url: Option<String>,
    pub make: Option<String>,
    pub model: Option<String>,
    /// 1900 to 2030.
    #[schema(minimum = 1900, maximum = 2030)]
    pub year: Option<i32>,
    pub color: Option<String>,
    pub amenities: Vec<String>,
    /// False once deleted (the row stays so published rides keep their vehicle).
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Every [`Vehicle`] column of `vehicles`.
pub const VEHICLE_COLUMNS: &str = "id, owner_id, vehicle_type, license_plate, capacity, photo_url, \
     make, model, year, color, amenities, is_active, created_at, updated_at";

/// The unique constraint on the (normalised) licence plate.
pub const PLATE_CONSTRAINT: &str = "vehicles_license_plate_key";

/// The 409 a plate clash answers with.
pub fn plate_taken() -> ApiError {
    shared::error::conflict(MESSAGES.text("plate-taken"))
}

/// Longest vehicle type, make, model or colour.
pub const MAX_LABEL: usize = 60;
/// Longest licence plate, once normalised.
pub const MAX_PLATE: usize = 20;
/// Longest photo URL.
pub const MAX_URL: usize = 2048;
/// Most amenities on one vehicle.
pub const MAX_AMENITIES: usize = 20;
/// Longest amenity.
pub const MAX_AMENITY: usize = 50;

/// `"  lt  123 ab "` → `"LT 123 AB"`, so spellings of one plate collide.
pub fn normalize_plate(plate: &str) -> String {
    plate
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_uppercase()
}

/// A trimmed optional label; blank means absent (forms send `""`).
pub fn clean_label(value: Option<&str>) -> Option<String> {
    value
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

/// Trimmed amenities, blanks and repeats dropped, order kept.
pub fn clean_amenities(amenities: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for a in amenities.iter().map(|a| a.trim()).filter(|a| !a.is_empty()) {
        if !out.iter().any(|o| o == a) {
            out.push(a.to_owned());
        }
    }
    out
}

/// Whether `url` is an absolute `http`/`https` URL with a host, free of
/// whitespace and control characters.
pub fn is_web_url(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    let Some(rest) = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))
    else {
        return false;
    };
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit('@').next().unwrap_or_default();
    host_port.chars().any(|c| c.is_ascii_alphanumeric())
        && host_port
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
}

/// The checks each vehicle field gets, wherever it arrives (`None`: absent, not checked).
pub trait VehicleRules: Sized {
    /// A required, non-blank label of at most [`MAX_LABEL`] characters.
    fn label(self, field: &str, value: Option<&str>) -> Self;
    /// An optional label: blank is fine (it means none), long is not.
    fn optional_label(self, field: &str, value: Option<&str>) -> Self;
    /// A plate: letters, digits, spaces and hyphens, 1 to [`MAX_PLATE`] once normalised.
    fn plate(self, field: &str, value: Option<&str>) -> Self;
    /// Seats, 1 to 100.
    fn seats(self, field: &str, value: Option<i32>) -> Self;
    /// A model year, 1900 to 2030.
    fn year(self, value: Option<i32>) -> Self;
    /// An `http`/`https` URL of at most [`MAX_URL`] characters.
    fn photo_url(self, value: Option<&str>) -> Self;
    /// At most [`MAX_AMENITIES`], each at most [`MAX_AMENITY`] characters.
    fn amenities(self, value: Option<&[String]>) -> Self;
}

impl VehicleRules for Validator {
    fn label(self, field: &str, value: Option<&str>) -> Self {
        self.not_empty(field, value.map_or("-", str::trim))
            .optional_label(field, value)
    }

    fn optional_label(self, field: &str, value: Option<&str>) -> Self {
        self.max_len(field, value.map(str::trim), MAX_LABEL)
    }

    fn plate(self, field: &str, value: Option<&str>) -> Self {
        let plate = value.map(normalize_plate);
        self.not_empty(field, plate.as_deref().unwrap_or("-"))
            .check(
                plate.as_deref().is_none_or(|p| {
                    p.chars()
                        .all(|c| c.is_alphanumeric() || c == ' ' || c == '-')
                }),
                field,
                MESSAGES.text("plate-characters"),
            )
            .max_len(field, plate.as_deref(), MAX_PLATE)
    }

    fn seats(self, field: &str, value: Option<i32>) -> Self {
        match value {
            Some(v) => self.range(field, v, 1, 100),
            None => self,
        }
    }

    fn year(self, value: Option<i32>) -> Self {
        match value {
            Some(v) => self.range("year", v, 1900, 2030),
            None => self,
        }
    }

    fn photo_url(self, value: Option<&str>) -> Self {
        self.max_len("photo_url", value, MAX_URL).check(
            value.is_none_or(is_web_url),
            "photo_url",
            MESSAGES.text("web-url"),
        )
    }

    fn amenities(self, value: Option<&[String]>) -> Self {
        let list = value.unwrap_or_default();
        self.check(
            list.len() <= MAX_AMENITIES,
            "amenities",
            MESSAGES.text("at-most-amenities").arg("max", MAX_AMENITIES),
        )
        .check(
            list.iter().all(|a| a.trim().chars().count() <= MAX_AMENITY),
            "amenities",
            MESSAGES.text("amenity-too-long").arg("max", MAX_AMENITY),
        )
    }
}

/// For a PATCH field that may be cleared: absent is `None`, `null` is
/// `Some(None)`. Use with `#[serde(default, deserialize_with = "nullable")]`.
pub fn nullable<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// The caller's vehicle `vehicle_id` (locked for update when `lock`): 404
/// when unknown or not a UUID, 403 when someone else's.
pub async fn find_owned(
    conn: &mut PgConnection,
    vehicle_id: &str,
    uid: &str,
    lock: bool,
) -> ApiResult<Vehicle> {
    let id = Uuid::try_parse(vehicle_id).map_err(|_| not_found(MESSAGES.text("thing-vehicle")))?;
    let sql = format!(
        "SELECT {VEHICLE_COLUMNS} FROM vehicles WHERE id = $1{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    let vehicle: Vehicle = sqlx::query_as(&sql)
        .bind(id)
        .fetch_optional(conn)
        .await?
        .ok_or_else(|| not_found(MESSAGES.text("thing-vehicle")))?;
    if vehicle.owner_id != uid {
        return Err(forbidden(MESSAGES.text("vehicle-not-yours")));
    }
    Ok(vehicle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plates_normalise_to_one_spelling() {
        assert_eq!(normalize_plate("  lt  123\tab "), "LT 123 AB");
        assert_eq!(normalize_plate("LT 123 AB"), "LT 123 AB");
        assert_eq!(normalize_plate("   "), "");
    }

    #[test]
    fn only_web_urls_with_a_host_pass() {
        for ok in [
            "https://example.com/a.jpg",
            "HTTP://cdn.example.com:8080/x?y=1#z",
            "https://user@example.com/",
            "http://[::1]/p",
        ] {
            assert!(is_web_url(ok), "{ok}");
        }
        for bad in [
            "ftp://x",
            "javascript:alert(1)",
            "https://",
            "https:///path",
            "http://exa mple.com",
            "example.com",
            "https://ex<ample>.com",
        ] {
            assert!(!is_web_url(bad), "{bad}");
        }
    }

    #[test]
    fn amenities_are_trimmed_and_deduplicated() {
        let got = clean_amenities(&[" wifi".into(), "".into(), "wifi ".into(), "AC".into()]);
        assert_eq!(got, ["wifi", "AC"]);
    }
}
