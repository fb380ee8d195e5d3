//! The protocol without the simulator: a handful of `Node`s and a `Client` wired by a tiny
//! in-test network (zero latency, FIFO delivery, timers fired only when a test moves time
//! on, chosen nodes down). No `Simulation`, no latency model, no observer: what these tests
//! see is the sans-IO state machines' own behaviour, message by message.

use dynasim::engine::{RngStreams, SimRng, SimTime, Stream};
use dynasim::ids::{ClientId, DcId, Endpoint, KeyId, NodeId, RequestId, WriteId};
use dynasim::node::{
    Causal, Effect, Fact, FailCause, Message, MessageKind, Node, OpResult, Route, Timer,
};
use dynasim::ring::Ring;
use dynasim::scenario::{Scenario, load_str};
use dynasim::sim::build;
use dynasim::workload::{Client, ClientContext, PutCall};
use serde_json::json;
use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;

const CLIENT: ClientId = ClientId(0);

/// Five nodes in one datacenter, N=3, R=W=2, anti-entropy and gossip effectively off.
fn scenario(routing: &str, versioning: &str, sloppy: bool) -> Scenario {
    scenario_with(routing, versioning, sloppy, &[])
}

/// The harness scenario with `--set`-style edits.
fn scenario_with(routing: &str, versioning: &str, sloppy: bool, sets: &[&str]) -> Scenario {
    let doc = json!({
        "name": "harness",
        "duration_s": 10,
        "cluster": {
            "datacenters": [{"name": "dc", "nodes": 5}],
            "partitioning": {"strategy": "equal_partitions", "partitions": 20}
        },
        "replication": {"n": 3, "r": 2, "w": 2, "sloppy_quorum": sloppy,
                        "versioning": versioning, "hint_scan_interval_s": 1},
        "anti_entropy": {"enabled": false},
        "gossip": {"interval_s": 1000},
        "failure_detector": {"op_timeout_ms": 100},
        "workload": {"kind": "open_loop", "ops_per_s": 1, "clients": 1, "keys": 10,
                     "routing": routing, "request_timeout_ms": 100}
    });
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    let sets = dynasim::scenario::parse_sets(&sets).expect("valid edits");
    load_str(&doc.to_string(), "harness", &sets).expect("a valid harness scenario")
}

struct Net {
    now: SimTime,
    nodes: Vec<Node>,
    client: Client,
    ctx: ClientContext,
    ring: Arc<Ring>,
    down: BTreeSet<NodeId>,
    in_flight: VecDeque<(Endpoint, Endpoint, Message)>,
    timers: Vec<(SimTime, Endpoint, Timer)>,
    /// Every message delivered (to a live endpoint), in order.
    delivered: Vec<(Endpoint, Endpoint, MessageKind)>,
    /// What the client was answered, in order.
    outcomes: Vec<OpResult>,
    /// For each answer, the replica a read's reply named as the fastest.
    fastest: Vec<Option<NodeId>>,
    rng: SimRng,
    /// Messages of this kind are held back instead of delivered (as if they waited for a
    /// disk), into `held`.
    hold: Option<MessageKind>,
    held: Vec<(Endpoint, Endpoint, Message)>,
}

impl Net {
    fn new(s: &Scenario) -> Net {
        let streams = RngStreams::new(s.seed);
        let node_dc = build::node_datacenters(s);
        let (_, ring) = build::initial_ring(s, &streams);
        let cfg = Arc::new(build::node_config(s, &node_dc));
        let nodes = (0..node_dc.len())
            .map(|i| Node::new(NodeId(i as u32), cfg.clone(), ring.clone(), 0))
            .collect();
        let ctx = build::client_context(s, ring.clone(), &node_dc);
        let mut net = Net {
            now: SimTime::ZERO,
            nodes,
            client: Client::new(CLIENT, DcId(0), ring.clone()),
            ctx,
            ring,
            down: BTreeSet::new(),
            in_flight: VecDeque::new(),
            timers: Vec::new(),
            delivered: Vec::new(),
            outcomes: Vec::new(),
            fastest: Vec::new(),
            rng: streams.stream(Stream::Client, 0),
            hold: None,
            held: Vec::new(),
        };
        let mut gossip = streams.stream(Stream::Gossip, 0);
        for i in 0..net.nodes.len() {
            let mut out = Vec::new();
            net.nodes[i].start(&mut gossip, &mut out);
            net.take(Endpoint::Node(NodeId(i as u32)), out);
        }
        net
    }

