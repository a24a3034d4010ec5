//! The tourism resources several functions answer with: `City`, `Attraction`
//! (in the original's field names and, beside them, the app's), `Review` and
//! `SavedAttraction`, and the query shapes they are read with.
//!
//! Descriptions are served in the caller's language (English where no French
//! is written), and in both with `?translations=true` ([`Translations`]).
//!
//! Attractions are read from [`ATTRACTIONS`], which leaves out those without a
//! location and gives each its effective rating: the average of its reviews,
//! else the published one. The rating is computed when read rather than stored
//! because the daily `migrate --seed` rewrites `attractions.rating`, and a
//! deleted account takes its reviews with it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use shared::extract::Validate;
use shared::i18n::Lang;
use sqlx::postgres::PgRow;
use sqlx::{FromRow, PgExecutor, Row};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// Whether to add every language's description beside the caller's:
/// `?translations=true`.
#[derive(Debug, Clone, Copy, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Translations {
    /// `true` adds `descriptions`, the description in each language
    /// (`{"en": "…", "fr": "…"}`), beside `description`. Default `false`.
    #[serde(default)]
    pub translations: bool,
}

impl Validate for Translations {}

/// A description in each language the app speaks; where no French is
/// written, `fr` is the English text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Descriptions {
    pub en: String,
    pub fr: String,
}

/// Turns a row's English `description` and its French (if any) into what
/// `lang` reads, and both languages when `translations` asks for them.
fn localize(
    description: &mut String,
    french: Option<String>,
    lang: Lang,
    translations: Translations,
) -> Option<Descriptions> {
    let french = french.filter(|fr| !fr.trim().is_empty());
    let both = translations.translations.then(|| Descriptions {
        en: description.clone(),
        fr: french.clone().unwrap_or_else(|| description.clone()),
    });
    if let (Lang::Fr, Some(fr)) = (lang, french) {
        *description = fr;
    }
    both
}

/// A city, as in `GET /api/cities`.
#[derive(Debug, Serialize, FromRow, ToSchema)]
pub struct City {
    #[schema(example = "douala")]
    pub id: String,
    #[schema(example = "Douala")]
    pub name: String,
    pub country: String,
    /// In the caller's language (English where no French is written).
    pub description: String,
    /// The description in each language; only with `?translations=true`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    #[sqlx(skip)]
    pub descriptions: Option<Descriptions>,
    pub population: i64,
    /// The French description as stored (`None` where none is written);
    /// [`City::localized`] serves it.
    #[serde(skip)]
    pub description_fr: Option<String>,
}

impl City {
    /// The city as `lang` reads it, with both descriptions if asked for.
    #[must_use]
    pub fn localized(mut self, lang: Lang, translations: Translations) -> Self {
        let french = self.description_fr.take();
        self.descriptions = localize(&mut self.description, french, lang, translations);
        self
    }
}

/// The columns of [`City`].
pub const CITY_COLUMNS: &str = "id, name, country, description, description_fr, population";

/// Where an attraction is; from its PostGIS POINT.
#[derive(Debug, Serialize, ToSchema)]
pub struct Location {
    pub latitude: f64,
    pub longitude: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accuracy_meters: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recorded_at: Option<DateTime<Utc>>,
}

/// An attraction, as the contract shapes it: the original's fields, and the
/// app's flattened in beside them.
#[derive(Debug, Serialize, ToSchema)]
pub struct Attraction {
    #[schema(example = "douala-waterfront")]
    pub id: String,
    pub city_id: String,
    pub name: String,
    /// In the caller's language (English where no French is written).
    pub description: String,
    /// The description in each language; only with `?translations=true`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub descriptions: Option<Descriptions>,
    /// The French description as stored (`None` where none is written);
    /// [`Attraction::localized`] serves it.
    #[serde(skip)]
    pub description_fr: Option<String>,
    pub category: String,
    /// 0 to 5: the average of the attraction's reviews (one decimal), or the
    /// published rating while it has none.
    #[schema(minimum = 0, maximum = 5)]
    pub rating: f64,
    /// `HH:MM-HH:MM`.
    #[schema(example = "08:00-18:00")]
    pub opening_hours: String,
    #[schema(example = "2000 XAF")]
    pub entry_fee: String,
    /// Never null: attractions without a location are not served.
    pub location: Location,
    pub tags: Vec<String>,
    #[serde(flatten)]
    pub app: AppAttractionFields,
}

