//! Where the time goes, by event kind: an opt-in build (`cargo build --release --features
//! event-profile`) counts the clock cycles from popping each event to finishing it, sums
//! them per kind (message kind, timer kind, driver timer) and prints a table to stderr when
//! the simulation is dropped. Without the feature none of this is compiled, so the event
//! loop of a normal build carries no trace of it. Figures are wall-clock cycles of one run
//! on one machine: for comparing kinds and builds, never for asserting.

use super::Event;
use crate::node::Timer;
use crate::vocab::MessageKind;
use crate::workload::DriverTimer;

const TIMERS: [&str; Timer::KINDS] = [
    "timer:op_deadlines",
    "timer:probe",
    "timer:hint_scan",
    "timer:anti_entropy",
    "timer:gossip",
    "timer:transfer",
    "timer:membership_poll",
    "timer:tombstone_gc",
    "timer:heartbeat",
];
const OTHERS: [&str; 6] = [
    "client_timer",
    "driver:arrival",
    "driver:request_timeouts",
    "driver:probe_read",
    "fault, tick, convergence check",
    "ready, depart (a host's cpu, disk, network interface)",
];
const KINDS: usize = MessageKind::COUNT + TIMERS.len() + OTHERS.len();

/// Cycle counts per event kind.
pub struct EventProfile {
    per_kind: [(u64, u64); KINDS],
}

impl Default for EventProfile {
    fn default() -> Self {
        EventProfile {
            per_kind: [(0, 0); KINDS],
        }
    }
}

/// A cycle counter: the time-stamp counter on x86-64, nanoseconds elsewhere.
pub fn now() -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: reading the time-stamp counter has no preconditions.
        unsafe { std::arch::x86_64::_rdtsc() }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        use std::sync::OnceLock;
        static START: OnceLock<std::time::Instant> = OnceLock::new();
        START
            .get_or_init(std::time::Instant::now)
            .elapsed()
            .as_nanos() as u64
    }
}

/// The row an event is counted in.
pub fn kind_of(event: &Event) -> usize {
    let timers = MessageKind::COUNT;
    let others = timers + TIMERS.len();
    match event {
        Event::Deliver { msg, .. } => msg.kind() as usize,
        Event::NodeTimer { timer, .. } => timers + timer.kind_index(),
        Event::ClientTimer { .. } => others,
        Event::Driver(DriverTimer::Arrival) => others + 1,
        Event::Driver(DriverTimer::RequestTimeouts) => others + 2,
        Event::Driver(DriverTimer::ProbeRead { .. }) => others + 3,
        Event::Fault(_) | Event::Tick | Event::ConvergenceCheck => others + 4,
        Event::Ready { .. }
        | Event::Depart { .. }
        | Event::Background { .. }
        | Event::Flush { .. } => others + 5,
    }
}

fn name(kind: usize) -> String {
    let timers = MessageKind::COUNT;
    let others = timers + TIMERS.len();
    if kind < timers {
        format!("{:?}", MessageKind::ALL[kind])
    } else if kind < others {
        TIMERS[kind - timers].to_string()
    } else {
        OTHERS[kind - others].to_string()
    }
}

impl EventProfile {
    pub fn record(&mut self, kind: usize, started: u64) {
        let row = &mut self.per_kind[kind];
        row.0 += 1;
        row.1 += now().saturating_sub(started);
    }

    /// The table, most expensive kind first.
    pub fn table(&self) -> String {
        let total: u64 = self.per_kind.iter().map(|r| r.1).sum();
        let mut rows: Vec<(usize, (u64, u64))> = self
            .per_kind
            .iter()
            .copied()
            .enumerate()
            .filter(|(_, r)| r.0 > 0)
            .collect();
        rows.sort_by(|a, b| b.1.1.cmp(&a.1.1).then(a.0.cmp(&b.0)));
        let mut out = format!(
            "{:<32} {:>12} {:>12} {:>7}\n",
            "event kind", "events", "cycles/event", "share"
        );
        for (kind, (events, cycles)) in rows {
            out += &format!(
                "{:<32} {:>12} {:>12.0} {:>6.2}%\n",
                name(kind),
                events,
                cycles as f64 / events as f64,
                100.0 * cycles as f64 / total.max(1) as f64
            );
        }
        out += &format!("total: {:.3} G cycles\n", total as f64 / 1e9);
        out
    }
}

impl Drop for EventProfile {
    fn drop(&mut self) {
        if self.per_kind.iter().any(|r| r.0 > 0) {
            crate::console::write_stderr(format_args!("{}", self.table()));
        }
    }
}
