//! The fault injector's plan: the scenario's `faults` list resolved against the cluster
//! (names to node ids, `random_nodes` drawn from the seed, random crash schedules drawn
//! up front) into a timeline of actions. The simulation applies the actions; nodes only
//! ever feel their effects (a dead peer stops answering), never read this plan.

use crate::engine::rng::{SimRng, below, unit_f64};
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
    let node_of = |name: &str| {
        names
            .iter()
            .position(|n| n == name)
            .map(|i| NodeId(i as u32))
    };
    let dc_of = |name: &str| s.cluster.datacenters.iter().position(|d| d.name == name);
    let mut p = FaultPlan {
        actions: Vec::new(),
        partitions: vec![None; s.faults.len()],
        slow: (0..s.faults.len()).map(|_| None).collect(),
        resolved: Vec::new(),
        windows: Vec::new(),
    };
    for (index, fault) in s.faults.iter().enumerate() {
        let at = SimTime::from_secs_f64(fault.at_s());
        // Leave targets are resolved when the leave happens (they may name joined nodes).
        let mut targets: Vec<NodeId> = match fault
            .targets()
            .filter(|_| !matches!(fault, Fault::Leave { .. }))
        {
            Some((Some(list), _)) => list.iter().filter_map(|n| node_of(n)).collect(),
            Some((None, Some(k))) => pick_random(names.len(), *k as usize, rng),
            _ => Vec::new(),
        };
        targets.sort();
        let secs = |d: f64| at + SimTime::from_secs_f64(d);
        let mut resolved = ResolvedFault {
            index,
            kind: fault.kind(),
            at_s: fault.at_s(),
            end_s: None,
            nodes: targets.iter().map(|n| names[n.index()].clone()).collect(),
            crash_windows: None,
            first_crashes: Vec::new(),
        };
        let window_end: Option<SimTime> = match fault {
            Fault::Crash { duration_s, .. } => {
                let until = duration_s.map(secs);
                for n in &targets {
                    p.actions.push((
                        at,
                        FaultAction::NodeDown {
                            node: *n,
                            wipe: false,
                        },
                    ));
                    if let Some(u) = until {
                        p.actions.push((u, FaultAction::NodeUp { node: *n }));
                    }
                }
                until
            }
            Fault::DiskFailure {
                replace_after_s, ..
            } => {
                let until = secs(*replace_after_s);
                for n in &targets {
                    p.actions.push((
                        at,
                        FaultAction::NodeDown {
                            node: *n,
                            wipe: true,
                        },
                    ));
                    p.actions.push((until, FaultAction::NodeUp { node: *n }));
                }
                Some(until)
            }
            Fault::DatacenterOutage {
                duration_s,
                datacenter,
                ..
            } => {
                let until = secs(*duration_s);
                let dc = dc_of(datacenter).unwrap_or(0);
                for (n, d) in node_dc.iter().enumerate() {
                    if d.index() == dc {
                        let node = NodeId(n as u32);
                        resolved.nodes.push(names[n].clone());
                        p.actions
                            .push((at, FaultAction::NodeDown { node, wipe: false }));
                        p.actions.push((until, FaultAction::NodeUp { node }));
                    }
                }
                Some(until)
            }
            Fault::Partition {
                duration_s, groups, ..
            } => {
                let rest = groups.len() as u16;
                let mut plan = PartitionPlan {
                    node_group: vec![rest; names.len()],
                    dc_group: vec![rest; s.cluster.datacenters.len()],
                };
                for (g, group) in groups.iter().enumerate() {
                    for name in group {
                        if let Some(dc) = dc_of(name) {
                            plan.dc_group[dc] = g as u16;
                            for (n, d) in node_dc.iter().enumerate() {
                                if d.index() == dc {
                                    plan.node_group[n] = g as u16;
                                }
                            }
                        } else if let Some(node) = node_of(name) {
                            plan.node_group[node.index()] = g as u16;
                        }
                    }
                }
                p.partitions[index] = Some(plan);
                p.actions
                    .push((at, FaultAction::PartitionStart { fault: index }));
                let until = secs(*duration_s);
                p.actions
                    .push((until, FaultAction::PartitionEnd { fault: index }));
                Some(until)
            }
            Fault::SlowNode {
                duration_s,
                extra_ms,
                ..
            } => {
                p.slow[index] = Some((targets.clone(), Sampler::new(extra_ms)));
                p.actions
                    .push((at, FaultAction::SlowStart { fault: index }));
                let until = secs(*duration_s);
                p.actions
                    .push((until, FaultAction::SlowEnd { fault: index }));
                Some(until)
            }
            Fault::MessageLoss {
                duration_s,
                probability,
                ..
            } => {
                p.actions.push((
                    at,
                    FaultAction::LossStart {
                        probability: *probability,
                    },
                ));
                let until = secs(*duration_s);
                p.actions.push((
                    until,
                    FaultAction::LossEnd {
                        probability: *probability,
                    },
                ));
                Some(until)
            }
            Fault::ClockSkew {
                duration_s,
                offset_ms,
                ..
            } => {
                let offset_us = (offset_ms * 1_000.0).round() as i64;
                let until = duration_s.map(secs);
                for n in &targets {
                    p.actions.push((
                        at,
                        FaultAction::ClockSkew {
                            node: *n,
                            offset_us,
                        },
                    ));
                    if let Some(u) = until {
                        p.actions.push((
                            u,
                            FaultAction::ClockSkew {
                                node: *n,
                                offset_us: 0,
                            },
                        ));
                    }
                }
                until
            }
            Fault::RandomCrashes {
                duration_s,
                mtbf_s,
                mttr_s,
                ..
            } => {
                let until = duration_s.map(secs).unwrap_or(end).min(end);
                let mut count = 0;
                for (n, name) in names.iter().enumerate() {
                    let node = NodeId(n as u32);
                    let mut t = at.as_secs_f64();
                    loop {
                        t += exponential(rng, *mtbf_s);
                        if t >= until.as_secs_f64() {
                            break;
                        }
                        let up = t + exponential(rng, *mttr_s);
                        p.actions.push((
                            SimTime::from_secs_f64(t),
                            FaultAction::NodeDown { node, wipe: false },
                        ));
                        p.actions
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
                Some(until)
            }
            Fault::Join { .. } => {
                p.actions.push((at, FaultAction::Join { fault: index }));
                Some(at)
            }
            Fault::Leave { .. } => {
                p.actions.push((at, FaultAction::Leave { fault: index }));
                Some(at)
            }
        };
        resolved.end_s = window_end.map(|t| t.as_secs_f64());
        let window_end = window_end.unwrap_or(end);
        p.windows.push((at.as_micros(), window_end.as_micros()));
        p.actions.push((at, FaultAction::WindowStart));
        p.actions.push((window_end, FaultAction::WindowEnd));
        p.resolved.push(resolved);
    }
    // Stable sort: actions at the same time keep the order of the scenario's list.
    p.actions.sort_by_key(|(t, _)| *t);
    p
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

fn exponential(rng: &mut SimRng, mean: f64) -> f64 {
    -mean * (1.0 - unit_f64(rng)).ln()
}
