//! Quotes, helpers' billing details, payment, invoices with a Swiss QR-bill, receipts, earnings,
//! and the operators' policies and catalogue.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use quartier_booking::Actor;
use quartier_domain::{Money, Role};
use quartier_pricing::ledger::{self as pledger, Account, PaymentMethod};
use quartier_pricing::qrbill::{Address, Currency, LineEnding, QrBill, Reference};
use quartier_pricing::{Policy, Window};
use quartier_store::{StoreError, bookings, catalog, ledger, users};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{Body, Caller, Operator, Query};
use crate::money::{Visit, parse_quote, quote_for};
use crate::routes::bookings::visible;
use crate::routes::catalog::MoneyDto;
use crate::routes::helpers::Coordinates;
use crate::state::{AppState, now_ms};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(post_quote))
        .routes(routes!(get_billing, put_billing))
        .routes(routes!(pay))
        .routes(routes!(invoice))
        .routes(routes!(receipt))
        .routes(routes!(earnings))
        .routes(routes!(list_policies, publish_policy))
        .routes(routes!(update_service))
}

/// What to price.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuoteRequestDto {
    /// Catalogue slug.
    service: String,
    /// The customer's place (coordinates) ...
    #[serde(default)]
    location: Option<Coordinates>,
    /// ... or a postcode of the demo region.
    #[serde(default)]
    postcode: Option<String>,
    /// Start, RFC 3339.
    start: Timestamp,
    /// Length in minutes; default the service's standard duration (longer adds 30-minute units).
    #[serde(default)]
    duration: Option<u32>,
    /// Price with this helper (their distance and VAT status); default a typical 2-5 km trip.
    #[serde(default)]
    helper_id: Option<String>,
}

/// One line of a quote.
#[derive(Debug, Serialize, ToSchema)]
pub struct QuoteLineDto {
    /// `base`, `extra_units`, `travel`, `evening_surcharge`, `weekend_surcharge`, `urgent_surcharge`, `vat`, `platform_fee`.
    kind: &'static str,
    label: String,
    amount: MoneyDto,
}

/// An upfront price with its breakdown.
#[derive(Debug, Serialize, ToSchema)]
pub struct QuoteDto {
    total: MoneyDto,
    duration_minutes: u32,
    extra_units: u32,
    lines: Vec<QuoteLineDto>,
    /// The cancellation policy that would be pinned to a booking made now.
    policy: PolicyDto,
}

fn lines(q: &quartier_pricing::Quote) -> Vec<QuoteLineDto> {
    q.lines.iter().map(|l| QuoteLineDto { kind: l.kind.as_str(), label: l.label.clone(), amount: l.amount.into() }).collect()
}

/// Price a visit before booking it: base, extra units, travel, surcharges, VAT and fees.
#[utoipa::path(post, path = "/v1/quotes", tag = "pricing", request_body = QuoteRequestDto,
    responses((status = 200, body = QuoteDto), (status = 400, body = Problem, description = "unknown_service, invalid_coordinates, start_in_past, invalid_duration")))]
async fn post_quote(State(app): State<AppState>, Body(req): Body<QuoteRequestDto>) -> ApiResult<Json<QuoteDto>> {
    let place = match (&req.location, &req.postcode) {
        (Some(c), _) => Some(quartier_domain::GeoPoint::new(c.lat, c.lon)?),
        (None, Some(pc)) => Some(
            quartier_matching::postcodes::lookup(pc)
                .map(|(_, p)| p)
                .ok_or_else(|| ApiError::invalid("unknown_postcode", format!("`{pc}` is not a postcode of the demo region.")))?,
        ),
        (None, None) => None,
    };
    if req.start.as_millisecond() < now_ms() {
        return Err(ApiError::invalid("start_in_past", "The start must be in the future."));
    }
    let mut conn = app.store().pool().acquire().await.map_err(StoreError::from)?;
    let service = catalog::get(&mut conn, &req.service)
        .await?
        .ok_or_else(|| ApiError::invalid("unknown_service", format!("`{}` is not in the catalogue; see GET /v1/catalog.", req.service)))?;
    let duration = req.duration.unwrap_or(service.duration_minutes);
    if duration < service.duration_minutes || duration > service.duration_minutes + 30 * quartier_pricing::MAX_EXTRA_UNITS {
        return Err(ApiError::invalid("invalid_duration", "The duration is the standard one plus at most 8 extra 30-minute units."));
    }
    let extra_units = (duration - service.duration_minutes).div_ceil(30);
    let helper = match &req.helper_id {
        Some(h) => Some(
            h.parse::<quartier_domain::UserId>()
                .map_err(|_| ApiError::invalid("unknown_helper", "There is no helper with that id."))?
                .to_string(),
        ),
        None => None,
    };
    let zone = app.matcher_zone().clone();
    let q = quote_for(
        &app,
        &mut conn,
        Visit { service: &service, extra_units, helper: helper.as_deref(), place, start: req.start, zone: &zone },
    )
    .await?;
    let policy = crate::money::current_policy(&mut conn).await?;
    Ok(Json(QuoteDto {
        total: q.total.into(),
        duration_minutes: q.duration_minutes,
        extra_units: q.extra_units,
        lines: lines(&q),
        policy: policy_dto(&policy),
    }))
}

