//! Quartier's HTTP face: the axum router, authentication, the error envelope, the OpenAPI
//! document and the embedded web front end. The only crate that knows HTTP.

use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::trace::TraceLayer;
use utoipa::openapi::OpenApi as OpenApiDoc;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_swagger_ui::SwaggerUi;

pub mod broadcast;
pub mod error;
pub mod extract;
pub mod idempotency;
pub mod insights;
pub mod limit;
pub mod matcher;
pub mod money;
pub mod process;
pub mod routes;
pub mod security;
pub mod state;
mod web;

pub use error::{ApiError, Problem};
pub use security::{PasswordCost, Passwords};
pub use state::{ApiConfig, AppState};

/// Largest request body accepted (bigger is 413 `body_too_large`).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

#[derive(OpenApi)]
#[openapi(
    info(title = "Quartier API", description = "Neighbourhood helpers for small tech jobs: book, match, price, notify."),
    modifiers(&BearerAuth),
    components(schemas(Problem)),
    tags((name = "auth"), (name = "catalog"), (name = "helpers"), (name = "matching"), (name = "bookings"), (name = "pricing"), (name = "notifications"), (name = "vetting"), (name = "disputes"), (name = "ops"))
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut OpenApiDoc) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        );
    }
}

/// The OpenAPI 3.1 document and the routes it describes.
pub fn api_parts() -> (Router<AppState>, OpenApiDoc) {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(routes::auth::router())
        .merge(routes::catalog::router())
        .merge(routes::helpers::router())
        .merge(routes::matching::router())
        .merge(routes::bookings::router())
        .merge(routes::conversation::router())
        .merge(routes::feed::router())
        .merge(routes::links::router())
        .merge(routes::money::router())
        .merge(routes::ops::router())
        .merge(routes::vetting::router())
        .merge(routes::outbox::router())
        .merge(routes::disputes::router())
        .merge(routes::insights::router())
        .merge(routes::account::router())
        .merge(routes::reset::router())
        .split_for_parts()
}

/// The whole application: API, docs, web front end, and the layers around them.
pub fn router(state: AppState) -> Router {
    let (api, doc) = api_parts();
    api.merge(SwaggerUi::new("/docs").url("/openapi.json", doc))
        .fallback(web::fallback)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), idempotency::layer))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn(record_metrics))
        .layer(CatchPanicLayer::custom(|_: Box<dyn std::any::Any + Send>| {
            ApiError::internal(anyhow::anyhow!("handler panicked")).into_response()
        }))
        .layer(TraceLayer::new_for_http())
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .layer(SetSensitiveRequestHeadersLayer::new([axum::http::header::AUTHORIZATION, axum::http::header::COOKIE]))
        .with_state(state)
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "This path does not accept that method.")
}

async fn record_metrics(req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned()).unwrap_or_else(|| "unmatched".to_owned());
    let method = req.method().to_string();
    let started = Instant::now();
    let res = next.run(req).await;
    let status = res.status().as_u16().to_string();
    let labels = [("method", method), ("route", route), ("status", status)];
    metrics::counter!("http_requests_total", &labels).increment(1);
    metrics::histogram!("http_request_duration_seconds", &labels).record(started.elapsed().as_secs_f64());
    res
}
