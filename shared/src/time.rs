//! Date-times as requests carry them. The original backend's clients send
//! Python's `datetime.utcnow().isoformat()` (`2026-12-04T03:12:02.363237`, no
//! offset, meaning UTC), the app sends JS `toISOString()` (`...Z`); both, and
//! any RFC 3339 offset, are accepted. A value that does not parse, or lies
//! outside years 1970 to 9999, fails deserialization, so the extractors answer
//! a 422 naming the field instead of letting Postgres refuse it later.

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{self, KnownFormat, ObjectBuilder, SchemaFormat};
use utoipa::{PartialSchema, ToSchema};

/// Earliest and latest years a request may name.
const YEARS: std::ops::RangeInclusive<i32> = 1970..=9999;

/// Longest text taken as a date-time (RFC 3339 with nanoseconds and an offset is 35).
const MAX_LEN: usize = 40;

/// An ISO 8601 date-time, with an offset or `Z` (`2026-12-04T03:12:02Z`,
/// `2026-12-04T04:12:02+01:00`), or without one, then read as UTC
/// (`2026-12-04T03:12:02.363237`, Python's `datetime.utcnow().isoformat()`).
/// A space may stand for the `T`; seconds may be left out without an offset.
/// Years 1970 to 9999; anything else is a 422 naming the field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub DateTime<Utc>);

/// A `departure_date`: a calendar day (`2026-12-04`) or a [`Timestamp`]
/// (`2026-12-04T11:00:00.000Z`, or without offset as UTC), whose
/// Africa/Douala calendar day is then meant. Years 1970 to 9999.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DepartureDate {
    /// A plain `YYYY-MM-DD`.
    Day(NaiveDate),
    /// An instant.
    At(DateTime<Utc>),
}

impl DepartureDate {
    /// The Africa/Douala calendar day meant (WAT, UTC+1 all year).
    pub fn douala_day(self) -> NaiveDate {
        match self {
            DepartureDate::Day(day) => day,
            DepartureDate::At(t) => t.with_timezone(&wat_offset()).date_naive(),
        }
    }
}

/// West Africa Time's offset (Africa/Douala: UTC+1 all year).
pub fn wat_offset() -> FixedOffset {
    FixedOffset::east_opt(3600).expect("one hour is a valid offset")
}

/// Parses a date-time as [`Timestamp`] describes; the error says why not.
pub fn parse_datetime(s: &str) -> Result<DateTime<Utc>, String> {
    const EXPECTED: &str = "must be an ISO 8601 date-time such as 2026-12-04T03:12:02Z \
                            or 2026-12-04T03:12:02.363237 (UTC without an offset)";
    if s.len() > MAX_LEN {
        return Err(EXPECTED.into());
    }
    let parsed = DateTime::parse_from_rfc3339(s)
        .map(|t| t.to_utc())
        .or_else(|_| naive(s).map(|t| t.and_utc()))
        .map_err(|_| EXPECTED.to_owned())?;
    in_range(parsed.year())?;
    Ok(parsed)
}

/// Parses a `departure_date` as [`DepartureDate`] describes.
pub fn parse_departure_date(s: &str) -> Result<DepartureDate, String> {
    if s.len() == 10 {
        let day = NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map_err(|_| "must be a date (YYYY-MM-DD) or an ISO 8601 date-time".to_owned())?;
        in_range(day.year())?;
        return Ok(DepartureDate::Day(day));
    }
    parse_datetime(s).map(DepartureDate::At).map_err(|e| {
        if e.starts_with("must be") {
            e.replacen("must be", "must be a date (YYYY-MM-DD) or", 1)
        } else {
            e
        }
    })
}

fn naive(s: &str) -> Result<NaiveDateTime, chrono::ParseError> {
    [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ]
    .iter()
    .map(|f| NaiveDateTime::parse_from_str(s, f))
    .reduce(Result::or)
    .expect("formats are listed")
}

fn in_range(year: i32) -> Result<(), String> {
    if YEARS.contains(&year) {
        Ok(())
    } else {
        Err(format!(
            "is out of range: the year must be between {} and {}",
            YEARS.start(),
            YEARS.end()
        ))
    }
}

/// Accepts a string (or, from a query string, text) and nothing else.
fn text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    String::deserialize(d)
}

/// The OpenAPI schema of a string field: `format`, the description and an example.
fn string_schema(
    format: Option<KnownFormat>,
    description: &str,
    example: &str,
) -> RefOr<schema::Schema> {
    let object = ObjectBuilder::new()
        .schema_type(schema::Type::String)
        .format(format.map(SchemaFormat::KnownFormat))
        .description(Some(description))
        .examples([serde_json::Value::from(example)]);
    RefOr::T(schema::Schema::Object(object.build()))
}

impl PartialSchema for Timestamp {
    fn schema() -> RefOr<schema::Schema> {
        string_schema(
            Some(KnownFormat::DateTime),
            "An ISO 8601 date-time with an offset or `Z` (`2026-12-04T03:12:02Z`), or without \
             one, read as UTC (`2026-12-04T03:12:02.363237`, Python's \
             `datetime.utcnow().isoformat()`); a space may replace the `T`. Years 1970 to \
             9999; anything else is a 422 naming the field.",
            "2026-12-04T03:12:02.363237",
        )
    }
}

