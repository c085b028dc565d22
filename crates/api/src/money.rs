//! Prices, policies and the ledger as the API uses them: full upfront quotes locked into
//! bookings, the policy version pinned to each booking, and ledger postings written in the same
//! transaction as the state change that causes them.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use quartier_domain::{GeoPoint, UserId};
use quartier_pricing::quote::{DistanceBucket, QuoteRequest};
use quartier_pricing::{Quote, Service, Transaction};
use quartier_store::{Conn, StoreError, helpers, ledger};

use crate::error::{ApiError, ApiResult};
use crate::state::{AppState, now_ms};

/// The place of a Swiss address of the demo region, from its postcode (a four-digit word).
pub fn place_of_address(address: &str) -> Option<GeoPoint> {
    address
        .split(|c: char| !c.is_ascii_digit())
        .filter(|w| w.len() == 4)
        .find_map(|pc| quartier_matching::postcodes::lookup(pc).map(|(_, p)| p))
}

/// How far a helper travels to a place, as a pricing bucket; without either, the typical
/// neighbourhood trip (2-5 km).
pub async fn bucket(conn: &mut Conn, helper: Option<&str>, place: Option<GeoPoint>) -> ApiResult<DistanceBucket> {
    let (Some(helper), Some(place)) = (helper, place) else { return Ok(DistanceBucket::From2To5Km) };
    let Some(p) = helpers::get(conn, helper).await? else { return Ok(DistanceBucket::From2To5Km) };
    let home = GeoPoint::new(p.home_lat, p.home_lon)?;
    Ok(DistanceBucket::of_metres(home.distance_m(place)))
}

/// What a quote depends on besides the configuration.
pub struct Visit<'a> {
    /// The service as it is now.
    pub service: &'a Service,
    /// Extra 30-minute units.
    pub extra_units: u32,
    /// The helper, if chosen (distance and VAT).
    pub helper: Option<&'a str>,
    /// The customer's place, if known.
    pub place: Option<GeoPoint>,
    /// The start.
    pub start: Timestamp,
    /// The customer's zone (evening and weekend are local).
    pub zone: &'a TimeZone,
}

/// The full upfront quote for a visit.
pub async fn quote_for(app: &AppState, conn: &mut Conn, v: Visit<'_>) -> ApiResult<Quote> {
    let Visit { service, extra_units, helper, place, start, zone } = v;
    let distance = bucket(conn, helper, place).await?;
    let vat = match helper {
        Some(h) => ledger::billing(conn, h).await?.is_some_and(|b| b.vat_registered != 0),
        None => false,
    };
    let request = QuoteRequest {
        service,
        extra_units,
        distance,
        local_start: start.to_zoned(zone.clone()).datetime(),
        booked_at: Timestamp::now().min(start),
        start,
        helper_vat_registered: vat,
    };
    quartier_pricing::quote::quote_visit(&request, &app.config().pricing).map_err(|e| ApiError::invalid(e.code(), e.to_string()))
}

/// The policy in force and its version.
pub async fn current_policy(conn: &mut Conn) -> ApiResult<quartier_pricing::Policy> {
    Ok(ledger::current_policy(conn).await?.unwrap_or_else(quartier_pricing::default_policy))
}

/// Writes a ledger transaction for a booking.
pub async fn post(conn: &mut Conn, booking_id: &str, helper_id: &str, t: &Transaction) -> ApiResult<()> {
    ledger::post(conn, &UserId::new().to_string(), booking_id, helper_id, t, now_ms()).await?;
    Ok(())
}

/// A booking's balances, from its stored transactions.
pub async fn balances(conn: &mut Conn, booking_id: &str) -> ApiResult<quartier_pricing::ledger::Balances> {
    let rows = ledger::postings_of_booking(conn, booking_id).await?;
    Ok(ledger::balances(&rows)?)
}

/// Reads a stored quote.
pub fn parse_quote(json: &str) -> ApiResult<Quote> {
    serde_json::from_str(json).map_err(|e| ApiError::internal(StoreError::Corrupt(format!("quote: {e}"))))
}

/// Maps a ledger refusal to a problem.
pub fn ledger_error(e: quartier_pricing::LedgerError) -> ApiError {
    ApiError::conflict(e.code(), e.to_string())
}

/// A payout IBAN as given by a helper: spaces removed, upper-cased, checksum checked, Swiss or
/// Liechtenstein (a QR-bill needs one of those).
pub fn swiss_iban(raw: &str) -> ApiResult<String> {
    let iban: String = raw.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_uppercase();
    if !quartier_pricing::qrbill::iban_is_valid(&iban) || !(iban.starts_with("CH") || iban.starts_with("LI")) {
        return Err(ApiError::invalid("invalid_iban", "Give a Swiss or Liechtenstein IBAN (CH.. or LI..); its checksum did not match."));
    }
    Ok(iban)
}

/// Text made safe for HTML pages the API renders (invoices, statements, link pages).
pub fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}
