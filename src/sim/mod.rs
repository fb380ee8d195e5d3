//! The world: one event loop that owns the queue and moves messages between the parts of
//! a run. Protocol code only returns effects; this is where effects become scheduled
//! events. Each part has one job:
//!
//! - `event`: the closed set of events and the run digest's summary of each;
//! - `host`: the machine around each node (process up/down, incarnation, datacenter,
//!   name, counters) with the node inside;
//! - `transport`: partitions, slow nodes, loss, latency and disk time on the way;
//! - `membership`: the administrator of joins and leaves;
//! - `convergence`: divergent keys and time to converge, judged from hosts and observer;
//! - `hooks`: what an outside recorder (`dynasim trace`) is shown, read-only;
//! - `outcome`: the plain data a finished run hands to `report`;
//! - `build`: the settings each part is built from, as functions of the scenario.

pub mod build;
mod capacity;
mod convergence;
mod event;
mod hooks;
mod host;
mod mail;
mod membership;
mod outcome;
#[cfg(feature = "event-profile")]
mod profile;
pub mod resources;
mod transport;

pub use event::Event;
pub use hooks::SimHooks;
pub use host::{Host, Hosts};
pub use membership::ChangeReport;
pub use outcome::{LoadWindows, NodeOutcome, RunOutcome};
pub use transport::{Fate, MessageStats};
use transport::{Outgoing, Sent};

use crate::engine::queue::prefetch;
use crate::engine::rng::mix64;
use crate::engine::{EventQueue, RngStreams, Sampler, SimRng, SimTime, Stream};
use crate::faults::{FaultAction, ResolvedFault};
use crate::ids::{ClientId, DcId, Endpoint, KeyId, NodeId, WriteId};
use crate::net::{NetworkModel, StorageModel};
use crate::node::{Effect, Fact, Message, Node, NodeConfig};
use crate::observer::{Observer, PeerTruth};
use crate::ring::Ring;
use crate::scenario::Scenario;
use crate::workload::{Driver, DriverIo, DriverTimer};
use convergence::{Convergence, View};
use event::{AfterDisk, Stage, fingerprint, node_hint};
use host::ProcessChange;
use mail::Mail;
use membership::{AdminEffects, ChangeKind, Cluster, MembershipAdmin};
use std::collections::BTreeSet;
use std::sync::Arc;
use transport::{Place, Transport};

pub struct Simulation {
    scenario: Scenario,
    now: SimTime,
    /// When the run ends (arrivals stop at `duration_s`, then requests drain).
    end: SimTime,
    queue: EventQueue<Event>,
    hosts: Hosts,
    /// The ring the cluster routes by now (the last change the administrator completed).
    ring: Arc<Ring>,
    transport: Transport,
    driver: Driver,
    observer: Observer,
    /// Messages on their way (an event holds a letter for its message).
    mail: Mail,
    /// Reused effect buffer: protocol calls push into it, `apply` drains it.
    effects: Vec<Effect>,
    /// Reused buffer of a node's facts on their way to the observer.
    facts: Vec<Fact>,
    driver_timers: Vec<(SimTime, DriverTimer)>,
    digest: u64,
    events: u64,
    /// A node is handling its heartbeat timer (suspicions raised now are phi accrual's).
    heartbeat_timer: bool,
    resolved_faults: Vec<ResolvedFault>,
    windows: FaultWindows,
    tick_interval: SimTime,
    last_tick: SimTime,
    load_windows: outcome::LoadWindows,
    convergence: Convergence,
    admin: MembershipAdmin,
    admin_effects: AdminEffects,
    /// The nodes' gossip stream: one for all, handed to a node with each timer.
    gossip_rng: SimRng,
    node_cfg: Arc<NodeConfig>,
    /// Per-message CPU time and its stream, when hosts have a finite CPU.
    cpu_service: Option<(Sampler, SimRng)>,
    /// Hosts keep an object buffer (`storage.write_buffer`).
    write_buffer: bool,
    /// `dynasim trace` only. `None` in normal runs, where each hook costs one branch.
    hooks: Option<Box<dyn SimHooks>>,
    #[cfg(feature = "event-profile")]
    profile: profile::EventProfile,
}

