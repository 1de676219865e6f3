//! The generated binary's command line: `serve` (the default),
//! `dev-token`, which mints a short-lived token for local use: signed with
//! the service's secret (HS*, from the environment or `.env`), or with the
//! private half of a local development key pair (`--private-key`) whose
//! public half the server is configured with (a PEM public key, or a local
//! key set), and `dev-jwks`, which prints that key set.
//!
//! Invariant: a configuration problem ends the process with a clear
//! message and exit status 1 before any socket is opened.

use std::process::ExitCode;

use super::auth::{self, AuthSettings, KeySource, mint};
use super::config::{self, Config, KeyMaterial};
use super::server::{Settings, init_tracing, run};
use super::service::Service;

const USAGE: &str = "usage:
  SERVICE [serve]                  start the server (BIND_ADDR, DATABASE_URL, the JWT key variable)
  SERVICE dev-token --user ID [--role ROLE]... [--claim NAME=VALUE]... [--ttl SECONDS]
                    [--private-key PEM-FILE]
                                   print a token for local use (RS*, PS*, ES*, EdDSA: signed with
                                   --private-key, the private half of the configured public key
                                   or of the key set's key)
  SERVICE dev-jwks --private-key PEM-FILE
                                   print the JWKS of a local development key pair's public half
                                   (the server reads it from file:PATH in its JWKS URL variable)";

/// Runs the binary: parses the arguments and serves or mints.
pub fn main(service: Service) -> ExitCode {
    let settings = service.settings;
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = || USAGE.replace("SERVICE", settings.service);
    match args.first().map(String::as_str) {
        None => serve(service),
        Some("serve") if args.len() == 1 => serve(service),
        Some(command @ ("dev-token" | "dev-jwks")) => {
            let printed = match command {
                "dev-token" => dev_token(settings, &args[1..]),
                _ => dev_jwks(settings, &args[1..]),
            };
            match printed {
                Ok(text) => {
                    println!("{text}");
                    ExitCode::SUCCESS
                }
                Err(message) => {
                    eprintln!("error: {message}\n{}", usage());
                    ExitCode::from(2)
                }
            }
        }
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
    let key = match (auth.keys, private_key, &config.key) {
        (KeySource::Secret(_), None, KeyMaterial::Static(secret)) => secret.clone(),
        (KeySource::Secret(var), Some(_), _) => {
            return Err(format!(
                "`--private-key` is for public-key algorithms; {} tokens are signed with {var}",
                names(auth)
            ));
        }
        (_, None, _) => {
            return Err(format!(
                "this service verifies {} tokens with {}: pass `--private-key FILE`, the \
                 private half of a local development key pair (as the README shows; \
                 production tokens come from your identity provider)",
                names(auth),
                source(auth),
            ));
        }
        (_, Some(path), _) => {
            std::fs::read(&path).map_err(|e| format!("cannot read `{path}`: {e}"))?
        }
    };
    let token = mint(auth, &key, &user, &roles, &claims, ttl).map_err(|e| e.to_string())?;
    // Only a token this server accepts is printed (a private key that is
    // not the other half of a configured or published public key is
    // refused here).
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    runtime.block_on(async {
        let verifier = config::verifier(*auth, &config.key)
            .await
            .map_err(|e| e.to_string())?;
        verifier.check(&token).await.map_err(|_| {
            format!(
                "the minted token does not verify with {}: is the private key the other half of that public key?",
                source(auth)
            )
        })
    })?;
    Ok(token)
}

/// The accepted algorithms, for messages.
fn names(auth: &AuthSettings) -> String {
    let names: Vec<String> = auth.algorithms.iter().map(|a| format!("{a:?}")).collect();
    names.join("/")
}

/// Where the keys come from, for messages.
fn source(auth: &AuthSettings) -> String {
    match auth.keys {
        KeySource::Secret(var) | KeySource::PublicKey(var) => format!("the key in {var}"),
        KeySource::JwksUrlEnv(var) => format!("the key set at the URL in {var}"),
        KeySource::JwksUrl(url) => format!("the key set at {url}"),
        KeySource::Discovery => "the issuer's key set".into(),
    }
}

/// Prints the JWKS of a local development key pair's public half.
fn dev_jwks(settings: &'static Settings, args: &[String]) -> Result<String, String> {
    let path = match args {
        [flag, path] if flag == "--private-key" => path,
        _ => return Err("`dev-jwks` takes `--private-key PEM-FILE`".into()),
    };
    if !settings.auth.keys.is_jwks() {
        return Err(format!(
            "this service verifies tokens with {}, not a JWKS",
            source(&settings.auth)
        ));
    }
    let key = std::fs::read(path).map_err(|e| format!("cannot read `{path}`: {e}"))?;
    auth::dev_jwks(&settings.auth, &key).map_err(|e| e.to_string())
}
