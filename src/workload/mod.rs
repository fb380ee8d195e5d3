//! The client workload: open-loop Poisson arrivals (or staleness probes), key choice,
//! inserts of new keys, read-modify-write staging, and client-side timeouts. The driver
//! tells the observer what each client saw; it never looks inside a node.

pub mod client;
pub mod keys;

pub use client::{Client, ClientContext, PutCall};
pub use keys::{KeySampler, KeySpace};

use crate::engine::dist;
use crate::engine::rng::{SimRng, below, unit_f64};
use crate::engine::{Deadlines, Sampler, SimTime};
use crate::ids::{ClientId, DcId, Endpoint, FxHashMap, KeyId, RequestId, WriteId};
use crate::node::{Completion, Effect, FailCause, Message, Op, OpResult, Timer, Version};
use crate::observer::{Call, Observer, Order, ReadRecord, WriteInvocation, WriteRecord};
use crate::scenario::{KeyDistribution, ProbeReader, Workload, WriteMode};
use smallvec::SmallVec;

/// Timers the workload driver schedules for itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DriverTimer {
    /// The next open-loop arrival (or the next probe).
    Arrival,
    /// Requests' client-side timeouts are due: one wakeup at a time stands for every
    /// pending request's (see `engine::deadlines`).
    RequestTimeouts,
    /// A staleness probe reads back its key.
    ProbeRead { client: ClientId, key: KeyId },
}

/// Buffers the driver writes into; the simulation carries them out.
pub struct DriverIo<'a> {
    pub now: SimTime,
    /// Whether any fault window is open (requests are classified by their start).
    pub during_fault: bool,
    pub effects: &'a mut Vec<Effect>,
    /// (absolute time, timer)
    pub timers: &'a mut Vec<(SimTime, DriverTimer)>,
    pub observer: &'a mut Observer,
}

#[derive(Clone, Copy, Debug)]
enum Stage {
    Read,
    /// The get before a read-modify-write put (or delete).
    ContextRead {
        delete: bool,
    },
    Write {
        write: WriteId,
        /// A delete: the put writes a tombstone.
        delete: bool,
        /// An insert: a blind put of a key never written before.
        insert: bool,
    },
    ProbeWrite,
    ProbeRead,
}

impl Stage {
    /// The operation this stage sends.
    fn op(self) -> Op {
        match self {
            Stage::Read | Stage::ContextRead { .. } | Stage::ProbeRead => Op::Get,
            Stage::Write { .. } | Stage::ProbeWrite => Op::Put,
        }
    }
}

struct Pending {
    client: ClientId,
    /// The node the request entered through, suspected if the request times out.
    entry: Option<crate::ids::NodeId>,
    key: KeyId,
    start: SimTime,
    /// The request's place in the observer's event order.
    start_order: Order,
    during_fault: bool,
    stage: Stage,
}

/// What a put descends from in ground truth: the write ids its context read returned, or
/// `None` for a blind put.
type Parents = Option<SmallVec<[WriteId; 2]>>;

/// What a read-modify-write's put carries from its context read.
#[derive(Default)]
struct ReadContext {
    /// The reconciled causal context (`None`: a blind put).
    context: Option<crate::node::Causal>,
    parents: Parents,
    /// The home replica that should coordinate the put.
    prefer: Option<crate::ids::NodeId>,
}

fn origin_of(p: &Pending, req: RequestId) -> crate::node::Origin {
    crate::node::Origin {
        client: p.client,
        req,
    }
}

enum Plan {
    OpenLoop {
        mean_gap_s: f64,
        read_fraction: f64,
        /// The share of operations that insert a new key.
        insert_fraction: f64,
        /// The share of writes that are deletes.
        delete_fraction: f64,
        write_mode: WriteMode,
        keys: KeySampler,
        inserts: KeySpace,
        /// The arrival rate over time (`workload.load_curve`).
        curve: Option<crate::scenario::LoadCurve>,
    },
    Probes {
        mean_gap_s: f64,
        probes: u32,
        read_delay: Sampler,
        reader: ProbeReader,
    },
}

