//! The recorder the simulation consults while tracing: it watches the messages, timers and
//! faults the event loop handles and keeps those that concern one key within a time window.
//! It only looks (at messages, at a node's stored versions before and after a delivery, at
//! a coordinator's ring view and suspect list); nothing it holds flows back into the run,
//! so a traced run processes exactly the events of an untraced one.

use crate::engine::SimTime;
use crate::faults::FaultAction;
use crate::ids::{ClientId, Endpoint, KeyId, NodeId, RequestId, WriteId};
use crate::node::{Effect, Message, Node, OpId, OpTimer, Timer, Version};
pub use crate::sim::Fate;
use crate::sim::SimHooks;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// Events kept at most; later ones are counted, not stored.
pub const MAX_EVENTS: usize = 20_000;

/// The kind of a trace event, for machine readers and for the diagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Invoke,
    Complete,
    Coordinate,
    Send,
    Deliver,
    Drop,
    Replica,
    Quorum,
    Timer,
    Fault,
    Verdict,
}

/// One line of a trace.
#[derive(Clone, Debug, Serialize)]
pub struct TraceEvent {
    pub time_us: u64,
    pub category: Category,
    /// The sender (messages) or the acting endpoint (everything else), by name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// Message kind (`network.by_message_ms` names).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub req: Option<String>,
    /// For sends: when the message arrives (µs), if it was not dropped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arrive_us: Option<u64>,
    /// For sends: `in_flight`, `partition` or `lost`; for drops: why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fate: Option<&'static str>,
    /// Write ids the event carries or decided on.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub writes: Vec<String>,
    /// The story line (without the time).
    pub text: String,
}

/// A replica or coordinator operation on the traced key.
#[derive(Clone, Debug)]
pub struct OpTrace {
    pub coordinator: Endpoint,
    pub req: Option<RequestId>,
    pub read: bool,
    pub write: Option<WriteId>,
    /// (target, home replica it stands in for)
    pub targets: Vec<(NodeId, Option<NodeId>)>,
    /// Replies in arrival order: (replica, write ids it returned; empty for write acks).
    pub replies: Vec<(NodeId, Vec<WriteId>)>,
    /// How many replies had arrived when the coordinator answered.
    pub answered_after: Option<usize>,
    pub started_us: u64,
}

/// State about the delivery being handled, from before the node saw it.
struct Pending {
    node: NodeId,
    stored: Vec<WriteId>,
    hinted: Vec<WriteId>,
    msg: PendingMsg,
}

enum PendingMsg {
    Request {
        req: RequestId,
        read: bool,
    },
    ReplicaWrite {
        write: WriteId,
        hint: Option<NodeId>,
        repair: bool,
    },
    Data {
        what: &'static str,
    },
    Reply {
        op: (Endpoint, OpId),
        read: bool,
    },
    Other,
}

pub struct Recorder {
    key: KeyId,
    from_us: u64,
    to_us: u64,
    names: Vec<String>,
    r: usize,
    w: usize,
    ops: BTreeMap<(Endpoint, OpId), OpTrace>,
    /// Finished operations, in start order (kept for the verdict).
    done_ops: Vec<OpTrace>,
    reqs: BTreeSet<RequestId>,
    /// The request the event being handled works for, if known.
    cause: Option<RequestId>,
    pending: Option<Pending>,
    events: Vec<TraceEvent>,
    overflow: u64,
}

impl Recorder {
    pub fn new(
        key: KeyId,
        from_us: u64,
        to_us: u64,
        names: Vec<String>,
        r: usize,
        w: usize,
    ) -> Recorder {
        Recorder {
            key,
            from_us,
            to_us,
            names,
            r,
            w,
            ops: BTreeMap::new(),
            done_ops: Vec::new(),
            reqs: BTreeSet::new(),
            cause: None,
            pending: None,
            events: Vec::new(),
            overflow: 0,
        }
    }

    pub fn key(&self) -> KeyId {
        self.key
    }

    /// The recorded events and how many more did not fit.
    pub fn into_parts(mut self) -> (Vec<TraceEvent>, u64, Vec<OpTrace>) {
        let mut ops = std::mem::take(&mut self.done_ops);
        ops.extend(std::mem::take(&mut self.ops).into_values());
        ops.sort_by_key(|o| o.started_us);
        (self.events, self.overflow, ops)
    }

