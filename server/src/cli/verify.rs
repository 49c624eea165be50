//! `gridsync verify BUNDLE`: checks an evidence bundle offline (no database, no network)
//! and prints the verified history; exits non-zero naming the place of a failure.

use std::path::PathBuf;

use clap::Args;
use gridsync_core::bundle::{self, HistoryEntry, Verified};

#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// The bundle file (`GET /v1/cases/{id}/bundle`, `gridsync admin export-bundle`).
    bundle: PathBuf,
    /// The center key to trust (64 hex characters, from the center's
    /// `/.well-known/gridsync-signing-keys`). Without it the bundle's own key is taken and
    /// printed: compare it with the published one.
    #[arg(long, value_name = "HEX")]
    center_key: Option<String>,
    /// Print the verified bundle as JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// Exit code of a bundle that does not verify (2: usage, 1: the file cannot be read).
const REFUSED: i32 = 3;

pub(crate) fn run(args: VerifyArgs) -> anyhow::Result<()> {
    let bytes = std::fs::read(&args.bundle)
        .map_err(|e| anyhow::anyhow!("reading {}: {e}", args.bundle.display()))?;
    let pinned = match &args.center_key {
        Some(text) => Some(
            gridsync_core::signing::parse_public_key(text)
                .ok_or_else(|| anyhow::anyhow!("--center-key is not an Ed25519 public key"))?,
        ),
        None => None,
    };
    let verified = match bundle::verify(&bytes, pinned.as_ref()) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("NOT VERIFIED ({}): {e}", e.code());
            std::process::exit(REFUSED);
        }
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&verified)?);
    } else {
        print!("{}", text(&verified, pinned.is_some()));
    }
    Ok(())
}

fn text(v: &Verified, pinned: bool) -> String {
    use std::fmt::Write as _;
    let h = &v.header;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "VERIFIED: case {} — {} records, exported {}",
        h.case_id,
        h.records,
        gridsync_server::signing::utc_rfc3339(h.exported_at)
    );
    let _ = writeln!(
        out,
        "center key {} ({}){}",
        h.center_kid,
        h.center_key,
        if pinned {
            ", as given"
        } else {
            ": compare with /.well-known/gridsync-signing-keys"
        }
    );
    let devices = v.keys.iter().filter(|k| k.owner == "device").count();
    let _ = writeln!(
        out,
        "{} changes, {} device keys, {} audit entries\n",
        v.history.len(),
        devices,
        v.audit.len()
    );
    for e in &v.history {
        let _ = writeln!(out, "{}", line(e));
    }
    if !v.audit.is_empty() {
        // The hashes are recomputed by `verify`: an inspector matches them against the
        // center's whole chain (`GET /v1/audit/verify`, "校验审计链" in the console).
        let _ = writeln!(out, "\naudit (chain hashes recomputed):");
        for a in &v.audit {
            let _ = writeln!(
                out,
                "  #{} {} {} by {} ({}) {} hash {}",
                a.seq,
                gridsync_server::signing::utc_rfc3339(a.at),
                a.action,
                a.user_id,
                a.role,
                a.detail,
                a.hash
            );
        }
    }
    out
}

fn line(e: &HistoryEntry) -> String {
    let who = match e.signed_by.as_str() {
        "device" => format!(
            "signed by device {} of {} ({})",
            e.device_id.as_deref().unwrap_or("?"),
            e.user_name.as_deref().unwrap_or("?"),
            e.user_id.as_deref().unwrap_or("?")
        ),
        "center" => "signed by the center".to_owned(),
        _ => format!(
            "UNSIGNED (pushed by device {})",
            e.device_id.as_deref().unwrap_or("the center")
        ),
    };
    let mut what = e.message.clone();
    if !e.steps.is_empty() {
        what.push_str(&format!(" steps [{}]", e.steps.join(", ")));
    }
    if !e.fields.is_empty() {
        what.push_str(&format!(" fields [{}]", e.fields.join(", ")));
    }
    format!(
        "#{} {} written {} received {} — {who}: {what}",
        e.pos,
        &e.hash[..12.min(e.hash.len())],
        gridsync_server::signing::utc_rfc3339(e.authored_at.saturating_mul(1000)),
        gridsync_server::signing::utc_rfc3339(e.received_at),
    )
}
