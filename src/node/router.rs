//! Request entry (Dynamo §4.5): a client's get or put reaches some node. A node that is
//! not a home replica of the key forwards it to the first reachable one; a home replica
//! (or a node with none reachable to forward to) coordinates it: it picks the targets
//! (sloppy quorum: the first N reachable nodes of the extended preference list), makes
//! the new version of a put, and hands the operation to the coordinator. Requests that
//! arrive here by a client's stale view are counted as misrouted.

use super::coordinator::{Completion, Fanout, Origin};
use super::fact::{Fact, ids_of};
use super::quorum::{QuorumRule, Tally};
use super::versioning::NewVersion;
use super::{
    Causal, DiskOp, Effect, FailCause, Message, NewObject, Node, Op, OpResult, Route,
    select_targets,
};
use crate::engine::SimTime;
use crate::ids::{ClientId, Endpoint, KeyId, NodeId, RequestId, WriteId};

/// A client's put as it arrives (the fields of `Message::Put` but its route).
pub(super) struct PutRequest {
    pub req: RequestId,
    pub client: ClientId,
    pub key: KeyId,
    pub write: WriteId,
    pub context: Causal,
    pub blind: bool,
    /// A delete: the version is a tombstone.
    pub delete: bool,
    pub prefer: Option<NodeId>,
}

/// How a put that arrived by `route` travels on if this node does not coordinate it:
/// once from the node a client reached, once more from a node that is not a home replica
/// by its own view (a stale sender's view; Dynamo §4.5 and Riak's put path both forward
/// to a node of the preference list), never a third time. A coordinator outside the
/// key's home replicas holds nothing to number the put's event from and takes a fresh
/// actor for it; fresh actors on a hot key fill the vector clock until truncation makes
/// ordered versions concurrent, so such coordination is kept for when no home is reachable.
fn put_forward_route(route: Route) -> Option<Route> {
    match route {
        Route::Direct | Route::Balanced => Some(Route::Forwarded),
        Route::Forwarded => Some(Route::ForwardedAgain),
        Route::ForwardedAgain => None,
    }
}

impl Node {
    pub(super) fn on_get(
        &mut self,
        now: SimTime,
        req: RequestId,
        client: ClientId,
        key: KeyId,
        route: Route,
        out: &mut Vec<Effect>,
    ) {
        self.note_route(key, route);
        if route != Route::Forwarded
            && let Some(to) = self.forward_to(key, None)
        {
            let msg = Message::Get {
                req,
                client,
                key,
                route: Route::Forwarded,
            };
            out.push(Effect::Send {
                to: Endpoint::Node(to),
                msg,
                disk: DiskOp::None,
            });
            return;
        }
        let origin = Origin { client, req };
        self.choose_targets(key, false);
        let Some(tally) = self.plan_tally(key, &self.cfg.quorum.read) else {
            self.reply_failure(origin, Op::Get, out);
            return;
        };
        let nodes = super::nodes_of(&self.targets);
        self.coordinator
            .start_read(now, key, &nodes, tally, origin, &self.cfg.quorum, out);
    }

    pub(super) fn on_put(
        &mut self,
        now: SimTime,
        put: PutRequest,
        route: Route,
        out: &mut Vec<Effect>,
    ) {
        let key = put.key;
        self.note_route(key, route);
        if let Some(next) = put_forward_route(route)
            && let Some(to) = self.forward_to(key, put.prefer.filter(|_| next == Route::Forwarded))
        {
            let msg = Message::Put {
                req: put.req,
                client: put.client,
                key,
                write: put.write,
                context: put.context,
                blind: put.blind,
                delete: put.delete,
                route: next,
                prefer: put.prefer,
            };
            out.push(Effect::Send {
                to: Endpoint::Node(to),
                msg,
                disk: DiskOp::None,
            });
            return;
        }
        let origin = Origin {
            client: put.client,
            req: put.req,
        };
        self.choose_targets(key, self.cfg.quorum.write.hints_count());
        let Some(tally) = self.plan_tally(key, &self.cfg.quorum.write) else {
            self.reply_failure(origin, Op::Put, out);
            return;
        };
        let home = self.ring.is_replica(key, self.id);
        let object = self.new_version(now, &put, home);
        if 1 + object.siblings.len() > self.cfg.max_siblings {
            let done = Completion::new(
                origin,
                OpResult::failed(Op::Put, FailCause::TooManySiblings),
            );
            self.deliver(Some(done), out);
            return;
        }
        if put.blind {
            // Ground truth for the observer: what this blind put replaces. Schemes that
            // keep no siblings merge nothing; the others make it descend from all held.
            let merged = if self.cfg.quorum.rules.keeps_siblings() {
                ids_of(self.stored(key))
            } else {
                Default::default()
            };
            self.facts.push(Fact::BlindMerge {
                write: put.write,
                key,
                merged,
            });
        }
        if home && self.cfg.quorum.rules.ships_siblings() {
            // Store at once: the next event this node numbers on the key must see this one.
            self.store_merge(key, &object.all(), out);
        }
        let targets = std::mem::take(&mut self.targets);
        let fanout = Fanout {
            targets: &targets,
            tally,
        };
        self.coordinator
            .start_write(now, key, object, fanout, origin, &self.cfg.quorum, out);
        self.targets = targets;
    }

