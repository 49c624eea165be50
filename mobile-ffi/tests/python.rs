//! Runs the generated Python bindings against the library this test was built with:
//! generates them with the crate's own `uniffi-bindgen` from the freshly built cdylib (the
//! same path `mobile-ffi/bindgen.sh` takes), then runs the scripts in `tests/python/` with
//! `python3` (standard library only). The scripts need no server: `test_offline.py` uses no
//! network at all, `test_transport.py` talks to a scripted stand-in center on loopback.
//! `test_field_scenario.py` runs against a real server and is not run here.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use gridsync_core::protocol::SyncResponse;

/// The bindings directory (generated once per test binary) holding `gridsync_ffi.py`, the
/// library beside it, and sync response bodies for the stand-in center.
fn bindings() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        // Under cargo's scratch directory for integration tests, replaced on every run and
        // left afterwards for a look at what was generated.
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("gridsync-ffi-python");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("bindings directory");
        let lib = cdylib();
        let status = Command::new(env!("CARGO_BIN_EXE_uniffi-bindgen"))
            .args([
                "generate",
                "--language",
                "python",
                "--no-format",
                "--out-dir",
            ])
            .arg(&dir)
            .arg(&lib)
            .status()
            .expect("run uniffi-bindgen");
        assert!(
            status.success(),
            "uniffi-bindgen failed for {}",
            lib.display()
        );
        // The generated module loads the library from its own directory.
        let name = lib.file_name().expect("library file name");
        link_or_copy(&lib, &dir.join(name));

        // Bodies the stand-in center answers `POST /v1/sync` with: a page with more to
        // come, then the last page. Made by the core's encoder, so they are what a real
        // center sends.
        let mut more = SyncResponse::new(1);
        more.more = true;
        std::fs::write(dir.join("response_more.bin"), more.to_body()).expect("write fixture");
        std::fs::write(
            dir.join("response_done.bin"),
            SyncResponse::new(2).to_body(),
        )
        .expect("write fixture");
        dir
    })
}

/// The cdylib cargo built for this test: next to the test executable in `target/<profile>/deps`.
fn cdylib() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let deps = exe.parent().expect("deps directory");
    let file = format!(
        "{}gridsync_ffi{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    );
    [deps.join(&file), deps.join("..").join(&file)]
        .into_iter()
        .find(|p| p.exists())
        .unwrap_or_else(|| panic!("{file} not found next to {}", exe.display()))
}

#[cfg(unix)]
fn link_or_copy(from: &Path, to: &Path) {
    // A link: the unstripped debug library is large.
    std::os::unix::fs::symlink(from, to).expect("link the library");
}

#[cfg(not(unix))]
fn link_or_copy(from: &Path, to: &Path) {
    std::fs::copy(from, to).expect("copy the library");
}

fn run_python(script: &str) {
    // A machine with only the Rust toolchain has no Python: say so and pass. CI sets
    // GRIDSYNC_REQUIRE_PYTHON=1, so there a missing interpreter fails instead.
    if Command::new("python3").arg("--version").output().is_err() {
        assert!(
            std::env::var_os("GRIDSYNC_REQUIRE_PYTHON").is_none(),
            "python3 is required (GRIDSYNC_REQUIRE_PYTHON is set)"
        );
        eprintln!("skipped {script}: python3 not found");
        return;
    }
    let dir = bindings();
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/python")
        .join(script);
    let out = Command::new("python3")
        .arg(&path)
        .env("PYTHONPATH", dir)
        .env("GRIDSYNC_FIXTURES", dir)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .unwrap_or_else(|e| panic!("python3 is needed for the binding tests: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{script} failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
    // unittest reports on stderr; keep it visible with `--nocapture`.
    eprintln!("{stderr}");
}

#[test]
fn python_offline() {
    run_python("test_offline.py");
}

#[test]
fn python_transport() {
    run_python("test_transport.py");
}
