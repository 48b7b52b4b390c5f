//! Connecting: TCP, TLS (implicit or STARTTLS) with certificates verified
//! against the system roots or a `--ca-file`, the greeting, capabilities,
//! then authentication ([`crate::auth`]).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpStream;
use tokio_rustls::rustls::{self, pki_types::ServerName, ClientConfig, RootCertStore};
use tokio_rustls::TlsConnector;

use crate::auth::Credentials;
use crate::protocol::{Code, Io, Resp, Session, Status};
use crate::target::{Security, Target};
use crate::{ImapError, Result};

/// How to reach the server.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// Trust only the certificates in this PEM file (a private CA, a test
    /// CA) instead of the system roots.
    pub ca_file: Option<PathBuf>,
    /// How long any single step (connect, a command's answer) may take.
    pub timeout: Duration,
    /// Allow `imap://` without STARTTLS (tests on loopback only).
    pub allow_plaintext: bool,
    /// A connection silent for this long sends NOOP (while its worker
    /// waits for the source or for another connection), so NAT tables,
    /// firewalls and Microsoft 365's idle timeout do not drop it.
    pub keepalive: Duration,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            ca_file: None,
            timeout: Duration::from_secs(120),
            allow_plaintext: false,
            keepalive: Duration::from_secs(60),
        }
    }
}

/// The server's capabilities, upper-cased.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Caps(pub BTreeSet<String>);

impl Caps {
    pub fn has(&self, name: &str) -> bool {
        self.0.contains(&name.to_ascii_uppercase())
    }

    /// RFC 7889 APPENDLIMIT=N: the largest message the server accepts.
    pub fn append_limit(&self) -> Option<u64> {
        self.0.iter().find_map(|c| c.strip_prefix("APPENDLIMIT=")?.parse().ok())
    }

    fn set(&mut self, list: Vec<String>) {
        self.0 = list.into_iter().collect();
    }
}

/// A logged-in connection.
#[derive(Debug)]
pub struct Conn {
    pub session: Session,
    pub caps: Caps,
    pub greeting: String,
    /// When the session should be replaced by a fresh login: a few minutes
    /// before its OAuth2 token expires (`None`: never, a password login or
    /// a token whose expiry is unknown).
    pub renew_at: Option<Instant>,
}

impl Conn {
    /// Microsoft 365 / Exchange, known from its greeting: it loses
    /// `\Flagged` given at APPEND, throttles, and renames special folders.
    pub fn is_m365(&self) -> bool {
        let g = self.greeting.to_ascii_lowercase();
        g.contains("microsoft exchange") || g.contains("outlook.office365") || g.contains("office365")
    }

    /// Whether the session's token is about to expire: log in again
    /// before sending more.
    pub fn must_renew(&self) -> bool {
        self.renew_at.is_some_and(|at| Instant::now() >= at)
    }

    /// Sends NOOP when nothing was sent or received for `idle`: a
    /// keep-alive for a connection that waits.
    pub async fn keepalive(&mut self, idle: Duration) -> Result<()> {
        if self.session.idle_for() >= idle {
            self.session.run_ok("NOOP", "NOOP").await?;
        }
        Ok(())
    }

    /// Ends the session politely; errors do not matter any more.
    pub async fn logout(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(5), self.session.run("LOGOUT")).await;
    }
}

/// Opens logged-in connections to one server, as many as asked.
#[derive(Clone)]
pub struct Connector {
    pub target: Target,
    pub opts: ConnectOptions,
    tls: Option<TlsConnector>,
    pub creds: Arc<Credentials>,
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector")
            .field("target", &self.target)
            .field("opts", &self.opts)
            .finish_non_exhaustive()
    }
}

impl Connector {
    pub fn new(target: Target, opts: ConnectOptions, creds: Arc<Credentials>) -> Result<Connector> {
        let server = target.server();
        if target.security == Security::Plain && !opts.allow_plaintext {
            return Err(ImapError::Tls { server, why: "plaintext IMAP refused (no TLS)".into() });
        }
        let tls = if target.security == Security::Plain {
            None
        } else {
            Some(TlsConnector::from(Arc::new(tls_config(opts.ca_file.as_deref(), &server)?)))
        };
        Ok(Connector { target, opts, tls, creds })
    }

    /// Connects, sets up TLS, reads the greeting and logs in.
    pub async fn connect(&self) -> Result<Conn> {
        let mut conn = self.open().await?;
        crate::auth::login(&mut conn, &self.creds).await?;
        Ok(conn)
    }

