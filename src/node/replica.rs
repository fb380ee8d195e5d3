//! The replica side of a request (Dynamo §4.5): answer a coordinator's `ReplicaRead`
//! with what this node holds (its own data reconciled with any hints), and apply a
//! `ReplicaWrite` to storage, or to the hint store when this node stands in for an
//! unreachable home replica. Read repairs arrive as writes without an operation id.

use super::versioning::copy_versions;
use super::{DiskOp, Effect, Message, Node, OpId, Version};
use crate::engine::SimTime;
use crate::ids::{Endpoint, KeyId, NodeId};

impl Node {
    pub(super) fn on_replica_read(
        &mut self,
        from: Endpoint,
        op: OpId,
        key: KeyId,
        out: &mut Vec<Effect>,
    ) {
        let mut versions = copy_versions(self.storage.get(key));
        if !self.hints.is_empty() {
            for hinted in self.hints.sets_of(key) {
                self.cfg.quorum.rules.merge(&mut versions, hinted);
            }
        }
        out.push(Effect::Send {
            to: from,
            msg: Message::ReplicaReadReply { op, versions },
            disk: DiskOp::Read,
        });
    }

    pub(super) fn on_replica_write(
        &mut self,
        now: SimTime,
        from: Endpoint,
        write: IncomingWrite,
        out: &mut Vec<Effect>,
    ) {
        let IncomingWrite {
            op,
            key,
            version,
            siblings,
            hint,
        } = write;
        // The set merged as one: the version alone (the common case, no allocation) or
        // with the siblings that travelled with it.
        let whole;
        let set: &[Version] = if siblings.is_empty() {
            std::slice::from_ref(&version)
        } else {
            whole = [std::slice::from_ref(&version), &siblings].concat();
            &whole
        };
        let accepted = match hint {
            // A node that has left stores nothing more: no acknowledgement, so the
            // coordinator counts another replica instead.
            _ if self.membership.left => false,
            Some(owner) if owner != self.id => self.store_hint(now, owner, key, set, out),
            // A repair aimed at a fallback: its copy lives under a hint, not here.
            None if op.is_none() && !self.ring.is_replica(key, self.id) => false,
            Some(_) | None => {
                self.store_merge(key, set, out);
                true
            }
        };
        if let (Some(op), true) = (op, accepted) {
            out.push(Effect::Send {
                to: from,
                msg: Message::ReplicaWriteAck { op },
                disk: DiskOp::Write,
            });
        }
    }
}

/// A `ReplicaWrite` as it arrives: `op` is `None` for a read repair; `hint` names the
/// owner when this node stands in for it.
pub(super) struct IncomingWrite {
    pub op: Option<OpId>,
    pub key: KeyId,
    pub version: Version,
    pub siblings: Vec<Version>,
    pub hint: Option<NodeId>,
}
