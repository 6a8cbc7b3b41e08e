//! The `keybrake` command line: `serve` runs the control plane; `keys`, `vendors`, `rates`,
//! `prices`, `audit` and `spend` talk to a running one over its HTTP API. One file per subcommand group; doc
//! comments become `--help`.

pub mod audit;
pub mod client;
pub mod keys;
pub mod output;
pub mod prices;
pub mod rates;
pub mod serve;
pub mod spend;
pub mod vendors;

use clap::{Parser, Subcommand};

/// Brakes for the vendor API keys that AI agents use: short-lived vault keys with a daily USD
/// cap, an endpoint allowlist and an expiry, enforced at the gateway.
#[derive(Debug, Parser)]
#[command(name = "keybrake", version)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    Serve(serve::ServeArgs),
    Keys(keys::KeysArgs),
    Vendors(vendors::VendorsArgs),
    Rates(rates::RatesArgs),
    Prices(prices::PricesArgs),
    Audit(audit::AuditArgs),
    Spend(spend::SpendArgs),
}

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => serve::run(args).await,
        Command::Keys(args) => keys::run(args).await,
        Command::Vendors(args) => vendors::run(args).await,
        Command::Rates(args) => rates::run(args).await,
        Command::Prices(args) => prices::run(args).await,
        Command::Audit(args) => audit::run(args).await,
        Command::Spend(args) => spend::run(args).await,
    }
}
