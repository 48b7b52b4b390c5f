//! A private Dovecot IMAP server per test, in a temporary directory.
//!
//! [`Dovecot::start`] writes its own `dovecot.conf` and runs `dovecot -F`
//! (the Debian `dovecot-core`/`dovecot-imapd` binaries, 2.3.x) as a child of
//! the test. Nothing of the system's Dovecot is used or started: no
//! `/etc/dovecot`, no system service, no shared socket or state directory.
//!
//! Config choices, and why:
//! - **Everything under one temp dir**: `base_dir` (sockets, pid file),
//!   `state_dir`, `log_path`, the user's home and maildir. Many instances can
//!   run at once (tests run in parallel) and dropping the value removes all.
//! - **Ports**: two free loopback ports are picked by binding port 0 and
//!   releasing it; `imap` (plain, STARTTLS offered, plaintext auth refused
//!   before TLS) and `imaps` (implicit TLS). If another process grabs a port
//!   in between, start is retried with new ports.
//! - **TLS**: a throw-away CA and a server certificate for `localhost` and
//!   `127.0.0.1` made with the `openssl` CLI (a dependency of the Debian
//!   `dovecot-core` package). Clients trust [`Dovecot::ca_cert_path`] only,
//!   so certificate verification is really exercised.
//! - **Users**: a `passwd-file` passdb with one user (PLAIN/LOGIN) and an
//!   `oauth2` passdb (XOAUTH2/OAUTHBEARER) with `introspection_mode = local`:
//!   Dovecot checks the JWT's HS256 signature against a key in an
//!   `fs:posix` dict (`keys/default/HS256/default`, base64), and its `exp`.
//!   [`Dovecot::mint_token`] signs such tokens, so tests can also hand out
//!   expired or forged ones. The userdb is `static` (one uid, home per user)
//!   with `allow_all_users=yes`: both passdbs are limited to their SASL
//!   mechanisms, so a userdb-only lookup (`doveadm import -u`, `doveadm
//!   user`) could not ask them whether the user exists.
//! - **Running as root** (developers' machines and CI): login processes
//!   must not run as root and Dovecot refuses mail uid 0, so the login user is
//!   Debian's `dovenull`, the internal user `dovecot`, and mail is owned by
//!   the `dovecot` user's uid/gid (`first_valid_uid` lowered to it). Not
//!   root: every service and the mail run as the current user, without
//!   chroot (Dovecot's documented rootless mode).
//! - **Stop**: `dovecot -F` is started in its own process group; drop kills
//!   the whole group with SIGKILL and reaps the master. Dovecot's orderly
//!   SIGTERM shutdown takes about a second, which would dominate test time;
//!   the data of a dropped server is thrown away anyway.
//! - **Folders**: Maildir++ (`.` delimiter) by default, or `LAYOUT=fs`
//!   (`/` delimiter) with [`Layout::Fs`]; the SPECIAL-USE folders Drafts,
//!   Sent, Trash, Junk and Archive exist from the first login (`auto =
//!   subscribe`), like on real servers, unless [`Options::special_use`] is off.
//! - **Limits**: `auth_failure_delay = 0` and the anvil `auth-penalty`
//!   socket made unusable (Dovecot's documented switch): a refused login
//!   answers at once, with no 2 s delay and no per-IP penalty growing to
//!   15 s after repeated failures, which tests of token refresh and bad
//!   passwords would otherwise hit; `mail_max_userip_connections = 200` (the default 10 is
//!   below what parallel upload tests open); optional quota (the `count`
//!   backend, "NO [OVERQUOTA]" once full) and optional APPENDLIMIT
//!   (`quota_max_mail_size`, "NO [LIMIT]" above it, advertised in CAPABILITY
//!   because Dovecot 2.3 does not advertise it by itself).
#![allow(clippy::print_stderr)] // a harness that cannot start explains why on stderr

use std::fmt::Write as _;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;

/// How the user's maildir lays out folders on disk (and so the delimiter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Layout {
    /// Maildir++: `.Sent`, `.Parent.Child`; hierarchy delimiter `.`.
    #[default]
    MaildirPlusPlus,
    /// `LAYOUT=fs`: `Sent/`, `Parent/Child/`; hierarchy delimiter `/`.
    Fs,
}

impl Layout {
    /// The IMAP hierarchy delimiter this layout gives.
    pub fn delimiter(self) -> char {
        match self {
            Layout::MaildirPlusPlus => '.',
            Layout::Fs => '/',
        }
    }
}