pub struct Driver {
    plan: Plan,
    clients: Vec<Client>,
    ctx: ClientContext,
    /// Arrivals, op and key choice.
    rng: SimRng,
    /// Routing choices (load balancer) and probe delays.
    route_rng: SimRng,
    pending: FxHashMap<RequestId, Pending>,
    /// Every request's client-side timeout (`timeout` after it started), waiting for the
    /// `RequestTimeouts` wakeup; nearly all fall due after their request finished.
    timeouts: Deadlines<RequestId, 1>,
    /// Requests begun (also the next request id) and requests ended, for the invariant
    /// that every request ends exactly once.
    next_req: u64,
    finished: u64,
    next_write: u64,
    probes_started: u32,
    /// Probes whose read-back would have started after the last request may start.
    probes_unread: u64,
    timeout: SimTime,
    arrivals_end: SimTime,
}

impl Driver {
    pub fn new(
        spec: &Workload,
        client_dcs: Vec<DcId>,
        ctx: ClientContext,
        rng: SimRng,
        route_rng: SimRng,
        arrivals_end: SimTime,
    ) -> Driver {
        let plan = match spec {
            Workload::OpenLoop(w) => {
                // The ring places every key the run can touch (`Scenario::key_count`):
                // the workload's keys, then room for its inserts.
                let capacity = (ctx.ring.key_count() as u32).max(w.keys);
                Plan::OpenLoop {
                    mean_gap_s: 1.0 / w.ops_per_s,
                    read_fraction: w.read_fraction,
                    insert_fraction: w.insert_fraction,
                    delete_fraction: w.delete_fraction,
                    write_mode: w.write_mode,
                    keys: match w.key_distribution {
                        KeyDistribution::Uniform => KeySampler::uniform(),
                        KeyDistribution::Zipf(s) => KeySampler::zipf(capacity, s),
                        KeyDistribution::Latest(s) => KeySampler::latest(capacity, s),
                    },
                    inserts: KeySpace::new(w.keys, capacity),
                    curve: w.load_curve.clone(),
                }
            }
            Workload::StalenessProbe(p) => Plan::Probes {
                mean_gap_s: 1.0 / p.probes_per_s,
                probes: p.probes,
                read_delay: Sampler::new(&p.read_delay_ms),
                reader: p.reader,
            },
        };
        let clients = client_dcs
            .into_iter()
            .enumerate()
            .map(|(i, dc)| Client::new(ClientId(i as u32), dc, ctx.ring.clone()))
            .collect();
        Driver {
            plan,
            clients,
            ctx,
            rng,
            route_rng,
            pending: FxHashMap::default(),
            timeouts: Deadlines::default(),
            next_req: 0,
            finished: 0,
            next_write: 0,
            probes_started: 0,
            probes_unread: 0,
            timeout: SimTime::from_ms_f64(spec.request_timeout_ms()),
            arrivals_end,
        }
    }

    pub fn client_dc(&self, client: ClientId) -> DcId {
        self.clients[client.index()].dc()
    }

    /// Arms a client's periodic work (membership polls); effects come from `client`.
    pub fn start_client(&mut self, client: ClientId, out: &mut Vec<Effect>) {
        self.clients[client.index()].start(&self.ctx, out);
    }

    pub fn client_count(&self) -> usize {
        self.clients.len()
    }

    /// Staleness probes not read back because the run was ending.
    pub fn probes_unread(&self) -> u64 {
        self.probes_unread
    }

    pub fn in_flight(&self) -> usize {
        self.pending.len()
    }

    /// Client requests begun so far (a read-modify-write counts its get and its put).
    pub fn requests_invoked(&self) -> u64 {
        self.next_req
    }

    /// Client requests that ended (answered, failed or timed out).
    pub fn requests_finished(&self) -> u64 {
        self.finished
    }

    /// Schedules the first arrival.
    pub fn start(&mut self, io: &mut DriverIo) {
        let gap = self.next_gap(io.now);
        self.schedule_arrival(io, gap);
    }