    pub fn name(&self, e: Endpoint) -> String {
        match e {
            Endpoint::Node(n) => self
                .names
                .get(n.index())
                .cloned()
                .unwrap_or_else(|| format!("node-{}", n.0)),
            Endpoint::Client(c) => client_name(c),
        }
    }

    fn node_name(&self, n: NodeId) -> String {
        self.name(Endpoint::Node(n))
    }

    fn in_window(&self, now: u64) -> bool {
        now >= self.from_us && now <= self.to_us
    }

    fn push(&mut self, e: TraceEvent) {
        if self.events.len() < MAX_EVENTS {
            self.events.push(e);
        } else {
            self.overflow += 1;
        }
    }

    fn event(&self, time_us: u64, category: Category, text: String) -> TraceEvent {
        TraceEvent {
            time_us,
            category,
            from: None,
            to: None,
            message: None,
            req: self.cause.map(|r| r.to_string()),
            arrive_us: None,
            fate: None,
            writes: Vec::new(),
            text,
        }
    }

    /// Whether `msg` between `from` and `to` concerns the traced key, and the request it
    /// serves when known.
    fn concerns(&self, from: Endpoint, to: Endpoint, msg: &Message) -> Option<Option<RequestId>> {
        let key = self.key;
        match msg {
            Message::Get { req, key: k, .. } | Message::Put { req, key: k, .. } => {
                (*k == key).then_some(Some(*req))
            }
            Message::GetReply { req, .. } | Message::PutReply { req, .. } => {
                self.reqs.contains(req).then_some(Some(*req))
            }
            Message::ReplicaRead { op, key: k } => (*k == key).then(|| self.op_req(from, *op)),
            Message::ReplicaWrite { op, key: k, .. } => (*k == key).then(|| match op {
                Some(op) => self.op_req(from, *op),
                None => self.cause,
            }),
            Message::ReplicaReadReply { op, .. } | Message::ReplicaWriteAck { op } => {
                self.ops.get(&(to, *op)).map(|o| o.req)
            }
            Message::HintHandoff { key: k, .. } | Message::HintAck { key: k, .. } => {
                (*k == key).then_some(None)
            }
            Message::AeData { entries, want, .. } => {
                (entries.iter().any(|(k, _)| *k == key) || want.contains(&key)).then_some(None)
            }
            Message::TransferBatch { entries, .. } => {
                entries.iter().any(|(k, _)| *k == key).then_some(None)
            }
            _ => None,
        }
    }

    fn op_req(&self, coordinator: Endpoint, op: OpId) -> Option<RequestId> {
        self.ops
            .get(&(coordinator, op))
            .and_then(|o| o.req)
            .or(self.cause)
    }

    /// What a message says, for the story.
    fn describe(&self, msg: &Message) -> (String, Vec<WriteId>) {
        let k = self.key.0;
        match msg {
            Message::Get { req, .. } => (format!("get k{k} ({req})"), vec![]),
            Message::Put { req, write, .. } => (format!("put k{k} {write} ({req})"), vec![*write]),
            Message::GetReply { req, result, .. } => match result {
                Ok(vs) => (
                    format!("reply to {req}: {}", list_writes(vs)),
                    vs.iter().map(|v| v.write).collect(),
                ),
                Err(e) => (format!("reply to {req}: failed ({e:?})"), vec![]),
            },
            Message::PutReply { req, result } => match result {
                Ok(v) => (format!("reply to {req}: stored {}", v.write), vec![v.write]),
                Err(e) => (format!("reply to {req}: failed ({e:?})"), vec![]),
            },
            Message::ReplicaRead { .. } => (format!("read k{k}"), vec![]),
            Message::ReplicaReadReply { versions, .. } => (
                format!("read reply {}", list_writes(versions)),
                versions.iter().map(|v| v.write).collect(),
            ),
            Message::ReplicaWrite { version, hint, .. } => {
                let hint = match hint {
                    Some(h) => format!(" (hint for {})", self.node_name(*h)),
                    None => String::new(),
                };
                (format!("k{k} {}{hint}", version.write), vec![version.write])
            }
            Message::ReplicaWriteAck { .. } => ("ack".into(), vec![]),
            Message::HintHandoff { versions, .. } => (
                format!("k{k} {}", list_writes(versions)),
                versions.iter().map(|v| v.write).collect(),
            ),
            Message::HintAck { versions, .. } => (
                format!("k{k} {}", list_writes(versions)),
                versions.iter().map(|v| v.write).collect(),
            ),
            Message::AeData { entries, want, .. } => {
                let mine = entries.iter().find(|(key, _)| *key == self.key);
                let mut text = match mine {
                    Some((_, vs)) => {
                        format!("k{k} {} (of {} keys)", list_writes(vs), entries.len())
                    }
                    None => format!("{} keys", entries.len()),
                };
                if want.contains(&self.key) {
                    text.push_str(&format!("; wants k{k} back"));
                }
                (
                    text,
                    mine.map(|(_, vs)| vs.iter().map(|v| v.write).collect())
                        .unwrap_or_default(),
                )
            }
            Message::TransferBatch { entries, .. } => {
                let mine = entries.iter().find(|(key, _)| *key == self.key);
                (
                    format!(
                        "k{k} {} (of {} keys)",
                        mine.map(|(_, vs)| list_writes(vs)).unwrap_or_default(),
                        entries.len()
                    ),
                    mine.map(|(_, vs)| vs.iter().map(|v| v.write).collect())
                        .unwrap_or_default(),
                )
            }
            _ => (String::new(), vec![]),
        }
    }

