//! A `gridsync serve` process the load generator starts itself, so it can read the
//! server's memory (`/proc/PID/status`) while the phones run.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::LoadError;

/// The running server; killed when dropped.
#[derive(Debug)]
pub struct LocalServer {
    child: Child,
    pub base_url: String,
    pub database_url: String,
    pub jwt_secret: String,
}

impl LocalServer {
    /// Starts `binary serve --demo` on a free loopback port over `database_url` and waits
    /// until `/readyz` answers.
    pub fn spawn(binary: &Path, database_url: &str) -> Result<LocalServer, LoadError> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let jwt_secret = format!("loadgen-{}", uuid::Uuid::new_v4().simple());
        let child = Command::new(binary)
            .args(["serve", "--demo", "--bind", &format!("127.0.0.1:{port}")])
            .env("GRIDSYNC_DATABASE_URL", database_url)
            .env("GRIDSYNC_JWT_SECRET", &jwt_secret)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()?;
        let server = LocalServer {
            child,
            base_url: format!("http://127.0.0.1:{port}"),
            database_url: database_url.to_owned(),
            jwt_secret,
        };
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let started = Instant::now();
        loop {
            if let Ok(r) = agent.get(&format!("{}/readyz", server.base_url)).call()
                && r.status().as_u16() == 200
            {
                return Ok(server);
            }
            if started.elapsed() > Duration::from_secs(60) {
                return Err(LoadError::Setup(
                    "the server did not become ready in 60 s".into(),
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `(VmRSS, VmHWM)` of a process in KiB, from `/proc/PID/status` (Linux).
pub fn memory_kib(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}
