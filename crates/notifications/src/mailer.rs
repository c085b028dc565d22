//! Mail transports: SMTP when a server is configured, `.eml` files otherwise.

use std::path::PathBuf;

use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, Message, MultiPart};
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use crate::Rendered;

/// How to send mail.
#[derive(Debug, Clone)]
pub enum MailerConfig {
    /// An SMTP URL as lettre reads it: `smtp://host:port` (plain), `smtp://host?tls=required`
    /// (STARTTLS), `smtps://user:pass@host` (implicit TLS).
    Smtp(String),
    /// Write each message as an `.eml` file into this directory.
    Files(PathBuf),
}

/// A configured mail transport.
#[derive(Clone)]
pub struct Mailer {
    transport: Transport,
    from: Mailbox,
    message_id_domain: String,
}

#[derive(Clone)]
enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Files(AsyncFileTransport<Tokio1Executor>),
}

/// Why a message was not delivered.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// Worth trying again later (server down, 4xx).
    #[error("temporary delivery failure: {0}")]
    Transient(String),
    /// Will never succeed (5xx, malformed address); goes to the dead letters.
    #[error("permanent delivery failure: {0}")]
    Permanent(String),
}

/// Why a mailer could not be built.
#[derive(Debug, thiserror::Error)]
pub enum MailerError {
    /// The SMTP URL could not be read.
    #[error("invalid SMTP URL (expected smtp://host:port or smtps://user:password@host)")]
    InvalidUrl,
    /// The sender address could not be read.
    #[error("invalid sender address `{0}`")]
    InvalidFrom(String),
    /// The mail directory could not be created.
    #[error("cannot create the mail directory {0}")]
    MailDir(String, #[source] std::io::Error),
}

impl Mailer {
    /// Builds a transport. `message_id_domain` goes to the right of the `@` in Message-IDs.
    pub fn new(config: &MailerConfig, from: &str, message_id_domain: &str) -> Result<Self, MailerError> {
        let from: Mailbox = from.parse().map_err(|_| MailerError::InvalidFrom(from.to_owned()))?;
        let transport = match config {
            MailerConfig::Smtp(url) => {
                Transport::Smtp(AsyncSmtpTransport::<Tokio1Executor>::from_url(url).map_err(|_| MailerError::InvalidUrl)?.build())
            }
            MailerConfig::Files(dir) => {
                std::fs::create_dir_all(dir).map_err(|e| MailerError::MailDir(dir.display().to_string(), e))?;
                Transport::Files(AsyncFileTransport::<Tokio1Executor>::new(dir))
            }
        };
        Ok(Self { transport, from, message_id_domain: message_id_domain.to_owned() })
    }

    /// Sends one message. `stable_id` makes the Message-ID the same on every retry.
    pub async fn send(&self, to_name: &str, to_email: &str, stable_id: &str, msg: &Rendered) -> Result<(), DeliveryError> {
        let to: Mailbox = format!("{} <{}>", to_name.replace(['<', '>', '"', ','], " "), to_email)
            .parse()
            .map_err(|e| DeliveryError::Permanent(format!("recipient address: {e}")))?;
        let email = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(msg.subject.clone())
            .message_id(Some(format!("<{stable_id}@{}>", self.message_id_domain)));
        let alternative = MultiPart::alternative_plain_html(msg.text.clone(), msg.html.clone());
        let body = match &msg.calendar {
            Some(ics) => {
                let kind = ContentType::parse("text/calendar; charset=utf-8; method=PUBLISH")
                    .map_err(|e| DeliveryError::Permanent(format!("calendar type: {e}")))?;
                MultiPart::mixed().multipart(alternative).singlepart(Attachment::new("visit.ics".into()).body(ics.clone(), kind))
            }
            None => alternative,
        };
        let email = email.multipart(body).map_err(|e| DeliveryError::Permanent(format!("building the message: {e}")))?;
        match &self.transport {
            Transport::Smtp(t) => t.send(email).await.map(drop).map_err(|e| {
                if e.is_permanent() { DeliveryError::Permanent(e.to_string()) } else { DeliveryError::Transient(e.to_string()) }
            }),
            Transport::Files(t) => t.send(email).await.map(drop).map_err(|e| DeliveryError::Transient(e.to_string())),
        }
    }
}
