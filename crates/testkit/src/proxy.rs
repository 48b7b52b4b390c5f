//! A loopback TCP proxy that misbehaves on purpose, to show that a client
//! survives cut connections, stalls and slow links.
//!
//! Plain std threads: one accepting thread, two pump threads per
//! connection (client→server, server→client). TLS passes through
//! untouched (the proxy only counts bytes), so it sits in front of either
//! Dovecot port. The fault can be changed while running with
//! [`FaultProxy::set_fault`]; a connection keeps the fault it was accepted
//! with.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Which way the bytes that trigger a fault flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// What the client sends (e.g. APPEND literals).
    ClientToServer,
    /// What the server answers.
    ServerToClient,
    /// Either: the fault fires on whichever side reaches the count first.
    Both,
}

impl Direction {
    fn covers(self, upstream: bool) -> bool {
        match self {
            Direction::Both => true,
            Direction::ClientToServer => upstream,
            Direction::ServerToClient => !upstream,
        }
    }
}

/// What the proxy does to the connections it accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// A faithful relay.
    None,
    /// Forward exactly `bytes` in `direction`, then close both sides
    /// (client and server see an abrupt end). Only the first `connections`
    /// connections are cut when it is `Some(k)`; later ones are faithful.
    CutAfterBytes { bytes: u64, direction: Direction, connections: Option<usize> },
    /// After `after_bytes` in `direction`, hold that direction for
    /// `duration` (nothing is forwarded), then go on. First `connections`
    /// connections only when `Some(k)`.
    Stall { after_bytes: u64, duration: Duration, direction: Direction, connections: Option<usize> },
    /// Every direction of every connection limited to `bytes_per_sec`.
    Slow { bytes_per_sec: u64 },
}

impl Fault {
    /// Cuts every connection after `bytes` client→server bytes.
    pub fn cut_after(bytes: u64) -> Fault {
        Fault::CutAfterBytes { bytes, direction: Direction::ClientToServer, connections: None }
    }

    /// Stalls every connection's client→server flow for `duration` after
    /// `after_bytes`.
    pub fn stall(after_bytes: u64, duration: Duration) -> Fault {
        Fault::Stall { after_bytes, duration, direction: Direction::ClientToServer, connections: None }
    }

    fn applies_to(&self, index: usize) -> bool {
        match self {
            Fault::CutAfterBytes { connections, .. } | Fault::Stall { connections, .. } => {
                connections.is_none_or(|k| index < k)
            }
            Fault::None | Fault::Slow { .. } => true,
        }
    }
}

#[derive(Debug, Default)]
struct Shared {
    stop: AtomicBool,
    accepted: AtomicUsize,
    cut: AtomicUsize,
    stalled: AtomicUsize,
    up_bytes: AtomicU64,
    down_bytes: AtomicU64,
    fault: Mutex<Option<Fault>>,
    open: Mutex<Vec<TcpStream>>,
    pumps: Mutex<Vec<JoinHandle<()>>>,
}

/// A running proxy on `127.0.0.1:<free port>`; stops (closing every
/// connection) when dropped.
#[derive(Debug)]
pub struct FaultProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

impl FaultProxy {
    /// Listens on a free loopback port and relays each connection to
    /// `target`, applying `fault`.
    pub fn start(target: SocketAddr, fault: Fault) -> io::Result<FaultProxy> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared { fault: Mutex::new(Some(fault)), ..Shared::default() });
        let s = Arc::clone(&shared);
        let acceptor = std::thread::Builder::new()
            .name("fault-proxy-accept".into())
            .spawn(move || accept_loop(&listener, target, &s))?;
        Ok(FaultProxy { addr, shared, acceptor: Some(acceptor) })
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
    /// The port clients connect to.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }
    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.shared.accepted.load(Ordering::SeqCst)
    }
    /// Connections the proxy has cut so far.
    pub fn cuts(&self) -> usize {
        self.shared.cut.load(Ordering::SeqCst)
    }
    /// Stalls served so far.
    pub fn stalls(&self) -> usize {
        self.shared.stalled.load(Ordering::SeqCst)
    }
    /// Bytes forwarded client→server, all connections.
    pub fn bytes_up(&self) -> u64 {
        self.shared.up_bytes.load(Ordering::SeqCst)
    }
    /// Bytes forwarded server→client, all connections.
    pub fn bytes_down(&self) -> u64 {
        self.shared.down_bytes.load(Ordering::SeqCst)
    }
    /// Changes the fault for connections accepted from now on (connection
    /// indexes for `connections: Some(k)` keep counting from the start).
    pub fn set_fault(&self, fault: Fault) {
        *self.shared.fault.lock().unwrap_or_else(PoisonError::into_inner) = Some(fault);
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(500));
        if let Some(h) = self.acceptor.take() {
            let _ = h.join();
        }
        for s in self.shared.open.lock().unwrap_or_else(PoisonError::into_inner).drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
        let pumps: Vec<_> =
            self.shared.pumps.lock().unwrap_or_else(PoisonError::into_inner).drain(..).collect();
        for h in pumps {
            let _ = h.join();
        }
    }
}

