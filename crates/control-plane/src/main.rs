//! `keybrake`: the control plane (`keybrake serve`) and its command-line client.

use clap::Parser;
use keybrake_control_plane::cli::{self, Cli};
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let parsed = Cli::parse();
    match cli::run(parsed).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", keybrake_control_plane::error::chain_text(&e));
            ExitCode::FAILURE
        }
    }
}