/// Where customers pay a helper's invoices, and whether the helper charges VAT.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BillingDto {
    /// Swiss or Liechtenstein IBAN (checked).
    iban: String,
    /// Whether the helper is registered for VAT (8.1% is then added to their prices).
    #[serde(default)]
    vat_registered: bool,
    street: String,
    #[serde(default)]
    house_number: String,
    postcode: String,
    town: String,
}

/// The signed-in helper's billing details.
#[utoipa::path(get, path = "/v1/helper/billing", tag = "pricing", security(("bearer" = [])),
    responses((status = 200, body = BillingDto), (status = 403, body = Problem, description = "forbidden: not a helper"), (status = 404, body = Problem)))]
async fn get_billing(State(app): State<AppState>, caller: Caller) -> ApiResult<Json<BillingDto>> {
    caller.require(Role::Helper)?;
    let mut conn = app.store().pool().acquire().await.map_err(StoreError::from)?;
    let b = ledger::billing(&mut conn, &caller.id.to_string())
        .await?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "billing_missing", "No billing details yet: PUT /v1/helper/billing."))?;
    Ok(Json(BillingDto {
        iban: b.iban,
        vat_registered: b.vat_registered != 0,
        street: b.street,
        house_number: b.house_number,
        postcode: b.postcode,
        town: b.town,
    }))
}

/// Set where customers pay invoices (IBAN) and the VAT status.
#[utoipa::path(put, path = "/v1/helper/billing", tag = "pricing", request_body = BillingDto, security(("bearer" = [])),
    responses((status = 200, body = BillingDto), (status = 403, body = Problem, description = "forbidden: not a helper"), (status = 400, body = Problem, description = "invalid_iban, invalid_address")))]
async fn put_billing(State(app): State<AppState>, caller: Caller, Body(req): Body<BillingDto>) -> ApiResult<Json<BillingDto>> {
    caller.require(Role::Helper)?;
    let iban = crate::money::swiss_iban(&req.iban)?;
    let ok = |s: &str, max: usize| !s.trim().is_empty() && s.chars().count() <= max;
    if !ok(&req.street, 70) || req.house_number.chars().count() > 16 || !ok(&req.postcode, 16) || !ok(&req.town, 35) {
        return Err(ApiError::invalid(
            "invalid_address",
            "Street (70), postcode (16) and town (35 characters) are needed for the QR-bill.",
        ));
    }
    let row = ledger::BillingRow {
        user_id: caller.id.to_string(),
        iban: iban.clone(),
        vat_registered: i64::from(req.vat_registered),
        street: req.street.trim().into(),
        house_number: req.house_number.trim().into(),
        postcode: req.postcode.trim().into(),
        town: req.town.trim().into(),
        updated_at: now_ms(),
    };
    let mut tx = app.store().begin().await?;
    ledger::put_billing(&mut tx, &row).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(Json(BillingDto {
        iban,
        vat_registered: req.vat_registered,
        street: row.street,
        house_number: row.house_number,
        postcode: row.postcode,
        town: row.town,
    }))
}

/// How the customer pays.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentRequest {
    /// `card` (the customer pays through the payment provider), `cash` (the helper records the
    /// cash received, rounded to 5 Rappen), or `invoice` (the customer gets a QR-bill; an operator
    /// records the transfer with `received: true`).
    method: String,
    /// For an operator recording an incoming invoice payment.
    #[serde(default)]
    received: bool,
}

