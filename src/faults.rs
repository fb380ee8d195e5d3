//! The fault injector's plan: the scenario's `faults` list resolved against the cluster
//! (names to node ids, `random_nodes` drawn from the seed, random crash schedules drawn
//! up front) into a timeline of actions. The simulation applies the actions; nodes only
//! ever feel their effects (a dead peer stops answering), never read this plan.

use crate::engine::dist::{self, Distribution};
use crate::engine::rng::{SimRng, below};
use crate::engine::{Sampler, SimTime};
use crate::ids::{DcId, NodeId};
use crate::scenario::{Fault, Scenario};
use serde::Serialize;

/// One change to the world at a point in time.
#[derive(Clone, Debug)]
pub enum FaultAction {
    /// The node's process stops (its disk stays unless `wipe`).
    NodeDown {
        node: NodeId,
        wipe: bool,
    },
    NodeUp {
        node: NodeId,
    },
    PartitionStart {
        fault: usize,
    },
    PartitionEnd {
        fault: usize,
    },
    SlowStart {
        fault: usize,
    },
    SlowEnd {
        fault: usize,
    },
    LossStart {
        probability: f64,
    },
    LossEnd {
        probability: f64,
    },
    ClockSkew {
        node: NodeId,
        offset_us: i64,
    },
    /// Administrator actions; resolved when they happen (names of joined nodes, random
    /// picks among the members of that moment).
    Join {
        fault: usize,
    },
    Leave {
        fault: usize,
    },

    /// A fault window opens or closes (for availability inside and outside faults).
    WindowStart,
    WindowEnd,
}

/// A partition: the group of every node and of every datacenter's clients.
#[derive(Clone, Debug)]
pub struct PartitionPlan {
    pub node_group: Vec<u16>,
    pub dc_group: Vec<u16>,
}

/// A resolved fault as the report shows it.
#[derive(Clone, Debug, Serialize)]
pub struct ResolvedFault {
    pub index: usize,
    pub kind: &'static str,
    pub at_s: f64,
    /// When its effect ends (null: lasts to the end of the run).
    pub end_s: Option<f64>,
    pub nodes: Vec<String>,
    /// For random_crashes: how many crash windows were drawn, and the first few.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crash_windows: Option<usize>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub first_crashes: Vec<(String, f64, f64)>,
}

pub struct FaultPlan {
    pub actions: Vec<(SimTime, FaultAction)>,
    pub partitions: Vec<Option<PartitionPlan>>,
    /// Per fault: slow nodes (sorted) and the extra delay they add to what they send.
    pub slow: Vec<Option<(Vec<NodeId>, Sampler)>>,
    pub resolved: Vec<ResolvedFault>,
    /// Fault windows as (start, end) in µs, for timelines.
    pub windows: Vec<(u64, u64)>,
}

/// Names of all nodes, `<datacenter>-<index>`, in node-id order.
pub fn node_names(s: &Scenario) -> Vec<String> {
    s.cluster
        .datacenters
        .iter()
        .flat_map(|dc| (0..dc.nodes).map(move |i| format!("{}-{i}", dc.name)))
        .collect()
}

const FIRST_CRASHES_LISTED: usize = 20;

/// Resolves the scenario's faults. The scenario is validated, so every name exists.
pub fn plan(
    s: &Scenario,
    node_dc: &[DcId],
    names: &[String],
    end: SimTime,
    rng: &mut SimRng,
) -> FaultPlan {
    let mut planner = Planner {
        s,
        node_dc,
        names,
        end,
        rng,
        p: empty_plan(s.faults.len()),
    };
    for (index, fault) in s.faults.iter().enumerate() {
        planner.resolve(index, fault);
    }
    let mut p = planner.p;
    // Stable sort: actions at the same time keep the order of the scenario's list.
    p.actions.sort_by_key(|(t, _)| *t);
    p
}

/// A plan with no actions yet and a slot per fault for its partition and slow nodes.
fn empty_plan(fault_count: usize) -> FaultPlan {
    FaultPlan {
        actions: Vec::new(),
        partitions: vec![None; fault_count],
        slow: (0..fault_count).map(|_| None).collect(),
        resolved: Vec::new(),
        windows: Vec::new(),
    }
}

/// The plan being built, with what faults are resolved against: the cluster's names, the
/// run's end and the seeded stream that `random_nodes` and random crashes are drawn from.
struct Planner<'a> {
    s: &'a Scenario,
    node_dc: &'a [DcId],
    names: &'a [String],
    end: SimTime,
    rng: &'a mut SimRng,
    p: FaultPlan,
}

/// The fault being resolved: its place in the scenario's list, its start, its sorted targets.
struct Resolving<'a> {
    index: usize,
    at: SimTime,
    targets: &'a [NodeId],
}

impl Resolving<'_> {
    /// `d` seconds after the fault starts.
    fn after(&self, d: f64) -> SimTime {
        self.at + SimTime::from_secs_f64(d)
    }
}