/// What to start. `Options::default()` is a plain account `alice`/`secret-pw`.
#[derive(Debug, Clone)]
pub struct Options {
    /// The one user (login name, and `sub` of minted tokens).
    pub user: String,
    /// Its password (PLAIN and LOGIN).
    pub password: String,
    /// Maildir layout, hence the hierarchy delimiter.
    pub layout: Layout,
    /// Create the SPECIAL-USE folders (Drafts, Sent, Trash, Junk, Archive).
    pub special_use: bool,
    /// A storage quota in bytes: APPENDs past it fail with `[OVERQUOTA]`.
    pub quota_bytes: Option<u64>,
    /// The largest message accepted; advertised as `APPENDLIMIT=N`.
    pub append_limit: Option<u64>,
    /// Words added to the post-login CAPABILITY (`imap_capability = +...`).
    pub extra_capabilities: Vec<String>,
    /// Raw config appended at the end of `dovecot.conf` (later settings win).
    pub extra_config: String,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            user: "alice".into(),
            password: "secret-pw".into(),
            layout: Layout::default(),
            special_use: true,
            quota_bytes: None,
            append_limit: None,
            extra_capabilities: Vec::new(),
            extra_config: String::new(),
        }
    }
}

/// A running private Dovecot. Dropping it kills every process it started.
#[derive(Debug)]
pub struct Dovecot {
    child: Child,
    imap_port: u16,
    imaps_port: u16,
    opts: Options,
    hmac_key: Vec<u8>,
    // Last, so it is removed after the processes are gone.
    dir: tempfile::TempDir,
}

/// The `dovecot` binary: on PATH, else Debian's `/usr/sbin/dovecot` (a
/// non-root PATH often lacks `/usr/sbin`).
pub fn dovecot_bin() -> Option<PathBuf> {
    find_tool("dovecot")
}

/// The `doveadm` binary, like [`dovecot_bin`].
pub fn doveadm_bin() -> Option<PathBuf> {
    find_tool("doveadm")
}

fn find_tool(name: &str) -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .and_then(|paths| std::env::split_paths(&paths).map(|d| d.join(name)).find(|p| p.is_file()));
    on_path.or_else(|| {
        ["/usr/sbin", "/usr/local/sbin"].iter().map(|d| Path::new(d).join(name)).find(|p| p.is_file())
    })
}

/// Whether Dovecot (and `openssl`, for its certificate) can be used; if
/// not, says SKIPPED (or panics under CI) like [`crate::require_tool`].
pub fn available(test: &str) -> bool {
    if dovecot_bin().is_none() {
        return crate::require_tool(test, "dovecot");
    }
    crate::require_tool(test, "openssl")
}

