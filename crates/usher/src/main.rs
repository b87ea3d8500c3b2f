//! The `usher` binary: command line, wiring of the crates, and process lifecycle.

mod account;
mod cli;
mod client;
mod geoip;
mod liveness;
mod scratch;
mod serve;
mod storage;
mod token;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use crate::cli::{AccountCommand, Cli, Command, KeysCommand, TokenCommand, VideoCommand};

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
        Command::Upload(args) => client::upload::run(args).await,
        Command::Keys { command } => match command {
            KeysCommand::Create(c) => client::keys::create(&c).await,
            KeysCommand::List(c) => client::keys::list(&c).await,
            KeysCommand::Revoke { id, client } => client::keys::revoke(&client, &id).await,
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
