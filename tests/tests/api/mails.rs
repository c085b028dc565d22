//! Every notice a booking can cause reaches the real SMTP server once, in its reader's language:
//! readers registered in German, French, Italian and English, each event driven through the API
//! (timers made due by moving their due time, then run by the server's own timer worker), and the
//! subject compared with the words of `crates/notifications/src/templates.rs` copied below, so a
//! changed or mixed-up translation shows. Confirmations carry the visit as a calendar file; other
//! mails do not. In-app-only notices (small steps, messages) send no mail: every mail a reader gets
//! is accounted for.

use std::collections::BTreeMap;
use std::path::PathBuf;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both_backends;
use crate::harness::{Res, TestApp, unique_email};

const SERVICE: &str = "Guest Wi-Fi set-up";
const ZONE: &str = "Europe/Zurich";

/// The subject template of a notice in a language (from templates.rs).
fn template(kind: &str, locale: &str) -> &'static str {
    match (kind, locale) {
        ("booking_requested", "de") => "Neue Anfrage: {service}",
        ("booking_requested", "fr") => "Nouvelle demande : {service}",
        ("booking_requested", "it") => "Nuova richiesta: {service}",
        ("booking_requested", "en") => "New request: {service}",
        ("booking_accepted", "de") => "Bestätigt: {service} am {when}",
        ("booking_accepted", "fr") => "Confirmé : {service} le {when}",
        ("booking_accepted", "it") => "Confermato: {service} il {when}",
        ("booking_accepted", "en") => "Confirmed: {service} on {when}",
        ("booking_declined", "de") => "Leider abgelehnt: {service}",
        ("booking_declined", "fr") => "Demande refusée : {service}",
        ("booking_declined", "it") => "Richiesta rifiutata: {service}",
        ("booking_declined", "en") => "Declined: {service}",
        ("booking_cancelled", "de") => "Abgesagt: {service} am {when}",
        ("booking_cancelled", "fr") => "Annulé : {service} le {when}",
        ("booking_cancelled", "it") => "Annullato: {service} il {when}",
        ("booking_cancelled", "en") => "Cancelled: {service} on {when}",
        ("booking_completed", "de") => "Erledigt: {service}",
        ("booking_completed", "fr") => "Terminé : {service}",
        ("booking_completed", "it") => "Completato: {service}",
        ("booking_completed", "en") => "Done: {service}",
        ("booking_expired", "de") => "Anfrage abgelaufen: {service}",
        ("booking_expired", "fr") => "Demande expirée : {service}",
        ("booking_expired", "it") => "Richiesta scaduta: {service}",
        ("booking_expired", "en") => "Request expired: {service}",
        ("booking_confirmed", "de") => "{helper} bestätigt: {service} am {when}",
        ("booking_confirmed", "fr") => "{helper} confirme : {service} le {when}",
        ("booking_confirmed", "it") => "{helper} conferma: {service} il {when}",
        ("booking_confirmed", "en") => "{helper} confirmed: {service} on {when}",
        ("booking_on_the_way", "de") => "{helper} ist unterwegs",
        ("booking_on_the_way", "fr") => "{helper} est en route",
        ("booking_on_the_way", "it") => "{helper} è in viaggio",
        ("booking_on_the_way", "en") => "{helper} is on the way",
        ("booking_change_proposed", "de") => "Mehr Zeit für {service}?",
        ("booking_change_proposed", "fr") => "Plus de temps pour {service} ?",
        ("booking_change_proposed", "it") => "Più tempo per {service}?",
        ("booking_change_proposed", "en") => "More time for {service}?",
        ("booking_reschedule_proposed", "de") => "Neuer Termin vorgeschlagen: {service}",
        ("booking_reschedule_proposed", "fr") => "Nouvelle date proposée : {service}",
        ("booking_reschedule_proposed", "it") => "Nuova data proposta: {service}",
        ("booking_reschedule_proposed", "en") => "New time proposed: {service}",
        ("booking_rescheduled", "de") => "Verschoben: {service} neu am {when}",
        ("booking_rescheduled", "fr") => "Déplacé : {service} le {when}",
        ("booking_rescheduled", "it") => "Spostato: {service} il {when}",
        ("booking_rescheduled", "en") => "Moved: {service} on {when}",
        ("booking_failed", "de") => "Nicht abgeschlossen: {service}",
        ("booking_failed", "fr") => "Non terminé : {service}",
        ("booking_failed", "it") => "Non completato: {service}",
        ("booking_failed", "en") => "Not completed: {service}",
        ("booking_no_show", "de") => "Nicht erschienen: {service}",
        ("booking_no_show", "fr") => "Absence signalée : {service}",
        ("booking_no_show", "it") => "Assenza segnalata: {service}",
        ("booking_no_show", "en") => "No-show reported: {service}",
        ("booking_reminder_24h", "de") => "Morgen: {service} am {when}",
        ("booking_reminder_24h", "fr") => "Demain : {service} le {when}",
        ("booking_reminder_24h", "it") => "Domani: {service} il {when}",
        ("booking_reminder_24h", "en") => "Tomorrow: {service} on {when}",
        ("booking_reminder_1h", "de") => "In einer Stunde: {service}",
        ("booking_reminder_1h", "fr") => "Dans une heure : {service}",
        ("booking_reminder_1h", "it") => "Tra un'ora: {service}",
        ("booking_reminder_1h", "en") => "In one hour: {service}",
        ("booking_reassigned", "de") => "Neue Helferin oder neuer Helfer: {service} am {when}",
        ("booking_reassigned", "fr") => "Nouvelle personne : {service} le {when}",
        ("booking_reassigned", "it") => "Nuova persona: {service} il {when}",
        ("booking_reassigned", "en") => "New helper: {service} on {when}",
        ("dispute_opened", "de") => "Reklamation eröffnet: {service}",
        ("dispute_opened", "fr") => "Litige ouvert : {service}",
        ("dispute_opened", "it") => "Contestazione aperta: {service}",
        ("dispute_opened", "en") => "Dispute opened: {service}",
        ("dispute_resolved", "de") => "Reklamation entschieden: {service}",
        ("dispute_resolved", "fr") => "Litige tranché : {service}",
        ("dispute_resolved", "it") => "Contestazione decisa: {service}",
        ("dispute_resolved", "en") => "Dispute decided: {service}",
        other => panic!("no subject for {other:?}"),
    }
}

