//! Liveness, readiness and metrics for whoever runs Quartier.

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ApiResult, Problem};
use crate::state::AppState;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(healthz)).routes(routes!(readyz)).routes(routes!(metrics))
}

/// A short status.
#[derive(Debug, Serialize, ToSchema)]
pub struct Status {
    /// `ok`.
    status: &'static str,
    /// `sqlite` or `postgres` (readiness only).
    #[serde(skip_serializing_if = "Option::is_none")]
    database: Option<&'static str>,
}

/// The process is alive.
#[utoipa::path(get, path = "/healthz", tag = "ops", responses((status = 200, body = Status)))]
async fn healthz() -> Json<Status> {
    Json(Status { status: "ok", database: None })
}

/// The process can serve requests: the database answers.
#[utoipa::path(get, path = "/readyz", tag = "ops", responses((status = 200, body = Status), (status = 503, body = Problem)))]
async fn readyz(State(app): State<AppState>) -> ApiResult<Json<Status>> {
    // Not ready while the database is down or restarting: answer within a second either way.
    let ping = tokio::time::timeout(std::time::Duration::from_secs(1), app.store().ping()).await;
    let not_ready = |e: anyhow::Error| {
        ApiError::database_unavailable(e).with_code("not_ready").with_detail("The database does not answer; try again shortly.")
    };
    match ping {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(not_ready(e.into())),
        Err(_) => return Err(not_ready(anyhow::anyhow!("database ping timed out after 1 s"))),
    }
    Ok(Json(Status { status: "ok", database: Some(app.store().backend().as_str()) }))
}

/// Prometheus metrics: request counts and latency by route and status.
#[utoipa::path(get, path = "/metrics", tag = "ops", responses((status = 200, content_type = "text/plain", body = String)))]
async fn metrics(State(app): State<AppState>) -> impl IntoResponse {
    let body = app.metrics().map(|h| h.render()).unwrap_or_default();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body)
}