    /// Connects and reaches the not-authenticated state with TLS in place.
    pub async fn open(&self) -> Result<Conn> {
        let server = self.target.server();
        let timeout = self.opts.timeout;
        let addr = (self.target.host.as_str(), self.target.port);
        let tcp = match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return Err(ImapError::Io { server, what: "connect".into(), source: e }),
            Err(_) => {
                return Err(ImapError::Timeout { server, what: "connect".into(), secs: timeout.as_secs() })
            }
        };
        let _ = tcp.set_nodelay(true);
        let io: Box<dyn Io> = match self.target.security {
            Security::Tls => Box::new(self.handshake(tcp).await?),
            Security::Plain | Security::StartTls => Box::new(tcp),
        };
        let mut session = Session::new(io, server.clone(), timeout);
        let greeting = match session.read().await? {
            Resp::Status(t) if matches!(t.status, Status::Ok | Status::PreAuth) => t,
            Resp::Status(t) => return Err(ImapError::Closed { server, why: Some(t.describe()) }),
            other => return Err(ImapError::Protocol { server, snippet: format!("greeting {other:?}") }),
        };
        let mut caps = Caps::default();
        if let Some(Code::Capabilities(c)) = &greeting.code {
            caps.set(c.clone());
        }
        if self.target.security == Security::StartTls {
            session.run_ok("STARTTLS", "STARTTLS").await?;
            let tcp_io = session.into_io()?;
            // The stream is a TcpStream in a box; STARTTLS wraps whatever
            // stream we have, so a test proxy in between works too.
            let tls = self
                .tls
                .as_ref()
                .ok_or_else(|| ImapError::Tls { server: server.clone(), why: "no TLS config".into() })?;
            let name = server_name(&self.target.host, &server)?;
            let stream = tokio::time::timeout(timeout, tls.connect(name, tcp_io))
                .await
                .map_err(|_| ImapError::Timeout {
                    server: server.clone(),
                    what: "TLS handshake".into(),
                    secs: timeout.as_secs(),
                })?
                .map_err(|e| ImapError::Io {
                    server: server.clone(),
                    what: "TLS handshake".into(),
                    source: e,
                })?;
            session = Session::new(Box::new(stream), server.clone(), timeout);
            caps = Caps::default(); // capabilities before TLS are not to be trusted
        }
        let mut conn = Conn { session, caps, greeting: greeting.text, renew_at: None };
        if conn.caps.0.is_empty() {
            refresh_caps(&mut conn).await?;
        }
        Ok(conn)
    }

    async fn handshake(&self, tcp: TcpStream) -> Result<tokio_rustls::client::TlsStream<TcpStream>> {
        let server = self.target.server();
        let tls = self
            .tls
            .as_ref()
            .ok_or_else(|| ImapError::Tls { server: server.clone(), why: "no TLS config".into() })?;
        let name = server_name(&self.target.host, &server)?;
        tokio::time::timeout(self.opts.timeout, tls.connect(name, tcp))
            .await
            .map_err(|_| ImapError::Timeout {
                server: server.clone(),
                what: "TLS handshake".into(),
                secs: self.opts.timeout.as_secs(),
            })?
            .map_err(|e| ImapError::Io { server, what: "TLS handshake".into(), source: e })
    }
}

/// Asks for CAPABILITY and stores the answer.
pub async fn refresh_caps(conn: &mut Conn) -> Result<()> {
    let (untagged, done) = conn.session.run_ok("CAPABILITY", "CAPABILITY").await?;
    for r in untagged {
        if let Resp::Capabilities(c) = r {
            conn.caps.set(c);
        }
    }
    if let Some(Code::Capabilities(c)) = done.code {
        conn.caps.set(c);
    }
    Ok(())
}

fn server_name(host: &str, server: &str) -> Result<ServerName<'static>> {
    ServerName::try_from(host.to_owned()).map_err(|e| ImapError::Tls {
        server: server.to_owned(),
        why: format!("bad host name {host:?}: {e}"),
    })
}

fn tls_config(ca_file: Option<&Path>, server: &str) -> Result<ClientConfig> {
    let bad = |why: String| ImapError::Tls { server: server.to_owned(), why };
    let mut roots = RootCertStore::empty();
    match ca_file {
        Some(path) => {
            use rustls_pki_types::pem::PemObject;
            let certs = rustls_pki_types::CertificateDer::pem_file_iter(path)
                .map_err(|e| bad(format!("cannot read CA file {}: {e}", path.display())))?;
            for c in certs {
                let c = c.map_err(|e| bad(format!("bad certificate in {}: {e}", path.display())))?;
                roots.add(c).map_err(|e| bad(format!("bad certificate in {}: {e}", path.display())))?;
            }
            if roots.is_empty() {
                return Err(bad(format!("no certificate in {}", path.display())));
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            for c in found.certs {
                let _ = roots.add(c);
            }
            if roots.is_empty() {
                return Err(bad("no system CA certificates found; give --ca-file".into()));
            }
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(config)
}
