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
pub mod reputation;
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
    tags((name = "auth"), (name = "catalog"), (name = "helpers"), (name = "matching"), (name = "bookings"), (name = "pricing"), (name = "notifications"), (name = "vetting"), (name = "disputes"), (name = "reputation"), (name = "ops"))
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

/// What every operation can answer besides its own outcomes, added to the document where an
/// operation's annotation leaves it out: 401 when it needs a token, 400 when it takes parameters
/// or a body, 413 and 415 when it takes a JSON body. Every problem is `application/problem+json`
/// (the content type `ApiError` sends), also where an annotation says `body = Problem` only.
/// And every named object schema is closed (see [`close_objects`]).
struct CommonProblems;

impl CommonProblems {
    fn problem(description: &str) -> utoipa::openapi::RefOr<utoipa::openapi::Response> {
        utoipa::openapi::ResponseBuilder::new()
            .description(description)
            .content(PROBLEM_JSON, utoipa::openapi::Content::new(Some(utoipa::openapi::Ref::from_schema_name("Problem"))))
            .build()
            .into()
    }

    fn operation(op: &mut utoipa::openapi::path::Operation, path_params: bool) {
        use utoipa::openapi::RefOr;
        use utoipa::openapi::path::ParameterIn;
        let responses = &mut op.responses.responses;
        for response in responses.values_mut() {
            let RefOr::T(response) = response else { continue };
            let is_problem = |c: &RefOr<utoipa::openapi::Content>| matches!(c, RefOr::T(c) if matches!(&c.schema, Some(RefOr::Ref(r)) if r.ref_location.ends_with("/Problem")));
            if response.content.get("application/json").is_some_and(is_problem)
                && let Some(content) = response.content.shift_remove("application/json")
            {
                response.content.insert(PROBLEM_JSON.to_owned(), content);
            }
        }
        let mut add = |status: &str, description: &str| {
            responses.entry(status.to_owned()).or_insert_with(|| Self::problem(description));
        };
        if op.security.as_ref().is_some_and(|s| !s.is_empty()) {
            add("401", "unauthenticated, invalid_token: no valid `Authorization: Bearer` access token");
        }
        let params = path_params
            || op
                .parameters
                .iter()
                .flatten()
                .any(|p| matches!(p, RefOr::T(p) if matches!(p.parameter_in, ParameterIn::Query | ParameterIn::Path)));
        if params || op.request_body.is_some() {
            add("400", "invalid_query, invalid_body, malformed_json, unknown_field: the request does not fit the schema");
        }
        let json_body = match &op.request_body {
            Some(RefOr::T(body)) => body.content.contains_key("application/json"),
            Some(RefOr::Ref(_)) => true,
            None => false,
        };
        if json_body {
            add("413", "body_too_large: the body is larger than 64 KiB");
            add("415", "unsupported_media_type: the body is not sent as `application/json`");
        }
    }
}

const PROBLEM_JSON: &str = "application/problem+json";

/// The names of the component schemas that are a part of an `allOf` (`#[serde(flatten)]`): they
/// stay open, or the fields of the other parts would not be allowed.
fn all_of_parts(schema: &utoipa::openapi::schema::Schema, parts: &mut std::collections::BTreeSet<String>) {
    use utoipa::openapi::RefOr;
    use utoipa::openapi::schema::{AdditionalProperties, ArrayItems, Schema};
    let mut inner = |s: &RefOr<Schema>| match s {
        RefOr::T(s) => all_of_parts(s, parts),
        RefOr::Ref(_) => {}
    };
    match schema {
        Schema::AllOf(a) => {
            for item in &a.items {
                match item {
                    RefOr::Ref(r) => {
                        parts.insert(r.ref_location.rsplit('/').next().unwrap_or_default().to_owned());
                    }
                    RefOr::T(s) => all_of_parts(s, parts),
                }
            }
        }
        Schema::Object(o) => {
            o.properties.values().for_each(&mut inner);
            if let Some(AdditionalProperties::RefOr(s)) = o.additional_properties.as_deref() {
                inner(s);
            }
        }
        Schema::Array(a) => {
            if let ArrayItems::RefOrSchema(items) = &a.items {
                inner(items);
            }
        }
        Schema::OneOf(o) => o.items.iter().for_each(&mut inner),
        Schema::AnyOf(o) => o.items.iter().for_each(&mut inner),
        _ => {}
    }
}

