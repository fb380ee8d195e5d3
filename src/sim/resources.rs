//! A host's finite resources (`capacity` in a scenario): disk servers, CPU threads and a
//! network interface, outside the sans-IO node. Each computes when a job finishes from
//! the jobs admitted before it, with no events of its own: `c` identical servers with
//! one FIFO queue serve jobs in admission order, so a job admitted at `now` starts when
//! the earliest server frees (or now) and holds that server for its service time. The
//! loop admits jobs in event order, which is arrival order.

use crate::engine::SimTime;
use crate::ids::KeyId;
use crate::node::Versions;
use hdrhistogram::Histogram;
use std::collections::{BTreeMap, VecDeque};

/// The resources a host can bound.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resource {
    Disk,
    Cpu,
    Nic,
}

/// Queueing delays (µs, from admission to the start of service) of every job, per
/// resource, over all hosts.
#[derive(Clone, Debug)]
pub struct Waits {
    pub disk: Histogram<u64>,
    pub cpu: Histogram<u64>,
    pub nic: Histogram<u64>,
    /// Background disk work by kind, over all hosts with a finite disk.
    pub background: BackgroundDisk,
}

/// Disk work one kind of background task asked for: jobs (a read on the sending side, a
/// write on the receiving side), the bytes they moved, and the disk time they held.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct BackgroundUse {
    pub jobs: u64,
    pub bytes: u64,
    pub disk_us: u64,
}

/// Background disk work by kind (Dynamo §6.5's background tasks).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BackgroundDisk {
    pub hint_handoff: BackgroundUse,
    pub anti_entropy: BackgroundUse,
    pub transfer: BackgroundUse,
    /// Reads of Merkle tree rebuilds after a membership change moved range boundaries.
    pub merkle_rebuild: BackgroundUse,
}

impl BackgroundUse {
    /// One disk job of `bytes` holding a server for `service`.
    pub fn add(&mut self, bytes: u64, service: SimTime) {
        self.jobs += 1;
        self.bytes = self.bytes.saturating_add(bytes);
        self.disk_us = self.disk_us.saturating_add(service.as_micros());
    }
}

impl BackgroundDisk {
    /// Counts a disk job of a background message (`Message::is_background`).
    pub fn record(&mut self, kind: crate::vocab::MessageKind, bytes: u64, service: SimTime) {
        use crate::vocab::MessageKind;
        let use_ = match kind {
            MessageKind::HintHandoff => &mut self.hint_handoff,
            MessageKind::AeData => &mut self.anti_entropy,
            MessageKind::Transfer => &mut self.transfer,
            _ => return,
        };
        use_.add(bytes, service);
    }
}

impl Default for Waits {
    fn default() -> Self {
        // Up to 10 simulated hours at 3 significant digits (a few hundred KB each).
        let h = || Histogram::new_with_bounds(1, 36_000_000_000, 3).expect("valid bounds");
        Waits {
            disk: h(),
            cpu: h(),
            nic: h(),
            background: BackgroundDisk::default(),
        }
    }
}

/// `c` servers with one FIFO queue (M/G/c when arrivals are Poisson).
#[derive(Clone, Debug)]
pub struct Servers {
    /// When each server is free again, µs.
    free_at: Vec<u64>,
    /// Start times of admitted jobs that have not started yet, in order.
    waiting: VecDeque<u64>,
    /// Service time handed out before `horizon`, µs (utilization = busy / (servers x
    /// horizon)).
    pub busy_us: u64,
    pub jobs: u64,
    /// The longest the queue (jobs admitted, not started) ever was.
    pub max_waiting: u32,
    /// The end of the load (arrivals stop there): busy time is counted up to it.
    horizon: u64,
    /// The part of `busy_us` that background work took.
    pub busy_background_us: u64,
    /// Jobs that may wait at once (`max_queue`); past it a job is rejected.
    limit: usize,
    /// Jobs rejected because the queue was full.
    pub rejected: u64,
}

