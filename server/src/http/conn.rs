//! Connections: our own accept loop over hyper, so that a client holds a connection only
//! while it sends or is being answered.
//!
//! `axum::serve` sets no timer, so hyper applies no header timeout and a connection can sit
//! half-open for ever. Here every connection has a watchdog (see [`Activity`]):
//! - a request header must arrive within [`Timeouts::header`] of the connection opening, or
//!   of its first byte on a kept-alive connection;
//! - a kept-alive connection with nothing in flight is closed after [`Timeouts::idle`];
//! - request bodies are timed by [`body_deadline`], a layer on the router (408
//!   `body_timeout`, then the connection closes).
//!
//! The watchdog drops the connection: nothing is in flight then, so no answer is lost.
//! Graceful shutdown stops accepting, lets every connection finish its request in flight
//! (hyper's `graceful_shutdown`) and waits for them.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper::body::{Body as HttpBody, Frame, Incoming, SizeHint};
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};
use tokio::time::{Instant, Sleep};
use tower::Service;

use super::ApiError;
use super::state::Timeouts;

/// Serves `router` on `listener` until `shutdown` resolves, then finishes the requests in
/// flight. `on_shutdown` runs when the signal arrives (the live feed ends there).
pub(crate) async fn serve(
    router: axum::Router,
    listener: TcpListener,
    timeouts: Timeouts,
    shutdown: impl Future<Output = ()> + Send + 'static,
    on_shutdown: impl FnOnce() + Send + 'static,
) -> io::Result<()> {
    // The client address (sign-in throttling counts by it) reaches handlers as axum's own
    // `ConnectInfo<SocketAddr>`.
    let mut make = router.into_make_service_with_connect_info::<SocketAddr>();
    let (stop_tx, mut stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        on_shutdown();
        let _ = stop_tx.send(true);
    });
    // Every connection task holds a receiver; the end waits until none is left.
    let (done_tx, done_rx) = watch::channel(());
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    accept_error(e).await;
                    continue;
                }
            },
            () = stopped(&mut stop_rx) => break,
        };
        let Ok(service) = make.call(peer).await;
        let stop = stop_rx.clone();
        let done = done_rx.clone();
        tokio::spawn(async move {
            connection(stream, service, timeouts, stop).await;
            drop(done);
        });
    }
    drop(listener);
    drop(done_rx);
    done_tx.closed().await;
    Ok(())
}

/// Resolves once shutdown has begun (or the signal's sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

/// Like `axum::serve`: a connection-level error (the peer gave up) is nothing; running out
/// of file descriptors is waited out instead of spinning.
async fn accept_error(e: io::Error) {
    if matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %e, "accept failed");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

async fn connection<S>(
    stream: TcpStream,
    service: S,
    timeouts: Timeouts,
    mut stop: watch::Receiver<bool>,
) where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    let _ = stream.set_nodelay(true);
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Watched {
        inner: stream,
        activity: activity.clone(),
    });
    let service = TowerToHyperService::new(Tracked {
        inner: service,
        activity: activity.clone(),
    });
    let conn = hyper::server::conn::http1::Builder::new().serve_connection(io, service);
    let mut conn = std::pin::pin!(conn);
    let mut stopping = false;
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::trace!(error = %e, "connection ended");
                }
                break;
            }
            () = stopped(&mut stop), if !stopping => {
                // Finishes the request in flight, then closes; an idle one closes now.
                stopping = true;
                conn.as_mut().graceful_shutdown();
            }
            () = activity.expired(timeouts) => {
                tracing::debug!("connection timed out");
                break;
            }
        }
    }
}

/// Counts each request in flight on its connection, from its header until its answer has
/// been sent (or abandoned): a streamed answer such as the live feed is in flight for as
/// long as it runs.
#[derive(Clone)]
struct Tracked<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S> Service<axum::http::Request<Incoming>> for Tracked<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: axum::http::Request<Incoming>) -> Self::Future {
        let guard = InFlight::start(self.activity.clone());
        let fut = self.inner.call(req.map(Body::new));
        Box::pin(async move {
            let res = fut.await?;
            Ok(res.map(|inner| {
                Body::new(Guarded {
                    inner,
                    _guard: guard,
                })
            }))
        })
    }
}

/// A response body holding its request's [`InFlight`] until hyper drops it, done.
struct Guarded {
    inner: Body,
    _guard: InFlight,
}

