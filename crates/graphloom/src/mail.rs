//! Sending email: password resets, address verification. A [`Mailer`] is a
//! handle on one backend, chosen by URL (`GRAPHLOOM_EMAIL_URL`):
//!
//! - `smtp://host:port` (plain; a local relay or a sidecar), and with the
//!   `smtp-tls` feature `smtp://…?tls=required` (STARTTLS) and `smtps://…`;
//!   credentials as `smtp://user:password@host:port`;
//! - `file:///path/to/dir`: each message written there as an `.eml` file;
//! - `console`: each message logged (the default: development);
//! - `memory`: kept in [`Mailer::outbox`], for tests (Django's `mail.outbox`).
//!
//! The handle is cheap to clone and can be pointed elsewhere at start-up
//! ([`Mailer::configure`]); the apps that send keep the same handle.

use std::sync::{Arc, Mutex, RwLock};

use lettre::{
    AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    message::{Mailbox, header::ContentType},
};

/// One message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    pub to: String,
    pub subject: String,
    /// Plain text.
    pub body: String,
}

/// Why a message was not sent, or a backend not set up.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("`{0}` is not an email backend: use smtp://host:port, file:///dir, console or memory")]
    BadUrl(String),
    #[error("`{0}` is not an email address")]
    BadAddress(String),
    #[error("the message could not be built: {0}")]
    Build(String),
    #[error("the message could not be sent: {0}")]
    Send(String),
}

enum Backend {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    File(AsyncFileTransport<Tokio1Executor>),
    Console,
    Memory,
}

struct Inner {
    backend: RwLock<(Arc<Backend>, String)>,
    from: RwLock<String>,
    outbox: Mutex<Vec<Email>>,
}

/// Sends email through the configured backend (see the module docs).
#[derive(Clone)]
pub struct Mailer(Arc<Inner>);

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("backend", &self.backend_name())
            .field("from", &self.from())
            .finish()
    }
}

impl Default for Mailer {
    fn default() -> Self {
        Mailer::console()
    }
}

/// The sender when none is configured.
pub const DEFAULT_FROM: &str = "graphloom <noreply@localhost>";

impl Mailer {
    fn with(backend: Backend, name: &str) -> Self {
        Mailer(Arc::new(Inner {
            backend: RwLock::new((Arc::new(backend), name.to_owned())),
            from: RwLock::new(DEFAULT_FROM.to_owned()),
            outbox: Mutex::default(),
        }))
    }

    /// Logs each message (development).
    pub fn console() -> Self {
        Mailer::with(Backend::Console, "console")
    }

    /// Keeps each message in [`Mailer::outbox`] (tests).
    pub fn memory() -> Self {
        Mailer::with(Backend::Memory, "memory")
    }

    /// A backend by URL (see the module docs).
    pub fn from_url(url: &str) -> Result<Self, MailError> {
        let m = Mailer::console();
        m.configure(url)?;
        Ok(m)
    }

    /// Points this handle (and every clone) at the backend `url`.
    pub fn configure(&self, url: &str) -> Result<(), MailError> {
        let bad = || MailError::BadUrl(url.to_owned());
        let (backend, name) = match url {
            "console" => (Backend::Console, "console".to_owned()),
            "memory" => (Backend::Memory, "memory".to_owned()),
            u if u.starts_with("file://") => {
                let dir = std::path::PathBuf::from(&u["file://".len()..]);
                if !dir.is_dir() {
                    return Err(MailError::BadUrl(format!("{url} (the folder must exist)")));
                }
                (
                    Backend::File(AsyncFileTransport::new(dir)),
                    "file".to_owned(),
                )
            }
            u if u.starts_with("smtp://") || u.starts_with("smtps://") => {
                let transport = smtp_transport(u)?;
                // The host and port, not the credentials, for logs.
                let shown = u.split_once('@').map_or(u.to_owned(), |(scheme, host)| {
                    format!("{}://{host}", scheme.split("://").next().unwrap_or("smtp"))
                });
                (Backend::Smtp(transport), shown)
            }
            _ => return Err(bad()),
        };
        *self.0.backend.write().unwrap_or_else(|e| e.into_inner()) = (Arc::new(backend), name);
        Ok(())
    }

    /// The sender (`Name <address>` or an address), checked.
    pub fn set_from(&self, from: &str) -> Result<(), MailError> {
        from.parse::<Mailbox>()
            .map_err(|_| MailError::BadAddress(from.to_owned()))?;
        *self.0.from.write().unwrap_or_else(|e| e.into_inner()) = from.to_owned();
        Ok(())
    }

