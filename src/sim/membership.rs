//! The administrator's side of membership changes (Dynamo §4.9): joins and leaves are
//! applied one at a time. For each, the administrator computes the next placement and
//! ring, tells old owners which keys to stream to which new owner, and waits until the
//! nodes carrying out the change adopt the new ring; gossip spreads it from there. The
//! simulation also watches how far each epoch has spread (view convergence).

use super::Simulation;
use crate::engine::SimRng;
use crate::faults::FaultAction;
use crate::ids::{DcId, Endpoint, KeyId, NodeId};
use crate::node::Node;
use crate::ring::{Placement, Ring};
use crate::scenario::Fault;
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

pub(super) struct InProgress {
    report: usize,
    epoch: u32,
    /// Nodes whose adoption of `epoch` completes the change.
    carriers: Vec<NodeId>,
    leaving: Vec<NodeId>,
    ring: Arc<Ring>,
    placement: Placement,
}

pub(super) struct MembershipAdmin {
    pub placement: Placement,
    /// Rings by epoch.
    pub rings: Vec<Arc<Ring>>,
    queue: VecDeque<(usize, usize)>,
    in_progress: Option<InProgress>,
    pub changes: Vec<ChangeReport>,
    /// Per epoch: live-or-not nodes that know it (or a later one).
    known: Vec<u64>,
    /// Each node's epoch as last seen.
    node_epoch: Vec<u32>,
    /// Nodes that have left for good.
    pub departed: BTreeSet<NodeId>,
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

    pub fn epoch(&self) -> u32 {
        (self.rings.len() - 1) as u32
    }
}

impl Simulation {
    /// A join or leave fault fired: queue it, and start it if nothing else is running.
    pub(super) fn membership_action(&mut self, action: FaultAction) {
        let (fault, kind) = match action {
            FaultAction::Join { fault } => (fault, "join"),
            FaultAction::Leave { fault } => (fault, "leave"),
            _ => return,
        };
        let report = self.admin.changes.len();
        self.admin.changes.push(ChangeReport {
            fault_index: fault,
            kind,
            nodes: Vec::new(),
            at_s: self.now.as_secs_f64(),
            started_s: None,
            completed_s: None,
            epoch: 0,
            keys_to_move: 0,
            view_convergence_s: None,
        });
        self.admin.queue.push_back((fault, report));
        self.start_next_change();
    }

    fn start_next_change(&mut self) {
        while self.admin.in_progress.is_none() {
            let Some((fault, report)) = self.admin.queue.pop_front() else {
                return;
            };
            match self.scenario.faults.get(fault).cloned() {
                Some(Fault::Join {
                    datacenter, count, ..
                }) => self.start_join(report, &datacenter, count),
                Some(Fault::Leave {
                    nodes,
                    random_nodes,
                    ..
                }) => self.start_leave(report, nodes, random_nodes),
                _ => {}
            }
        }
    }

    fn start_join(&mut self, report: usize, datacenter: &str, count: u32) {
        let Some(dc) = self
            .scenario
            .cluster
            .datacenters
            .iter()
            .position(|d| d.name == datacenter)
        else {
            return;
        };
        let joining: Vec<NodeId> = (0..count).map(|_| self.add_node(DcId(dc as u16))).collect();
        let placement = self
            .admin
            .placement
            .with_joined(&joining, &mut self.admin.rng);
        self.begin_change(report, placement, joining.clone(), Vec::new());
    }

