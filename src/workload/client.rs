//! A client process: sends gets and puts by the scenario's routing mode, and coordinates
//! them itself when routing is `client_driven` (Dynamo §6.4). Like a node, a client is a
//! sans-IO state machine: inputs in, effects out.

use crate::engine::SimTime;
use crate::engine::rng::{SimRng, below};
use crate::ids::{ClientId, DcId, Endpoint, KeyId, NodeId, RequestId, WriteId};
use crate::node::quorum::{QuorumRule, Tally};
use crate::node::{
    Causal, Completion, Coordinator, DiskOp, Effect, Fanout, Message, NewObject, OpResult, Origin,
    QuorumConfig, Route, Target, Timer, Version, nodes_of, select_targets,
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
    pub n: usize,
    pub sloppy_quorum: bool,
    /// How long a client avoids a node that let a request time out.
    pub retry_after: SimTime,
    /// How often a client refreshes its membership view from a node.
    pub refresh_every: SimTime,
}

/// Nodes a client avoids after they let its requests time out. Each repeated failure
/// doubles the time before the client tries the node again (up to `MAX_BACKOFF_FACTOR`
/// times the base), so a node that stays down costs each client a few timeouts, not one
/// every retry period; any reply from the node forgives it.
#[derive(Default)]
struct Avoidance {
    /// node -> (avoid until, current backoff)
    nodes: std::collections::BTreeMap<NodeId, (SimTime, SimTime)>,
}

const MAX_BACKOFF_FACTOR: u64 = 16;

impl Avoidance {
    fn avoid(&mut self, node: NodeId, now: SimTime, base: SimTime) {
        let backoff = match self.nodes.get(&node) {
            Some((_, b)) => SimTime((b.0 * 2).min(base.0 * MAX_BACKOFF_FACTOR)),
            None => base,
        };
        self.nodes.insert(node, (now + backoff, backoff));
    }

    fn avoids(&self, node: NodeId, now: SimTime) -> bool {
        !self.nodes.is_empty() && self.nodes.get(&node).is_some_and(|(until, _)| *until > now)
    }

    fn forgive(&mut self, node: NodeId) {
        if !self.nodes.is_empty() {
            self.nodes.remove(&node);
        }
    }
}

pub struct Client {
    id: ClientId,
    dc: DcId,
    coordinator: Coordinator,
    avoid: Avoidance,
    targets: SmallVec<[Target; 4]>,
    /// This client's membership view, refreshed by polling.
    ring: Arc<Ring>,
    epoch: u32,
    polls: u64,
}

impl Client {
    pub fn new(id: ClientId, dc: DcId, ring: Arc<Ring>) -> Client {
        Client {
            id,
            dc,
            coordinator: Coordinator::default(),
            avoid: Avoidance::default(),
            targets: SmallVec::new(),
            ring,
            epoch: 0,
            polls: 0,
        }
    }

    fn route(&self, ctx: &ClientContext) -> Route {
        match ctx.routing {
            Routing::LoadBalancer => Route::Balanced,
            Routing::PartitionAware | Routing::ClientDriven => Route::Direct,
        }
    }

    /// Arms the first membership poll, offset by client id so polls spread out.
    pub fn start(&mut self, ctx: &ClientContext, out: &mut Vec<Effect>) {
        let every = ctx.refresh_every.as_micros().max(1);
        let after = SimTime(crate::engine::rng::mix64(self.id.0 as u64) % every);
        out.push(Effect::SetTimer {
            after,
            timer: Timer::MembershipPoll,
        });
    }

    /// A request sent through `node` timed out: avoid it for a while.
    pub fn suspect(&mut self, node: NodeId, now: SimTime, ctx: &ClientContext) {
        self.avoid.avoid(node, now, ctx.retry_after);
    }

    pub fn dc(&self) -> DcId {
        self.dc
    }

