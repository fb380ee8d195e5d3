//! The machine around each node: its process (up or down, which life it is in), where it
//! stands (datacenter, name) and what the host counts about it. The protocol state machine
//! (`Node`) lives inside and never sees the rest; resources a node competes for (CPU, disk,
//! network queues) belong here, not to the node.

use super::resources::Resources;
use crate::engine::SimTime;
use crate::ids::{DcId, NodeId};
use crate::node::Node;
use crate::scenario::{Capacity, WriteBuffer};

/// One node's host.
///
/// The process fields come first and the node right after them: the loop reads `down` and
/// `incarnation` for every event and then touches the node's hot fields, so both usually
/// share the cache lines the loop prefetches.
#[repr(C)]
pub struct Host {
    /// How many active faults hold the process down (0 = running).
    down: u16,
    /// Bumped at each crash, so the timers of an earlier life are void.
    incarnation: u32,
    pub dc: DcId,
    /// Replica reads and writes the node served (its storage load).
    pub replica_requests: u64,
    pub node: Node,
    pub name: String,
    /// Disk, CPU and network interface when the scenario bounds them (`capacity`).
    pub resources: Option<Box<Resources>>,
    /// When the process last started running (ground truth for judging suspicions).
    pub up_since: SimTime,
}

impl Host {
    /// A host for `node`; with `capacity`, its resources count their use up to `horizon`.
    pub fn new(
        node: Node,
        dc: DcId,
        name: String,
        capacity: Option<&Capacity>,
        buffer: Option<&WriteBuffer>,
        horizon: SimTime,
    ) -> Host {
        Host {
            down: 0,
            incarnation: 0,
            dc,
            replica_requests: 0,
            node,
            name,
            resources: capacity.map(|c| Box::new(Resources::new(c, buffer, horizon))),
            up_since: SimTime::ZERO,
        }
    }

    pub fn is_up(&self) -> bool {
        self.down == 0
    }

    pub fn incarnation(&self) -> u32 {
        self.incarnation
    }

    /// Whether a timer set in life `incarnation` may still fire.
    pub fn is_current(&self, incarnation: u32) -> bool {
        incarnation == self.incarnation
    }
}

/// Every host, in node-id order, and how many are down.
pub struct Hosts {
    hosts: Vec<Host>,
    down_count: u64,
}

/// What taking a process down or bringing it up changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProcessChange {
    /// The process stopped (it was running).
    Stopped,
    /// The process started again (no fault holds it any more).
    Started,
    /// Another fault still holds it down, or it was already down.
    Unchanged,
}

impl Hosts {
    pub fn new(hosts: Vec<Host>) -> Hosts {
        Hosts {
            hosts,
            down_count: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.hosts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.hosts.is_empty()
    }

    /// Nodes whose process is down right now.
    pub fn down_count(&self) -> u64 {
        self.down_count
    }

    pub fn get(&self, node: NodeId) -> &Host {
        &self.hosts[node.index()]
    }

    pub fn get_mut(&mut self, node: NodeId) -> &mut Host {
        &mut self.hosts[node.index()]
    }

    /// The host an event for `node` will touch, if it exists (prefetch hints are advisory).
    pub fn try_get(&self, node: u32) -> Option<&Host> {
        self.hosts.get(node as usize)
    }

    pub fn node(&self, node: NodeId) -> &Node {
        &self.hosts[node.index()].node
    }

    pub fn node_mut(&mut self, node: NodeId) -> &mut Node {
        &mut self.hosts[node.index()].node
    }

    pub fn is_up(&self, node: NodeId) -> bool {
        self.hosts[node.index()].is_up()
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Host> {
        self.hosts.iter()
    }

    pub fn nodes(&self) -> impl ExactSizeIterator<Item = &Node> {
        self.hosts.iter().map(|h| &h.node)
    }

    /// Adds a host; its id is the next node id.
    pub fn push(&mut self, host: Host) -> NodeId {
        let id = NodeId(self.hosts.len() as u32);
        assert_eq!(host.node.id(), id, "a host holds the node of its own id");
        self.hosts.push(host);
        id
    }

    /// One more fault holds the process down: a running process crashes (it forgets what
    /// it held in memory; its timers and queued work die with this life), and with `wipe`
    /// the disk goes too.
    pub fn take_down(&mut self, node: NodeId, wipe: bool, now: SimTime) -> ProcessChange {
        let host = &mut self.hosts[node.index()];
        let change = if host.down == 0 {
            if let Some(r) = host.resources.as_deref_mut() {
                // Memory goes with the process: buffered writes not yet flushed are lost.
                if let Some(buffer) = &mut r.buffer {
                    host.node.lose_unflushed(buffer.drain_lost());
                }
                r.reset(now);
            }
            host.node.crash();
            // Lives only ever advance: a reused number would revive a dead life's timers.
            host.incarnation = (host.incarnation.checked_add(1)).expect("incarnations fit in u32");
            self.down_count += 1;
            ProcessChange::Stopped
        } else {
            ProcessChange::Unchanged
        };
        if wipe {
            host.node.wipe_disk();
        }
        host.down = host.down.checked_add(1).expect("fault depth fits in u16");
        change
    }

    /// One fault stops holding the process down; when none does, it is running again (the
    /// caller restarts the node's periodic work).
    pub fn release(&mut self, node: NodeId, now: SimTime) -> ProcessChange {
        let host = &mut self.hosts[node.index()];
        assert!(host.down > 0, "node up without down");
        host.down -= 1;
        if host.down == 0 {
            // A new life: timers an operator command armed while it was down die here,
            // and the node re-arms its periodic work afresh.
            host.incarnation = (host.incarnation.checked_add(1)).expect("incarnations fit in u32");
            host.up_since = now;
            self.down_count -= 1;
            ProcessChange::Started
        } else {
            ProcessChange::Unchanged
        }
    }
}