    fn take(&mut self, from: Endpoint, effects: Vec<Effect>) {
        for e in effects {
            match e {
                Effect::Send { to, msg, .. } => self.in_flight.push_back((from, to, msg)),
                Effect::SetTimer { after, timer } => {
                    self.timers.push((self.now + after, from, timer))
                }
            }
        }
    }

    /// Delivers messages until none is in flight.
    fn settle(&mut self) {
        while let Some((from, to, msg)) = self.in_flight.pop_front() {
            let kind = msg.kind();
            if self.hold == Some(kind) {
                self.held.push((from, to, msg));
                continue;
            }
            let mut out = Vec::new();
            match to {
                Endpoint::Node(n) if self.down.contains(&n) => continue,
                Endpoint::Node(n) => {
                    self.nodes[n.index()].handle_message(self.now, from, msg, &mut out)
                }
                Endpoint::Client(_) => {
                    if let Some(o) = self
                        .client
                        .handle_message(self.now, from, msg, &self.ctx, &mut out)
                    {
                        self.outcomes.push(o.result);
                        self.fastest.push(o.fastest);
                    }
                }
            }
            self.delivered.push((from, to, kind));
            self.take(to, out);
        }
    }

    /// Moves time on by `by`, firing due timers of live endpoints in time order (gossip
    /// timers are dropped: membership is not under test here).
    fn advance(&mut self, by: SimTime) {
        let until = self.now + by;
        let mut gossip = RngStreams::new(99).stream(Stream::Gossip, 0);
        loop {
            self.timers.sort_by_key(|(at, _, _)| *at);
            let Some(i) = self.timers.iter().position(|(at, _, _)| *at <= until) else {
                break;
            };
            let (at, owner, timer) = self.timers.remove(i);
            self.now = at;
            let mut out = Vec::new();
            match owner {
                Endpoint::Node(n) if self.down.contains(&n) || timer == Timer::Gossip => continue,
                Endpoint::Node(n) => {
                    self.nodes[n.index()].handle_timer(at, timer, &mut gossip, &mut out)
                }
                Endpoint::Client(_) => continue,
            }
            self.take(owner, out);
            self.settle();
        }
        self.now = until;
    }

    fn crash(&mut self, n: NodeId) {
        self.down.insert(n);
        self.nodes[n.index()].crash();
        self.timers
            .retain(|(_, owner, _)| *owner != Endpoint::Node(n));
    }

    fn restart(&mut self, n: NodeId) {
        self.down.remove(&n);
        let mut out = Vec::new();
        let mut gossip = RngStreams::new(98).stream(Stream::Gossip, 0);
        self.nodes[n.index()].restart(self.now, &mut gossip, &mut out);
        self.take(Endpoint::Node(n), out);
    }

    /// A put sent straight to `coordinator` (as if forwarded), with an explicit context.
    fn put_at(&mut self, coordinator: NodeId, req: u64, key: KeyId, write: u64, context: Causal) {
        self.put_routed(coordinator, Route::Forwarded, req, key, write, context);
    }

    /// A put arriving at `at` by `route`, with an explicit context.
    fn put_routed(
        &mut self,
        at: NodeId,
        route: Route,
        req: u64,
        key: KeyId,
        write: u64,
        context: Causal,
    ) {
        self.send_put(at, route, (req, key, write), context, false);
    }

    /// A delete (a put of a tombstone) sent straight to `coordinator`.
    fn delete_at(
        &mut self,
        coordinator: NodeId,
        req: u64,
        key: KeyId,
        write: u64,
        context: Causal,
    ) {
        self.send_put(
            coordinator,
            Route::Forwarded,
            (req, key, write),
            context,
            true,
        );
    }

    fn send_put(
        &mut self,
        at: NodeId,
        route: Route,
        (req, key, write): (u64, KeyId, u64),
        context: Causal,
        delete: bool,
    ) {
        let msg = Message::Put {
            req: RequestId(req),
            client: CLIENT,
            key,
            write: WriteId(write),
            context,
            blind: false,
            delete,
            route,
            prefer: None,
        };
        self.in_flight
            .push_back((Endpoint::Client(CLIENT), Endpoint::Node(at), msg));
        self.settle();
    }

    fn client_put(&mut self, req: u64, key: KeyId, write: u64) -> Option<NodeId> {
        self.client_put_preferring(req, key, write, None)
    }

