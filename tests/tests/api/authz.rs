//! R9: the authorization matrix, generated from the OpenAPI document. Every operation is called by
//! every actor (anonymous, the owner customer, another customer, the assigned helper, a helper
//! offered a request before accepting it, another helper, an operator), on objects in several
//! states, and the status must be the one the table below expects; an operation the table does not
//! know fails the test (coverage guard).
//!
//! Every seeded address, e-mail, name, legal name, IBAN, home coordinate, message, statement and
//! review is a unique marker: no response (status, headers, body), live-stream event or e-mail an
//! actor receives may carry a marker that actor may not see.
//!
//! Forbidden actors get the real, harmful body (a cancellation, a decision); allowed actors get a
//! body that is harmless by design (a transition impossible in the state, an invalid reason) so
//! the world stays as built. Only the assigned helper's deletion of their own exception changes
//! something, and it runs after every other actor was refused.

use std::collections::BTreeSet;
use std::fmt;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::{Backend, Res, TestApp, spawn_app_with, wait_for_mail};

const PASSWORD: &str = "correct horse battery";
const PNG: [u8; 8] = [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Actor {
    Anonymous,
    /// Customer A, who owns the bookings and the request.
    Owner,
    /// Customer B.
    OtherCustomer,
    /// Helper H1, the helper of A's bookings.
    Assigned,
    /// Helper H2, offered A's "any helper nearby" request and not (yet) accepting it.
    Offered,
    /// Helper H3, the helper of B's booking only.
    OtherHelper,
    Operator,
}

const ACTORS: [Actor; 7] =
    [Actor::Anonymous, Actor::Owner, Actor::OtherCustomer, Actor::Assigned, Actor::Offered, Actor::OtherHelper, Actor::Operator];

use Actor::{Anonymous, Assigned, Offered, Operator, OtherCustomer, OtherHelper, Owner};

fn is_customer(a: Actor) -> bool {
    matches!(a, Owner | OtherCustomer)
}

fn is_helper(a: Actor) -> bool {
    matches!(a, Assigned | Offered | OtherHelper)
}

/// The expected answer of one cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    /// Any 2xx.
    Ok,
    /// Exactly this status.
    Is(u16),
}

const UNAUTHORIZED: Want = Want::Is(401);
const FORBIDDEN: Want = Want::Is(403);
const NOT_FOUND: Want = Want::Is(404);
const CONFLICT: Want = Want::Is(409);
const BAD_REQUEST: Want = Want::Is(400);

impl Want {
    fn refused(self) -> bool {
        matches!(self, Want::Is(401 | 403 | 404))
    }

    fn matches(self, status: StatusCode) -> bool {
        match self {
            Want::Ok => status.is_success(),
            Want::Is(code) => status.as_u16() == code,
        }
    }
}

impl fmt::Display for Want {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Want::Ok => write!(f, "2xx"),
            Want::Is(c) => write!(f, "{c}"),
        }
    }
}

#[derive(Debug, Clone)]
enum Payload {
    Json(Value),
    Png,
}

/// One row of the matrix: an operation on one object, with the expected status per actor.
struct Case {
    label: &'static str,
    url: String,
    want: [Want; 7],
    /// The body allowed actors send.
    body: Option<Payload>,
    /// The body refused actors send (the harmful one), when it differs.
    probe: Option<Payload>,
    /// Whose eyes the response is for when the URL itself is the credential (a signed link).
    seen_as: Option<Actor>,
}

fn wants(f: impl Fn(Actor) -> Want) -> [Want; 7] {
    ACTORS.map(f)
}

/// Signed-in actors get `f`, anonymous 401.
fn signed_in(f: impl Fn(Actor) -> Want) -> [Want; 7] {
    wants(|a| if a == Anonymous { UNAUTHORIZED } else { f(a) })
}

fn operators_only(op: Want) -> [Want; 7] {
    signed_in(|a| if a == Operator { op } else { FORBIDDEN })
}

fn helpers_only(f: impl Fn(Actor) -> Want) -> [Want; 7] {
    signed_in(|a| if is_helper(a) { f(a) } else { FORBIDDEN })
}

fn customers_only(want: Want) -> [Want; 7] {
    signed_in(|a| if is_customer(a) { want } else { FORBIDDEN })
}

/// The bookings (and the open request) of the world.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bk {
    /// A with H1, requested (H1 has not answered).
    Requested,
    /// A with H1, accepted.
    Accepted,
    /// A with H1, done, paid, reviewed both ways, disputed by A with a photo.
    Done,
    /// A with H1, cancelled by A before H1 answered.
    Cancelled,
    /// A's "any helper nearby" request, offered to H2 only.
    Request,
    /// B with H3, accepted.
    Others,
    /// An id nobody has.
    Ghost,
}

const BOOKINGS: [(Bk, &str); 7] = [
    (Bk::Requested, "requested"),
    (Bk::Accepted, "accepted"),
    (Bk::Done, "done+disputed"),
    (Bk::Cancelled, "cancelled"),
    (Bk::Request, "offered request"),
    (Bk::Others, "other customer's"),
    (Bk::Ghost, "made-up id"),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Customer,
    Helper,
    Operator,
}

/// The actor's side on a booking, if the booking is theirs to see. `requests` says whether the
/// route also finds requests still being offered (only `GET /v1/bookings/{id}` and the
/// transitions do).
fn side(bk: Bk, a: Actor, requests: bool) -> Option<Side> {
    match (bk, a) {
        (Bk::Ghost, _) => None,
        (Bk::Request, _) if !requests => None,
        (_, Operator) => Some(Side::Operator),
        (Bk::Requested | Bk::Accepted | Bk::Done | Bk::Cancelled | Bk::Request, Owner) => Some(Side::Customer),
        (Bk::Requested | Bk::Accepted | Bk::Done | Bk::Cancelled, Assigned) => Some(Side::Helper),
        (Bk::Request, Offered) => Some(Side::Helper),
        (Bk::Others, OtherCustomer) => Some(Side::Customer),
        (Bk::Others, OtherHelper) => Some(Side::Helper),
        _ => None,
    }
}

fn on_booking(bk: Bk, requests: bool, f: impl Fn(Side) -> Want) -> [Want; 7] {
    signed_in(|a| side(bk, a, requests).map_or(NOT_FOUND, &f))
}

/// A marker and who may see it.
struct Marker {
    label: &'static str,
    needle: String,
    /// Compared with all white space removed (IBANs are written in groups).
    compact: bool,
    seen_by: Vec<Actor>,
}

struct World {
    tokens: Vec<(Actor, String)>,
    emails: Vec<(Actor, String)>,
    a_id: String,
    h1_id: String,
    h2_id: String,
    bookings: Vec<(Bk, String)>,
    dispute: String,
    photo: String,
    exception: String,
    outbox: String,
    calendar: String,
    h2_link: String,
    throwaway_email: String,
    statement: String,
    markers: Vec<Marker>,
}

