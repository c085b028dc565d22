//! Mail transports: SMTP when a server is configured, `.eml` files otherwise.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, Message, MultiPart};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use tokio::sync::Mutex;

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
    /// `smtp://` (plain or STARTTLS): our own connections with `TCP_NODELAY`.
    Direct(Arc<DirectSmtp>),
    /// `smtps://` (implicit TLS): lettre's pooled transport.
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Files(AsyncFileTransport<Tokio1Executor>),
}

/// How STARTTLS is used on an `smtp://` URL (`?tls=` as lettre reads it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StartTls {
    None,
    Opportunistic,
    Required,
}

/// SMTP over connections we open ourselves so `TCP_NODELAY` is set: lettre 0.11 leaves Nagle's
/// algorithm on, and with a server that delays its ACKs every command waits about 40 ms (lettre
/// pull request #1159). Idle connections are kept for reuse, like lettre's pool.
struct DirectSmtp {
    host: String,
    port: u16,
    tls: StartTls,
    credentials: Option<Credentials>,
    hello: ClientId,
    idle: Mutex<Vec<(AsyncSmtpConnection, Instant)>>,
}

/// Idle connections kept open (the outbox worker sends on up to 8 at once).
const MAX_IDLE: usize = 8;
/// A connection idle longer than this is checked with NOOP before reuse.
const FRESH: Duration = Duration::from_secs(30);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

impl DirectSmtp {
    fn from_url(url: &str) -> Result<Option<Self>, MailerError> {
        let parsed = url::Url::parse(url).map_err(|_| MailerError::InvalidUrl)?;
        if parsed.scheme() != "smtp" {
            return Ok(None);
        }
        let host = parsed.host_str().filter(|h| !h.is_empty()).ok_or(MailerError::InvalidUrl)?.trim_matches(['[', ']']).to_owned();
        let tls = match parsed.query_pairs().find(|(k, _)| k == "tls").map(|(_, v)| v.into_owned()).as_deref() {
            None | Some("none") => StartTls::None,
            Some("opportunistic") => StartTls::Opportunistic,
            Some("required") => StartTls::Required,
            Some(_) => return Err(MailerError::InvalidUrl),
        };
        let port = parsed.port().unwrap_or(if tls == StartTls::None { 25 } else { 587 });
        let decode = |s: &str| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned();
        let credentials = (!parsed.username().is_empty())
            .then(|| Credentials::new(decode(parsed.username()), decode(parsed.password().unwrap_or_default())));
        let hello = ClientId::default();
        Ok(Some(Self { host, port, tls, credentials, hello, idle: Mutex::new(Vec::new()) }))
    }

    async fn connect(&self) -> Result<AsyncSmtpConnection, DeliveryError> {
        let tcp = tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect((self.host.as_str(), self.port)))
            .await
            .map_err(|_| DeliveryError::Transient(format!("connecting to {}:{} timed out", self.host, self.port)))?
            .map_err(|e| DeliveryError::Transient(format!("connecting to {}:{}: {e}", self.host, self.port)))?;
        // The point of this transport.
        let _ = tcp.set_nodelay(true);
        let mut conn = AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &self.hello).await.map_err(classify)?;
        let tls_wanted = match self.tls {
            StartTls::None => false,
            StartTls::Opportunistic => conn.can_starttls(),
            StartTls::Required => true,
        };
        if tls_wanted {
            let params = TlsParameters::new(self.host.clone()).map_err(classify)?;
            conn.starttls(params, &self.hello).await.map_err(classify)?;
        }
        if let Some(credentials) = &self.credentials {
            conn.auth(&[Mechanism::Plain, Mechanism::Login], credentials).await.map_err(classify)?;
        }
        Ok(conn)
    }

    async fn checkout(&self) -> Result<AsyncSmtpConnection, DeliveryError> {
        loop {
            let Some((mut conn, since)) = self.idle.lock().await.pop() else { break };
            if since.elapsed() < FRESH || conn.test_connected().await {
                return Ok(conn);
            }
            conn.abort().await;
        }
        self.connect().await
    }

    async fn send(&self, envelope: &lettre::address::Envelope, bytes: &[u8]) -> Result<(), DeliveryError> {
        let mut conn = self.checkout().await?;
        let result = conn.send(envelope, bytes).await;
        if conn.has_broken() {
            conn.abort().await;
        } else {
            let mut idle = self.idle.lock().await;
            if idle.len() < MAX_IDLE {
                idle.push((conn, Instant::now()));
            } else {
                drop(idle);
                let _ = conn.quit().await;
            }
        }
        result.map(drop).map_err(classify)
    }
}

fn classify(e: lettre::transport::smtp::Error) -> DeliveryError {
    if e.is_permanent() { DeliveryError::Permanent(e.to_string()) } else { DeliveryError::Transient(e.to_string()) }
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
            MailerConfig::Smtp(url) => match DirectSmtp::from_url(url)? {
                Some(direct) => Transport::Direct(Arc::new(direct)),
                None => Transport::Smtp(AsyncSmtpTransport::<Tokio1Executor>::from_url(url).map_err(|_| MailerError::InvalidUrl)?.build()),
            },
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
            Transport::Direct(t) => t.send(email.envelope(), &email.formatted()).await,
            Transport::Smtp(t) => t.send(email).await.map(drop).map_err(classify),
            Transport::Files(t) => t.send(email).await.map(drop).map_err(|e| DeliveryError::Transient(e.to_string())),
        }
    }
}