    /// A client put (with an empty context) that asks `prefer` to coordinate it.
    fn client_put_preferring(
        &mut self,
        req: u64,
        key: KeyId,
        write: u64,
        prefer: Option<NodeId>,
    ) -> Option<NodeId> {
        let mut out = Vec::new();
        let context = prefer.map(|_| Causal::default());
        let put = PutCall {
            req: RequestId(req),
            key,
            write: WriteId(write),
            delete: false,
            context,
            prefer,
        };
        let entry = self
            .client
            .start_put(self.now, put, &self.ctx, &mut self.rng, &mut out);
        self.take(Endpoint::Client(CLIENT), out);
        self.settle();
        entry
    }

    fn client_get(&mut self, req: u64, key: KeyId) -> Option<NodeId> {
        let mut out = Vec::new();
        let entry = (self.client).start_get(
            self.now,
            RequestId(req),
            key,
            &self.ctx,
            &mut self.rng,
            &mut out,
        );
        self.take(Endpoint::Client(CLIENT), out);
        self.settle();
        entry
    }

    fn count(&self, kind: MessageKind) -> usize {
        self.delivered.iter().filter(|(_, _, k)| *k == kind).count()
    }

    fn holders(&self, key: KeyId, write: u64) -> Vec<NodeId> {
        (0..self.nodes.len())
            .map(|i| NodeId(i as u32))
            .filter(|n| {
                self.nodes[n.index()]
                    .stored(key)
                    .iter()
                    .any(|v| v.write == WriteId(write))
            })
            .collect()
    }
}

fn write_result(o: &OpResult) -> Result<WriteId, FailCause> {
    match o {
        OpResult::Put(result) => result.as_ref().map(|v| v.write).map_err(|e| *e),
        OpResult::Get(_) => panic!("expected a put result, got {o:?}"),
    }
}

fn read_writes(o: &OpResult) -> Result<Vec<WriteId>, FailCause> {
    match o {
        OpResult::Get(result) => result
            .as_ref()
            .map(|vs| vs.iter().map(|v| v.write).collect())
            .map_err(|e| *e),
        OpResult::Put(_) => panic!("expected a get result, got {o:?}"),
    }
}

#[test]
fn a_put_reaches_its_replicas_and_is_acknowledged_after_w() {
    let s = scenario("partition_aware", "vector_clock", true);
    let mut net = Net::new(&s);
    let key = KeyId(3);
    let homes = net.ring.replicas(key).to_vec();
    let entry = net.client_put(1, key, 11);
    assert_eq!(
        entry,
        Some(homes[0]),
        "partition-aware clients enter at the first home"
    );
    assert_eq!(net.outcomes.len(), 1);
    assert_eq!(write_result(&net.outcomes[0]), Ok(WriteId(11)));
    // The coordinator writes to all N homes (itself included) and all of them ack.
    assert_eq!(net.count(MessageKind::WriteRequest), 3);
    assert_eq!(net.count(MessageKind::WriteAck), 3);
    assert_eq!(net.holders(key, 11), {
        let mut h = homes.clone();
        h.sort();
        h
    });
}

#[test]
fn a_put_with_one_home_down_still_gathers_w_and_with_two_down_fails_without_sloppy_quorum() {
    let s = scenario("partition_aware", "vector_clock", false);
    let mut net = Net::new(&s);
    let key = KeyId(5);
    let homes = net.ring.replicas(key).to_vec();
    net.crash(homes[2]);
    net.put_at(homes[0], 1, key, 21, Causal::default());
    assert_eq!(
        write_result(&net.outcomes[0]),
        Ok(WriteId(21)),
        "W=2 of the 2 live homes"
    );
    assert!(!net.holders(key, 21).contains(&homes[2]));
    // Once the op times out the coordinator suspects the silent home. A second home goes
    // down unnoticed: the next put reaches one replica and times out, never acknowledged.
    net.advance(SimTime::from_ms_f64(150.0));
    net.crash(homes[1]);
    net.put_at(homes[0], 2, key, 22, Causal::default());
    assert_eq!(net.outcomes.len(), 1, "one ack of W=2 is no answer yet");
    net.advance(SimTime::from_ms_f64(150.0));
    assert_eq!(write_result(&net.outcomes[1]), Err(FailCause::Timeout));
    // Now both are suspected and, without sloppy quorum, fewer than W homes are
    // reachable: the coordinator refuses at once.
    net.put_at(homes[0], 3, key, 23, Causal::default());
    assert_eq!(
        write_result(&net.outcomes[2]),
        Err(FailCause::NotEnoughReplicas)
    );
}