impl Dovecot {
    /// Starts a server and waits until both ports accept connections.
    pub fn start(opts: Options) -> io::Result<Dovecot> {
        let bin = dovecot_bin()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "dovecot is not installed"))?;
        let dir = tempfile::Builder::new().prefix("mailshift-dovecot-").tempdir()?;
        let ids = Ids::for_this_process()?;
        let hmac_key = random_key()?;
        prepare_dir(dir.path(), &opts, &ids, &hmac_key)?;
        let conf_path = dir.path().join("dovecot.conf");
        let mut last_err = None;
        for _attempt in 0..5 {
            let (imap_port, imaps_port) = free_ports()?;
            std::fs::write(&conf_path, config(dir.path(), &opts, &ids, imap_port, imaps_port))?;
            let _ = std::fs::remove_file(dir.path().join("dovecot.log"));
            let mut child = spawn(&bin, &conf_path)?;
            match wait_ready(&mut child, &[imap_port, imaps_port], Duration::from_secs(10)) {
                Ok(()) => return Ok(Dovecot { child, imap_port, imaps_port, opts, hmac_key, dir }),
                Err(e) => {
                    kill_group(&mut child);
                    let log = read_log(dir.path());
                    let err = io::Error::other(format!("{e}; dovecot log:\n{log}"));
                    if !log.contains("Address already in use") {
                        return Err(err);
                    }
                    last_err = Some(err);
                }
            }
        }
        Err(last_err.unwrap_or_else(|| io::Error::other("dovecot did not start")))
    }

    /// [`Dovecot::start`] for tests: `None` (SKIPPED) when Dovecot is not
    /// installed, a panic with the log when it is but does not start.
    pub fn start_for_test(test: &str, opts: Options) -> Option<Dovecot> {
        if !available(test) {
            return None;
        }
        match Dovecot::start(opts) {
            Ok(d) => Some(d),
            Err(e) => panic!("{test}: private Dovecot did not start: {e}"),
        }
    }

    /// The master process id; every Dovecot process of this instance is in
    /// the process group of that id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
    /// Always `127.0.0.1`.
    pub fn host(&self) -> &'static str {
        "127.0.0.1"
    }
    /// The plain port (offers STARTTLS; LOGIN/AUTHENTICATE only after it).
    pub fn imap_port(&self) -> u16 {
        self.imap_port
    }
    /// The implicit-TLS port.
    pub fn imaps_port(&self) -> u16 {
        self.imaps_port
    }
    /// `127.0.0.1:imap_port`, e.g. for a [`crate::proxy::FaultProxy`].
    pub fn imap_addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.imap_port))
    }
    /// `127.0.0.1:imaps_port`.
    pub fn imaps_addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.imaps_port))
    }
    /// The PEM CA certificate that signed the server's certificate (which
    /// names `localhost` and `127.0.0.1`).
    pub fn ca_cert_path(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }
    /// The user's login name.
    pub fn user(&self) -> &str {
        &self.opts.user
    }
    /// The user's password.
    pub fn password(&self) -> &str {
        &self.opts.password
    }
    /// A file holding the password (no newline), for `--password-file`.
    pub fn password_file(&self) -> PathBuf {
        self.dir.path().join("password")
    }
    /// The IMAP hierarchy delimiter (`.` or `/`, from [`Options::layout`]).
    pub fn delimiter(&self) -> char {
        self.opts.layout.delimiter()
    }
    /// The user's maildir (`INBOX` is its `cur/new/tmp`).
    pub fn mail_root(&self) -> PathBuf {
        self.dir.path().join("home").join(&self.opts.user).join("Maildir")
    }
    /// The private `dovecot.conf`, for `doveadm -c`.
    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("dovecot.conf")
    }
    /// The temp dir holding everything (config, certs, home, log).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
    /// Dovecot's log so far (for assertion messages).
    pub fn log(&self) -> String {
        read_log(self.dir.path())
    }

    /// Runs `doveadm -c <private config> ARGS` (e.g. `["mailbox", "list",
    /// "-u", user]`) and returns its output.
    pub fn doveadm(&self, args: &[&str]) -> io::Result<Output> {
        let bin = doveadm_bin()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "doveadm is not installed"))?;
        Command::new(bin).arg("-c").arg(self.config_path()).args(args).stdin(Stdio::null()).output()
    }

    /// A JWT access token for the user, valid for `ttl` from now, that this
    /// server's oauth2 passdb accepts (HS256, `sub` = user, `kid` = default).
    pub fn mint_token(&self, ttl: Duration) -> String {
        let now = unix_now();
        self.mint_token_with(now.saturating_sub(1), now + ttl.as_secs() as i64)
    }

    /// A correctly signed token that expired a minute ago (refused).
    pub fn mint_expired_token(&self) -> String {
        let now = unix_now();
        self.mint_token_with(now - 3600, now - 60)
    }

    /// A token with the given `iat` and `exp` (Unix seconds).
    pub fn mint_token_with(&self, issued_at: i64, expires_at: i64) -> String {
        let claims = serde_json::json!({
            "sub": self.opts.user,
            "iss": "mailshift-testkit",
            "iat": issued_at,
            "exp": expires_at,
        });
        jwt_hs256(&self.hmac_key, &claims)
    }

    /// The XOAUTH2 SASL initial response (before base64):
    /// `user=U^Aauth=Bearer T^A^A`.
    pub fn xoauth2_response(&self, token: &str) -> String {
        format!("user={}\x01auth=Bearer {token}\x01\x01", self.opts.user)
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        kill_group(&mut self.child);
    }
}