/// A receipt.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReceiptDto {
    booking_id: String,
    service: String,
    lines: Vec<QuoteLineDto>,
    total: MoneyDto,
    /// `card`, `cash` or `invoice`.
    payment_method: Option<String>,
    /// What was handed over (cash is rounded to 5 Rappen).
    received: Option<MoneyDto>,
    paid_at: Option<Timestamp>,
    /// Where an invoice is, for invoice payments.
    invoice_url: Option<String>,
}

/// A payment provider. Card payments go through it; the built-in manual provider accepts every
/// charge at once (real providers plug in behind this trait later).
pub trait PaymentProvider: Send + Sync {
    /// Charges the amount; returns the provider's reference.
    fn charge(&self, booking_id: &str, amount: Money) -> Result<String, String>;
}

/// The built-in provider for self-hosted installations without card acquiring.
pub struct ManualProvider;

impl PaymentProvider for ManualProvider {
    fn charge(&self, booking_id: &str, _amount: Money) -> Result<String, String> {
        Ok(format!("manual-{booking_id}"))
    }
}

async fn receipt_of(app: &AppState, b: &bookings::BookingRow) -> ApiResult<ReceiptDto> {
    let q = parse_quote(&b.quote)?;
    let mut conn = app.store().pool().acquire().await.map_err(StoreError::from)?;
    let rows = ledger::postings_of_booking(&mut conn, &b.id).await?;
    let received: i64 = rows
        .iter()
        .filter(|r| r.kind == "payment_received" && matches!(r.account.as_str(), "bank" | "card_clearing" | "cash"))
        .map(|r| r.amount_rappen)
        .sum();
    Ok(ReceiptDto {
        booking_id: b.id.clone(),
        service: b.service_name.clone(),
        lines: lines(&q),
        total: q.total.into(),
        payment_method: b.payment_method.clone(),
        received: (received > 0).then_some(MoneyDto { amount_rappen: received, currency: "CHF" }),
        paid_at: b.paid_at.and_then(|t| Timestamp::from_millisecond(t).ok()),
        invoice_url: (b.payment_method.as_deref() == Some("invoice")).then(|| format!("/v1/bookings/{}/invoice", b.id)),
    })
}

/// Pay for a completed visit.
#[utoipa::path(post, path = "/v1/bookings/{id}/payment", tag = "pricing", request_body = PaymentRequest, params(("id" = String, Path)),
    security(("bearer" = [])), responses((status = 200, body = ReceiptDto), (status = 403, body = Problem, description = "forbidden: not allowed"), (status = 400, body = Problem), (status = 404, body = Problem),
    (status = 409, body = Problem, description = "not_completed, already_paid")))]
async fn pay(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(req): Body<PaymentRequest>,
) -> ApiResult<Json<ReceiptDto>> {
    let method = match req.method.as_str() {
        "card" => PaymentMethod::Card,
        "cash" => PaymentMethod::Cash,
        "invoice" => PaymentMethod::Invoice,
        other => return Err(ApiError::invalid("invalid_payment_method", format!("`{other}` is not a method; use card, cash or invoice."))),
    };
    let mut tx = app.store().begin().await?;
    let (mut b, actor) = visible(&mut tx, &caller, &id).await?;
    let allowed = match method {
        PaymentMethod::Card => actor == Actor::Customer,
        PaymentMethod::Cash => matches!(actor, Actor::Helper | Actor::Operator),
        PaymentMethod::Invoice => actor == Actor::Customer || (actor == Actor::Operator && req.received),
    };
    if !allowed {
        return Err(ApiError::forbidden(
            "The customer pays by card or asks for an invoice; the helper records cash; an operator records invoice payments.",
        )
        .with_code("not_allowed"));
    }
    if b.state != "done" {
        return Err(ApiError::conflict("not_completed", "A visit is paid once it is done."));
    }
    if b.paid_at.is_some() {
        return Err(ApiError::conflict("already_paid", "This visit is paid already."));
    }
    let q = parse_quote(&b.quote)?;
    let now = now_ms();
    let settle = method != PaymentMethod::Invoice || req.received;
    if method == PaymentMethod::Card {
        ManualProvider.charge(&b.id, q.total).map_err(|e| ApiError::conflict("payment_failed", e))?;
    }
    if settle {
        let t = pledger::payment_received(method, q.total).map_err(crate::money::ledger_error)?;
        crate::money::post(&mut tx, &b.id, &b.helper_id, &t).await?;
        b.paid_at = Some(now);
    }
    b.payment_method = Some(req.method.clone());
    if !bookings::update_details(&mut tx, &b, "done", now).await? {
        return Err(ApiError::conflict("invalid_transition", "The booking changed meanwhile; reload it and try again."));
    }
    tx.commit().await.map_err(StoreError::from)?;
    Ok(Json(receipt_of(&app, &b).await?))
}