#[test]
fn concurrent_puts_through_two_coordinators_come_back_as_siblings() {
    let s = scenario("partition_aware", "vector_clock", true);
    let mut net = Net::new(&s);
    let key = KeyId(7);
    let homes = net.ring.replicas(key).to_vec();
    // Same (empty) context, different coordinators: neither descends from the other.
    net.put_at(homes[0], 1, key, 31, Causal::default());
    net.put_at(homes[1], 2, key, 32, Causal::default());
    assert_eq!(write_result(&net.outcomes[0]), Ok(WriteId(31)));
    assert_eq!(write_result(&net.outcomes[1]), Ok(WriteId(32)));
    net.client_get(3, key);
    let mut got = read_writes(net.outcomes.last().expect("a read")).expect("read succeeds");
    got.sort();
    assert_eq!(
        got,
        vec![WriteId(31), WriteId(32)],
        "both versions survive as siblings"
    );
}

#[test]
fn last_write_wins_keeps_one_version_of_concurrent_puts() {
    let s = scenario("partition_aware", "last_write_wins", true);
    let mut net = Net::new(&s);
    let key = KeyId(7);
    let homes = net.ring.replicas(key).to_vec();
    net.put_at(homes[0], 1, key, 41, Causal::default());
    net.advance(SimTime::from_ms_f64(1.0));
    net.put_at(homes[1], 2, key, 42, Causal::default());
    net.client_get(3, key);
    let got = read_writes(net.outcomes.last().expect("a read")).expect("read succeeds");
    assert_eq!(got, vec![WriteId(42)], "the later stamp wins");
}

#[test]
fn a_hint_is_handed_back_when_its_owner_returns() {
    let s = scenario("partition_aware", "vector_clock", true);
    let mut net = Net::new(&s);
    let key = KeyId(2);
    let homes = net.ring.replicas(key).to_vec();
    let owner = homes[2];
    net.crash(owner);
    // The first put times out on the dead owner, which the coordinator then suspects.
    net.put_at(homes[0], 1, key, 51, Causal::default());
    net.advance(SimTime::from_ms_f64(150.0));
    // The next put goes to a fallback, which keeps the replica under a hint for the owner.
    net.put_at(homes[0], 2, key, 52, Causal::default());
    assert_eq!(
        write_result(net.outcomes.last().expect("an outcome")),
        Ok(WriteId(52))
    );
    let fallback = (0..net.nodes.len())
        .map(|i| NodeId(i as u32))
        .find(|n| net.nodes[n.index()].hint_count() > 0)
        .expect("a fallback holds a hint");
    assert!(
        !homes.contains(&fallback),
        "the hint sits outside the home replicas"
    );
    assert!(
        net.nodes[fallback.index()]
            .hinted(key)
            .any(|v| v.write == WriteId(52))
    );
    // The owner returns; the fallback's next scans hand the hint over and drop it on ack.
    net.restart(owner);
    net.advance(SimTime::from_secs_f64(5.0));
    assert!(net.count(MessageKind::HintHandoff) >= 1);
    assert!(
        net.holders(key, 52).contains(&owner),
        "the owner now stores the write"
    );
    assert_eq!(
        net.nodes[fallback.index()].hint_count(),
        0,
        "the hint is deleted"
    );
}

#[test]
fn a_client_driven_last_write_wins_client_coordinates_its_own_put() {
    let s = scenario("client_driven", "last_write_wins", true);
    let mut net = Net::new(&s);
    let key = KeyId(4);
    let entry = net.client_put(1, key, 61);
    assert_eq!(entry, None, "no node coordinates it");
    assert_eq!(net.count(MessageKind::Forward), 0);
    assert_eq!(net.count(MessageKind::WriteRequest), 3);
    assert_eq!(write_result(&net.outcomes[0]), Ok(WriteId(61)));
    // And a client-driven read asks the replicas itself and returns the write.
    assert_eq!(net.client_get(2, key), None);
    let got = read_writes(net.outcomes.last().expect("a read")).expect("read succeeds");
    assert_eq!(got, vec![WriteId(61)]);
}

/// The node that sent the write requests of the last put: its coordinator.
fn last_write_coordinator(net: &Net) -> Endpoint {
    net.delivered
        .iter()
        .rev()
        .find(|(_, _, k)| *k == MessageKind::WriteRequest)
        .map(|(from, _, _)| *from)
        .expect("a write request was sent")
}