    fn start_leave(&mut self, report: usize, names: Option<Vec<String>>, random: Option<u32>) {
        let members = self.admin.placement.members().to_vec();
        let leaving: Vec<NodeId> = match (names, random) {
            (Some(names), _) => names
                .iter()
                .filter_map(|n| {
                    self.names
                        .iter()
                        .position(|m| m == n)
                        .map(|i| NodeId(i as u32))
                })
                .filter(|n| members.contains(n))
                .collect(),
            (None, Some(k)) => {
                let mut pool = members.clone();
                let mut picked = Vec::new();
                for _ in 0..(k as usize).min(pool.len().saturating_sub(1)) {
                    let i =
                        crate::engine::rng::below(&mut self.admin.rng, pool.len() as u64) as usize;
                    picked.push(pool.swap_remove(i));
                }
                picked.sort();
                picked
            }
            _ => Vec::new(),
        };
        if leaving.is_empty() || leaving.len() >= members.len() {
            self.admin.changes[report].started_s = Some(self.now.as_secs_f64());
            return; // nothing to do (or it would empty the ring): recorded, never completed
        }
        let placement = self.admin.placement.without(&leaving);
        self.begin_change(report, placement, leaving.clone(), leaving);
    }

    /// Creates a node in `dc`, named after the datacenter's next index, knowing the
    /// current ring. It is not a member until its join completes.
    fn add_node(&mut self, dc: DcId) -> NodeId {
        let id = NodeId(self.nodes.len() as u32);
        let index = self.admin.dc_sizes[dc.index()];
        self.admin.dc_sizes[dc.index()] += 1;
        self.names.push(format!(
            "{}-{index}",
            self.scenario.cluster.datacenters[dc.index()].name
        ));
        self.node_dc.push(dc);
        self.down.push(0);
        self.incarnation.push(0);
        self.node_requests.push(0);
        let epoch = self.admin.epoch();
        self.admin.node_epoch.push(epoch);
        for e in 0..=epoch as usize {
            self.admin.known[e] += 1;
        }
        let ring = self.admin.rings[self.admin.epoch() as usize].clone();
        self.nodes.push(Node::new(
            id,
            self.node_cfg.clone(),
            ring,
            self.admin.epoch(),
        ));
        let mut effects = std::mem::take(&mut self.effects);
        self.nodes[id.index()].start(&mut self.gossip_rng, &mut effects);
        self.apply(Endpoint::Node(id), &mut effects);
        self.effects = effects;
        id
    }

    /// Plans the key moves from the current ring to `placement`'s and starts them.
    fn begin_change(
        &mut self,
        report: usize,
        placement: Placement,
        carriers: Vec<NodeId>,
        leaving: Vec<NodeId>,
    ) {
        let rep = &self.scenario.replication;
        let keys = self.scenario.workload.key_count();
        let target = Arc::new(Ring::from_placement(
            &placement,
            &self.node_dc,
            rep.n as usize,
            rep.replicas_across_datacenters,
            keys,
        ));
        let epoch = self.admin.epoch() + 1;
        let current = self.admin.rings[self.admin.epoch() as usize].clone();
        // (source, new owner) -> keys
        let mut moves: BTreeMap<(NodeId, NodeId), Vec<KeyId>> = BTreeMap::new();
        for k in 0..keys {
            let key = KeyId(k);
            let old = current.replicas(key);
            for owner in target.replicas(key).iter().filter(|n| !old.contains(n)) {
                let displaced = old
                    .iter()
                    .copied()
                    .find(|o| !target.is_replica(key, *o) && self.down[o.index()] == 0);
                let source =
                    displaced.or_else(|| old.iter().copied().find(|o| self.down[o.index()] == 0));
                if let Some(source) = source {
                    moves.entry((source, *owner)).or_default().push(key);
                }
            }
        }
        let c = &mut self.admin.changes[report];
        c.started_s = Some(self.now.as_secs_f64());
        c.epoch = epoch;
        c.nodes = carriers
            .iter()
            .map(|n| self.names[n.index()].clone())
            .collect();
        c.keys_to_move = moves.values().map(|v| v.len() as u64).sum();
        let mut sources_of: BTreeMap<NodeId, BTreeSet<NodeId>> = BTreeMap::new();
        let mut effects = std::mem::take(&mut self.effects);
        for ((source, owner), keys) in moves {
            sources_of.entry(owner).or_default().insert(source);
            self.nodes[source.index()].begin_transfer(owner, keys, epoch, &mut effects);
            self.apply(Endpoint::Node(source), &mut effects);
        }
        self.effects = effects;
        self.admin.in_progress = Some(InProgress {
            report,
            epoch,
            carriers: carriers.clone(),
            leaving: leaving.clone(),
            ring: target.clone(),
            placement,
        });
        for node in &carriers {
            if leaving.contains(node) {
                self.nodes[node.index()].begin_leave(epoch, target.clone());
            } else {
                let sources = sources_of.remove(node).unwrap_or_default();
                self.nodes[node.index()].begin_join(epoch, target.clone(), sources);
            }
            self.note_epoch(*node);
        }
    }

