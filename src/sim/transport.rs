//! The wire between hosts: what a message costs (bytes by kind), whether it arrives
//! (partitions, loss) and when (the sender's disk work, a slow node's extra delay, the
//! link's latency). It knows where endpoints stand but nothing of what messages mean.

use super::resources::{Resource, Resources, Waits, transmit_us};
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
    /// Not sent or not handled because a host's disk, CPU or network queue, or its
    /// admission lane, was full.
    pub rejected: u64,
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
    /// Its sender's disk queue (`capacity.disk.max_queue`) or network queue
    /// (`capacity.network.max_queue`) was full: never sent.
    Rejected,
}

/// What `Transport::send` decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sent {
    /// Decided now.
    Fate(Fate),
    /// Its host's disk work ends at this time and its finite network interface sends in
    /// that order: the loop calls `Transport::depart` then.
    Held(SimTime),
    /// Background disk work of this much service comes first, paced by admission
    /// control: the loop runs it in slices, then calls `Transport::depart`.
    Background(SimTime),
}

/// A message on its way out with its kind, which the loop works out once per message.
#[derive(Clone, Copy)]
pub struct Outgoing<'a> {
    pub msg: &'a Message,
    pub kind: MessageKind,
}

impl<'a> Outgoing<'a> {
    pub fn new(msg: &'a Message) -> Outgoing<'a> {
        Outgoing {
            msg,
            kind: msg.kind(),
        }
    }
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
    /// Partitions that have ended, with when (a few per scenario).
    ended_partitions: Vec<(usize, SimTime)>,
    active_slow: Vec<usize>,
    /// The loss probabilities of the active message_loss faults, in the order they started.
    active_loss: Vec<f64>,
    /// Their sum, added in that order (0.0 exactly when none is active: a running sum that
    /// subtracted each ended fault could leave a remainder like 2.8e-17, and a loss chance
    /// above 0 costs every message a draw from the network's stream).
    extra_loss: f64,
    value_bytes: u64,
    /// Disk bandwidth (`storage.bytes_per_s`): an operation also takes bytes / this.
    disk_bytes_per_s: Option<f64>,
    pub stats: MessageStats,
    /// Queueing delays when the scenario bounds any resource (`capacity`).
    pub waits: Option<Box<Waits>>,
}

impl Transport {
    pub fn new(
        network: NetworkModel,
        storage: StorageModel,
        partition_plans: Vec<Option<PartitionPlan>>,
        slow_plans: Vec<Option<SlowPlan>>,
        value_bytes: u64,
        disk_bytes_per_s: Option<f64>,
        capacity: bool,
    ) -> Transport {
        Transport {
            network,
            storage,
            partition_plans,
            slow_plans,
            active_partitions: Vec::new(),
            ended_partitions: Vec::new(),
            active_slow: Vec::new(),
            active_loss: Vec::new(),
            extra_loss: 0.0,
            value_bytes,
            disk_bytes_per_s,
            stats: MessageStats::default(),
            waits: capacity.then(Box::default),
        }
    }

    pub fn value_bytes(&self) -> u64 {
        self.value_bytes
    }

    /// One disk operation's service time: a draw from `storage.read_ms` / `write_ms`, plus
    /// `bytes` at `storage.bytes_per_s` when that is given.
    pub fn disk_service(&mut self, op: DiskOp, bytes: u64) -> SimTime {
        let base = self.storage.delay(op);
        match self.disk_bytes_per_s {
            Some(rate) if op != DiskOp::None => base + SimTime(transmit_us(bytes, rate)),
            _ => base,
        }
    }