/// `additionalProperties: false` on every object with named properties that does not say
/// otherwise: a response carries exactly the fields the document names, and a request body with
/// any other field is refused (the DTOs `deny_unknown_fields`). Not inside `allOf`, where each
/// part names only some of the fields.
fn close_objects(schema: &mut utoipa::openapi::schema::Schema) {
    use utoipa::openapi::RefOr;
    use utoipa::openapi::schema::{AdditionalProperties, ArrayItems, Schema};
    let mut inner = |s: &mut RefOr<Schema>| {
        if let RefOr::T(s) = s {
            close_objects(s);
        }
    };
    match schema {
        Schema::Object(o) => {
            if !o.properties.is_empty() && o.additional_properties.is_none() {
                o.additional_properties = Some(Box::new(AdditionalProperties::FreeForm(false)));
            }
            o.properties.values_mut().for_each(&mut inner);
            if let Some(additional) = o.additional_properties.as_deref_mut()
                && let AdditionalProperties::RefOr(s) = additional
            {
                inner(s);
            }
        }
        Schema::Array(a) => {
            if let ArrayItems::RefOrSchema(items) = &mut a.items {
                inner(items);
            }
        }
        Schema::OneOf(o) => o.items.iter_mut().for_each(&mut inner),
        Schema::AnyOf(o) => o.items.iter_mut().for_each(&mut inner),
        _ => {}
    }
}

impl Modify for CommonProblems {
    fn modify(&self, openapi: &mut OpenApiDoc) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            let path_params = path.contains('{');
            for op in [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.options,
                &mut item.head,
                &mut item.patch,
                &mut item.trace,
            ]
            .into_iter()
            .flatten()
            {
                Self::operation(op, path_params);
            }
        }
        if let Some(components) = openapi.components.as_mut() {
            let mut parts = std::collections::BTreeSet::new();
            for schema in components.schemas.values() {
                if let utoipa::openapi::RefOr::T(schema) = schema {
                    all_of_parts(schema, &mut parts);
                }
            }
            for (name, schema) in components.schemas.iter_mut() {
                if let utoipa::openapi::RefOr::T(schema) = schema
                    && !parts.contains(name)
                {
                    close_objects(schema);
                }
            }
        }
    }
}

/// The OpenAPI 3.1 document and the routes it describes.
pub fn api_parts() -> (Router<AppState>, OpenApiDoc) {
    let (api, mut doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
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
        .merge(routes::reputation::router())
        .split_for_parts();
    // Here, not in `modifiers(...)`: the paths arrive with the routes, after `ApiDoc::openapi()`.
    CommonProblems.modify(&mut doc);
    (api, doc)
}

/// The whole application: API, docs, web front end, and the layers around them.
pub fn router(state: AppState) -> Router {
    let (api, doc) = api_parts();
    api.merge(SwaggerUi::new("/docs").url("/openapi.json", doc))
        .fallback(web::fallback)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), idempotency::layer))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn(reject_nul_in_uri))
        .layer(middleware::from_fn_with_state(state.clone(), request_timeout))
        .layer(middleware::from_fn(record_metrics))
        .layer(CatchPanicLayer::custom(|_: Box<dyn std::any::Any + Send>| {
            ApiError::internal(anyhow::anyhow!("handler panicked")).into_response()
        }))
        // Spans name the method and the path only: query strings carry tokens (the stream's
        // `access_token`, calendar and link tokens) that logs must never keep.
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request| tracing::debug_span!("request", method = %req.method(), path = %req.uri().path())),
        )
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .layer(SetSensitiveRequestHeadersLayer::new([axum::http::header::AUTHORIZATION, axum::http::header::COOKIE]))
        .with_state(state)
}

/// A path or query with an encoded NUL (`%00`) is 400 `invalid_character` before any handler
/// sees it: ids and filters go to the database, and PostgreSQL refuses NUL in text.
async fn reject_nul_in_uri(req: Request, next: Next) -> Response {
    let uri = req.uri();
    let has_nul = |s: &str| s.as_bytes().windows(3).any(|w| w == b"%00");
    if has_nul(uri.path()) || uri.query().is_some_and(has_nul) {
        return extract::nul_character().into_response();
    }
    next.run(req).await
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "This path does not accept that method.")
}

/// Answers 503 `request_timeout` (with `Retry-After`) when no response head is ready within the
/// configured timeout, so no client waits longer (a database that hangs, a pool that is empty).
/// The limit covers the head only: a live stream's body may last. Handlers behind an
/// `Idempotency-Key` run on their own task and finish (and store their answer) anyway; others are
/// dropped, which rolls back their open transaction.
async fn request_timeout(axum::extract::State(state): axum::extract::State<AppState>, req: Request, next: Next) -> Response {
    let limit = state.config().request_timeout;
    if limit.is_zero() {
        return next.run(req).await;
    }
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(res) => res,
        Err(_) => ApiError::request_timeout(limit).into_response(),
    }
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
