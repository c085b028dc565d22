//! Words for each notice in German, French, Italian and English.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use quartier_booking::Notice;
use quartier_domain::Locale;

use crate::BookingNoticeData;

/// A rendered message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// The same as HTML.
    pub html: String,
    /// An iCalendar file for the visit, on confirmations.
    pub calendar: Option<String>,
}

fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn escape_ics(s: &str) -> String {
    s.replace('\\', "\\\\").replace(';', "\\;").replace(',', "\\,").replace('\n', "\\n")
}

fn ics_time(rfc3339: &str) -> Option<String> {
    rfc3339.parse::<Timestamp>().ok().map(|t| t.strftime("%Y%m%dT%H%M%SZ").to_string())
}

/// An RFC 5545 calendar with the visit, the same bytes on every retry.
pub fn calendar(data: &BookingNoticeData) -> Option<String> {
    let start = ics_time(&data.starts_at)?;
    let end = ics_time(data.ends_at.as_deref()?)?;
    let lines = [
        "BEGIN:VCALENDAR".to_owned(),
        "VERSION:2.0".to_owned(),
        "PRODID:-//Quartier//Neighbourhood helpers//EN".to_owned(),
        "METHOD:PUBLISH".to_owned(),
        "BEGIN:VEVENT".to_owned(),
        format!("UID:{}@quartier", data.booking_id),
        format!("DTSTAMP:{start}"),
        format!("DTSTART:{start}"),
        format!("DTEND:{end}"),
        format!("SUMMARY:{}", escape_ics(&format!("{} ({} / {})", data.service_name, data.customer_name, data.helper_name))),
        format!("LOCATION:{}", escape_ics(data.location.as_deref().unwrap_or(""))),
        format!("URL:{}", data.link),
        "END:VEVENT".to_owned(),
        "END:VCALENDAR".to_owned(),
    ];
    Some(lines.join("\r\n") + "\r\n")
}

/// Renders a notice for a reader in their language, with times in `data.time_zone`.
pub fn render(notice: Notice, locale: Locale, data: &BookingNoticeData) -> Rendered {
    let when = local_time(&data.starts_at, &data.time_zone);
    let (subject, line) = words(notice, locale);
    let fill = |s: &str| {
        s.replace("{service}", &data.service_name)
            .replace("{when}", &when)
            .replace("{customer}", &data.customer_name)
            .replace("{helper}", &data.helper_name)
    };
    let accept = match locale {
        Locale::De => "Annehmen",
        Locale::Fr => "Accepter",
        Locale::It => "Accettare",
        Locale::En => "Accept",
    };
    let (hello, see, bye) = match locale {
        Locale::De => ("Grüezi", "Details", "Ihr Quartier-Team"),
        Locale::Fr => ("Bonjour", "Détails", "Votre équipe Quartier"),
        Locale::It => ("Buongiorno", "Dettagli", "Il vostro team Quartier"),
        Locale::En => ("Hello", "Details", "Your Quartier team"),
    };
    let body = fill(line);
    let html = format!(
        "<!doctype html><html><body style=\"font-family:system-ui,sans-serif;line-height:1.5\"><p>{hello} {},</p><p>{}</p>\
         <p>{}<a href=\"{}\" style=\"color:#0f766e\">{see}</a></p><p>{bye}</p></body></html>",
        escape_html(&data.recipient_name),
        escape_html(&body),
        data.action_link
            .as_deref()
            .map(|a| format!("<a href=\"{}\" style=\"color:#0f766e;font-weight:bold\">{accept}</a> &middot; ", escape_html(a)))
            .unwrap_or_default(),
        escape_html(&data.link),
    );
    Rendered {
        subject: fill(subject),
        text: match &data.action_link {
            Some(a) => format!("{hello} {},\n\n{}\n\n{accept}: {a}\n{see}: {}\n\n{bye}\n", data.recipient_name, body, data.link),
            None => format!("{hello} {},\n\n{}\n\n{see}: {}\n\n{bye}\n", data.recipient_name, body, data.link),
        },
        html,
        calendar: calendar(data),
    }
}

