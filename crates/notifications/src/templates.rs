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
    let (hello, see, bye) = match locale {
        Locale::De => ("Grüezi", "Details", "Ihr Quartier-Team"),
        Locale::Fr => ("Bonjour", "Détails", "Votre équipe Quartier"),
        Locale::It => ("Buongiorno", "Dettagli", "Il vostro team Quartier"),
        Locale::En => ("Hello", "Details", "Your Quartier team"),
    };
    Rendered {
        subject: fill(subject),
        text: format!(
            "{hello} {},\n\n{}\n\n{see}: {}\n\n{bye}\n",
            data.recipient_name,
            fill(line),
            data.link
        ),
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
        (Requested, It) => (
            "Nuova richiesta: {service}",
            "{customer} desidera prenotarvi per «{service}» il {when}. Accettate o rifiutate la richiesta.",
        ),
        (Requested, En) => (
            "New request: {service}",
            "{customer} would like to book you for \"{service}\" on {when}. Please accept or decline the request.",
        ),
        (Accepted, De) => (
            "Bestätigt: {service} am {when}",
            "{helper} kommt für «{service}» am {when}.",
        ),
        (Accepted, Fr) => (
            "Confirmé : {service} le {when}",
            "{helper} viendra pour « {service} » le {when}.",
        ),
        (Accepted, It) => (
            "Confermato: {service} il {when}",
            "{helper} verrà per «{service}» il {when}.",
        ),
        (Accepted, En) => (
            "Confirmed: {service} on {when}",
            "{helper} will come for \"{service}\" on {when}.",
        ),
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
        (Declined, En) => (
            "Declined: {service}",
            "Unfortunately {helper} cannot do \"{service}\" on {when}. You can choose another helper.",
        ),
        (Cancelled, De) => (
            "Abgesagt: {service} am {when}",
            "Der Termin «{service}» am {when} ({customer} mit {helper}) wurde abgesagt.",
        ),
        (Cancelled, Fr) => (
            "Annulé : {service} le {when}",
            "Le rendez-vous « {service} » du {when} ({customer} avec {helper}) a été annulé.",
        ),
        (Cancelled, It) => (
            "Annullato: {service} il {when}",
            "L'appuntamento «{service}» del {when} ({customer} con {helper}) è stato annullato.",
        ),
        (Cancelled, En) => (
            "Cancelled: {service} on {when}",
            "The visit \"{service}\" on {when} ({customer} with {helper}) was cancelled.",
        ),
        (Completed, De) => (
            "Erledigt: {service}",
            "«{service}» von {helper} bei {customer} ist erledigt. Danke, dass Sie Quartier nutzen!",
        ),
        (Completed, Fr) => (
            "Terminé : {service}",
            "« {service} » par {helper} chez {customer} est terminé. Merci d'utiliser Quartier !",
        ),
        (Completed, It) => (
            "Completato: {service}",
            "«{service}» di {helper} da {customer} è completato. Grazie di usare Quartier!",
        ),
        (Completed, En) => (
            "Done: {service}",
            "\"{service}\" by {helper} for {customer} is done. Thank you for using Quartier!",
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
        }
    }

    #[test]
    fn times_are_shown_in_the_readers_zone() {
        let r = render(Notice::Accepted, Locale::En, &data());
        assert!(r.subject.contains("01.07.2026 14:00"), "{}", r.subject);
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
