//! The messages Dynamo nodes and clients exchange, and the effects a protocol state
//! machine asks its host to carry out.

use super::versioning::{Causal, Version, Versions};
use crate::engine::SimTime;
use crate::ids::{ClientId, Endpoint, KeyId, NodeId, RequestId, WriteId};
use crate::ring::Ring;
use std::sync::Arc;

/// How a client request reached a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// The client believed this node is a home replica of the key (partition-aware).
    Direct,
    /// A load balancer picked the node at random.
    Balanced,
    /// Another node forwarded it to a home replica.
    Forwarded,
    /// A put forwarded a second time: the node it was forwarded to is not a home replica
    /// by its own view (their ring views disagree while membership changes spread). It is
    /// coordinated where it lands, so a request never circles between disagreeing views.
    ForwardedAgain,
}

/// A coordinator-local operation number; replies carry it back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OpId(pub u64);

/// Why a request failed, as the coordinator or client saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum FailCause {
    /// No answer within the request timeout.
    Timeout,
    /// The coordinator could not find enough reachable replicas to try.
    NotEnoughReplicas,
    /// The put would have made the key hold more siblings than `replication.max_siblings`
    /// (Riak's guard against sibling explosion).
    TooManySiblings,
}

#[derive(Clone, Debug)]
pub enum Message {
    /// client -> node: read a key. `client` is where the answer goes, even if forwarded.
    Get {
        req: RequestId,
        client: ClientId,
        key: KeyId,
        route: Route,
    },
    /// client -> node: write a key. `context` is the causal context of what the client
    /// read; `blind` puts carry none and the coordinator uses what it holds locally.
    Put {
        req: RequestId,
        client: ClientId,
        key: KeyId,
        write: WriteId,
        context: Causal,
        blind: bool,
        /// A delete: the put writes a tombstone.
        delete: bool,
        route: Route,
        /// The home replica the client wants to coordinate the put (the fastest
        /// replier of its context read, `workload.write_coordinator: fastest_read`).
        prefer: Option<NodeId>,
    },
    GetReply {
        req: RequestId,
        result: Result<Versions, FailCause>,
        /// The replica that answered first, when the run asks for it (a node id, 4 bytes).
        fastest: Option<NodeId>,
    },
    PutReply {
        req: RequestId,
        result: Result<Version, FailCause>,
    },
    /// coordinator -> replica
    ReplicaRead {
        op: OpId,
        key: KeyId,
    },
    ReplicaReadReply {
        op: OpId,
        versions: Versions,
    },
    /// coordinator -> replica. `op` is `None` for read repair (no ack wanted). `hint`
    /// names the intended owner when this replica is a sloppy-quorum fallback.
    ReplicaWrite {
        op: Option<OpId>,
        key: KeyId,
        version: Version,
        /// Stored versions that travel with `version` (schemes that ship siblings): the
        /// receiver merges them as one set.
        siblings: Vec<Version>,
        hint: Option<NodeId>,
        /// Write it to disk at once, past the host's write buffer (Dynamo §6.1).
        durable: bool,
    },
    ReplicaWriteAck {
        op: OpId,
    },
    /// A failure detector checks whether a suspected peer is back.
    Ping,
    Pong,
    /// Phi accrual (`failure_detector.kind: "phi_accrual"`): a node asks each neighbour
    /// every heartbeat interval; the gaps between the answers are what φ is made of.
    Heartbeat,
    HeartbeatAck,
    /// fallback -> home replica: versions held for it under a hint.
    HintHandoff {
        key: KeyId,
        versions: Versions,
    },
    /// home replica -> fallback: the handed-off versions are stored (ids only on the wire).
    HintAck {
        key: KeyId,
        versions: Versions,
    },
    /// Gossip digest: the sender's membership epoch.
    Gossip {
        epoch: u32,
    },
    /// Gossip answer: a newer ring. `bytes` is what the changes it carries weigh.
    GossipUpdate {
        epoch: u32,
        ring: Arc<Ring>,
        bytes: u64,
    },
    /// A moving range's keys (or a write forwarded during the move). `seq` names the
    /// batch for its acknowledgement: a batch not acknowledged in time is sent again, so a
    /// dropped batch cannot leave a key behind.
    TransferBatch {
        entries: Vec<(KeyId, Versions)>,
        seq: u32,
    },
    /// The receiver stored batch `seq`.
    TransferBatchAck {
        seq: u32,
    },
    TransferDone,
    TransferDoneAck,
    /// A client asks a node for its membership view (Dynamo §6.4 clients poll every 10 s).
    MembershipPoll,
    MembershipReply {
        epoch: u32,
        ring: Arc<Ring>,
        bytes: u64,
    },
    /// Anti-entropy: hashes of tree nodes at `level` of `slot`'s tree, (index, hash).
    AeHashes {
        slot: u32,
        level: u8,
        hashes: Vec<(u32, u64)>,
    },
    /// Anti-entropy: the sender's (key, version-set hash) pairs in differing `leaves`.
    AeKeys {
        slot: u32,
        leaves: Vec<u32>,
        keys: Vec<(KeyId, u64)>,
    },
    /// Anti-entropy: versions of differing keys, and the keys the sender wants back.
    AeData {
        slot: u32,
        entries: Vec<(KeyId, Versions)>,
        want: Vec<KeyId>,
    },
    /// Anti-entropy: the sender stored the data it was sent of `slot` and has nothing to
    /// send back (or had nothing to exchange): the exchange is over.
    AeDone {
        slot: u32,
    },
    /// Anti-entropy: the sender still holds a record of an exchange of `slot` with data
    /// in flight to or from the receiver, and asks whether it is over on that side.
    AeAsk {
        slot: u32,
    },
}