impl Planner<'_> {
    fn node_of(&self, name: &str) -> Option<NodeId> {
        self.names
            .iter()
            .position(|n| n == name)
            .map(|i| NodeId(i as u32))
    }

    fn dc_of(&self, name: &str) -> Option<usize> {
        self.s
            .cluster
            .datacenters
            .iter()
            .position(|d| d.name == name)
    }

    fn push(&mut self, t: SimTime, action: FaultAction) {
        self.p.actions.push((t, action));
    }

    /// One fault: its targets, its actions, its window and the line the report shows.
    fn resolve(&mut self, index: usize, fault: &Fault) {
        let at = SimTime::from_secs_f64(fault.at_s());
        let targets = self.targets(fault);
        let mut resolved = ResolvedFault {
            index,
            kind: fault.kind(),
            at_s: fault.at_s(),
            end_s: None,
            nodes: targets
                .iter()
                .map(|n| self.names[n.index()].clone())
                .collect(),
            crash_windows: None,
            first_crashes: Vec::new(),
        };
        let f = Resolving {
            index,
            at,
            targets: &targets,
        };
        let window_end = self.push_actions(&f, fault, &mut resolved);
        resolved.end_s = window_end.map(|t| t.as_secs_f64());
        let window_end = window_end.unwrap_or(self.end);
        self.p
            .windows
            .push((at.as_micros(), window_end.as_micros()));
        self.push(at, FaultAction::WindowStart);
        self.push(window_end, FaultAction::WindowEnd);
        self.p.resolved.push(resolved);
    }

    /// The nodes a fault names or draws, sorted.
    fn targets(&mut self, fault: &Fault) -> Vec<NodeId> {
        // Leave targets are resolved when the leave happens (they may name joined nodes).
        let mut targets: Vec<NodeId> = match fault
            .targets()
            .filter(|_| !matches!(fault, Fault::Leave { .. }))
        {
            Some((Some(list), _)) => list.iter().filter_map(|n| self.node_of(n)).collect(),
            Some((None, Some(k))) => pick_random(self.names.len(), *k as usize, self.rng),
            _ => Vec::new(),
        };
        targets.sort();
        targets
    }

    /// Pushes the fault's own actions; returns when its effect ends (None: never).
    fn push_actions(
        &mut self,
        f: &Resolving,
        fault: &Fault,
        resolved: &mut ResolvedFault,
    ) -> Option<SimTime> {
        match fault {
            Fault::Crash { duration_s, .. } => self.crash(f, *duration_s),
            Fault::DiskFailure {
                replace_after_s, ..
            } => Some(self.disk_failure(f, *replace_after_s)),
            Fault::DatacenterOutage {
                duration_s,
                datacenter,
                ..
            } => Some(self.datacenter_outage(f, datacenter, *duration_s, resolved)),
            Fault::Partition {
                duration_s, groups, ..
            } => Some(self.partition(f, groups, *duration_s)),
            Fault::SlowNode {
                duration_s,
                extra_ms,
                ..
            } => Some(self.slow_node(f, extra_ms, *duration_s)),
            Fault::MessageLoss {
                duration_s,
                probability,
                ..
            } => Some(self.message_loss(f, *probability, *duration_s)),
            Fault::ClockSkew {
                duration_s,
                offset_ms,
                ..
            } => self.clock_skew(f, *offset_ms, *duration_s),
            Fault::RandomCrashes {
                duration_s,
                mtbf_s,
                mttr_s,
                ..
            } => Some(self.random_crashes(f, *duration_s, *mtbf_s, *mttr_s, resolved)),
            Fault::Join { .. } => {
                self.push(f.at, FaultAction::Join { fault: f.index });
                Some(f.at)
            }
            Fault::Leave { .. } => {
                self.push(f.at, FaultAction::Leave { fault: f.index });
                Some(f.at)
            }
        }
    }

    /// Targets go down (disks kept) and, with a duration, come back up.
    fn crash(&mut self, f: &Resolving, duration_s: Option<f64>) -> Option<SimTime> {
        let until = duration_s.map(|d| f.after(d));
        for n in f.targets {
            self.push(
                f.at,
                FaultAction::NodeDown {
                    node: *n,
                    wipe: false,
                },
            );
            if let Some(u) = until {
                self.push(u, FaultAction::NodeUp { node: *n });
            }
        }
        until
    }

    /// Targets go down with their disks wiped and come back up empty when replaced.
    fn disk_failure(&mut self, f: &Resolving, replace_after_s: f64) -> SimTime {
        let until = f.after(replace_after_s);
        for n in f.targets {
            self.push(
                f.at,
                FaultAction::NodeDown {
                    node: *n,
                    wipe: true,
                },
            );
            self.push(until, FaultAction::NodeUp { node: *n });
        }
        until
    }

    /// Every node of the datacenter goes down and comes back up; the report lists them.
    fn datacenter_outage(
        &mut self,
        f: &Resolving,
        datacenter: &str,
        duration_s: f64,
        resolved: &mut ResolvedFault,
    ) -> SimTime {
        let until = f.after(duration_s);
        let dc = self.dc_of(datacenter).unwrap_or(0);
        for (n, d) in self.node_dc.iter().enumerate() {
            if d.index() == dc {
                let node = NodeId(n as u32);
                resolved.nodes.push(self.names[n].clone());
                self.push(f.at, FaultAction::NodeDown { node, wipe: false });
                self.push(until, FaultAction::NodeUp { node });
            }
        }
        until
    }

    /// The partition's groups are recorded for the fault; it starts and ends.
    fn partition(&mut self, f: &Resolving, groups: &[Vec<String>], duration_s: f64) -> SimTime {
        self.p.partitions[f.index] = Some(self.partition_plan(groups));
        self.push(f.at, FaultAction::PartitionStart { fault: f.index });
        let until = f.after(duration_s);
        self.push(until, FaultAction::PartitionEnd { fault: f.index });
        until
    }

    /// The group of every node and datacenter; what no group names is in a group of its own.
    /// A datacenter's name puts it and all its nodes in the group.
    fn partition_plan(&self, groups: &[Vec<String>]) -> PartitionPlan {
        let rest = groups.len() as u16;
        let mut plan = PartitionPlan {
            node_group: vec![rest; self.names.len()],
            dc_group: vec![rest; self.s.cluster.datacenters.len()],
        };
        for (g, group) in groups.iter().enumerate() {
            for name in group {
                if let Some(dc) = self.dc_of(name) {
                    plan.dc_group[dc] = g as u16;
                    for (n, d) in self.node_dc.iter().enumerate() {
                        if d.index() == dc {
                            plan.node_group[n] = g as u16;
                        }
                    }
                } else if let Some(node) = self.node_of(name) {
                    plan.node_group[node.index()] = g as u16;
                }
            }
        }
        plan
    }

    /// The targets and their extra delay are recorded for the fault; it starts and ends.
    fn slow_node(&mut self, f: &Resolving, extra_ms: &Distribution, duration_s: f64) -> SimTime {
        self.p.slow[f.index] = Some((f.targets.to_vec(), Sampler::new(extra_ms)));
        self.push(f.at, FaultAction::SlowStart { fault: f.index });
        let until = f.after(duration_s);
        self.push(until, FaultAction::SlowEnd { fault: f.index });
        until
    }

    fn message_loss(&mut self, f: &Resolving, probability: f64, duration_s: f64) -> SimTime {
        self.push(f.at, FaultAction::LossStart { probability });
        let until = f.after(duration_s);
        self.push(until, FaultAction::LossEnd { probability });
        until
    }

    /// Targets' clocks are offset and, with a duration, set back to true time.
    fn clock_skew(
        &mut self,
        f: &Resolving,
        offset_ms: f64,
        duration_s: Option<f64>,
    ) -> Option<SimTime> {
        let offset_us = (offset_ms * 1_000.0).round() as i64;
        let until = duration_s.map(|d| f.after(d));
        for n in f.targets {
            self.push(
                f.at,
                FaultAction::ClockSkew {
                    node: *n,
                    offset_us,
                },
            );
            if let Some(u) = until {
                self.push(
                    u,
                    FaultAction::ClockSkew {
                        node: *n,
                        offset_us: 0,
                    },
                );
            }
        }
        until
    }

    /// Crash windows drawn up front, node by node, from the fault's start to its end (or
    /// the run's, whichever is first); the report counts them and lists the first few.
    fn random_crashes(
        &mut self,
        f: &Resolving,
        duration_s: Option<f64>,
        mtbf_s: f64,
        mttr_s: f64,
        resolved: &mut ResolvedFault,
    ) -> SimTime {
        let until = duration_s
            .map(|d| f.after(d))
            .unwrap_or(self.end)
            .min(self.end);
        let mut count = 0;
        for (n, name) in self.names.iter().enumerate() {
            let node = NodeId(n as u32);
            let mut t = f.at.as_secs_f64();
            loop {
                t += dist::exponential(self.rng, mtbf_s);
                if t >= until.as_secs_f64() {
                    break;
                }
                let up = t + dist::exponential(self.rng, mttr_s);
                self.p.actions.push((
                    SimTime::from_secs_f64(t),
                    FaultAction::NodeDown { node, wipe: false },
                ));
                self.p
                    .actions
                    .push((SimTime::from_secs_f64(up), FaultAction::NodeUp { node }));
                if resolved.first_crashes.len() < FIRST_CRASHES_LISTED {
                    resolved.first_crashes.push((name.clone(), t, up));
                }
                count += 1;
                t = up;
            }
        }
        resolved.first_crashes.sort_by(|a, b| a.1.total_cmp(&b.1));
        resolved.crash_windows = Some(count);
        until
    }
}

/// `k` distinct node ids out of `n`, drawn by a partial Fisher-Yates shuffle.
fn pick_random(n: usize, k: usize, rng: &mut SimRng) -> Vec<NodeId> {
    let mut ids: Vec<u32> = (0..n as u32).collect();
    let k = k.min(n);
    for i in 0..k {
        let j = i + below(rng, (n - i) as u64) as usize;
        ids.swap(i, j);
    }
    ids.truncate(k);
    ids.into_iter().map(NodeId).collect()
}
