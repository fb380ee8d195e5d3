//! The loop's side of finite resources (`capacity`, `storage.write_buffer`): a received
//! message's way through its host's CPU and disk, background work in slices under
//! admission control, the object buffer and its writer, and departures through a finite
//! network interface. The resources themselves live in `resources.rs`, per host.

use super::event::{AfterDisk, Event, Stage};
use super::resources::{self, Resource};
use super::transport::Outgoing;
use super::{Fate, Simulation, node_hint};
use crate::engine::SimTime;
use crate::ids::{Endpoint, KeyId, NodeId};
use crate::node::{DiskOp, Message, MessageKind};

/// What the write buffer must do once the node has handled a message.
pub(super) enum BufferNote {
    None,
    /// A read of a buffered key: it cost no disk time.
    ReadFromMemory,
    /// The key went into the buffer (`fresh`: it was clean until now).
    Buffered {
        key: KeyId,
        fresh: bool,
    },
    /// These keys were written to disk whole: clean now.
    Clean(Vec<KeyId>),
}

impl Simulation {
    /// Moves a received message on through its host's finite resources: a CPU thread
    /// processes it, then a disk write it makes completes (`Message::writes_on_receipt`).
    /// Hands it back when it is ready for the node now; otherwise it waits in the queue as
    /// an `Event::Ready` for its next stage.
    pub(super) fn through_resources(
        &mut self,
        from: Endpoint,
        node: NodeId,
        msg: Message,
        stage: Stage,
    ) -> Option<(Message, bool)> {
        let now = self.now;
        let host = self.hosts.get_mut(node);
        let incarnation = host.incarnation();
        let r = host.resources.as_deref_mut()?;
        let mut wait_until = None;
        if stage < Stage::CpuDone
            && let (Some(cpu), Some((sampler, rng))) = (r.cpu.as_mut(), self.cpu_service.as_mut())
        {
            let service = SimTime::from_ms_f64(sampler.sample_ms(rng));
            let Some((start, finish)) = cpu.try_admit(now, service) else {
                // The CPU's queue is full: the message is dropped unread.
                self.transport.stats.rejected += 1;
                return None;
            };
            self.transport.record_wait(Resource::Cpu, now, start);
            if finish > now {
                wait_until = Some((finish, Stage::CpuDone));
            }
        }
        let buffered = (r.buffer.as_ref())
            .zip(msg.bufferable_write())
            .is_some_and(|(b, key)| b.has_room_for(key));
        if wait_until.is_none()
            && stage < Stage::DiskDone
            && r.disk.is_some()
            && msg.writes_on_receipt()
            && !buffered
        {
            let bytes = msg.size_bytes(self.transport.value_bytes());
            let service = self
                .transport
                .disk_service(crate::node::DiskOp::Write, bytes);
            let background = msg.is_background();
            if let (true, Some(lane)) = (background, r.lane.as_mut()) {
                // A full admission lane refuses it: dropped on arrival (counted), as a
                // full disk queue drops a replica write; its sender sends it again.
                if lane.try_enter(msg.objects_carried()) {
                    self.transport.record_background(&msg, bytes, service);
                    let msg = self.mail.post_new(msg);
                    self.background_step(node, service, AfterDisk::Handle { from, msg });
                } else {
                    self.transport.stats.rejected += 1;
                }
                return None;
            }
            let Some((start, finish)) = r.try_disk_job(now, service, background) else {
                // The disk's queue is full: the write is dropped (its sender times out, or
                // a background task sends it again on its own clock).
                self.transport.stats.rejected += 1;
                return None;
            };
            if background {
                self.transport.record_background(&msg, bytes, service);
            }
            self.transport.record_wait(Resource::Disk, now, start);
            if finish > now {
                wait_until = Some((finish, Stage::DiskDone));
            }
        }
        let Some((at, stage)) = wait_until else {
            let written = stage == Stage::DiskDone || (msg.writes_on_receipt() && !buffered);
            return Some((msg, written && r.disk.is_some()));
        };
        let event = Event::Ready {
            from,
            to: node,
            incarnation,
            stage,
            msg: self.mail.post_new(msg),
        };
        self.queue.push_hinted(at.as_micros(), event, node.0);
        None
    }

