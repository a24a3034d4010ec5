//! `GET /api/attractions/nearby?lat=&lon=&radius_km=`: attractions within a
//! radius of a point, nearest first, distances computed by PostGIS on the
//! spheroid; described in the caller's language.

use domain::tourism::{ATTRACTION_COLUMNS, ATTRACTIONS, Attraction, Translations};
use shared::prelude::*;

/// This function: its route and manifest.
pub fn function() -> Function {
    shared::function!(OpenApiRouter::new().routes(routes!(nearby_attractions)))
}

/// Where to look.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct Near {
    /// Latitude, -90 to 90.
    #[param(minimum = -90, maximum = 90)]
    lat: f64,
    /// Longitude, -180 to 180.
    #[param(minimum = -180, maximum = 180)]
    lon: f64,
    /// Search radius in kilometres, above 0 and at most 200 (default 5).
    #[serde(default = "default_radius")]
    radius_km: f64,
}

fn default_radius() -> f64 {
    5.0
}

impl Validate for Near {
    fn validate(&self) -> Vec<FieldError> {
        Validator::query()
            .range("lat", self.lat, -90.0, 90.0)
            .range("lon", self.lon, -180.0, 180.0)
            .range("radius_km", self.radius_km, 0.0, 200.0)
            .positive("radius_km", self.radius_km)
            .finish()
    }
}

/// An attraction and how far it is.
#[derive(Serialize, ToSchema, sqlx::FromRow)]
struct NearbyAttraction {
    #[serde(flatten)]
    #[sqlx(flatten)]
    attraction: Attraction,
    /// Distance from the point, in kilometres.
    distance_km: f64,
}

/// Nearest first.
#[derive(Serialize, ToSchema)]
struct NearbyResults {
    results: Vec<NearbyAttraction>,
}

/// Attractions within `radius_km` of (`lat`, `lon`), nearest first.
///
/// `description` is in the caller's language; `?translations=true` adds
/// `descriptions` in each language.
#[utoipa::path(get, path = "/api/attractions/nearby", tag = "Tourism", params(Near, Translations),
    responses((status = 200, body = NearbyResults), (status = 422, body = ErrorBody)))]