    /// When a message the sender's host is done with at `now` is ready to leave: after
    /// its disk work (queued when the disk is finite; a write was already done on
    /// receipt, see `Message::writes_on_receipt`). `Err(Some(service))` hands background
    /// work under admission control back to the loop; `Err(None)`: a full disk queue, or
    /// a full admission lane (`resources::MAX_LANE_JOBS`, `MAX_LANE_OBJECTS`), refused the read.
    fn ready_at(
        &mut self,
        now: SimTime,
        disk: DiskOp,
        msg: &Message,
        bytes: u64,
        host: Option<&mut Resources>,
    ) -> Result<SimTime, Option<SimTime>> {
        let Some(r) = host else {
            return Ok(now + self.disk_service(disk, bytes));
        };
        match disk {
            DiskOp::None => Ok(now),
            // Done when the write arrived (the host queued it then).
            DiskOp::Write if r.disk.is_some() => Ok(now),
            // The object buffer holds the key: read from memory.
            DiskOp::Read if r.read_from_memory => Ok(now),
            DiskOp::Read | DiskOp::Write => {
                let service = self.disk_service(disk, bytes);
                if r.disk.is_none() {
                    return Ok(now + service);
                }
                let background = msg.is_background();
                if let (true, Some(lane)) = (background, r.lane.as_mut()) {
                    // A full admission lane refuses it: the answer is never sent.
                    if !lane.try_enter(msg.objects_carried()) {
                        return Err(None);
                    }
                    self.record_background(msg, bytes, service);
                    return Err(Some(service));
                }
                // A full disk queue: the read is refused and its answer never sent.
                let Some((start, finish)) = r.try_disk_job(now, service, background) else {
                    return Err(None);
                };
                if background {
                    self.record_background(msg, bytes, service);
                }
                self.record_wait(Resource::Disk, now, start);
                Ok(finish)
            }
        }
    }

    /// A message leaves its host at `now` (a finite network interface sends it after the
    /// messages before it): its fate on the wire.
    #[inline]
    pub fn depart(
        &mut self,
        now: SimTime,
        from: Place,
        to: Place,
        out: Outgoing,
        host: Option<&mut Resources>,
    ) -> Fate {
        let mut gone = now;
        if from.endpoint != to.endpoint
            && let Some(nic) = host.and_then(|r| r.nic.as_mut())
        {
            // A full queue of messages waiting to leave drops this one (counted).
            let Some((done, waited)) = nic.send(now, out.msg.size_bytes(self.value_bytes)) else {
                self.stats.rejected += 1;
                return Fate::Rejected;
            };
            self.record_wait(Resource::Nic, SimTime::ZERO, waited);
            gone = done;
        }
        let slow = if self.active_slow.is_empty() {
            SimTime::ZERO
        } else {
            self.slow_delay(from.endpoint)
        };
        match self
            .network
            .transit(link_class(from, to), out.kind, self.extra_loss)
        {
            Some(transit) => Fate::InFlight((gone + slow + transit).as_micros()),
            None => {
                self.stats.lost += 1;
                Fate::Lost
            }
        }
    }

    /// Records that a job admitted at `admitted` started at `start`.
    /// A background message's disk job on a finite disk (its kind, bytes and service).
    pub fn record_background(&mut self, msg: &Message, bytes: u64, service: SimTime) {
        if let Some(w) = self.waits.as_deref_mut() {
            w.background.record(msg.kind(), bytes, service);
        }
    }

    pub fn record_wait(&mut self, resource: Resource, admitted: SimTime, start: SimTime) {
        let waits = self
            .waits
            .as_deref_mut()
            .expect("waits exist with capacity");
        let h = match resource {
            Resource::Disk => &mut waits.disk,
            Resource::Cpu => &mut waits.cpu,
            Resource::Nic => &mut waits.nic,
        };
        h.saturating_record(start.as_micros().saturating_sub(admitted.as_micros()));
    }