    /// Called after a node handled an event: tracks epoch spread, completes the running
    /// change when its carriers adopted it, and retires nodes that have left.
    pub(super) fn note_epoch(&mut self, node: NodeId) {
        let now_epoch = self.nodes[node.index()].epoch();
        let before = self.admin.node_epoch[node.index()];
        if now_epoch <= before {
            return;
        }
        self.admin.node_epoch[node.index()] = now_epoch;
        while self.admin.known.len() <= now_epoch as usize {
            self.admin.known.push(0);
        }
        for e in (before + 1)..=now_epoch {
            self.admin.known[e as usize] += 1;
        }
        self.finish_change_if_done();
        self.check_view_convergence();
    }

    fn finish_change_if_done(&mut self) {
        let Some(p) = &self.admin.in_progress else {
            return;
        };
        if !p
            .carriers
            .iter()
            .all(|c| self.admin.node_epoch[c.index()] >= p.epoch)
        {
            return;
        }
        let Some(p) = self.admin.in_progress.take() else {
            return;
        };
        self.admin.changes[p.report].completed_s = Some(self.now.as_secs_f64());
        self.admin.rings.push(p.ring.clone());
        self.admin.placement = p.placement;
        self.ring = p.ring;
        self.full_scan = true;
        if !p.leaving.is_empty() {
            // The administrator persists the change on a remaining member, which gossips
            // it; the leavers stop for good.
            let keeper = self
                .ring
                .members()
                .iter()
                .copied()
                .find(|m| self.down[m.index()] == 0);
            if let Some(keeper) = keeper {
                self.nodes[keeper.index()].learn_from_admin(p.epoch, self.ring.clone());
                self.note_epoch(keeper);
            }
            for node in p.leaving {
                self.admin.departed.insert(node);
                self.apply_fault(FaultAction::NodeDown { node, wipe: false });
            }
        }
        self.start_next_change();
    }

    /// Records, for each completed change, when every live member knew its epoch.
    fn check_view_convergence(&mut self) {
        for i in 0..self.admin.changes.len() {
            let c = &self.admin.changes[i];
            let (Some(done), None) = (c.completed_s, c.view_convergence_s) else {
                continue;
            };
            let epoch = c.epoch as usize;
            let Some(ring) = self.admin.rings.get(epoch) else {
                continue;
            };
            let known = self.admin.known.get(epoch).copied().unwrap_or(0);
            // Cheap bound first: even all members knowing it may not be enough yet.
            if known < (ring.members().len() as u64).saturating_sub(self.down_nodes) {
                continue;
            }
            let all = ring.members().iter().all(|m| {
                self.down[m.index()] > 0 || self.admin.node_epoch[m.index()] >= epoch as u32
            });
            if all {
                self.admin.changes[i].view_convergence_s = Some(self.now.as_secs_f64() - done);
            }
        }
    }

    pub fn membership_changes(&self) -> &[ChangeReport] {
        &self.admin.changes
    }

    /// Requests that reached a node which, by its own view, is not a home replica.
    pub fn misrouted_requests(&self) -> u64 {
        self.nodes
            .iter()
            .map(|n| n.transfer_stats().misrouted_requests)
            .sum()
    }

    pub fn transfer_bytes(&self) -> (u64, u64) {
        self.nodes.iter().fold((0, 0), |(k, b), n| {
            let s = n.transfer_stats();
            (k + s.keys_sent, b + s.bytes_sent)
        })
    }

    /// The latest published ring epoch.
    pub fn membership_epoch(&self) -> u32 {
        self.admin.epoch()
    }
}
