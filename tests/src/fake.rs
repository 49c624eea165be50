//! Fake outside services as real HTTP servers on loopback: an SMS gateway and a push
//! webhook that capture every JSON body posted to them (and can be told to fail), for the
//! center's `Notifier` to send to.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::TestServer;

/// An HTTP endpoint that answers every POST 200 (or 503 while told to fail) and keeps the
/// JSON bodies and `Authorization` headers it received.
#[derive(Debug)]
pub struct FakeEndpoint {
    pub addr: SocketAddr,
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    bodies: Mutex<Vec<serde_json::Value>>,
    auth: Mutex<Vec<String>>,
    fail_next: AtomicUsize,
    stop: AtomicBool,
}

impl FakeEndpoint {
    pub fn start() -> FakeEndpoint {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let inner = Arc::new(Inner::default());
        let shared = inner.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if shared.stop.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(stream) = stream {
                    let _ = serve(stream, &shared);
                }
            }
        });
        FakeEndpoint { addr, inner }
    }

    pub fn url(&self) -> String {
        format!("http://{}/send", self.addr)
    }

    /// What was received so far.
    pub fn bodies(&self) -> Vec<serde_json::Value> {
        self.inner.bodies.lock().unwrap().clone()
    }

    pub fn auth_headers(&self) -> Vec<String> {
        self.inner.auth.lock().unwrap().clone()
    }

    /// The next `n` requests are answered 503.
    pub fn fail_next(&self, n: usize) {
        self.inner.fail_next.store(n, Ordering::SeqCst);
    }

    /// Waits (up to 20 s, for the background sender) until a body received after the
    /// first `after` satisfies `pred`, and returns the last such; panics naming `what`.
    pub fn wait_for(
        &self,
        what: &str,
        after: usize,
        pred: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(found) = self
                .bodies()
                .into_iter()
                .skip(after)
                .filter(|b| pred(b))
                .last()
            {
                return found;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: not received; got {:?}",
                self.bodies()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The one-time code sent to `mobile` after the first `after` bodies.
    pub fn code_for(&self, mobile: &str, after: usize) -> String {
        let b = self.wait_for("a one-time code", after, |b| {
            b["kind"] == "CODE" && b["phone_number"] == mobile
        });
        b["template_param"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }
}

impl Drop for FakeEndpoint {
    fn drop(&mut self) {
        self.inner.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop so it sees `stop`.
        let _ = TcpStream::connect(self.addr);
    }
}

fn serve(stream: TcpStream, inner: &Inner) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut length = 0usize;
    let mut auth = String::new();
    let mut line = String::new();
    reader.read_line(&mut line)?;
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        let lower = line.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
        if lower.starts_with("authorization:") {
            auth = line["authorization:".len()..].trim().to_owned();
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    let failing = inner
        .fail_next
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if !failing && let Ok(v) = serde_json::from_slice(&body) {
        inner.bodies.lock().unwrap().push(v);
        inner.auth.lock().unwrap().push(auth);
    }
    let status = if failing {
        "503 Service Unavailable"
    } else {
        "200 OK"
    };
    let mut stream = stream;
    write!(
        stream,
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{{}}"
    )?;
    stream.flush()
}

/// A fake SMS gateway and push webhook, with the server's Notifier pointed at them.
#[derive(Debug)]
pub struct Fakes {
    pub sms: FakeEndpoint,
    pub push: FakeEndpoint,
}

impl Fakes {
    /// Starts both and configures `server`'s Notifier to use them (token `test-token`),
    /// its public URL being the server's own.
    pub fn attach(server: &TestServer) -> Fakes {
        use gridsync_server::notify::{NotifyConfig, PushChannel, SmsChannel, push, sms};
        let fakes = Fakes {
            sms: FakeEndpoint::start(),
            push: FakeEndpoint::start(),
        };
        server.state.notify.configure(NotifyConfig {
            sms: SmsChannel::Gateway(sms::Gateway {
                url: fakes.sms.url(),
                token: Some("test-token".into()),
                sign_name: "示范县综治中心".into(),
            }),
            push: PushChannel::Webhook(push::Webhook {
                url: fakes.push.url(),
                token: Some("push-token".into()),
            }),
            public_url: server.base_url(),
            ..NotifyConfig::default()
        });
        fakes
    }
}
