//! The wire between hosts: what a message costs (bytes by kind), whether it arrives
//! (partitions, loss) and when (the sender's disk work, a slow node's extra delay, the
//! link's latency). It knows where endpoints stand but nothing of what messages mean.

use crate::engine::{Sampler, SimTime};
use crate::faults::PartitionPlan;
use crate::ids::{DcId, Endpoint, NodeId};
use crate::net::{LinkClass, NetworkModel, StorageModel};
use crate::node::{DiskOp, Message};
use crate::vocab::MessageKind;

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

/// What happened to a message when it was sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    /// On its way; arrives at this time (µs).
    InFlight(u64),
    /// A partition separates sender and receiver.
    Partitioned,
    /// The network lost it (drop probability or a message_loss fault).
    Lost,
}

/// An endpoint and the datacenter it stands in.
#[derive(Clone, Copy, Debug)]
pub struct Place {
    pub endpoint: Endpoint,
    pub dc: DcId,
}

/// A slow-node fault: the nodes (sorted) and the extra delay they add to what they send.
pub type SlowPlan = (Vec<NodeId>, Sampler);

pub struct Transport {
    network: NetworkModel,
    storage: StorageModel,
    /// Per fault index: the partition it makes, if it is one.
    partition_plans: Vec<Option<PartitionPlan>>,
    /// Per fault index: the slow nodes it makes, if it is one.
    slow_plans: Vec<Option<SlowPlan>>,
    active_partitions: Vec<usize>,
    active_slow: Vec<usize>,
    /// Loss probability added by active message_loss faults.
    extra_loss: f64,
    value_bytes: u64,
    pub stats: MessageStats,
}

impl Transport {
    pub fn new(
        network: NetworkModel,
        storage: StorageModel,
        partition_plans: Vec<Option<PartitionPlan>>,
        slow_plans: Vec<Option<SlowPlan>>,
        value_bytes: u64,
    ) -> Transport {
        Transport {
            network,
            storage,
            partition_plans,
            slow_plans,
            active_partitions: Vec::new(),
            active_slow: Vec::new(),
            extra_loss: 0.0,
            value_bytes,
            stats: MessageStats::default(),
        }
    }

    /// Sends one message: counts it, then decides its fate. The draws happen in a fixed
    /// order (disk, slow-node delay, network), each on its own stream.
    pub fn send(
        &mut self,
        now: SimTime,
        from: Place,
        to: Place,
        msg: &Message,
        disk: DiskOp,
    ) -> Fate {
        let kind = msg.kind();
        self.stats.sent[kind as usize] += 1;
        self.stats.bytes[kind as usize] += msg.size_bytes(self.value_bytes);
        if !self.active_partitions.is_empty() && self.partitioned(from, to) {
            self.stats.partitioned += 1;
            return Fate::Partitioned;
        }
        let disk_time = self.storage.delay(disk);
        let slow = if self.active_slow.is_empty() {
            SimTime::ZERO
        } else {
            self.slow_delay(from.endpoint)
        };
        match self
            .network
            .transit(link_class(from, to), kind, self.extra_loss)
        {
            Some(transit) => Fate::InFlight((now + disk_time + slow + transit).as_micros()),
            None => {
                self.stats.lost += 1;
                Fate::Lost
            }
        }
    }

    pub fn partition_started(&mut self, fault: usize) {
        self.active_partitions.push(fault);
    }

    pub fn partition_ended(&mut self, fault: usize) {
        self.active_partitions.retain(|f| *f != fault);
    }

    pub fn slowness_started(&mut self, fault: usize) {
        self.active_slow.push(fault);
    }

    pub fn slowness_ended(&mut self, fault: usize) {
        self.active_slow.retain(|f| *f != fault);
    }

    pub fn loss_started(&mut self, probability: f64) {
        self.extra_loss += probability;
    }

    pub fn loss_ended(&mut self, probability: f64) {
        self.extra_loss = (self.extra_loss - probability).max(0.0);
    }

    /// Whether an active partition separates two endpoints.
    fn partitioned(&self, a: Place, b: Place) -> bool {
        self.active_partitions.iter().any(|f| {
            let Some(plan) = &self.partition_plans[*f] else {
                return false;
            };
            partition_group(plan, a) != partition_group(plan, b)
        })
    }

    /// Extra delay on what a slow node sends.
    fn slow_delay(&mut self, from: Endpoint) -> SimTime {
        let Endpoint::Node(node) = from else {
            return SimTime::ZERO;
        };
        let mut extra = SimTime::ZERO;
        for f in &self.active_slow {
            if let Some((nodes, sampler)) = &self.slow_plans[*f]
                && nodes.binary_search(&node).is_ok()
            {
                extra = extra + self.network.extra_delay(sampler);
            }
        }
        extra
    }
}

/// The side of a partition an endpoint is on. A node that joined after the plan was made
/// sits with its datacenter; clients always sit with theirs.
fn partition_group(plan: &PartitionPlan, place: Place) -> u16 {
    match place.endpoint {
        Endpoint::Node(n) => plan
            .node_group
            .get(n.index())
            .copied()
            .unwrap_or(plan.dc_group[place.dc.index()]),
        Endpoint::Client(_) => plan.dc_group[place.dc.index()],
    }
}

fn link_class(from: Place, to: Place) -> LinkClass {
    if from.endpoint == to.endpoint {
        LinkClass::Local
    } else if from.dc == to.dc {
        LinkClass::IntraDc
    } else {
        LinkClass::InterDc
    }
}