    /// Counts requests a client sent here believing this node a home replica when, by
    /// this node's view, it is not: the cost of stale membership views.
    fn note_route(&mut self, key: KeyId, route: Route) {
        if route == Route::Direct && !self.ring.is_replica(key, self.id) {
            self.membership.stats.misrouted_requests += 1;
        }
    }

    pub(super) fn is_reachable(&self, node: NodeId) -> bool {
        node == self.id || !self.detector.is_suspected(node)
    }

    /// Where a request for `key` should go: the home replica the client prefers as the
    /// put's coordinator when it is one and reachable (Dynamo §6.4), else, when this node
    /// is not a home replica, the first reachable one (§4.5). `None` means coordinate here.
    fn forward_to(&self, key: KeyId, prefer: Option<NodeId>) -> Option<NodeId> {
        let homes = self.ring.replicas(key);
        if let Some(p) = prefer
            && homes.contains(&p)
            && self.is_reachable(p)
        {
            return (p != self.id).then_some(p);
        }
        if homes.contains(&self.id) {
            return None;
        }
        homes.iter().copied().find(|n| self.is_reachable(*n))
    }

    /// The targets of an operation on `key` (into `self.targets`): its reachable home
    /// replicas and, under sloppy quorum (or when `hints_count`, as for `ANY`), a
    /// fallback for each home replica that is not.
    fn choose_targets(&mut self, key: KeyId, hints_count: bool) {
        let mut targets = std::mem::take(&mut self.targets);
        select_targets(
            self.ring.preference(key),
            self.cfg.n,
            self.cfg.sloppy_quorum || hints_count,
            |n| self.is_reachable(n),
            &mut targets,
        );
        self.targets = targets;
    }

    /// What an operation on `key` to `self.targets` must hear under `rule`, counted from
    /// this node's datacenter; `None` when the targets cannot meet it.
    fn plan_tally(&self, key: KeyId, rule: &QuorumRule) -> Option<Tally> {
        Tally::for_key(
            rule,
            &self.ring,
            key,
            &self.targets,
            self.ring.dc_of(self.id),
        )
    }

    fn reply_failure(&self, origin: Origin, op: Op, out: &mut Vec<Effect>) {
        let done = Completion::new(origin, OpResult::failed(op, FailCause::NotEnoughReplicas));
        self.deliver(Some(done), out);
    }

    /// The coordinator's new version, made by the run's versioning scheme from the
    /// client's context (or, for a blind put, what this node holds for the key), with the
    /// stored siblings that travel with it.
    fn new_version(&mut self, now: SimTime, put: &PutRequest, home: bool) -> NewObject {
        let (actor, counter) = self.events.next(self.id, home);
        self.cfg.quorum.rules.new_version(NewVersion {
            actor,
            counter,
            write: put.write,
            stamp_us: self.wall_clock_us(now),
            tombstone: put.delete,
            context: (!put.blind).then_some(&put.context),
            stored: self.stored(put.key),
            max_entries: self.cfg.vclock_max_entries,
        })
    }

    /// Sends a finished operation's answer to the client that asked.
    pub(super) fn deliver(&self, done: Option<Completion>, out: &mut Vec<Effect>) {
        let Some(done) = done else { return };
        out.push(Effect::Send {
            to: Endpoint::Client(done.origin.client),
            msg: done.result.into_reply(done.origin.req, done.fastest),
            disk: DiskOp::None,
        });
    }
}