/// Fault windows, for availability inside and outside faults and the timeline.
#[derive(Default)]
struct FaultWindows {
    /// Windows open now.
    open: u32,
    /// Whether a window was open at any time in the current timeline interval.
    in_interval: bool,
    /// Every window as (start, end) in µs.
    all: Vec<(u64, u64)>,
}

impl FaultWindows {
    fn any_open(&self) -> bool {
        self.open > 0
    }
}

impl Simulation {
    /// Builds a run from a validated scenario.
    pub fn new(scenario: &Scenario) -> Simulation {
        let streams = RngStreams::new(scenario.seed);
        let node_dc = build::node_datacenters(scenario);
        let keys = scenario.key_count();
        let (placement, ring) = build::initial_ring(scenario, &streams);
        let node_cfg = Arc::new(build::node_config(scenario, &node_dc));
        let driver = Driver::new(
            &scenario.workload,
            build::client_datacenters(scenario),
            build::client_context(scenario, ring.clone(), &node_dc),
            streams.stream(Stream::Workload, 0),
            streams.stream(Stream::Client, 0),
            build::arrivals_end(scenario),
        );
        let end = build::run_end(scenario);
        let names = crate::faults::node_names(scenario);
        let faults = crate::faults::plan(
            scenario,
            &node_dc,
            &names,
            end,
            &mut streams.stream(Stream::Faults, 0),
        );
        let node_count = node_dc.len();
        let horizon = build::arrivals_end(scenario);
        let hosts = (node_dc.iter().zip(names).enumerate())
            .map(|(i, (dc, name))| {
                let node = Node::new(NodeId(i as u32), node_cfg.clone(), ring.clone(), 0);
                let buffer = scenario.storage.write_buffer.as_ref();
                Host::new(node, *dc, name, scenario.capacity.as_ref(), buffer, horizon)
            })
            .collect();
        let last_fault_end = (faults.windows.iter())
            .map(|w| SimTime(w.1))
            .max()
            .filter(|t| *t < end);
        let transport = Transport::new(
            NetworkModel::new(&scenario.network, streams.stream(Stream::Network, 0)),
            StorageModel::new(&scenario.storage, streams.stream(Stream::Storage, 0)),
            faults.partitions,
            faults.slow,
            scenario.workload.value_bytes() as u64,
            scenario.storage.bytes_per_s,
            scenario.capacity.is_some(),
        );
        let dc_sizes = (scenario.cluster.datacenters.iter())
            .map(|d| d.nodes)
            .collect();
        let mut sim = Simulation {
            scenario: scenario.clone(),
            now: SimTime::ZERO,
            end,
            queue: EventQueue::new(),
            hosts: Hosts::new(hosts),
            ring: ring.clone(),
            transport,
            driver,
            observer: Observer::new(build::observer_setup(scenario, keys)),
            mail: Mail::default(),
            effects: Vec::new(),
            facts: Vec::new(),
            driver_timers: Vec::new(),
            digest: 0,
            heartbeat_timer: false,
            events: 0,
            resolved_faults: faults.resolved,
            windows: FaultWindows {
                all: faults.windows,
                ..FaultWindows::default()
            },
            tick_interval: SimTime::from_secs_f64(scenario.metrics.timeline_interval_s),
            last_tick: SimTime::ZERO,
            load_windows: outcome::LoadWindows::new(SimTime::from_secs_f64(
                scenario.metrics.balance_window_s,
            )),
            convergence: Convergence::new(build::settle_window(scenario), last_fault_end),
            admin: MembershipAdmin::new(
                placement,
                ring,
                node_count,
                dc_sizes,
                streams.stream(Stream::Ring, 1),
            ),
            admin_effects: AdminEffects::default(),
            gossip_rng: streams.stream(Stream::Gossip, 0),
            node_cfg,
            write_buffer: scenario.storage.write_buffer.is_some(),
            cpu_service: (scenario.capacity.as_ref())
                .and_then(|c| c.cpu.as_ref())
                .map(|c| {
                    (
                        Sampler::new(&c.per_message_ms),
                        streams.stream(Stream::Cpu, 0),
                    )
                }),
            hooks: None,
            #[cfg(feature = "event-profile")]
            profile: Default::default(),
        };
        sim.start(faults.actions);
        sim
    }