#[test]
fn a_silent_replica_is_suspected_at_the_op_timeout_not_the_client_timeout() {
    // The client waits 1 s; the failure detector's op timeout is 50 ms (then 500 ms).
    for (op_timeout_ms, suspected_at_80ms) in [(50, true), (500, false)] {
        let s = scenario_with(
            "partition_aware",
            "vector_clock",
            true,
            &[
                "workload.request_timeout_ms=1000",
                &format!("failure_detector.op_timeout_ms={op_timeout_ms}"),
            ],
        );
        let mut net = Net::new(&s);
        let key = KeyId(2);
        let homes = net.ring.replicas(key).to_vec();
        net.crash(homes[2]);
        net.put_at(homes[0], 1, key, 51, Causal::default());
        assert_eq!(write_result(&net.outcomes[0]), Ok(WriteId(51)), "W=2 of 3");
        net.advance(SimTime::from_ms_f64(80.0));
        let suspects: Vec<NodeId> = net.nodes[homes[0].index()].suspects().collect();
        assert_eq!(
            suspects.contains(&homes[2]),
            suspected_at_80ms,
            "op_timeout_ms {op_timeout_ms}: suspects {suspects:?} at 80 ms"
        );
        // Either way, once the longer of the two has passed the silent node is suspected.
        net.advance(SimTime::from_ms_f64(1_000.0));
        assert!(
            net.nodes[homes[0].index()]
                .suspects()
                .any(|n| n == homes[2])
        );
    }
}

/// A harness under `write_coordinator: fastest_read`, key 3 and its home replicas.
fn fastest_read_net(routing: &str) -> (Net, KeyId, Vec<NodeId>) {
    let s = scenario_with(
        routing,
        "vector_clock",
        true,
        &["workload.write_coordinator=\"fastest_read\""],
    );
    let net = Net::new(&s);
    let key = KeyId(3);
    let homes = net.ring.replicas(key).to_vec();
    (net, key, homes)
}

#[test]
fn under_fastest_read_the_fastest_replier_of_the_read_coordinates_the_put() {
    let (mut net, key, homes) = fastest_read_net("partition_aware");
    net.client_put(1, key, 11);
    net.client_get(2, key);
    let fastest = net.fastest.last().copied().flatten();
    assert!(
        fastest.is_some_and(|n| homes.contains(&n)),
        "the read reply names a home replica: {fastest:?}"
    );
    // A put preferring the second home enters there and is coordinated there.
    let entry = net.client_put_preferring(3, key, 12, Some(homes[1]));
    assert_eq!(entry, Some(homes[1]));
    assert_eq!(last_write_coordinator(&net), Endpoint::Node(homes[1]));
    assert_eq!(
        write_result(net.outcomes.last().expect("answer")),
        Ok(WriteId(12))
    );
    // A node that is not a home replica is not a valid preference: the first home is used.
    let outsider = (0..5)
        .map(NodeId)
        .find(|n| !homes.contains(n))
        .expect("an outsider");
    let entry = net.client_put_preferring(4, key, 13, Some(outsider));
    assert_eq!(entry, Some(homes[0]));
    assert_eq!(last_write_coordinator(&net), Endpoint::Node(homes[0]));
}

#[test]
fn under_the_default_no_read_reply_names_a_replica() {
    let s = scenario("partition_aware", "vector_clock", true);
    let mut net = Net::new(&s);
    let key = KeyId(3);
    net.client_put(1, key, 11);
    net.client_get(2, key);
    assert_eq!(net.fastest.last(), Some(&None));
}

#[test]
fn behind_a_load_balancer_the_preference_travels_with_the_forwarded_put() {
    let (mut net, key, homes) = fastest_read_net("load_balancer");
    for (req, write) in [(1, 21), (2, 22), (3, 23), (4, 24)] {
        net.client_put_preferring(req, key, write, Some(homes[2]));
        assert_eq!(last_write_coordinator(&net), Endpoint::Node(homes[2]));
    }
}

/// A node outside the key's home replicas, as the harness ring places them.
fn non_home(net: &Net, key: KeyId) -> NodeId {
    (0..net.nodes.len() as u32)
        .map(NodeId)
        .find(|n| !net.ring.is_replica(key, *n))
        .expect("5 nodes, N=3")
}

#[test]
fn a_forwarded_put_landing_outside_the_home_replicas_is_forwarded_once_more_then_coordinated() {
    let s = scenario("partition_aware", "vector_clock", true);
    let mut net = Net::new(&s);
    let key = KeyId(4);
    let homes = net.ring.replicas(key).to_vec();
    let stranger = non_home(&net, key);
    // The sender's view said `stranger` is a home; by its own view it is not: on to a home.
    net.put_routed(stranger, Route::Forwarded, 1, key, 41, Causal::default());
    assert_eq!(write_result(&net.outcomes[0]), Ok(WriteId(41)));
    assert_eq!(last_write_coordinator(&net), Endpoint::Node(homes[0]));
    // The injected put counts as a forward itself: it and the one more hop.
    assert_eq!(net.count(MessageKind::Forward), 2);
    // Forwarded twice already: coordinated where it lands, never a third hop.
    net.put_routed(
        stranger,
        Route::ForwardedAgain,
        2,
        key,
        42,
        Causal::default(),
    );
    assert_eq!(write_result(&net.outcomes[1]), Ok(WriteId(42)));
    assert_eq!(last_write_coordinator(&net), Endpoint::Node(stranger));
    assert_eq!(net.count(MessageKind::Forward), 3, "only the injected one");
}