    pub fn send(
        &mut self,
        now: SimTime,
        from: Place,
        to: Place,
        out: Outgoing,
        disk: DiskOp,
        mut host: Option<&mut Resources>,
    ) -> Sent {
        let kind = out.kind;
        let bytes = out.msg.size_bytes(self.value_bytes);
        self.stats.sent[kind as usize] += 1;
        self.stats.bytes[kind as usize] += bytes;
        if !self.active_partitions.is_empty() && self.partitioned(from, to) {
            self.stats.partitioned += 1;
            return Sent::Fate(Fate::Partitioned);
        }
        let ready = match self.ready_at(now, disk, out.msg, bytes, host.as_deref_mut()) {
            Ok(ready) => ready,
            Err(Some(service)) => return Sent::Background(service),
            Err(None) => {
                self.stats.rejected += 1;
                return Sent::Fate(Fate::Rejected);
            }
        };
        let nic = host.as_ref().is_some_and(|r| r.nic.is_some());
        if nic && ready > now {
            return Sent::Held(ready);
        }
        Sent::Fate(self.depart(ready, from, to, out, host))
    }

    pub fn partition_started(&mut self, fault: usize) {
        self.active_partitions.push(fault);
    }

    pub fn partition_ended(&mut self, fault: usize, now: SimTime) {
        self.active_partitions.retain(|f| *f != fault);
        self.ended_partitions.push((fault, now));
    }

    pub fn slowness_started(&mut self, fault: usize) {
        self.active_slow.push(fault);
    }

    pub fn slowness_ended(&mut self, fault: usize) {
        self.active_slow.retain(|f| *f != fault);
    }

    pub fn loss_started(&mut self, probability: f64) {
        self.active_loss.push(probability);
        self.extra_loss = self.active_loss.iter().fold(0.0, |sum, p| sum + p);
    }

    pub fn loss_ended(&mut self, probability: f64) {
        let ended = (self.active_loss.iter()).position(|p| p.to_bits() == probability.to_bits());
        if let Some(i) = ended {
            self.active_loss.remove(i);
        }
        self.extra_loss = self.active_loss.iter().fold(0.0, |sum, p| sum + p);
    }

    /// Whether an active partition separates two endpoints (ground truth, for the
    /// observer's judgement of suspicions).
    pub fn separates(&self, a: Place, b: Place) -> bool {
        !self.active_partitions.is_empty() && self.partitioned(a, b)
    }

    /// Whether a partition separated two endpoints at any moment since `since` (ground
    /// truth: a suspicion raised just after a heal may judge the silence of the cut).
    pub fn separated_since(&self, a: Place, b: Place, since: SimTime) -> bool {
        self.separates(a, b)
            || (self.ended_partitions.iter())
                .filter(|(_, ended)| *ended >= since)
                .any(|(f, _)| {
                    (self.partition_plans[*f].as_ref())
                        .is_some_and(|plan| partition_group(plan, a) != partition_group(plan, b))
                })
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::rng::{RngStreams, Stream};
    use crate::scenario::{Network, Storage};

    /// Overlapping message-loss faults that end in the order they started leave no loss
    /// behind: a remainder of the sum would cost every later message a draw from the
    /// network's stream.
    #[test]
    fn overlapping_losses_leave_exactly_none_when_all_have_ended() {
        let streams = RngStreams::new(1);
        let mut t = Transport::new(
            NetworkModel::new(&Network::default(), streams.stream(Stream::Network, 0)),
            StorageModel::new(&Storage::default(), streams.stream(Stream::Storage, 0)),
            vec![],
            vec![],
            100,
            None,
            false,
        );
        t.loss_started(0.1);
        t.loss_started(0.2);
        assert_eq!(t.extra_loss, 0.1 + 0.2);
        t.loss_ended(0.1);
        assert_eq!(t.extra_loss, 0.2);
        t.loss_ended(0.2);
        assert_eq!(t.extra_loss.to_bits(), 0.0f64.to_bits());
        // The running sum the transport used to keep: not zero.
        assert!((0.1 + 0.2 - 0.1 - 0.2f64).max(0.0) > 0.0);
    }
}