    /// Schedules what happens at time zero and later by plan: the first timeline tick, the
    /// nodes' and clients' periodic work, the fault actions, the convergence check and
    /// the first arrivals. The order fixes the queue's sequence numbers, so it never changes.
    fn start(&mut self, fault_actions: Vec<(SimTime, FaultAction)>) {
        self.queue
            .push(self.tick_interval.min(self.end).as_micros(), Event::Tick);
        let mut effects = Vec::new();
        for i in 0..self.hosts.len() {
            let node = NodeId(i as u32);
            (self.hosts.node_mut(node)).start(&mut self.gossip_rng, &mut effects);
            self.apply(Endpoint::Node(node), &mut effects);
        }
        for c in 0..self.driver.client_count() {
            let client = ClientId(c as u32);
            self.driver.start_client(client, &mut effects);
            self.apply(Endpoint::Client(client), &mut effects);
        }
        for (at, action) in fault_actions {
            self.queue.push(at.as_micros(), Event::Fault(action));
        }
        // Scheduled after the fault actions so that a check at the same instant sees them.
        if let Some(t) = self.convergence.first_check() {
            self.queue.push(t.as_micros(), Event::ConvergenceCheck);
        }
        let mut io = DriverIo {
            now: SimTime::ZERO,
            during_fault: false,
            effects: &mut self.effects,
            timers: &mut self.driver_timers,
            observer: &mut self.observer,
        };
        self.driver.start(&mut io);
        self.schedule_driver_timers();
    }

    pub fn now(&self) -> SimTime {
        self.now
    }

    /// When the run ends (arrivals stop at `duration_s`, then requests drain).
    pub fn end(&self) -> SimTime {
        self.end
    }

    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    pub fn events(&self) -> u64 {
        self.events
    }

    pub fn digest(&self) -> u64 {
        self.digest
    }

    pub fn observer(&self) -> &Observer {
        &self.observer
    }

    /// For attaching and collecting the history export; nothing here reaches a node.
    pub fn observer_mut(&mut self) -> &mut Observer {
        &mut self.observer
    }

    /// The workload driver, read-only (request counts for invariant checks).
    pub fn driver(&self) -> &Driver {
        &self.driver
    }

    /// Attaches hooks (before the run): they see each event and change nothing.
    pub fn set_hooks(&mut self, hooks: Box<dyn SimHooks>) {
        self.hooks = Some(hooks);
    }

    pub fn take_hooks(&mut self) -> Option<Box<dyn SimHooks>> {
        self.hooks.take()
    }

    pub fn hosts(&self) -> &Hosts {
        &self.hosts
    }

    pub fn node(&self, node: NodeId) -> &Node {
        self.hosts.node(node)
    }

    pub fn node_count(&self) -> usize {
        self.hosts.len()
    }

    /// Node names in node-id order (nodes that joined included).
    pub fn node_names(&self) -> Vec<String> {
        self.hosts.iter().map(|h| h.name.clone()).collect()
    }

    pub fn ring(&self) -> &Ring {
        &self.ring
    }

    pub fn is_up(&self, node: NodeId) -> bool {
        self.hosts.is_up(node)
    }

    pub fn resolved_faults(&self) -> &[ResolvedFault] {
        &self.resolved_faults
    }

    pub fn fault_windows(&self) -> &[(u64, u64)] {
        &self.windows.all
    }

    pub fn is_finished(&mut self) -> bool {
        self.queue
            .peek_time()
            .is_none_or(|t| t > self.end.as_micros())
    }

    /// Runs to the end of the scenario.
    pub fn run(&mut self) {
        self.run_until(self.end);
    }

