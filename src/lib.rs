//! dynasim: a deterministic discrete-event simulator of Amazon's Dynamo key-value store.
//!
//! Layout (dependencies point down this list, never up):
//! - `cli`: argument parsing and the commands;
//! - `serve`: `dynasim serve`, the playground's files over loopback HTTP;
//! - `bench`: speed figures on fixed scenarios, next to a bare event loop;
//! - `check`: regression checks of seeded runs against committed reports;
//! - `reproduce`: the papers' experiments (Dynamo §6, PBS) rerun and judged;
//! - `swarm`: random valid scenarios run against invariants (swarm testing);
//! - `guard`: the memory estimate that refuses runs too big for the machine;
//! - `trace`: `dynasim trace`, the replayed story of one key, request or anomaly (its
//!   `Recorder` is the only part `sim` sees);
//! - `playground`: a run advanced in slices for the browser page (web/), no files;
//! - `report`: report.json and summaries, written atomically;
//! - `sim`: the world and its single event loop;
//! - `observer`: ground truth and the consistency judgements (sees all, changes nothing);
//! - `workload`: clients and the request mix;
//! - `faults`: the fault plan (what breaks when), applied by `sim`;
//! - `net`: latency and loss;
//! - `node`: the Dynamo protocol as sans-IO state machines;
//! - `ring`: consistent hashing and preference lists;
//! - `scenario`: the scenario file format and validation;
//! - `engine`: time, the event queue, seeded random streams and samplers;
//! - `vocab`: names the scenario format and the protocol share (message kinds);
//! - `progress`: the progress bar the long commands draw on stderr;
//! - `console`: what the command line prints (a closed or full standard output ends the
//!   command with exit 2, not a panic);
//! - `error`: how a command ends: the exit codes (`Exit`) and `Failure`, the error every
//!   command returns (`cli` alone turns it into a process exit code).

pub mod atomic;
#[cfg(not(target_arch = "wasm32"))]
pub mod bench;
#[cfg(not(target_arch = "wasm32"))]
pub mod check;
#[cfg(not(target_arch = "wasm32"))]
pub mod cli;
pub mod console;
pub mod engine;
pub mod error;
pub mod faults;
pub mod guard;
pub mod ids;
pub mod input;
pub mod net;
pub mod node;
pub mod observer;
pub mod playground;
#[cfg(not(target_arch = "wasm32"))]
pub mod progress;
pub mod report;
#[cfg(not(target_arch = "wasm32"))]
pub mod reproduce;
pub mod ring;
pub mod scenario;
#[cfg(not(target_arch = "wasm32"))]
pub mod serve;
pub mod sim;
#[cfg(not(target_arch = "wasm32"))]
pub mod swarm;
#[cfg(not(target_arch = "wasm32"))]
pub mod sweep;
#[cfg(not(target_arch = "wasm32"))]
pub mod trace;
pub mod vocab;
pub mod workload;