impl Attraction {
    /// The attraction as `lang` reads it, with both descriptions if asked for.
    /// Its reviews are the reviewers' own words and stay as written.
    #[must_use]
    pub fn localized(mut self, lang: Lang, translations: Translations) -> Self {
        let french = self.description_fr.take();
        self.descriptions = localize(&mut self.description, french, lang, translations);
        self
    }
}

/// The fields the app's attraction screens read.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AppAttractionFields {
    /// The same as `city_id`.
    pub city_id: String,
    pub coordinates: Coordinates,
    /// Photos; none are stored yet, so always empty.
    pub image_urls: Vec<String>,
    pub opening_hours: OpeningHours,
    pub contact_info: ContactInfo,
    /// The entry fee in XAF (0 when free); null when the fee is free-form text.
    #[schema(example = 2000, required = true)]
    pub estimated_cost: Option<i64>,
    /// Whether guides are on offer: a tag naming guided or walking tours, or a museum.
    pub guided_tour_available: bool,
    /// The latest three reviews on `GET /api/attractions/{id}`; empty in lists.
    pub reviews: Vec<Review>,
}

/// A point, as the app reads it.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct Coordinates {
    pub latitude: f64,
    pub longitude: f64,
}

/// One day's hours.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DayHours {
    #[schema(example = "08:00")]
    pub open: String,
    #[schema(example = "18:00")]
    pub close: String,
    pub closed: bool,
}

/// Hours for each day of the week.
#[derive(Debug, Serialize, ToSchema)]
pub struct OpeningHours {
    pub monday: DayHours,
    pub tuesday: DayHours,
    pub wednesday: DayHours,
    pub thursday: DayHours,
    pub friday: DayHours,
    pub saturday: DayHours,
    pub sunday: DayHours,
}

impl OpeningHours {
    /// The same hours every day, from `"HH:MM-HH:MM"` (the only form the
    /// schema allows); anything else reads as closed all week.
    pub fn every_day(hours: &str) -> Self {
        let day = match hours.split_once('-') {
            Some((open, close)) => DayHours {
                open: open.trim().to_owned(),
                close: close.trim().to_owned(),
                closed: false,
            },
            None => DayHours {
                open: "00:00".into(),
                close: "00:00".into(),
                closed: true,
            },
        };
        Self {
            monday: day.clone(),
            tuesday: day.clone(),
            wednesday: day.clone(),
            thursday: day.clone(),
            friday: day.clone(),
            saturday: day.clone(),
            sunday: day,
        }
    }
}

/// How to reach an attraction; fields without a value are left out (no
/// contact details are stored yet, so it is `{}`).
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct ContactInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub website: Option<String>,
}

/// The entry fee in XAF: `"Free"` is 0, `"2000 XAF"`, `"5,000 XAF"`,
/// `"5 000 FCFA"` or a bare `"2000"` are that amount; anything else (another
/// currency, a range, prose) is `None`.
pub fn estimated_cost(entry_fee: &str) -> Option<i64> {
    let fee = entry_fee.trim();
    if fee.eq_ignore_ascii_case("free") {
        return Some(0);
    }
    let upper = fee.to_uppercase();
    let amount = ["XAF", "FCFA", "CFA"]
        .iter()
        .find_map(|unit| {
            upper
                .strip_suffix(unit)
                .or_else(|| upper.strip_prefix(unit))
        })
        .unwrap_or(&upper);
    let digits: String = amount
        .chars()
        .filter(|c| !matches!(c, ',' | ' ' | '\u{a0}' | '\u{202f}'))
        .collect();
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Whether guides are on offer: a tag naming guided or walking tours
/// (`guided-tour`, `guided tours`, `walking-tour`, any case), or a museum (the
/// category or a tag `museum`), where visits are guided.
pub fn guided_tour_available(category: &str, tags: &[String]) -> bool {
    let fold = |s: &str| s.trim().to_lowercase().replace(['-', '_'], " ");
    fold(category) == "museum"
        || tags
            .iter()
            .map(|t| fold(t))
            .any(|t| t == "museum" || t.starts_with("guided tour") || t.starts_with("walking tour"))
}

macro_rules! attraction_columns {
    () => {
        "a.id, a.city_id, a.name, a.description, a.description_fr, a.category, a.rating, \
         a.opening_hours, a.entry_fee, ST_Y(a.location) AS latitude, \
         ST_X(a.location) AS longitude, a.accuracy_meters, a.location_recorded_at, a.tags"
    };
}

macro_rules! located_attractions {
    () => {
        "(SELECT at.id, at.city_id, at.name, at.description, at.description_fr, at.category,
                COALESCE(rv.average, at.rating) AS rating, at.opening_hours, at.entry_fee,
                at.location, at.accuracy_meters, at.location_recorded_at, at.tags
         FROM attractions at
         LEFT JOIN LATERAL (SELECT round(avg(r.rating), 1)::float8 AS average
                            FROM reviews r WHERE r.attraction_id = at.id) rv ON TRUE
         WHERE at.location IS NOT NULL)"
    };
}