/// The receipt of a booking.
#[utoipa::path(get, path = "/v1/bookings/{id}/receipt", tag = "pricing", params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = ReceiptDto), (status = 404, body = Problem)))]
async fn receipt(State(app): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Json<ReceiptDto>> {
    let mut conn = app.store().pool().acquire().await.map_err(StoreError::from)?;
    let (b, _) = visible(&mut conn, &caller, &id).await?;
    drop(conn);
    Ok(Json(receipt_of(&app, &b).await?))
}

use crate::money::escape_html as escape;

/// The invoice of a completed visit as a printable page with the Swiss QR-bill. The helper is the
/// creditor (the platform is not financially involved); the reference is an ISO 11649 creditor
/// reference made from the booking id.
#[utoipa::path(get, path = "/v1/bookings/{id}/invoice", tag = "pricing", params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, content_type = "text/html", body = String), (status = 404, body = Problem),
              (status = 409, body = Problem, description = "not_completed, no_billing_details")))]
async fn invoice(State(app): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Response> {
    let mut conn = app.store().pool().acquire().await.map_err(StoreError::from)?;
    let (b, _) = visible(&mut conn, &caller, &id).await?;
    if b.state != "done" {
        return Err(ApiError::conflict("not_completed", "An invoice exists once the visit is done."));
    }
    let billing = ledger::billing(&mut conn, &b.helper_id)
        .await?
        .ok_or_else(|| ApiError::conflict("no_billing_details", "The helper has not given billing details yet; pay by card or cash."))?;
    let helper = users::by_id(&mut conn, &b.helper_id).await?.ok_or_else(|| ApiError::not_found("booking"))?;
    let customer = users::by_id(&mut conn, &b.customer_id).await?.ok_or_else(|| ApiError::not_found("booking"))?;
    let q = parse_quote(&b.quote)?;
    let base: String = b.id.chars().filter(|c| c.is_ascii_alphanumeric()).take(21).collect::<String>().to_uppercase();
    let reference = quartier_pricing::qrbill::scor_reference(&base).map_err(ApiError::internal)?;
    let bill = QrBill {
        iban: billing.iban.clone(),
        creditor: Address {
            name: helper.name.chars().take(70).collect(),
            street: Some(billing.street.clone()),
            house_number: (!billing.house_number.is_empty()).then(|| billing.house_number.clone()),
            postcode: billing.postcode.clone(),
            town: billing.town.clone(),
            country: "CH".into(),
        },
        amount: Some(q.total.rappen()),
        currency: Currency::Chf,
        debtor: None,
        reference: Reference::Scor(reference.clone()),
        message: Some(format!("Quartier: {}", b.service_name).chars().take(100).collect()),
        bill_information: None,
        line_ending: LineEnding::CrLf,
    };
    let svg = bill.to_svg().map_err(|e| ApiError::conflict("no_billing_details", e.to_string()))?;
    let zone = TimeZone::get(&b.time_zone).unwrap_or(TimeZone::UTC);
    let when = Timestamp::from_millisecond(b.starts_at).unwrap_or_default().to_zoned(zone).strftime("%d.%m.%Y %H:%M").to_string();
    let rows: String =
        q.lines.iter().map(|l| format!("<tr><td>{}</td><td class=\"num\">{}</td></tr>", escape(&l.label), l.amount)).collect();
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Invoice {id}</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:48rem;margin:2rem auto;padding:0 1rem}}td{{padding:.2rem .6rem}}.num{{text-align:right}}\
         .qr{{width:46mm;height:46mm}}@media print{{body{{margin:0}}}}</style></head><body>\
         <h1>Invoice</h1><p><strong>{helper}</strong><br>{street} {house}<br>{postcode} {town}</p>\
         <p>To: {customer}<br>{address}</p><p>Visit: {service}, {when}</p>\
         <table>{rows}<tr><th>Total</th><th class=\"num\">{total}</th></tr></table>\
         <h2>Payment part</h2><p>Account: {iban}<br>Reference: {reference}<br>Amount: {total}</p>\
         <div class=\"qr\">{svg}</div></body></html>",
        id = escape(&b.id),
        helper = escape(&helper.name),
        street = escape(&billing.street),
        house = escape(&billing.house_number),
        postcode = escape(&billing.postcode),
        town = escape(&billing.town),
        customer = escape(&customer.name),
        address = escape(&b.address),
        service = escape(&b.service_name),
        total = q.total,
        iban = escape(&billing.iban),
        reference = escape(&reference),
    );
    Ok(([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response())
}

/// Which year, and in which form.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct EarningsQuery {
    /// Default the current year.
    #[param(minimum = 1970, maximum = 9998)]
    year: Option<i16>,
    /// `json` (default), `csv` (the yearly statement of side income) or `html` (the same, printable).
    format: Option<String>,
}

