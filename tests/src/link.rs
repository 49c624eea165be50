//! A bad link between a phone and the server, byte by byte: a TCP proxy on `127.0.0.1:0`
//! that forwards both ways at an optional rate (a 2G link's ~5 kB/s), resets every
//! connection after every `reset_every_bytes` bytes sent by phones (counted across
//! connections, as a link that drops every so often), or every `reset_every` of wall time,
//! and counts the bytes on the wire. Unlike [`crate::ChaosProxy`], which judges whole HTTP
//! exchanges, this one cuts a request in the middle of its body: what resumable uploads are
//! for.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// How the link misbehaves.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Link {
    /// Bytes per second each way, if limited.
    pub rate: Option<u64>,
    /// Reset every connection once phones have sent this many more bytes.
    pub reset_every_bytes: Option<u64>,
    /// Reset every connection this often.
    pub reset_every: Option<Duration>,
}

/// Bytes that crossed, and resets made.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkCounts {
    /// Phone → server.
    pub up: u64,
    /// Server → phone.
    pub down: u64,
    pub resets: u64,
}

#[derive(Debug, Default)]
struct Counters {
    up: AtomicU64,
    down: AtomicU64,
    resets: AtomicU64,
}

/// The running proxy (its own runtime); stops when dropped.
#[derive(Debug)]
pub struct LinkProxy {
    addr: SocketAddr,
    counters: Arc<Counters>,
    _rt: tokio::runtime::Runtime,
}

impl LinkProxy {
    /// Starts the proxy in front of `upstream`.
    pub fn start(upstream: SocketAddr, link: Link) -> LinkProxy {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("proxy runtime");
        let listener = rt
            .block_on(TcpListener::bind("127.0.0.1:0"))
            .expect("bind the link proxy");
        let addr = listener.local_addr().expect("proxy address");
        let counters = Arc::new(Counters::default());
        // Bumped on every reset: every open connection watches it and closes.
        let (epoch_tx, _) = watch::channel(0u64);
        let epoch = Arc::new(epoch_tx);
        let c = counters.clone();
        rt.spawn(async move {
            if let Some(period) = link.reset_every {
                let epoch = epoch.clone();
                let c = c.clone();
                tokio::spawn(async move {
                    let mut tick = tokio::time::interval(period);
                    tick.tick().await;
                    loop {
                        tick.tick().await;
                        c.resets.fetch_add(1, Ordering::Relaxed);
                        epoch.send_modify(|e| *e += 1);
                    }
                });
            }
            loop {
                let Ok((phone, _)) = listener.accept().await else {
                    return;
                };
                let Ok(server) = TcpStream::connect(upstream).await else {
                    continue;
                };
                let _ = phone.set_nodelay(true);
                let _ = server.set_nodelay(true);
                tokio::spawn(pipe(phone, server, link, c.clone(), epoch.clone()));
            }
        });
        LinkProxy {
            addr,
            counters,
            _rt: rt,
        }
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn counts(&self) -> LinkCounts {
        LinkCounts {
            up: self.counters.up.load(Ordering::Relaxed),
            down: self.counters.down.load(Ordering::Relaxed),
            resets: self.counters.resets.load(Ordering::Relaxed),
        }
    }
}

/// Forwards one connection both ways until either side closes or a reset comes.
async fn pipe(
    phone: TcpStream,
    server: TcpStream,
    link: Link,
    c: Arc<Counters>,
    epoch: Arc<watch::Sender<u64>>,
) {
    let mut reset = epoch.subscribe();
    let (mut pr, mut pw) = phone.into_split();
    let (mut sr, mut sw) = server.into_split();
    let up = {
        let c = c.clone();
        let epoch = epoch.clone();
        async move {
            let mut buf = vec![0u8; 4096];
            let mut clock = Pace::new(link.rate);
            loop {
                let n = match pr.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                let mut sent = 0;
                while sent < n {
                    // Up to the next reset boundary, then reset everything.
                    let before = c.up.load(Ordering::Relaxed);
                    let room = link
                        .reset_every_bytes
                        .map_or(u64::MAX, |every| every - before % every);
                    let take = (n - sent).min(usize::try_from(room).unwrap_or(usize::MAX));
                    clock.wait(take).await;
                    if sw.write_all(&buf[sent..sent + take]).await.is_err() {
                        return;
                    }
                    sent += take;
                    let now = c.up.fetch_add(take as u64, Ordering::Relaxed) + take as u64;
                    if let Some(every) = link.reset_every_bytes
                        && now.is_multiple_of(every)
                    {
                        c.resets.fetch_add(1, Ordering::Relaxed);
                        epoch.send_modify(|e| *e += 1);
                        return;
                    }
                }
            }
        }
    };
    let down = {
        let c = c.clone();
        async move {
            let mut buf = vec![0u8; 4096];
            let mut clock = Pace::new(link.rate);
            loop {
                let n = match sr.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                clock.wait(n).await;
                if pw.write_all(&buf[..n]).await.is_err() {
                    return;
                }
                c.down.fetch_add(n as u64, Ordering::Relaxed);
            }
        }
    };
    // Whichever ends first ends the connection (dropping both halves closes both sockets).
    tokio::select! {
        _ = up => {}
        _ = down => {}
        _ = reset.changed() => {}
    }
}

/// Paces writes to a rate (bytes per second), if any.
struct Pace {
    rate: Option<u64>,
    start: Instant,
    bytes: u64,
}

impl Pace {
    fn new(rate: Option<u64>) -> Pace {
        Pace {
            rate,
            start: Instant::now(),
            bytes: 0,
        }
    }

    async fn wait(&mut self, n: usize) {
        let Some(rate) = self.rate else {
            return;
        };
        self.bytes += n as u64;
        let due = Duration::from_secs_f64(self.bytes as f64 / rate as f64);
        let elapsed = self.start.elapsed();
        if due > elapsed {
            tokio::time::sleep(due - elapsed).await;
        }
    }
}
