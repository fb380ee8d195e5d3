//! The one closed set of things that can happen in a run, and the run digest's summary of
//! each: the queue holds `Event`s, the loop hands each to its target.

use super::mail::Letter;
use crate::engine::SimTime;
use crate::engine::rng::mix64;
use crate::faults::FaultAction;
use crate::ids::{ClientId, Endpoint, NodeId};
use crate::node::Timer;
use crate::workload::DriverTimer;

/// Everything that can happen, in one closed enum.
///
/// A message waits in the loop's mail slab (`mail.rs`) and its event holds a `Letter`
/// (slot and kind), so that an event is a few words (against 144 bytes with the message
/// inline): the queue's slab copies each event in at push and out at pop, and the timers
/// that wait there for seconds (periodic work, the deadline wakeups) come back cold, where
/// a small slot is one cache line. A message's slot is reused as soon as it is
/// delivered, so it stays warm, and sending one allocates nothing.
#[derive(Debug)]
pub enum Event {
    Deliver {
        from: Endpoint,
        to: Endpoint,
        msg: Letter,
    },
    /// `incarnation` ties a timer to one life of the node's process: a crash voids it.
    NodeTimer {
        node: NodeId,
        incarnation: u32,
        timer: Timer,
    },
    ClientTimer {
        client: ClientId,
        timer: Timer,
    },
    Driver(DriverTimer),
    Fault(FaultAction),
    /// A message that waited for its host's CPU or disk (`capacity`) is ready for its next
    /// step; `incarnation` voids it if the process died meanwhile.
    Ready {
        from: Endpoint,
        to: NodeId,
        incarnation: u32,
        stage: Stage,
        msg: Letter,
    },
    /// A message whose disk work is done leaves its host through a finite network
    /// interface, in the order messages become ready; void if the process died meanwhile.
    Depart {
        from: NodeId,
        incarnation: u32,
        to: Endpoint,
        msg: Letter,
    },
    /// A background disk job (`Message::is_background`, or a Merkle tree rebuild's read)
    /// under admission control takes its next slice of disk time (`remaining` µs are
    /// left), then goes on as `next`.
    Background {
        node: NodeId,
        incarnation: u32,
        remaining: SimTime,
        next: AfterDisk,
    },
    /// A host's writer flushes its object buffer (`storage.write_buffer`).
    Flush {
        node: NodeId,
        incarnation: u32,
    },
    /// Close a timeline interval.
    Tick,
    /// After the last fault ended: check whether replicas have converged.
    ConvergenceCheck,
}

/// What a background disk job leads to once its disk work is done.
#[derive(Debug)]
pub enum AfterDisk {
    /// A message was received (a write): the node handles it.
    Handle { from: Endpoint, msg: Letter },
    /// A message is being sent (a read before it leaves): it departs.
    Depart { to: Endpoint, msg: Letter },
    /// Disk work of its own (a Merkle tree rebuild's read): nothing follows.
    Done,
}

impl AfterDisk {
    /// The message kind for the digest (`Done`: past every kind).
    fn kind_code(&self) -> u64 {
        match self {
            AfterDisk::Handle { msg, .. } | AfterDisk::Depart { msg, .. } => msg.kind() as u64,
            AfterDisk::Done => 63,
        }
    }
}

/// How far a received message has come through its host's resources.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    /// It reached the host.
    Arrived,
    /// A CPU thread has processed it.
    CpuDone,
    /// The disk write it makes has completed.
    DiskDone,
}

/// How often convergence is checked after the last fault ends.
pub(super) const CONVERGENCE_CHECK: SimTime = SimTime(1_000_000);

/// The queue's locality hint for an event addressed to `to`: the node it will touch.
pub(super) fn node_hint(to: Endpoint) -> u32 {
    match to {
        Endpoint::Node(node) => node.0,
        Endpoint::Client(_) => crate::engine::queue::NO_HINT,
    }
}