/// The part of [start, finish) before `horizon`.
fn before(start: u64, finish: u64, horizon: u64) -> u64 {
    finish.min(horizon).saturating_sub(start.min(horizon))
}

impl Servers {
    /// `servers` with a queue no job is refused from.
    pub fn new(servers: u32, horizon: SimTime) -> Servers {
        Servers::bounded(servers, u32::MAX, horizon)
    }

    /// `servers` whose queue holds at most `limit` waiting jobs.
    pub fn bounded(servers: u32, limit: u32, horizon: SimTime) -> Servers {
        assert!(servers >= 1, "validation allows at least one server");
        Servers {
            free_at: vec![0; servers as usize],
            waiting: VecDeque::new(),
            busy_us: 0,
            jobs: 0,
            max_waiting: 0,
            horizon: horizon.as_micros(),
            busy_background_us: 0,
            limit: limit as usize,
            rejected: 0,
        }
    }

    /// `admit`, unless the job would have to wait in a full queue: then it is rejected
    /// (counted) and `None` comes back.
    pub fn try_admit(&mut self, now: SimTime, service: SimTime) -> Option<(SimTime, SimTime)> {
        if self.refuses(now) {
            return None;
        }
        Some(self.admit(now, service))
    }

    /// Whether a job arriving at `now` would have to wait in a full queue (counted as a
    /// rejection when it would).
    pub fn refuses(&mut self, now: SimTime) -> bool {
        // A free server first: the common case, cheaper than counting the queue.
        let full =
            self.free_at.iter().all(|f| *f > now.as_micros()) && self.waiting(now) >= self.limit;
        self.rejected += full as u64;
        full
    }

    /// `admit` for a job of background work (counted apart in `busy_background_us`).
    pub fn admit_background(&mut self, now: SimTime, service: SimTime) -> (SimTime, SimTime) {
        let (start, finish) = self.admit(now, service);
        let h = self.horizon;
        self.busy_background_us += before(start.as_micros(), finish.as_micros(), h);
        (start, finish)
    }

    pub fn servers(&self) -> u32 {
        self.free_at.len() as u32
    }

    /// Admits a job arriving at `now` that needs `service`; returns when it starts and
    /// when it finishes.
    pub fn admit(&mut self, now: SimTime, service: SimTime) -> (SimTime, SimTime) {
        let now = now.as_micros();
        let mut best = 0;
        for (i, free) in self.free_at.iter().enumerate() {
            if *free < self.free_at[best] {
                best = i;
            }
        }
        let start = self.free_at[best].max(now);
        // Saturating: a drawn service time can be as long as a u64 holds ("never").
        let finish = start.saturating_add(service.as_micros());
        self.free_at[best] = finish;
        self.forget_started(now);
        if start > now {
            // The earliest free server only moves later, so starts come in order.
            assert!(
                self.waiting.back().is_none_or(|s| *s <= start),
                "a FIFO queue starts jobs in admission order"
            );
            self.waiting.push_back(start);
            self.max_waiting = self.max_waiting.max(self.waiting.len() as u32);
        }
        self.busy_us += before(start, finish, self.horizon);
        self.jobs += 1;
        (SimTime(start), SimTime(finish))
    }

    /// Jobs admitted and not started at `now` (at or after the last admission).
    pub fn waiting(&self, now: SimTime) -> usize {
        let started = self.waiting.partition_point(|s| *s <= now.as_micros());
        self.waiting.len() - started
    }

    fn forget_started(&mut self, now: u64) {
        while self.waiting.front().is_some_and(|s| *s <= now) {
            self.waiting.pop_front();
        }
    }

    /// The process died: what it had queued is void and every server is free at `now`.
    pub fn reset(&mut self, now: SimTime) {
        let now = now.as_micros();
        for free in &mut self.free_at {
            // Work a dead process had scheduled past now never happens.
            let cut = before(now.min(*free), *free, self.horizon);
            self.busy_us = self.busy_us.saturating_sub(cut);
            *free = now.min(*free);
        }
        self.waiting.clear();
    }
}