#[test]
fn during_a_range_move_the_coordinators_own_put_is_copied_to_the_new_owner() {
    let s = scenario("partition_aware", "vector_clock", true);
    let mut net = Net::new(&s);
    let key = KeyId(4);
    let homes = net.ring.replicas(key).to_vec();
    let new_owner = non_home(&net, key);
    net.put_at(homes[0], 1, key, 51, Causal::default());
    // The administrator moves the key from homes[0] to `new_owner` (epoch 1); the first
    // transfer tick sends the key as it is.
    let mut out = Vec::new();
    net.nodes[homes[0].index()].begin_transfer(new_owner, vec![key], 1, &mut out);
    net.take(Endpoint::Node(homes[0]), out);
    net.advance(SimTime::from_ms_f64(150.0));
    assert!(
        net.holders(key, 51).contains(&new_owner),
        "the snapshot arrived"
    );
    // A put homes[0] coordinates (and stores at once, before its own replica write) must
    // reach the new owner too, or a read there after the move misses it.
    net.put_at(homes[0], 2, key, 52, Causal::default());
    assert_eq!(write_result(&net.outcomes[1]), Ok(WriteId(52)));
    assert!(
        net.holders(key, 52).contains(&new_owner),
        "holders of w-52: {:?}",
        net.holders(key, 52)
    );
}

#[test]
fn every_replica_collects_a_tombstone_at_its_deletes_deadline_a_restarted_one_too() {
    let grace = ["replication.tombstone_gc_grace_s=2"];
    let s = scenario_with("partition_aware", "vector_clock", false, &grace);
    let mut net = Net::new(&s);
    let key = KeyId(4);
    let homes = net.ring.replicas(key).to_vec();
    net.put_at(homes[0], 1, key, 11, Causal::default());
    let context = net.nodes[homes[0].index()].stored(key)[0].causal.clone();
    net.delete_at(homes[0], 2, key, 12, context);
    assert_eq!(write_result(&net.outcomes[1]), Ok(WriteId(12)));
    let stored = |net: &Net, n: NodeId| -> Vec<(WriteId, bool)> {
        (net.nodes[n.index()].stored(key).iter())
            .map(|v| (v.write, v.tombstone))
            .collect()
    };
    for &h in &homes {
        assert_eq!(
            stored(&net, h),
            [(WriteId(12), true)],
            "{h:?} holds the tombstone"
        );
    }
    // One home restarts during the grace: it keeps its tombstone (on disk) and collects it
    // at the delete's deadline, not a full grace after its restart.
    net.crash(homes[2]);
    net.advance(SimTime::from_secs_f64(1.0));
    net.restart(homes[2]);
    net.advance(SimTime::from_secs_f64(0.9));
    assert_eq!(
        stored(&net, homes[2]),
        [(WriteId(12), true)],
        "kept before the deadline"
    );
    net.advance(SimTime::from_secs_f64(0.2));
    for &h in &homes {
        assert!(stored(&net, h).is_empty(), "{h:?} forgot the key");
        let mut collected = Vec::new();
        net.nodes[h.index()].drain_facts(|f| {
            if let Fact::Collected { key: k, writes } = f {
                collected.push((k, writes.to_vec()));
            }
        });
        assert_eq!(collected, [(key, vec![WriteId(12)])], "{h:?} reports it");
    }
}

/// Takes the suspicions (`true`) and trusts (`false`) node `n` reported, as (peer, suspected).
fn detector_facts(net: &mut Net, n: NodeId) -> Vec<(NodeId, bool)> {
    let mut out = Vec::new();
    net.nodes[n.index()].drain_facts(|f| match f {
        Fact::Suspected { peer, .. } => out.push((peer, true)),
        Fact::Trusted { peer } => out.push((peer, false)),
        _ => {}
    });
    out
}