    pub fn from(&self) -> String {
        self.0
            .from
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// `console`, `memory`, `file` or the SMTP server (without credentials).
    pub fn backend_name(&self) -> String {
        self.0
            .backend
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .1
            .clone()
    }

    /// The messages sent so far through a `memory` backend.
    pub fn outbox(&self) -> Vec<Email> {
        self.0
            .outbox
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Sends one message.
    pub async fn send(&self, email: Email) -> Result<(), MailError> {
        let backend = Arc::clone(&self.0.backend.read().unwrap_or_else(|e| e.into_inner()).0);
        match &*backend {
            Backend::Console => {
                tracing::info!(
                    to = %email.to,
                    subject = %email.subject,
                    "email (console backend):\n{}",
                    email.body
                );
                Ok(())
            }
            Backend::Memory => {
                self.0
                    .outbox
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(email);
                Ok(())
            }
            Backend::Smtp(t) => t
                .send(self.message(&email)?)
                .await
                .map(drop)
                .map_err(|e| MailError::Send(e.to_string())),
            Backend::File(t) => t
                .send(self.message(&email)?)
                .await
                .map(drop)
                .map_err(|e| MailError::Send(e.to_string())),
        }
    }

    fn message(&self, email: &Email) -> Result<Message, MailError> {
        let from = self.from();
        let from: Mailbox = from.parse().map_err(|_| MailError::BadAddress(from))?;
        let to: Mailbox = email
            .to
            .parse()
            .map_err(|_| MailError::BadAddress(email.to.clone()))?;
        Message::builder()
            .from(from)
            .to(to)
            .subject(&email.subject)
            .header(ContentType::TEXT_PLAIN)
            .body(email.body.clone())
            .map_err(|e| MailError::Build(e.to_string()))
    }
}

/// With TLS built in, lettre reads the whole URL (`smtps://`, `?tls=`).
#[cfg(feature = "smtp-tls")]
fn smtp_transport(url: &str) -> Result<AsyncSmtpTransport<Tokio1Executor>, MailError> {
    Ok(AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
        .map_err(|e| MailError::BadUrl(format!("{url}: {e}")))?
        .build())
}

/// Without TLS: `smtp://[user:password@]host[:port]` (port 25 by default),
/// in plain text, as to a relay on the same host or network.
#[cfg(not(feature = "smtp-tls"))]
fn smtp_transport(url: &str) -> Result<AsyncSmtpTransport<Tokio1Executor>, MailError> {
    let bad = |why: &str| MailError::BadUrl(format!("{url} ({why})"));
    let Some(rest) = url.strip_prefix("smtp://") else {
        return Err(bad("TLS needs graphloom's `smtp-tls` feature"));
    };
    let (credentials, address) = match rest.rsplit_once('@') {
        Some((c, a)) => (Some(c), a),
        None => (None, rest),
    };
    let address = address.trim_end_matches('/');
    if address.contains(['/', '?']) {
        return Err(bad("TLS options need graphloom's `smtp-tls` feature"));
    }
    let (host, port) = match address.rsplit_once(':') {
        Some((h, p)) => (h, p.parse::<u16>().map_err(|_| bad("bad port"))?),
        None => (address, 25),
    };
    if host.is_empty() {
        return Err(bad("no host"));
    }
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host).port(port);
    if let Some(c) = credentials {
        let (user, password) = c.split_once(':').unwrap_or((c, ""));
        builder = builder.credentials(lettre::transport::smtp::authentication::Credentials::new(
            user.to_owned(),
            password.to_owned(),
        ));
    }
    Ok(builder.build())
}

/// A message's text with `{{name}}` placeholders, filled by [`Template::render`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pub subject: String,
    pub body: String,
}

impl Template {
    pub fn new(subject: impl Into<String>, body: impl Into<String>) -> Self {
        Template {
            subject: subject.into(),
            body: body.into(),
        }
    }

    /// The message to `to`, each `{{name}}` replaced by its value.
    pub fn render(&self, to: &str, vars: &[(&str, &str)]) -> Email {
        let fill = |text: &str| {
            vars.iter().fold(text.to_owned(), |t, (k, v)| {
                t.replace(&format!("{{{{{k}}}}}"), v)
            })
        };
        Email {
            to: to.to_owned(),
            subject: fill(&self.subject),
            body: fill(&self.body),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn templates_fill_their_placeholders() {
        let t = Template::new("Hi {{username}}", "Open {{link}} ({{link}}).");
        let e = t.render(
            "a@example.com",
            &[("username", "ann"), ("link", "http://x/1")],
        );
        assert_eq!(e.subject, "Hi ann");
        assert_eq!(e.body, "Open http://x/1 (http://x/1).");
    }

    #[tokio::test]
    async fn backends_by_url_and_their_refusals() {
        let m = Mailer::from_url("memory").unwrap();
        let clone = m.clone();
        clone
            .send(Email {
                to: "a@example.com".into(),
                subject: "s".into(),
                body: "b".into(),
            })
            .await
            .unwrap();
        assert_eq!(m.outbox().len(), 1, "clones share the outbox");
        for bad in [
            "",
            "http://x",
            "file:///no/such/folder/here",
            "smtp://",
            "smtp://host:port",
        ] {
            assert!(Mailer::from_url(bad).is_err(), "{bad}");
        }
        assert!(m.set_from("not an address").is_err());
        m.set_from("Site <site@example.com>").unwrap();
        let m = Mailer::from_url("smtp://user:secret@127.0.0.1:2525").unwrap();
        assert_eq!(m.backend_name(), "smtp://127.0.0.1:2525");
    }

    #[tokio::test]
    async fn the_file_backend_writes_eml_files() {
        let dir = std::env::temp_dir().join(format!("graphloom-mail-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let m = Mailer::from_url(&format!("file://{}", dir.display())).unwrap();
        m.send(Email {
            to: "Ann <ann@example.com>".into(),
            subject: "Reset".into(),
            body: "Your link".into(),
        })
        .await
        .unwrap();
        let files: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
        assert_eq!(files.len(), 1);
        let text = std::fs::read_to_string(files[0].as_ref().unwrap().path()).unwrap();
        assert!(
            text.contains("Subject: Reset") && text.contains("Your link"),
            "{text}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
