//! A client process: sends gets and puts by the scenario's routing mode, and coordinates
//! them itself when routing is `client_driven` (Dynamo §6.4). Like a node, a client is a
//! sans-IO state machine: inputs in, effects out.

use crate::engine::SimTime;
use crate::engine::rng::{SimRng, below};
use crate::ids::{ClientId, DcId, Endpoint, KeyId, NodeId, RequestId, WriteId};
use crate::node::{
    Completion, Coordinator, DiskOp, Effect, FailCause, Message, Origin, QuorumConfig, Timer, VClock, Version,
    VersionRules, Versions,
};
use crate::ring::Ring;
use crate::scenario::Routing;
use smallvec::SmallVec;
use std::sync::Arc;

/// What every client shares: the ring it routes by and the rules it follows.
pub struct ClientContext {
    pub ring: Arc<Ring>,
    pub routing: Routing,
    pub quorum: QuorumConfig,
    /// Nodes of each datacenter, for a load balancer's choice.
    pub nodes_by_dc: Vec<Vec<NodeId>>,
}

/// A finished client request.
#[derive(Debug)]
pub enum Outcome {
    Read {
        req: RequestId,
        result: Result<Versions, FailCause>,
    },
    Write {
        req: RequestId,
        result: Result<Version, FailCause>,
    },
}

pub struct Client {
    id: ClientId,
    dc: DcId,
    coordinator: Coordinator,
}

impl Client {
    pub fn new(id: ClientId, dc: DcId) -> Client {
        Client {
            id,
            dc,
            coordinator: Coordinator::default(),
        }
    }

    pub fn dc(&self) -> DcId {
        self.dc
    }

    /// The node a request enters the cluster through.
    fn entry_node(&self, key: KeyId, ctx: &ClientContext, rng: &mut SimRng) -> NodeId {
        match ctx.routing {
            Routing::LoadBalancer => {
                let local = &ctx.nodes_by_dc[self.dc.index()];
                local[below(rng, local.len() as u64) as usize]
            }
            Routing::PartitionAware | Routing::ClientDriven => ctx.ring.replicas(key)[0],
        }
    }

    pub fn start_get(&mut self, req: RequestId, key: KeyId, ctx: &ClientContext, rng: &mut SimRng, out: &mut Vec<Effect>) {
        if ctx.routing == Routing::ClientDriven {
            let targets: SmallVec<[NodeId; 4]> = ctx.ring.replicas(key).iter().copied().collect();
            let origin = Origin { client: self.id, req };
            self.coordinator.start_read(key, &targets, origin, &ctx.quorum, out);
            return;
        }
        let node = self.entry_node(key, ctx, rng);
        out.push(Effect::Send {
            to: Endpoint::Node(node),
            msg: Message::Get { req, client: self.id, key, forwarded: false },
            disk: DiskOp::None,
        });
    }

    /// Starts a put. `context` is the merged clock of a previous read; `None` is blind.
    #[allow(clippy::too_many_arguments)]
    pub fn start_put(
        &mut self,
        now: SimTime,
        req: RequestId,
        key: KeyId,
        write: WriteId,
        context: Option<VClock>,
        ctx: &ClientContext,
        rng: &mut SimRng,
        out: &mut Vec<Effect>,
    ) {
        if ctx.routing == Routing::ClientDriven && ctx.quorum.rules == VersionRules::LastWriteWins {
            // Under last-write-wins the client stamps and coordinates the write itself.
            let version = Version { write, clock: VClock::default(), stamp_us: now.as_micros() };
            let targets: SmallVec<[(NodeId, Option<NodeId>); 4]> =
                ctx.ring.replicas(key).iter().map(|n| (*n, None)).collect();
            let origin = Origin { client: self.id, req };
            self.coordinator.start_write(key, version, &targets, origin, &ctx.quorum, out);
            return;
        }
        let node = self.entry_node(key, ctx, rng);
        let blind = context.is_none();
        out.push(Effect::Send {
            to: Endpoint::Node(node),
            msg: Message::Put {
                req,
                client: self.id,
                key,
                write,
                context: context.unwrap_or_default(),
                blind,
                forwarded: false,
            },
            disk: DiskOp::None,
        });
    }

    pub fn handle_message(&mut self, from: Endpoint, msg: Message, ctx: &ClientContext, out: &mut Vec<Effect>) -> Option<Outcome> {
        match msg {
            Message::GetReply { req, result } => Some(Outcome::Read { req, result }),
            Message::PutReply { req, result } => Some(Outcome::Write { req, result }),
            Message::ReplicaReadReply { op, versions } => {
                let Endpoint::Node(from) = from else { return None };
                let done = self.coordinator.on_read_reply(op, from, versions, &ctx.quorum, out);
                done.map(outcome_of)
            }
            Message::ReplicaWriteAck { op } => self.coordinator.on_write_ack(op, &ctx.quorum).map(outcome_of),
            _ => None,
        }
    }

    pub fn handle_timer(&mut self, timer: Timer, ctx: &ClientContext, out: &mut Vec<Effect>) -> Option<Outcome> {
        self.coordinator.on_timer(timer, &ctx.quorum, out).map(outcome_of)
    }
}

fn outcome_of(done: Completion) -> Outcome {
    match done {
        Completion::Read { origin, result } => Outcome::Read { req: origin.req, result },
        Completion::Write { origin, result } => Outcome::Write { req: origin.req, result },
    }
}
