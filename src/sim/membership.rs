//! The administrator's side of membership changes (Dynamo §4.9): joins and leaves are
//! applied one at a time. For each, the administrator computes the next placement and
//! ring, tells old owners which keys to stream to which new owner, and waits until the
//! nodes carrying out the change adopt the new ring; gossip spreads it from there. It also
//! watches how far each epoch has spread (view convergence).
//!
//! It acts on nodes only through operator commands (`begin_transfer`, `begin_join`,
//! `begin_leave`, `learn_from_admin`) and the hosts' process control; what those commands
//! make nodes send goes into `AdminEffects` for the loop to schedule, in order.

use super::host::{Host, Hosts};
use crate::engine::{SimRng, SimTime};
use crate::ids::{DcId, KeyId, NodeId};
use crate::node::{Effect, Node, NodeConfig};
use crate::ring::{Placement, Ring};
use crate::scenario::{Fault, Scenario};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

/// One membership change as the report shows it.
#[derive(Clone, Debug, Serialize)]
pub struct ChangeReport {
    pub fault_index: usize,
    pub kind: &'static str,
    pub nodes: Vec<String>,
    pub at_s: f64,
    /// When the administrator started it (later than `at_s` if an earlier change was
    /// still running).
    pub started_s: Option<f64>,
    /// When the nodes carrying it out adopted the new ring.
    pub completed_s: Option<f64>,
    pub epoch: u32,
    pub keys_to_move: u64,
    /// From completion until every live member knew the new ring.
    pub view_convergence_s: Option<f64>,
}

/// Which membership change a fault asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeKind {
    Join,
    Leave,
}

impl ChangeKind {
    fn name(self) -> &'static str {
        match self {
            ChangeKind::Join => "join",
            ChangeKind::Leave => "leave",
        }
    }
}

struct InProgress {
    report: usize,
    epoch: u32,
    /// Nodes whose adoption of `epoch` completes the change.
    carriers: Vec<NodeId>,
    leaving: Vec<NodeId>,
    ring: Arc<Ring>,
    placement: Placement,
}

/// What the administrator's actions changed, for the loop to act on after the call.
#[derive(Default)]
pub struct AdminEffects {
    /// Effects nodes emitted under operator commands, in emission order.
    pub effects: Vec<(NodeId, Effect)>,
    /// A change completed: the cluster routes by this ring from now on.
    pub adopted_ring: Option<Arc<Ring>>,
    /// Nodes that left for good and whose processes were stopped.
    pub retired: Vec<NodeId>,
    /// Nodes the administrator told a new ring directly: their Merkle tree rebuilds'
    /// disk reads are charged after the call.
    pub informed: Vec<NodeId>,
}

/// What the administrator works on: the hosts (it creates nodes, stops leavers, sends
/// commands) and the settings nodes are built with.
pub struct Cluster<'a> {
    pub now: SimTime,
    pub scenario: &'a Scenario,
    pub hosts: &'a mut Hosts,
    pub node_cfg: &'a Arc<NodeConfig>,
    /// A new node arms its periodic work with the nodes' shared gossip stream.
    pub gossip_rng: &'a mut SimRng,
    pub out: &'a mut AdminEffects,
}

pub struct MembershipAdmin {
    placement: Placement,
    /// Rings by epoch.
    rings: Vec<Arc<Ring>>,
    queue: VecDeque<(usize, usize)>,
    in_progress: Option<InProgress>,
    changes: Vec<ChangeReport>,
    /// Per epoch: live-or-not nodes that know it (or a later one).
    known: Vec<u64>,
    /// Each node's epoch as last seen.
    node_epoch: Vec<u32>,
    /// Nodes that have left for good.
    departed: BTreeSet<NodeId>,
    rng: SimRng,
    /// Per datacenter: how many nodes it has had (names continue from it).
    dc_sizes: Vec<u32>,
}

impl MembershipAdmin {
    pub fn new(
        placement: Placement,
        ring: Arc<Ring>,
        nodes: usize,
        dc_sizes: Vec<u32>,
        rng: SimRng,
    ) -> Self {
        MembershipAdmin {
            placement,
            rings: vec![ring],
            queue: VecDeque::new(),
            in_progress: None,
            changes: Vec::new(),
            known: vec![nodes as u64],
            node_epoch: vec![0; nodes],
            departed: BTreeSet::new(),
            rng,
            dc_sizes,
        }
    }