async fn nearby_attractions(
    State(ReadDb(db)): State<ReadDb>,
    lang: Lang,
    Query(near): Query<Near>,
    Query(translations): Query<Translations>,
) -> ApiResult<Json<NearbyResults>> {
    let sql = format!(
        "WITH here AS (SELECT ST_SetSRID(ST_MakePoint($2, $1), 4326)::geography AS g)
         SELECT {ATTRACTION_COLUMNS}, ST_Distance(a.location::geography, here.g) / 1000.0 AS distance_km
         FROM {ATTRACTIONS} a, here
         WHERE ST_DWithin(a.location::geography, here.g, $3 * 1000.0)
         ORDER BY distance_km, a.id"
    );
    let results: Vec<NearbyAttraction> = sqlx::query_as(&sql)
        .bind(near.lat)
        .bind(near.lon)
        .bind(near.radius_km)
        .fetch_all(&db)
        .await?;
    let results = results
        .into_iter()
        .map(|r| NearbyAttraction {
            attraction: r.attraction.localized(lang, translations),
            ..r
        })
        .collect();
    Ok(Json(NearbyResults { results }))
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};
    use shared::testing::{TestApp, pluck, send};

    /// Great-circle distance, an independent check of PostGIS's spheroid answer.
    fn haversine_km(a: (f64, f64), b: (f64, f64)) -> f64 {
        let (la1, lo1, la2, lo2) = (
            a.0.to_radians(),
            a.1.to_radians(),
            b.0.to_radians(),
            b.1.to_radians(),
        );
        let h = ((la2 - la1) / 2.0).sin().powi(2)
            + la1.cos() * la2.cos() * ((lo2 - lo1) / 2.0).sin().powi(2);
        2.0 * 6371.0 * h.sqrt().asin()
    }

    #[tokio::test]
    async fn finds_douala_attractions_nearest_first() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let here = (4.05, 9.76);
        let reference: Value = serde_json::from_str(shared::seed::REFERENCE_DATA).unwrap();
        let mut expected: Vec<(String, f64)> = reference["attractions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                let l = &a["location"];
                let d = haversine_km(
                    here,
                    (
                        l["latitude"].as_f64().unwrap(),
                        l["longitude"].as_f64().unwrap(),
                    ),
                );
                (a["id"].as_str().unwrap().to_owned(), d)
            })
            .filter(|(_, d)| *d <= 2.0)
            .collect();
        expected.sort_by(|a, b| a.1.total_cmp(&b.1));
        assert_eq!(
            expected.len(),
            4,
            "the fixture point should have 4 attractions within 2 km"
        );

        let (status, body) =
            send(app.get("/api/attractions/nearby?lat=4.05&lon=9.76&radius_km=2")).await;
        assert_eq!(status, 200);
        let results = body["results"].as_array().unwrap();
        let got = pluck(&body["results"], "id");
        let want: Vec<&str> = expected.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(got, want);
        for (r, (_, d)) in results.iter().zip(&expected) {
            let km = r["distance_km"].as_f64().unwrap();
            assert!((km - d).abs() / d < 0.01, "{km} vs {d}");
            assert!(
                r["location"]["latitude"].is_f64(),
                "attraction fields are flattened in"
            );
            assert_eq!(r["city_id"], "douala");
            assert_eq!(r["cityId"], "douala", "and the app's fields beside them");
            assert_eq!(r["coordinates"]["latitude"], r["location"]["latitude"]);
            assert_eq!(r["coordinates"]["longitude"], r["location"]["longitude"]);
            assert_eq!(r["reviews"], json!([]));
            assert_eq!(r["imageUrls"], json!([]));
            assert!(r["openingHours"]["sunday"]["open"].is_string());
            assert!(r["guidedTourAvailable"].is_boolean());
        }

        let (_, wide) = send(app.get("/api/attractions/nearby?lat=4.05&lon=9.76")).await;
        assert_eq!(
            wide["results"].as_array().unwrap().len(),
            5,
            "default radius 5 km covers Akwa too"
        );
    }

    #[tokio::test]
    async fn ratings_follow_reviews() {
        let app = TestApp::spawn(vec![super::function()]).await;
        sqlx::query("INSERT INTO users (uid) VALUES ('ada'), ('bob')")
            .execute(&app.state.db)
            .await
            .unwrap();
        sqlx::query(
            "INSERT INTO reviews (attraction_id, user_id, rating) VALUES
             ('douala-waterfront', 'ada', 3), ('douala-waterfront', 'bob', 4)",
        )
        .execute(&app.state.db)
        .await
        .unwrap();
        let (_, body) =
            send(app.get("/api/attractions/nearby?lat=4.052&lon=9.7679&radius_km=0.1")).await;
        assert_eq!(pluck(&body["results"], "id"), ["douala-waterfront"]);
        assert_eq!(body["results"][0]["rating"], 3.5);
    }

    #[tokio::test]
    async fn descriptions_follow_the_callers_language() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let near = "/api/attractions/nearby?lat=4.052&lon=9.7679&radius_km=0.1";
        let (_, english) = send(app.get(near)).await;
        let en = english["results"][0]["description"].as_str().unwrap();
        assert!(en.starts_with("Scenic harbor views"), "{en}");
        let (status, french) = send(
            app.get(&format!("{near}&translations=true"))
                .header("accept-language", "fr"),
        )
        .await;
        assert_eq!(status, 200);
        let waterfront = &french["results"][0];
        let fr = waterfront["description"].as_str().unwrap();
        assert!(fr.starts_with("De belles vues sur le port"), "{fr}");
        assert_eq!(waterfront["descriptions"], json!({"en": en, "fr": fr}));
        assert!(
            waterfront["distance_km"].is_f64(),
            "the distance is still there"
        );
    }

    #[tokio::test]
    async fn out_of_range_coordinates_are_422() {
        let app = TestApp::spawn(vec![super::function()]).await;
        for (query, field) in [
            ("lat=91&lon=9.7", "lat"),
            ("lat=4&lon=-181", "lon"),
            ("lat=4&lon=9&radius_km=0", "radius_km"),
            ("lat=4&lon=9&radius_km=1000", "radius_km"),
            ("lat=abc&lon=9", "lat"),
            ("lon=9", "lat"),
            ("lat=NaN&lon=9", "lat"),
        ] {
            let (status, body) = send(app.get(&format!("/api/attractions/nearby?{query}"))).await;
            assert_eq!(status, 422, "{query}");
            assert_eq!(body["detail"][0]["loc"], json!(["query", field]), "{query}");
        }
        let (_, body) = send(app.get("/api/attractions/nearby?lat=4&lon=9&radius_km=0")).await;
        assert_eq!(body["detail"][0]["msg"], "must be greater than 0");
    }
}
