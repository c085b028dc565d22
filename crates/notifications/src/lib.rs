//! Telling people what happened: booking notices become e-mails in the reader's language and are
//! handed to a mail transport (SMTP through lettre, or `.eml` files when no server is configured).
//!
//! Invariant: a message is rendered only from what the outbox row carries, so a retry sends the
//! same words with the same `Message-ID` as the first try.

mod mailer;
mod templates;

pub use mailer::{DeliveryError, Mailer, MailerConfig};
pub use templates::{Rendered, render};

/// What an outbox row carries for a booking notice: everything the template needs, frozen at the
/// time of the state change.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BookingNoticeData {
    /// The booking's id.
    pub booking_id: String,
    /// The service's display name.
    pub service_name: String,
    /// Start of the visit, RFC 3339.
    pub starts_at: String,
    /// IANA zone in which to show times to the reader.
    pub time_zone: String,
    /// The customer's display name.
    pub customer_name: String,
    /// The helper's display name.
    pub helper_name: String,
    /// The reader's own display name.
    pub recipient_name: String,
    /// A link to the booking in the web app.
    pub link: String,
    /// End of the visit, RFC 3339, when the message carries a calendar file.
    #[serde(default)]
    pub ends_at: Option<String>,
    /// Where the visit takes place, when the message carries a calendar file.
    #[serde(default)]
    pub location: Option<String>,
    /// A signed, expiring link that takes the step the message asks for (accept a request).
    #[serde(default)]
    pub action_link: Option<String>,
}

/// The one account mail that is not about a booking: a password reset link.
pub const PASSWORD_RESET: &str = "password_reset";

/// What a password-reset outbox row carries.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordResetData {
    /// The reader's display name.
    pub recipient_name: String,
    /// The signed, single-use link (valid one hour).
    pub link: String,
}

/// The password-reset mail in the reader's language.
pub fn render_password_reset(locale: quartier_domain::Locale, data: &PasswordResetData) -> Rendered {
    use quartier_domain::Locale;
    let (subject, hello, line, ignore, bye) = match locale {
        Locale::De => (
            "Passwort zurücksetzen",
            "Grüezi",
            "Mit diesem Link setzen Sie ein neues Passwort (eine Stunde gültig, nur einmal):",
            "Haben Sie nichts angefordert? Dann können Sie diese Nachricht ignorieren; Ihr Passwort bleibt.",
            "Ihr Quartier-Team",
        ),
        Locale::Fr => (
            "Réinitialiser le mot de passe",
            "Bonjour",
            "Ce lien permet de choisir un nouveau mot de passe (valable une heure, une seule fois) :",
            "Vous n'avez rien demandé ? Ignorez ce message ; votre mot de passe ne change pas.",
            "Votre équipe Quartier",
        ),
        Locale::It => (
            "Reimpostare la password",
            "Buongiorno",
            "Con questo link scegliete una nuova password (valido un'ora, una sola volta):",
            "Non avete chiesto nulla? Ignorate questo messaggio; la password resta invariata.",
            "Il vostro team Quartier",
        ),
        Locale::En => (
            "Reset your password",
            "Hello",
            "Use this link to choose a new password (valid for one hour, once):",
            "Did not ask for this? Ignore this message; your password stays as it is.",
            "Your Quartier team",
        ),
    };
    let esc = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;");
    let text = format!("{hello} {},\n\n{line}\n{}\n\n{ignore}\n\n{bye}\n", data.recipient_name, data.link);
    let html = format!(
        "<!doctype html><html><body><p>{hello} {},</p><p>{line}</p><p><a href=\"{}\">{}</a></p><p>{ignore}</p><p>{bye}</p></body></html>",
        esc(&data.recipient_name),
        esc(&data.link),
        esc(&data.link)
    );
    Rendered { subject: subject.to_owned(), text, html, calendar: None }
}

/// A helper's level changed (up or down; down always with its reason).
pub const LEVEL_CHANGED: &str = "level_changed";
/// An operator's invitation to super-helpers (a meet-up, a preview).
pub const INVITATION: &str = "invitation";

/// What a level-change outbox row carries.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LevelChangeData {
    /// The reader's display name.
    pub recipient_name: String,
    /// `new`, `trusted` or `super`.
    pub from: String,
    /// `new`, `trusted` or `super`.
    pub to: String,
    /// Why, in the published thresholds' words.
    pub reason: String,
    /// The helper's progress page.
    pub link: String,
}