/// A cheap summary of an event for the run digest: its time, type and endpoints. The
/// loop mixes it into the digest once (`mix64`), so the common events here only pack
/// their fields into one word (a mix per field cost 1% of the staleness-probe benchmark's
/// instructions): the receiver rotated 21 bits past the sender, the kind in the top byte.
/// They share a few bits (a client sender's flag meets a receiver's bit 11; numbers of
/// 2^21 and more meet), which only makes a rare pair of events look alike to the digest.
/// Time is spread by an odd multiplier (a bijection).
#[inline]
pub(super) fn fingerprint(time: u64, event: &Event) -> u64 {
    // 33 bits: a node's number, or a client's with bit 32 set.
    let endpoint = |e: &Endpoint| match e {
        Endpoint::Node(n) => n.0 as u64,
        Endpoint::Client(c) => (1 << 32) | c.0 as u64,
    };
    let timer = |t: &Timer| t.kind_index() as u64;
    let body = match event {
        Event::Deliver { from, to, msg } => {
            endpoint(from) ^ endpoint(to).rotate_left(21) ^ (msg.kind() as u64) << 56
        }
        Event::NodeTimer { node, timer: t, .. } => node.0 as u64 ^ 2 << 40 ^ timer(t) << 56,
        Event::ClientTimer { client, timer: t } => client.0 as u64 ^ 3 << 40 ^ timer(t) << 56,
        Event::Driver(d) => match d {
            DriverTimer::Arrival => 4 << 40,
            DriverTimer::RequestTimeouts => 5 << 40,
            DriverTimer::ProbeRead { client, key } => {
                mix64((client.0 as u64) << 32 | key.0 as u64) ^ 6 << 56
            }
        },
        Event::Fault(a) => mix64(7 << 56 ^ fault_code(a)),
        Event::Tick => 8 << 56,
        Event::ConvergenceCheck => 9 << 56,
        Event::Background {
            node,
            remaining,
            next,
            ..
        } => {
            mix64(node.0 as u64 ^ mix64(remaining.as_micros()) ^ 12 << 56) ^ next.kind_code() << 48
        }
        Event::Flush { node, .. } => mix64(node.0 as u64 ^ 13 << 56),
        Event::Depart { from, to, msg, .. } => {
            mix64(from.0 as u64 ^ mix64(endpoint(to)) ^ 11 << 56) ^ (msg.kind() as u64) << 48
        }
        Event::Ready {
            from,
            to,
            stage,
            msg,
            ..
        } => {
            mix64(endpoint(from) ^ mix64(to.0 as u64) ^ 10 << 56)
                ^ (msg.kind() as u64) << 48
                ^ *stage as u64
        }
    };
    time.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ body
}

fn fault_code(a: &FaultAction) -> u64 {
    match a {
        FaultAction::NodeDown { node, wipe } => (1 << 40) | (*wipe as u64) << 32 | node.0 as u64,
        FaultAction::NodeUp { node } => (2 << 40) | node.0 as u64,
        FaultAction::PartitionStart { fault } => (3 << 40) | *fault as u64,
        FaultAction::PartitionEnd { fault } => (4 << 40) | *fault as u64,
        FaultAction::SlowStart { fault } => (5 << 40) | *fault as u64,
        FaultAction::SlowEnd { fault } => (6 << 40) | *fault as u64,
        FaultAction::LossStart { probability } => (7 << 40) ^ probability.to_bits(),
        FaultAction::LossEnd { probability } => (8 << 40) ^ probability.to_bits(),
        FaultAction::ClockSkew { node, offset_us } => {
            (9 << 40) ^ (*offset_us as u64) ^ (node.0 as u64) << 20
        }
        FaultAction::WindowStart => 10 << 40,
        FaultAction::WindowEnd => 11 << 40,
        FaultAction::Join { fault } => (12 << 40) | *fault as u64,
        FaultAction::Leave { fault } => (13 << 40) | *fault as u64,
    }
}
#[cfg(test)]
mod tests {
    /// Events stay small: the queue copies each one in and out of its slab, and a large
    /// variant (a message inline) would make every timer as large as it.
    #[test]
    fn an_event_is_a_few_words() {
        let size = std::mem::size_of::<super::Event>();
        assert!(size <= 48, "Event is {size} bytes: box the large variant");
    }

    /// The digest tells apart the events a run mixes up most easily: the same message
    /// between the same two endpoints either way, to a node or a client, of another kind,
    /// a microsecond later, and timers of neighbouring nodes or of another kind.
    #[test]
    fn fingerprints_tell_neighbouring_events_apart() {
        use super::{Event, fingerprint};
        use crate::ids::{ClientId, Endpoint, NodeId};
        use crate::node::{Message, Timer};
        let mut mail = super::super::mail::Mail::default();
        let mut deliver = |from: Endpoint, to: Endpoint, msg: Message| Event::Deliver {
            from,
            to,
            msg: mail.post_new(msg),
        };
        let (a, b) = (Endpoint::Node(NodeId(3)), Endpoint::Node(NodeId(7)));
        let c = Endpoint::Client(ClientId(3));
        let events = [
            deliver(a, b, Message::Ping),
            deliver(b, a, Message::Ping),
            deliver(c, b, Message::Ping),
            deliver(a, c, Message::Ping),
            deliver(a, b, Message::Gossip { epoch: 1 }),
        ];
        let timer = |node: u32, timer: Timer| Event::NodeTimer {
            node: NodeId(node),
            incarnation: 0,
            timer,
        };
        let timers = [
            timer(3, Timer::Gossip),
            timer(4, Timer::Gossip),
            timer(3, Timer::Probe),
        ];
        let mut seen = Vec::new();
        for e in events.iter().chain(&timers) {
            for time in [1_000_000, 1_000_001] {
                let f = fingerprint(time, e);
                assert!(!seen.contains(&f), "{e:?} at {time} repeats a fingerprint");
                seen.push(f);
            }
        }
    }
}
