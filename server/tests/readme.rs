//! The README's "Try the whole flow from a terminal", run as written against the `gridsync`
//! binary: its `gs field ...` lines (a phone on the command line) record and sync a case,
//! its `act USER KIND 'PAYLOAD'` lines take it through the four steps at the center over
//! HTTP, and the phone's next sync brings the archived case back.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn readme() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("README.md is readable")
}

/// The README section's shell lines, continuations joined, comments dropped.
fn walk_lines() -> Vec<String> {
    let text = readme();
    let start = text
        .find("## Try the whole flow from a terminal")
        .expect("the section");
    let end = text[start..]
        .find("\nEvery action kind")
        .map_or(text.len(), |e| start + e);
    let mut lines = Vec::new();
    let mut pending = String::new();
    for line in text[start..end].lines() {
        if let Some(head) = line.strip_suffix('\\') {
            pending.push_str(head);
            pending.push(' ');
            continue;
        }
        pending.push_str(line);
        lines.push(strip_comment(pending.trim()).to_owned());
        pending.clear();
    }
    lines
}

/// `cmd args   # comment` → `cmd args` (a `#` inside quotes is kept).
fn strip_comment(line: &str) -> &str {
    let mut quote = None;
    for (i, c) in line.char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '#') if i > 0 => return line[..i].trim_end(),
            _ => {}
        }
    }
    line
}

/// Shell words: spaces split, quotes group.
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut quote = None;
    let mut any = false;
    for c in line.chars() {
        match (quote, c) {
            (None, '"' | '\'') => {
                quote = Some(c);
                any = true;
            }
            (Some(q), c) if c == q => quote = None,
            (None, c) if c.is_whitespace() => {
                if any {
                    out.push(std::mem::take(&mut word));
                    any = false;
                }
            }
            (_, c) => {
                word.push(c);
                any = true;
            }
        }
    }
    if any {
        out.push(word);
    }
    out
}

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve_demo(dir: &Path) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gridsync"))
        .args(["serve", "--demo", "--bind", "127.0.0.1:0"])
        .current_dir(dir)
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn gridsync");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(addr) = line.split("addr=").nth(1) {
                let _ = tx.send(addr.split_whitespace().next().unwrap_or("").to_owned());
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the server started");
    Server {
        child,
        base: format!("http://{addr}"),
    }
}

/// `gridsync field ARGS --json` in `dir` → its JSON answer.
fn field(dir: &Path, args: &[String]) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_gridsync"))
        .arg("field")
        .args(args)
        .arg("--json")
        .current_dir(dir)
        .output()
        .expect("run gridsync field");
    assert!(
        out.status.success(),
        "gridsync field {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null)
}

fn token(base: &str, username: &str) -> String {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let v: serde_json::Value = agent
        .post(&format!("{base}/v1/auth/login"))
        .send_json(serde_json::json!({"username": username, "password": "gridsync-demo"}))
        .expect("login")
        .body_mut()
        .read_json()
        .expect("login answer");
    v["access_token"].as_str().expect("a token").to_owned()
}

#[test]
fn the_readme_walk_runs_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve_demo(dir.path());
    let lines = walk_lines();
    let mut case = String::new();
    let mut phone_steps = 0;
    let mut center_steps = 0;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    for line in &lines {
        let w = words(line);
        match w.first().map(String::as_str) {
            Some("gs") if w.get(1).is_some_and(|s| s == "field") => {
                let args: Vec<String> = w[2..]
                    .iter()
                    .map(|a| {
                        a.replace("http://127.0.0.1:8080", &server.base)
                            .replace("<CASE-ID>", &case)
                    })
                    .collect();
                let answer = field(dir.path(), &args);
                if args.first().is_some_and(|a| a == "record") {
                    case = answer["id"].as_str().expect("the new case's id").to_owned();
                }
                phone_steps += 1;
            }
            Some("act") => {
                assert!(
                    !case.is_empty(),
                    "a case was recorded before the center acts"
                );
                let (user, kind, payload) = (&w[1], &w[2], &w[3]);
                let payload: serde_json::Value =
                    serde_json::from_str(payload).expect("the payload is JSON");
                let mut r = agent
                    .post(&format!("{}/v1/cases/{case}/actions", server.base))
                    .header(
                        "authorization",
                        &format!("Bearer {}", token(&server.base, user)),
                    )
                    .send_json(serde_json::json!({"kind": kind, "payload": payload}))
                    .expect("request");
                let status = r.status().as_u16();
                let body: serde_json::Value = r.body_mut().read_json().unwrap_or_default();
                assert_eq!(status, 200, "README: {line}: {body}");
                center_steps += 1;
            }
            _ => {}
        }
    }
    assert!(
        phone_steps >= 6,
        "the phone's commands were found: {lines:?}"
    );
    assert!(
        center_steps >= 10,
        "the center's steps were found: {lines:?}"
    );

    // The phone follows: its next sync brings the archived case back.
    field(dir.path(), &["sync".to_owned()]);
    let shown = field(dir.path(), &["show".to_owned(), case.clone()]);
    assert!(
        shown.to_string().contains("ARCHIVED"),
        "the phone shows the case archived: {shown}"
    );
}