    /// One step of a background disk job under admission control: wait for the host's
    /// background share, or take a slice of disk time, or (none left) go on as `next`.
    pub(super) fn background_step(&mut self, node: NodeId, remaining: SimTime, next: AfterDisk) {
        let now = self.now;
        let host = self.hosts.get_mut(node);
        let incarnation = host.incarnation();
        let r = host
            .resources
            .as_deref_mut()
            .expect("admission needs resources");
        let lane = r.lane.as_mut().expect("admission control is on");
        if remaining == SimTime::ZERO {
            if let AfterDisk::Handle { msg, .. } | AfterDisk::Depart { msg, .. } = &next {
                lane.leave(self.mail.read(msg).objects_carried());
            }
            match next {
                AfterDisk::Handle { from, msg } => {
                    let msg = self.mail.take(msg);
                    self.handle_at_node(from, node, msg, true)
                }
                AfterDisk::Depart { to, msg } => {
                    let msg = self.mail.take(msg);
                    self.depart(node, incarnation, to, msg)
                }
                AfterDisk::Done => {}
            }
            return;
        }
        let at = match lane.wait_until(now) {
            Some(at) => {
                lane.throttled_us += at.as_micros().saturating_sub(now.as_micros());
                at
            }
            None => {
                let slice = remaining.min(resources::SLICE);
                lane.took(now, slice);
                let (start, finish) = r.disk_job(now, slice, true);
                self.transport.record_wait(Resource::Disk, now, start);
                let left = SimTime(remaining.as_micros() - slice.as_micros());
                let event = Event::Background {
                    node,
                    incarnation,
                    remaining: left,
                    next,
                };
                self.queue.push_hinted(finish.as_micros(), event, node.0);
                return;
            }
        };
        let event = Event::Background {
            node,
            incarnation,
            remaining,
            next,
        };
        self.queue.push_hinted(at.as_micros(), event, node.0);
    }

    /// A node rebuilt Merkle trees (its view of the ring moved range boundaries): with a
    /// finite disk, each rebuilt range's keys are read as a background disk job, paced by
    /// admission control like the rest (the rebuilt trees serve exchanges at once; only
    /// the disk time is modelled). Without a finite disk the reads cost nothing.
    pub(super) fn charge_rebuild(&mut self, node: NodeId) {
        let now = self.now;
        let host = self.hosts.get_mut(node);
        let reads = host.node.take_rebuild_reads();
        let Some(r) = host.resources.as_deref_mut().filter(|r| r.disk.is_some()) else {
            return;
        };
        let paced = r.lane.is_some();
        for bytes in reads {
            let service = self.transport.disk_service(DiskOp::Read, bytes);
            if let Some(w) = self.transport.waits.as_deref_mut() {
                w.background.merkle_rebuild.add(bytes, service);
            }
            if paced {
                self.background_step(node, service, AfterDisk::Done);
            } else {
                let r = (self.hosts.get_mut(node).resources.as_deref_mut()).expect("checked");
                let (start, _) = r.disk_job(now, service, true);
                self.transport.record_wait(Resource::Disk, now, start);
            }
        }
    }

    /// A message's fate on the wire is known: show it to the hooks and schedule its arrival.
    #[inline]
    pub(super) fn sent(
        &mut self,
        source: Endpoint,
        to: Endpoint,
        msg: Message,
        kind: MessageKind,
        fate: Fate,
    ) {
        if let Some(h) = self.hooks.as_deref_mut() {
            h.on_send(self.now.as_micros(), source, to, &msg, fate);
        }
        if let Fate::InFlight(at) = fate {
            let event = Event::Deliver {
                from: source,
                to,
                msg: self.mail.post(msg, kind),
            };
            self.queue.push_hinted(at, event, node_hint(to));
        }
    }

    /// A held message's disk work is done: it leaves through its host's interface.
    pub(super) fn depart(&mut self, from: NodeId, incarnation: u32, to: Endpoint, msg: Message) {
        if !self.hosts.is_up(from) || !self.hosts.get(from).is_current(incarnation) {
            return;
        }
        let (from_place, to_place) = (self.place(Endpoint::Node(from)), self.place(to));
        let host = self.hosts.get_mut(from).resources.as_deref_mut();
        let out = Outgoing::new(&msg);
        let kind = out.kind;
        let fate = (self.transport).depart(self.now, from_place, to_place, out, host);
        self.sent(Endpoint::Node(from), to, msg, kind, fate);
    }