    /// The latest published ring epoch.
    pub fn epoch(&self) -> u32 {
        (self.rings.len() - 1) as u32
    }

    pub fn changes(&self) -> &[ChangeReport] {
        &self.changes
    }

    /// The ring the change under way moves to, if one is under way.
    pub fn target_ring(&self) -> Option<&Ring> {
        self.in_progress.as_ref().map(|p| p.ring.as_ref())
    }

    /// Whether `node` is named by the leave under way.
    pub fn is_leaving(&self, node: NodeId) -> bool {
        (self.in_progress.as_ref()).is_some_and(|p| p.leaving.contains(&node))
    }

    /// Whether `node` has left the cluster for good (nothing brings it back).
    pub fn has_departed(&self, node: NodeId) -> bool {
        self.departed.contains(&node)
    }

    /// A join or leave fault fired: queue it, and start it if nothing else is running.
    pub fn request(&mut self, fault: usize, kind: ChangeKind, cx: &mut Cluster) {
        let report = self.changes.len();
        self.changes.push(ChangeReport {
            fault_index: fault,
            kind: kind.name(),
            nodes: Vec::new(),
            at_s: cx.now.as_secs_f64(),
            started_s: None,
            completed_s: None,
            epoch: 0,
            keys_to_move: 0,
            view_convergence_s: None,
        });
        self.queue.push_back((fault, report));
        self.start_next_change(cx);
    }

    fn start_next_change(&mut self, cx: &mut Cluster) {
        while self.in_progress.is_none() {
            let Some((fault, report)) = self.queue.pop_front() else {
                return;
            };
            match cx.scenario.faults.get(fault) {
                Some(Fault::Join {
                    datacenter, count, ..
                }) => self.start_join(report, datacenter, *count, cx),
                Some(Fault::Leave {
                    nodes,
                    random_nodes,
                    ..
                }) => self.start_leave(report, nodes.as_deref(), *random_nodes, cx),
                // The fault plan only turns join and leave faults into change requests.
                _ => unreachable!("membership change {fault} is not a join or leave"),
            }
        }
    }

    fn start_join(&mut self, report: usize, datacenter: &str, count: u32, cx: &mut Cluster) {
        let Some(dc) = (cx.scenario.cluster.datacenters.iter()).position(|d| d.name == datacenter)
        else {
            return;
        };
        let joining: Vec<NodeId> = (0..count)
            .map(|_| self.add_node(DcId(dc as u16), cx))
            .collect();
        let placement = self.placement.with_joined(&joining, &mut self.rng);
        self.begin_change(report, placement, joining.clone(), Vec::new(), cx);
    }

    fn start_leave(
        &mut self,
        report: usize,
        names: Option<&[String]>,
        random: Option<u32>,
        cx: &mut Cluster,
    ) {
        let members = self.placement.members().to_vec();
        let leaving: Vec<NodeId> = match (names, random) {
            (Some(names), _) => names
                .iter()
                .filter_map(|n| {
                    (cx.hosts.iter())
                        .position(|h| h.name == *n)
                        .map(|i| NodeId(i as u32))
                })
                .filter(|n| members.contains(n))
                .collect(),
            (None, Some(k)) => {
                let mut pool = members.clone();
                let mut picked = Vec::new();
                for _ in 0..(k as usize).min(pool.len().saturating_sub(1)) {
                    let i = crate::engine::rng::below(&mut self.rng, pool.len() as u64) as usize;
                    picked.push(pool.swap_remove(i));
                }
                picked.sort();
                picked
            }
            (None, None) => Vec::new(),
        };
        if leaving.is_empty() || leaving.len() >= members.len() {
            self.changes[report].started_s = Some(cx.now.as_secs_f64());
            return; // nothing to do (or it would empty the ring): recorded, never completed
        }
        let placement = self.placement.without(&leaving, &mut self.rng);
        self.begin_change(report, placement, leaving.clone(), leaving, cx);
    }

