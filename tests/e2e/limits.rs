//! Throttling, CORS and resource limits of generated servers, attacked
//! over HTTP (items 7, 8 and 9 of the contract's section 3).

use std::collections::BTreeMap;

use super::server::Server;

/// Runs every limit, throttle and CORS case against `server`.
pub fn run(_server: &Server, _tally: &mut BTreeMap<&'static str, usize>) {}