    /// `apply` sent a message (or dropped it on the way).
    fn on_send(&mut self, now: u64, from: Endpoint, to: Endpoint, msg: &Message, fate: Fate) {
        let Some(req) = self.concerns(from, to, msg) else {
            return;
        };
        self.track_op(now, from, to, msg, req);
        if !self.in_window(now) {
            return;
        }
        let (what, writes) = self.describe(msg);
        let kind = msg.kind().name();
        let (fate_name, arrive, tail) = match fate {
            Fate::InFlight(at) => ("in_flight", Some(at), String::new()),
            Fate::Partitioned => ("partition", None, " … dropped: partition".to_string()),
            Fate::Lost => ("lost", None, " … lost by the network".to_string()),
            Fate::Rejected => (
                "rejected",
                None,
                " … refused: disk or network queue, or admission lane, full".to_string(),
            ),
        };
        let mut e = self.event(
            now,
            Category::Send,
            format!(
                "{} → {}  {kind} {what}{tail}",
                self.name(from),
                self.name(to)
            ),
        );
        e.req = req.map(|r| r.to_string());
        e.from = Some(self.name(from));
        e.to = Some(self.name(to));
        e.message = Some(kind);
        e.arrive_us = arrive;
        e.fate = Some(fate_name);
        e.writes = writes.iter().map(|w| w.to_string()).collect();
        self.push(e);
    }

    /// Starts following a coordinator's operation when it first sends for the key.
    fn track_op(
        &mut self,
        now: u64,
        from: Endpoint,
        to: Endpoint,
        msg: &Message,
        req: Option<RequestId>,
    ) {
        if let Message::Get { req, .. } | Message::Put { req, .. } = msg {
            self.reqs.insert(*req);
        }
        let (op, read, write, hint) = match msg {
            Message::ReplicaRead { op, .. } => (*op, true, None, None),
            Message::ReplicaWrite {
                op: Some(op),
                version,
                hint,
                ..
            } => (*op, false, Some(version.write), *hint),
            _ => return,
        };
        let Endpoint::Node(target) = to else { return };
        let id = (from, op);
        let fresh = self.ops.get(&id).is_none_or(|o| o.started_us != now);
        if fresh {
            if let Some(old) = self.ops.remove(&id) {
                self.done_ops.push(old);
            }
            if !self.in_window(now) {
                return;
            }
            self.ops.insert(
                id,
                OpTrace {
                    coordinator: from,
                    req,
                    read,
                    write,
                    targets: Vec::new(),
                    replies: Vec::new(),
                    answered_after: None,
                    started_us: now,
                },
            );
        }
        if let Some(o) = self.ops.get_mut(&id) {
            o.targets.push((target, hint));
        }
    }

