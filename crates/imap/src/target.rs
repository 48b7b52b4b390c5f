//! The destination: `imap[s]://USER@HOST[:PORT]`.
//!
//! `imaps://` is TLS from the first byte (port 993); `imap://` upgrades with
//! STARTTLS (port 143). Plaintext is possible only when asked for
//! explicitly ([`Security::Plain`]), for tests on loopback. The user may
//! hold an `@` (`me@example.com@imap.example.com`: the last `@` separates
//! the host) or percent escapes (`%40`).

use std::fmt;

use crate::{ImapError, Result};

/// How the connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// TLS from the start (`imaps://`).
    Tls,
    /// Plain connect, then STARTTLS before anything else (`imap://`).
    StartTls,
    /// No TLS at all: only when asked for, never the default.
    Plain,
}

/// A parsed destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub security: Security,
    pub user: String,
    pub host: String,
    pub port: u16,
}

impl Target {
    /// Parses `imap[s]://USER@HOST[:PORT]` (a trailing `/` is allowed).
    pub fn parse(url: &str) -> Result<Target> {
        let bad = |why: &str| ImapError::Url { url: url.to_owned(), why: why.to_owned() };
        let (security, rest) = if let Some(r) = strip_prefix_ci(url, "imaps://") {
            (Security::Tls, r)
        } else if let Some(r) = strip_prefix_ci(url, "imap://") {
            (Security::StartTls, r)
        } else {
            return Err(bad("expected imap:// or imaps://"));
        };
        let rest = rest.trim_end_matches('/');
        if rest.contains('/') || rest.contains('?') {
            return Err(bad("a path or query is not supported; folders come from the source"));
        }
        let (user, hostport) = rest.rsplit_once('@').ok_or_else(|| bad("no user: write USER@HOST"))?;
        let user = percent_decode(user).ok_or_else(|| bad("bad % escape in the user"))?;
        if user.is_empty() {
            return Err(bad("empty user"));
        }
        if user.contains(':') {
            return Err(bad("a password in the URL is refused: use --password-file or MAILSHIFT_PASSWORD"));
        }
        let (host, port) = split_host_port(hostport).ok_or_else(|| bad("bad host or port"))?;
        let port = port.unwrap_or(match security {
            Security::Tls => 993,
            Security::StartTls | Security::Plain => 143,
        });
        Ok(Target { security, user, host, port })
    }

    /// `HOST:PORT`, for messages and journal keys.
    pub fn server(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The identity of the destination mailbox: `user@host:port`. The journal
    /// is kept per destination, so two accounts never share entries.
    pub fn account(&self) -> String {
        format!("{}@{}", self.user, self.server())
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.security == Security::Tls { "imaps" } else { "imap" };
        write!(f, "{scheme}://{}@{}", self.user, self.server())
    }
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    (s.len() >= prefix.len()
        && s.is_char_boundary(prefix.len())
        && s[..prefix.len()].eq_ignore_ascii_case(prefix))
    .then(|| &s[prefix.len()..])
}

fn split_host_port(s: &str) -> Option<(String, Option<u16>)> {
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p.parse().ok()?),
            None if after.is_empty() => None,
            None => return None,
        };
        return Some((host.to_owned(), port));
    }
    let (host, port) = match s.rsplit_once(':') {
        Some((h, p)) => (h, Some(p.parse::<u16>().ok()?)),
        None => (s, None),
    };
    if host.is_empty() || host.contains(':') || port == Some(0) {
        return None;
    }
    Some((host.to_owned(), port))
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_users_hosts_ports_and_schemes() {
        let t = Target::parse("imaps://me@example.com@imap.example.com").unwrap();
        assert_eq!(
            (t.user.as_str(), t.host.as_str(), t.port, t.security),
            ("me@example.com", "imap.example.com", 993, Security::Tls)
        );
        let t = Target::parse("IMAP://a%40b@127.0.0.1:1143/").unwrap();
        assert_eq!((t.user.as_str(), t.port, t.security), ("a@b", 1143, Security::StartTls));
        let t = Target::parse("imaps://u@[::1]:994").unwrap();
        assert_eq!(t.server(), "[::1]:994");
        assert_eq!(t.account(), "u@[::1]:994");
        for bad in [
            "http://u@h",
            "imaps://h",
            "imaps://u@h:x",
            "imaps://u:pw@h",
            "imaps://u@h/INBOX",
            "imaps://@h",
            "imaps://u@h:0",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
    }
}