impl HttpBody for Guarded {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// What the watchdog knows of one connection.
#[derive(Debug)]
struct Activity {
    state: Mutex<ActivityState>,
    /// Woken when the deadline may have moved: a request header began, or the last
    /// request in flight finished.
    changed: Notify,
}

#[derive(Debug)]
struct ActivityState {
    /// Requests whose answer has not been sent.
    in_flight: usize,
    /// When the connection last had nothing in flight.
    idle_since: Instant,
    /// The first byte of the next request header, while nothing is in flight. A fresh
    /// connection counts as a header begun.
    header_since: Option<Instant>,
}

impl Activity {
    fn new() -> Activity {
        let now = Instant::now();
        Activity {
            state: Mutex::new(ActivityState {
                in_flight: 0,
                idle_since: now,
                header_since: Some(now),
            }),
            changed: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ActivityState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn bytes_read(&self) {
        let mut s = self.lock();
        if s.in_flight == 0 && s.header_since.is_none() {
            s.header_since = Some(Instant::now());
            drop(s);
            self.changed.notify_one();
        }
    }

    /// Resolves when the connection has overstayed: a header too slow, or idle too long.
    async fn expired(&self, t: Timeouts) {
        loop {
            let deadline = {
                let s = self.lock();
                if s.in_flight > 0 {
                    None
                } else if let Some(since) = s.header_since {
                    Some(since + t.header)
                } else {
                    Some(s.idle_since + t.idle)
                }
            };
            match deadline {
                None => self.changed.notified().await,
                Some(d) if Instant::now() >= d => return,
                Some(d) => {
                    tokio::select! {
                        () = tokio::time::sleep_until(d) => {}
                        () = self.changed.notified() => {}
                    }
                }
            }
        }
    }
}

/// One request in flight on a connection, from its header until its answer is sent.
#[derive(Debug)]
struct InFlight(Arc<Activity>);

impl InFlight {
    fn start(activity: Arc<Activity>) -> InFlight {
        {
            let mut s = activity.lock();
            s.in_flight += 1;
            s.header_since = None;
        }
        InFlight(activity)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut s = self.0.lock();
        s.in_flight -= 1;
        if s.in_flight == 0 {
            s.idle_since = Instant::now();
            s.header_since = None;
            drop(s);
            self.0.changed.notify_one();
        }
    }
}

/// The socket, telling [`Activity`] when bytes arrive.
struct Watched {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        ready!(Pin::new(&mut self.inner).poll_read(cx, buf))?;
        if buf.filled().len() > before {
            self.activity.bytes_read();
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// Router layer: every request body must keep arriving ([`Timeouts::body`] plus a second per
/// [`Timeouts::body_min_rate`] bytes). A body that falls behind ends with an error inside
/// the handler, and whatever the handler answered is replaced by 408 `body_timeout` with
/// `Connection: close`.
pub(crate) async fn body_deadline(State(t): State<Timeouts>, req: Request, next: Next) -> Response {
    let timed_out = Arc::new(AtomicBool::new(false));
    let flag = timed_out.clone();
    let req = req.map(|body| Body::new(DeadlineBody::new(body, t, flag)));
    let response = next.run(req).await;
    if !timed_out.load(Ordering::Relaxed) {
        return response;
    }
    let mut response = ApiError::new(
        StatusCode::REQUEST_TIMEOUT,
        "body_timeout",
        "the request body arrived too slowly",
    )
    .into_response();
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// A body that fails once it falls behind its deadline.
struct DeadlineBody {
    inner: Body,
    started: Instant,
    timeouts: Timeouts,
    received: u64,
    /// Made on the first wait: a body that is all there never needs a timer.
    sleep: Option<Pin<Box<Sleep>>>,
    timed_out: Arc<AtomicBool>,
}

impl DeadlineBody {
    fn new(inner: Body, timeouts: Timeouts, timed_out: Arc<AtomicBool>) -> DeadlineBody {
        DeadlineBody {
            inner,
            started: Instant::now(),
            timeouts,
            received: 0,
            sleep: None,
            timed_out,
        }
    }

    fn deadline(&self) -> Instant {
        let earned = self.received / self.timeouts.body_min_rate.max(1);
        self.started + self.timeouts.body + Duration::from_secs(earned)
    }
}

impl HttpBody for DeadlineBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.received += data.len() as u64;
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(other) => Poll::Ready(other),
            Poll::Pending => {
                let deadline = this.deadline();
                let sleep = this
                    .sleep
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
                if sleep.deadline() != deadline {
                    sleep.as_mut().reset(deadline);
                }
                ready!(sleep.as_mut().poll(cx));
                this.timed_out.store(true, Ordering::Relaxed);
                Poll::Ready(Some(Err(axum::Error::new(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "request body timed out",
                )))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
