//! Outgoing mail behind one trait: SMTP (lettre) when configured, otherwise a log mailer
//! that writes the message — link or code included — to the server log, so a server with
//! no mail set up still lets an operator complete invitations.

use std::future::Future;
use std::pin::Pin;

use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use crate::config::MailConfig;

#[derive(Debug, Clone, PartialEq)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub body: String,
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("mail configuration: {0}")]
    Config(String),
    #[error("address: {0}")]
    Address(String),
    #[error("sending mail failed: {0}")]
    Send(String),
}

pub type MailFuture<'a> = Pin<Box<dyn Future<Output = Result<(), MailError>> + Send + 'a>>;

pub trait Mailer: Send + Sync + 'static {
    fn send<'a>(&'a self, mail: &'a Mail) -> MailFuture<'a>;
}

/// Writes mail to the log instead of sending it.
pub struct LogMailer;

impl Mailer for LogMailer {
    fn send<'a>(&'a self, mail: &'a Mail) -> MailFuture<'a> {
        Box::pin(async move {
            tracing::info!(to = %mail.to, subject = %mail.subject, body = %mail.body, "mail (no SMTP configured)");
            Ok(())
        })
    }
}

pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl SmtpMailer {
    pub fn new(cfg: &MailConfig) -> Result<Self, MailError> {
        let server = cfg
            .smtp_server
            .as_deref()
            .ok_or_else(|| MailError::Config("SMTP_SERVER is not set".into()))?;
        let config = |e: lettre::transport::smtp::Error| MailError::Config(e.to_string());
        let mut builder = match (cfg.smtp_use_tls, cfg.smtp_opportunistic_tls) {
            (true, true) => {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(server).map_err(config)?
            }
            (true, false) => AsyncSmtpTransport::<Tokio1Executor>::relay(server).map_err(config)?,
            // A relay on a trusted network (or a test listener) without TLS.
            (false, _) => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(server),
        };
        builder = builder.port(cfg.smtp_port);
        if let (Some(user), Some(password)) = (&cfg.smtp_username, &cfg.smtp_password) {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        let from = cfg
            .mail_default_send_from
            .as_deref()
            .ok_or_else(|| MailError::Config("MAIL_DEFAULT_SEND_FROM is not set".into()))?
            .parse::<Mailbox>()
            .map_err(|e| MailError::Config(format!("MAIL_DEFAULT_SEND_FROM: {e}")))?;
        Ok(Self {
            transport: builder.build(),
            from,
        })
    }
}

impl Mailer for SmtpMailer {
    fn send<'a>(&'a self, mail: &'a Mail) -> MailFuture<'a> {
        Box::pin(async move {
            let to = mail
                .to
                .parse::<Mailbox>()
                .map_err(|e| MailError::Address(e.to_string()))?;
            let message = lettre::Message::builder()
                .from(self.from.clone())
                .to(to)
                .subject(mail.subject.clone())
                .body(mail.body.clone())
                .map_err(|e| MailError::Send(e.to_string()))?;
            self.transport.send(message).await.map_err(|e| {
                metrics::counter!("mail_send_failures_total").increment(1);
                MailError::Send(e.to_string())
            })?;
            Ok(())
        })
    }
}

/// The mailer the configuration asks for: SMTP when `MAIL_TYPE=smtp`, else the log.
pub fn from_config(
    mail_type: Option<&str>,
    cfg: &MailConfig,
) -> Result<Box<dyn Mailer>, MailError> {
    match mail_type {
        Some("smtp") => Ok(Box::new(SmtpMailer::new(cfg)?)),
        None | Some("") => Ok(Box::new(LogMailer)),
        Some(other) => Err(MailError::Config(format!(
            "MAIL_TYPE {other} is not supported (use smtp)"
        ))),
    }
}
