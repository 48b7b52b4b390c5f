//! Logging in: PLAIN, LOGIN and XOAUTH2.
//!
//! Secrets never reach argv, logs or reports: a password comes from a file,
//! `MAILSHIFT_PASSWORD` or a prompt (the binary's business); an OAuth2
//! token comes from a command run with `sh -c`. The token is cached and
//! the command is run again a few minutes before the token expires, or when
//! the server rejects it, so a run of many hours survives token expiry.
//!
//! The expiry is the token's own: the command may print JSON with
//! `access_token` and `expires_in` / `expires_on` / `expires_at` (what
//! `az account get-access-token`, `oauth2l` and MSAL helper scripts print),
//! or a bare token that is a JWT with an `exp` claim. Only for an opaque
//! token with no expiry is the age limit [`TokenCommand::refresh_after`]
//! used. A connection logged in with a token that expires is renewed
//! before the expiry ([`crate::connection::Conn::renew_at`]): Microsoft 365
//! ends a session whose token has expired (`BYE ... AccessTokenExpired`).

use std::fmt;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

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
    /// Run the command again when the token is this old, for a token whose
    /// expiry is unknown (an opaque token printed alone).
    pub refresh_after: Duration,
    cached: Mutex<Option<Cached>>,
}

/// A token and when to stop using it.
#[derive(Debug, Clone)]
struct Cached {
    token: String,
    /// From the token's expiry, a few minutes early; `None` when unknown.
    renew_at: Option<Instant>,
    fetched: Instant,
}

/// The longest safety margin before a token's expiry: a token is renewed
/// this long before it expires, or a quarter of its lifetime for a token
/// that lives less than 20 minutes.
const EXPIRY_MARGIN: Duration = Duration::from_secs(300);

impl fmt::Debug for TokenCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenCommand").field("refresh_after", &self.refresh_after).finish_non_exhaustive()
    }
}

/// What a token command printed: the token and, if known, its expiry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub token: String,
    pub expires: Option<SystemTime>,
}

impl TokenCommand {
    pub fn new(command: impl Into<String>, refresh_after: Duration) -> Self {
        TokenCommand { command: command.into(), refresh_after, cached: Mutex::new(None) }
    }

