//! `GET /api/travels/{route_id}/attractions?within_km=5`: attractions within
//! a distance of a route's road, nearest first, measured on the spheroid;
//! described in the caller's language.

use domain::tourism::{ATTRACTION_COLUMNS, ATTRACTIONS, Attraction, Translations};
use domain::travel::route_not_found;
use shared::prelude::*;
use std::sync::LazyLock;

/// This function: its route and manifest.
pub fn function() -> Function {
    shared::function!(OpenApiRouter::new().routes(routes!(route_attractions)))
}

/// How far from the road to look.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct Within {
    /// Kilometres, above 0 and at most 50 (default 5).
    #[serde(default = "five")]
    within_km: f64,
}

fn five() -> f64 {
    5.0
}

impl Validate for Within {
    fn validate(&self) -> Vec<FieldError> {
        Validator::query()
            .range("within_km", self.within_km, 0.0, 50.0)
            .positive("within_km", self.within_km)
            .finish()
    }
}

/// An attraction and its distance from the road.
#[derive(Serialize, ToSchema, sqlx::FromRow)]
struct RouteAttraction {
    #[serde(flatten)]
    #[sqlx(flatten)]
    attraction: Attraction,
    /// Kilometres from the nearest point of the road.
    distance_km: f64,
}

/// The attractions along one route.
#[derive(Serialize, ToSchema)]
struct RouteAttractions {
    route_id: String,
    within_km: f64,
    /// Nearest first.
    attractions: Vec<RouteAttraction>,
}

/// The road of a departure, else of a schedule, by id: one row when the route
/// exists (its geometry may be null).
const ROUTE_ROAD: &str = "SELECT geometry::geography AS road FROM travel_routes WHERE id = $1
     UNION ALL SELECT geometry::geography FROM route_schedules WHERE id = $1";

static NEAR_ROAD: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH route AS ({ROUTE_ROAD} LIMIT 1)
         SELECT {ATTRACTION_COLUMNS}, ST_Distance(a.location::geography, route.road) / 1000.0 AS distance_km
         FROM {ATTRACTIONS} a, route
         WHERE ST_DWithin(a.location::geography, route.road, $2 * 1000.0)
         ORDER BY distance_km, a.id"
    )
});

