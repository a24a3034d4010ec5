//! The tourism resources several functions answer with: `City` and
//! `Attraction`, and the one query shape attractions are read with.

use serde::Serialize;
use sqlx::postgres::PgRow;
use sqlx::{FromRow, Row};
use utoipa::ToSchema;

/// A city, as in `GET /api/cities`.
#[derive(Debug, Serialize, FromRow, ToSchema)]
pub struct City {
    #[schema(example = "douala")]
    pub id: String,
    #[schema(example = "Douala")]
    pub name: String,
    pub country: String,
    pub description: String,
    pub population: i64,
}

/// The columns of [`City`].
pub const CITY_COLUMNS: &str = "id, name, country, description, population";

/// Where an attraction is; from its PostGIS POINT.
#[derive(Debug, Serialize, ToSchema)]
pub struct Location {
    pub latitude: f64,
    pub longitude: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accuracy_meters: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recorded_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// An attraction, as the contract shapes it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Attraction {
    #[schema(example = "douala-waterfront")]
    pub id: String,
    pub city_id: String,
    pub name: String,
    pub description: String,
    pub category: String,
    /// 0 to 5.
    pub rating: f64,
    /// `HH:MM-HH:MM`.
    #[schema(example = "08:00-18:00")]
    pub opening_hours: String,
    #[schema(example = "2000 XAF")]
    pub entry_fee: String,
    pub location: Option<Location>,
    pub tags: Vec<String>,
}

macro_rules! attraction_columns {
    () => {
        "a.id, a.city_id, a.name, a.description, a.category, a.rating, a.opening_hours, \
         a.entry_fee, ST_Y(a.location) AS latitude, ST_X(a.location) AS longitude, \
         a.accuracy_meters, a.location_recorded_at, a.tags"
    };
}

/// Every [`Attraction`] column of `attractions a`, for queries that add their own.
pub const ATTRACTION_COLUMNS: &str = attraction_columns!();

/// `SELECT` of every [`Attraction`] column from `attractions a`; add `WHERE`/`ORDER BY`.
pub const SELECT_ATTRACTIONS: &str =
    concat!("SELECT ", attraction_columns!(), " FROM attractions a");

impl<'r> FromRow<'r, PgRow> for Attraction {
    fn from_row(row: &'r PgRow) -> Result<Self, sqlx::Error> {
        let latitude: Option<f64> = row.try_get("latitude")?;
        let longitude: Option<f64> = row.try_get("longitude")?;
        Ok(Self {
            id: row.try_get("id")?,
            city_id: row.try_get("city_id")?,
            name: row.try_get("name")?,
            description: row.try_get("description")?,
            category: row.try_get("category")?,
            rating: row.try_get("rating")?,
            opening_hours: row.try_get("opening_hours")?,
            entry_fee: row.try_get("entry_fee")?,
            location: match (latitude, longitude) {
                (Some(latitude), Some(longitude)) => Some(Location {
                    latitude,
                    longitude,
                    accuracy_meters: row.try_get("accuracy_meters")?,
                    recorded_at: row.try_get("location_recorded_at")?,
                }),
                _ => None,
            },
            tags: row.try_get("tags")?,
        })
    }
}