    /// The current token and when a session logged in with it should be
    /// renewed (`None`: its expiry is unknown); `fresh` forces the command
    /// to run again.
    pub async fn token(&self, user: &str, fresh: bool) -> Result<(String, Option<Instant>)> {
        let mut cached = self.cached.lock().await;
        if let Some(c) = cached.as_ref() {
            let valid = match c.renew_at {
                Some(at) => Instant::now() < at,
                None => c.fetched.elapsed() < self.refresh_after,
            };
            if !fresh && valid {
                return Ok((c.token.clone(), c.renew_at));
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
        let fetched = Instant::now();
        let t = parse_token_output(&String::from_utf8_lossy(&out.stdout), SystemTime::now())?;
        let renew_at = t.expires.map(|exp| fetched + renew_after(exp, SystemTime::now()));
        *cached = Some(Cached { token: t.token.clone(), renew_at, fetched });
        Ok((t.token, renew_at))
    }
}

/// How long from `now` a token expiring at `expires` may be used: its
/// lifetime less a margin ([`EXPIRY_MARGIN`], or a quarter of a short
/// lifetime). Zero for a token that has expired already.
pub fn renew_after(expires: SystemTime, now: SystemTime) -> Duration {
    let life = expires.duration_since(now).unwrap_or_default();
    life.saturating_sub(EXPIRY_MARGIN.min(life / 4))
}

/// Reads what a token command printed: a JSON object with the token under
/// `access_token` (or `accessToken`, `token`) and its expiry under
/// `expires_in` (seconds from now), `expires_on` / `expires_at` /
/// `expiresOn` / `expiry` (Unix seconds, or an RFC 3339 date), or else a
/// bare single-line token. Without an expiry in the JSON, a token that is
/// a JWT gives its `exp` claim.
pub fn parse_token_output(text: &str, now: SystemTime) -> Result<Token> {
    let text = text.trim();
    let (token, mut expires) = if text.starts_with('{') {
        let v: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| ImapError::Credentials(format!("the token command printed bad JSON: {e}")))?;
        let token = ["access_token", "accessToken", "token"]
            .iter()
            .find_map(|k| v.get(*k)?.as_str())
            .ok_or_else(|| {
                ImapError::Credentials("the token command printed JSON without access_token".into())
            })?
            .trim()
            .to_owned();
        let in_secs = ["expires_in", "expiresIn"].iter().find_map(|k| number(v.get(*k)?));
        let at = ["expires_on", "expires_at", "expiresOn", "expiresAt", "expiry", "expiration"]
            .iter()
            .find_map(|k| instant(v.get(*k)?));
        let expires = match (in_secs, at) {
            (Some(s), _) if s >= 0.0 => Some(now + Duration::from_secs_f64(s.min(1e9))),
            (_, at) => at,
        };
        (token, expires)
    } else {
        (text.to_owned(), None)
    };
    if token.is_empty() || token.contains(['\r', '\n', '\x01']) {
        return Err(ImapError::Credentials("the token command printed no single-line token".into()));
    }
    if expires.is_none() {
        expires = jwt_expiry(&token);
    }
    Ok(Token { token, expires })
}

/// A JSON number, or a string holding one.
fn number(v: &serde_json::Value) -> Option<f64> {
    match v {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A point in time: Unix seconds (milliseconds when implausibly large), an
/// RFC 3339 date, or `YYYY-MM-DD HH:MM:SS[.f]` in local time (what `az`
/// prints as `expiresOn`).
fn instant(v: &serde_json::Value) -> Option<SystemTime> {
    let unix = |secs: f64| {
        let secs = if secs > 1e11 { secs / 1000.0 } else { secs };
        (secs.is_finite() && secs > 0.0).then(|| UNIX_EPOCH + Duration::from_secs_f64(secs))
    };
    if let Some(n) = number(v) {
        return unix(n);
    }
    let s = v.as_str()?.trim();
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return unix(t.timestamp() as f64);
    }
    let naive = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f").ok()?;
    let local = naive.and_local_timezone(chrono::Local).earliest()?;
    unix(local.timestamp() as f64)
}

/// The `exp` claim of a JWT (header.payload.signature, base64url); `None`
/// for anything else: an opaque token is not an error.
pub fn jwt_expiry(token: &str) -> Option<SystemTime> {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut parts = token.split('.');
    let (_, payload, _) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let exp = number(claims.get("exp")?)?;
    (exp.is_finite() && exp > 0.0).then(|| UNIX_EPOCH + Duration::from_secs_f64(exp))
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
                let (token, renew_at) = cmd.token(&creds.user, attempt > 0).await?;
                let ir = B64.encode(format!("user={}\x01auth=Bearer {token}\x01\x01", creds.user));
                let done = sasl(conn, "XOAUTH2", &ir).await?;
                if done.status == Status::Ok || attempt > 0 {
                    conn.renew_at = renew_at;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    /// A JWT-shaped token (the signature is not checked here).
    fn jwt(claims: &str) -> String {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        format!("{}.{}.sig", URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256"}"#), URL_SAFE_NO_PAD.encode(claims))
    }

    #[test]
    fn token_expiry_from_json_and_jwt() {
        let now = at(1_700_000_000);
        // MSAL / a plain OAuth2 token endpoint: seconds from now.
        let t = parse_token_output(r#"{"access_token":"abc","expires_in":3599,"token_type":"Bearer"}"#, now)
            .unwrap();
        assert_eq!((t.token.as_str(), t.expires), ("abc", Some(at(1_700_003_599))));
        // az account get-access-token: camelCase token, expires_on in Unix seconds.
        let az = r#"{"accessToken":"xyz","expiresOn":"2023-11-14 23:13:20.000000","expires_on":1700003600,"tokenType":"Bearer"}"#;
        let t = parse_token_output(az, now).unwrap();
        assert_eq!((t.token.as_str(), t.expires), ("xyz", Some(at(1_700_003_600))));
        // A string number, an RFC 3339 date, milliseconds.
        let t = parse_token_output(r#"{"access_token":"a","expires_in":"60"}"#, now).unwrap();
        assert_eq!(t.expires, Some(at(1_700_000_060)));
        let t = parse_token_output(r#"{"access_token":"a","expiry":"2023-11-14T23:13:20Z"}"#, now).unwrap();
        assert_eq!(t.expires, Some(at(1_700_003_600)));
        let t = parse_token_output(r#"{"access_token":"a","expires_at":1700003600000}"#, now).unwrap();
        assert_eq!(t.expires, Some(at(1_700_003_600)));
        // A bare JWT: its exp claim; JSON without an expiry falls back to it.
        let token = jwt(r#"{"sub":"u","exp":1700000900}"#);
        let t = parse_token_output(&format!("{token}\n"), now).unwrap();
        assert_eq!((t.token.as_str(), t.expires), (token.as_str(), Some(at(1_700_000_900))));
        let t = parse_token_output(&format!(r#"{{"access_token":"{token}"}}"#), now).unwrap();
        assert_eq!(t.expires, Some(at(1_700_000_900)));
        // Opaque tokens have no known expiry; garbage is refused.
        assert_eq!(parse_token_output("opaque-token", now).unwrap().expires, None);
        assert_eq!(jwt_expiry("a.b.c"), None);
        assert_eq!(jwt_expiry(&jwt(r#"{"exp":"soon"}"#)), None);
        assert!(parse_token_output("", now).is_err());
        assert!(parse_token_output("two\nlines", now).is_err());
        assert!(parse_token_output(r#"{"expires_in":5}"#, now).is_err());
        assert!(parse_token_output("{not json", now).is_err());
    }

    #[test]
    fn renewal_comes_a_few_minutes_early() {
        let now = at(1_000_000);
        // An hour-long token: five minutes early.
        assert_eq!(renew_after(at(1_003_600), now), Duration::from_secs(3300));
        // A short one: a quarter of its life early.
        assert_eq!(renew_after(at(1_000_040), now), Duration::from_secs(30));
        // Expired already: at once.
        assert_eq!(renew_after(at(999_000), now), Duration::ZERO);
    }

    #[tokio::test]
    async fn the_command_runs_again_only_near_expiry() {
        let dir = tempfile::tempdir().unwrap();
        let calls = dir.path().join("calls");
        let soon = std::time::SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() + 2;
        // Each call prints a token that expires two seconds after the first
        // call: renewed after 1.5 s, not before.
        let cmd = TokenCommand::new(
            format!(r#"echo x >> '{}'; echo '{{"access_token":"t","expires_on":{soon}}}'"#, calls.display()),
            Duration::from_secs(3600),
        );
        let count = || std::fs::read_to_string(&calls).unwrap().lines().count();
        let (t, renew) = cmd.token("u", false).await.unwrap();
        assert_eq!(t, "t");
        assert!(renew.is_some());
        cmd.token("u", false).await.unwrap();
        assert_eq!(count(), 1, "a valid token is reused");
        tokio::time::sleep(Duration::from_millis(2100)).await;
        cmd.token("u", false).await.unwrap();
        assert_eq!(count(), 2, "a token near its expiry is renewed");
        cmd.token("u", true).await.unwrap();
        assert_eq!(count(), 3, "a rejected token is renewed");
    }
}