    /// The node a request enters the cluster through: the home replica a put prefers as
    /// its coordinator when this client does not suspect it, else the first home replica
    /// it does not suspect (then fallbacks), or for a load balancer a random local node,
    /// redrawn a few times if suspected (the preference travels with the put).
    fn entry_node(
        &mut self,
        now: SimTime,
        key: KeyId,
        prefer: Option<NodeId>,
        ctx: &ClientContext,
        rng: &mut SimRng,
    ) -> NodeId {
        match ctx.routing {
            Routing::LoadBalancer => {
                let local = &ctx.nodes_by_dc[self.dc.index()];
                let mut pick = local[below(rng, local.len() as u64) as usize];
                for _ in 0..4 {
                    if !self.avoid.avoids(pick, now) {
                        break;
                    }
                    pick = local[below(rng, local.len() as u64) as usize];
                }
                pick
            }
            Routing::PartitionAware | Routing::ClientDriven => {
                if let Some(p) = prefer
                    && self.ring.replicas(key).contains(&p)
                    && !self.avoid.avoids(p, now)
                {
                    return p;
                }
                let pref = self.ring.preference(key);
                pref.iter()
                    .copied()
                    .find(|n| !self.avoid.avoids(*n, now))
                    .unwrap_or(pref[0])
            }
        }
    }

    /// Chooses the targets of an operation this client coordinates (client-driven) and
    /// plans what it must hear under `rule`, counted from the client's datacenter; `None`
    /// when the targets cannot meet it.
    fn client_targets(
        &mut self,
        now: SimTime,
        key: KeyId,
        rule: &QuorumRule,
        ctx: &ClientContext,
    ) -> Option<Tally> {
        let avoid = &self.avoid;
        select_targets(
            self.ring.preference(key),
            ctx.n,
            ctx.sloppy_quorum || rule.hints_count(),
            |n| !avoid.avoids(n, now),
            &mut self.targets,
        );
        Tally::for_key(rule, &self.ring, key, &self.targets, self.dc)
    }

    /// Starts a get; returns the node it entered through (`None` when the client
    /// coordinates it itself).
    pub fn start_get(
        &mut self,
        now: SimTime,
        req: RequestId,
        key: KeyId,
        ctx: &ClientContext,
        rng: &mut SimRng,
        out: &mut Vec<Effect>,
    ) -> Option<NodeId> {
        if ctx.routing == Routing::ClientDriven {
            let origin = Origin {
                client: self.id,
                req,
            };
            let Some(tally) = self.client_targets(now, key, &ctx.quorum.read, ctx) else {
                return None; // nothing reachable enough: the request times out client-side
            };
            let targets = nodes_of(&self.targets);
            self.coordinator
                .start_read(now, key, &targets, tally, origin, &ctx.quorum, out);
            return None;
        }
        let node = self.entry_node(now, key, None, ctx, rng);
        out.push(Effect::Send {
            to: Endpoint::Node(node),
            msg: Message::Get {
                req,
                client: self.id,
                key,
                route: self.route(ctx),
            },
            disk: DiskOp::None,
        });
        Some(node)
    }

