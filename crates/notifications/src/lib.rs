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
