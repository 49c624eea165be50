//! Where evidence bytes live, through the `object_store` crate: a local directory (the
//! default, beside the SQLite database, created `0700`) or S3-compatible storage
//! (`s3://bucket/prefix`, endpoint and credentials from the `AWS_*` environment).
//!
//! Keys: `blobs/{sha256}` (a blob whole and checked), `uploads/{case}/{sha256}/{offset:020}-{uuid}`
//! (one durable chunk of an unfinished upload; the uuid keeps two racing requests for one
//! offset apart), `thumbs/{sha256}` (a photo's thumbnail, made once).

use std::path::PathBuf;
use std::sync::Arc;

use object_store::ObjectStore;
use object_store::path::Path;

use crate::error::{Error, Result};

/// Where to keep evidence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    /// A local directory (created `0700` if missing).
    Dir(PathBuf),
    /// `s3://bucket` or `s3://bucket/prefix`, with settings as `object_store`'s
    /// `AmazonS3ConfigKey` names (`aws_endpoint`, `aws_access_key_id`, `aws_allow_http`, ...)
    /// over those the environment gives (`AWS_ENDPOINT_URL`, `AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, `AWS_ALLOW_HTTP`).
    S3 {
        url: String,
        settings: Vec<(String, String)>,
    },
}

impl Location {
    /// `--evidence-store`: `s3://bucket/prefix` or a directory.
    pub fn parse(given: &str) -> Location {
        if given.starts_with("s3://") {
            Location::S3 {
                url: given.to_owned(),
                settings: Vec::new(),
            }
        } else {
            Location::Dir(PathBuf::from(given))
        }
    }

    /// The default: `evidence/` beside a SQLite database file, or in the working directory
    /// for PostgreSQL (production names a store).
    pub fn beside(database_url: &str) -> Location {
        let dir = crate::db::private::sqlite_file(database_url)
            .ok()
            .flatten()
            .and_then(|f| f.parent().map(|p| p.to_owned()))
            .unwrap_or_else(|| PathBuf::from("."));
        let dir = if dir.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            dir
        };
        Location::Dir(dir.join("evidence"))
    }

    /// For logs: never credentials.
    pub fn describe(&self) -> String {
        match self {
            Location::Dir(d) => d.display().to_string(),
            Location::S3 { url, .. } => url.clone(),
        }
    }
}

/// Opens (and for a directory, creates) the store.
pub fn open(location: &Location) -> Result<Arc<dyn ObjectStore>> {
    let config = |e: &dyn std::fmt::Display| Error::Config(format!("evidence store: {e}"));
    match location {
        Location::Dir(dir) => {
            create_private_dir(dir)
                .map_err(|e| Error::Config(format!("evidence store {}: {e}", dir.display())))?;
            let fs = object_store::local::LocalFileSystem::new_with_prefix(dir)
                .map_err(|e| config(&e))?
                // Empty folders of finished uploads go with their last chunk.
                .with_automatic_cleanup(true);
            Ok(Arc::new(fs))
        }
        Location::S3 { url, settings } => {
            let rest = url
                .strip_prefix("s3://")
                .ok_or_else(|| config(&"an s3://bucket/prefix URL"))?;
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(config(&"the URL names no bucket"));
            }
            // reqwest is built without a crypto provider of its own (no aws-lc-sys): ring,
            // as ureq uses. Installed once per process; a second call changes nothing.
            let _ = rustls::crypto::ring::default_provider().install_default();
            let mut builder =
                object_store::aws::AmazonS3Builder::from_env().with_bucket_name(bucket);
            for (key, value) in settings {
                let key: object_store::aws::AmazonS3ConfigKey =
                    key.parse().map_err(|e| config(&e))?;
                builder = builder.with_config(key, value);
            }
            let s3 = builder.build().map_err(|e| config(&e))?;
            let prefix = prefix.trim_matches('/');
            Ok(if prefix.is_empty() {
                Arc::new(s3)
            } else {
                Arc::new(object_store::prefix::PrefixStore::new(s3, prefix))
            })
        }
    }
}

/// The directory and its missing parents, the last one `0700`: evidence is personal data.
fn create_private_dir(dir: &std::path::Path) -> std::io::Result<()> {
    if !dir.exists() {
        std::fs::create_dir_all(dir)?;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

pub(crate) fn blob(sha256: &str) -> Path {
    Path::from(format!("blobs/{sha256}"))
}

pub(crate) fn thumb(sha256: &str) -> Path {
    Path::from(format!("thumbs/{sha256}"))
}

pub(crate) fn uploads() -> Path {
    Path::from("uploads")
}

/// A fresh key for a chunk of `case_id`'s upload of `sha256` starting at `pos`.
pub(crate) fn chunk(case_id: &str, sha256: &str, pos: u64) -> Path {
    Path::from(format!(
        "uploads/{case_id}/{sha256}/{pos:020}-{}",
        uuid::Uuid::new_v4().simple()
    ))
}
