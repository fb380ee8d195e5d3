//! The simulation engine: virtual time, the event queue, seeded random streams and the
//! latency samplers built on them. Nothing here knows about Dynamo; everything here is
//! deterministic by construction (no wall clock, no global randomness).

pub mod deadlines;
pub mod dist;
pub mod math;
pub mod queue;
pub mod rng;
pub mod time;

pub use deadlines::Deadlines;
pub use dist::Sampler;
pub use queue::EventQueue;
pub use rng::{RngStreams, SimRng, Stream};
pub use time::SimTime;