    /// The time to the next arrival after `now`: Poisson, or with a load curve a
    /// non-homogeneous Poisson process by thinning (candidates at the curve's peak rate,
    /// each kept with probability factor / peak).
    fn next_gap(&mut self, now: SimTime) -> SimTime {
        let (mean, curve) = match &self.plan {
            Plan::OpenLoop {
                mean_gap_s, curve, ..
            } => (*mean_gap_s, curve.as_ref()),
            Plan::Probes { mean_gap_s, .. } => (*mean_gap_s, None),
        };
        let Some(curve) = curve else {
            return SimTime::from_secs_f64(dist::exponential(&mut self.rng, mean));
        };
        let peak = curve.peak();
        let mut t = now.as_secs_f64();
        loop {
            t += dist::exponential(&mut self.rng, mean / peak);
            let keep = unit_f64(&mut self.rng) * peak < curve.factor_at(t);
            if keep || t >= self.arrivals_end.as_secs_f64() {
                return SimTime::from_secs_f64(t - now.as_secs_f64());
            }
        }
    }

    fn schedule_arrival(&mut self, io: &mut DriverIo, gap: SimTime) {
        let at = io.now + gap;
        if at < self.arrivals_end {
            io.timers.push((at, DriverTimer::Arrival));
        }
    }

    /// Returns the client whose effects were pushed, if any.
    pub fn on_timer(&mut self, timer: DriverTimer, io: &mut DriverIo) -> Option<ClientId> {
        match timer {
            DriverTimer::Arrival => self.arrival(io),
            DriverTimer::RequestTimeouts => {
                self.timeouts.woke(io.now);
                let mut timed_out = None;
                while let Some((_, req)) = self.timeouts.pop_due(io.now) {
                    if let Some(pending) = self.pending.remove(&req) {
                        timed_out = Some((req, pending));
                        break;
                    }
                }
                // One request at a time, so that the effects have one client; another
                // due now gets a wakeup now.
                let pending = &self.pending;
                if let Some(at) = self.timeouts.rearm(|req| pending.contains_key(req)) {
                    io.timers.push((at, DriverTimer::RequestTimeouts));
                }
                let (req, pending) = timed_out?;
                if let Some(node) = pending.entry {
                    self.clients[pending.client.index()].suspect(node, io.now, &self.ctx);
                }
                let result = OpResult::failed(pending.stage.op(), FailCause::Timeout);
                let done = Completion::new(origin_of(&pending, req), result);
                self.finish(req, pending, done, io)
            }
            DriverTimer::ProbeRead { client, key } => {
                self.begin(client, key, Stage::ProbeRead, io);
                Some(client)
            }
        }
    }

    pub fn on_message(
        &mut self,
        client: ClientId,
        from: Endpoint,
        msg: Message,
        io: &mut DriverIo,
    ) -> Option<ClientId> {
        let outcome =
            self.clients[client.index()].handle_message(io.now, from, msg, &self.ctx, io.effects);
        self.on_outcome(client, outcome, io);
        Some(client)
    }

    pub fn on_client_timer(
        &mut self,
        client: ClientId,
        timer: Timer,
        io: &mut DriverIo,
    ) -> Option<ClientId> {
        let finished =
            self.clients[client.index()].handle_timer(io.now, timer, &self.ctx, io.effects);
        for done in finished {
            self.on_outcome(client, Some(done), io);
        }
        Some(client)
    }

    fn on_outcome(&mut self, client: ClientId, done: Option<Completion>, io: &mut DriverIo) {
        let Some(done) = done else { return };
        let req = done.origin.req;
        // A reply after the client's timeout finds nothing pending and is ignored.
        if let Some(pending) = self.pending.remove(&req) {
            debug_assert_eq!(pending.client, client);
            self.finish(req, pending, done, io);
        }
    }