/// How long a background slice may hold a disk server at most.
pub const SLICE: SimTime = SimTime(5_000);
/// How often the controller compares foreground disk latency with its target.
const CONTROL_WINDOW_US: u64 = 1_000_000;
/// The share never falls below this, so background work always progresses.
const MIN_SHARE: f64 = 0.01;
/// Background jobs carrying a message (a hint handed off, anti-entropy data, a range
/// transfer's batch, read at the sender or written at the receiver) that may wait in one
/// host's admission lane at once; past it a new one is refused: the message is dropped
/// and counted (`capacity.admission.rejected`), and the task that sent it sends it again
/// on its own clock (a transfer batch when its backed-off resend timer runs out, a hint
/// at the next scan, an exchange at the next interval). A share that does not keep up
/// with the work sent to it would otherwise hold every resent copy in memory. Merkle
/// rebuilds' reads (no message) are neither counted nor refused.
pub const MAX_LANE_JOBS: u32 = 256;
/// Key objects (a key with its versions) those jobs may carry in all, so that the lane's
/// memory is bounded however small the values are (a transfer batch is cut by bytes, so
/// with 100-byte values one holds thousands of keys). A job that alone carries more is
/// let in only into an empty lane, so no batch is refused forever.
pub const MAX_LANE_OBJECTS: u64 = 65_536;

/// Dynamo §6.5 on one host: background disk work is paced, in slices of at most `SLICE`,
/// to a share of one disk server's time. Every second the controller looks at the
/// foreground's disk operations of that second (queueing and service): when more than
/// 1% took longer than the target (their p99 is above it) it halves the share, otherwise
/// it raises the share by a tenth of `max_share`, never above it.
#[derive(Clone, Debug)]
pub struct AdmissionLane {
    share: f64,
    max_share: f64,
    target_us: u64,
    /// The earliest time the next background slice may start.
    next_at: u64,
    window_end: u64,
    foreground_ops: u64,
    foreground_slow: u64,
    /// Time background slices waited for their share, summed over jobs.
    pub throttled_us: u64,
    pub lowest_share: f64,
    /// Jobs carrying a message waiting in the lane or taking slices now (at most
    /// `MAX_LANE_JOBS`).
    jobs: u32,
    /// The key objects those jobs carry (at most `MAX_LANE_OBJECTS`, or one job's).
    objects: u64,
    /// Jobs refused because the lane was full (`MAX_LANE_JOBS` or `MAX_LANE_OBJECTS`).
    pub rejected: u64,
}

impl AdmissionLane {
    pub fn new(b: &crate::scenario::Background) -> AdmissionLane {
        AdmissionLane {
            share: b.max_share,
            max_share: b.max_share,
            target_us: (b.target_disk_latency_ms * 1e3) as u64,
            next_at: 0,
            window_end: CONTROL_WINDOW_US,
            foreground_ops: 0,
            foreground_slow: 0,
            throttled_us: 0,
            lowest_share: b.max_share,
            jobs: 0,
            objects: 0,
            rejected: 0,
        }
    }

    /// A background job carrying a message with `objects` key objects asks to enter the
    /// lane: `false` (counted) when the lane is full.
    pub fn try_enter(&mut self, objects: u64) -> bool {
        let too_many_objects = self.jobs > 0 && self.objects + objects > MAX_LANE_OBJECTS;
        if self.jobs >= MAX_LANE_JOBS || too_many_objects {
            self.rejected += 1;
            return false;
        }
        self.jobs += 1;
        self.objects += objects;
        true
    }

    /// A job that entered the lane has had all its slices. (A crash empties the lane and
    /// its life's jobs never come back to leave, so one always entered first.)
    pub fn leave(&mut self, objects: u64) {
        assert!(
            self.jobs > 0 && self.objects >= objects,
            "a job left an admission lane it never entered"
        );
        self.jobs -= 1;
        self.objects -= objects;
    }

