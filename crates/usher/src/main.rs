//! The `usher` binary: command line, wiring of the crates, and process lifecycle.

mod account;
mod cli;
mod geoip;
mod liveness;
mod scratch;
mod serve;
mod storage;
mod token;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use crate::cli::{AccountCommand, Cli, Command, TokenCommand};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("USHER_LOG").unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve::run(args).await,
        Command::Account {
            command: AccountCommand::Create(args),
        } => account::create(args).await,
        Command::Token {
            command: TokenCommand::Sign(args),
        } => token::sign(&args).map(|t| println!("{t}")),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("usher: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