    /// Before a node handles `msg`: the buffer notes what it will change (`written`: the
    /// message's disk write has already been done).
    pub(super) fn buffer_before(
        &mut self,
        node: NodeId,
        msg: &Message,
        written: bool,
    ) -> BufferNote {
        let host = self.hosts.get_mut(node);
        let Some(r) = host.resources.as_deref_mut() else {
            return BufferNote::None;
        };
        let Some(buffer) = r.buffer.as_mut() else {
            return BufferNote::None;
        };
        // What may change in memory: a bufferable replica write, or a client put (its
        // coordinator stores it at once, so the disk's copy is noted first).
        let into_memory = match msg {
            Message::Put { key, .. } => Some(*key),
            _ => msg.bufferable_write(),
        };
        match msg {
            Message::ReplicaRead { key, .. } if buffer.is_dirty(*key) => {
                buffer.reads_from_memory += 1;
                r.read_from_memory = true;
                BufferNote::ReadFromMemory
            }
            _ if !written && into_memory.is_some_and(|k| buffer.has_room_for(k)) => {
                let key = into_memory.expect("checked");
                let fresh = buffer.dirty(key, host.node.stored(key));
                BufferNote::Buffered { key, fresh }
            }
            _ if written => {
                if matches!(msg, Message::ReplicaWrite { hint: None, .. }) {
                    buffer.written_through += 1;
                }
                BufferNote::Clean(msg.stored_keys())
            }
            _ => BufferNote::None,
        }
    }

    /// After the node handled the message (and its effects were applied).
    pub(super) fn buffer_after(&mut self, node: NodeId, note: BufferNote) {
        let now = self.now;
        let host = self.hosts.get_mut(node);
        let incarnation = host.incarnation();
        let Some(r) = host.resources.as_deref_mut() else {
            return;
        };
        r.read_from_memory = false;
        let Some(buffer) = r.buffer.as_mut() else {
            return;
        };
        match note {
            BufferNote::None | BufferNote::ReadFromMemory => {}
            BufferNote::Buffered { key, fresh } => {
                let same = |a: &[crate::node::Version], b: &[crate::node::Version]| {
                    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.write == y.write)
                };
                let unchanged = buffer
                    .on_disk(key)
                    .is_some_and(|disk| same(disk, host.node.stored(key)));
                if fresh && unchanged {
                    buffer.clean(key);
                } else if !buffer.armed {
                    buffer.armed = true;
                    let at = now + buffer.interval;
                    self.queue.push_hinted(
                        at.as_micros(),
                        Event::Flush { node, incarnation },
                        node.0,
                    );
                }
            }
            BufferNote::Clean(keys) => {
                for key in keys {
                    buffer.clean(key);
                }
            }
        }
    }

    /// The longest queues over all hosts now, when resources are bounded.
    pub(super) fn queue_sample(&self) -> Option<crate::observer::QueueSample> {
        self.scenario.capacity.as_ref()?;
        let now = self.now;
        let mut q = crate::observer::QueueSample::default();
        for r in self.hosts.iter().filter_map(|h| h.resources.as_deref()) {
            if let Some(d) = &r.disk {
                let n = d.waiting(now) as u32;
                q.disk_queue_max = Some(q.disk_queue_max.unwrap_or(0).max(n));
            }
            if let Some(c) = &r.cpu {
                let n = c.waiting(now) as u32;
                q.cpu_queue_max = Some(q.cpu_queue_max.unwrap_or(0).max(n));
            }
            if let Some(nic) = &r.nic {
                let ms = nic.backlog(now).as_micros() as f64 / 1e3;
                q.nic_backlog_ms_max = Some(q.nic_backlog_ms_max.unwrap_or(0.0).max(ms));
            }
        }
        Some(q)
    }

    /// The writer flushes every buffered key to disk, as one write holding a disk server.
    pub(super) fn flush(&mut self, node: NodeId, incarnation: u32) {
        let now = self.now;
        let host = self.hosts.get_mut(node);
        if !host.is_up() || !host.is_current(incarnation) {
            return;
        }
        let Some(r) = host.resources.as_deref_mut() else {
            return;
        };
        let Some(buffer) = r.buffer.as_mut() else {
            return;
        };
        buffer.armed = false;
        let keys = buffer.take_dirty();
        buffer.flushes += 1;
        buffer.objects_flushed += keys.len() as u64;
        let value_bytes = self.transport.value_bytes();
        let bytes: u64 = keys
            .iter()
            .map(|k| host.node.stored(*k).len() as u64 * value_bytes + 16)
            .sum();
        let service = self.transport.disk_service(DiskOp::Write, bytes);
        let (start, _) = r.disk_job(now, service, false);
        self.transport.record_wait(Resource::Disk, now, start);
    }
}