    /// A foreground disk operation admitted at `now` takes `latency` (wait and service).
    pub fn observe_foreground(&mut self, now: SimTime, latency: SimTime) {
        self.roll(now.as_micros());
        self.foreground_ops += 1;
        if latency.as_micros() > self.target_us {
            self.foreground_slow += 1;
        }
    }

    /// Closes the control windows that ended by `now`.
    fn roll(&mut self, now: u64) {
        // After the first closed window, every further one was empty (share only grows),
        // and ten raises reach max_share: no need to walk more.
        let mut walked = 0;
        while now >= self.window_end && walked <= 10 {
            let slow = self.foreground_slow * 100 > self.foreground_ops;
            self.share = if slow {
                (self.share / 2.0).max(MIN_SHARE)
            } else {
                (self.share + self.max_share / 10.0).min(self.max_share)
            };
            self.lowest_share = self.lowest_share.min(self.share);
            self.foreground_ops = 0;
            self.foreground_slow = 0;
            self.window_end += CONTROL_WINDOW_US;
            walked += 1;
        }
        if now >= self.window_end {
            self.window_end = now - now % CONTROL_WINDOW_US + CONTROL_WINDOW_US;
        }
    }

    /// When a background slice may start, if not now.
    pub fn wait_until(&mut self, now: SimTime) -> Option<SimTime> {
        self.roll(now.as_micros());
        (self.next_at > now.as_micros()).then_some(SimTime(self.next_at))
    }

    /// A slice of `slice` disk time started now: the next waits until the share allows.
    pub fn took(&mut self, now: SimTime, slice: SimTime) {
        let pause = (slice.as_micros() as f64 / self.share).ceil() as u64;
        self.next_at = now.as_micros().saturating_add(pause);
    }

    pub fn share(&self) -> f64 {
        self.share
    }
}

/// A network interface sending one message after another at a fixed rate: one server
/// whose service time is a message's transmission time, with a bounded queue of messages
/// waiting to leave (`capacity.network.max_queue`).
#[derive(Clone, Debug)]
pub struct Nic {
    bytes_per_s: f64,
    pub link: Servers,
}

impl Nic {
    pub fn new(bytes_per_s: f64, limit: u32, horizon: SimTime) -> Nic {
        Nic {
            bytes_per_s,
            link: Servers::bounded(1, limit, horizon),
        }
    }

    /// A message of `bytes` ready to leave at `ready`: when its last byte has left (its
    /// link latency starts then) and how long it waited for the messages before it;
    /// `None` when the queue of messages waiting to leave is full (dropped, counted in
    /// `link.rejected`).
    pub fn send(&mut self, ready: SimTime, bytes: u64) -> Option<(SimTime, SimTime)> {
        let tx = SimTime(transmit_us(bytes, self.bytes_per_s));
        let (start, done) = self.link.try_admit(ready, tx)?;
        Some((done, SimTime(start.as_micros() - ready.as_micros())))
    }

    /// How long a message ready at `now` would wait.
    pub fn backlog(&self, now: SimTime) -> SimTime {
        SimTime(self.link.free_at[0].saturating_sub(now.as_micros()))
    }

    pub fn reset(&mut self, now: SimTime) {
        self.link.reset(now);
    }
}

/// Whole microseconds to move `bytes` at `bytes_per_s` (at least 1 for a non-empty
/// message, so a fast link still orders what it sends).
pub fn transmit_us(bytes: u64, bytes_per_s: f64) -> u64 {
    if bytes == 0 {
        return 0;
    }
    ((bytes as f64 * 1e6 / bytes_per_s).ceil() as u64).max(1)
}

