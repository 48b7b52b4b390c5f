//! Logging in: PLAIN, LOGIN and XOAUTH2.
//!
//! Secrets never reach argv, logs or reports: a password comes from a file,
//! `MAILSHIFT_PASSWORD` or a prompt (the binary's business); an OAuth2
//! token comes from a command run with `sh -c`. The token is cached and
//! the command is run again when the cached token is older than
//! [`TokenCommand::refresh_after`] or the server rejects it, so a run of
//! many hours survives token expiry (every reconnect logs in again).

use std::fmt;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use tokio::sync::Mutex;

use crate::connection::{refresh_caps, Conn};
use crate::protocol::{quoted, Code, Resp, Status};
use crate::{ImapError, Result};

/// The SASL mechanism, or `None` to pick one from the capabilities.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism {
    Plain,
    Login,
    XOAuth2,
}

/// A command that prints an OAuth2 access token on stdout.
pub struct TokenCommand {
    pub command: String,
    /// Run the command again when the token is this old.
    pub refresh_after: Duration,
    cached: Mutex<Option<(String, Instant)>>,
}

impl fmt::Debug for TokenCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenCommand").field("refresh_after", &self.refresh_after).finish_non_exhaustive()
    }
}

impl TokenCommand {
    pub fn new(command: impl Into<String>, refresh_after: Duration) -> Self {
        TokenCommand { command: command.into(), refresh_after, cached: Mutex::new(None) }
    }

    /// The current token; `fresh` forces the command to run again.
    pub async fn token(&self, user: &str, fresh: bool) -> Result<String> {
        let mut cached = self.cached.lock().await;
        if let Some((t, at)) = cached.as_ref() {
            if !fresh && at.elapsed() < self.refresh_after {
                return Ok(t.clone());
            }
        }
        let out = tokio::process::Command::new("sh")
            .arg("-c")
            .arg(&self.command)
            .env("MAILSHIFT_IMAP_USER", user)
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::inherit())
            .output()
            .await
            .map_err(|e| ImapError::Credentials(format!("cannot run the token command: {e}")))?;
        if !out.status.success() {
            return Err(ImapError::Credentials(format!("the token command failed ({})", out.status)));
        }
        let token = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        if token.is_empty() || token.contains(['\r', '\n', '\x01']) {
            return Err(ImapError::Credentials("the token command printed no single-line token".into()));
        }
        *cached = Some((token.clone(), Instant::now()));
        Ok(token)
    }
}

/// What proves who we are.
pub enum Secret {
    Password(String),
    Token(TokenCommand),
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Secret::Password(_) => f.write_str("Password(<hidden>)"),
            Secret::Token(t) => write!(f, "Token({t:?})"),
        }
    }
}

/// A user and their secret.
#[derive(Debug)]
pub struct Credentials {
    pub user: String,
    pub secret: Secret,
    pub mechanism: Option<Mechanism>,
}

fn auth_error(conn: &Conn, user: &str, why: String) -> ImapError {
    ImapError::Auth { server: conn.session.server.clone(), user: user.to_owned(), why }
}

/// Logs in on a fresh connection and refreshes the capabilities.
pub async fn login(conn: &mut Conn, creds: &Credentials) -> Result<()> {
    if conn.caps.has("LOGINDISABLED")
        && !matches!(creds.secret, Secret::Token(_))
        && !conn.caps.has("AUTH=PLAIN")
    {
        return Err(auth_error(conn, &creds.user, "the server disables login on this connection".into()));
    }
    let done = match &creds.secret {
        Secret::Password(pw) => {
            let mech = creds.mechanism.unwrap_or(if conn.caps.has("AUTH=PLAIN") {
                Mechanism::Plain
            } else {
                Mechanism::Login
            });
            match mech {
                Mechanism::Plain => {
                    let ir = B64.encode(format!("\0{}\0{}", creds.user, pw));
                    sasl(conn, "PLAIN", &ir).await?
                }
                Mechanism::Login => {
                    let (Some(u), Some(p)) = (quoted(&creds.user), quoted(pw)) else {
                        return Err(auth_error(
                            conn,
                            &creds.user,
                            "LOGIN cannot carry this user or password; use --auth plain".into(),
                        ));
                    };
                    let tag = conn.session.queue_command(&format!("LOGIN {u} {p}"));
                    conn.session.flush().await?;
                    conn.session.until_tagged(&tag).await?.1
                }
                Mechanism::XOAuth2 => {
                    return Err(auth_error(conn, &creds.user, "XOAUTH2 needs --oauth2-token-cmd".into()))
                }
            }
        }
        Secret::Token(cmd) => {
            let mut attempt = 0;
            loop {
                let token = cmd.token(&creds.user, attempt > 0).await?;
                let ir = B64.encode(format!("user={}\x01auth=Bearer {token}\x01\x01", creds.user));
                let done = sasl(conn, "XOAUTH2", &ir).await?;
                if done.status == Status::Ok || attempt > 0 {
                    break done;
                }
                // Rejected: the token may have expired early; get a new one once.
                attempt += 1;
            }
        }
    };
    if done.status != Status::Ok {
        return Err(auth_error(conn, &creds.user, done.describe()));
    }
    match done.code {
        Some(Code::Capabilities(c)) => conn.caps.0 = c.into_iter().collect(),
        _ => refresh_caps(conn).await?,
    }
    Ok(())
}

/// AUTHENTICATE with an initial response (SASL-IR when offered, else after
/// the first continuation). A challenge after that (XOAUTH2's error JSON)
/// is answered with an empty line, as the mechanism asks.
async fn sasl(conn: &mut Conn, mech: &str, initial: &str) -> Result<crate::protocol::Tagged> {
    let ir = conn.caps.has("SASL-IR");
    let tag = if ir {
        conn.session.queue_command(&format!("AUTHENTICATE {mech} {initial}"))
    } else {
        conn.session.queue_command(&format!("AUTHENTICATE {mech}"))
    };
    conn.session.flush().await?;
    let mut sent = ir;
    loop {
        match conn.session.read().await? {
            Resp::Continue(_) => {
                if sent {
                    conn.session.queue(b"\r\n");
                } else {
                    conn.session.queue(initial.as_bytes());
                    conn.session.queue(b"\r\n");
                    sent = true;
                }
                conn.session.flush().await?;
            }
            Resp::Tagged(t) if t.tag == tag => return Ok(t),
            Resp::Status(t) if t.status == Status::Bye => {
                return Err(ImapError::Closed { server: conn.session.server.clone(), why: Some(t.text) })
            }
            _ => {}
        }
    }
}