    /// Starts a put (see `PutCall`).
    pub fn start_put(
        &mut self,
        now: SimTime,
        put: PutCall,
        ctx: &ClientContext,
        rng: &mut SimRng,
        out: &mut Vec<Effect>,
    ) -> Option<NodeId> {
        let PutCall {
            req,
            key,
            write,
            delete,
            context,
            prefer,
        } = put;
        // A scheme that lets clients version writes (last write wins: the client's stamp)
        // has a client-driven client coordinate the put itself.
        if ctx.routing == Routing::ClientDriven
            && let Some(version) = ctx
                .quorum
                .rules
                .client_version(write, now.as_micros() as i64)
        {
            let version = Version {
                tombstone: delete,
                ..version
            };
            let tally = self.client_targets(now, key, &ctx.quorum.write, ctx)?;
            let targets = std::mem::take(&mut self.targets);
            let origin = Origin {
                client: self.id,
                req,
            };
            self.coordinator.start_write(
                now,
                key,
                NewObject::alone(version),
                Fanout {
                    targets: &targets,
                    tally,
                },
                origin,
                &ctx.quorum,
                out,
            );
            self.targets = targets;
            return None;
        }
        let node = self.entry_node(now, key, prefer, ctx, rng);
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
                delete,
                route: self.route(ctx),
                prefer,
            },
            disk: DiskOp::None,
        });
        Some(node)
    }

    /// A message arrived; returns the request it finished, if any.
    pub fn handle_message(
        &mut self,
        now: SimTime,
        from: Endpoint,
        msg: Message,
        ctx: &ClientContext,
        out: &mut Vec<Effect>,
    ) -> Option<Completion> {
        if let Endpoint::Node(n) = from {
            self.avoid.forgive(n);
        }
        match msg {
            Message::MembershipReply { epoch, ring, .. } => {
                if epoch > self.epoch {
                    self.epoch = epoch;
                    self.ring = ring;
                }
                None
            }
            Message::GetReply {
                req,
                result,
                fastest,
            } => Some(Completion {
                fastest,
                ..self.answered(req, OpResult::Get(result))
            }),
            Message::PutReply { req, result } => Some(self.answered(req, OpResult::Put(result))),
            Message::ReplicaReadReply { op, versions } => {
                let Endpoint::Node(from) = from else {
                    return None;
                };
                self.coordinator
                    .on_read_reply(now, op, from, versions, &ctx.quorum, out)
            }
            Message::ReplicaWriteAck { op } => {
                let Endpoint::Node(from) = from else {
                    return None;
                };
                self.coordinator.on_write_ack(op, from)
            }
            // Node-to-node traffic; a client is never sent any of it.
            Message::Get { .. }
            | Message::Put { .. }
            | Message::ReplicaRead { .. }
            | Message::ReplicaWrite { .. }
            | Message::Ping
            | Message::Pong
            | Message::Heartbeat
            | Message::HeartbeatAck
            | Message::HintHandoff { .. }
            | Message::HintAck { .. }
            | Message::Gossip { .. }
            | Message::GossipUpdate { .. }
            | Message::TransferBatch { .. }
            | Message::TransferBatchAck { .. }
            | Message::TransferDone
            | Message::TransferDoneAck
            | Message::MembershipPoll
            | Message::AeHashes { .. }
            | Message::AeKeys { .. }
            | Message::AeData { .. }
            | Message::AeDone { .. }
            | Message::AeAsk { .. } => None,
        }
    }

    /// A node answered request `req`.
    fn answered(&self, req: RequestId, result: OpResult) -> Completion {
        let origin = Origin {
            client: self.id,
            req,
        };
        Completion::new(origin, result)
    }

    /// A timer fired; returns the requests it finished (operations the client
    /// coordinates that timed out).
    pub fn handle_timer(
        &mut self,
        now: SimTime,
        timer: Timer,
        ctx: &ClientContext,
        out: &mut Vec<Effect>,
    ) -> SmallVec<[Completion; 1]> {
        if timer == Timer::MembershipPoll {
            let members = self.ring.members();
            self.polls += 1;
            let pick = (crate::engine::rng::mix64(self.id.0 as u64 ^ self.polls)
                % members.len() as u64) as usize;
            out.push(Effect::Send {
                to: Endpoint::Node(members[pick]),
                msg: Message::MembershipPoll,
                disk: DiskOp::None,
            });
            out.push(Effect::SetTimer {
                after: ctx.refresh_every,
                timer: Timer::MembershipPoll,
            });
            return SmallVec::new();
        }
        debug_assert_eq!(timer, Timer::OpDeadlines, "a client sets no other timer");
        let done = self.coordinator.on_deadlines(now, &ctx.quorum, out);
        for node in std::mem::take(&mut self.coordinator.unanswered) {
            self.avoid.avoid(node, now, ctx.retry_after);
        }
        done
    }
}

/// A put a client sends: `context` is the causal context of a previous read (`None`: a
/// blind put), `prefer` the home replica that should coordinate it, if any, and `delete`
/// makes it a delete (a tombstone with that context).
pub struct PutCall {
    pub req: RequestId,
    pub key: KeyId,
    pub write: WriteId,
    pub delete: bool,
    pub context: Option<Causal>,
    pub prefer: Option<NodeId>,
}