fn read_log(dir: &Path) -> String {
    std::fs::read(dir.join("dovecot.log"))
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

/// Kills the master and every service it forked (they share its process
/// group), then reaps the master.
fn kill_group(child: &mut Child) {
    let pid = rustix::process::Pid::from_child(child);
    let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
    let _ = child.kill();
    let _ = child.wait();
}

fn wait_ready(child: &mut Child, ports: &[u16], within: Duration) -> io::Result<()> {
    let deadline = Instant::now() + within;
    let mut pending = ports.to_vec();
    loop {
        if let Some(status) = child.try_wait()? {
            return Err(io::Error::other(format!("dovecot exited at start ({status})")));
        }
        pending.retain(|&port| {
            TcpStream::connect_timeout(
                &SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
                Duration::from_millis(200),
            )
            .is_err()
        });
        if pending.is_empty() {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(io::Error::new(io::ErrorKind::TimedOut, format!("ports {pending:?} never opened")));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Signs `claims` as a compact JWT with HS256.
pub fn jwt_hs256(key: &[u8], claims: &serde_json::Value) -> String {
    let header = serde_json::json!({"alg": "HS256", "typ": "JWT", "kid": "default"});
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let tag = ring::hmac::sign(&ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key), signing_input.as_bytes());
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
}

fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

fn random_key() -> io::Result<Vec<u8>> {
    use ring::rand::SecureRandom as _;
    let mut key = vec![0u8; 32];
    ring::rand::SystemRandom::new().fill(&mut key).map_err(|_| io::Error::other("no system randomness"))?;
    Ok(key)
}

/// Two distinct free loopback ports (both held until both are chosen).
fn free_ports() -> io::Result<(u16, u16)> {
    let a = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    let b = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok((a.local_addr()?.port(), b.local_addr()?.port()))
}

fn spawn(bin: &Path, conf: &Path) -> io::Result<Child> {
    use std::os::unix::process::CommandExt as _;
    Command::new(bin)
        .arg("-F")
        .arg("-c")
        .arg(conf)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
}

/// Who runs what: see the module doc.
#[derive(Debug)]
struct Ids {
    root: bool,
    internal_user: String,
    login_user: String,
    mail_uid: u32,
    mail_gid: u32,
}

impl Ids {
    fn for_this_process() -> io::Result<Ids> {
        let euid = rustix::process::geteuid().as_raw();
        let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
        let entry = |pred: &dyn Fn(&[&str]) -> bool| -> Option<(String, u32, u32)> {
            passwd
                .lines()
                .map(|l| l.split(':').collect::<Vec<_>>())
                .find(|f| f.len() >= 4 && pred(f))
                .and_then(|f| Some((f[0].to_string(), f[2].parse().ok()?, f[3].parse().ok()?)))
        };
        if euid == 0 {
            let (internal, uid, gid) = entry(&|f| f[0] == "dovecot").ok_or_else(|| {
                io::Error::other("no `dovecot` user in /etc/passwd (is dovecot-core installed?)")
            })?;
            let login = entry(&|f| f[0] == "dovenull").map(|e| e.0).unwrap_or_else(|| "nobody".into());
            Ok(Ids { root: true, internal_user: internal, login_user: login, mail_uid: uid, mail_gid: gid })
        } else {
            let egid = rustix::process::getegid().as_raw();
            let me = entry(&|f| f[2] == euid.to_string())
                .map(|e| e.0)
                .or_else(|| std::env::var("USER").ok())
                .ok_or_else(|| io::Error::other(format!("uid {euid} has no name in /etc/passwd")))?;
            Ok(Ids { root: false, internal_user: me.clone(), login_user: me, mail_uid: euid, mail_gid: egid })
        }
    }
}

/// The name of group `gid` in /etc/group (Dovecot wants names there).
fn group_name(gid: u32) -> Option<String> {
    let groups = std::fs::read_to_string("/etc/group").ok()?;
    groups
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.len() >= 3 && f[2] == gid.to_string())
        .map(|f| f[0].to_string())
}

fn prepare_dir(dir: &Path, opts: &Options, ids: &Ids, hmac_key: &[u8]) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    // Mail processes run as the mail uid and must traverse to the home.
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))?;
    for sub in ["run", "state", "keys/default/HS256"] {
        std::fs::create_dir_all(dir.join(sub))?;
    }
    let home = dir.join("home").join(&opts.user);
    std::fs::create_dir_all(&home)?;
    if ids.root {
        std::os::unix::fs::chown(dir.join("home"), Some(ids.mail_uid), Some(ids.mail_gid))?;
        std::os::unix::fs::chown(&home, Some(ids.mail_uid), Some(ids.mail_gid))?;
    }
    std::fs::write(dir.join("password"), &opts.password)?;
    // passwd-file: user:{scheme}password:uid:gid:gecos:home:shell:extra
    std::fs::write(dir.join("passwd"), format!("{}:{{PLAIN}}{}::::::\n", opts.user, opts.password))?;
    std::fs::write(dir.join("keys/default/HS256/default"), STANDARD.encode(hmac_key))?;
    std::fs::write(
        dir.join("oauth2.conf"),
        format!(
            "introspection_mode = local\nlocal_validation_key_dict = fs:posix:prefix={}/\nusername_attribute = sub\n",
            dir.join("keys").display()
        ),
    )?;
    make_certs(dir)
}

