//! Links in e-mails: a signed, expiring token lets its recipient take one step (accept a request)
//! without signing in. Opening the link only shows what it would do: mail scanners fetch links,
//! so the step itself needs the POST of the page's button. The step goes through the same booking
//! process as every other entry point.

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use quartier_booking::{Action, Actor};
use quartier_store::{StoreError, bookings, requests};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ApiResult};
use crate::process;
use crate::state::AppState;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(show, follow))
}

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><link rel=\"stylesheet\" href=\"/app.css\"></head><body><main class=\"link-page\"><h1>{title}</h1>{body}</main></body></html>"
    );
    (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response()
}

use crate::money::escape_html as escape;

async fn describe(app: &AppState, booking: &str) -> ApiResult<String> {
    let mut conn = app.store().pool().acquire().await.map_err(StoreError::from)?;
    if let Some(b) = bookings::get(&mut conn, booking).await? {
        return Ok(format!("{} ({})", b.service_name, b.state));
    }
    let r = requests::get(&mut conn, booking).await?.ok_or_else(|| ApiError::not_found("booking"))?;
    Ok(r.service_name)
}

/// What a link would do, with a button to do it.
#[utoipa::path(get, path = "/v1/links/{token}", tag = "notifications", params(("token" = String, Path)),
    responses((status = 200, content_type = "text/html", body = String), (status = 401, content_type = "text/html", body = String)))]
async fn show(State(app): State<AppState>, Path(token): Path<String>) -> Response {
    let link = match app.tokens().verify_link(&token) {
        Ok(l) => l,
        Err(e) => return page(StatusCode::UNAUTHORIZED, "This link cannot be used", &format!("<p>{}</p>", escape(&e.detail()))),
    };
    let what = describe(&app, &link.booking).await.unwrap_or_else(|_| "this booking".into());
    page(
        StatusCode::OK,
        "Accept this request?",
        &format!(
            "<p>{}</p><form method=\"post\" action=\"/v1/links/{}\"><button type=\"submit\">Accept</button></form>",
            escape(&what),
            escape(&token)
        ),
    )
}

/// Takes the link's step as the person it was sent to.
#[utoipa::path(post, path = "/v1/links/{token}", tag = "notifications", params(("token" = String, Path)),
    responses((status = 200, content_type = "text/html", body = String), (status = 401, content_type = "text/html", body = String),
              (status = 409, content_type = "text/html", body = String)))]
async fn follow(State(app): State<AppState>, Path(token): Path<String>) -> Response {
    let link = match app.tokens().verify_link(&token) {
        Ok(l) => l,
        Err(e) => return page(StatusCode::UNAUTHORIZED, "This link cannot be used", &format!("<p>{}</p>", escape(&e.detail()))),
    };
    if link.action != "accept" {
        return page(StatusCode::BAD_REQUEST, "Unknown link", "<p>Open the booking in the app instead.</p>");
    }
    let user = link.user.to_string();
    let result = async {
        let mut conn = app.store().pool().acquire().await.map_err(StoreError::from)?;
        let booking = bookings::get(&mut conn, &link.booking).await?;
        drop(conn);
        match booking {
            Some(b) if b.helper_id == user => {
                let who = process::Who { actor: Actor::Helper, id: Some(user.clone()) };
                process::apply(&app, &b.id, &who, Action::Accept, &process::Input::default()).await.map(|_| ())
            }
            Some(_) => Err(ApiError::conflict("already_taken", "Another helper took this request first.")),
            None => crate::broadcast::accept(&app, &link.booking, &user).await.map(|_| ()),
        }
    }
    .await;
    match result {
        Ok(()) => page(StatusCode::OK, "Accepted", "<p>The customer has been told. The address is in the app under your bookings.</p>"),
        Err(e) => page(e.status(), "Not accepted", &format!("<p>{}</p>", escape(&e.detail()))),
    }
}
