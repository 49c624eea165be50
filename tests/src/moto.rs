//! A real S3-compatible server for the evidence suite: `moto_server` (PyPI `moto[server]`)
//! on a free loopback port, one per test, killed when dropped.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use gridsync_server::evidence::store::Location;

/// Set to require the S3 suite (CI): without it a machine lacking `moto_server` skips it
/// with a printed notice.
pub const REQUIRE_ENV: &str = "GRIDSYNC_REQUIRE_S3";

/// A running `moto_server`.
#[derive(Debug)]
pub struct Moto {
    child: Child,
    pub endpoint: String,
}

impl Moto {
    /// Starts one, or `None` (with a notice) when `moto_server` is not installed and
    /// [`REQUIRE_ENV`] is unset. Panics when it is required and missing.
    pub fn start() -> Option<Moto> {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let spawned = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let child = match spawned {
            Ok(child) => child,
            Err(e) => {
                if std::env::var_os(REQUIRE_ENV).is_some_and(|v| !v.is_empty()) {
                    panic!("{REQUIRE_ENV} is set but moto_server cannot start: {e}");
                }
                eprintln!(
                    "NOTICE: the S3 evidence suite is skipped: moto_server is not installed \
                     (pip install 'moto[server]'; set {REQUIRE_ENV} to require it)"
                );
                return None;
            }
        };
        let mut moto = Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let agent = crate::agent();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if agent.get(&format!("{}/", moto.endpoint)).call().is_ok() {
                break;
            }
            if let Ok(Some(status)) = moto.child.try_wait() {
                panic!("moto_server exited: {status}");
            }
            assert!(Instant::now() < deadline, "moto_server did not answer");
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(moto)
    }

    /// A fresh bucket, as the evidence store's location.
    pub fn bucket(&self, name: &str) -> Location {
        let r = crate::agent()
            .put(&format!("{}/{name}", self.endpoint))
            .send_empty()
            .expect("create bucket");
        assert!(r.status().is_success(), "create bucket: {}", r.status());
        Location::S3 {
            url: format!("s3://{name}/evidence"),
            settings: [
                ("aws_endpoint", self.endpoint.as_str()),
                ("aws_access_key_id", "testing"),
                ("aws_secret_access_key", "testing"),
                ("aws_region", "us-east-1"),
                ("aws_allow_http", "true"),
            ]
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