/// Attractions within `within_km` of the route's road; 404 for an unknown route.
///
/// `description` is in the caller's language; `?translations=true` adds
/// `descriptions` in each language.
#[utoipa::path(get, path = "/api/travels/{route_id}/attractions", tag = "Travel",
    params(("route_id" = String, Path, example = "route-yaounde-douala-morning"), Within,
        Translations),
    responses((status = 200, body = RouteAttractions), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn route_attractions(
    State(ReadDb(db)): State<ReadDb>,
    Path(route_id): Path<String>,
    lang: Lang,
    Query(Within { within_km }): Query<Within>,
    Query(translations): Query<Translations>,
) -> ApiResult<Json<RouteAttractions>> {
    let exists = sqlx::query(&format!("{ROUTE_ROAD} LIMIT 1"))
        .bind(&route_id)
        .fetch_optional(&db)
        .await?
        .is_some();
    if !exists {
        return Err(route_not_found());
    }
    let attractions: Vec<RouteAttraction> = sqlx::query_as(NEAR_ROAD.as_str())
        .bind(&route_id)
        .bind(within_km)
        .fetch_all(&db)
        .await?;
    let attractions = attractions
        .into_iter()
        .map(|r| RouteAttraction {
            attraction: r.attraction.localized(lang, translations),
            ..r
        })
        .collect();
    Ok(Json(RouteAttractions {
        route_id,
        within_km,
        attractions,
    }))
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};
    use shared::testing::{TestApp, pluck, send};

    /// Each attraction's distance to the road, computed apart from the handler's query.
    async fn distances(app: &TestApp, schedule: &str) -> Vec<(String, f64)> {
        sqlx::query_as(
            "SELECT a.id, ST_Distance(a.location::geography, s.geometry::geography) / 1000
             FROM attractions a, route_schedules s WHERE s.id = $1 ORDER BY 2, a.id",
        )
        .bind(schedule)
        .fetch_all(&app.state.db)
        .await
        .unwrap()
    }

    fn ids(body: &Value) -> Vec<&str> {
        pluck(&body["attractions"], "id")
    }

    #[tokio::test]
    async fn lists_attractions_along_the_road_nearest_first() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let departure: String = sqlx::query_scalar(
            "SELECT id FROM travel_routes WHERE schedule_id = 'route-yaounde-douala-morning' LIMIT 1",
        )
        .fetch_one(&app.state.db)
        .await
        .unwrap();
        let (status, body) = send(app.get(&format!("/api/travels/{departure}/attractions"))).await;
        assert_eq!(status, 200);
        let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["attractions", "route_id", "within_km"]);
        assert_eq!(body["route_id"], departure.as_str());
        assert_eq!(body["within_km"], 5.0);

        let expected: Vec<(String, f64)> = distances(&app, "route-yaounde-douala-morning")
            .await
            .into_iter()
            .filter(|(_, d)| *d <= 5.0)
            .collect();
        assert!(!expected.is_empty());
        let want: Vec<&str> = expected.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(ids(&body), want);
        let mut last = 0.0;
        for (r, (_, d)) in body["attractions"]
            .as_array()
            .unwrap()
            .iter()
            .zip(&expected)
        {
            let km = r["distance_km"].as_f64().unwrap();
            assert!(km >= last && km <= 5.0, "nearest first, within 5 km");
            assert!((km - d).abs() < 1e-6);
            last = km;
            assert!(
                r["location"]["latitude"].is_f64(),
                "attraction fields flattened in"
            );
            assert!(r["name"].is_string() && r["tags"].is_array());
        }
        assert!(
            !ids(&body).contains(&"buea-mount-cameroon"),
            "far from this road"
        );
    }

    #[tokio::test]
    async fn a_schedule_id_and_within_km_work_too() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let (_, narrow) =
            send(app.get("/api/travels/route-douala-buea-morning/attractions?within_km=1")).await;
        let (_, wide) =
            send(app.get("/api/travels/route-douala-buea-morning/attractions?within_km=50")).await;
        let all = distances(&app, "route-douala-buea-morning").await;
        let count = |km: f64| all.iter().filter(|(_, d)| *d <= km).count();
        assert_eq!(ids(&narrow).len(), count(1.0));
        assert_eq!(ids(&wide).len(), count(50.0));
        assert!(ids(&wide).len() > ids(&narrow).len());
        assert_eq!(wide["within_km"], 50.0);
    }

    #[tokio::test]
    async fn unknown_route_is_404_and_bad_distances_422() {
        let app =
            TestApp::spawn_with(vec![super::function()], &[("RATE_LIMIT_ANONYMOUS", "1000")]).await;
        let (status, body) = send(app.get("/api/travels/nope/attractions")).await;
        assert_eq!(status, 404);
        assert_eq!(body["message"], "Route not found");
        for q in [
            "within_km=0",
            "within_km=51",
            "within_km=-1",
            "within_km=x",
            "within_km=NaN",
        ] {
            let (status, body) = send(app.get(&format!(
                "/api/travels/route-douala-buea-morning/attractions?{q}"
            )))
            .await;
            assert_eq!(status, 422, "{q}");
            assert_eq!(body["detail"][0]["loc"], json!(["query", "within_km"]));
        }
        let (status, _) = send(app.get("/api/travels/a%00b/attractions")).await;
        assert_eq!(status, 422);
    }

    #[tokio::test]
    async fn descriptions_follow_the_callers_language() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let path = "/api/travels/route-douala-buea-morning/attractions?within_km=50";
        let (_, english) = send(app.get(path)).await;
        let (status, french) = send(
            app.get(&format!("{path}&translations=true"))
                .header("accept-language", "fr-CM"),
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(ids(&french), ids(&english));
        let mount = |body: &Value| {
            body["attractions"]
                .as_array()
                .unwrap()
                .iter()
                .find(|a| a["id"] == "buea-mount-cameroon")
                .cloned()
                .unwrap()
        };
        let en = mount(&english)["description"].clone();
        let fr = mount(&french);
        let text = fr["description"].as_str().unwrap();
        assert!(
            text.starts_with("La plus haute montagne d’Afrique"),
            "{text}"
        );
        assert_eq!(fr["descriptions"], json!({"en": en, "fr": text}));
        assert_eq!(fr["distance_km"], mount(&english)["distance_km"]);
    }

    #[tokio::test]
    async fn a_route_without_a_road_has_no_attractions() {
        let app = TestApp::spawn(vec![super::function()]).await;
        sqlx::query("UPDATE route_schedules SET geometry = NULL WHERE id = 'route-buea-yaounde'")
            .execute(&app.state.db)
            .await
            .unwrap();
        let (status, body) = send(app.get("/api/travels/route-buea-yaounde/attractions")).await;
        assert_eq!(status, 200);
        assert_eq!(body["attractions"], json!([]));
    }
}