// The kinds live at the bottom of the crate: the scenario format names them too.
pub use crate::vocab::MessageKind;

/// Fixed per-message overhead in bytes (headers, ids) for byte accounting.
const HEADER_BYTES: u64 = 64;
const CLOCK_ENTRY_BYTES: u64 = 16;

impl Message {
    /// Whether handling this message writes to the receiver's disk (a replica write, a
    /// hint, a repair, a handoff, moved or anti-entropy data). A host with a finite disk
    /// hands such a message to its node when the write completes: that is when the new
    /// version becomes visible.
    pub fn writes_on_receipt(&self) -> bool {
        match self {
            Message::ReplicaWrite { .. } | Message::HintHandoff { .. } => true,
            Message::TransferBatch { entries, .. } | Message::AeData { entries, .. } => {
                !entries.is_empty()
            }
            _ => false,
        }
    }

    /// The key of a replica write a host's object buffer may take (Dynamo §6.1): one
    /// into the node's own store (not a hint) that the coordinator did not ask to be
    /// durable.
    pub fn bufferable_write(&self) -> Option<KeyId> {
        match self {
            Message::ReplicaWrite {
                key,
                hint: None,
                durable: false,
                ..
            } => Some(*key),
            _ => None,
        }
    }

    /// The keys whose stored objects handling this message may change (a disk write
    /// writes each whole).
    pub fn stored_keys(&self) -> Vec<KeyId> {
        match self {
            Message::ReplicaWrite {
                key, hint: None, ..
            }
            | Message::HintHandoff { key, .. } => {
                vec![*key]
            }
            Message::TransferBatch { entries, .. } | Message::AeData { entries, .. } => {
                entries.iter().map(|(k, _)| *k).collect()
            }
            _ => Vec::new(),
        }
    }

    /// The key objects (a key with its versions) the message carries: what it holds in
    /// memory while it waits, whatever the values' size.
    pub fn objects_carried(&self) -> u64 {
        match self {
            Message::ReplicaWrite { .. } | Message::HintHandoff { .. } => 1,
            Message::TransferBatch { entries, .. } | Message::AeData { entries, .. } => {
                entries.len() as u64
            }
            _ => 0,
        }
    }

    /// Whether the disk work of this message is background work (Dynamo §6.5: replica
    /// synchronization and data handoff): hint handoff, anti-entropy data, range transfer.
    /// Replica reads and writes (hints and read repairs included) are foreground.
    pub fn is_background(&self) -> bool {
        matches!(
            self,
            Message::HintHandoff { .. } | Message::TransferBatch { .. } | Message::AeData { .. }
        )
    }

    pub fn kind(&self) -> MessageKind {
        match self {
            Message::Get { route, .. } | Message::Put { route, .. } => {
                if matches!(route, Route::Forwarded | Route::ForwardedAgain) {
                    MessageKind::Forward
                } else {
                    MessageKind::ClientRequest
                }
            }
            Message::GetReply { .. } | Message::PutReply { .. } => MessageKind::ClientResponse,
            Message::ReplicaRead { .. } => MessageKind::ReadRequest,
            Message::ReplicaReadReply { .. } => MessageKind::ReadResponse,
            Message::ReplicaWrite { op: None, .. } => MessageKind::ReadRepair,
            Message::ReplicaWrite { .. } => MessageKind::WriteRequest,
            Message::ReplicaWriteAck { .. } => MessageKind::WriteAck,
            Message::Ping => MessageKind::Ping,
            Message::Pong => MessageKind::Pong,
            Message::Heartbeat | Message::HeartbeatAck => MessageKind::Heartbeat,
            Message::HintHandoff { .. } => MessageKind::HintHandoff,
            Message::HintAck { .. } => MessageKind::HintAck,
            Message::AeHashes { .. } => MessageKind::AeHashes,
            Message::AeKeys { .. } => MessageKind::AeKeys,
            Message::AeData { .. } => MessageKind::AeData,
            Message::AeDone { .. } => MessageKind::AeDone,
            Message::AeAsk { .. } => MessageKind::AeAsk,
            Message::Gossip { .. } => MessageKind::Gossip,
            Message::GossipUpdate { .. } => MessageKind::GossipUpdate,
            Message::TransferBatch { .. } => MessageKind::Transfer,
            Message::TransferBatchAck { .. } | Message::TransferDone | Message::TransferDoneAck => {
                MessageKind::TransferDone
            }
            Message::MembershipPoll | Message::MembershipReply { .. } => {
                MessageKind::MembershipPoll
            }
        }
    }

