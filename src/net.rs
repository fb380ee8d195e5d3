//! The network model: per-link-class latency (local, intra-datacenter, inter-datacenter),
//! per-message-kind overrides, and random loss. It decides how long a message takes, or
//! that it is lost; it knows nothing of what messages mean.

use crate::engine::rng::{SimRng, unit_f64};
use crate::engine::{Sampler, SimTime};
use crate::scenario::Network;
use crate::vocab::MessageKind;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkClass {
    /// A node talking to itself (the coordinator's own replica).
    Local,
    IntraDc,
    InterDc,
}

pub struct NetworkModel {
    local: Sampler,
    intra_dc: Sampler,
    inter_dc: Sampler,
    by_kind: [Option<Sampler>; MessageKind::COUNT],
    drop_probability: f64,
    rng: SimRng,
}

impl NetworkModel {
    pub fn new(cfg: &Network, rng: SimRng) -> NetworkModel {
        let mut by_kind: [Option<Sampler>; MessageKind::COUNT] = Default::default();
        for (name, dist) in &cfg.by_message_ms {
            if let Some(kind) = MessageKind::from_name(name) {
                by_kind[kind as usize] = Some(Sampler::new(dist));
            }
        }
        NetworkModel {
            local: Sampler::new(&cfg.latency_ms.local),
            intra_dc: Sampler::new(&cfg.latency_ms.intra_dc),
            inter_dc: Sampler::new(&cfg.latency_ms.inter_dc),
            by_kind,
            drop_probability: cfg.drop_probability,
            rng,
        }
    }

    /// Transit time of one message, or `None` when the network loses it. `extra_loss` is
    /// the loss probability added by active faults.
    pub fn transit(
        &mut self,
        class: LinkClass,
        kind: MessageKind,
        extra_loss: f64,
    ) -> Option<SimTime> {
        let loss = self.drop_probability + extra_loss;
        if loss > 0.0 && unit_f64(&mut self.rng) < loss {
            return None;
        }
        let sampler = match &self.by_kind[kind as usize] {
            Some(s) => s,
            None => match class {
                LinkClass::Local => &self.local,
                LinkClass::IntraDc => &self.intra_dc,
                LinkClass::InterDc => &self.inter_dc,
            },
        };
        if sampler.is_zero() {
            return Some(SimTime::ZERO);
        }
        Some(SimTime::from_ms_f64(sampler.sample_ms(&mut self.rng)))
    }

    /// A draw from an arbitrary sampler on the network's stream (slow-node delays).
    pub fn extra_delay(&mut self, sampler: &Sampler) -> SimTime {
        SimTime::from_ms_f64(sampler.sample_ms(&mut self.rng))
    }
}

/// Disk service times at replicas.
pub struct StorageModel {
    read: Sampler,
    write: Sampler,
    rng: SimRng,
}

impl StorageModel {
    pub fn new(cfg: &crate::scenario::Storage, rng: SimRng) -> StorageModel {
        StorageModel {
            read: Sampler::new(&cfg.read_ms),
            write: Sampler::new(&cfg.write_ms),
            rng,
        }
    }

    pub fn delay(&mut self, op: crate::node::DiskOp) -> SimTime {
        let sampler = match op {
            crate::node::DiskOp::None => return SimTime::ZERO,
            crate::node::DiskOp::Read => &self.read,
            crate::node::DiskOp::Write => &self.write,
        };
        if sampler.is_zero() {
            return SimTime::ZERO;
        }
        SimTime::from_ms_f64(sampler.sample_ms(&mut self.rng))
    }
}