impl World {
    fn token(&self, a: Actor) -> Option<&str> {
        self.tokens.iter().find(|(x, _)| *x == a).map(|(_, t)| t.as_str())
    }

    fn email(&self, a: Actor) -> &str {
        self.emails.iter().find(|(x, _)| *x == a).map(|(_, e)| e.as_str()).expect("email")
    }

    fn booking(&self, bk: Bk) -> &str {
        self.bookings.iter().find(|(x, _)| *x == bk).map(|(_, id)| id.as_str()).expect("booking")
    }
}

fn tag() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..10].to_owned()
}

/// A random, valid Swiss IBAN: `CHkk 00762 <12 digits>`.
fn random_iban() -> String {
    let account = u64::from_str_radix(&uuid::Uuid::new_v4().simple().to_string()[..12], 16).expect("hex") % 1_000_000_000_000;
    let bban = format!("00762{account:012}");
    let rem = format!("{bban}121700").chars().fold(0u32, |r, c| (r * 10 + c.to_digit(10).expect("digit")) % 97);
    format!("CH{:02}{bban}", 98 - rem)
}

fn spaced(iban: &str) -> String {
    iban.as_bytes().chunks(4).map(|c| std::str::from_utf8(c).expect("ascii")).collect::<Vec<_>>().join(" ")
}

fn day(days: i64) -> jiff::civil::Date {
    jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date().checked_add(jiff::Span::new().days(days)).expect("date")
}

fn start(days: i64, hh: u8) -> String {
    format!("{}T{hh:02}:00:00Z", day(days))
}

fn all_week() -> Value {
    let rules: Vec<Value> =
        ["mon", "tue", "wed", "thu", "fri", "sat", "sun"].iter().map(|d| json!({"weekday": d, "start": "00:00", "end": "24:00"})).collect();
    json!({"rules": rules, "min_notice_minutes": 0})
}

fn ok(r: &Res, what: &str) {
    assert!(r.status.is_success(), "{what}: {} {}", r.status, r.text);
}