    /// Processes every event up to and including `limit` (capped at the end of the run).
    pub fn run_until(&mut self, limit: SimTime) {
        let limit = limit.min(self.end).as_micros();
        // Not `while let`: with the event profile on, its clock starts before the pop.
        #[allow(clippy::while_let_loop)]
        loop {
            #[cfg(feature = "event-profile")]
            let started = profile::now();
            let Some((time, event)) = self.queue.pop_until(limit) else {
                break;
            };
            // The queue refuses to schedule into the past; this guards the loop's use of it.
            assert!(
                time >= self.now.as_micros(),
                "{}: popped {time} after {}",
                crate::engine::queue::PAST_EVENT,
                self.now
            );
            // Start loading the host the next event goes to while this one is handled.
            if let Some(next) = self.queue.next_hint()
                && let Some(host) = self.hosts.try_get(next)
            {
                prefetch(host);
                prefetch(&host.node);
            }
            self.now = SimTime(time);
            self.events += 1;
            self.digest = mix64(self.digest ^ fingerprint(time, &event));
            if self.hooks.is_some() {
                self.show_hooks(&event);
            }
            #[cfg(feature = "event-profile")]
            let kind = profile::kind_of(&event);
            self.dispatch(event);
            if let Some(h) = self.hooks.as_deref_mut() {
                h.end_event();
            }
            #[cfg(feature = "event-profile")]
            self.profile.record(kind, started);
        }
        self.now = self.now.max(SimTime(limit));
    }

    fn dispatch(&mut self, event: Event) {
        match event {
            Event::Deliver {
                from,
                to: Endpoint::Node(node),
                msg,
            } => {
                let msg = self.mail.take(msg);
                self.deliver_to_node(from, node, msg)
            }
            Event::NodeTimer {
                node,
                incarnation,
                timer,
            } => {
                let host = self.hosts.get_mut(node);
                if !host.is_up() || !host.is_current(incarnation) {
                    return;
                }
                let mut effects = std::mem::take(&mut self.effects);
                (host.node).handle_timer(self.now, timer, &mut self.gossip_rng, &mut effects);
                // The simulator's own record of which event raised a suspicion (the
                // observer does not take the detector's word for it).
                self.heartbeat_timer = timer == crate::node::Timer::Heartbeat;
                self.apply(Endpoint::Node(node), &mut effects);
                self.heartbeat_timer = false;
                put_back(&mut self.effects, effects);
                self.note_epoch(node);
            }
            Event::Deliver {
                from,
                to: Endpoint::Client(client),
                msg,
            } => {
                let msg = self.mail.take(msg);
                self.with_driver(|driver, io| driver.on_message(client, from, msg, io))
            }
            Event::ClientTimer { client, timer } => {
                self.with_driver(|driver, io| driver.on_client_timer(client, timer, io))
            }
            Event::Driver(timer) => self.with_driver(|driver, io| driver.on_timer(timer, io)),
            Event::Fault(action) => self.apply_fault(action),
            Event::Ready {
                from,
                to,
                incarnation,
                stage,
                msg,
            } => {
                let msg = self.mail.take(msg);
                let host = self.hosts.get(to);
                if !host.is_up() || !host.is_current(incarnation) {
                    // Queued in a life of the process that has ended.
                    self.transport.stats.to_down_node += 1;
                    return;
                }
                if let Some((msg, written)) = self.through_resources(from, to, msg, stage) {
                    self.handle_at_node(from, to, msg, written);
                }
            }
            Event::Depart {
                from,
                incarnation,
                to,
                msg,
            } => {
                let msg = self.mail.take(msg);
                self.depart(from, incarnation, to, msg)
            }
            Event::Background {
                node,
                incarnation,
                remaining,
                next,
            } => {
                let host = self.hosts.get(node);
                if host.is_up() && host.is_current(incarnation) {
                    self.background_step(node, remaining, next);
                } else if let AfterDisk::Handle { msg, .. } | AfterDisk::Depart { msg, .. } = next {
                    // Its process died meanwhile: the message is dropped, its slot freed.
                    self.mail.take(msg);
                }
            }
            Event::Flush { node, incarnation } => self.flush(node, incarnation),
            Event::Tick => self.close_interval(),
            Event::ConvergenceCheck => {
                let view = View {
                    hosts: &self.hosts,
                    ring: &self.ring,
                    observer: &self.observer,
                };
                if let convergence::Check::Again(at) = self.convergence.check(self.now, view) {
                    self.queue.push(at.as_micros(), Event::ConvergenceCheck);
                }
            }
        }
    }

    fn deliver_to_node(&mut self, from: Endpoint, node: NodeId, msg: Message) {
        let host = self.hosts.get_mut(node);
        if !host.is_up() {
            self.transport.stats.to_down_node += 1;
            return;
        }
        // Without finite resources the message goes straight to the node (not through a
        // tuple that would copy it once more).
        if host.resources.is_none() {
            self.handle_at_node(from, node, msg, false);
        } else if let Some((msg, written)) = self.through_resources(from, node, msg, Stage::Arrived)
        {
            self.handle_at_node(from, node, msg, written);
        }
    }