    fn arrival(&mut self, io: &mut DriverIo) -> Option<ClientId> {
        let client = ClientId(below(&mut self.rng, self.clients.len() as u64) as u32);
        let stage = match &mut self.plan {
            Plan::OpenLoop {
                read_fraction,
                insert_fraction,
                delete_fraction,
                write_mode,
                keys,
                inserts,
                ..
            } => {
                let u = unit_f64(&mut self.rng);
                let is_read = u < *read_fraction;
                // An insert takes the next new key and draws nothing more; past the key
                // space's bound (see `OpenLoop::insert_bound`) it is sent as an update.
                let insert = (!is_read && u < *read_fraction + *insert_fraction)
                    .then(|| inserts.issue())
                    .flatten();
                let (key, stage) = if let Some(key) = insert {
                    let write = WriteId(self.next_write);
                    self.next_write += 1;
                    let stage = Stage::Write {
                        write,
                        delete: false,
                        insert: true,
                    };
                    (key, stage)
                } else {
                    let key = keys.sample(&mut self.rng, inserts.live());
                    // Drawn only when deletes are on, so a run without them draws as before.
                    let delete = !is_read
                        && *delete_fraction > 0.0
                        && unit_f64(&mut self.rng) < *delete_fraction;
                    let stage = match (is_read, write_mode) {
                        (true, _) => Stage::Read,
                        (false, WriteMode::ReadModifyWrite) => Stage::ContextRead { delete },
                        (false, WriteMode::Blind) => {
                            let write = WriteId(self.next_write);
                            self.next_write += 1;
                            Stage::Write {
                                write,
                                delete,
                                insert: false,
                            }
                        }
                    };
                    (key, stage)
                };
                Some((key, stage))
            }
            Plan::Probes { probes, .. } => {
                if self.probes_started < *probes {
                    let key = KeyId(self.probes_started);
                    self.probes_started += 1;
                    Some((key, Stage::ProbeWrite))
                } else {
                    None
                }
            }
        };
        let gap = self.next_gap(io.now);
        self.schedule_arrival(io, gap);
        let (key, stage) = stage?;
        self.begin(client, key, stage, io);
        Some(client)
    }

    fn new_write(&mut self) -> WriteId {
        let w = WriteId(self.next_write);
        self.next_write += 1;
        w
    }

    /// Sends a request and arms its client-side timeout.
    fn begin(&mut self, client: ClientId, key: KeyId, stage: Stage, io: &mut DriverIo) {
        self.begin_put(client, key, stage, ReadContext::default(), io)
    }

    fn begin_put(
        &mut self,
        client: ClientId,
        key: KeyId,
        stage: Stage,
        read: ReadContext,
        io: &mut DriverIo,
    ) {
        let ReadContext {
            context,
            parents,
            prefer,
        } = read;
        let req = RequestId(self.next_req);
        self.next_req += 1;
        let c = &mut self.clients[client.index()];
        let (write, delete) = match stage {
            Stage::Read | Stage::ContextRead { .. } | Stage::ProbeRead => (None, false),
            Stage::Write { write, delete, .. } => (Some(write), delete),
            Stage::ProbeWrite => (Some(WriteId(self.next_write)), false),
        };
        let call = Call {
            op: stage.op(),
            context: matches!(stage, Stage::ContextRead { .. }),
        };
        let invocation = write.map(|write| WriteInvocation {
            write,
            parents: parents.as_deref(),
            delete,
        });
        let start_order = (io.observer).request_invoked(io.now, client, call, key, req, invocation);
        let (stage, entry) = match stage {
            Stage::ProbeWrite => {
                let write = WriteId(self.next_write);
                self.next_write += 1;
                let put = PutCall {
                    req,
                    key,
                    write,
                    delete: false,
                    context: None,
                    prefer: None,
                };
                let entry = c.start_put(io.now, put, &self.ctx, &mut self.route_rng, io.effects);
                let stage = Stage::Write {
                    write,
                    delete: false,
                    insert: false,
                };
                (stage, entry)
            }
            Stage::Write { write, delete, .. } => {
                let put = PutCall {
                    req,
                    key,
                    write,
                    delete,
                    context,
                    prefer,
                };
                let entry = c.start_put(io.now, put, &self.ctx, &mut self.route_rng, io.effects);
                (stage, entry)
            }
            Stage::Read | Stage::ContextRead { .. } | Stage::ProbeRead => {
                let entry =
                    c.start_get(io.now, req, key, &self.ctx, &mut self.route_rng, io.effects);
                (stage, entry)
            }
        };
        self.pending.insert(
            req,
            Pending {
                client,
                entry,
                key,
                start: io.now,
                start_order,
                during_fault: io.during_fault,
                stage,
            },
        );
        if let Some(at) = self.timeouts.add(io.now + self.timeout, 0, req) {
            io.timers.push((at, DriverTimer::RequestTimeouts));
        }
    }