/// "01.07.2026 14:00 (Europe/Zurich)": how mails show a start to a reader in Zurich.
fn when(starts_at: &str) -> String {
    let ts: jiff::Timestamp = starts_at.parse().expect("rfc3339");
    let z = ts.to_zoned(jiff::tz::TimeZone::get(ZONE).expect("zone"));
    format!("{} ({ZONE})", z.strftime("%d.%m.%Y %H:%M"))
}

/// A person taking part, with the language they registered in.
#[derive(Clone)]
struct Person {
    id: String,
    token: String,
    email: String,
    name: String,
    locale: &'static str,
}

async fn register(app: &TestApp, name: &str, role: &str, locale: &'static str) -> Person {
    let email = unique_email(role);
    let r = app
        .post(
            "/v1/auth/register",
            None,
            json!({"email": email, "password": "correct horse battery", "name": name, "role": role, "locale": locale}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["locale"], locale, "{}", r.text);
    let l = app.login(&email, "correct horse battery").await;
    assert_eq!(l.status, StatusCode::OK, "{}", l.text);
    Person {
        id: r.body["id"].as_str().expect("id").to_owned(),
        token: l.body["access_token"].as_str().expect("token").to_owned(),
        email,
        name: name.to_owned(),
        locale,
    }
}

/// An approved helper in central Zurich, available around the clock.
async fn helper(app: &TestApp, name: &str, locale: &'static str) -> Person {
    let h = register(app, name, "helper", locale).await;
    let p = app
        .request(
            Method::PUT,
            "/v1/helper/profile",
            Some(&h.token),
            Some(json!({"skills": ["wifi"], "home": {"lat": 47.3769, "lon": 8.5417}, "travel_radius_km": 5, "bio": "Gern.", "languages": [locale]})),
        )
        .await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.text);
    let all_week: Vec<Value> =
        ["mon", "tue", "wed", "thu", "fri", "sat", "sun"].iter().map(|d| json!({"weekday": d, "start": "00:00", "end": "24:00"})).collect();
    let a = app
        .request(Method::PUT, "/v1/helper/availability", Some(&h.token), Some(json!({"rules": all_week, "min_notice_minutes": 0})))
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    app.approve(&h.token, &h.id).await;
    h
}