/// Dynamo §6.1's object buffer on one host: the keys written into memory since the last
/// flush, each with the copy its disk still holds (what a crash leaves behind).
#[derive(Clone, Debug)]
pub struct WriteBufferState {
    limit: usize,
    pub interval: SimTime,
    dirty: BTreeMap<KeyId, Versions>,
    /// A flush is scheduled.
    pub armed: bool,
    pub flushes: u64,
    pub objects_flushed: u64,
    /// Keys whose buffered writes a crash lost.
    pub objects_lost: u64,
    pub reads_from_memory: u64,
    /// Replica writes that went to disk directly: durable, or the buffer was full.
    pub written_through: u64,
}

impl WriteBufferState {
    pub fn new(b: &crate::scenario::WriteBuffer) -> WriteBufferState {
        WriteBufferState {
            limit: b.objects as usize,
            interval: SimTime::from_ms_f64(b.flush_interval_ms),
            dirty: BTreeMap::new(),
            armed: false,
            flushes: 0,
            objects_flushed: 0,
            objects_lost: 0,
            reads_from_memory: 0,
            written_through: 0,
        }
    }

    pub fn is_dirty(&self, key: KeyId) -> bool {
        self.dirty.contains_key(&key)
    }

    /// Whether a write of `key` can go into the buffer.
    pub fn has_room_for(&self, key: KeyId) -> bool {
        self.is_dirty(key) || self.dirty.len() < self.limit
    }

    /// `key` is about to change in memory; `on_disk` is what its disk holds. Returns
    /// whether the key was clean until now.
    pub fn dirty(&mut self, key: KeyId, on_disk: &[crate::node::Version]) -> bool {
        if self.is_dirty(key) {
            return false;
        }
        self.dirty.insert(key, on_disk.iter().cloned().collect());
        true
    }

    /// `key` turned out unchanged, or was written to disk whole.
    pub fn clean(&mut self, key: KeyId) {
        self.dirty.remove(&key);
    }

    /// The copy on disk of `key`, while it is dirty.
    pub fn on_disk(&self, key: KeyId) -> Option<&Versions> {
        self.dirty.get(&key)
    }

    /// The writer takes every dirty key (they are on disk once its write is done).
    pub fn take_dirty(&mut self) -> Vec<KeyId> {
        let keys: Vec<KeyId> = self.dirty.keys().copied().collect();
        self.dirty.clear();
        keys
    }

    /// The process died: every dirty key with the copy its disk holds.
    pub fn drain_lost(&mut self) -> BTreeMap<KeyId, Versions> {
        self.armed = false;
        self.objects_lost += self.dirty.len() as u64;
        std::mem::take(&mut self.dirty)
    }
}

/// One host's resources; a part is `None` when the scenario leaves it unbounded.
#[derive(Clone, Debug, Default)]
pub struct Resources {
    pub disk: Option<Servers>,
    pub cpu: Option<Servers>,
    pub nic: Option<Nic>,
    /// Dynamo admission control of background disk work (`admission: "dynamo"`).
    pub lane: Option<AdmissionLane>,
    /// The object buffer (`storage.write_buffer`).
    pub buffer: Option<WriteBufferState>,
    /// The message being handled reads a key the buffer holds: its read costs no disk.
    pub read_from_memory: bool,
}

impl Resources {
    /// Resources as `c` bounds them, with `buffer` when the storage has one; use is
    /// counted up to `horizon` (the end of the load).
    pub fn new(
        c: &crate::scenario::Capacity,
        buffer: Option<&crate::scenario::WriteBuffer>,
        horizon: SimTime,
    ) -> Resources {
        Resources {
            disk: (c.disk.as_ref())
                .map(|d| Servers::bounded(d.concurrency, d.queue_bound(), horizon)),
            cpu: (c.cpu.as_ref()).map(|c| Servers::bounded(c.threads, c.queue_bound(), horizon)),
            nic: (c.network.as_ref())
                .map(|n| Nic::new(n.node_bytes_per_s, n.queue_bound(), horizon)),
            lane: (c.background.as_ref())
                .filter(|b| b.admission == crate::scenario::Admission::Dynamo)
                .map(AdmissionLane::new),
            buffer: buffer.map(WriteBufferState::new),
            read_from_memory: false,
        }
    }

