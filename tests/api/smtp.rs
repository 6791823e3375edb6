//! A real SMTP listener on 127.0.0.1 for mail tests: it speaks enough of the protocol for
//! a client to deliver (EHLO, MAIL, RCPT, DATA, QUIT) and keeps every message it receives.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

pub struct SmtpSink {
    pub addr: SocketAddr,
    messages: Arc<Mutex<Vec<String>>>,
}

impl SmtpSink {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind smtp");
        let addr = listener.local_addr().expect("addr");
        let messages = Arc::new(Mutex::new(Vec::new()));
        let store = messages.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, store.clone()));
            }
        });
        Self { addr, messages }
    }

    /// Every message received so far (headers and body, as sent).
    pub fn messages(&self) -> Vec<String> {
        self.messages.lock().map(|m| m.clone()).unwrap_or_default()
    }

    /// A mailer that delivers here over plain SMTP.
    pub fn mailer(&self) -> Arc<console_server::mail::SmtpMailer> {
        let mail = console_server::config::MailConfig {
            smtp_server: Some("127.0.0.1".into()),
            smtp_port: self.addr.port(),
            smtp_use_tls: false,
            mail_default_send_from: Some("Console <no-reply@example.com>".into()),
            ..console_server::config::MailConfig::default()
        };
        Arc::new(console_server::mail::SmtpMailer::new(&mail).expect("mailer"))
    }

    /// The activation link in the newest mail to `to`: links go to the mailbox only.
    pub fn activation_link(&self, to: &str) -> String {
        let mail = self.to(to).pop().expect("a mail to the invitee");
        let mail = decode_quoted_printable(&mail);
        let at = mail
            .find("/activate?")
            .expect("an activation link in the mail");
        let start = mail[..at].rfind("http").expect("the link's scheme");
        mail[start..]
            .chars()
            .take_while(|c| !c.is_whitespace())
            .collect()
    }

    /// The messages whose envelope or headers name `to`.
    pub fn to(&self, to: &str) -> Vec<String> {
        self.messages()
            .into_iter()
            .filter(|m| m.contains(to))
            .collect()
    }
}

async fn serve(stream: TcpStream, store: Arc<Mutex<Vec<String>>>) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    let mut envelope = String::new();
    if write
        .write_all(b"220 localhost test SMTP\r\n")
        .await
        .is_err()
    {
        return;
    }
    while let Ok(Some(line)) = lines.next_line().await {
        let upper = line.to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO") {
            b"250-localhost\r\n250 8BITMIME\r\n"
        } else if upper.starts_with("MAIL FROM") || upper.starts_with("RCPT TO") {
            envelope.push_str(&line);
            envelope.push('\n');
            b"250 OK\r\n"
        } else if upper.starts_with("DATA") {
            if write.write_all(b"354 go ahead\r\n").await.is_err() {
                return;
            }
            let mut data = std::mem::take(&mut envelope);
            while let Ok(Some(body_line)) = lines.next_line().await {
                if body_line == "." {
                    break;
                }
                data.push_str(&body_line);
                data.push('\n');
            }
            if let Ok(mut m) = store.lock() {
                m.push(data);
            }
            b"250 OK queued\r\n"
        } else if upper.starts_with("QUIT") {
            let _ = write.write_all(b"221 bye\r\n").await;
            return;
        } else {
            b"250 OK\r\n"
        };
        if write.write_all(reply).await.is_err() {
            return;
        }
    }
}

/// Decodes a quoted-printable text as a mail client would: soft line breaks (`=` at the
/// end of a line) join lines, and `=XX` is the byte XX.
pub fn decode_quoted_printable(text: &str) -> String {
    let joined = text.replace("=\r\n", "").replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'=', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