    /// Creates a node in `dc`, named after the datacenter's next index, knowing the
    /// current ring. It is not a member until its join completes.
    fn add_node(&mut self, dc: DcId, cx: &mut Cluster) -> NodeId {
        let id = NodeId(cx.hosts.len() as u32);
        let index = self.dc_sizes[dc.index()];
        self.dc_sizes[dc.index()] += 1;
        let name = format!(
            "{}-{index}",
            cx.scenario.cluster.datacenters[dc.index()].name
        );
        let epoch = self.epoch();
        self.node_epoch.push(epoch);
        for e in 0..=epoch as usize {
            self.known[e] += 1;
        }
        let ring = self.rings[epoch as usize].clone();
        let node = Node::new(id, cx.node_cfg.clone(), ring, epoch);
        let horizon = super::build::arrivals_end(cx.scenario);
        let capacity = cx.scenario.capacity.as_ref();
        let buffer = cx.scenario.storage.write_buffer.as_ref();
        cx.hosts
            .push(Host::new(node, dc, name, capacity, buffer, horizon));
        let mut effects = Vec::new();
        cx.hosts.node_mut(id).start(cx.gossip_rng, &mut effects);
        cx.out.effects.extend(effects.into_iter().map(|e| (id, e)));
        id
    }

    /// Plans the key moves from the current ring to `placement`'s and starts them.
    fn begin_change(
        &mut self,
        report: usize,
        placement: Placement,
        carriers: Vec<NodeId>,
        leaving: Vec<NodeId>,
        cx: &mut Cluster,
    ) {
        let node_dc: Vec<DcId> = cx.hosts.iter().map(|h| h.dc).collect();
        let target = Arc::new(Ring::from_placement(
            &placement,
            &node_dc,
            &super::build::replica_rule(cx.scenario),
            cx.scenario.key_count(),
        ));
        let epoch = self.epoch() + 1;
        let current = self.rings[self.epoch() as usize].clone();
        let moves = plan_moves(&current, &target, cx.hosts);
        let c = &mut self.changes[report];
        c.started_s = Some(cx.now.as_secs_f64());
        c.epoch = epoch;
        c.nodes = carriers
            .iter()
            .map(|n| cx.hosts.get(*n).name.clone())
            .collect();
        c.keys_to_move = moves.values().map(|v| v.len() as u64).sum();
        let mut sources_of: BTreeMap<NodeId, BTreeSet<NodeId>> = BTreeMap::new();
        let mut effects = Vec::new();
        for ((source, owner), keys) in moves {
            sources_of.entry(owner).or_default().insert(source);
            (cx.hosts.node_mut(source)).begin_transfer(owner, keys, epoch, &mut effects);
            cx.out
                .effects
                .extend(effects.drain(..).map(|e| (source, e)));
        }
        self.in_progress = Some(InProgress {
            report,
            epoch,
            carriers: carriers.clone(),
            leaving: leaving.clone(),
            ring: target.clone(),
            placement,
        });
        for node in &carriers {
            if leaving.contains(node) {
                cx.hosts.node_mut(*node).begin_leave(epoch, target.clone());
            } else {
                let sources = sources_of.remove(node).unwrap_or_default();
                (cx.hosts.node_mut(*node)).begin_join(epoch, target.clone(), sources);
            }
            self.note_epoch(*node, cx);
        }
    }

    /// Called after a node handled an event: tracks epoch spread, completes the running
    /// change when its carriers adopted it, and retires nodes that have left. Cheap when
    /// the node's epoch did not move, which is nearly always.
    #[inline]
    pub fn note_epoch(&mut self, node: NodeId, cx: &mut Cluster) {
        let now_epoch = cx.hosts.node(node).epoch();
        let before = self.node_epoch[node.index()];
        if now_epoch > before {
            self.epoch_spread(node, before, now_epoch, cx);
        }
    }

    /// Whether `note_epoch` has anything to do for `node` (its epoch moved).
    #[inline]
    pub fn epoch_moved(&self, node: NodeId, hosts: &Hosts) -> bool {
        hosts.node(node).epoch() > self.node_epoch[node.index()]
    }

    #[cold]
    fn epoch_spread(&mut self, node: NodeId, before: u32, now_epoch: u32, cx: &mut Cluster) {
        self.node_epoch[node.index()] = now_epoch;
        while self.known.len() <= now_epoch as usize {
            self.known.push(0);
        }
        for e in (before + 1)..=now_epoch {
            self.known[e as usize] += 1;
        }
        self.finish_change_if_done(cx);
        self.check_view_convergence(cx);
    }

