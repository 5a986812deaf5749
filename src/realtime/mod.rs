//! The real-time core, transport-agnostic.
pub mod plan;
pub mod presence;
pub mod registry;
pub mod typing;

use presence::Presence;
use registry::Registry;

/// The real-time core's shared parts.
#[derive(Default)]
pub struct Gateway {
    pub registry: Registry,
    pub presence: Presence,
}
