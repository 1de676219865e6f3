//! Business logic for `customer` rows.
//!
//! Palisade created this file once and never overwrites it: it is yours.
//! Override any method of `Hooks` (see `src/api/customer.rs`);
//! the ones you leave out do nothing.

use crate::api::customer::Hooks;

impl Hooks for super::Custom {}