    /// Approximate size on the wire, with `value_bytes` per carried value.
    pub fn size_bytes(&self, value_bytes: u64) -> u64 {
        let version =
            |v: &Version| value_bytes + CLOCK_ENTRY_BYTES * v.causal.wire_entries() as u64 + 16;
        let versions = |vs: &[Version]| vs.iter().map(version).sum::<u64>();
        HEADER_BYTES
            + match self {
                Message::Put {
                    context, prefer, ..
                } => {
                    value_bytes
                        + CLOCK_ENTRY_BYTES * context.wire_entries() as u64
                        + node_id_bytes(prefer)
                }
                Message::GetReply {
                    result: Ok(vs),
                    fastest,
                    ..
                } => versions(vs) + node_id_bytes(fastest),
                Message::PutReply { result: Ok(v), .. } => {
                    CLOCK_ENTRY_BYTES * v.causal.wire_entries() as u64
                }
                Message::ReplicaReadReply { versions: vs, .. } => versions(vs),
                Message::ReplicaWrite {
                    version: v,
                    siblings,
                    ..
                } => version(v) + versions(siblings),
                Message::HintHandoff { versions: vs, .. } => versions(vs),
                Message::HintAck { versions: vs, .. } => 16 * vs.len() as u64,
                Message::AeHashes { hashes, .. } => 12 * hashes.len() as u64,
                Message::GossipUpdate { bytes, .. } | Message::MembershipReply { bytes, .. } => {
                    *bytes
                }
                Message::TransferBatch { entries, .. } => {
                    entries.iter().map(|(_, vs)| 4 + versions(vs)).sum::<u64>()
                }
                Message::AeKeys { leaves, keys, .. } => {
                    4 * leaves.len() as u64 + 12 * keys.len() as u64
                }
                Message::AeData { entries, want, .. } => {
                    entries.iter().map(|(_, vs)| 4 + versions(vs)).sum::<u64>()
                        + 4 * want.len() as u64
                }
                // Headers only: ids, a key, an epoch, or a failure.
                Message::Get { .. }
                | Message::GetReply { result: Err(_), .. }
                | Message::PutReply { result: Err(_), .. }
                | Message::ReplicaRead { .. }
                | Message::ReplicaWriteAck { .. }
                | Message::Ping
                | Message::Pong
                | Message::Heartbeat
                | Message::HeartbeatAck
                | Message::Gossip { .. }
                | Message::TransferBatchAck { .. }
                | Message::AeDone { .. }
                | Message::AeAsk { .. }
                | Message::TransferDone
                | Message::TransferDoneAck
                | Message::MembershipPoll => 0,
            }
    }
}

/// A node id a message may carry.
fn node_id_bytes(node: &Option<NodeId>) -> u64 {
    if node.is_some() { 4 } else { 0 }
}

/// Disk work a host must do before a message leaves (the replica's read or write).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiskOp {
    None,
    Read,
    Write,
}

/// Timers a protocol state machine asks for. They fire once; stale ones are ignored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timer {
    /// The coordinator's operation timers are due (an operation's timeout, the
    /// suspicion of its silent targets, the end of its read-repair window): one wakeup at
    /// a time stands for all of them (see `engine::deadlines`).
    OpDeadlines,
    /// Probe suspected peers.
    Probe,
    /// Scan the hint store and hand hints to owners that answer.
    HintScan,
    /// Start an anti-entropy exchange for the next key range.
    AntiEntropy,
    /// Gossip with one peer.
    Gossip,
    /// Send the next batch of a range transfer.
    Transfer,
    /// A client refreshes its membership view.
    MembershipPoll,
    /// The oldest tombstone's grace period is over (`replication.tombstone_gc_grace_s`).
    TombstoneGc,
    /// Ask every neighbour for a heartbeat and take phi accrual's verdicts.
    Heartbeat,
}

impl Timer {
    pub const KINDS: usize = 9;

    /// A small index per kind, in declaration order (for digests and per-kind tables).
    pub fn kind_index(&self) -> usize {
        match self {
            Timer::OpDeadlines => 0,
            Timer::Probe => 1,
            Timer::HintScan => 2,
            Timer::AntiEntropy => 3,
            Timer::Gossip => 4,
            Timer::Transfer => 5,
            Timer::MembershipPoll => 6,
            Timer::TombstoneGc => 7,
            Timer::Heartbeat => 8,
        }
    }
}

/// What a protocol state machine asks its host to do.
#[derive(Clone, Debug)]
pub enum Effect {
    Send {
        to: Endpoint,
        msg: Message,
        disk: DiskOp,
    },
    SetTimer {
        after: SimTime,
        timer: Timer,
    },
}