async fn person(app: &TestApp, email: &str, name: &str, role: &str) -> (String, String) {
    let r = app
        .post("/v1/auth/register", None, json!({"email": email, "password": PASSWORD, "name": name, "role": role, "locale": "en"}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let l = app.login(email, PASSWORD).await;
    assert_eq!(l.status, StatusCode::OK, "{}", l.text);
    (r.body["id"].as_str().expect("id").to_owned(), l.body["access_token"].as_str().expect("token").to_owned())
}

struct HelperSeed<'a> {
    email: &'a str,
    name: &'a str,
    legal_name: &'a str,
    iban: &'a str,
    skill: &'a str,
    lat: &'a str,
    billing: Option<(&'a str, &'a str)>,
}

/// A vetted helper with a profile at `lat` (central Zurich), open around the clock.
async fn helper(app: &TestApp, operator: &str, s: HelperSeed<'_>) -> (String, String) {
    let (id, token) = person(app, s.email, s.name, "helper").await;
    let lat: f64 = s.lat.parse().expect("lat");
    let p = app
        .request(
            Method::PUT,
            "/v1/helper/profile",
            Some(&token),
            Some(json!({"skills": [s.skill], "home": {"lat": lat, "lon": 8.5417}, "travel_radius_km": 5, "bio": "Happy to help.", "languages": ["de", "en"]})),
        )
        .await;
    ok(&p, "profile");
    ok(&app.request(Method::PUT, "/v1/helper/availability", Some(&token), Some(all_week())).await, "availability");
    let a = app
        .post(
            "/v1/helper/application",
            Some(&token),
            json!({"legal_name": s.legal_name, "birth_date": "1985-04-12", "iban": spaced(s.iban), "quiz_answers": [1, 1, 0, 1, 2]}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    let d = app
        .post(&format!("/v1/ops/helpers/{id}/decision"), Some(operator), json!({"decision": "approve", "reason": "Documents checked"}))
        .await;
    ok(&d, "approval");
    if let Some((iban, street)) = s.billing {
        let b = app
            .request(
                Method::PUT,
                "/v1/helper/billing",
                Some(&token),
                Some(json!({"iban": iban, "street": street, "house_number": "7", "postcode": "8004", "town": "Zürich"})),
            )
            .await;
        ok(&b, "billing");
    }
    (id, token)
}

async fn book(app: &TestApp, customer: &str, helper_id: &str, start: &str, address: &str) -> (String, String) {
    let b = app
        .post("/v1/bookings", Some(customer), json!({"service": "guest-wifi", "address": address, "start": start, "helper_id": helper_id}))
        .await;
    assert_eq!(b.status, StatusCode::CREATED, "{}", b.text);
    (b.body["id"].as_str().expect("id").to_owned(), b.body["start_code"].as_str().expect("start code").to_owned())
}

async fn act(app: &TestApp, token: &str, id: &str, body: Value) -> Res {
    let r = app.post(&format!("/v1/bookings/{id}/transitions"), Some(token), body.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{body}: {}", r.text);
    r
}

async fn upload(app: &TestApp, token: Option<&str>, url: &str) -> Res {
    let mut bytes = PNG.to_vec();
    bytes.resize(64, 7);
    let mut req = app.client.post(format!("{}{url}", app.base)).header("content-type", "image/png").body(bytes);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    read(req.send().await.expect("upload")).await
}

async fn read(res: reqwest::Response) -> Res {
    let status = res.status();
    let headers = res.headers().clone();
    let text = res.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Res { status, headers, body, text }
}

/// The live stream, replayed from the start of the actor's feed, read for a moment.
async fn stream(app: &TestApp, url: &str, token: Option<&str>) -> Res {
    let mut req = app.client.get(format!("{}{url}", app.base));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let mut res = req.send().await.expect("stream");
    let status = res.status();
    let headers = res.headers().clone();
    let mut text = String::new();
    let until = Instant::now() + Duration::from_millis(1500);
    while let Ok(Ok(Some(chunk))) = tokio::time::timeout_at(until.into(), res.chunk()).await {
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Res { status, headers, body, text }
}

/// The readable text of a raw mail: as sent, quoted-printable decoded, base64 parts decoded,
/// encoded header words decoded, and folded lines (headers, calendar files) unfolded.
pub(crate) fn readable_mail(raw: &str) -> String {
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.decode(s.trim()).ok().map(|b| String::from_utf8_lossy(&b).into_owned());
    let mut out = vec![raw.to_owned()];
    // Quoted-printable (harmless on the other parts).
    let soft = raw.replace("=\r\n", "").replace("=\n", "");
    let bytes = soft.as_bytes();
    let mut qp = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'='
            && i + 2 < bytes.len()
            && let Ok(v) = u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"), 16)
        {
            qp.push(v);
            i += 3;
            continue;
        }
        qp.push(bytes[i]);
        i += 1;
    }
    out.push(String::from_utf8_lossy(&qp).into_owned());
    // Base64 parts: after a `Content-Transfer-Encoding: base64` header, from the blank line to the
    // next blank or boundary line.
    let lines: Vec<&str> = raw.split('\n').map(|l| l.trim_end_matches('\r')).collect();
    let mut i = 0;
    while i < lines.len() {
        let l = lines[i].to_ascii_lowercase();
        if l.starts_with("content-transfer-encoding:") && l.contains("base64") {
            let mut j = i + 1;
            while j < lines.len() && !lines[j].is_empty() {
                j += 1;
            }
            j += 1;
            let mut block = String::new();
            while j < lines.len() && !lines[j].is_empty() && !lines[j].starts_with("--") {
                block.push_str(lines[j].trim());
                j += 1;
            }
            if let Some(text) = b64(&block) {
                out.push(text);
            }
            i = j;
        } else {
            i += 1;
        }
    }
    // Encoded words (=?utf-8?b?...?=).
    let mut rest = raw;
    while let Some(at) = rest.find("=?") {
        let word = &rest[at + 2..];
        let Some(end) = word.find("?=") else { break };
        let parts: Vec<&str> = word[..end].splitn(3, '?').collect();
        if parts.len() == 3
            && parts[1].eq_ignore_ascii_case("b")
            && let Some(text) = b64(parts[2])
        {
            out.push(text);
        }
        rest = &word[end..];
    }
    let joined = out.join("\n");
    let unfolded = joined.replace("\r\n ", "").replace("\n ", "").replace("\r\n\t", "").replace("\n\t", "");
    format!("{joined}\n{unfolded}")
}

/// The longest token following `prefix` in `text` (the readable text of a mail holds the link
/// several times, some cut by the transfer encoding's line breaks).
pub(crate) fn link_token(text: &str, prefix: &str) -> Option<String> {
    text.match_indices(prefix)
        .map(|(at, _)| {
            text[at + prefix.len()..].chars().take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')).collect::<String>()
        })
        .max_by_key(String::len)
}

/// Every mail the sink holds for exactly `to`, raw.
fn mails_to(to: &str) -> Vec<String> {
    let dir = std::env::var("QUARTIER_TEST_MAILDIR").expect("QUARTIER_TEST_MAILDIR is set by scripts/test-services.sh");
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).expect("maildir").flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || !name.ends_with(".eml") {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(e.path()) else { continue };
        let rcpts = text.lines().next().and_then(|l| l.strip_prefix("X-Sink-Rcpt:")).unwrap_or("");
        if rcpts.split(',').any(|r| r.trim().eq_ignore_ascii_case(to)) {
            out.push(text);
        }
    }
    out
}

/// The canary scan of one text an actor received: the markers found that `viewer` may not see,
/// and (into `present`) every marker found at all.
fn scan(markers: &[Marker], viewer: Actor, text: &str, present: &mut BTreeSet<&'static str>) -> Vec<&'static str> {
    let lower = text.to_lowercase();
    let compact: String = lower.chars().filter(|c| !c.is_whitespace()).collect();
    let mut found = Vec::new();
    for m in markers {
        let hit = if m.compact { compact.contains(&m.needle) } else { lower.contains(&m.needle) };
        if hit {
            present.insert(m.label);
            if !m.seen_by.contains(&viewer) {
                found.push(m.label);
            }
        }
    }
    found
}

/// Keys that must never reach anyone: secrets, and the customer's visit codes (a helper who had
/// them could start and sign off a visit without the customer).
fn secret_keys(v: &Value, viewer: Actor, path: &str, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let never = matches!(k.as_str(), "password_hash" | "token_hash" | "refresh_token_hash");
                let codes = matches!(k.as_str(), "start_code" | "signoff_code") && !is_customer(viewer) && viewer != Operator;
                if (never || codes) && !x.is_null() {
                    out.push(format!("{path}.{k}"));
                }
                secret_keys(x, viewer, &format!("{path}.{k}"), out);
            }
        }
        Value::Array(a) => a.iter().enumerate().for_each(|(i, x)| secret_keys(x, viewer, &format!("{path}[{i}]"), out)),
        _ => {}
    }
}

fn response_text(r: &Res) -> String {
    let mut s = format!("{}\n", r.status);
    for (k, v) in &r.headers {
        s.push_str(&format!("{k}: {}\n", String::from_utf8_lossy(v.as_bytes())));
    }
    s.push_str(&r.text);
    s
}

/// Builds the world: five people with marker identities, an operator, the bookings in their
/// states, the request offered to H2, messages, a dispute with a statement and a photo, reviews.
async fn build(app: &TestApp) -> World {
    let t = tag();
    let m = |label: &str| format!("Zz{label}{t}");
    let operator_email = format!("zzopemail{t}@example.ch");
    let settings = quartier_server::Settings { password_memory_kib: 1024, password_iterations: 1, ..quartier_server::Settings::default() };
    quartier_server::seed::create_operator(
        &app.store,
        &settings,
        &operator_email,
        &format!("Olivia {}", m("OpName")),
        "operator password 1",
    )
    .await
    .expect("operator");
    let l = app.login(&operator_email, "operator password 1").await;
    assert_eq!(l.status, StatusCode::OK, "{}", l.text);
    let op = l.body["access_token"].as_str().expect("token").to_owned();

    let a_email = format!("zzaemail{t}@example.ch");
    let b_email = format!("zzbemail{t}@example.ch");
    let h_email = |n: u8| format!("zzh{n}email{t}@example.ch");
    let (a_id, a) = person(app, &a_email, &format!("Anna {}", m("AName")), "customer").await;
    let (_, b) = person(app, &b_email, &format!("Bruno {}", m("BName")), "customer").await;
    let ibans: Vec<String> = (0..5).map(|_| random_iban()).collect();
    let lats: Vec<String> = (1..=3).map(|k| format!("47.37{k}{:05}7", rand_digits())).collect();
    let (h1_street, h3_street) = (format!("{}strasse", m("HOneStreet")), format!("{}strasse", m("HThreeStreet")));
    let (h1_id, h1) = helper(
        app,
        &op,
        HelperSeed {
            email: &h_email(1),
            name: &format!("Hanna One {t}"),
            legal_name: &format!("Hanna {}", m("HOneLegal")),
            iban: &ibans[0],
            skill: "wifi",
            lat: &lats[0],
            billing: Some((&ibans[1], &h1_street)),
        },
    )
    .await;
    let (h2_id, h2) = helper(
        app,
        &op,
        HelperSeed {
            email: &h_email(2),
            name: &format!("Hugo Two {t}"),
            legal_name: &format!("Hugo {}", m("HTwoLegal")),
            iban: &ibans[2],
            skill: "printer",
            lat: &lats[1],
            billing: None,
        },
    )
    .await;
    let (h3_id, h3) = helper(
        app,
        &op,
        HelperSeed {
            email: &h_email(3),
            name: &format!("Heidi Three {t}"),
            legal_name: &format!("Heidi {}", m("HThreeLegal")),
            iban: &ibans[3],
            skill: "wifi",
            lat: &lats[2],
            billing: Some((&ibans[4], &h3_street)),
        },
    )
    .await;

    let addr = |label: &str| format!("{}gasse 4, 8001 Zürich", m(label));
    // Requested: H1 has not answered.
    let (requested, _) = book(app, &a, &h1_id, &start(2, 10), &addr("AddrRequested")).await;
    // Accepted, with messages both ways.
    let (accepted, _) = book(app, &a, &h1_id, &start(3, 10), &addr("AddrAccepted")).await;
    act(app, &h1, &accepted, json!({"action": "accept"})).await;
    for (token, label) in [(&a, "MsgFromA"), (&h1, "MsgFromHOne")] {
        let r = app
            .post(&format!("/v1/bookings/{accepted}/messages"), Some(token), json!({"body": format!("{} see you soon", m(label))}))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    }
    // Done, paid by card, disputed by A with a photo, H1's statement, reviews both ways.
    let (done, code) = book(app, &a, &h1_id, &start(4, 10), &addr("AddrDone")).await;
    act(app, &h1, &done, json!({"action": "accept"})).await;
    act(app, &h1, &done, json!({"action": "arrive", "code": code})).await;
    let signoff = app.get(&format!("/v1/bookings/{done}"), Some(&a)).await.body["signoff_code"].as_str().expect("signoff").to_owned();
    act(app, &h1, &done, json!({"action": "complete", "code": signoff})).await;
    ok(&app.post(&format!("/v1/bookings/{done}/payment"), Some(&a), json!({"method": "card"})).await, "payment");
    let d = app
        .post(
            &format!("/v1/bookings/{done}/dispute"),
            Some(&a),
            json!({"reason": "poor_work", "text": format!("{} the guest network drops hourly", m("DisputeText"))}),
        )
        .await;
    assert_eq!(d.status, StatusCode::CREATED, "{}", d.text);
    let dispute = d.body["id"].as_str().expect("dispute").to_owned();
    let statement = format!("{} every device was tested twice", m("StatementHOne"));
    ok(&app.post(&format!("/v1/disputes/{dispute}/statement"), Some(&h1), json!({"text": statement})).await, "statement");
    let p = upload(app, Some(&a), &format!("/v1/disputes/{dispute}/photos")).await;
    assert_eq!(p.status, StatusCode::CREATED, "{}", p.text);
    let photo = p.body["id"].as_str().expect("photo").to_owned();
    for (token, label, rating) in [(&a, "ReviewByA", 4), (&h1, "ReviewByHOne", 5)] {
        let r = app.post(&format!("/v1/bookings/{done}/review"), Some(token), json!({"rating": rating, "text": m(label)})).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    }
    // Cancelled by A before H1 answered.
    let (cancelled, _) = book(app, &a, &h1_id, &start(5, 10), &addr("AddrCancelled")).await;
    act(app, &a, &cancelled, json!({"action": "cancel", "reason": "Plans changed"})).await;
    // B's booking with H3, accepted, with a message.
    let (others, _) = book(app, &b, &h3_id, &start(2, 14), &addr("AddrOfB")).await;
    act(app, &h3, &others, json!({"action": "accept"})).await;
    let r = app
        .post(&format!("/v1/bookings/{others}/messages"), Some(&b), json!({"body": format!("{} the door code is 4711", m("MsgFromB"))}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    // A's request for anyone nearby: only H2 offers printer help, so only H2 is offered it.
    let r = app
        .post(
            "/v1/bookings",
            Some(&a),
            json!({"service": "printer-setup", "address": addr("AddrRequest"), "start": start(6, 10), "location": {"lat": 47.3725, "lon": 8.5430}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["state"], "offered", "{}", r.text);
    let request = r.body["id"].as_str().expect("request").to_owned();
    let offers = app.get("/v1/offers", Some(&h2)).await;
    assert!(
        offers.body["items"].as_array().expect("items").iter().any(|o| o["id"] == request.as_str()),
        "H2 is offered A's request: {}",
        offers.text
    );
    // H1's day off, far ahead.
    let e = app.post("/v1/helper/availability/exceptions", Some(&h1), json!({"kind": "off", "date": day(200).to_string()})).await;
    assert_eq!(e.status, StatusCode::CREATED, "{}", e.text);
    let exception = e.body["id"].as_str().expect("exception").to_owned();
    // H1's calendar address.
    let c = app.get("/v1/helper/calendar", Some(&h1)).await;
    ok(&c, "calendar link");
    let url = c.body["url"].as_str().expect("url");
    let calendar = url[url.find("/v1/helper/calendar.ics?token=").expect("calendar path")..].to_owned();
    // The accept link in H2's offer mail.
    let mail = readable_mail(&wait_for_mail(&h_email(2), "New request").await);
    let h2_link = link_token(&mail, "/v1/links/").expect("an accept link in H2's mail");
    assert!(h2_link.len() > 20, "{h2_link}");
    app.drain_outbox().await;
    let (outbox,): (String,) = sqlx::query_as("SELECT CAST(id AS TEXT) FROM outbox WHERE state = 'sent' LIMIT 1")
        .fetch_one(app.store.pool())
        .await
        .expect("outbox row");
    // A second account nobody watches, for the login and register rows.
    let throwaway_email = format!("throwaway-{t}@example.ch");
    person(app, &throwaway_email, "Theo Throwaway", "customer").await;

    let who = |a: &[Actor]| a.to_vec();
    let mk = |label: &'static str, needle: String, compact: bool, seen_by: Vec<Actor>| Marker {
        label,
        needle: if compact { needle.to_lowercase().chars().filter(|c| !c.is_whitespace()).collect() } else { needle.to_lowercase() },
        compact,
        seen_by,
    };
    let ml = |label: &str| m(label).to_lowercase();
    let markers = vec![
        mk("A's e-mail", a_email.clone(), false, who(&[Owner, Operator])),
        // Helpers asked to come see the customer's name; nobody else does.
        mk("A's name", ml("AName"), false, who(&[Owner, Operator, Assigned, Offered])),
        mk("A's address (requested booking)", ml("AddrRequested"), false, who(&[Owner, Operator])),
        mk("A's address (accepted booking)", ml("AddrAccepted"), false, who(&[Owner, Operator, Assigned])),
        mk("A's address (done booking)", ml("AddrDone"), false, who(&[Owner, Operator, Assigned])),
        mk("A's address (cancelled before acceptance)", ml("AddrCancelled"), false, who(&[Owner, Operator])),
        mk("A's address (request offered to H2)", ml("AddrRequest"), false, who(&[Owner, Operator])),
        mk("B's e-mail", b_email.clone(), false, who(&[OtherCustomer, Operator])),
        mk("B's name", ml("BName"), false, who(&[OtherCustomer, Operator, OtherHelper])),
        mk("B's address", ml("AddrOfB"), false, who(&[OtherCustomer, Operator, OtherHelper])),
        mk("B's message", ml("MsgFromB"), false, who(&[OtherCustomer, Operator, OtherHelper])),
        mk("H1's e-mail", h_email(1), false, who(&[Assigned, Operator])),
        mk("H1's legal name", ml("HOneLegal"), false, who(&[Assigned, Operator])),
        mk("H1's application IBAN", ibans[0].clone(), true, who(&[Assigned, Operator])),
        // The invoice of A's done visit names H1's billing account and address (the QR-bill's creditor).
        mk("H1's billing IBAN", ibans[1].clone(), true, who(&[Assigned, Operator, Owner])),
        mk("H1's billing street", ml("HOneStreet"), false, who(&[Assigned, Operator, Owner])),
        mk("H1's home latitude", lats[0].clone(), false, who(&[Assigned, Operator])),
        mk("H2's e-mail", h_email(2), false, who(&[Offered, Operator])),
        mk("H2's legal name", ml("HTwoLegal"), false, who(&[Offered, Operator])),
        mk("H2's application IBAN", ibans[2].clone(), true, who(&[Offered, Operator])),
        mk("H2's home latitude", lats[1].clone(), false, who(&[Offered, Operator])),
        mk("H3's e-mail", h_email(3), false, who(&[OtherHelper, Operator])),
        mk("H3's legal name", ml("HThreeLegal"), false, who(&[OtherHelper, Operator])),
        mk("H3's application IBAN", ibans[3].clone(), true, who(&[OtherHelper, Operator])),
        mk("H3's billing IBAN", ibans[4].clone(), true, who(&[OtherHelper, Operator])),
        mk("H3's billing street", ml("HThreeStreet"), false, who(&[OtherHelper, Operator])),
        mk("H3's home latitude", lats[2].clone(), false, who(&[OtherHelper, Operator])),
        mk("the operator's e-mail", operator_email.clone(), false, who(&[Operator])),
        mk("A's message", ml("MsgFromA"), false, who(&[Owner, Assigned, Operator])),
        mk("H1's message", ml("MsgFromHOne"), false, who(&[Owner, Assigned, Operator])),
        mk("the dispute text", ml("DisputeText"), false, who(&[Owner, Assigned, Operator])),
        mk("H1's dispute statement", ml("StatementHOne"), false, who(&[Owner, Assigned, Operator])),
        mk("A's review", ml("ReviewByA"), false, who(&[Owner, Assigned, Operator])),
        mk("H1's review", ml("ReviewByHOne"), false, who(&[Owner, Assigned, Operator])),
    ];
    World {
        tokens: vec![(Owner, a), (OtherCustomer, b), (Assigned, h1), (Offered, h2), (OtherHelper, h3), (Operator, op)],
        emails: vec![
            (Owner, a_email),
            (OtherCustomer, b_email),
            (Assigned, h_email(1)),
            (Offered, h_email(2)),
            (OtherHelper, h_email(3)),
            (Operator, operator_email),
        ],
        a_id,
        h1_id,
        h2_id,
        bookings: vec![
            (Bk::Requested, requested),
            (Bk::Accepted, accepted),
            (Bk::Done, done),
            (Bk::Cancelled, cancelled),
            (Bk::Request, request),
            (Bk::Others, others),
            (Bk::Ghost, uuid::Uuid::new_v4().to_string()),
        ],
        dispute,
        photo,
        exception,
        outbox,
        calendar,
        h2_link,
        throwaway_email,
        statement,
        markers,
    }
}

fn rand_digits() -> u32 {
    u32::from_str_radix(&uuid::Uuid::new_v4().simple().to_string()[..5], 16).expect("hex") % 100_000
}

fn case(label: &'static str, url: impl Into<String>, want: [Want; 7]) -> Case {
    Case { label, url: url.into(), want, body: None, probe: None, seen_as: None }
}

impl Case {
    fn body(mut self, v: Value) -> Self {
        self.body = Some(Payload::Json(v));
        self
    }

    fn probe(mut self, v: Value) -> Self {
        self.probe = Some(Payload::Json(v));
        self
    }
}

/// The matrix: every operation's rows. `None` for an operation the table does not know.
fn cases(w: &World, method: &str, path: &str) -> Option<Vec<Case>> {
    let all_ok = || wants(|_| Want::Ok);
    let ghost = uuid::Uuid::new_v4().to_string();
    let on_bookings = |suffix: &str, requests: bool, f: &dyn Fn(Bk, Side) -> Want| -> Vec<Case> {
        BOOKINGS
            .iter()
            .map(|(bk, label)| case(label, format!("/v1/bookings/{}{suffix}", w.booking(*bk)), on_booking(*bk, requests, |s| f(*bk, s))))
            .collect()
    };
    let window = format!("from={}&to={}", start(1, 0), start(8, 0));
    Some(match (method, path) {
        ("GET", "/healthz" | "/readyz" | "/metrics" | "/v1/catalog" | "/v1/helper/application/quiz" | "/v1/helpers") => {
            vec![case("public", path, all_ok())]
        }
        ("POST", "/v1/auth/login") => {
            vec![case("a valid login", path, all_ok()).body(json!({"email": w.throwaway_email, "password": PASSWORD}))]
        }
        ("POST", "/v1/auth/register") => vec![
            case("an e-mail in use", path, wants(|_| CONFLICT))
                .body(json!({"email": w.throwaway_email, "password": PASSWORD, "name": "Someone Else", "role": "customer"})),
        ],
        ("POST", "/v1/auth/refresh") => {
            vec![case("an unknown refresh token", path, wants(|_| UNAUTHORIZED)).body(json!({"refresh_token": "nope"}))]
        }
        ("POST", "/v1/auth/logout") => {
            vec![case("an unknown refresh token", path, signed_in(|_| Want::Ok)).body(json!({"refresh_token": "nope"}))]
        }
        ("GET", "/v1/me" | "/v1/me/export" | "/v1/bookings" | "/v1/notifications" | "/v1/stream") => {
            let url = if path == "/v1/stream" { "/v1/stream?last_event_id=0" } else { path };
            vec![case("own", url, signed_in(|_| Want::Ok))]
        }
        ("PATCH", "/v1/me") => vec![case("no change", path, signed_in(|_| Want::Ok)).body(json!({}))],
        ("DELETE", "/v1/me") => {
            vec![case("a wrong password", path, signed_in(|_| FORBIDDEN)).body(json!({"password": "not the password"}))]
        }
        ("POST", "/v1/notifications/read") => vec![case("an unknown id", path, signed_in(|_| Want::Ok)).body(json!({"ids": [0]}))],
        ("POST", "/v1/bookings") => vec![
            case("an address too short", path, customers_only(BAD_REQUEST))
                .body(json!({"service": "guest-wifi", "address": "x", "start": start(9, 10), "helper_id": w.h1_id})),
        ],
        ("POST", "/v1/matches") => vec![
            case("central Zurich", path, customers_only(Want::Ok))
                .body(json!({"service": "guest-wifi", "postcode": "8001", "window": {"from": start(2, 0), "to": start(9, 0)}})),
        ],
        ("POST", "/v1/quotes") => {
            vec![case("public", path, all_ok()).body(json!({"service": "guest-wifi", "postcode": "8001", "start": start(9, 10)}))]
        }
        ("GET", "/v1/offers") => vec![case("own", path, helpers_only(|_| Want::Ok))],
        ("GET", "/v1/bookings/{id}") => on_bookings("", true, &|_, _| Want::Ok),
        ("GET", "/v1/bookings/{id}/dispute") => on_bookings("/dispute", false, &|bk, _| if bk == Bk::Done { Want::Ok } else { NOT_FOUND }),
        ("POST", "/v1/bookings/{id}/dispute") => {
            on_bookings("/dispute", false, &|_, s| if s == Side::Operator { FORBIDDEN } else { CONFLICT })
                .into_iter()
                .map(|c| c.body(json!({"reason": "poor_work", "text": "Nothing works as it should."})))
                .collect()
        }
        ("GET", "/v1/bookings/{id}/invoice") => on_bookings("/invoice", false, &|bk, _| if bk == Bk::Done { Want::Ok } else { CONFLICT }),
        ("GET", "/v1/bookings/{id}/messages") => on_bookings("/messages", false, &|_, _| Want::Ok),
        ("POST", "/v1/bookings/{id}/messages") => {
            on_bookings("/messages", false, &|_, _| Want::Ok).into_iter().map(|c| c.body(json!({"body": "Matrix says hello."}))).collect()
        }
        ("POST", "/v1/bookings/{id}/payment") => {
            on_bookings("/payment", false, &|_, s| if s == Side::Customer { CONFLICT } else { FORBIDDEN })
                .into_iter()
                .map(|c| c.body(json!({"method": "card"})))
                .collect()
        }
        ("GET", "/v1/bookings/{id}/receipt") => on_bookings("/receipt", false, &|_, _| Want::Ok),
        ("POST", "/v1/bookings/{id}/review") => {
            on_bookings("/review", false, &|_, s| if s == Side::Operator { FORBIDDEN } else { CONFLICT })
                .into_iter()
                .map(|c| c.body(json!({"rating": 1, "text": "Matrix review."})))
                .collect()
        }
        ("GET", "/v1/bookings/{id}/reviews") => on_bookings("/reviews", false, &|_, _| Want::Ok),
        // Allowed: a step impossible in every state here. Refused: a cancellation.
        ("POST", "/v1/bookings/{id}/transitions") => on_bookings("/transitions", true, &|_, _| CONFLICT)
            .into_iter()
            .map(|c| c.body(json!({"action": "complete", "code": "0000"})).probe(json!({"action": "cancel", "reason": "Matrix probe"})))
            .collect(),
        ("POST", "/v1/disputes/{id}/photos") => {
            let mut rows = vec![
                case(
                    "open dispute",
                    format!("/v1/disputes/{}/photos", w.dispute),
                    signed_in(|a| match a {
                        Owner | Assigned => Want::Ok,
                        Operator => FORBIDDEN,
                        _ => NOT_FOUND,
                    }),
                ),
                case("made-up id", format!("/v1/disputes/{ghost}/photos"), signed_in(|_| NOT_FOUND)),
            ];
            for r in &mut rows {
                r.body = Some(Payload::Png);
            }
            rows
        }
        ("GET", "/v1/disputes/{id}/photos/{photo_id}") => vec![
            case(
                "the photo",
                format!("/v1/disputes/{}/photos/{}", w.dispute, w.photo),
                signed_in(|a| if matches!(a, Owner | Assigned | Operator) { Want::Ok } else { NOT_FOUND }),
            ),
            case("made-up photo", format!("/v1/disputes/{}/photos/{ghost}", w.dispute), signed_in(|_| NOT_FOUND)),
        ],
        ("POST", "/v1/disputes/{id}/statement") => vec![
            case(
                "open dispute",
                format!("/v1/disputes/{}/statement", w.dispute),
                signed_in(|a| match a {
                    Owner | Assigned => Want::Ok,
                    Operator => FORBIDDEN,
                    _ => NOT_FOUND,
                }),
            )
            .body(json!({"text": w.statement})),
        ],
        (
            "GET",
            "/v1/helper/application" | "/v1/helper/availability" | "/v1/helper/earnings" | "/v1/helper/profile" | "/v1/helper/calendar",
        ) => {
            vec![case("own", path, helpers_only(|_| Want::Ok))]
        }
        ("GET", "/v1/helper/billing") => vec![case("own", path, helpers_only(|a| if a == Offered { NOT_FOUND } else { Want::Ok }))],
        ("POST", "/v1/helper/application") => vec![case("applied already", path, helpers_only(|_| CONFLICT)).body(
            json!({"legal_name": "Matrix Person", "birth_date": "1980-01-01", "iban": random_iban(), "quiz_answers": [1, 1, 0, 1, 2]}),
        )],
        ("POST", "/v1/helper/application/appeal") => {
            vec![case("nothing to appeal", path, helpers_only(|_| CONFLICT)).body(json!({"text": "Please look at it once more."}))]
        }
        ("PUT", "/v1/helper/availability") => vec![case("the same hours", path, helpers_only(|_| Want::Ok)).body(all_week())],
        ("POST", "/v1/helper/availability/exceptions") => {
            vec![case("an unknown kind", path, helpers_only(|_| BAD_REQUEST)).body(json!({"kind": "nap", "date": day(300).to_string()}))]
        }
        ("DELETE", "/v1/helper/availability/exceptions/{id}") => vec![case(
            "H1's exception",
            format!("/v1/helper/availability/exceptions/{}", w.exception),
            helpers_only(|a| if a == Assigned { Want::Ok } else { NOT_FOUND }),
        )],
        ("PUT", "/v1/helper/billing") => vec![
            case("an invalid IBAN", path, helpers_only(|_| BAD_REQUEST))
                .body(json!({"iban": "CH00 1234", "street": "Matrixweg", "postcode": "8000", "town": "Zürich"})),
        ],
        ("PUT", "/v1/helper/profile") => vec![
            case("radius 0", path, helpers_only(|_| BAD_REQUEST))
                .body(json!({"skills": ["wifi"], "home": {"lat": 47.37, "lon": 8.54}, "travel_radius_km": 0})),
        ],
        ("GET", "/v1/helper/calendar.ics") => vec![
            case("H1's signed address", w.calendar.clone(), all_ok()).seen_by(Assigned),
            case("a forged address", "/v1/helper/calendar.ics?token=forged", wants(|_| UNAUTHORIZED)),
        ],
        ("GET", "/v1/helpers/{id}") => vec![
            case("a helper", format!("/v1/helpers/{}", w.h1_id), all_ok()),
            case("a customer", format!("/v1/helpers/{}", w.a_id), wants(|_| NOT_FOUND)),
            case("made-up id", format!("/v1/helpers/{ghost}"), wants(|_| NOT_FOUND)),
        ],
        ("GET", "/v1/helpers/{id}/slots") => vec![
            case("a helper", format!("/v1/helpers/{}/slots?service=guest-wifi&{window}", w.h2_id), all_ok()),
            case("a customer", format!("/v1/helpers/{}/slots?service=guest-wifi&{window}", w.a_id), wants(|_| NOT_FOUND)),
        ],
        ("GET", "/v1/links/{token}") => vec![
            case("H2's accept link", format!("/v1/links/{}", w.h2_link), all_ok()).seen_by(Offered),
            case("a forged link", "/v1/links/forged", wants(|_| UNAUTHORIZED)),
        ],
        // Following H2's real link would take the request: only the forged one here.
        ("POST", "/v1/links/{token}") => vec![case("a forged link", "/v1/links/forged", wants(|_| UNAUTHORIZED))],
        ("POST", "/v1/auth/password-reset") => {
            vec![
                case("an address without an account", path, wants(|_| Want::Ok))
                    .body(json!({"email": format!("nobody-{ghost}@example.ch")})),
            ]
        }
        ("POST", "/v1/auth/password-reset/confirm") => {
            vec![case("a forged link", path, wants(|_| UNAUTHORIZED)).body(json!({"token": "forged", "password": "a new password 1"}))]
        }
        ("GET", "/v1/levels") => vec![case("public", path, all_ok())],
        ("GET", "/v1/rankings") => vec![case("a postcode", "/v1/rankings?postcode=8001", all_ok())],
        ("GET", "/v1/helper/metrics") => vec![case("own", path, helpers_only(|_| Want::Ok))],
        ("POST", "/v1/helper/metrics/contest") => vec![
            case("an unknown figure", path, helpers_only(|_| BAD_REQUEST))
                .body(json!({"figure": "no_such_figure", "text": "Please count again."})),
        ],
        ("PUT", "/v1/helper/ranking") => vec![case("stay out", path, helpers_only(|_| Want::Ok)).body(json!({"opt_in": false}))],
        ("GET", "/v1/ops/contests") => vec![case("operators", path, operators_only(Want::Ok))],
        // Operators: no answer (refused before the contest is looked up). Others: a decision.
        ("POST", "/v1/ops/contests/{id}/decide") => vec![
            case("made-up id", format!("/v1/ops/contests/{ghost}/decide"), operators_only(BAD_REQUEST))
                .body(json!({"accept": true, "answer": ""}))
                .probe(json!({"accept": true, "answer": "Matrix probe answer"})),
        ],
        // Operators: a radius out of range. Others: a real invitation.
        ("POST", "/v1/ops/invitations") => vec![
            case("central Zurich", path, operators_only(BAD_REQUEST))
                .body(json!({"postcode": "8001", "radius_km": 0.0, "subject": "Meet-up", "text": "Come to our helpers' meet-up."}))
                .probe(json!({"postcode": "8001", "radius_km": 5.0, "subject": "Meet-up", "text": "Come to our helpers' meet-up."})),
        ],
        (
            "GET",
            "/v1/ops/audit"
            | "/v1/ops/bookings"
            | "/v1/ops/coverage"
            | "/v1/ops/coverage.svg"
            | "/v1/ops/disputes"
            | "/v1/ops/helpers"
            | "/v1/ops/metrics"
            | "/v1/ops/outbox"
            | "/v1/ops/policies",
        ) => vec![case("operators", path, operators_only(Want::Ok))],
        ("GET", "/v1/ops/disputes/{id}") => vec![
            case("open dispute", format!("/v1/ops/disputes/{}", w.dispute), operators_only(Want::Ok)),
            case("made-up id", format!("/v1/ops/disputes/{ghost}"), operators_only(NOT_FOUND)),
        ],
        // Operators: no reasons (refused before anything is posted). Others: a real refund.
        ("POST", "/v1/ops/disputes/{id}/resolve") => vec![
            case("open dispute", format!("/v1/ops/disputes/{}/resolve", w.dispute), operators_only(BAD_REQUEST))
                .body(json!({"outcome": "payout", "note": ""}))
                .probe(json!({"outcome": "refund", "note": "Matrix probe refund"})),
        ],
        ("POST", "/v1/ops/helpers/{id}/decision") => vec![
            case("H2", format!("/v1/ops/helpers/{}/decision", w.h2_id), operators_only(BAD_REQUEST))
                .body(json!({"decision": "suspend", "reason": ""}))
                .probe(json!({"decision": "suspend", "reason": "Matrix probe suspension"})),
        ],
        ("PUT", "/v1/ops/catalog/{slug}") => vec![
            case("guest-wifi", "/v1/ops/catalog/guest-wifi", operators_only(Want::Ok))
                .body(json!({}))
                .probe(json!({"base_price_rappen": 1})),
            case("unknown slug", "/v1/ops/catalog/no-such-service", operators_only(NOT_FOUND)).body(json!({})),
        ],
        ("POST", "/v1/ops/outbox/{id}/retry") => vec![
            case("a sent message", format!("/v1/ops/outbox/{}/retry", w.outbox), operators_only(CONFLICT)),
            case("made-up id", format!("/v1/ops/outbox/{ghost}/retry"), operators_only(NOT_FOUND)),
        ],
        ("POST", "/v1/ops/policies") => {
            let windows = json!([{"from_hours_before": null, "to_hours_before": 24, "fee_bps": 0}, {"from_hours_before": 24, "to_hours_before": 0, "fee_bps": 5000}]);
            let policy = |fee: u32| {
                json!({"customer_cancellation": windows, "helper_compensation_bps": fee, "customer_no_show_fee_bps": 10000, "customer_no_show_helper_bps": 10000,
                    "helper_no_show_penalty_rappen": 2000, "helper_no_show_refund_bps": 10000, "dispute_window_hours": 336})
            };
            vec![case("a fee over 100 %", path, operators_only(BAD_REQUEST)).body(policy(20_000)).probe(policy(0))]
        }
        _ => return None,
    })
}

impl Case {
    fn seen_by(mut self, a: Actor) -> Self {
        self.seen_as = Some(a);
        self
    }
}

async fn call(app: &TestApp, method: &Method, url: &str, token: Option<&str>, payload: Option<&Payload>) -> Res {
    if url.starts_with("/v1/stream") {
        return stream(app, url, token).await;
    }
    match payload {
        Some(Payload::Png) => upload(app, token, url).await,
        Some(Payload::Json(v)) => app.request(method.clone(), url, token, Some(v.clone())).await,
        None => app.request(method.clone(), url, token, None).await,
    }
}

async fn state_of(app: &TestApp, w: &World, bk: Bk) -> String {
    let r = app.get(&format!("/v1/bookings/{}", w.booking(bk)), w.token(Operator)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body["state"].as_str().unwrap_or("").to_owned()
}

async fn matrix(backend: Backend) {
    let started = Instant::now();
    let app = spawn_app_with(backend, |s| s.login_attempts_per_address = 1_000).await;
    let w = build(&app).await;
    let built = started.elapsed();

    let doc = app.get("/openapi.json", None).await;
    assert_eq!(doc.status, StatusCode::OK, "{}", doc.text);
    let mut operations: Vec<(String, String)> = Vec::new();
    for (path, item) in doc.body["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            if ["get", "put", "post", "delete", "patch", "head", "options", "trace"].contains(&method.as_str()) {
                operations.push((method.to_uppercase(), path.clone()));
            }
        }
    }
    // Deletions last; otherwise by path.
    operations.sort_by(|(ma, pa), (mb, pb)| (ma == "DELETE", pa, ma).cmp(&(mb == "DELETE", pb, mb)));
    assert!(operations.len() >= 60, "{operations:?}");

    let mut uncovered = Vec::new();
    let mut wrong = Vec::new();
    let mut leaks = Vec::new();
    let mut present: BTreeSet<&'static str> = BTreeSet::new();
    let (mut cells, mut scans) = (0usize, 0usize);
    for (method, path) in &operations {
        let Some(rows) = cases(&w, method, path) else {
            uncovered.push(format!("{method} {path}"));
            continue;
        };
        assert!(!rows.is_empty(), "{method} {path} has no rows");
        let m = Method::from_bytes(method.as_bytes()).expect("method");
        for row in rows {
            // Refused actors first, so an allowed actor's change cannot hide a refusal.
            let mut order: Vec<(Actor, Want)> = ACTORS.iter().copied().zip(row.want).collect();
            order.sort_by_key(|(_, want)| !want.refused());
            for (actor, want) in order {
                let payload = if want.refused() { row.probe.as_ref().or(row.body.as_ref()) } else { row.body.as_ref() };
                let res = call(&app, &m, &row.url, w.token(actor), payload).await;
                cells += 1;
                if !want.matches(res.status) {
                    let text: String = res.text.chars().take(300).collect();
                    wrong.push(format!("{method} {path} [{}] as {actor:?}: expected {want}, got {} {text}", row.label, res.status));
                }
                // The stream replays the feed: the scan reads real events, not an empty stream.
                if row.url.starts_with("/v1/stream") && actor == Assigned && !res.text.contains("event: notification") {
                    wrong.push(format!("the stream replayed no notification to H1 within 1.5 s: {:?}", res.text));
                }
                if actor == Operator {
                    scan(&w.markers, Operator, &response_text(&res), &mut present);
                    continue;
                }
                let viewer = row.seen_as.unwrap_or(actor);
                scans += 1;
                for label in scan(&w.markers, viewer, &response_text(&res), &mut present) {
                    leaks.push(format!(
                        "{method} {} [{}] as {actor:?} ({}): {label}",
                        row.url.split('?').next().unwrap_or(""),
                        row.label,
                        res.status
                    ));
                }
                let mut keys = Vec::new();
                secret_keys(&res.body, viewer, "$", &mut keys);
                for k in keys {
                    leaks.push(format!("{method} {} [{}] as {actor:?}: carries {k}", row.url.split('?').next().unwrap_or(""), row.label));
                }
            }
        }
    }
    let matrix_time = started.elapsed() - built;

    // The refused cancellations, refunds and decisions changed nothing.
    for (bk, want) in [
        (Bk::Requested, "requested"),
        (Bk::Accepted, "accepted"),
        (Bk::Done, "done"),
        (Bk::Cancelled, "cancelled_by_customer"),
        (Bk::Request, "offered"),
        (Bk::Others, "accepted"),
    ] {
        let got = state_of(&app, &w, bk).await;
        if got != want {
            wrong.push(format!("{bk:?} is {got} after the matrix, expected {want}"));
        }
    }
    let case = app.get(&format!("/v1/ops/disputes/{}", w.dispute), w.token(Operator)).await;
    if case.body["dispute"]["status"] != "open" {
        wrong.push(format!("the dispute is no longer open after the matrix: {}", case.text));
    }
    let h2 = app.get("/v1/helper/application", w.token(Offered)).await;
    if h2.body["status"] != "approved" {
        wrong.push(format!("H2 is no longer approved after the matrix: {}", h2.text));
    }

    // Every mail each actor received, read in their own mailbox only.
    app.drain_outbox().await;
    let mut mails = 0usize;
    let mut in_mails: BTreeSet<&'static str> = BTreeSet::new();
    for actor in [Owner, OtherCustomer, Assigned, Offered, OtherHelper, Operator] {
        for raw in mails_to(w.email(actor)) {
            mails += 1;
            let text = readable_mail(&raw);
            let subject = crate::harness::decoded_subject(&raw);
            for label in scan(&w.markers, actor, &text, &mut in_mails) {
                leaks.push(format!("mail to {actor:?} {subject:?}: {label}"));
            }
        }
    }
    assert!(mails >= 10, "only {mails} mails arrived for the actors");
    // The decoding reaches into the parts: H1's confirmation carries the address in its calendar
    // file, so a leaked address would be seen too.
    for label in ["A's address (accepted booking)", "A's name"] {
        assert!(in_mails.contains(label), "no mail carried {label}, so the mail scan cannot be trusted: {in_mails:?}");
    }
    present.extend(in_mails);

    println!(
        "R9 on {backend:?}: {} operations, {cells} cells, {scans} responses and {mails} mails scanned for {} markers; world {built:?}, matrix {matrix_time:?}, total {:?}",
        operations.len(),
        w.markers.len(),
        started.elapsed()
    );
    // The server's own log: nobody's address, e-mail, name or IBAN in any line.
    let logs = crate::harness::captured_logs();
    assert!(logs.contains("booking moved"), "the log capture works (INFO lines of this run are there)");
    for m in &w.markers {
        let hit = if m.compact {
            logs.chars()
                .filter(|c| !c.is_whitespace())
                .collect::<String>()
                .contains(&m.needle.chars().filter(|c| !c.is_whitespace()).collect::<String>())
        } else {
            logs.contains(&m.needle)
        };
        if hit {
            leaks.push(format!("server log: {}", m.label));
        }
    }
    let mut report = Vec::new();
    if !uncovered.is_empty() {
        report.push(format!("operations without an entry in the authorization matrix:\n{}", uncovered.join("\n")));
    }
    let absent: Vec<&str> = w.markers.iter().map(|m| m.label).filter(|l| !present.contains(l)).collect();
    if !absent.is_empty() {
        report.push(format!("markers no response or mail ever carried, so their absence proves nothing: {absent:?}"));
    }
    if !wrong.is_empty() {
        report.push(format!("{} cells differ from the matrix:\n{}", wrong.len(), wrong.join("\n")));
    }
    if !leaks.is_empty() {
        leaks.sort();
        leaks.dedup();
        report.push(format!("{} leaks found by the canary scan:\n{}", leaks.len(), leaks.join("\n")));
    }
    assert!(report.is_empty(), "{}", report.join("\n\n"));
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authz_matrix_sqlite() {
    matrix(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authz_matrix_postgres() {
    matrix(Backend::Postgres).await;
}
