//! `gridsync`: the center server's command line (see `gridsync --help`).

mod cli;

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,sqlx=warn,tower_http=info".into());
    tracing_subscriber::fmt().with_env_filter(filter).init();
    cli::run(cli::Cli::parse()).await
}