    fn finish_change_if_done(&mut self, cx: &mut Cluster) {
        let Some(p) = &self.in_progress else {
            return;
        };
        if !p
            .carriers
            .iter()
            .all(|c| self.node_epoch[c.index()] >= p.epoch)
        {
            return;
        }
        let Some(p) = self.in_progress.take() else {
            return;
        };
        self.changes[p.report].completed_s = Some(cx.now.as_secs_f64());
        self.rings.push(p.ring.clone());
        self.placement = p.placement;
        cx.out.adopted_ring = Some(p.ring.clone());
        if !p.leaving.is_empty() {
            // The administrator persists the change on a remaining member, which gossips
            // it; the leavers stop for good.
            let keeper = (p.ring.members().iter())
                .copied()
                .find(|m| cx.hosts.is_up(*m));
            if let Some(keeper) = keeper {
                (cx.hosts.node_mut(keeper)).learn_from_admin(p.epoch, p.ring.clone());
                cx.out.informed.push(keeper);
                self.note_epoch(keeper, cx);
            }
            for node in p.leaving {
                self.departed.insert(node);
                cx.hosts.take_down(node, false, cx.now);
                cx.out.retired.push(node);
            }
        }
        self.start_next_change(cx);
    }

    /// Records, for each completed change, when every live member knew its epoch.
    fn check_view_convergence(&mut self, cx: &Cluster) {
        for i in 0..self.changes.len() {
            let c = &self.changes[i];
            let (Some(done), None) = (c.completed_s, c.view_convergence_s) else {
                continue;
            };
            let epoch = c.epoch as usize;
            let Some(ring) = self.rings.get(epoch) else {
                continue;
            };
            let known = self.known.get(epoch).copied().unwrap_or(0);
            // Cheap bound first: even all members knowing it may not be enough yet.
            if known < (ring.members().len() as u64).saturating_sub(cx.hosts.down_count()) {
                continue;
            }
            let all = ring
                .members()
                .iter()
                .all(|m| !cx.hosts.is_up(*m) || self.node_epoch[m.index()] >= epoch as u32);
            if all {
                self.changes[i].view_convergence_s = Some(cx.now.as_secs_f64() - done);
            }
        }
    }
}

/// (source, receiver) -> keys. For every key gaining an owner, every old replica it
/// leaves streams it to each new owner (each may have taken writes the others lack, and
/// each forwards the writes it takes during the move): a live one now, a down one once
/// it is back, and the change waits for it (it may hold the only copy of a write: swarm
/// seed 2 case 65 lost one when a join during a datacenter outage planned only live
/// sources). When none of them is live, a live old replica that stays streams it too, so
/// the new owner starts from what the live replicas hold. A key that gains no owner but
/// loses one (a leave under a cluster no larger than N) is streamed by the replica it
/// loses to those that remain: it may hold writes they lack. When every candidate source
/// is down, one of them still gets the job (planning no move would let a down leaver
/// leave with the only copy).
fn plan_moves(
    current: &Ring,
    target: &Ring,
    hosts: &Hosts,
) -> BTreeMap<(NodeId, NodeId), Vec<KeyId>> {
    let mut moves: BTreeMap<(NodeId, NodeId), Vec<KeyId>> = BTreeMap::new();
    let mut sources: Vec<NodeId> = Vec::new();
    let mut receivers: Vec<NodeId> = Vec::new();
    for k in 0..target.key_count() as u32 {
        let key = KeyId(k);
        let old = current.replicas(key);
        let new = target.replicas(key);
        let displaced = |o: &NodeId| !target.is_replica(key, *o);
        receivers.clear();
        receivers.extend(new.iter().copied().filter(|n| !old.contains(n)));
        let gains = !receivers.is_empty();
        if !gains {
            if !old.iter().any(displaced) {
                continue;
            }
            receivers.extend_from_slice(new);
        }
        sources.clear();
        let live_displaced = old.iter().any(|o| displaced(o) && hosts.is_up(*o));
        if gains {
            sources.extend(old.iter().copied().filter(displaced));
            if !live_displaced {
                sources.extend(old.iter().copied().find(|o| hosts.is_up(*o)));
            }
        } else {
            let up = |o: &NodeId| displaced(o) && hosts.is_up(*o);
            sources.extend(old.iter().copied().filter(up));
        }
        if sources.is_empty() {
            let down = old.iter().copied().find(displaced).or(old.first().copied());
            sources.extend(down);
        }
        for receiver in &receivers {
            for source in &sources {
                moves.entry((*source, *receiver)).or_default().push(key);
            }
        }
    }
    moves
}