/// One month of a helper's money.
#[derive(Debug, Serialize, ToSchema)]
pub struct MonthDto {
    /// `YYYY-MM`.
    month: String,
    /// Earned from completed visits, late cancellations and customer no-shows.
    earned: MoneyDto,
    /// Released after the dispute window.
    released: MoneyDto,
    /// Penalties charged.
    penalties: MoneyDto,
    /// Paid by customers in cash (kept by the helper).
    cash_received: MoneyDto,
}

/// A helper's earnings by month.
#[derive(Debug, Serialize, ToSchema)]
pub struct EarningsDto {
    year: i16,
    months: Vec<MonthDto>,
    /// Earned but still held (dispute window open).
    held: MoneyDto,
    /// Released and not yet paid out.
    payable: MoneyDto,
}

/// The signed-in helper's earnings, fees and payouts per month; `format=csv` gives the yearly
/// statement of side income.
#[utoipa::path(get, path = "/v1/helper/earnings", tag = "pricing", params(EarningsQuery), security(("bearer" = [])),
    responses((status = 200, body = EarningsDto), (status = 403, body = Problem)))]
async fn earnings(State(app): State<AppState>, caller: Caller, Query(q): Query<EarningsQuery>) -> ApiResult<Response> {
    caller.require(Role::Helper)?;
    let zone = app.matcher_zone().clone();
    let year = q.year.unwrap_or_else(|| Timestamp::now().to_zoned(zone.clone()).year());
    // Checked, and `Date::new`, not `civil::date`: a year outside jiff's range was a panic (500).
    if !(1970..=9998).contains(&year) {
        return Err(ApiError::invalid("invalid_query", "`year` is 1970 to 9998."));
    }
    let new_year = |y: i16| {
        jiff::civil::Date::new(y, 1, 1)
            .and_then(|d| d.to_zoned(zone.clone()))
            .map_err(|_| ApiError::invalid("invalid_query", "`year` is 1970 to 9998."))
    };
    let (start, end) = (new_year(year)?, new_year(year.saturating_add(1))?);
    let mut conn = app.store().pool().acquire().await.map_err(StoreError::from)?;
    let rows =
        ledger::postings_of_helper(&mut conn, &caller.id.to_string(), start.timestamp().as_millisecond(), end.timestamp().as_millisecond())
            .await?;
    let all = ledger::postings_of_helper(&mut conn, &caller.id.to_string(), 0, i64::MAX).await?;
    let mut months: Vec<[i64; 4]> = vec![[0; 4]; 12];
    for r in &rows {
        let m = Timestamp::from_millisecond(r.created_at).unwrap_or_default().to_zoned(zone.clone()).month();
        let Some(slot) = months.get_mut(usize::try_from(m - 1).unwrap_or(0)) else { continue };
        match (r.kind.as_str(), r.account.as_str()) {
            ("booking_completed" | "cancellation_fee" | "customer_no_show", "helper_payout_held") => slot[0] -= r.amount_rappen,
            ("payout_released", "helper_payable") => slot[1] -= r.amount_rappen,
            ("helper_no_show_penalty" | "penalty", "platform_revenue") => slot[2] -= r.amount_rappen,
            ("payment_received", "cash") => slot[3] += r.amount_rappen,
            _ => {}
        }
    }
    let held: i64 = -all.iter().filter(|r| r.account == Account::HelperPayoutHeld.as_str()).map(|r| r.amount_rappen).sum::<i64>();
    let payable: i64 = -all.iter().filter(|r| r.account == Account::HelperPayable.as_str()).map(|r| r.amount_rappen).sum::<i64>();
    let chf = |r: i64| MoneyDto { amount_rappen: r, currency: "CHF" };
    if q.format.as_deref() == Some("csv") {
        let mut csv = String::from("month,earned_chf,released_chf,penalties_chf,cash_received_chf\n");
        for (i, m) in months.iter().enumerate() {
            let f = |r: i64| format!("{}.{:02}", r / 100, (r % 100).abs());
            csv.push_str(&format!("{year}-{:02},{},{},{},{}\n", i + 1, f(m[0]), f(m[1]), f(m[2]), f(m[3])));
        }
        return Ok((
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (header::CONTENT_DISPOSITION, "attachment; filename=\"quartier-statement.csv\""),
            ],
            csv,
        )
            .into_response());
    }
    if q.format.as_deref() == Some("html") {
        let f = |r: i64| format!("CHF {}.{:02}", r / 100, (r % 100).abs());
        let rows: String = months
            .iter()
            .enumerate()
            .map(|(i, m)| {
                format!(
                    "<tr><td>{year}-{:02}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    i + 1,
                    f(m[0]),
                    f(m[1]),
                    f(m[2]),
                    f(m[3])
                )
            })
            .collect();
        let sum = |k: usize| months.iter().map(|m| m[k]).sum::<i64>();
        let html = format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Side income {year}</title>\
             <style>body{{font-family:system-ui,sans-serif;max-width:48rem;margin:2rem auto}}td,th{{padding:.2rem .6rem;text-align:right}}</style></head>\
             <body><h1>Side income statement {year}</h1><p>Quartier: earnings from neighbourhood help, for your tax return.</p>\
             <table><tr><th>Month</th><th>Earned</th><th>Paid out</th><th>Penalties</th><th>Cash received</th></tr>{rows}\
             <tr><th>Year</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></table></body></html>",
            f(sum(0)),
            f(sum(1)),
            f(sum(2)),
            f(sum(3)),
        );
        return Ok(([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response());
    }
    let months = months
        .iter()
        .enumerate()
        .map(|(i, m)| MonthDto {
            month: format!("{year}-{:02}", i + 1),
            earned: chf(m[0]),
            released: chf(m[1]),
            penalties: chf(m[2]),
            cash_received: chf(m[3]),
        })
        .collect();
    Ok(Json(EarningsDto { year, months, held: chf(held.max(0)), payable: chf(payable.max(0)) }).into_response())
}