    /// A live node handles a message now (`written`: its disk write is done).
    fn handle_at_node(&mut self, from: Endpoint, node: NodeId, msg: Message, written: bool) {
        let now = self.now;
        // Only runs with a write buffer pay for its bookkeeping.
        let note = if self.write_buffer {
            self.buffer_before(node, &msg, written)
        } else {
            capacity::BufferNote::None
        };
        let host = self.hosts.get_mut(node);
        if is_replica_request(&msg) {
            host.replica_requests += 1;
            self.load_windows.count(now, node.index());
        }
        self.convergence.watch_delivery(&msg);
        let host = self.hosts.get_mut(node);
        if let Some(h) = self.hooks.as_deref_mut() {
            h.before_node_delivery(now.as_micros(), from, &host.node, &msg);
        }
        let mut effects = std::mem::take(&mut self.effects);
        host.node.handle_message(now, from, msg, &mut effects);
        if let Some(h) = self.hooks.as_deref_mut() {
            h.after_node_delivery(now.as_micros(), &host.node, &effects);
        }
        self.apply(Endpoint::Node(node), &mut effects);
        put_back(&mut self.effects, effects);
        if self.write_buffer {
            self.buffer_after(node, note);
        }
        self.note_epoch(node);
    }

    /// Closes a timeline interval and schedules the next.
    fn close_interval(&mut self) {
        let now = self.now;
        let backlog = self.hosts.nodes().map(|n| n.hint_count() as u64).sum();
        let view = View {
            hosts: &self.hosts,
            ring: &self.ring,
            observer: &self.observer,
        };
        let divergent = self.convergence.scan(now, view);
        let fault = self.windows.in_interval || self.windows.any_open();
        let queues = self.queue_sample();
        self.observer
            .close_interval(self.last_tick, now, backlog, divergent, fault, queues);
        self.windows.in_interval = self.windows.any_open();
        self.last_tick = now;
        if now < self.end {
            let next = (now + self.tick_interval).min(self.end);
            self.queue.push(next.as_micros(), Event::Tick);
        }
    }

    /// Keys whose live home replicas hold different version sets now (a full scan).
    pub fn divergent_keys(&self) -> u64 {
        let view = View {
            hosts: &self.hosts,
            ring: &self.ring,
            observer: &self.observer,
        };
        self.convergence.divergent_keys(self.now, view)
    }

    /// Audits every acknowledged write against what the home replicas and hint stores hold.
    pub fn audit_durability(&self) -> crate::observer::DurabilitySummary {
        self.observer.audit(held_at_end(
            &self.hosts,
            &self.ring,
            self.admin.target_ring(),
        ))
    }

    /// Ends the history (its `final` lines: what replicas hold now) and hands it back to be
    /// finished; `None` when none was recorded.
    pub fn take_history(&mut self) -> Option<crate::observer::History> {
        let target = self.admin.target_ring();
        (self.observer).write_final_state(held_at_end(&self.hosts, &self.ring, target));
        self.observer.take_history()
    }

    /// Everything the report is made of, gathered from the parts of the finished run.
    pub fn outcome(&self) -> RunOutcome {
        let dc_names: Vec<String> = (self.scenario.cluster.datacenters.iter())
            .map(|d| d.name.clone())
            .collect();
        RunOutcome {
            scenario: self.scenario.clone(),
            digest: self.digest,
            events: self.events,
            simulated: self.now,
            faults: self.resolved_faults.clone(),
            observed: self.observer.summarize_named(&dc_names),
            timeline: self.observer.timeline().to_vec(),
            durability: self.audit_durability(),
            divergent_keys_at_end: self.divergent_keys(),
            time_to_converge_s: self.convergence.time_to_converge_s(),
            messages: self.transport.stats.clone(),
            nodes: (self.hosts.iter())
                .map(|h| NodeOutcome {
                    name: h.name.clone(),
                    hints: h.node.hint_stats().clone(),
                    hint_backlog: h.node.hint_count() as u64,
                    anti_entropy: h.node.anti_entropy_stats().clone(),
                    transfer: h.node.transfer_stats().clone(),
                    replica_requests: h.replica_requests,
                    keys: h.node.key_count() as u64,
                    resources: h.resources.as_deref().cloned(),
                })
                .collect(),
            final_epoch: self.admin.epoch(),
            membership_changes: self.admin.changes().to_vec(),
            waits: self.transport.waits.as_deref().cloned(),
            load_windows: self.load_windows.clone(),
        }
    }

