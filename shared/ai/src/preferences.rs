//! `user_preferences` of the departure estimates: a known, bounded shape.
//! The estimate is logged with its input in `ai_predictions`, so what a
//! caller may put there is limited here (unknown keys, long strings and long
//! lists are a 422), not by the 1 MiB body limit.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use shared::error::FieldError;
use shared::extract::Validator;

use super::MESSAGES;

/// Most amenities a request may list.
pub const MAX_AMENITIES: usize = 10;
/// Longest amenity name.
pub const MAX_AMENITY_LEN: usize = 40;
/// Highest `max_price`, XAF.
pub const MAX_PRICE: f64 = 1_000_000.0;

/// `low`, `medium` or `high`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Low,
    Medium,
    High,
}

/// A part of the day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TimeOfDay {
    Morning,
    Afternoon,
    Evening,
    Night,
}

/// What a traveller prefers, every field optional (snake_case or the app's
/// camelCase); any other key is a 422. The windows do not depend on it yet:
/// it is kept with the logged prediction for later models.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TravelPreferences {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comfort: Option<Level>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budget: Option<Level>,
    /// Highest acceptable price per seat, XAF, 0 to 1 000 000.
    #[schema(minimum = 0, maximum = 1000000)]
    #[serde(alias = "maxPrice", skip_serializing_if = "Option::is_none")]
    pub max_price: Option<f64>,
    #[serde(alias = "preferredTime", skip_serializing_if = "Option::is_none")]
    pub preferred_time: Option<TimeOfDay>,
    /// Wanted amenities: at most 10, each at most 40 characters.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(max_items = 10)]
    pub amenities: Option<Vec<String>>,
    #[serde(alias = "avoidTraffic", skip_serializing_if = "Option::is_none")]
    pub avoid_traffic: Option<bool>,
}

impl TravelPreferences {
    /// The rules this value breaks, named under `field` (the request's name for it).
    pub fn validate(&self, field: &str) -> Vec<FieldError> {
        let amenities = self.amenities.as_deref().unwrap_or_default();
        let mut v = Validator::body()
            .check(
                amenities.len() <= MAX_AMENITIES,
                &format!("{field}.amenities"),
                MESSAGES
                    .text("ai-at-most-amenities")
                    .arg("max", MAX_AMENITIES),
            )
            .check(
                amenities
                    .iter()
                    .all(|a| !a.trim().is_empty() && a.chars().count() <= MAX_AMENITY_LEN),
                &format!("{field}.amenities"),
                MESSAGES
                    .text("ai-amenity-length")
                    .arg("min", 1)
                    .arg("max", MAX_AMENITY_LEN),
            );
        if let Some(price) = self.max_price {
            v = v.range(&format!("{field}.max_price"), price, 0.0, MAX_PRICE);
        }
        v.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<TravelPreferences, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn takes_the_known_shape_in_either_spelling() {
        let p = parse(r#"{"comfort":"high","maxPrice":5000,"preferred_time":"morning"}"#).unwrap();
        assert_eq!(p.comfort, Some(Level::High));
        assert_eq!(p.max_price, Some(5000.0));
        assert!(p.validate("user_preferences").is_empty());
        assert!(parse("{}").unwrap().validate("p").is_empty());
    }

    #[test]
    fn refuses_unknown_keys_values_and_oversized_lists() {
        assert!(parse(r#"{"comfort":"high","junk":"x"}"#).is_err());
        assert!(parse(r#"{"comfort":"luxurious"}"#).is_err());
        assert!(parse(r#"{"amenities":"wifi"}"#).is_err());
        let many = parse(&format!(r#"{{"amenities":{:?}}}"#, vec!["wifi"; 11])).unwrap();
        let refused = many.validate("user_preferences");
        assert_eq!(refused.len(), 1);
        assert_eq!(refused[0].msg, "must list at most 10 amenities");
        let long = parse(&format!(r#"{{"amenities":["{}"]}}"#, "a".repeat(41))).unwrap();
        assert_eq!(long.validate("user_preferences").len(), 1);
        let dear = parse(r#"{"max_price":1e9}"#).unwrap();
        assert_eq!(dear.validate("user_preferences").len(), 1);
    }
}