impl ToSchema for Timestamp {}

impl PartialSchema for DepartureDate {
    fn schema() -> RefOr<schema::Schema> {
        string_schema(
            None,
            "A calendar day `YYYY-MM-DD`, or an ISO 8601 date-time (with an offset or `Z`, \
             or without one, read as UTC) whose Africa/Douala calendar day is meant. Years \
             1970 to 9999; anything else is a 422 naming the field.",
            "2026-12-04T11:00:00.000Z",
        )
    }
}

impl ToSchema for DepartureDate {}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = text(d)?;
        parse_datetime(&s)
            .map(Timestamp)
            .map_err(serde::de::Error::custom)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de> Deserialize<'de> for DepartureDate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = text(d)?;
        parse_departure_date(&s).map_err(serde::de::Error::custom)
    }
}

impl Serialize for DepartureDate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            DepartureDate::Day(day) => day.serialize(s),
            DepartureDate::At(t) => t.serialize(s),
        }
    }
}

impl From<Timestamp> for DateTime<Utc> {
    fn from(t: Timestamp) -> Self {
        t.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    #[test]
    fn takes_offsets_z_and_no_offset_as_utc() {
        let t = utc("2026-12-04T03:12:02.363237Z");
        assert_eq!(parse_datetime("2026-12-04T03:12:02.363237"), Ok(t));
        assert_eq!(parse_datetime("2026-12-04T03:12:02.363237Z"), Ok(t));
        assert_eq!(parse_datetime("2026-12-04T04:12:02.363237+01:00"), Ok(t));
        assert_eq!(parse_datetime("2026-12-04 03:12:02.363237"), Ok(t));
        assert_eq!(
            parse_datetime("2026-12-04T03:12"),
            Ok(utc("2026-12-04T03:12:00Z"))
        );
        assert_eq!(
            parse_datetime("2026-12-04T03:12:02"),
            Ok(utc("2026-12-04T03:12:02Z"))
        );
    }

    #[test]
    fn refuses_malformed_and_out_of_range_values() {
        for bad in [
            "",
            "soon",
            "2026-12-04",
            "2026-02-30T00:00:00",
            "2026-12-04T25:00:00",
            "04/12/2026 03:12",
            "2026-12-04T03:12:02.363237+01:00 and more text after it",
        ] {
            assert!(parse_datetime(bad).is_err(), "{bad}");
        }
        for old in [
            "0000-01-01T00:00:00",
            "0000-01-01T00:00:00Z",
            "1969-12-31T23:59:59",
        ] {
            let err = parse_datetime(old).unwrap_err();
            assert!(err.contains("out of range"), "{old}: {err}");
        }
        let range = "is out of range: the year must be between 1970 and 9999";
        assert_eq!(parse_departure_date("0000-01-01").unwrap_err(), range);
        assert_eq!(
            parse_departure_date("0000-01-01T00:00:00").unwrap_err(),
            range
        );
        let bad = parse_departure_date("soon").unwrap_err();
        assert!(
            bad.starts_with("must be a date (YYYY-MM-DD) or an ISO 8601"),
            "{bad}"
        );
    }

    #[test]
    fn a_departure_date_means_its_douala_day() {
        let day = |s: &str| parse_departure_date(s).unwrap().douala_day().to_string();
        assert_eq!(day("2026-12-04"), "2026-12-04");
        assert_eq!(day("2026-12-04T23:30:00.000Z"), "2026-12-05");
        assert_eq!(day("2026-12-04T23:30:00"), "2026-12-05");
        assert_eq!(day("2026-12-04T22:59:59+00:00"), "2026-12-04");
        assert!(parse_departure_date("27/11/2026").is_err());
        assert!(parse_departure_date("2026-02-30").is_err());
    }

    #[test]
    fn deserializes_from_json_and_names_the_field_when_it_cannot() {
        #[derive(Deserialize)]
        struct Body {
            #[allow(dead_code)]
            current_time: Option<Timestamp>,
        }
        let ok: Body = serde_json::from_str(r#"{"current_time":"2026-12-04T03:12:02"}"#).unwrap();
        assert_eq!(
            ok.current_time,
            Some(Timestamp(utc("2026-12-04T03:12:02Z")))
        );
        let none: Body = serde_json::from_str(r#"{"current_time":null}"#).unwrap();
        assert!(none.current_time.is_none());
        let mut de =
            serde_json::Deserializer::from_str(r#"{"current_time":"0000-01-01T00:00:00"}"#);
        let err = serde_path_to_error::deserialize::<_, Body>(&mut de)
            .err()
            .unwrap();
        assert_eq!(err.path().to_string(), "current_time");
        assert!(serde_json::from_str::<Body>(r#"{"current_time":12}"#).is_err());
    }

    #[test]
    fn serializes_as_rfc3339() {
        let t = Timestamp(utc("2026-12-04T03:12:02Z"));
        assert_eq!(serde_json::to_value(t).unwrap(), "2026-12-04T03:12:02Z");
        let d = DepartureDate::Day(NaiveDate::from_ymd_opt(2026, 12, 4).unwrap());
        assert_eq!(serde_json::to_value(d).unwrap(), "2026-12-04");
    }
}