    fn apply_fault(&mut self, action: FaultAction) {
        match action {
            FaultAction::NodeDown { node, wipe } => {
                if self.hosts.take_down(node, wipe, self.now) == ProcessChange::Stopped {
                    self.convergence.watch_node_keys(&self.ring, node);
                    self.observer.node_went_down(self.now, node);
                }
            }
            FaultAction::NodeUp { node } => {
                // A node that left the cluster stays down whatever else ends.
                if self.admin.has_departed(node) {
                    return;
                }
                if self.hosts.release(node, self.now) == ProcessChange::Started {
                    self.convergence.watch_node_keys(&self.ring, node);
                    self.observer.node_came_up(node);
                    let mut effects = std::mem::take(&mut self.effects);
                    let now = self.now;
                    (self.hosts.node_mut(node)).restart(now, &mut self.gossip_rng, &mut effects);
                    self.apply(Endpoint::Node(node), &mut effects);
                    put_back(&mut self.effects, effects);
                }
            }
            FaultAction::PartitionStart { fault } => self.transport.partition_started(fault),
            FaultAction::PartitionEnd { fault } => self.transport.partition_ended(fault, self.now),
            FaultAction::SlowStart { fault } => self.transport.slowness_started(fault),
            FaultAction::SlowEnd { fault } => self.transport.slowness_ended(fault),
            FaultAction::LossStart { probability } => self.transport.loss_started(probability),
            FaultAction::LossEnd { probability } => self.transport.loss_ended(probability),
            FaultAction::ClockSkew { node, offset_us } => {
                self.hosts.node_mut(node).set_clock_offset_us(offset_us)
            }
            FaultAction::WindowStart => {
                self.windows.open += 1;
                self.windows.in_interval = true;
            }
            FaultAction::WindowEnd => self.windows.open = self.windows.open.saturating_sub(1),
            FaultAction::Join { fault } => self.with_admin(|a, cx| {
                a.request(fault, ChangeKind::Join, cx);
            }),
            FaultAction::Leave { fault } => self.with_admin(|a, cx| {
                a.request(fault, ChangeKind::Leave, cx);
            }),
        }
    }

    /// After a node handled an event: let the administrator see whether its epoch moved.
    #[inline]
    fn note_epoch(&mut self, node: NodeId) {
        if self.admin.epoch_moved(node, &self.hosts) {
            self.with_admin(|a, cx| a.note_epoch(node, cx));
        }
    }

    /// A node's fact goes to the observer; a suspicion with the ground truth about the
    /// suspected peer (is its process up, does a partition cut it off).
    fn observe_fact(&mut self, node: NodeId, fact: &Fact) {
        match *fact {
            Fact::Suspected { peer } => {
                let (a, b) = (
                    self.place(Endpoint::Node(node)),
                    self.place(Endpoint::Node(peer)),
                );
                // What the detector's reach back could have seen: a peer that came back, or
                // a cut that healed, within it was really silent.
                let since = self
                    .now
                    .saturating_sub(build::suspicion_horizon(&self.scenario));
                let truth = PeerTruth {
                    up: self.hosts.is_up(peer) && self.hosts.get(peer).up_since <= since,
                    reachable: !self.transport.separated_since(a, b, since),
                    leaving: self.admin.is_leaving(peer),
                    by_heartbeats: self.heartbeat_timer,
                };
                self.observer.suspicion(self.now, node, peer, truth);
            }
            Fact::Trusted { peer } => self.observer.trust(node, peer),
            _ => self.observer.replica_fact(self.now, node, fact),
        }
    }