/// A CA and a server certificate for `localhost`/`127.0.0.1` (EC P-256).
fn make_certs(dir: &Path) -> io::Result<()> {
    let run = |args: &[&str]| -> io::Result<()> {
        let out = Command::new("openssl").args(args).current_dir(dir).stdin(Stdio::null()).output()?;
        if !out.status.success() {
            return Err(io::Error::other(format!(
                "openssl {} failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            )));
        }
        Ok(())
    };
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "3"];
    run(&[
        &["req", "-x509"][..],
        &ec,
        &["-keyout", "ca.key", "-out", "ca.pem", "-subj", "/CN=mailshift test CA"],
    ]
    .concat())?;
    run(&[
        &["req", "-x509", "-CA", "ca.pem", "-CAkey", "ca.key"][..],
        &ec,
        &[
            "-keyout",
            "server.key",
            "-out",
            "server.pem",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-addext",
            "basicConstraints=critical,CA:FALSE",
            "-addext",
            "extendedKeyUsage=serverAuth",
        ],
    ]
    .concat())
}

fn config(dir: &Path, opts: &Options, ids: &Ids, imap_port: u16, imaps_port: u16) -> String {
    let d = dir.display();
    let mut c = String::new();
    let layout = match opts.layout {
        Layout::MaildirPlusPlus => "",
        Layout::Fs => ":LAYOUT=fs",
    };
    let _ = write!(
        c,
        r#"# Written by mailshift_testkit::dovecot for one test; see the module doc.
base_dir = {d}/run
state_dir = {d}/state
instance_name = mailshift-test
log_path = {d}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = yes
ssl_cert = <{d}/server.pem
ssl_key = <{d}/server.key
disable_plaintext_auth = yes
auth_mechanisms = plain login xoauth2 oauthbearer
auth_failure_delay = 0
auth_verbose = yes
default_internal_user = {internal}
default_login_user = {login}
first_valid_uid = {uid}
mail_uid = {uid}
mail_gid = {gid}
mail_location = maildir:~/Maildir{layout}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {d}/passwd
  mechanisms = plain login
}}
passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {d}/oauth2.conf
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={d}/home/%u allow_all_users=yes
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap_port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps_port}
    ssl = yes
  }}
}}
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
protocol imap {{
  mail_max_userip_connections = 200
}}
namespace inbox {{
  inbox = yes
  separator = {sep}
"#,
        internal = ids.internal_user,
        login = ids.login_user,
        uid = ids.mail_uid,
        gid = ids.mail_gid,
        sep = opts.layout.delimiter(),
    );
    if opts.special_use {
        for (name, flag) in [
            ("Drafts", "Drafts"),
            ("Sent", "Sent"),
            ("Trash", "Trash"),
            ("Junk", "Junk"),
            ("Archive", "Archive"),
        ] {
            let _ =
                writeln!(c, "  mailbox {name} {{\n    special_use = \\{flag}\n    auto = subscribe\n  }}");
        }
    }
    c.push_str("}\n");
    if !ids.root {
        // Rootless: no chroot, every service as the current user.
        if let Some(group) = group_name(ids.mail_gid) {
            let _ = writeln!(c, "default_internal_group = {group}");
        }
        c.push_str("service anvil {\n  chroot =\n}\nservice imap-login {\n  chroot =\n}\n");
    }
    if opts.quota_bytes.is_some() || opts.append_limit.is_some() {
        c.push_str("mail_plugins = $mail_plugins quota\nprotocol imap {\n  mail_plugins = $mail_plugins imap_quota\n}\n");
        c.push_str("plugin {\n  quota = count:User quota\n  quota_vsizes = yes\n");
        if let Some(q) = opts.quota_bytes {
            let _ = writeln!(c, "  quota_rule = *:storage={q}B");
        }
        if let Some(max) = opts.append_limit {
            let _ = writeln!(c, "  quota_max_mail_size = {max}B");
        }
        c.push_str("}\n");
    }
    let mut caps: Vec<String> = opts.extra_capabilities.clone();
    if let Some(max) = opts.append_limit {
        caps.push(format!("APPENDLIMIT={max}"));
    }
    if !caps.is_empty() {
        let _ = writeln!(c, "protocol imap {{\n  imap_capability = +{}\n}}", caps.join(" "));
    }
    c.push_str(&opts.extra_config);
    c.push('\n');
    c
}