#[test]
fn phi_accrual_suspects_a_silent_neighbour_after_its_threshold_not_on_one_timeout() {
    let phi = ["failure_detector.kind=\"phi_accrual\""];
    for (sets, name) in [(&phi[..], "phi_accrual"), (&[][..], "timeout")] {
        let s = scenario_with("partition_aware", "vector_clock", false, sets);
        let mut net = Net::new(&s);
        net.advance(SimTime::from_secs_f64(10.0));
        let key = KeyId(4);
        let homes = net.ring.replicas(key).to_vec();
        let (coordinator, dead) = (homes[0], homes[2]);
        net.crash(dead);
        net.put_at(coordinator, 1, key, 11, Causal::default());
        net.advance(SimTime::from_secs_f64(0.5));
        let first = detector_facts(&mut net, coordinator);
        if name == "timeout" {
            // The unanswered replica write is suspicion enough.
            assert_eq!(first, [(dead, true)], "{name}");
            continue;
        }
        assert!(
            first.is_empty(),
            "one unanswered request is no verdict: {first:?}"
        );
        // Heartbeats every 1 s answered at once, the first seeding a 2 s gap (Cassandra's
        // initial value): a mean gap of about 1.1 s after 10 s, so φ = silence / 1.1 ×
        // log10(e) passes 8 after about 20 s of silence, at the next heartbeat tick. The
        // last answer came in the second before the crash: at 27 s the silence is at
        // most 18 s.
        net.advance(SimTime::from_secs_f64(16.5));
        let early = detector_facts(&mut net, coordinator);
        assert!(
            early.is_empty(),
            "18 s: not yet, but {early:?} at {:?}",
            net.now
        );
        net.advance(SimTime::from_secs_f64(4.5));
        for n in (0..5).map(NodeId).filter(|n| *n != dead) {
            assert_eq!(
                detector_facts(&mut net, n),
                [(dead, true)],
                "{n:?} suspects the silent node, once"
            );
            assert!(net.nodes[n.index()].suspects().any(|p| p == dead));
        }
        net.restart(dead);
        net.advance(SimTime::from_secs_f64(1.5));
        assert_eq!(detector_facts(&mut net, coordinator), [(dead, false)]);
        assert_eq!(net.nodes[coordinator.index()].suspects().count(), 0);
    }
}

#[test]
fn anti_entropy_does_not_stream_a_range_again_while_its_last_data_is_still_queued() {
    let sets = [
        "anti_entropy.enabled=true",
        "anti_entropy.interval_s=1",
        "anti_entropy.merkle_depth=4",
    ];
    let s = scenario_with("partition_aware", "vector_clock", false, &sets);
    let mut net = Net::new(&s);
    let key = KeyId(2);
    let homes = net.ring.replicas(key).to_vec();
    // The third home misses a write while it is down.
    net.crash(homes[2]);
    net.put_at(homes[0], 1, key, 51, Causal::default());
    net.advance(SimTime::from_ms_f64(150.0));
    net.restart(homes[2]);
    assert!(!net.holders(key, 51).contains(&homes[2]));
    // Its repair data waits (for a disk, say) for all but the last of the intervals an
    // in-flight record lasts: no exchange of the range streams it again meanwhile. (Past
    // the bound the records lapse and the range is exchanged afresh, by design.)
    let bound = dynasim::node::anti_entropy::IN_FLIGHT_INTERVALS;
    net.hold = Some(MessageKind::AeData);
    net.advance(SimTime::from_secs_f64((bound - 1) as f64));
    let slot = net.ring.slot_of(key);
    let of_slot = |m: &Message| matches!(m, Message::AeData { slot: s, .. } if *s == slot);
    let streamed = net.held.iter().filter(|(_, _, m)| of_slot(m)).count();
    assert_eq!(streamed, 1, "the range was streamed {streamed} times");
    let deferred: u64 = (net.nodes.iter())
        .map(|n| n.anti_entropy_stats().exchanges_deferred)
        .sum();
    assert!(deferred > 0);
    // The data lands; the exchange ends (AeDone) and the range is exchanged as before.
    net.hold = None;
    net.in_flight.extend(net.held.drain(..));
    net.settle();
    assert!(net.holders(key, 51).contains(&homes[2]));
    assert!(net.count(MessageKind::AeDone) >= 1);
    let exchanges = |net: &Net| -> u64 {
        (net.nodes.iter())
            .map(|n| n.anti_entropy_stats().exchanges)
            .sum()
    };
    let before = exchanges(&net);
    net.advance(SimTime::from_secs_f64(2.0));
    assert!(exchanges(&net) > before);
    let expired: u64 = (net.nodes.iter())
        .map(|n| n.anti_entropy_stats().in_flight_expired)
        .sum();
    assert_eq!(expired, 0);
}