    /// Runs an administrator step, then acts on what it changed: schedules what nodes
    /// emitted (in emission order), adopts a completed ring, watches retired nodes' keys.
    fn with_admin(&mut self, step: impl FnOnce(&mut MembershipAdmin, &mut Cluster)) {
        let mut out = std::mem::take(&mut self.admin_effects);
        let mut cx = Cluster {
            now: self.now,
            scenario: &self.scenario,
            hosts: &mut self.hosts,
            node_cfg: &self.node_cfg,
            gossip_rng: &mut self.gossip_rng,
            out: &mut out,
        };
        step(&mut self.admin, &mut cx);
        let mut effects = std::mem::take(&mut self.effects);
        for (node, effect) in out.effects.drain(..) {
            effects.push(effect);
            self.apply(Endpoint::Node(node), &mut effects);
        }
        put_back(&mut self.effects, effects);
        if let Some(ring) = out.adopted_ring.take() {
            self.ring = ring;
            self.convergence.ring_changed();
        }
        for node in out.retired.drain(..) {
            self.convergence.watch_node_keys(&self.ring, node);
            self.observer.node_went_down(self.now, node);
        }
        for node in out.informed.drain(..) {
            self.charge_rebuild(node);
        }
        self.admin_effects = out;
    }

    fn with_driver(&mut self, f: impl FnOnce(&mut Driver, &mut DriverIo) -> Option<ClientId>) {
        let mut effects = std::mem::take(&mut self.effects);
        let mut io = DriverIo {
            now: self.now,
            during_fault: self.windows.any_open(),
            effects: &mut effects,
            timers: &mut self.driver_timers,
            observer: &mut self.observer,
        };
        let client = f(&mut self.driver, &mut io);
        match client {
            Some(c) => self.apply(Endpoint::Client(c), &mut effects),
            None => debug_assert!(effects.is_empty(), "effects without a source"),
        }
        put_back(&mut self.effects, effects);
        self.schedule_driver_timers();
    }

    fn schedule_driver_timers(&mut self) {
        for (at, timer) in self.driver_timers.drain(..) {
            self.queue.push(at.as_micros(), Event::Driver(timer));
        }
    }

    fn place(&self, e: Endpoint) -> Place {
        let dc: DcId = match e {
            Endpoint::Node(n) => self.hosts.get(n).dc,
            Endpoint::Client(c) => self.driver.client_dc(c),
        };
        Place { endpoint: e, dc }
    }

    /// Shows the hooks an event before it is handled: drops at down nodes, timers,
    /// client deliveries and faults (node deliveries are shown around the handler).
    #[cold]
    fn show_hooks(&mut self, event: &Event) {
        let now = self.now.as_micros();
        let Some(h) = self.hooks.as_deref_mut() else {
            return;
        };
        match event {
            Event::Deliver {
                from,
                to: to @ Endpoint::Node(node),
                msg,
            } if !self.hosts.is_up(*node) => {
                h.on_dropped_down(now, *from, *to, self.mail.read(msg))
            }
            Event::NodeTimer {
                node,
                incarnation,
                timer,
            } if self.hosts.is_up(*node) && self.hosts.get(*node).is_current(*incarnation) => {
                h.on_node_timer(now, &self.hosts.get(*node).node, *timer)
            }
            Event::Deliver {
                from,
                to: Endpoint::Client(client),
                msg,
            } => h.on_client_delivery(now, *from, *client, self.mail.read(msg)),
            Event::Fault(action) => h.on_fault(now, action),
            Event::Deliver { .. }
            | Event::NodeTimer { .. }
            | Event::ClientTimer { .. }
            | Event::Driver(_)
            | Event::Ready { .. }
            | Event::Depart { .. }
            | Event::Background { .. }
            | Event::Flush { .. }
            | Event::Tick
            | Event::ConvergenceCheck => {}
        }
    }

