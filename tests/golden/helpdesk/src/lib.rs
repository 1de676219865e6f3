//! The helpdesk service as a library: your hooks, and any code of yours
//! they or `main` use. Palisade created this file once and never rewrites
//! it: it is yours.

/// The generated API crate (`api/`), as hooks name it:
/// `crate::api::<resource>::Hooks`.
pub use helpdesk_api as api;

/// palisade's runtime (`runtime/`): `crate::runtime::problem::Problem`, ...
pub use palisade_runtime as runtime;

pub mod hooks;
