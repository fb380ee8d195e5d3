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
    inter_dc_added: Option<Sampler>,
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
            inter_dc_added: cfg.inter_dc_added_ms.as_ref().map(Sampler::new),
            drop_probability: cfg.drop_probability,
            rng,
        }
    }

    /// Transit time of one message, or `None` when the network loses it. `extra_loss` is
    /// the loss probability added by active faults.
    #[inline]
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
        let mut ms = if sampler.is_zero() {
            0.0
        } else {
            sampler.sample_ms(&mut self.rng)
        };
        // Drawn only when configured, after the link's own draw, so runs without it
        // keep every draw of the stream where it was.
        if let (LinkClass::InterDc, Some(added)) = (class, &self.inter_dc_added) {
            ms += added.sample_ms(&mut self.rng);
        }
        Some(SimTime::from_ms_f64(ms))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::dist::Distribution;
    use crate::engine::rng::{RngStreams, Stream};

    fn model(added: Option<f64>) -> NetworkModel {
        let mut cfg = Network::default();
        cfg.latency_ms.intra_dc = Distribution::Constant(0.5);
        cfg.latency_ms.inter_dc = Distribution::Constant(40.0);
        cfg.by_message_ms
            .insert("write_request".into(), Distribution::Constant(2.0));
        cfg.inter_dc_added_ms = added.map(Distribution::Constant);
        NetworkModel::new(&cfg, RngStreams::new(1).stream(Stream::Network, 0))
    }

    #[test]
    fn the_wide_area_delay_lands_on_inter_datacenter_messages_only() {
        let ms = |m: &mut NetworkModel, class, kind| {
            m.transit(class, kind, 0.0)
                .expect("no loss configured")
                .as_ms_f64()
        };
        let mut m = model(Some(75.0));
        // On top of a per-kind override and of the link class alike.
        assert_eq!(
            ms(&mut m, LinkClass::InterDc, MessageKind::WriteRequest),
            77.0
        );
        assert_eq!(ms(&mut m, LinkClass::InterDc, MessageKind::Gossip), 115.0);
        assert_eq!(
            ms(&mut m, LinkClass::IntraDc, MessageKind::WriteRequest),
            2.0
        );
        assert_eq!(ms(&mut m, LinkClass::IntraDc, MessageKind::Gossip), 0.5);
        assert_eq!(ms(&mut m, LinkClass::Local, MessageKind::Gossip), 0.0);
        let mut plain = model(None);
        assert_eq!(
            ms(&mut plain, LinkClass::InterDc, MessageKind::WriteRequest),
            2.0
        );
    }
}