    fn finish(
        &mut self,
        req: RequestId,
        p: Pending,
        done: Completion,
        io: &mut DriverIo,
    ) -> Option<ClientId> {
        let Completion {
            result, fastest, ..
        } = done;
        self.finished += 1;
        match p.stage {
            Stage::Read | Stage::ProbeRead => {
                let result = read_result(&result);
                io.observer.read_done(ReadRecord {
                    req,
                    client: p.client,
                    dc: self.clients[p.client.index()].dc(),
                    key: p.key,
                    start: p.start,
                    start_order: p.start_order,
                    end: io.now,
                    during_fault: p.during_fault,
                    result,
                });
                None
            }
            Stage::ContextRead { delete } => {
                // Reconcile the siblings into one context; if the read failed, write blind.
                let (context, parents) = match &result {
                    OpResult::Get(Ok(vs)) => (
                        Some(self.ctx.quorum.rules.read_context(vs)),
                        Some(vs.iter().map(|v| v.write).collect()),
                    ),
                    OpResult::Get(Err(_)) | OpResult::Put(_) => (None, None),
                };
                io.observer.context_read_done(ReadRecord {
                    req,
                    client: p.client,
                    dc: self.clients[p.client.index()].dc(),
                    key: p.key,
                    start: p.start,
                    start_order: p.start_order,
                    end: io.now,
                    during_fault: p.during_fault,
                    result: read_result(&result),
                });
                let write = self.new_write();
                let stage = Stage::Write {
                    write,
                    delete,
                    insert: false,
                };
                let read = ReadContext {
                    context,
                    parents,
                    // Dynamo §6.4: the replica that answered the read fastest coordinates
                    // the write (`name_fastest` is on only under `fastest_read`).
                    prefer: fastest,
                };
                self.begin_put(p.client, p.key, stage, read, io);
                Some(p.client)
            }
            Stage::Write { write, insert, .. } => {
                let stored = matches!(result, OpResult::Put(Ok(_)));
                let (result, clock_bytes) = write_result(&result);
                io.observer.write_done(WriteRecord {
                    req,
                    client: p.client,
                    dc: self.clients[p.client.index()].dc(),
                    key: p.key,
                    write,
                    start: p.start,
                    end: io.now,
                    during_fault: p.during_fault,
                    insert,
                    result,
                    clock_bytes,
                });
                if let (Plan::OpenLoop { inserts, .. }, true) = (&mut self.plan, insert) {
                    // Answered, failed or timed out: the key may be read from now on.
                    inserts.done(p.key);
                }
                if let (
                    Plan::Probes {
                        read_delay, reader, ..
                    },
                    true,
                ) = (&self.plan, stored)
                {
                    let delay = SimTime::from_ms_f64(read_delay.sample_ms(&mut self.route_rng));
                    // Drawn after the delay, and only for `any_client`, so that probes
                    // read back by their writer keep every draw where it was.
                    let reader = match reader {
                        ProbeReader::Writer => p.client,
                        ProbeReader::AnyClient => {
                            ClientId(below(&mut self.route_rng, self.clients.len() as u64) as u32)
                        }
                    };
                    // No request starts after the last arrival plus one timeout, so every
                    // request ends inside the drain that follows (Simulation::new); a
                    // probe whose read-back would start later is not read back.
                    if io.now + delay <= self.arrivals_end + self.timeout {
                        io.timers.push((
                            io.now + delay,
                            DriverTimer::ProbeRead {
                                client: reader,
                                key: p.key,
                            },
                        ));
                    } else {
                        self.probes_unread += 1;
                    }
                }
                None
            }
            Stage::ProbeWrite => unreachable!("probe writes are recorded as writes"),
        }
    }
}

/// A get's result as the observer records it. Requests are matched to answers by id, so
/// a put's answer never reaches a get; were it to, it would count as no answer.
fn read_result(result: &OpResult) -> Result<&[Version], FailCause> {
    match result {
        OpResult::Get(r) => r.as_ref().map(|vs| vs.as_slice()).map_err(|c| *c),
        OpResult::Put(_) => Err(FailCause::Timeout),
    }
}

/// A put's result as the observer records it (see `read_result`), with the bytes its
/// version's clock takes on the wire: measured here, since the observer never reads clocks.
fn write_result(result: &OpResult) -> (Result<(), FailCause>, u64) {
    match result {
        OpResult::Put(Ok(v)) => (Ok(()), v.causal.wire_bytes() as u64),
        OpResult::Put(Err(c)) => (Err(*c), 0),
        OpResult::Get(_) => (Err(FailCause::Timeout), 0),
    }
}
