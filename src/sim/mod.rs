//! The world: one event loop that owns the queue, the nodes, the clients, the network and
//! the observer, and moves messages between them. Protocol code only returns effects; this
//! is where effects become scheduled events.

mod membership;
#[cfg(feature = "event-profile")]
mod profile;

pub use membership::ChangeReport;

use crate::engine::queue::prefetch;
use crate::engine::rng::mix64;
use crate::engine::{EventQueue, RngStreams, SimRng, SimTime, Stream};
use crate::faults::{FaultAction, FaultPlan, ResolvedFault};
use crate::ids::{ClientId, DcId, Endpoint, NodeId};
use crate::net::{LinkClass, NetworkModel, StorageModel};
use crate::node::GossipConfig;
use crate::node::{
    Effect, Message, MessageKind, Node, NodeConfig, QuorumConfig, Timer, VersionRules,
};
use crate::observer::Observer;
use crate::ring::{Placement, Ring};
use crate::scenario::{Scenario, Versioning};
use crate::trace::Fate;
use crate::workload::{ClientContext, Driver, DriverIo, DriverTimer};
use std::sync::Arc;

/// Everything that can happen, in one closed enum.
#[derive(Debug)]
pub enum Event {
    Deliver {
        from: Endpoint,
        to: Endpoint,
        msg: Message,
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
    /// Close a timeline interval.
    Tick,
    /// After the last fault ended: check whether replicas have converged.
    ConvergenceCheck,
}

/// How often convergence is checked after the last fault ends.
const CONVERGENCE_CHECK: SimTime = SimTime(1_000_000);

/// Message counts and bytes by kind.
#[derive(Clone, Debug, Default)]
pub struct MessageStats {
    pub sent: [u64; MessageKind::COUNT],
    pub bytes: [u64; MessageKind::COUNT],
    /// Lost by the network (drop probability and message_loss faults).
    pub lost: u64,
    /// Not delivered because a partition separated sender and receiver.
    pub partitioned: u64,
    /// Arrived at a node whose process was down.
    pub to_down_node: u64,
}

pub struct Simulation {
    scenario: Scenario,
    now: SimTime,
    queue: EventQueue<Event>,
    nodes: Vec<Node>,
    node_dc: Vec<DcId>,
    ring: Arc<Ring>,
    network: NetworkModel,
    storage: StorageModel,
    driver: Driver,
    observer: Observer,
    /// Reused effect buffer: protocol calls push into it, `apply` drains it.
    effects: Vec<Effect>,
    driver_timers: Vec<(SimTime, DriverTimer)>,
    digest: u64,
    events: u64,
    end: SimTime,
    messages: MessageStats,
    value_bytes: u64,
    names: Vec<String>,
    faults: FaultPlan,
    /// Per node: how many active faults hold its process down.
    down: Vec<u16>,
    incarnation: Vec<u32>,
    active_partitions: Vec<usize>,
    active_slow: Vec<usize>,
    extra_loss: f64,
    open_windows: u32,
    /// Whether a fault window was open at any time in the current timeline interval.
    fault_in_interval: bool,
    tick_interval: SimTime,
    last_tick: SimTime,
    /// When the last fault's effects end, if any fault has an end.
    last_fault_end: Option<SimTime>,
    converged_at: Option<SimTime>,
    /// How long after a write started its replicas may differ without counting as divergent.
    settle: SimTime,
    /// Per node: replica reads and writes it served (its storage load).
    node_requests: Vec<u64>,
    /// Nodes whose process is down right now.
    down_nodes: u64,
    /// Keys that may diverge (see `scan_divergence`); a set only counted, never iterated
    /// into an outcome that depends on order.
    watch: crate::ids::FxHashSet<crate::ids::KeyId>,
    full_scan: bool,
    admin: membership::MembershipAdmin,
    /// The nodes' gossip stream: one for all, handed to a node with each timer.
    gossip_rng: SimRng,
    node_cfg: Arc<NodeConfig>,
    /// `dynasim trace` only: watches the events of one key. `None` in normal runs, where
    /// each hook costs one branch.
    tracer: Option<Box<crate::trace::Recorder>>,
    #[cfg(feature = "event-profile")]
    profile: profile::EventProfile,
}

impl Simulation {
    /// Builds a run from a validated scenario.
    pub fn new(scenario: &Scenario) -> Simulation {
        let streams = RngStreams::new(scenario.seed);
        let node_dc: Vec<DcId> = scenario
            .cluster
            .datacenters
            .iter()
            .enumerate()
            .flat_map(|(d, dc)| (0..dc.nodes).map(move |_| DcId(d as u16)))
            .collect();
        let keys = scenario.workload.key_count();
        let rep = &scenario.replication;
        let placement = Placement::initial(
            &node_dc,
            &scenario.cluster.partitioning,
            &mut streams.stream(Stream::Ring, 0),
        );
        let ring = Arc::new(Ring::from_placement(
            &placement,
            &node_dc,
            rep.n as usize,
            rep.replicas_across_datacenters,
            keys,
        ));
        let rules = match rep.versioning {
            Versioning::VectorClock => VersionRules::VectorClock,
            Versioning::LastWriteWins => VersionRules::LastWriteWins,
        };
        let timeout = SimTime::from_ms_f64(scenario.workload.request_timeout_ms());
        let quorum = QuorumConfig {
            r: rep.r as usize,
            w: rep.w as usize,
            rules,
            read_repair: rep.read_repair,
            read_repair_window: SimTime::from_ms_f64(rep.read_repair_window_ms),
            op_timeout: timeout,
        };
        let node_cfg = Arc::new(NodeConfig {
            quorum: quorum.clone(),
            n: rep.n as usize,
            vclock_max_entries: rep.vclock_max_entries as usize,
            sloppy_quorum: rep.sloppy_quorum,
            hinted_handoff: rep.hinted_handoff,
            max_hints: rep.max_hints_per_node as usize,
            hint_scan_interval: SimTime::from_secs_f64(rep.hint_scan_interval_s),
            handoff_batch: rep.hint_handoff_batch as usize,
            probe_interval: SimTime::from_secs_f64(scenario.failure_detector.probe_interval_s),
            anti_entropy: scenario
                .anti_entropy
                .enabled
                .then(|| crate::node::AntiEntropyConfig {
                    interval: SimTime::from_secs_f64(scenario.anti_entropy.interval_s),
                    depth: scenario.anti_entropy.merkle_depth,
                }),
            gossip: Some(GossipConfig {
                interval: SimTime::from_secs_f64(scenario.gossip.interval_s),
                seeds: seed_nodes(&node_dc, scenario.gossip.seeds as usize),
                change_bytes: change_bytes(scenario),
            }),
            transfer_rate_bytes_per_s: scenario.membership.transfer_rate_bytes_per_s as u64,
            value_bytes: scenario.workload.value_bytes() as u64,
        });
        let nodes = (0..node_dc.len())
            .map(|i| Node::new(NodeId(i as u32), node_cfg.clone(), ring.clone(), 0))
            .collect();
        let dc_count = scenario.cluster.datacenters.len();
        let nodes_by_dc = (0..dc_count)
            .map(|d| {
                (0..node_dc.len())
                    .filter(|n| node_dc[*n].index() == d)
                    .map(|n| NodeId(n as u32))
                    .collect()
            })
            .collect();
        // Clients are spread evenly over datacenters, in turn.
        let client_dcs = (0..scenario.workload.clients())
            .map(|c| DcId((c as usize % dc_count) as u16))
            .collect();
        let ctx = ClientContext {
            ring: ring.clone(),
            routing: scenario.workload.routing(),
            quorum,
            nodes_by_dc,
            n: rep.n as usize,
            sloppy_quorum: rep.sloppy_quorum,
            retry_after: SimTime::from_secs_f64(scenario.failure_detector.client_retry_s),
            refresh_every: SimTime::from_secs_f64(scenario.membership.client_refresh_s),
        };
        let arrivals_end = SimTime::from_secs_f64(scenario.duration_s);
        let driver = Driver::new(
            &scenario.workload,
            client_dcs,
            ctx,
            streams.stream(Stream::Workload, 0),
            streams.stream(Stream::Client, 0),
            arrivals_end,
        );
        // After the last arrival, let requests finish (timeout plus repair window) and give
        // the repair machinery the configured quiet period.
        let drain = SimTime::from_ms_f64(
            scenario.workload.request_timeout_ms() * 2.0 + rep.read_repair_window_ms,
        ) + SimTime::from_secs_f64(scenario.metrics.quiet_period_s);
        let end = arrivals_end + drain;
        let names = crate::faults::node_names(scenario);
        let faults = crate::faults::plan(
            scenario,
            &node_dc,
            &names,
            end,
            &mut streams.stream(Stream::Faults, 0),
        );
        let node_count = node_dc.len();
        let mut sim = Simulation {
            scenario: scenario.clone(),
            now: SimTime::ZERO,
            queue: EventQueue::new(),
            nodes,
            node_dc,
            ring: ring.clone(),
            network: NetworkModel::new(&scenario.network, streams.stream(Stream::Network, 0)),
            storage: StorageModel::new(&scenario.storage, streams.stream(Stream::Storage, 0)),
            driver,
            observer: Observer::new(rules, keys, SimTime::from_ms_f64(scenario.metrics.sla_ms)),
            effects: Vec::new(),
            driver_timers: Vec::new(),
            digest: 0,
            events: 0,
            end,
            messages: MessageStats::default(),
            value_bytes: scenario.workload.value_bytes() as u64,
            names,
            faults,
            down: vec![0; node_count],
            incarnation: vec![0; node_count],
            active_partitions: Vec::new(),
            active_slow: Vec::new(),
            extra_loss: 0.0,
            open_windows: 0,
            fault_in_interval: false,
            tick_interval: SimTime::from_secs_f64(scenario.metrics.timeline_interval_s),
            last_tick: SimTime::ZERO,
            last_fault_end: None,
            converged_at: None,
            node_requests: vec![0; node_count],
            down_nodes: 0,
            watch: Default::default(),
            full_scan: false,
            admin: membership::MembershipAdmin::new(
                placement,
                ring.clone(),
                node_count,
                scenario
                    .cluster
                    .datacenters
                    .iter()
                    .map(|d| d.nodes)
                    .collect(),
                streams.stream(Stream::Ring, 1),
            ),
            gossip_rng: streams.stream(Stream::Gossip, 0),
            node_cfg,
            tracer: None,
            #[cfg(feature = "event-profile")]
            profile: Default::default(),
            settle: SimTime::from_ms_f64(
                scenario.workload.request_timeout_ms() + rep.read_repair_window_ms,
            ),
        };
        sim.queue
            .push(sim.tick_interval.min(end).as_micros(), Event::Tick);
        let mut effects = Vec::new();
        for i in 0..sim.nodes.len() {
            sim.nodes[i].start(&mut sim.gossip_rng, &mut effects);
            sim.apply(Endpoint::Node(NodeId(i as u32)), &mut effects);
        }
        for c in 0..sim.driver.client_count() {
            let client = ClientId(c as u32);
            sim.driver.start_client(client, &mut effects);
            sim.apply(Endpoint::Client(client), &mut effects);
        }
        for (at, action) in std::mem::take(&mut sim.faults.actions) {
            sim.queue.push(at.as_micros(), Event::Fault(action));
        }
        // Scheduled after the fault actions so that a check at the same instant sees them.
        sim.last_fault_end = sim
            .faults
            .windows
            .iter()
            .map(|w| SimTime(w.1))
            .max()
            .filter(|t| *t < end);
        if let Some(t) = sim.last_fault_end {
            sim.queue.push(t.as_micros(), Event::ConvergenceCheck);
        }
        let mut io = DriverIo {
            now: SimTime::ZERO,
            during_fault: false,
            effects: &mut sim.effects,
            timers: &mut sim.driver_timers,
            observer: &mut sim.observer,
        };
        sim.driver.start(&mut io);
        sim.schedule_driver_timers();
        sim
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

    /// Starts tracing (before the run): the recorder sees what concerns its key and
    /// changes nothing.
    pub fn set_tracer(&mut self, tracer: crate::trace::Recorder) {
        self.tracer = Some(Box::new(tracer));
    }

    pub fn take_tracer(&mut self) -> Option<crate::trace::Recorder> {
        self.tracer.take().map(|t| *t)
    }

    pub fn messages(&self) -> &MessageStats {
        &self.messages
    }

    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    pub fn ring(&self) -> &Ring {
        &self.ring
    }

    /// Replica requests each node served.
    pub fn node_requests(&self) -> &[u64] {
        &self.node_requests
    }

    pub fn node_names(&self) -> &[String] {
        &self.names
    }

    pub fn is_up(&self, node: NodeId) -> bool {
        self.down[node.index()] == 0
    }

    pub fn resolved_faults(&self) -> &[ResolvedFault] {
        &self.faults.resolved
    }

    pub fn fault_windows(&self) -> &[(u64, u64)] {
        &self.faults.windows
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
        while let Some(time) = self.queue.peek_time() {
            if time > limit {
                break;
            }
            #[cfg(feature = "event-profile")]
            let started = profile::now();
            let Some((time, event)) = self.queue.pop() else {
                break;
            };
            debug_assert!(time >= self.now.as_micros(), "time went backwards");
            // Start loading the node the next event goes to while this one is handled.
            if let Some(next) = self.queue.next_hint()
                && let Some(node) = self.nodes.get(next as usize)
            {
                prefetch(node);
            }
            self.now = SimTime(time);
            self.events += 1;
            self.digest = mix64(self.digest ^ fingerprint(time, &event));
            if self.tracer.is_some() {
                self.trace_event(&event);
            }
            #[cfg(feature = "event-profile")]
            let kind = profile::kind_of(&event);
            self.dispatch(event);
            if let Some(t) = self.tracer.as_deref_mut() {
                t.end_event();
            }
            #[cfg(feature = "event-profile")]
            self.profile.record(kind, started);
        }
        self.now = self.now.max(SimTime(limit));
    }

    fn dispatch(&mut self, event: Event) {
        let now = self.now;
        match event {
            Event::Deliver {
                to: Endpoint::Node(node),
                ..
            }
            | Event::NodeTimer { node, .. }
                if self.down[node.index()] > 0 =>
            {
                if matches!(event, Event::Deliver { .. }) {
                    self.messages.to_down_node += 1;
                }
            }
            Event::NodeTimer {
                node, incarnation, ..
            } if incarnation != self.incarnation[node.index()] => {}
            Event::Deliver {
                from,
                to: Endpoint::Node(node),
                msg,
            } => {
                if matches!(
                    msg,
                    Message::ReplicaRead { .. } | Message::ReplicaWrite { op: Some(_), .. }
                ) {
                    self.node_requests[node.index()] += 1;
                }
                self.watch_delivery(&msg);
                if let Some(t) = self.tracer.as_deref_mut() {
                    t.before_node_delivery(now.as_micros(), from, &self.nodes[node.index()], &msg);
                }
                let mut effects = std::mem::take(&mut self.effects);
                self.nodes[node.index()].handle_message(now, from, msg, &mut effects);
                if let Some(t) = self.tracer.as_deref_mut() {
                    t.after_node_delivery(now.as_micros(), &self.nodes[node.index()], &effects);
                }
                self.apply(Endpoint::Node(node), &mut effects);
                self.effects = effects;
                self.note_epoch(node);
            }
            Event::NodeTimer { node, timer, .. } => {
                let mut effects = std::mem::take(&mut self.effects);
                let node_state = &mut self.nodes[node.index()];
                node_state.handle_timer(now, timer, &mut self.gossip_rng, &mut effects);
                self.apply(Endpoint::Node(node), &mut effects);
                self.effects = effects;
                self.note_epoch(node);
            }
            Event::Deliver {
                from,
                to: Endpoint::Client(client),
                msg,
            } => {
                self.with_driver(|driver, io| driver.on_message(client, from, msg, io));
            }
            Event::ClientTimer { client, timer } => {
                self.with_driver(|driver, io| driver.on_client_timer(client, timer, io));
            }
            Event::Driver(timer) => {
                self.with_driver(|driver, io| driver.on_timer(timer, io));
            }
            Event::Fault(action) => self.apply_fault(action),
            Event::Tick => {
                let backlog = self.nodes.iter().map(|n| n.hint_count() as u64).sum();
                let divergent = self.scan_divergence();
                let fault = self.fault_in_interval || self.open_windows > 0;
                self.observer
                    .close_interval(self.last_tick, now, backlog, divergent, fault);
                self.fault_in_interval = self.open_windows > 0;
                self.last_tick = now;
                if now < self.end {
                    let next = (now + self.tick_interval).min(self.end);
                    self.queue.push(next.as_micros(), Event::Tick);
                }
            }
            Event::ConvergenceCheck => {
                if self.scan_divergence() == 0 {
                    self.converged_at = Some(now);
                } else {
                    self.queue.push(
                        (now + CONVERGENCE_CHECK).as_micros(),
                        Event::ConvergenceCheck,
                    );
                }
            }
        }
    }

    /// Keys whose live home replicas hold different version sets (compared by write id),
    /// leaving out keys a client started writing within the settle window (request
    /// timeout plus read-repair window): in-flight writes explain their differences.
    pub fn divergent_keys(&self) -> u64 {
        let keys = self.ring.key_count() as u32;
        (0..keys)
            .filter(|k| self.diverges(crate::ids::KeyId(*k)))
            .count() as u64
    }

    fn diverges(&self, key: crate::ids::KeyId) -> bool {
        if self.observer.written_recently(key, self.now, self.settle) {
            return false;
        }
        let mut live = self
            .ring
            .replicas(key)
            .iter()
            .filter(|n| self.down[n.index()] == 0);
        let Some(first) = live.next() else {
            return false;
        };
        let reference = self.nodes[first.index()].stored(key);
        live.any(|n| !same_writes(reference, self.nodes[n.index()].stored(key)))
    }

    /// `divergent_keys`, incrementally: only keys whose replicas received data since they
    /// were last seen converged are looked at, unless something changed the replica sets
    /// themselves (a node went down or came back, the ring changed), which forces a full
    /// scan. Keys still settling or diverging stay on the watch list.
    fn scan_divergence(&mut self) -> u64 {
        if self.full_scan {
            self.full_scan = false;
            let keys = self.ring.key_count() as u32;
            self.watch = (0..keys)
                .map(crate::ids::KeyId)
                .filter(|k| self.watch_key(*k))
                .collect();
        } else {
            let watch = std::mem::take(&mut self.watch);
            self.watch = watch.into_iter().filter(|k| self.watch_key(*k)).collect();
        }
        self.watch.iter().filter(|k| self.diverges(**k)).count() as u64
    }

    /// A node went down or came back: its keys' live replica sets changed.
    fn watch_node_keys(&mut self, node: NodeId) {
        let ring = self.ring.clone();
        for slot in ring.home_slots(node) {
            self.watch.extend(ring.keys_of_slot(*slot));
        }
    }

    /// Data arriving at a replica may make its key diverge (or converge): watch it.
    fn watch_delivery(&mut self, msg: &Message) {
        match msg {
            Message::ReplicaWrite { key, .. } | Message::HintHandoff { key, .. } => {
                self.watch.insert(*key);
            }
            Message::AeData { entries, .. } | Message::TransferBatch { entries } => {
                self.watch.extend(entries.iter().map(|(k, _)| *k));
            }
            _ => {}
        }
    }

    /// Whether a key must stay watched: it diverges, or a write to it is still settling.
    fn watch_key(&self, key: crate::ids::KeyId) -> bool {
        self.observer.written_recently(key, self.now, self.settle) || self.diverges(key)
    }

    /// Seconds from the end of the last fault until no key diverged (checked every second);
    /// `None` if that never happened or there was no fault with an end.
    pub fn time_to_converge_s(&self) -> Option<f64> {
        Some(
            self.converged_at?
                .saturating_sub(self.last_fault_end?)
                .as_secs_f64(),
        )
    }

    /// Audits every acknowledged write against what the home replicas and hint stores hold.
    pub fn audit_durability(&self) -> crate::observer::DurabilitySummary {
        let hinting: Vec<&Node> = self.nodes.iter().filter(|n| n.hint_count() > 0).collect();
        self.observer.audit(|key| {
            let mut held: Vec<&crate::node::Version> = Vec::new();
            for n in self.ring.replicas(key) {
                held.extend(self.nodes[n.index()].stored(key));
            }
            for node in &hinting {
                held.extend(node.hinted(key));
            }
            held
        })
    }

    fn apply_fault(&mut self, action: FaultAction) {
        match action {
            FaultAction::NodeDown { node, wipe } => {
                let i = node.index();
                if self.down[i] == 0 {
                    self.nodes[i].crash();
                    self.incarnation[i] += 1;
                    self.down_nodes += 1;
                    self.watch_node_keys(node);
                }
                if wipe {
                    self.nodes[i].wipe_disk();
                }
                self.down[i] += 1;
            }
            FaultAction::NodeUp { node } => {
                let i = node.index();
                debug_assert!(self.down[i] > 0, "node up without down");
                // A node that left the cluster stays down whatever else ends.
                if self.admin.departed.contains(&node) {
                    return;
                }
                self.down[i] = self.down[i].saturating_sub(1);
                if self.down[i] == 0 {
                    self.down_nodes -= 1;
                    self.watch_node_keys(node);
                    let mut effects = std::mem::take(&mut self.effects);
                    self.nodes[i].restart(&mut self.gossip_rng, &mut effects);
                    self.apply(Endpoint::Node(node), &mut effects);
                    self.effects = effects;
                }
            }
            FaultAction::PartitionStart { fault } => self.active_partitions.push(fault),
            FaultAction::PartitionEnd { fault } => self.active_partitions.retain(|f| *f != fault),
            FaultAction::SlowStart { fault } => self.active_slow.push(fault),
            FaultAction::SlowEnd { fault } => self.active_slow.retain(|f| *f != fault),
            FaultAction::LossStart { probability } => self.extra_loss += probability,
            FaultAction::LossEnd { probability } => {
                self.extra_loss = (self.extra_loss - probability).max(0.0)
            }
            FaultAction::ClockSkew { node, offset_us } => {
                self.nodes[node.index()].set_clock_offset_us(offset_us)
            }
            FaultAction::WindowStart => {
                self.open_windows += 1;
                self.fault_in_interval = true;
            }
            FaultAction::WindowEnd => self.open_windows = self.open_windows.saturating_sub(1),
            FaultAction::Join { .. } | FaultAction::Leave { .. } => self.membership_action(action),
        }
    }

    /// Whether an active partition separates two endpoints.
    fn partitioned(&self, a: Endpoint, b: Endpoint) -> bool {
        self.active_partitions.iter().any(|f| {
            let Some(plan) = &self.faults.partitions[*f] else {
                return false;
            };
            let group = |e: Endpoint| match e {
                // A node that joined after the plan was made sits with its datacenter.
                Endpoint::Node(n) => plan
                    .node_group
                    .get(n.index())
                    .copied()
                    .unwrap_or(plan.dc_group[self.node_dc[n.index()].index()]),
                Endpoint::Client(c) => plan.dc_group[self.driver.client_dc(c).index()],
            };
            group(a) != group(b)
        })
    }

    /// Extra delay on what a slow node sends.
    fn slow_delay(&mut self, from: Endpoint) -> SimTime {
        let Endpoint::Node(node) = from else {
            return SimTime::ZERO;
        };
        let mut extra = SimTime::ZERO;
        for f in &self.active_slow {
            if let Some((nodes, sampler)) = &self.faults.slow[*f]
                && nodes.binary_search(&node).is_ok()
            {
                extra = extra + self.network.extra_delay(sampler);
            }
        }
        extra
    }

    fn with_driver(&mut self, f: impl FnOnce(&mut Driver, &mut DriverIo) -> Option<ClientId>) {
        let mut effects = std::mem::take(&mut self.effects);
        let mut io = DriverIo {
            now: self.now,
            during_fault: self.open_windows > 0,
            effects: &mut effects,
            timers: &mut self.driver_timers,
            observer: &mut self.observer,
        };
        let client = f(&mut self.driver, &mut io);
        match client {
            Some(c) => self.apply(Endpoint::Client(c), &mut effects),
            None => debug_assert!(effects.is_empty(), "effects without a source"),
        }
        self.effects = effects;
        self.schedule_driver_timers();
    }

    fn schedule_driver_timers(&mut self) {
        for (at, timer) in self.driver_timers.drain(..) {
            self.queue.push(at.as_micros(), Event::Driver(timer));
        }
    }

    fn dc_of(&self, e: Endpoint) -> DcId {
        match e {
            Endpoint::Node(n) => self.node_dc[n.index()],
            Endpoint::Client(c) => self.driver.client_dc(c),
        }
    }

    fn link_class(&self, from: Endpoint, to: Endpoint) -> LinkClass {
        if from == to {
            LinkClass::Local
        } else if self.dc_of(from) == self.dc_of(to) {
            LinkClass::IntraDc
        } else {
            LinkClass::InterDc
        }
    }

    /// Shows the tracer an event before it is handled: drops at down nodes, timers,
    /// client deliveries and faults (node deliveries are shown around the handler).
    #[cold]
    fn trace_event(&mut self, event: &Event) {
        let now = self.now.as_micros();
        let Some(t) = self.tracer.as_deref_mut() else {
            return;
        };
        match event {
            Event::Deliver {
                from,
                to: to @ Endpoint::Node(node),
                msg,
            } if self.down[node.index()] > 0 => t.on_dropped_down(now, *from, *to, msg),
            Event::NodeTimer {
                node,
                incarnation,
                timer,
            } if self.down[node.index()] == 0 && *incarnation == self.incarnation[node.index()] => {
                t.on_node_timer(now, *node, *timer)
            }
            Event::Deliver {
                from,
                to: Endpoint::Client(client),
                msg,
            } => t.on_client_delivery(now, *from, *client, msg),
            Event::Fault(action) => t.on_fault(now, action),
            _ => {}
        }
    }

    /// Turns a host's effects into scheduled events.
    fn apply(&mut self, source: Endpoint, effects: &mut Vec<Effect>) {
        for effect in effects.drain(..) {
            match effect {
                Effect::Send { to, msg, disk } => {
                    let kind = msg.kind();
                    self.messages.sent[kind as usize] += 1;
                    self.messages.bytes[kind as usize] += msg.size_bytes(self.value_bytes);
                    if !self.active_partitions.is_empty() && self.partitioned(source, to) {
                        self.messages.partitioned += 1;
                        if let Some(t) = self.tracer.as_deref_mut() {
                            t.on_send(self.now.as_micros(), source, to, &msg, Fate::Partitioned);
                        }
                        continue;
                    }
                    let disk_time = self.storage.delay(disk);
                    let class = self.link_class(source, to);
                    let slow = if self.active_slow.is_empty() {
                        SimTime::ZERO
                    } else {
                        self.slow_delay(source)
                    };
                    match self.network.transit(class, kind, self.extra_loss) {
                        Some(transit) => {
                            let at = self.now + disk_time + slow + transit;
                            if let Some(t) = self.tracer.as_deref_mut() {
                                let fate = Fate::InFlight(at.as_micros());
                                t.on_send(self.now.as_micros(), source, to, &msg, fate);
                            }
                            self.queue.push_hinted(
                                at.as_micros(),
                                Event::Deliver {
                                    from: source,
                                    to,
                                    msg,
                                },
                                node_hint(to),
                            );
                        }
                        None => {
                            self.messages.lost += 1;
                            if let Some(t) = self.tracer.as_deref_mut() {
                                t.on_send(self.now.as_micros(), source, to, &msg, Fate::Lost);
                            }
                        }
                    }
                }
                Effect::SetTimer { after, timer } => {
                    let at = (self.now + after).as_micros();
                    let event = match source {
                        Endpoint::Node(node) => Event::NodeTimer {
                            node,
                            incarnation: self.incarnation[node.index()],
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

/// The queue's locality hint for an event addressed to `to`: the node it will touch.
fn node_hint(to: Endpoint) -> u32 {
    match to {
        Endpoint::Node(node) => node.0,
        Endpoint::Client(_) => crate::engine::queue::NO_HINT,
    }
}

/// A cheap summary of an event for the run digest: its time, type and endpoints.
fn fingerprint(time: u64, event: &Event) -> u64 {
    let endpoint = |e: &Endpoint| match e {
        Endpoint::Node(n) => n.0 as u64,
        Endpoint::Client(c) => (1 << 32) | c.0 as u64,
    };
    let timer = |t: &Timer| {
        let op = match t {
            Timer::OpTimeout(op) | Timer::RepairWindow(op) => op.0 << 3,
            _ => 0,
        };
        op | t.kind_index() as u64
    };
    let body = match event {
        Event::Deliver { from, to, msg } => {
            mix64(endpoint(from) ^ mix64(endpoint(to))) ^ (msg.kind() as u64) << 56
        }
        Event::NodeTimer { node, timer: t, .. } => mix64(node.0 as u64 ^ 2 << 40) ^ timer(t),
        Event::ClientTimer { client, timer: t } => mix64(client.0 as u64 ^ 3 << 40) ^ timer(t),
        Event::Driver(d) => match d {
            DriverTimer::Arrival => 4 << 40,
            DriverTimer::RequestTimeout(r) => mix64(r.0 ^ 5 << 56),
            DriverTimer::ProbeRead { client, key } => {
                mix64((client.0 as u64) << 32 | key.0 as u64) ^ 6 << 56
            }
        },
        Event::Fault(a) => mix64(7 << 56 ^ fault_code(a)),
        Event::Tick => 8 << 56,
        Event::ConvergenceCheck => 9 << 56,
    };
    mix64(time) ^ body
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

/// Whether two version sets hold the same writes.
fn same_writes(a: &[crate::node::Version], b: &[crate::node::Version]) -> bool {
    a.len() == b.len() && a.iter().all(|v| b.iter().any(|w| w.write == v.write))
}

/// Gossip seeds: the first `count` nodes taking datacenters in turn, so every datacenter
/// has one when it can.
fn seed_nodes(node_dc: &[DcId], count: usize) -> Vec<NodeId> {
    let dcs = node_dc.iter().map(|d| d.index() + 1).max().unwrap_or(1);
    let mut per_dc: Vec<Vec<NodeId>> = vec![Vec::new(); dcs];
    for (n, d) in node_dc.iter().enumerate() {
        per_dc[d.index()].push(NodeId(n as u32));
    }
    let longest = per_dc.iter().map(Vec::len).max().unwrap_or(0);
    (0..longest)
        .flat_map(|i| per_dc.iter().filter_map(move |nodes| nodes.get(i).copied()))
        .take(count)
        .collect()
}

/// What one membership change weighs in a gossip message: the tokens (or partitions) of
/// one node, 16 bytes each, plus its address and status.
fn change_bytes(s: &Scenario) -> u64 {
    let p = &s.cluster.partitioning;
    let per_node = match p.strategy {
        crate::scenario::PartitionStrategy::EqualPartitions => {
            (p.partitions / s.node_count().max(1)).max(1)
        }
        _ => p.tokens_per_node,
    };
    64 + 16 * per_node as u64
}