/// A fee window: cancelling between `from_hours_before` (or any earlier time when null) and
/// `to_hours_before` the start costs `fee_bps` of the price.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeeWindowDto {
    from_hours_before: Option<u32>,
    to_hours_before: u32,
    /// Basis points of the price, 0 to 10000.
    fee_bps: u32,
}

/// A cancellation and no-show policy version.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyDto {
    /// Set by the server when publishing.
    #[serde(default)]
    version: u32,
    customer_cancellation: Vec<FeeWindowDto>,
    helper_compensation_bps: u32,
    customer_no_show_fee_bps: u32,
    customer_no_show_helper_bps: u32,
    helper_no_show_penalty_rappen: i64,
    helper_no_show_refund_bps: u32,
    dispute_window_hours: u32,
}

fn policy_dto(p: &Policy) -> PolicyDto {
    PolicyDto {
        version: p.version,
        customer_cancellation: p
            .customer_cancellation
            .iter()
            .map(|w| FeeWindowDto { from_hours_before: w.from_hours_before, to_hours_before: w.to_hours_before, fee_bps: w.fee_bps })
            .collect(),
        helper_compensation_bps: p.helper_compensation_bps,
        customer_no_show_fee_bps: p.customer_no_show_fee_bps,
        customer_no_show_helper_bps: p.customer_no_show_helper_bps,
        helper_no_show_penalty_rappen: p.helper_no_show_penalty.rappen(),
        helper_no_show_refund_bps: p.helper_no_show_refund_bps,
        dispute_window_hours: p.dispute_window_hours,
    }
}

/// Every policy version, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct PolicyPage {
    items: Vec<PolicyDto>,
    next_cursor: Option<String>,
}

