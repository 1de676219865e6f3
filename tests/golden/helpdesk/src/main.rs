//! The helpdesk server. Palisade created this file once and never
//! rewrites it: it is yours.
//!
//! `cargo run` serves the API; `cargo run -- dev-token --user alice` prints
//! a token for local calls. Add routes, layers and background tasks of your
//! own to the service before it runs, e.g.:
//!
//! ```ignore
//! let service = helpdesk::hooks::service()
//!     // Signed-in callers only (anonymous calls are 401), counted in the
//!     // caller's rate limit; outside the spec's grants and owner scope.
//!     .route("/reports", get(reports))
//!     // The explicit way out of sign-in.
//!     .public_route("/status", get(status))
//!     // Around every route, after authentication.
//!     .layer(my_layer)
//!     // Runs beside the server, with the database (`app.db`).
//!     .task(|app| nightly_cleanup(app));
//! ```
//!
//! (`get` is `palisade_runtime::axum::routing::get`.)

fn main() -> std::process::ExitCode {
    palisade_runtime::main(helpdesk::hooks::service())
}