    /// Turns a host's effects into scheduled events; a node's facts about its own data go
    /// to the observer first (they never reach another node).
    fn apply(&mut self, source: Endpoint, effects: &mut Vec<Effect>) {
        if let Endpoint::Node(node) = source {
            if self.hosts.node(node).has_facts() {
                let mut facts = std::mem::take(&mut self.facts);
                (self.hosts.node_mut(node)).drain_facts(|f| facts.push(f));
                for fact in facts.drain(..) {
                    self.observe_fact(node, &fact);
                }
                put_back(&mut self.facts, facts);
            }
            if self.hosts.node(node).has_rebuild_reads() {
                self.charge_rebuild(node);
            }
        }
        let from_place = self.place(source);
        for effect in effects.drain(..) {
            match effect {
                Effect::Send { to, msg, disk } => {
                    let to_place = self.place(to);
                    let host = match source {
                        Endpoint::Node(n) => self.hosts.get_mut(n).resources.as_deref_mut(),
                        Endpoint::Client(_) => None,
                    };
                    let out = Outgoing::new(&msg);
                    let kind = out.kind;
                    let sent =
                        (self.transport).send(self.now, from_place, to_place, out, disk, host);
                    match (sent, source) {
                        (Sent::Fate(fate), _) => self.sent(source, to, msg, kind, fate),
                        (Sent::Held(ready), Endpoint::Node(from)) => {
                            let incarnation = self.hosts.get(from).incarnation();
                            let event = Event::Depart {
                                from,
                                incarnation,
                                to,
                                msg: self.mail.post(msg, kind),
                            };
                            self.queue.push_hinted(ready.as_micros(), event, from.0);
                        }
                        (Sent::Background(service), Endpoint::Node(node)) => {
                            let next = AfterDisk::Depart {
                                to,
                                msg: self.mail.post(msg, kind),
                            };
                            self.background_step(node, service, next);
                        }
                        (Sent::Held(_) | Sent::Background(_), Endpoint::Client(_)) => {
                            unreachable!("clients have no host resources")
                        }
                    }
                }
                Effect::SetTimer { after, timer } => {
                    let at = (self.now + after).as_micros();
                    let event = match source {
                        Endpoint::Node(node) => Event::NodeTimer {
                            node,
                            incarnation: self.hosts.get(node).incarnation(),
                            timer,
                        },
                        Endpoint::Client(client) => Event::ClientTimer { client, timer },
                    };
                    self.queue.push_hinted(at, event, node_hint(source));
                }
            }
        }
    }
}

/// The write ids the run ends with for each key, sorted: the versions its home replicas
/// store, the hints held for it, and what a node still owes a receiver of a transfer for
/// it (kept and resent until acknowledged, as a hint is). Home replicas are the ring's
/// and, while a membership change is still under way, also those of the ring it moves to
/// (its new owners already hold what was handed to them, and its leavers may already
/// refuse new data).
fn held_at_end<'a>(
    hosts: &'a Hosts,
    ring: &'a Ring,
    target: Option<&'a Ring>,
) -> impl Fn(KeyId) -> Vec<WriteId> + 'a {
    let hinting: Vec<&Node> = hosts.nodes().filter(|n| n.hint_count() > 0).collect();
    let owing: Vec<(&Node, BTreeSet<KeyId>)> = (hosts.nodes())
        .filter(|n| n.is_moving_data())
        .map(|n| (n, n.owed_keys()))
        .filter(|(_, owed)| !owed.is_empty())
        .collect();
    move |key| {
        let mut held: Vec<WriteId> = Vec::new();
        let target_homes = target.map(|t| t.replicas(key)).unwrap_or(&[]);
        let homes = ring.replicas(key).iter().chain(target_homes);
        for n in homes {
            held.extend(hosts.node(*n).stored(key).iter().map(|v| v.write));
        }
        for node in &hinting {
            held.extend(node.hinted(key).map(|v| v.write));
        }
        for (node, owed) in &owing {
            if owed.contains(&key) {
                held.extend(node.stored(key).iter().map(|v| v.write));
            }
        }
        held.sort_unstable();
        held.dedup();
        held
    }
}

/// Puts a reused buffer back in the field it was taken from (`mem::take`), without the
/// out-of-line drop of the empty vector `take` left there (a call per event otherwise). A
/// buffer found there after all (a nested take put one back first) is dropped as usual.
#[inline]
fn put_back<T>(field: &mut Vec<T>, buf: Vec<T>) {
    let old = std::mem::replace(field, buf);
    if old.capacity() == 0 {
        // Nothing to free and nothing to drop: it has no elements and no allocation.
        std::mem::forget(old);
    }
}

/// Requests that load a replica's storage: reads, and writes a coordinator asked for
/// (repairs do not count).
fn is_replica_request(msg: &Message) -> bool {
    matches!(
        msg,
        Message::ReplicaRead { .. } | Message::ReplicaWrite { op: Some(_), .. }
    )
}