    /// A message reached a node that is down.
    fn on_dropped_down(&mut self, now: u64, from: Endpoint, to: Endpoint, msg: &Message) {
        let Some(req) = self.concerns(from, to, msg) else {
            return;
        };
        if !self.in_window(now) {
            return;
        }
        let kind = msg.kind().name();
        let mut e = self.event(
            now,
            Category::Drop,
            format!(
                "{kind} {} → {} dropped on arrival: {} is down",
                self.name(from),
                self.name(to),
                self.name(to)
            ),
        );
        e.req = req.map(|r| r.to_string());
        e.from = Some(self.name(from));
        e.to = Some(self.name(to));
        e.message = Some(kind);
        e.fate = Some("node_down");
        self.push(e);
    }

    /// A message is about to be handled by a live node.
    fn before_node_delivery(&mut self, now: u64, from: Endpoint, node: &Node, msg: &Message) {
        self.pending = None;
        self.cause = None;
        let to = Endpoint::Node(node.id());
        let Some(req) = self.concerns(from, to, msg) else {
            return;
        };
        self.cause = req;
        let pmsg = match msg {
            Message::Get { req, .. } => PendingMsg::Request {
                req: *req,
                read: true,
            },
            Message::Put { req, .. } => PendingMsg::Request {
                req: *req,
                read: false,
            },
            Message::ReplicaWrite {
                op, version, hint, ..
            } => PendingMsg::ReplicaWrite {
                write: version.write,
                hint: *hint,
                repair: op.is_none(),
            },
            Message::HintHandoff { .. } => PendingMsg::Data {
                what: "hint handoff",
            },
            Message::AeData { .. } => PendingMsg::Data {
                what: "anti-entropy",
            },
            Message::TransferBatch { .. } => PendingMsg::Data { what: "transfer" },
            Message::ReplicaReadReply { op, versions } => {
                let id = (to, *op);
                if let (Some(o), Endpoint::Node(replica)) = (self.ops.get_mut(&id), from) {
                    o.replies
                        .push((replica, versions.iter().map(|v| v.write).collect()));
                }
                PendingMsg::Reply { op: id, read: true }
            }
            Message::ReplicaWriteAck { op } => {
                let id = (to, *op);
                if let (Some(o), Endpoint::Node(replica)) = (self.ops.get_mut(&id), from) {
                    o.replies.push((replica, Vec::new()));
                }
                PendingMsg::Reply {
                    op: id,
                    read: false,
                }
            }
            _ => PendingMsg::Other,
        };
        self.pending = Some(Pending {
            node: node.id(),
            stored: node.stored(self.key).iter().map(|v| v.write).collect(),
            hinted: node.hinted(self.key).map(|v| v.write).collect(),
            msg: pmsg,
        });
        if self.in_window(now) {
            let (what, writes) = self.describe(msg);
            let kind = msg.kind().name();
            let mut e = self.event(
                now,
                Category::Deliver,
                format!("{} ← {}  {kind} {what}", self.name(to), self.name(from)),
            );
            e.from = Some(self.name(from));
            e.to = Some(self.name(to));
            e.message = Some(kind);
            e.writes = writes.iter().map(|w| w.to_string()).collect();
            self.push(e);
        }
    }

    /// The node handled the message and asked for `effects` (not yet applied).
    fn after_node_delivery(&mut self, now: u64, node: &Node, effects: &[Effect]) {
        let Some(p) = self.pending.take() else {
            return;
        };
        debug_assert_eq!(p.node, node.id());
        if !self.in_window(now) {
            return;
        }
        let me = Endpoint::Node(node.id());
        let name = self.name(me);
        let stored: Vec<WriteId> = node.stored(self.key).iter().map(|v| v.write).collect();
        let hinted: Vec<WriteId> = node.hinted(self.key).map(|v| v.write).collect();
        match p.msg {
            PendingMsg::Request { req, read } => {
                self.coordinator_choice(now, node, req, read, effects);
            }
            PendingMsg::ReplicaWrite {
                write,
                hint,
                repair,
            } => {
                let what = if repair { "read repair" } else { "write" };
                let text = match hint {
                    Some(owner) if owner != node.id() => {
                        if hinted.contains(&write) && !p.hinted.contains(&write) {
                            format!(
                                "{name} keeps {write} as a hint for {} (hinted: {})",
                                self.node_name(owner),
                                list_ids(&hinted)
                            )
                        } else if hinted.contains(&write) {
                            format!("{name} already holds {write} as a hint")
                        } else {
                            format!(
                                "{name} does not keep {write} as a hint (superseded or hint store full)"
                            )
                        }
                    }
                    _ if stored == p.stored && !stored.contains(&write) => {
                        if repair && !node.ring().is_replica(self.key, node.id()) {
                            format!("{name} ignores the {what} of {write}: not a home replica")
                        } else {
                            format!(
                                "{name} {what}: {write} is obsolete, keeps {}",
                                list_ids(&stored)
                            )
                        }
                    }
                    _ => self.decision(&name, what, write, &p.stored, &stored),
                };
                let mut e = self.event(now, Category::Replica, text);
                e.from = Some(name);
                e.writes = vec![write.to_string()];
                self.push(e);
            }
            PendingMsg::Data { what } => {
                let text = if stored == p.stored && hinted == p.hinted {
                    format!("{name} {what}: nothing new for k{}", self.key.0)
                } else {
                    format!(
                        "{name} {what}: now holds {} (was {})",
                        list_ids(&stored),
                        list_ids(&p.stored)
                    )
                };
                let mut e = self.event(now, Category::Replica, text);
                e.from = Some(name);
                self.push(e);
            }
            PendingMsg::Reply { op, read } => self.count_reply(now, node, op, read, effects),
            PendingMsg::Other => {}
        }
    }