/// What an invitation outbox row carries (the operator's own words, in one language).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InvitationData {
    /// The reader's display name.
    pub recipient_name: String,
    /// Subject line.
    pub subject: String,
    /// The invitation.
    pub text: String,
}

fn level_name(level: &str, locale: quartier_domain::Locale) -> &'static str {
    use quartier_domain::Locale::*;
    match (level, locale) {
        ("super", De) => "Super-Helfer:in",
        ("super", Fr) => "Super-aidant·e",
        ("super", It) => "Super-aiutante",
        ("super", En) => "Super-helper",
        ("trusted", De) => "Bewährt",
        ("trusted", Fr) => "Confirmé·e",
        ("trusted", It) => "Affidabile",
        ("trusted", En) => "Trusted",
        (_, De) => "Neu",
        (_, Fr) => "Nouveau·elle",
        (_, It) => "Nuovo·a",
        (_, En) => "New",
    }
}

fn plain_mail(subject: String, hello: &str, name: &str, lines: &[String], bye: &str) -> Rendered {
    let esc = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;");
    let text = format!("{hello} {name},\n\n{}\n\n{bye}\n", lines.join("\n\n"));
    let paras: String = lines.iter().map(|l| format!("<p>{}</p>", esc(l))).collect();
    let html = format!("<!doctype html><html><body><p>{hello} {},</p>{paras}<p>{bye}</p></body></html>", esc(name));
    Rendered { subject, text, html, calendar: None }
}

/// The level-change mail in the reader's language.
pub fn render_level_change(locale: quartier_domain::Locale, d: &LevelChangeData) -> Rendered {
    use quartier_domain::Locale::*;
    let (from, to) = (level_name(&d.from, locale), level_name(&d.to, locale));
    let up = matches!((d.from.as_str(), d.to.as_str()), ("new", _) | ("trusted", "super"));
    let (subject, line, why, see, hello, bye) = match locale {
        De => (
            format!("Ihre Stufe: {to}"),
            format!("Ihre Stufe hat sich von «{from}» zu «{to}» geändert."),
            "Grund",
            "Ihre Zahlen und die veröffentlichten Schwellen",
            "Grüezi",
            "Ihr Quartier-Team",
        ),
        Fr => (
            format!("Votre niveau : {to}"),
            format!("Votre niveau est passé de « {from} » à « {to} »."),
            "Raison",
            "Vos chiffres et les seuils publiés",
            "Bonjour",
            "Votre équipe Quartier",
        ),
        It => (
            format!("Il vostro livello: {to}"),
            format!("Il vostro livello è passato da «{from}» a «{to}»."),
            "Motivo",
            "Le vostre cifre e le soglie pubblicate",
            "Buongiorno",
            "Il vostro team Quartier",
        ),
        En => (
            format!("Your level: {to}"),
            format!("Your level changed from \"{from}\" to \"{to}\"."),
            "Why",
            "Your figures and the published thresholds",
            "Hello",
            "Your Quartier team",
        ),
    };
    let mut lines = vec![line, format!("{why}: {}", d.reason)];
    if !up {
        lines.push(match locale {
            De => "Stimmt eine Zahl nicht? Sie können sie in der App anfechten; ein Operator prüft sie.".to_owned(),
            Fr => "Un chiffre est faux ? Contestez-le dans l'application ; un opérateur le vérifiera.".to_owned(),
            It => "Una cifra è sbagliata? Contestatela nell'app; un operatore la verificherà.".to_owned(),
            En => "Is a figure wrong? Contest it in the app; an operator will review it.".to_owned(),
        });
    }
    lines.push(format!("{see}: {}", d.link));
    plain_mail(subject, hello, &d.recipient_name, &lines, bye)
}

/// The invitation mail (the operator's words).
pub fn render_invitation(locale: quartier_domain::Locale, d: &InvitationData) -> Rendered {
    use quartier_domain::Locale::*;
    let (hello, bye) = match locale {
        De => ("Grüezi", "Ihr Quartier-Team"),
        Fr => ("Bonjour", "Votre équipe Quartier"),
        It => ("Buongiorno", "Il vostro team Quartier"),
        En => ("Hello", "Your Quartier team"),
    };
    plain_mail(d.subject.clone(), hello, &d.recipient_name, std::slice::from_ref(&d.text), bye)
}
