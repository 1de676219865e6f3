//! Business logic for `ticket` rows.
//!
//! Palisade created this file once and never overwrites it: it is yours.
//! Override any method of `Hooks` (see `api/src/ticket.rs`); the ones you
//! leave out do nothing. Each gets the request's `Access`: the caller, the
//! rows it reaches, its owner value and the database.

use crate::api::ticket::Hooks;

impl Hooks for super::Custom {}
