//! `quartier`: serve, migrate, seed the demo city, administer.

use std::io::{BufRead, Write};
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use quartier_server::seed::{self, SeedOutcome};
use quartier_server::startup::{Application, open_store};
use quartier_server::{LogFormat, Settings};
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(name = "quartier", version, about = "Quartier: neighbourhood helpers for small tech jobs")]
struct Cli {
    /// Configuration file (default: quartier.toml in the working directory, if present).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API and the web app (migrates the database first).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Fill an empty database.
    Seed {
        /// Create the Zurich demo city: helpers, customers and an operator.
        #[arg(long)]
        demo: bool,
        /// Number of demo helpers.
        #[arg(long, default_value_t = 200)]
        helpers: usize,
    },
    /// Administration.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create an operator account. The password is read from standard input (one line) with
    /// --password-stdin; otherwise a random one is generated and printed once.
    CreateOperator {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        password_stdin: bool,
    },
}

fn init_logs(settings: &Settings) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&settings.log_level));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match settings.log_format {
        LogFormat::Json => builder.json().flatten_event(true).init(),
        LogFormat::Text => builder.init(),
    }
}

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

async fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings = Settings::load(cli.config.as_deref())?;
    init_logs(&settings);
    match cli.command {
        Command::Serve => {
            let app = Application::build(settings.clone()).await?;
            eprintln!("Quartier serves {} (listening on {}:{})", settings.public_url(), settings.host, app.port());
            app.run_until_stopped().await
        }
        Command::Migrate => {
            let store = open_store(&settings).await?;
            eprintln!("database is up to date ({})", store.backend().as_str());
            store.close().await;
            Ok(())
        }
        Command::Seed { demo, helpers } => {
            anyhow::ensure!(demo, "say what to seed: `quartier seed --demo`");
            let store = open_store(&settings).await?;
            let mut out = std::io::stdout();
            writeln!(out, "Seeding the Zurich demo city ({helpers} helpers)...")?;
            match seed::seed_demo(&store, &settings, helpers, &mut out).await? {
                SeedOutcome::Created { helpers, customers } => {
                    writeln!(out, "Created {helpers} helpers, {customers} customers and 1 operator.")?;
                }
                SeedOutcome::AlreadyPopulated => writeln!(out, "The database already has people in it; left as it is.")?,
            }
            seed::print_demo_accounts(&settings, &mut out)?;
            store.close().await;
            Ok(())
        }
        Command::Admin { command: AdminCommand::CreateOperator { email, name, password_stdin } } => {
            let password = if password_stdin {
                let mut line = String::new();
                std::io::stdin().lock().read_line(&mut line).context("cannot read the password from standard input")?;
                line.trim_end_matches(['\r', '\n']).to_owned()
            } else {
                use base64::Engine;
                use rand::RngCore;
                let mut b = [0u8; 15];
                rand::rng().fill_bytes(&mut b);
                let p = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
                println!("generated password (shown once): {p}");
                p
            };
            let store = open_store(&settings).await?;
            let id = seed::create_operator(&store, &settings, &email, &name, &password).await?;
            println!("operator {email} created (id {id})");
            store.close().await;
            Ok(())
        }
    }
}