/// "Sat 28.11.2026 14:00 (Europe/Zurich)"; falls back to the raw value if it cannot be read.
fn local_time(rfc3339: &str, zone: &str) -> String {
    let Ok(ts) = rfc3339.parse::<Timestamp>() else {
        return rfc3339.to_owned();
    };
    let tz = TimeZone::get(zone).unwrap_or(TimeZone::UTC);
    let z = ts.to_zoned(tz);
    format!("{} ({zone})", z.strftime("%d.%m.%Y %H:%M"))
}

fn words(notice: Notice, locale: Locale) -> (&'static str, &'static str) {
    use Locale::*;
    use Notice::*;
    match (notice, locale) {
        (Requested, De) => (
            "Neue Anfrage: {service}",
            "{customer} möchte Sie für «{service}» am {when} buchen. Bitte nehmen Sie die Anfrage an oder lehnen Sie sie ab.",
        ),
        (Requested, Fr) => (
            "Nouvelle demande : {service}",
            "{customer} souhaite vous réserver pour « {service} » le {when}. Merci d'accepter ou de refuser la demande.",
        ),
        (Requested, It) => {
            ("Nuova richiesta: {service}", "{customer} desidera prenotarvi per «{service}» il {when}. Accettate o rifiutate la richiesta.")
        }
        (Requested, En) => (
            "New request: {service}",
            "{customer} would like to book you for \"{service}\" on {when}. Please accept or decline the request.",
        ),
        (Accepted, De) => ("Bestätigt: {service} am {when}", "{helper} kommt für «{service}» am {when}."),
        (Accepted, Fr) => ("Confirmé : {service} le {when}", "{helper} viendra pour « {service} » le {when}."),
        (Accepted, It) => ("Confermato: {service} il {when}", "{helper} verrà per «{service}» il {when}."),
        (Accepted, En) => ("Confirmed: {service} on {when}", "{helper} will come for \"{service}\" on {when}."),
        (Declined, De) => (
            "Leider abgelehnt: {service}",
            "{helper} kann «{service}» am {when} leider nicht übernehmen. Suchen Sie gerne eine andere Helferin oder einen anderen Helfer.",
        ),
        (Declined, Fr) => (
            "Demande refusée : {service}",
            "{helper} ne peut malheureusement pas assurer « {service} » le {when}. Vous pouvez choisir une autre personne.",
        ),
        (Declined, It) => (
            "Richiesta rifiutata: {service}",
            "Purtroppo {helper} non può occuparsi di «{service}» il {when}. Potete scegliere un'altra persona.",
        ),
        (Declined, En) => {
            ("Declined: {service}", "Unfortunately {helper} cannot do \"{service}\" on {when}. You can choose another helper.")
        }
        (Cancelled, De) => ("Abgesagt: {service} am {when}", "Der Termin «{service}» am {when} ({customer} mit {helper}) wurde abgesagt."),
        (Cancelled, Fr) => {
            ("Annulé : {service} le {when}", "Le rendez-vous « {service} » du {when} ({customer} avec {helper}) a été annulé.")
        }
        (Cancelled, It) => {
            ("Annullato: {service} il {when}", "L'appuntamento «{service}» del {when} ({customer} con {helper}) è stato annullato.")
        }
        (Cancelled, En) => {
            ("Cancelled: {service} on {when}", "The visit \"{service}\" on {when} ({customer} with {helper}) was cancelled.")
        }
        (Completed, De) => {
            ("Erledigt: {service}", "«{service}» von {helper} bei {customer} ist erledigt. Danke, dass Sie Quartier nutzen!")
        }
        (Completed, Fr) => ("Terminé : {service}", "« {service} » par {helper} chez {customer} est terminé. Merci d'utiliser Quartier !"),
        (Completed, It) => ("Completato: {service}", "«{service}» di {helper} da {customer} è completato. Grazie di usare Quartier!"),
        (Completed, En) => ("Done: {service}", "\"{service}\" by {helper} for {customer} is done. Thank you for using Quartier!"),
        (Expired, De) => (
            "Anfrage abgelaufen: {service}",
            "Ihre Anfrage für «{service}» am {when} wurde nicht rechtzeitig angenommen und ist abgelaufen. Suchen Sie gerne eine andere Person oder eine andere Zeit.",
        ),
        (Expired, Fr) => (
            "Demande expirée : {service}",
            "Votre demande pour « {service} » le {when} n'a pas été acceptée à temps et a expiré. Choisissez une autre personne ou un autre moment.",
        ),
        (Expired, It) => (
            "Richiesta scaduta: {service}",
            "La vostra richiesta per «{service}» il {when} non è stata accettata in tempo ed è scaduta. Scegliete un'altra persona o un altro orario.",
        ),
        (Expired, En) => (
            "Request expired: {service}",
            "Your request for \"{service}\" on {when} was not accepted in time and has expired. Please choose another helper or another time.",
        ),
        (Confirmed, De) => ("{helper} bestätigt: {service} am {when}", "{helper} hat den Termin «{service}» am {when} bestätigt."),
        (Confirmed, Fr) => ("{helper} confirme : {service} le {when}", "{helper} a confirmé le rendez-vous « {service} » du {when}."),
        (Confirmed, It) => ("{helper} conferma: {service} il {when}", "{helper} ha confermato l'appuntamento «{service}» del {when}."),
        (Confirmed, En) => ("{helper} confirmed: {service} on {when}", "{helper} confirmed the visit \"{service}\" on {when}."),
        (OnTheWay, De) => ("{helper} ist unterwegs", "{helper} ist unterwegs zu Ihnen für «{service}». Halten Sie Ihren Startcode bereit."),
        (OnTheWay, Fr) => ("{helper} est en route", "{helper} est en route pour « {service} ». Préparez votre code de début."),
        (OnTheWay, It) => ("{helper} è in viaggio", "{helper} sta arrivando per «{service}». Tenete pronto il codice di inizio."),
        (OnTheWay, En) => ("{helper} is on the way", "{helper} is on the way for \"{service}\". Have your start code ready."),
        (ChangeProposed, De) => (
            "Mehr Zeit für {service}?",
            "{helper} schlägt vor, «{service}» zu erweitern. Bitte bestätigen oder ablehnen Sie die Änderung in der App.",
        ),
        (ChangeProposed, Fr) => (
            "Plus de temps pour {service} ?",
            "{helper} propose d'étendre « {service} ». Merci d'accepter ou de refuser dans l'application.",
        ),
        (ChangeProposed, It) => ("Più tempo per {service}?", "{helper} propone di estendere «{service}». Accettate o rifiutate nell'app."),
        (ChangeProposed, En) => {
            ("More time for {service}?", "{helper} proposes to extend \"{service}\". Please approve or decline the change in the app.")
        }
        (RescheduleProposed, De) => (
            "Neuer Termin vorgeschlagen: {service}",
            "Für «{service}» ({customer} mit {helper}) wurde ein neuer Termin vorgeschlagen. Bitte antworten Sie in der App.",
        ),
        (RescheduleProposed, Fr) => (
            "Nouvelle date proposée : {service}",
            "Une nouvelle date a été proposée pour « {service} » ({customer} avec {helper}). Merci de répondre dans l'application.",
        ),
        (RescheduleProposed, It) => (
            "Nuova data proposta: {service}",
            "È stata proposta una nuova data per «{service}» ({customer} con {helper}). Rispondete nell'app.",
        ),
        (RescheduleProposed, En) => (
            "New time proposed: {service}",
            "A new time was proposed for \"{service}\" ({customer} with {helper}). Please answer in the app.",
        ),
        (Rescheduled, De) => ("Verschoben: {service} neu am {when}", "«{service}» ({customer} mit {helper}) findet neu am {when} statt."),
        (Rescheduled, Fr) => ("Déplacé : {service} le {when}", "« {service} » ({customer} avec {helper}) aura lieu le {when}."),
        (Rescheduled, It) => ("Spostato: {service} il {when}", "«{service}» ({customer} con {helper}) si terrà il {when}."),
        (Rescheduled, En) => ("Moved: {service} on {when}", "\"{service}\" ({customer} with {helper}) now takes place on {when}."),
        (Failed, De) => {
            ("Nicht abgeschlossen: {service}", "«{service}» am {when} konnte nicht abgeschlossen werden. Details stehen in der Buchung.")
        }
        (Failed, Fr) => {
            ("Non terminé : {service}", "« {service} » du {when} n'a pas pu être terminé. Les détails figurent dans la réservation.")
        }
        (Failed, It) => ("Non completato: {service}", "«{service}» del {when} non è stato completato. I dettagli sono nella prenotazione."),
        (Failed, En) => ("Not completed: {service}", "\"{service}\" on {when} could not be completed. The booking has the details."),
        (NoShow, De) => (
            "Nicht erschienen: {service}",
            "Für «{service}» am {when} wurde gemeldet, dass jemand nicht erschienen ist. Bei Fragen hilft unser Team.",
        ),
        (NoShow, Fr) => (
            "Absence signalée : {service}",
            "Une absence a été signalée pour « {service} » du {when}. Notre équipe vous aide en cas de question.",
        ),
        (NoShow, It) => (
            "Assenza segnalata: {service}",
            "È stata segnalata un'assenza per «{service}» del {when}. Il nostro team vi aiuta in caso di domande.",
        ),
        (NoShow, En) => {
            ("No-show reported: {service}", "A no-show was reported for \"{service}\" on {when}. Our team is there if you have questions.")
        }
        (Reminder24h, De) => ("Morgen: {service} am {when}", "Erinnerung: «{service}» ({customer} mit {helper}) findet am {when} statt."),
        (Reminder24h, Fr) => ("Demain : {service} le {when}", "Rappel : « {service} » ({customer} avec {helper}) a lieu le {when}."),
        (Reminder24h, It) => ("Domani: {service} il {when}", "Promemoria: «{service}» ({customer} con {helper}) si terrà il {when}."),
        (Reminder24h, En) => ("Tomorrow: {service} on {when}", "Reminder: \"{service}\" ({customer} with {helper}) takes place on {when}."),
        (Reminder1h, De) => ("In einer Stunde: {service}", "«{service}» ({customer} mit {helper}) beginnt am {when}."),
        (Reminder1h, Fr) => ("Dans une heure : {service}", "« {service} » ({customer} avec {helper}) commence le {when}."),
        (Reminder1h, It) => ("Tra un'ora: {service}", "«{service}» ({customer} con {helper}) inizia il {when}."),
        (Reminder1h, En) => ("In one hour: {service}", "\"{service}\" ({customer} with {helper}) starts on {when}."),
        (Reassigned, De) => (
            "Neue Helferin oder neuer Helfer: {service} am {when}",
            "Ein Operator hat «{service}» am {when} an {helper} übergeben. Die Zeit bleibt gleich.",
        ),
        (Reassigned, Fr) => {
            ("Nouvelle personne : {service} le {when}", "Un opérateur a confié « {service} » du {when} à {helper}. L'heure reste la même.")
        }
        (Reassigned, It) => {
            ("Nuova persona: {service} il {when}", "Un operatore ha affidato «{service}» del {when} a {helper}. L'orario resta invariato.")
        }
        (Reassigned, En) => {
            ("New helper: {service} on {when}", "An operator gave \"{service}\" on {when} to {helper}. The time stays the same.")
        }
        (DisputeOpened, De) => (
            "Reklamation eröffnet: {service}",
            "Zu «{service}» vom {when} ({customer} mit {helper}) wurde eine Reklamation eröffnet. Sie können Ihre Sicht in der App schildern; ein Operator entscheidet.",
        ),
        (DisputeOpened, Fr) => (
            "Litige ouvert : {service}",
            "Un litige a été ouvert pour « {service} » du {when} ({customer} avec {helper}). Donnez votre version dans l'application ; un opérateur décidera.",
        ),
        (DisputeOpened, It) => (
            "Contestazione aperta: {service}",
            "È stata aperta una contestazione per «{service}» del {when} ({customer} con {helper}). Date la vostra versione nell'app; deciderà un operatore.",
        ),
        (DisputeOpened, En) => (
            "Dispute opened: {service}",
            "A dispute was opened about \"{service}\" on {when} ({customer} with {helper}). Give your side in the app; an operator will decide.",
        ),
        (DisputeResolved, De) => (
            "Reklamation entschieden: {service}",
            "Ein Operator hat die Reklamation zu «{service}» vom {when} entschieden. Den Entscheid und seine Begründung finden Sie in der App.",
        ),
        (DisputeResolved, Fr) => (
            "Litige tranché : {service}",
            "Un opérateur a tranché le litige concernant « {service} » du {when}. La décision et ses motifs sont dans l'application.",
        ),
        (DisputeResolved, It) => (
            "Contestazione decisa: {service}",
            "Un operatore ha deciso la contestazione per «{service}» del {when}. La decisione e la motivazione sono nell'app.",
        ),
        (Updated, De) => {
            ("Aktualisiert: {service}", "Der Termin «{service}» am {when} hat sich geändert; öffnen Sie ihn für den neuesten Stand.")
        }
        (Updated, Fr) => ("Mis à jour : {service}", "Le rendez-vous « {service} » du {when} a changé ; ouvrez-le pour voir où il en est."),
        (Updated, It) => {
            ("Aggiornato: {service}", "L'appuntamento «{service}» del {when} è cambiato; apritelo per vedere lo stato attuale.")
        }
        (Updated, En) => ("Updated: {service}", "The visit \"{service}\" on {when} changed; open it to see where it stands."),
        (NewMessage, De) => ("Neue Nachricht: {service}", "Es gibt eine neue Nachricht zu «{service}» am {when}."),
        (NewMessage, Fr) => ("Nouveau message : {service}", "Il y a un nouveau message au sujet de « {service} » du {when}."),
        (NewMessage, It) => ("Nuovo messaggio: {service}", "C'è un nuovo messaggio su «{service}» del {when}."),
        (NewMessage, En) => ("New message: {service}", "There is a new message about \"{service}\" on {when}."),
        (DisputeResolved, En) => (
            "Dispute decided: {service}",
            "An operator decided the dispute about \"{service}\" on {when}. The decision and its reasons are in the app.",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data() -> BookingNoticeData {
        BookingNoticeData {
            booking_id: "b1".into(),
            service_name: "Guest Wi-Fi set-up".into(),
            starts_at: "2026-07-01T12:00:00Z".into(),
            time_zone: "Europe/Zurich".into(),
            customer_name: "Anna".into(),
            helper_name: "Luca".into(),
            recipient_name: "Luca".into(),
            link: "http://localhost:8080/#/bookings/b1".into(),
            ends_at: Some("2026-07-01T12:45:00Z".into()),
            location: Some("Seestrasse 1, 8002 Zürich".into()),
            action_link: None,
        }
    }

    #[test]
    fn times_are_shown_in_the_readers_zone() {
        let r = render(Notice::Accepted, Locale::En, &data());
        assert!(r.subject.contains("01.07.2026 14:00"), "{}", r.subject);
    }

    #[test]
    fn confirmations_carry_a_calendar_file_and_html() {
        let r = render(Notice::Accepted, Locale::En, &data());
        let ics = r.calendar.expect("calendar");
        assert!(ics.contains("DTSTART:20260701T120000Z\r\nDTEND:20260701T124500Z"), "{ics}");
        assert!(ics.contains("LOCATION:Seestrasse 1\\, 8002 Zürich"), "{ics}");
        assert!(r.html.contains("<a href=\"http://localhost:8080/#/bookings/b1\""));
        let mut no_end = data();
        no_end.ends_at = None;
        assert!(render(Notice::Accepted, Locale::En, &no_end).calendar.is_none());
    }

    #[test]
    fn every_notice_has_words_in_every_language() {
        for n in Notice::ALL {
            let mut subjects = std::collections::HashSet::new();
            for l in [Locale::De, Locale::Fr, Locale::It, Locale::En] {
                let r = render(n, l, &data());
                assert!(!r.subject.contains('{') && !r.text.contains("{service}"), "{n:?} {l:?}");
                subjects.insert(r.subject);
            }
            assert_eq!(subjects.len(), 4, "{n:?} needs four different translations");
        }
    }

    #[test]
    fn each_language_has_its_own_words() {
        let de = render(Notice::Requested, Locale::De, &data());
        let fr = render(Notice::Requested, Locale::Fr, &data());
        assert!(de.subject.starts_with("Neue Anfrage"));
        assert!(fr.subject.starts_with("Nouvelle demande"));
        assert!(de.text.starts_with("Grüezi Luca"));
    }
}