    fn decision(
        &self,
        name: &str,
        what: &str,
        write: WriteId,
        before: &[WriteId],
        after: &[WriteId],
    ) -> String {
        if before == after {
            return format!("{name} {what}: already holds {write}");
        }
        let replaced: Vec<WriteId> = before
            .iter()
            .copied()
            .filter(|w| !after.contains(w))
            .collect();
        let siblings: Vec<WriteId> = after.iter().copied().filter(|w| *w != write).collect();
        let mut text = format!("{name} {what}: stores {write}");
        if !replaced.is_empty() {
            text.push_str(&format!(", replacing {}", list_ids(&replaced)));
        }
        if !siblings.is_empty() {
            text.push_str(&format!(", sibling of {}", list_ids(&siblings)));
        }
        text
    }

    /// The coordinator's choice: its preference list, what it skipped and why, fallbacks.
    fn coordinator_choice(
        &mut self,
        now: u64,
        node: &Node,
        req: RequestId,
        read: bool,
        effects: &[Effect],
    ) {
        let me = Endpoint::Node(node.id());
        let name = self.name(me);
        let forwarded = effects.iter().find_map(|e| match e {
            Effect::Send {
                to,
                msg: Message::Get { .. } | Message::Put { .. },
                ..
            } => Some(*to),
            _ => None,
        });
        let homes = node.ring().replicas(self.key).to_vec();
        let text = if let Some(to) = forwarded {
            format!(
                "{name} is not a home replica of k{} (homes {}): forwards {req} to {}",
                self.key.0,
                self.list_nodes(&homes),
                self.name(to)
            )
        } else {
            let targets: Vec<(NodeId, Option<NodeId>)> = effects
                .iter()
                .filter_map(|e| match e {
                    Effect::Send {
                        to: Endpoint::Node(n),
                        msg: Message::ReplicaRead { .. },
                        ..
                    } => Some((*n, None)),
                    Effect::Send {
                        to: Endpoint::Node(n),
                        msg:
                            Message::ReplicaWrite {
                                op: Some(_), hint, ..
                            },
                        ..
                    } => Some((*n, *hint)),
                    _ => None,
                })
                .collect();
            let suspects: Vec<NodeId> = node.suspects().collect();
            let pref = node.ring().preference(self.key);
            let last = pref
                .iter()
                .rposition(|n| targets.iter().any(|(t, _)| t == n))
                .map(|i| i + 1)
                .unwrap_or(0);
            let skipped: Vec<NodeId> = pref[..last]
                .iter()
                .copied()
                .filter(|n| !targets.iter().any(|(t, _)| t == n))
                .collect();
            let (op, need) = if read {
                ("get", self.r)
            } else {
                ("put", self.w)
            };
            let mut text = format!(
                "{name} coordinates {op} {req}: homes {}",
                self.list_nodes(&homes)
            );
            if targets.is_empty() {
                text.push_str(&format!(
                    "; fewer than {} reachable replicas, fails at once (suspects: {})",
                    need,
                    self.list_nodes(&suspects)
                ));
            } else {
                for n in &skipped {
                    let why = if suspects.contains(n) {
                        "suspected"
                    } else {
                        "skipped"
                    };
                    text.push_str(&format!("; {} {why}", self.node_name(*n)));
                }
                let fallbacks: Vec<String> = targets
                    .iter()
                    .filter_map(|(t, h)| {
                        h.map(|h| {
                            format!("{} (hint for {})", self.node_name(*t), self.node_name(h))
                        })
                    })
                    .collect();
                if !fallbacks.is_empty() {
                    text.push_str(&format!("; fallbacks {}", fallbacks.join(", ")));
                } else if read {
                    let extra: Vec<NodeId> = targets
                        .iter()
                        .map(|(t, _)| *t)
                        .filter(|t| !homes.contains(t))
                        .collect();
                    if !extra.is_empty() {
                        text.push_str(&format!("; fallbacks {}", self.list_nodes(&extra)));
                    }
                }
                let all: Vec<NodeId> = targets.iter().map(|(t, _)| *t).collect();
                text.push_str(&format!(
                    "; asks {} and waits for {}={need}",
                    self.list_nodes(&all),
                    if read { "R" } else { "W" }
                ));
            }
            text
        };
        let mut e = self.event(now, Category::Coordinate, text);
        e.from = Some(name);
        e.req = Some(req.to_string());
        self.push(e);
    }