fn accept_loop(listener: &TcpListener, target: SocketAddr, shared: &Arc<Shared>) {
    for client in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(client) = client else { continue };
        let index = shared.accepted.fetch_add(1, Ordering::SeqCst);
        let fault =
            shared.fault.lock().unwrap_or_else(PoisonError::into_inner).clone().unwrap_or(Fault::None);
        let fault = if fault.applies_to(index) { fault } else { Fault::None };
        let Ok(server) = TcpStream::connect(target) else {
            let _ = client.shutdown(Shutdown::Both);
            continue;
        };
        let _ = client.set_nodelay(true);
        let _ = server.set_nodelay(true);
        let conn = Arc::new(Conn { cut: AtomicBool::new(false) });
        let mut handles = Vec::with_capacity(2);
        for upstream in [true, false] {
            let (from, to) = if upstream { (&client, &server) } else { (&server, &client) };
            let (Ok(from), Ok(to), Ok(c1), Ok(c2)) =
                (from.try_clone(), to.try_clone(), client.try_clone(), server.try_clone())
            else {
                continue;
            };
            let (shared, conn, fault) = (Arc::clone(shared), Arc::clone(&conn), fault.clone());
            let spawned = std::thread::Builder::new()
                .name("fault-proxy-pump".into())
                .spawn(move || pump(from, to, [c1, c2], upstream, &fault, &shared, &conn));
            if let Ok(h) = spawned {
                handles.push(h);
            }
        }
        let mut open = shared.open.lock().unwrap_or_else(PoisonError::into_inner);
        open.extend([client, server]);
        drop(open);
        shared.pumps.lock().unwrap_or_else(PoisonError::into_inner).extend(handles);
    }
}

#[derive(Debug)]
struct Conn {
    cut: AtomicBool,
}

/// Copies `from` → `to` under `fault`; on EOF passes the half-close on, on
/// a cut or an error closes both sockets of the connection.
fn pump(
    mut from: TcpStream,
    mut to: TcpStream,
    both: [TcpStream; 2],
    upstream: bool,
    fault: &Fault,
    shared: &Shared,
    conn: &Conn,
) {
    let mut buf = vec![0u8; 16 * 1024];
    let mut forwarded: u64 = 0;
    let mut stalled = false;
    let started = Instant::now();
    let counter = if upstream { &shared.up_bytes } else { &shared.down_bytes };
    let close_all = || {
        for s in &both {
            let _ = s.shutdown(Shutdown::Both);
        }
    };
    loop {
        if shared.stop.load(Ordering::SeqCst) || conn.cut.load(Ordering::SeqCst) {
            close_all();
            return;
        }
        let n = match from.read(&mut buf) {
            Ok(0) => {
                let _ = to.shutdown(Shutdown::Write);
                return;
            }
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => {
                close_all();
                return;
            }
        };
        let mut chunk = &buf[..n];
        // Cut: forward up to the limit, then end the connection.
        if let Fault::CutAfterBytes { bytes, direction, .. } = fault {
            if direction.covers(upstream) {
                let room = bytes.saturating_sub(forwarded);
                if (chunk.len() as u64) >= room {
                    let _ = to.write_all(&chunk[..room as usize]);
                    counter.fetch_add(room, Ordering::SeqCst);
                    if !conn.cut.swap(true, Ordering::SeqCst) {
                        shared.cut.fetch_add(1, Ordering::SeqCst);
                    }
                    close_all();
                    return;
                }
            }
        }
        // Stall: forward up to the mark, wait, forward the rest.
        if let Fault::Stall { after_bytes, duration, direction, .. } = fault {
            if !stalled && direction.covers(upstream) && forwarded + chunk.len() as u64 >= *after_bytes {
                let head = after_bytes.saturating_sub(forwarded) as usize;
                if to.write_all(&chunk[..head]).is_err() {
                    close_all();
                    return;
                }
                forwarded += head as u64;
                counter.fetch_add(head as u64, Ordering::SeqCst);
                chunk = &chunk[head..];
                stalled = true;
                shared.stalled.fetch_add(1, Ordering::SeqCst);
                sleep_unless_stopped(*duration, shared);
            }
        }
        // Slow: small writes paced to the rate since the start.
        let step = match fault {
            Fault::Slow { bytes_per_sec } => (*bytes_per_sec as usize / 20).clamp(1, 16 * 1024),
            _ => chunk.len().max(1),
        };
        for piece in chunk.chunks(step) {
            if let Fault::Slow { bytes_per_sec } = fault {
                let due = Duration::from_secs_f64(forwarded as f64 / (*bytes_per_sec).max(1) as f64);
                if let Some(wait) = due.checked_sub(started.elapsed()) {
                    sleep_unless_stopped(wait, shared);
                }
            }
            if to.write_all(piece).is_err() {
                close_all();
                return;
            }
            forwarded += piece.len() as u64;
            counter.fetch_add(piece.len() as u64, Ordering::SeqCst);
        }
    }
}

fn sleep_unless_stopped(d: Duration, shared: &Shared) {
    let end = Instant::now() + d;
    while !shared.stop.load(Ordering::SeqCst) {
        let now = Instant::now();
        if now >= end {
            return;
        }
        std::thread::sleep((end - now).min(Duration::from_millis(20)));
    }
}
