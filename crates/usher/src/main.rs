//! The `usher` binary: command line, wiring of the crates, and process lifecycle.

mod account;
mod cli;
mod client;
mod geoip;
mod http_server;
mod liveness;
mod master_key;
mod ops;
mod scratch;
mod serve;
mod storage;
mod token;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use crate::cli::{AccountCommand, Cli, Command, KeysCommand, TokenCommand, VideoCommand};

/// Logs go to stderr, filtered by `USHER_LOG` (default `info`); `USHER_LOG_FORMAT=json`
/// writes one JSON object per line, with the request span (id, method, route) in each,
/// for log shippers.
fn init_logging() {
    use std::io::IsTerminal;
    let filter = EnvFilter::try_from_env("USHER_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if std::env::var("USHER_LOG_FORMAT").is_ok_and(|f| f == "json") {
        builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .init();
    } else {
        builder.with_ansi(std::io::stderr().is_terminal()).init();
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    init_logging();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve::run(*args).await,
        Command::Account {
            command: AccountCommand::Create(args),
        } => account::create(args).await,
        Command::Token {
            command: TokenCommand::Sign(args),
        } => token::sign(&args).map(|t| println!("{t}")),
        Command::Token {
            command: TokenCommand::Explain(args),
        } => client::explain::explain(&args).await,
        Command::Upload(args) => client::upload::run(args).await,
        Command::Keys { command } => match command {
            KeysCommand::Create(c) => client::keys::create(&c).await,
            KeysCommand::List(c) => client::keys::list(&c).await,
            KeysCommand::Revoke { id, client } => client::keys::revoke(&client, &id).await,
            KeysCommand::RotateMaster(args) => master_key::rotate(args).await,
            KeysCommand::NewMaster { master_key_file } => master_key::create(&master_key_file),
        },
        Command::Video { command } => match command {
            VideoCommand::List {
                client,
                search,
                limit,
            } => client::videos::list(&client, search.as_deref(), limit).await,
            VideoCommand::Get { uid, client } => client::videos::get(&client, &uid).await,
            VideoCommand::Delete { uid, client } => client::videos::delete(&client, &uid).await,
        },
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("usher: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