/// Policy versions (operators).
#[utoipa::path(get, path = "/v1/ops/policies", tag = "ops", security(("bearer" = [])),
    responses((status = 200, body = PolicyPage), (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn list_policies(State(app): State<AppState>, _: Operator) -> ApiResult<Json<PolicyPage>> {
    let mut conn = app.store().pool().acquire().await.map_err(StoreError::from)?;
    Ok(Json(PolicyPage { items: ledger::policies(&mut conn).await?.iter().map(policy_dto).collect(), next_cursor: None }))
}

/// Publish a new policy version (operators). Bookings already made keep the version pinned to them.
#[utoipa::path(post, path = "/v1/ops/policies", tag = "ops", request_body = PolicyDto, security(("bearer" = [])),
    responses((status = 201, body = PolicyDto), (status = 403, body = Problem, description = "forbidden: not an operator"), (status = 400, body = Problem, description = "overlapping_windows, gapped_windows, fee_out_of_range, ...")))]
async fn publish_policy(
    State(app): State<AppState>,
    Operator(caller): Operator,
    Body(req): Body<PolicyDto>,
) -> ApiResult<(StatusCode, Json<PolicyDto>)> {
    let penalty = Money::from_rappen(req.helper_no_show_penalty_rappen)
        .map_err(|_| ApiError::invalid("negative_amount", "Amounts cannot be negative."))?;
    let mut tx = app.store().begin().await?;
    let current = crate::money::current_policy(&mut tx).await?;
    let policy = Policy {
        version: current.version + 1,
        customer_cancellation: req
            .customer_cancellation
            .iter()
            .map(|w| Window { from_hours_before: w.from_hours_before, to_hours_before: w.to_hours_before, fee_bps: w.fee_bps })
            .collect(),
        helper_compensation_bps: req.helper_compensation_bps,
        customer_no_show_fee_bps: req.customer_no_show_fee_bps,
        customer_no_show_helper_bps: req.customer_no_show_helper_bps,
        helper_no_show_penalty: penalty,
        helper_no_show_refund_bps: req.helper_no_show_refund_bps,
        dispute_window_hours: req.dispute_window_hours,
    };
    policy.validate().map_err(|e| ApiError::invalid(e.code(), e.to_string()))?;
    ledger::publish_policy(&mut tx, &policy, Some(&caller.id.to_string()), now_ms()).await?;
    tx.commit().await.map_err(StoreError::from)?;
    tracing::info!(operator.id = %caller.id, version = policy.version, "policy published");
    Ok((StatusCode::CREATED, Json(policy_dto(&policy))))
}

/// Changes to a catalogue entry; absent fields stay.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceChange {
    base_price_rappen: Option<i64>,
    extra_unit_rappen: Option<i64>,
    duration_minutes: Option<u32>,
    active: Option<bool>,
    /// A preview service is offered only to super-helpers (a perk: first to try new products).
    preview: Option<bool>,
}

/// Change a service (operators). Bookings already made keep their locked quotes.
#[utoipa::path(put, path = "/v1/ops/catalog/{slug}", tag = "ops", request_body = ServiceChange, params(("slug" = String, Path)),
    security(("bearer" = [])), responses((status = 204), (status = 403, body = Problem, description = "forbidden: not an operator"), (status = 400, body = Problem, description = "negative_amount, invalid_duration"), (status = 404, body = Problem)))]
async fn update_service(
    State(app): State<AppState>,
    _: Operator,
    Path(slug): Path<String>,
    Body(req): Body<ServiceChange>,
) -> ApiResult<StatusCode> {
    for amount in [req.base_price_rappen, req.extra_unit_rappen].into_iter().flatten() {
        if amount < 0 {
            return Err(ApiError::invalid("negative_amount", "Amounts cannot be negative."));
        }
    }
    if req.duration_minutes.is_some_and(|d| !(15..=480).contains(&d)) {
        return Err(ApiError::invalid("invalid_duration", "A standard duration is 15 to 480 minutes."));
    }
    let mut tx = app.store().begin().await?;
    if !catalog::update(&mut tx, &slug, req.base_price_rappen, req.extra_unit_rappen, req.duration_minutes.map(i64::from), req.active)
        .await?
    {
        return Err(ApiError::not_found("service"));
    }
    if let Some(preview) = req.preview {
        catalog::set_preview(&mut tx, &slug, preview).await?;
    }
    tx.commit().await.map_err(StoreError::from)?;
    Ok(StatusCode::NO_CONTENT)
}
