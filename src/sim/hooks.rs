//! What the loop shows an observer of its events (today `dynasim trace`'s recorder): the
//! hooks are called around each event and may look at what they are given, never change
//! it, so a run with hooks processes exactly the events of one without. `sim` defines the
//! trait and knows nothing of who implements it.

use super::transport::Fate;
use crate::faults::FaultAction;
use crate::ids::{ClientId, Endpoint};
use crate::node::{Effect, Message, Node, Timer};
use std::any::Any;

/// Called by the event loop; every method has an empty default. Times are in µs.
pub trait SimHooks: Any {
    /// A message was sent (or dropped on the way: `fate`).
    fn on_send(&mut self, _now: u64, _from: Endpoint, _to: Endpoint, _msg: &Message, _f: Fate) {}
    /// A message reached a node whose process is down.
    fn on_dropped_down(&mut self, _now: u64, _from: Endpoint, _to: Endpoint, _msg: &Message) {}
    /// A live node is about to handle a message.
    fn before_node_delivery(&mut self, _now: u64, _from: Endpoint, _node: &Node, _msg: &Message) {}
    /// The node handled it and asked for `effects` (not yet applied).
    fn after_node_delivery(&mut self, _now: u64, _node: &Node, _effects: &[Effect]) {}
    /// A live node's current timer fires (not yet handled).
    fn on_node_timer(&mut self, _now: u64, _node: &Node, _timer: Timer) {}
    /// A message reached a client.
    fn on_client_delivery(&mut self, _now: u64, _from: Endpoint, _c: ClientId, _m: &Message) {}
    /// A fault action takes effect.
    fn on_fault(&mut self, _now: u64, _action: &FaultAction) {}
    /// The event being handled is over.
    fn end_event(&mut self) {}
}