    fn count_reply(
        &mut self,
        now: u64,
        node: &Node,
        id: (Endpoint, OpId),
        read: bool,
        effects: &[Effect],
    ) {
        let name = self.name(Endpoint::Node(node.id()));
        let answer = effects.iter().find_map(|e| match e {
            Effect::Send {
                msg: Message::GetReply { req, .. } | Message::PutReply { req, .. },
                ..
            } => Some(*req),
            _ => None,
        });
        let Some(op) = self.ops.get_mut(&id) else {
            return;
        };
        let need = if read { self.r } else { self.w };
        let count = op.replies.len();
        let from = op.replies.last().map(|r| r.0);
        let q = if read { "R" } else { "W" };
        let text = match (answer, op.answered_after) {
            (Some(req), _) => {
                op.answered_after = Some(count);
                format!("{name} counts reply {count}/{q}={need}: answers {req}")
            }
            (None, Some(_)) => format!("{name} late reply {count} (answered already)"),
            (None, None) => format!("{name} counts reply {count}/{q}={need}"),
        };
        let text = match from {
            Some(f) => format!("{text} (from {})", self.node_name(f)),
            None => text,
        };
        let mut e = self.event(now, Category::Quorum, text);
        e.from = Some(name);
        self.push(e);
    }

    /// A node timer fires (not yet handled): for the coordinator's wakeup, each operation
    /// timer it runs.
    fn on_node_timer(&mut self, now: u64, node: &Node, timer: Timer) {
        self.cause = None;
        if timer != Timer::OpDeadlines {
            return;
        }
        for (op, timer) in node.op_timers_due(SimTime(now)) {
            self.on_op_timer(now, node.id(), op, timer);
        }
    }

    /// One of an operation's timers runs.
    fn on_op_timer(&mut self, now: u64, node: NodeId, op: OpId, timer: OpTimer) {
        let what = match timer {
            OpTimer::Timeout => "operation timeout",
            OpTimer::RepairWindow => "read-repair window closes",
            OpTimer::Suspect => return,
        };
        let id = (Endpoint::Node(node), op);
        let Some(o) = self.ops.get(&id) else { return };
        self.cause = o.req;
        let replies = o.replies.len();
        let targets = o.targets.len();
        if timer == OpTimer::Timeout
            && let Some(o) = self.ops.remove(&id)
        {
            self.done_ops.push(o);
        }
        if self.in_window(now) {
            let name = self.node_name(node);
            let e = self.event(
                now,
                Category::Timer,
                format!("{name} {what}: {replies} of {targets} replicas answered"),
            );
            let mut e = e;
            e.from = Some(name);
            self.push(e);
        }
    }