#[test]
fn a_range_held_for_a_peer_that_crashed_is_freed_by_asking_it_not_by_the_bound() {
    // Five replicas of every key: a node meets a given peer for a range only every
    // fourth interval, so waiting for the peer to start an exchange would take long.
    let sets = [
        "replication.n=5",
        "anti_entropy.enabled=true",
        "anti_entropy.interval_s=1",
        "anti_entropy.merkle_depth=4",
    ];
    let s = scenario_with("partition_aware", "vector_clock", false, &sets);
    let mut net = Net::new(&s);
    let key = KeyId(2);
    let homes = net.ring.replicas(key).to_vec();
    net.crash(homes[4]);
    net.put_at(homes[0], 1, key, 51, Causal::default());
    net.advance(SimTime::from_ms_f64(150.0));
    net.restart(homes[4]);
    net.hold = Some(MessageKind::AeData);
    net.advance(SimTime::from_secs_f64(4.0));
    let slot = net.ring.slot_of(key);
    let (from, to, _) = (net.held.iter())
        .find(|(_, _, m)| matches!(m, Message::AeData { slot: s, .. } if *s == slot))
        .cloned()
        .expect("the range's data is on its way");
    let (Endpoint::Node(sender), Endpoint::Node(receiver)) = (from, to) else {
        panic!("data goes between nodes")
    };
    // Its receiver crashes: the data queued for its disk is gone, and so is its record.
    net.crash(receiver);
    net.held.clear();
    net.restart(receiver);
    assert_eq!(net.nodes[sender.index()].anti_entropy_in_flight(), 1);
    // At its next step for the range the sender asks; the receiver holds no record and
    // says the exchange is over. (No exchange starts meanwhile: their first messages are
    // held, so nothing else can free the record.)
    net.hold = Some(MessageKind::AeHashes);
    let asked = net.count(MessageKind::AeAsk);
    net.advance(SimTime::from_secs_f64(1.0));
    assert!(net.count(MessageKind::AeAsk) > asked);
    assert_eq!(net.nodes[sender.index()].anti_entropy_in_flight(), 0);
    net.hold = None;
    net.held.clear();
    net.advance(SimTime::from_secs_f64(3.0));
    assert!(net.holders(key, 51).contains(&homes[4]), "repaired");
    let expired: u64 = (net.nodes.iter())
        .map(|n| n.anti_entropy_stats().in_flight_expired)
        .sum();
    assert_eq!(expired, 0, "freed by the answer, not by the 10 s bound");
}

/// A fallback bounds the siblings of a hint as a coordinator bounds its own copy
/// (`replication.max_siblings`): while an owner is suspected, concurrent puts of a hot
/// key would otherwise pile onto one hint set, and every read would carry them all.
#[test]
fn a_fallback_refuses_a_hint_that_would_hold_more_siblings_than_the_bound() {
    let s = scenario_with(
        "partition_aware",
        "vector_clock",
        true,
        &["replication.max_siblings=3"],
    );
    let mut net = Net::new(&s);
    let key = KeyId(2);
    let homes = net.ring.replicas(key).to_vec();
    let (owner, coordinator) = (homes[2], homes[0]);
    let fallback = non_home(&net, key);
    // Writes by five different actors: each concurrent with the others.
    let concurrent = |w: u64| dynasim::node::Version {
        write: WriteId(w),
        causal: Causal::from_clock(dynasim::node::VClock::default().increment(
            NodeId(100 + w as u32),
            1,
            10,
        )),
        stamp_us: w as i64,
        tombstone: false,
    };
    let mut acked = Vec::new();
    for w in 1..=5 {
        let mut out = Vec::new();
        let msg = Message::ReplicaWrite {
            op: Some(dynasim::node::OpId(w)),
            key,
            version: concurrent(w),
            siblings: Vec::new(),
            hint: Some(owner),
            durable: false,
        };
        net.nodes[fallback.index()].handle_message(
            net.now,
            Endpoint::Node(coordinator),
            msg,
            &mut out,
        );
        acked.push(out.iter().any(|e| {
            matches!(
                e,
                Effect::Send {
                    msg: Message::ReplicaWriteAck { .. },
                    ..
                }
            )
        }));
    }
    assert_eq!(acked, [true, true, true, false, false]);
    let node = &net.nodes[fallback.index()];
    assert_eq!(node.hinted(key).count(), 3, "the hint holds the bound");
    assert_eq!(node.hint_stats().too_many_siblings, 2);
}