fn start_in_days(days: i64, hh: u8) -> String {
    let d = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date().checked_add(jiff::Span::new().days(days)).expect("date");
    format!("{d}T{hh:02}:00:00Z")
}

/// A booked visit: its id, start (as the API returned it) and codes.
struct Visit {
    id: String,
    start: String,
    start_code: String,
}

async fn book(app: &TestApp, customer: &Person, helper: &Person, start: &str) -> Visit {
    let r = app
        .post(
            "/v1/bookings",
            Some(&customer.token),
            json!({"service": "guest-wifi", "address": "Seestrasse 12, 8002 Zürich", "start": start, "helper_id": helper.id}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["service_name"], SERVICE, "{}", r.text);
    Visit {
        id: r.body["id"].as_str().expect("id").to_owned(),
        start: r.body["starts_at"].as_str().expect("start").to_owned(),
        start_code: r.body["start_code"].as_str().expect("code").to_owned(),
    }
}

async fn act(app: &TestApp, token: &str, id: &str, body: Value) -> Res {
    let r = app.post(&format!("/v1/bookings/{id}/transitions"), Some(token), body.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{body}: {}", r.text);
    r
}

/// Lets the server's timer worker run a booking's pending timer now.
async fn make_due(app: &TestApp, booking: &str, kind: &str) {
    let n = sqlx::query("UPDATE timers SET due_at = $1 WHERE booking_id = $2 AND kind = $3 AND state = 'pending'")
        .bind(jiff::Timestamp::now().as_millisecond())
        .bind(booking)
        .bind(kind)
        .execute(app.store.pool())
        .await
        .expect("timer due")
        .rows_affected();
    assert_eq!(n, 1, "one pending {kind} timer for {booking}");
}

/// Moves a visit's start 20 minutes into the past (no-shows can only be reported after it).
async fn start_passed(app: &TestApp, booking: &str) {
    let past = jiff::Timestamp::now().as_millisecond() - 20 * 60_000;
    sqlx::query("UPDATE bookings SET starts_at = $1, ends_at = $2, blocked_from = $3, blocked_to = $4 WHERE id = $5")
        .bind(past)
        .bind(past + 45 * 60_000)
        .bind(past - 15 * 60_000)
        .bind(past + 60 * 60_000)
        .bind(booking)
        .execute(app.store.pool())
        .await
        .expect("move the start");
}

fn maildir() -> PathBuf {
    PathBuf::from(std::env::var("QUARTIER_TEST_MAILDIR").expect("QUARTIER_TEST_MAILDIR is set by scripts/test-services.sh"))
}

fn subject_of(raw: &str) -> String {
    crate::harness::decoded_subject(raw)
}

/// Waits (up to 15 s) for a mail to `to` whose subject is exactly `subject`; returns it raw.
async fn wait_for(to: &str, subject: &str) -> String {
    for _ in 0..300 {
        if let Some(m) = mails_to(to).into_iter().find(|m| subject_of(m) == subject) {
            return m;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let got: Vec<String> = mails_to(to).iter().map(|m| subject_of(m)).collect();
    panic!("no mail to {to} with the subject {subject:?} arrived at the SMTP sink within 15 s; it has: {got:?}");
}

/// Every message the sink holds for exactly `to`, raw.
fn mails_to(to: &str) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(maildir()).expect("maildir").flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || !name.ends_with(".eml") {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(e.path()) else { continue };
        let rcpts = text.lines().next().and_then(|l| l.strip_prefix("X-Sink-Rcpt:")).unwrap_or("");
        if rcpts.split(',').any(|r| r.trim() == to) {
            out.push(text);
        }
    }
    out
}

/// The mails a test expects, checked as they arrive and counted at the end.
#[derive(Default)]
struct Expected {
    /// recipient → expected subjects (a subject twice when two such mails are due).
    by_recipient: BTreeMap<String, Vec<String>>,
    /// (notice kind, language) pairs seen arriving.
    covered: Vec<(String, &'static str)>,
}

impl Expected {
    /// Waits for the mail of notice `kind` to `to`, rendered for `to`'s language with the visit
    /// starting at `start` and `helper` as the helper; checks the calendar part.
    async fn mail(&mut self, to: &Person, kind: &str, start: &str, helper: &Person) {
        let subject =
            template(kind, to.locale).replace("{service}", SERVICE).replace("{when}", &when(start)).replace("{helper}", &helper.name);
        let raw = wait_for(&to.email, &subject).await;
        let confirmation = matches!(kind, "booking_accepted" | "booking_rescheduled");
        assert_eq!(
            raw.contains("text/calendar"),
            confirmation,
            "{kind} to {} ({}): calendar part expected: {confirmation}\n{raw}",
            to.email,
            to.locale
        );
        if confirmation {
            assert!(raw.contains("visit.ics"), "{raw}");
        }
        self.by_recipient.entry(to.email.clone()).or_default().push(subject);
        self.covered.push((kind.to_owned(), to.locale));
    }

    /// After the outbox drained: each reader got exactly the expected mails, each once, and no
    /// other mail at all.
    async fn all_arrived_once(&self, app: &TestApp) {
        app.drain_outbox().await;
        let dead: Vec<(String, String)> = sqlx::query_as("SELECT template, recipient_email FROM outbox WHERE state <> 'sent'")
            .fetch_all(app.store.pool())
            .await
            .expect("outbox");
        assert!(dead.is_empty(), "undelivered: {dead:?}");
        for (to, expected) in &self.by_recipient {
            let mut want = expected.clone();
            want.sort();
            let mut got: Vec<String> = mails_to(to).iter().map(|m| subject_of(m)).collect();
            got.sort();
            assert_eq!(got, want, "the mails {to} received");
        }
    }

    fn languages_of(&self, kind: &str) -> Vec<&'static str> {
        let mut l: Vec<&'static str> = self.covered.iter().filter(|(k, _)| k == kind).map(|(_, l)| *l).collect();
        l.sort();
        l.dedup();
        l
    }
}

async fn operator_resolves(app: &TestApp, operator: &str, booking: &str, opener: &Person) {
    let d = app
        .post(
            &format!("/v1/bookings/{booking}/dispute"),
            Some(&opener.token),
            json!({"reason": "poor_work", "text": "Das Gäste-WLAN fällt immer noch aus."}),
        )
        .await;
    assert_eq!(d.status, StatusCode::CREATED, "{}", d.text);
    let id = d.body["id"].as_str().expect("dispute");
    let r = app
        .post(
            &format!("/v1/ops/disputes/{id}/resolve"),
            Some(operator),
            json!({"outcome": "payout", "note": "Die Arbeit wurde wie vereinbart erledigt."}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

both_backends! {
    async fn requests_and_their_answers_reach_each_reader_in_their_language(app) {
        let mut mail = Expected::default();
        let hanna = helper(&app, "Hanna Huber", "de").await;
        let hugo = helper(&app, "Hugo Favre", "fr").await;
        let claire = register(&app, "Claire Dubois", "customer", "fr").await;
        let chiara = register(&app, "Chiara Rossi", "customer", "it").await;
        let carl = register(&app, "Carl Smith", "customer", "en").await;
        let conrad = register(&app, "Conrad Meier", "customer", "de").await;

        // Requested (de), accepted (fr + de, with the visit as a calendar file).
        let v = book(&app, &claire, &hanna, &start_in_days(3, 9)).await;
        mail.mail(&hanna, "booking_requested", &v.start, &hanna).await;
        act(&app, &hanna.token, &v.id, json!({"action": "accept"})).await;
        mail.mail(&claire, "booking_accepted", &v.start, &hanna).await;
        mail.mail(&hanna, "booking_accepted", &v.start, &hanna).await;

        // Requested (fr), declined (it).
        let v = book(&app, &chiara, &hugo, &start_in_days(3, 10)).await;
        mail.mail(&hugo, "booking_requested", &v.start, &hugo).await;
        act(&app, &hugo.token, &v.id, json!({"action": "decline"})).await;
        mail.mail(&chiara, "booking_declined", &v.start, &hugo).await;

        // Accepted (en + fr), cancelled by the customer (en + fr).
        let v = book(&app, &carl, &hugo, &start_in_days(4, 10)).await;
        mail.mail(&hugo, "booking_requested", &v.start, &hugo).await;
        act(&app, &hugo.token, &v.id, json!({"action": "accept"})).await;
        mail.mail(&carl, "booking_accepted", &v.start, &hugo).await;
        mail.mail(&hugo, "booking_accepted", &v.start, &hugo).await;
        act(&app, &carl.token, &v.id, json!({"action": "cancel"})).await;
        mail.mail(&carl, "booking_cancelled", &v.start, &hugo).await;
        mail.mail(&hugo, "booking_cancelled", &v.start, &hugo).await;

        // Accepted (it + de), cancelled by the helper (it + de).
        let v = book(&app, &chiara, &hanna, &start_in_days(5, 10)).await;
        mail.mail(&hanna, "booking_requested", &v.start, &hanna).await;
        act(&app, &hanna.token, &v.id, json!({"action": "accept"})).await;
        mail.mail(&chiara, "booking_accepted", &v.start, &hanna).await;
        mail.mail(&hanna, "booking_accepted", &v.start, &hanna).await;
        act(&app, &hanna.token, &v.id, json!({"action": "cancel", "reason": "Krank"})).await;
        mail.mail(&chiara, "booking_cancelled", &v.start, &hanna).await;
        mail.mail(&hanna, "booking_cancelled", &v.start, &hanna).await;

        // Unanswered requests expire by the server's timer (de, fr).
        for (customer, h, day) in [(&conrad, &hanna, 6), (&claire, &hugo, 6)] {
            let v = book(&app, customer, h, &start_in_days(day, 10)).await;
            mail.mail(h, "booking_requested", &v.start, h).await;
            make_due(&app, &v.id, "request_expiry").await;
            mail.mail(customer, "booking_expired", &v.start, h).await;
            let state = app.get(&format!("/v1/bookings/{}", v.id), Some(&customer.token)).await.body["state"].clone();
            assert_eq!(state, "expired");
        }

        mail.all_arrived_once(&app).await;
        assert_eq!(mail.languages_of("booking_accepted"), ["de", "en", "fr", "it"]);
        assert_eq!(mail.languages_of("booking_cancelled"), ["de", "en", "fr", "it"]);
        app.finish().await;
    }

    async fn a_visit_from_reminder_to_dispute_reaches_each_reader_in_their_language(app) {
        let mut mail = Expected::default();
        let operator = app.operator().await;
        // Two visits: a German customer with an Italian helper, an English customer with a French one.
        for (customer, helper_, reject) in [
            (register(&app, "Dora Brunner", "customer", "de").await, helper(&app, "Ilaria Conti", "it").await, false),
            (register(&app, "Emma Brown", "customer", "en").await, helper(&app, "Fabien Roux", "fr").await, true),
        ] {
            let v = book(&app, &customer, &helper_, &start_in_days(3, 9)).await;
            mail.mail(&helper_, "booking_requested", &v.start, &helper_).await;
            act(&app, &helper_.token, &v.id, json!({"action": "accept"})).await;
            mail.mail(&customer, "booking_accepted", &v.start, &helper_).await;
            mail.mail(&helper_, "booking_accepted", &v.start, &helper_).await;
            // The reminders the server's timers send, a day and an hour ahead.
            for kind in ["booking_reminder_24h", "booking_reminder_1h"] {
                make_due(&app, &v.id, kind.trim_start_matches("booking_")).await;
                mail.mail(&customer, kind, &v.start, &helper_).await;
                mail.mail(&helper_, kind, &v.start, &helper_).await;
            }
            act(&app, &helper_.token, &v.id, json!({"action": "confirm"})).await;
            mail.mail(&customer, "booking_confirmed", &v.start, &helper_).await;
            act(&app, &helper_.token, &v.id, json!({"action": "en_route"})).await;
            mail.mail(&customer, "booking_on_the_way", &v.start, &helper_).await;
            // Arriving and answering a change are in-app only: no mail (counted at the end).
            act(&app, &helper_.token, &v.id, json!({"action": "arrive", "code": v.start_code})).await;
            act(&app, &helper_.token, &v.id, json!({"action": "propose_change", "extra_units": 1})).await;
            mail.mail(&customer, "booking_change_proposed", &v.start, &helper_).await;
            let answer = if reject { "reject_change" } else { "approve_change" };
            act(&app, &customer.token, &v.id, json!({"action": answer})).await;
            let m = app.post(&format!("/v1/bookings/{}/messages", v.id), Some(&customer.token), json!({"body": "Danke!"})).await;
            assert_eq!(m.status, StatusCode::CREATED, "{}", m.text);
            let signoff = app.get(&format!("/v1/bookings/{}", v.id), Some(&customer.token)).await.body["signoff_code"].as_str().expect("signoff").to_owned();
            act(&app, &helper_.token, &v.id, json!({"action": "complete", "code": signoff})).await;
            mail.mail(&customer, "booking_completed", &v.start, &helper_).await;
            mail.mail(&helper_, "booking_completed", &v.start, &helper_).await;
            let opener = if reject { &helper_ } else { &customer };
            operator_resolves(&app, &operator, &v.id, opener).await;
            for who in [&customer, &helper_] {
                mail.mail(who, "dispute_opened", &v.start, &helper_).await;
                mail.mail(who, "dispute_resolved", &v.start, &helper_).await;
            }
        }
        mail.all_arrived_once(&app).await;
        for kind in ["booking_reminder_24h", "booking_reminder_1h", "booking_completed", "dispute_opened", "dispute_resolved"] {
            assert_eq!(mail.languages_of(kind), ["de", "en", "fr", "it"], "{kind}");
        }
        app.finish().await;
    }

    async fn changes_failures_and_no_shows_reach_each_reader_in_their_language(app) {
        let mut mail = Expected::default();
        let operator = app.operator().await;

        // Rescheduled (fr customer, en helper), then a failed visit.
        let francine = register(&app, "Francine Morel", "customer", "fr").await;
        let edward = helper(&app, "Edward Jones", "en").await;
        let v = book(&app, &francine, &edward, &start_in_days(3, 9)).await;
        mail.mail(&edward, "booking_requested", &v.start, &edward).await;
        act(&app, &edward.token, &v.id, json!({"action": "accept"})).await;
        mail.mail(&francine, "booking_accepted", &v.start, &edward).await;
        mail.mail(&edward, "booking_accepted", &v.start, &edward).await;
        act(&app, &francine.token, &v.id, json!({"action": "reschedule", "start": start_in_days(4, 13)})).await;
        mail.mail(&francine, "booking_reschedule_proposed", &v.start, &edward).await;
        mail.mail(&edward, "booking_reschedule_proposed", &v.start, &edward).await;
        let moved = act(&app, &edward.token, &v.id, json!({"action": "accept_reschedule"})).await;
        let new_start = moved.body["starts_at"].as_str().expect("start").to_owned();
        assert_ne!(when(&new_start), when(&v.start));
        mail.mail(&francine, "booking_rescheduled", &new_start, &edward).await;
        mail.mail(&edward, "booking_rescheduled", &new_start, &edward).await;
        act(&app, &edward.token, &v.id, json!({"action": "en_route"})).await;
        mail.mail(&francine, "booking_on_the_way", &new_start, &edward).await;
        act(&app, &edward.token, &v.id, json!({"action": "report_failed", "cause": "line_not_active"})).await;
        mail.mail(&francine, "booking_failed", &new_start, &edward).await;
        mail.mail(&edward, "booking_failed", &new_start, &edward).await;

        // A declined reschedule (in-app only), then the helper does not come (it customer, de helper).
        let ilaria = register(&app, "Ilaria Bianchi", "customer", "it").await;
        let dieter = helper(&app, "Dieter Keller", "de").await;
        let v = book(&app, &ilaria, &dieter, &start_in_days(3, 11)).await;
        mail.mail(&dieter, "booking_requested", &v.start, &dieter).await;
        act(&app, &dieter.token, &v.id, json!({"action": "accept"})).await;
        mail.mail(&ilaria, "booking_accepted", &v.start, &dieter).await;
        mail.mail(&dieter, "booking_accepted", &v.start, &dieter).await;
        act(&app, &dieter.token, &v.id, json!({"action": "reschedule", "start": start_in_days(5, 8)})).await;
        mail.mail(&ilaria, "booking_reschedule_proposed", &v.start, &dieter).await;
        mail.mail(&dieter, "booking_reschedule_proposed", &v.start, &dieter).await;
        act(&app, &ilaria.token, &v.id, json!({"action": "decline_reschedule"})).await;
        start_passed(&app, &v.id).await;
        let no_show = act(&app, &ilaria.token, &v.id, json!({"action": "mark_no_show"})).await;
        assert_eq!(no_show.body["state"], "no_show_helper");
        mail.mail(&ilaria, "booking_no_show", &v.start, &dieter).await;
        mail.mail(&dieter, "booking_no_show", &v.start, &dieter).await;

        // The customer does not open the door (en customer, fr helper).
        let ethan = register(&app, "Ethan Clarke", "customer", "en").await;
        let florence = helper(&app, "Florence Blanc", "fr").await;
        let v = book(&app, &ethan, &florence, &start_in_days(3, 13)).await;
        mail.mail(&florence, "booking_requested", &v.start, &florence).await;
        act(&app, &florence.token, &v.id, json!({"action": "accept"})).await;
        mail.mail(&ethan, "booking_accepted", &v.start, &florence).await;
        mail.mail(&florence, "booking_accepted", &v.start, &florence).await;
        start_passed(&app, &v.id).await;
        let no_show = act(&app, &florence.token, &v.id, json!({"action": "mark_no_show"})).await;
        assert_eq!(no_show.body["state"], "no_show_customer");
        mail.mail(&ethan, "booking_no_show", &v.start, &florence).await;
        mail.mail(&florence, "booking_no_show", &v.start, &florence).await;

        // An operator reassigns a visit (de customer, it helper to en helper, then fr customer,
        // de helper to it helper).
        for (customer, from, to, day) in [
            (register(&app, "Doris Frei", "customer", "de").await, helper(&app, "Isabella Greco", "it").await, helper(&app, "Evan Hill", "en").await, 6),
            (register(&app, "Fanny Girard", "customer", "fr").await, helper(&app, "Dominik Vogt", "de").await, helper(&app, "Ivo Marchetti", "it").await, 7),
        ] {
            let v = book(&app, &customer, &from, &start_in_days(day, 10)).await;
            mail.mail(&from, "booking_requested", &v.start, &from).await;
            act(&app, &from.token, &v.id, json!({"action": "accept"})).await;
            mail.mail(&customer, "booking_accepted", &v.start, &from).await;
            mail.mail(&from, "booking_accepted", &v.start, &from).await;
            act(&app, &operator, &v.id, json!({"action": "reassign", "helper_id": to.id, "reason": "Helper is ill"})).await;
            mail.mail(&customer, "booking_reassigned", &v.start, &to).await;
            mail.mail(&to, "booking_accepted", &v.start, &to).await;
            mail.mail(&from, "booking_cancelled", &v.start, &from).await;
        }

        mail.all_arrived_once(&app).await;
        for (kind, languages) in [
            ("booking_reschedule_proposed", vec!["de", "en", "fr", "it"]),
            ("booking_rescheduled", vec!["en", "fr"]),
            ("booking_failed", vec!["en", "fr"]),
            ("booking_no_show", vec!["de", "en", "fr", "it"]),
            ("booking_reassigned", vec!["de", "fr"]),
        ] {
            assert_eq!(mail.languages_of(kind), languages, "{kind}");
        }
        app.finish().await;
    }
}
