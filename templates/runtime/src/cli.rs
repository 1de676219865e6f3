//! The generated binary's command line: `serve` (the default) and
//! `dev-token`, which mints a short-lived token for local use (HS*
//! algorithms only, with the secret from the environment).
//!
//! Invariant: a configuration problem ends the process with a clear
//! message and exit status 1 before any socket is opened.

use std::process::ExitCode;

use axum::Router;

use super::auth::mint;
use super::config::Config;
use super::server::{App, Migration, Settings, init_tracing, run};

const USAGE: &str = "usage:
  SERVICE [serve]                  start the server (BIND_ADDR, DATABASE_URL, the JWT key variable)
  SERVICE dev-token --user ID [--role ROLE]... [--claim NAME=VALUE]... [--ttl SECONDS]
                                   print a token for local use (HS* algorithms only)";

/// Runs the binary: parses the arguments and serves or mints.
pub fn main(
    settings: &'static Settings,
    migrations: &'static [Migration],
    routes: fn(&App) -> Router<App>,
) -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = || USAGE.replace("SERVICE", settings.service);
    match args.first().map(String::as_str) {
        None => serve(settings, migrations, routes),
        Some("serve") if args.len() == 1 => serve(settings, migrations, routes),
        Some("dev-token") => match dev_token(settings, &args[1..]) {
            Ok(token) => {
                println!("{token}");
                ExitCode::SUCCESS
            }
            Err(message) => {
                eprintln!("error: {message}\n{}", usage());
                ExitCode::from(2)
            }
        },
        Some("-h" | "--help" | "help") => {
            println!("{}", usage());
            ExitCode::SUCCESS
        }
        Some(other) => {
            eprintln!("error: unknown command `{other}`\n{}", usage());
            ExitCode::from(2)
        }
    }
}

fn serve(
    settings: &'static Settings,
    migrations: &'static [Migration],
    routes: fn(&App) -> Router<App>,
) -> ExitCode {
    init_tracing();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(settings, migrations, routes)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Parses `dev-token` arguments and mints the token.
fn dev_token(settings: &'static Settings, args: &[String]) -> Result<String, String> {
    let mut user = None;
    let mut roles = Vec::new();
    let mut claims = Vec::new();
    let mut ttl: u64 = 3600;
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .ok_or_else(|| format!("`{flag}` needs a value"))
        };
        match flag.as_str() {
            "--user" => user = Some(value()?),
            "--role" => roles.push(value()?),
            "--claim" => {
                let v = value()?;
                let (name, val) = v
                    .split_once('=')
                    .ok_or_else(|| format!("`--claim {v}`: expected NAME=VALUE"))?;
                claims.push((name.to_string(), val.to_string()));
            }
            "--ttl" => {
                ttl = value()?
                    .parse()
                    .ok()
                    .filter(|t| (1..=86_400).contains(t))
                    .ok_or("`--ttl` must be 1 to 86400 seconds")?;
            }
            other => return Err(format!("unknown option `{other}`")),
        }
    }
    let user = user.ok_or("`--user` is required")?;
    let config = Config::from_env(&settings.auth, settings.default_database_url)
        .map_err(|e| e.to_string())?;
    mint(&settings.auth, &config.key, &user, &roles, &claims, ttl).map_err(|e| e.to_string())
}