    /// A message reached a client.
    fn on_client_delivery(&mut self, now: u64, from: Endpoint, client: ClientId, msg: &Message) {
        let to = Endpoint::Client(client);
        let Some(req) = self.concerns(from, to, msg) else {
            return;
        };
        if !self.in_window(now) {
            return;
        }
        let (what, writes) = self.describe(msg);
        let kind = msg.kind().name();
        let mut e = self.event(
            now,
            Category::Deliver,
            format!("{} ← {}  {kind} {what}", self.name(to), self.name(from)),
        );
        e.req = req.map(|r| r.to_string());
        e.from = Some(self.name(from));
        e.to = Some(self.name(to));
        e.message = Some(kind);
        e.writes = writes.iter().map(|w| w.to_string()).collect();
        self.push(e);
    }

    /// A fault action takes effect.
    fn on_fault(&mut self, now: u64, action: &FaultAction) {
        if !self.in_window(now) {
            return;
        }
        let text = match action {
            FaultAction::NodeDown { node, wipe } => format!(
                "fault: {} goes down{}",
                self.node_name(*node),
                if *wipe { ", its disk is wiped" } else { "" }
            ),
            FaultAction::NodeUp { node } => format!("fault: {} comes back", self.node_name(*node)),
            FaultAction::PartitionStart { fault } => format!("fault: partition #{fault} starts"),
            FaultAction::PartitionEnd { fault } => format!("fault: partition #{fault} heals"),
            FaultAction::LossStart { probability } => {
                format!("fault: message loss {probability} starts")
            }
            FaultAction::LossEnd { .. } => "fault: message loss ends".into(),
            FaultAction::SlowStart { fault } => format!("fault: slow nodes #{fault} start"),
            FaultAction::SlowEnd { fault } => format!("fault: slow nodes #{fault} end"),
            _ => return,
        };
        let mut e = self.event(now, Category::Fault, text);
        e.req = None;
        if let FaultAction::NodeDown { node, .. } | FaultAction::NodeUp { node } = action {
            e.from = Some(self.node_name(*node));
        }
        self.push(e);
    }

    /// The event being handled is over.
    fn end_event(&mut self) {
        self.cause = None;
        self.pending = None;
    }

    fn list_nodes(&self, nodes: &[NodeId]) -> String {
        let names: Vec<String> = nodes.iter().map(|n| self.node_name(*n)).collect();
        format!("[{}]", names.join(", "))
    }
}

/// Takes back the recorder attached with `Simulation::set_hooks`, if that is what is attached.
pub fn detach(sim: &mut crate::sim::Simulation) -> Option<Recorder> {
    let hooks: Box<dyn std::any::Any> = sim.take_hooks()?;
    hooks.downcast::<Recorder>().ok().map(|r| *r)
}

/// The loop's view of the recorder: each hook hands over to the method that records it.
impl SimHooks for Recorder {
    fn on_send(&mut self, now: u64, from: Endpoint, to: Endpoint, msg: &Message, fate: Fate) {
        Recorder::on_send(self, now, from, to, msg, fate)
    }
    fn on_dropped_down(&mut self, now: u64, from: Endpoint, to: Endpoint, msg: &Message) {
        Recorder::on_dropped_down(self, now, from, to, msg)
    }
    fn before_node_delivery(&mut self, now: u64, from: Endpoint, node: &Node, msg: &Message) {
        Recorder::before_node_delivery(self, now, from, node, msg)
    }
    fn after_node_delivery(&mut self, now: u64, node: &Node, effects: &[Effect]) {
        Recorder::after_node_delivery(self, now, node, effects)
    }
    fn on_node_timer(&mut self, now: u64, node: &Node, timer: Timer) {
        Recorder::on_node_timer(self, now, node, timer)
    }
    fn on_client_delivery(&mut self, now: u64, from: Endpoint, c: ClientId, msg: &Message) {
        Recorder::on_client_delivery(self, now, from, c, msg)
    }
    fn on_fault(&mut self, now: u64, action: &FaultAction) {
        Recorder::on_fault(self, now, action)
    }
    fn end_event(&mut self) {
        Recorder::end_event(self)
    }
}

pub fn client_name(c: ClientId) -> String {
    format!("c-{}", c.0)
}

fn list_writes(vs: &[Version]) -> String {
    let ids: Vec<WriteId> = vs.iter().map(|v| v.write).collect();
    list_ids(&ids)
}

pub fn list_ids(ids: &[WriteId]) -> String {
    if ids.is_empty() {
        return "[nothing]".into();
    }
    let s: Vec<String> = ids.iter().map(|w| w.to_string()).collect();
    format!("[{}]", s.join(", "))
}