    /// A disk job admitted now (the disk must be finite) that nothing waits on in memory:
    /// a flush of the object buffer, or a background read with no message (a Merkle
    /// rebuild's, bounded by the ranges rebuilt, or a slice under admission control,
    /// bounded by the lane). Foreground work feeds the admission controller; background
    /// work is counted apart.
    pub fn disk_job(
        &mut self,
        now: SimTime,
        service: SimTime,
        background: bool,
    ) -> (SimTime, SimTime) {
        let disk = self.disk.as_mut().expect("a disk job needs a finite disk");
        if background {
            return disk.admit_background(now, service);
        }
        let (start, finish) = disk.admit(now, service);
        self.observe(now, finish);
        (start, finish)
    }

    /// A disk job for a message (foreground or background), unless the disk's queue is
    /// full (`None`: rejected and counted): the message waits in memory meanwhile, so
    /// its queue is bounded.
    pub fn try_disk_job(
        &mut self,
        now: SimTime,
        service: SimTime,
        background: bool,
    ) -> Option<(SimTime, SimTime)> {
        let disk = self.disk.as_mut().expect("a disk job needs a finite disk");
        if disk.refuses(now) {
            return None;
        }
        Some(self.disk_job(now, service, background))
    }

    fn observe(&mut self, now: SimTime, finish: SimTime) {
        if let Some(lane) = &mut self.lane {
            lane.observe_foreground(now, SimTime(finish.as_micros() - now.as_micros()));
        }
    }