/// The attractions the API serves, as a table expression: `FROM {ATTRACTIONS} a`.
/// Only those with a location; `rating` is the average of the attraction's
/// reviews rounded to one decimal, or the published rating while it has none,
/// so `WHERE`/`ORDER BY a.rating` see what is served. (Postgres pulls the
/// subquery up, so the indexes on `attractions` still serve it.)
pub const ATTRACTIONS: &str = located_attractions!();

/// Every [`Attraction`] column of `{ATTRACTIONS} a`, for queries that add
/// their own `FROM`.
pub const ATTRACTION_COLUMNS: &str = attraction_columns!();

/// `SELECT` of every [`Attraction`] column from [`ATTRACTIONS`] as `a`; add
/// `WHERE`/`ORDER BY`.
pub const SELECT_ATTRACTIONS: &str = concat!(
    "SELECT ",
    attraction_columns!(),
    " FROM ",
    located_attractions!(),
    " AS a"
);

impl<'r> FromRow<'r, PgRow> for Attraction {
    fn from_row(row: &'r PgRow) -> Result<Self, sqlx::Error> {
        let coordinates = Coordinates {
            latitude: row.try_get("latitude")?,
            longitude: row.try_get("longitude")?,
        };
        let city_id: String = row.try_get("city_id")?;
        let category: String = row.try_get("category")?;
        let opening_hours: String = row.try_get("opening_hours")?;
        let entry_fee: String = row.try_get("entry_fee")?;
        let tags: Vec<String> = row.try_get("tags")?;
        Ok(Self {
            app: AppAttractionFields {
                city_id: city_id.clone(),
                coordinates,
                image_urls: Vec::new(),
                opening_hours: OpeningHours::every_day(&opening_hours),
                contact_info: ContactInfo::default(),
                estimated_cost: estimated_cost(&entry_fee),
                guided_tour_available: guided_tour_available(&category, &tags),
                reviews: Vec::new(),
            },
            id: row.try_get("id")?,
            city_id,
            name: row.try_get("name")?,
            description: row.try_get("description")?,
            descriptions: None,
            description_fr: row.try_get("description_fr")?,
            category,
            rating: row.try_get("rating")?,
            opening_hours,
            entry_fee,
            location: Location {
                latitude: coordinates.latitude,
                longitude: coordinates.longitude,
                accuracy_meters: row.try_get("accuracy_meters")?,
                recorded_at: row.try_get("location_recorded_at")?,
            },
            tags,
        })
    }
}

/// A visitor's review of an attraction, in the app's field names.
#[derive(Debug, Serialize, FromRow, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Review {
    #[schema(value_type = String, example = "0b6f6d8e-2a57-4a43-9d4c-6f1f4f2a9a11")]
    pub id: Uuid,
    pub user_id: String,
    /// The reviewer's public name (`users::public_name`: "Ada L."), else
    /// "Traveller"; never an e-mail or part of one.
    #[schema(example = "Ada L.")]
    #[sqlx(try_from = "crate::users::NameParts")]
    pub user_name: String,
    /// 1 to 5.
    #[schema(minimum = 1, maximum = 5)]
    #[schema(example = 4)]
    pub rating: i32,
    pub comment: String,
    /// When the review was last written.
    pub date: DateTime<Utc>,
    /// `http`/`https` image URLs.
    pub images: Vec<String>,
}

/// `SELECT` of every [`Review`] column from `reviews r`; add `WHERE`/`ORDER BY`.
pub const SELECT_REVIEWS: &str = concat!(
    "SELECT r.id, r.user_id, ",
    crate::name_parts_sql!("u", "Traveller"),
    " AS user_name, r.rating, r.comment, r.updated_at AS date, r.images
     FROM reviews r LEFT JOIN users u ON u.uid = r.user_id"
);

