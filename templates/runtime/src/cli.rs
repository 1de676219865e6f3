//! The generated binary's command line: `serve` (the default) and
//! `dev-token`, which mints a short-lived token for local use: signed with
//! the service's secret (HS*, from the environment or `.env`), or with the
//! private half of a local development key pair (`--private-key`) whose
//! public half the server is configured with.
//!
//! Invariant: a configuration problem ends the process with a clear
//! message and exit status 1 before any socket is opened.

use std::process::ExitCode;

use jsonwebtoken::AlgorithmFamily;

use super::auth::{Verifier, mint};
use super::config::Config;
use super::server::{Settings, init_tracing, run};
use super::service::Service;

const USAGE: &str = "usage:
  SERVICE [serve]                  start the server (BIND_ADDR, DATABASE_URL, the JWT key variable)
  SERVICE dev-token --user ID [--role ROLE]... [--claim NAME=VALUE]... [--ttl SECONDS]
                    [--private-key PEM-FILE]
                                   print a token for local use (RS*, ES*, EdDSA: signed with
                                   --private-key, the private half of the configured public key)";

/// Runs the binary: parses the arguments and serves or mints.
pub fn main(service: Service) -> ExitCode {
    let settings = service.settings;
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = || USAGE.replace("SERVICE", settings.service);
    match args.first().map(String::as_str) {
        None => serve(service),
        Some("serve") if args.len() == 1 => serve(service),
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

fn serve(service: Service) -> ExitCode {
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
    match runtime.block_on(run(service)) {
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
    let mut private_key = None;
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
            "--private-key" => private_key = Some(value()?),
            other => return Err(format!("unknown option `{other}`")),
        }
    }
    let user = user.ok_or("`--user` is required")?;
    let auth = &settings.auth;
    let config =
        Config::from_env(auth, settings.default_database_url).map_err(|e| e.to_string())?;
    let hmac = auth.algorithm.family() == AlgorithmFamily::Hmac;
    let key = match (hmac, private_key) {
        (true, None) => config.key.clone(),
        (true, Some(_)) => {
            return Err(format!(
                "`--private-key` is for public-key algorithms; {:?} tokens are signed with {}",
                auth.algorithm, auth.key_env
            ));
        }
        (false, None) => {
            return Err(format!(
                "this service verifies {:?} tokens with the public key in {}: pass \
                 `--private-key FILE`, the private half of that key (a local development \
                 key pair, as the README shows; production tokens come from your identity provider)",
                auth.algorithm, auth.key_env
            ));
        }
        (false, Some(path)) => {
            std::fs::read(&path).map_err(|e| format!("cannot read `{path}`: {e}"))?
        }
    };
    let token = mint(auth, &key, &user, &roles, &claims, ttl).map_err(|e| e.to_string())?;
    // Only a token this server accepts is printed (a private key that is
    // not the configured public key's other half is refused here).
    let verifier = Verifier::new(*auth, &config.key).map_err(|e| e.to_string())?;
    verifier.verify(&token).map_err(|_| {
        format!(
            "the minted token does not verify with {}: is the private key the other half of that public key?",
            auth.key_env
        )
    })?;
    Ok(token)
}