    /// The process crashed: queued work is void.
    pub fn reset(&mut self, now: SimTime) {
        if let Some(d) = &mut self.disk {
            d.reset(now);
        }
        if let Some(c) = &mut self.cpu {
            c.reset(now);
        }
        if let Some(n) = &mut self.nic {
            n.reset(now);
        }
        if let Some(l) = &mut self.lane {
            // The lane's jobs died with the process (their events are void).
            l.jobs = 0;
            l.objects = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn us(t: u64) -> SimTime {
        SimTime(t)
    }

    #[test]
    fn one_server_queues_jobs_in_order() {
        let mut s = Servers::new(1, us(u64::MAX));
        assert_eq!(s.admit(us(0), us(10)), (us(0), us(10)));
        assert_eq!(s.admit(us(2), us(10)), (us(10), us(20)));
        assert_eq!(s.admit(us(3), us(5)), (us(20), us(25)));
        assert_eq!(s.waiting(us(3)), 2);
        assert_eq!(s.waiting(us(10)), 1);
        assert_eq!(s.max_waiting, 2);
        // Idle again: a late job starts at once.
        assert_eq!(s.admit(us(100), us(1)), (us(100), us(101)));
        assert_eq!(s.busy_us, 26);
    }

    #[test]
    fn two_servers_take_the_earliest_free() {
        let mut s = Servers::new(2, us(u64::MAX));
        assert_eq!(s.admit(us(0), us(10)).1, us(10));
        assert_eq!(s.admit(us(0), us(4)).1, us(4));
        assert_eq!(s.admit(us(1), us(3)), (us(4), us(7)));
        assert_eq!(s.admit(us(1), us(3)), (us(7), us(10)));
        assert_eq!(s.admit(us(1), us(3)), (us(10), us(13)));
    }

    #[test]
    fn a_crash_voids_queued_work() {
        let mut s = Servers::new(1, us(u64::MAX));
        s.admit(us(0), us(100));
        s.admit(us(0), us(100));
        s.reset(us(50));
        assert_eq!(s.busy_us, 50);
        assert_eq!(s.admit(us(60), us(1)), (us(60), us(61)));
    }

    #[test]
    fn a_nic_sends_one_message_after_another() {
        let mut n = Nic::new(1e6, 1, us(u64::MAX)); // 1 byte per µs, one may wait
        assert_eq!(n.send(us(0), 100), Some((us(100), us(0))));
        assert_eq!(n.send(us(10), 50), Some((us(150), us(90))));
        assert_eq!(n.backlog(us(100)), us(50));
        // One message waits already: the next is dropped and counted.
        assert_eq!(n.send(us(20), 10), None);
        assert_eq!(n.link.rejected, 1);
        assert_eq!(n.send(us(100), 10), Some((us(160), us(50))));
        assert_eq!(n.link.max_waiting, 1);
        assert_eq!(transmit_us(1, 1e12), 1);
        assert_eq!(transmit_us(0, 1.0), 0);
    }

    /// A lane under `admission: "dynamo"` with a 10 ms target.
    fn dynamo_lane(max_share: f64) -> AdmissionLane {
        AdmissionLane::new(&crate::scenario::Background {
            admission: crate::scenario::Admission::Dynamo,
            target_disk_latency_ms: 10.0,
            max_share,
        })
    }

    #[test]
    fn the_controller_halves_the_share_when_the_foreground_p99_passes_the_target() {
        let mut lane = dynamo_lane(0.4);
        // A slice of 5 ms at share 0.4 keeps the lane for 12.5 ms.
        lane.took(us(0), us(5_000));
        assert_eq!(lane.wait_until(us(1_000)), Some(us(12_500)));
        // Second 0: 2 of 100 foreground operations slower than 10 ms (p99 above target).
        for i in 0..100 {
            let latency = if i < 2 { 20_000 } else { 1_000 };
            lane.observe_foreground(us(10_000 + i), us(latency));
        }
        assert_eq!(lane.wait_until(us(1_000_000)), None);
        assert_eq!(lane.share(), 0.2);
        // Quiet seconds raise it by a tenth of max_share each, up to max_share.
        lane.wait_until(us(2_000_000));
        assert!((lane.share() - 0.24).abs() < 1e-9);
        lane.wait_until(us(60_000_000));
        assert_eq!(lane.share(), 0.4);
        assert_eq!(lane.lowest_share, 0.2);
    }

    #[test]
    fn a_full_admission_lane_refuses_and_counts_until_a_job_leaves() {
        let mut lane = dynamo_lane(0.5);
        for _ in 0..MAX_LANE_JOBS {
            assert!(lane.try_enter(1));
        }
        assert!(!lane.try_enter(1));
        assert!(!lane.try_enter(0));
        assert_eq!(lane.rejected, 2);
        lane.leave(1);
        assert!(lane.try_enter(1));
        assert_eq!(lane.rejected, 2);
    }

    #[test]
    fn an_admission_lane_bounds_the_objects_its_jobs_carry() {
        let mut lane = dynamo_lane(0.5);
        let batch = MAX_LANE_OBJECTS / 4;
        for _ in 0..4 {
            assert!(lane.try_enter(batch));
        }
        // Full by objects long before MAX_LANE_JOBS: neither a batch nor one more key.
        assert!(!lane.try_enter(batch));
        assert!(!lane.try_enter(1));
        // A job carrying no keys (anti-entropy data that only asks for some) still fits
        // under the job bound.
        assert!(lane.try_enter(0));
        assert_eq!(lane.rejected, 2);
        lane.leave(batch);
        lane.leave(0);
        assert!(lane.try_enter(batch));
        assert!(!lane.try_enter(1));
        // A batch larger than the bound enters an empty lane alone, so it is not refused
        // forever, and nothing joins it.
        for _ in 0..4 {
            lane.leave(batch);
        }
        assert!(lane.try_enter(2 * MAX_LANE_OBJECTS));
        assert!(!lane.try_enter(1));
        lane.leave(2 * MAX_LANE_OBJECTS);
        assert!(lane.try_enter(1));
    }
}