/// The reviews of `attraction_id`, newest first, skipping `offset`.
pub async fn reviews_of(
    db: impl PgExecutor<'_>,
    attraction_id: &str,
    limit: i64,
    offset: i64,
) -> Result<Vec<Review>, sqlx::Error> {
    let sql = format!(
        "{SELECT_REVIEWS} WHERE r.attraction_id = $1
         ORDER BY r.updated_at DESC, r.id LIMIT $2 OFFSET $3"
    );
    sqlx::query_as(&sql)
        .bind(attraction_id)
        .bind(limit)
        .bind(offset)
        .fetch_all(db)
        .await
}

/// Whether `attraction_id` is an attraction the API serves (one with a location).
pub async fn attraction_exists(
    db: impl PgExecutor<'_>,
    attraction_id: &str,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM attractions WHERE id = $1 AND location IS NOT NULL)",
    )
    .bind(attraction_id)
    .fetch_one(db)
    .await
}

/// An attraction a user saved, in the app's field names.
#[derive(Debug, Serialize, FromRow, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SavedAttraction {
    pub user_id: String,
    #[schema(example = "douala-waterfront")]
    pub attraction_id: String,
    /// When it was first saved.
    pub saved_date: DateTime<Utc>,
    pub notes: Option<String>,
}

/// The columns of [`SavedAttraction`] from `saved_attractions`.
pub const SAVED_COLUMNS: &str = "user_id, attraction_id, saved_at AS saved_date, notes";

/// Longest note on a saved attraction, in characters.
pub const MAX_NOTES: usize = 1000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_fees_become_xaf_amounts() {
        for (fee, cost) in [
            ("2000 XAF", Some(2000)),
            ("5,000 XAF", Some(5000)),
            ("  5 000 FCFA ", Some(5000)),
            ("xaf 750", Some(750)),
            ("1500", Some(1500)),
            ("Free", Some(0)),
            ("FREE", Some(0)),
            ("20 USD", None),
            ("Donations welcome", None),
            ("1000-2000 XAF", None),
            ("XAF", None),
            ("", None),
            ("99999999999999999999999 XAF", None),
        ] {
            assert_eq!(estimated_cost(fee), cost, "{fee:?}");
        }
    }

    #[test]
    fn guided_tours_come_from_tags_or_museums() {
        let tags = |t: &[&str]| t.iter().map(ToString::to_string).collect::<Vec<_>>();
        assert!(guided_tour_available(
            "culture",
            &tags(&["palace", "guided-tours"])
        ));
        assert!(guided_tour_available("culture", &tags(&["Guided Tour"])));
        assert!(guided_tour_available("culture", &tags(&["walking-tour"])));
        assert!(guided_tour_available("culture", &tags(&["museum", "art"])));
        assert!(guided_tour_available("Museum", &[]));
        assert!(!guided_tour_available(
            "nature",
            &tags(&["hiking", "tours"])
        ));
    }

    #[test]
    fn descriptions_follow_the_language_and_fall_back_to_english() {
        let city = |fr: Option<&str>| City {
            id: "douala".into(),
            name: "Douala".into(),
            country: "Cameroon".into(),
            description: "Economic capital".into(),
            descriptions: None,
            population: 1,
            description_fr: fr.map(Into::into),
        };
        let plain = Translations::default();
        let both = Translations { translations: true };
        let fr = Some("Capitale économique");
        assert_eq!(
            city(fr).localized(Lang::Fr, plain).description,
            "Capitale économique"
        );
        assert_eq!(
            city(fr).localized(Lang::En, plain).description,
            "Economic capital"
        );
        for untranslated in [None, Some(""), Some("  ")] {
            let c = city(untranslated).localized(Lang::Fr, both);
            assert_eq!(c.description, "Economic capital", "{untranslated:?}");
            assert_eq!(c.descriptions.unwrap().fr, "Economic capital");
        }
        let c = city(fr).localized(Lang::Fr, both);
        assert_eq!(
            c.descriptions,
            Some(Descriptions {
                en: "Economic capital".into(),
                fr: "Capitale économique".into()
            })
        );
        let served = serde_json::to_value(city(fr).localized(Lang::En, plain)).unwrap();
        assert_eq!(served.get("descriptions"), None, "only when asked for");
        assert_eq!(
            served.get("description_fr"),
            None,
            "never as a field of its own"
        );
    }

    #[test]
    fn opening_hours_repeat_every_day() {
        let week = OpeningHours::every_day("08:00-18:00");
        assert_eq!(
            (week.monday.open.as_str(), week.sunday.close.as_str()),
            ("08:00", "18:00")
        );
        assert!(!week.wednesday.closed);
        assert!(OpeningHours::every_day("by appointment").friday.closed);
    }
}
