//! `summary.md`: the report for a person. Tables of the numbers in `report.json`, then
//! findings in plain language, each derived from those numbers and saying no more than
//! they show. Definitions are in docs/report.md; this file only formats.

use super::Report;
use super::format::{amount, count, counted, percent_of, short};
use crate::observer::{GuaranteeSummary, LatencySummary};
use crate::scenario::{OpenLoop, Routing, Versioning, Workload, WriteCoordinator};
use std::fmt::Write as _;

/// Dynamo §6.3: share of requests that saw exactly one version.
const DYNAMO_ONE_VERSION: f64 = 0.9994;
/// Dynamo §6.6: share of requests answered successfully without timing out.
const DYNAMO_AVAILABILITY: f64 = 0.999995;

fn pct(x: Option<f64>) -> String {
    x.map(|v| percent_of(v * 100.0))
        .unwrap_or_else(|| "n/a".into())
}

fn ms(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn share(num: u64, den: u64) -> Option<f64> {
    (den > 0).then(|| num as f64 / den as f64)
}

/// The whole summary.md.
pub fn render(r: &Report) -> String {
    let mut s = String::new();
    header(&mut s, r);
    let _ = writeln!(s, "## Findings\n");
    for f in findings(r) {
        let _ = writeln!(s, "- {f}");
    }
    s.push('\n');
    availability(&mut s, r);
    latency(&mut s, r);
    consistency(&mut s, r);
    durability(&mut s, r);
    convergence(&mut s, r);
    handoff(&mut s, r);
    failure_detection(&mut s, r);
    repair_and_membership(&mut s, r);
    messages(&mut s, r);
    faults(&mut s, r);
    let _ = writeln!(
        s,
        "## Files\n\n`report.json` (every number above, defined in docs/report.md); plots, each \
         as SVG and PNG: `latency_cdf` (latency CDF and tail per operation), `t_visibility` \
         (P(read not stale | t)), `timeline` (availability, p99, stale reads, hints and \
         divergent keys over time, fault windows shaded), `versions_per_read`."
    );
    s
}

fn header(s: &mut String, r: &Report) {
    let sc = &r.scenario;
    let rep = &sc.replication;
    let _ = writeln!(s, "# {}\n", sc.name);
    if !sc.description.is_empty() {
        let _ = writeln!(s, "{}\n", sc.description);
    }
    let dcs: Vec<String> = sc
        .cluster
        .datacenters
        .iter()
        .map(|d| {
            format!(
                "{} ({})",
                d.name,
                counted(u64::from(d.nodes), "node", "nodes")
            )
        })
        .collect();
    let versioning = match rep.versioning {
        Versioning::VectorClock => "vector clocks",
        Versioning::DottedVersionVector => "dotted version vectors",
        Versioning::VectorClockNaive => "naive vector clocks (loses concurrent writes)",
        Versioning::LastWriteWins => "last write wins",
    };
    let on = |b: bool| if b { "on" } else { "off" };
    let routing = match sc.workload.routing() {
        Routing::PartitionAware => "partition-aware clients",
        Routing::LoadBalancer => "load balancer (the node reached forwards)",
        Routing::ClientDriven => "client-driven coordination",
    };
    let coordinator = match sc.workload.write_coordinator() {
        WriteCoordinator::FirstReachable => "first reachable home replica",
        WriteCoordinator::FastestRead => "fastest replica of the context read",
    };
    let workload = match &sc.workload {
        Workload::OpenLoop(w) => open_loop_line(w),
        Workload::StalenessProbe(p) => format!(
            "staleness probes: {} at {}/s from {}",
            counted(u64::from(p.probes), "probe", "probes"),
            amount(p.probes_per_s),
            counted(u64::from(p.clients), "client", "clients")
        ),
    };
    let _ = writeln!(
        s,
        "| setting | value |\n|---|---|\n\
         | {quorum_row} |\n\
         | cluster | {dcs} |\n\
         | versioning | {versioning} |\n\
         | sloppy quorum, hinted handoff, read repair | {sq}, {hh}, {rrp} |\n\
         | workload | {workload} |\n\
         | routing, write coordinator | {routing}, {coordinator} |\n\
         | request timeout, failure detector's op timeout, SLA | {timeout} ms, {op_timeout} ms, {sla} ms |\n\
         | failure detector | {detector} |\n\
         | seed, simulated time, events | {seed}, {sim:.1} s, {events} |\n\
         | digest | `{digest}` |\n",
        quorum_row = quorum_row(sc),
        dcs = dcs.join(", "),
        sq = on(rep.sloppy_quorum),
        hh = on(rep.hinted_handoff),
        rrp = on(rep.read_repair),
        timeout = sc.workload.request_timeout_ms(),
        op_timeout = sc.failure_detector.op_timeout_ms,
        detector = detector_setting(&sc.failure_detector),
        sla = sc.metrics.sla_ms,
        seed = r.seed,
        sim = r.simulated_s,
        events = count(r.events),
        digest = r.digest,
    );
}

/// The setup table's quorum row: `N, R, W | 3, 2, 2` for Dynamo's counts, else N with the
/// consistency levels and Riak's options.
fn quorum_row(sc: &crate::scenario::Scenario) -> String {
    let rep = &sc.replication;
    if rep.consistency.is_none() && rep.pr == 0 && rep.pw == 0 && rep.notfound_ok {
        format!("N, R, W | {}, {}, {}", rep.n, rep.r, rep.w)
    } else {
        format!("N, quorums | {}, {}", rep.n, sc.quorum_label())
    }
}

/// The quorum rule as the staleness finding states it: `R+W>N (2+2>3)` for Dynamo's
/// counts, else the levels and whether their quorums overlap. Either way the rule is the
/// one among home replicas, as R+W>N is: what sloppy quorum's stand-ins do to it is the
/// finding's own sentence.
fn quorum_rule_words(sc: &crate::scenario::Scenario) -> String {
    let rep = &sc.replication;
    if rep.consistency.is_none() && rep.pr == 0 && rep.pw == 0 {
        return if rep.r + rep.w > rep.n {
            format!("R+W>N ({}+{}>{})", rep.r, rep.w, rep.n)
        } else {
            format!("R+W≤N ({}+{}≤{})", rep.r, rep.w, rep.n)
        };
    }
    let overlap = if sc.quorums_overlap_without_stand_ins() {
        "every read meets every acknowledged write among the home replicas"
    } else {
        "a read need not meet every acknowledged write"
    };
    format!("{} ({overlap})", sc.quorum_label())
}

/// The failure detector in a few words.
fn detector_setting(fd: &crate::scenario::FailureDetectorConfig) -> String {
    match fd.kind {
        crate::scenario::DetectorKind::Timeout => "timeouts".to_string(),
        crate::scenario::DetectorKind::PhiAccrual => format!(
            "phi accrual, φ > {} convicts, heartbeats every {} s",
            short(fd.phi_threshold),
            short(fd.heartbeat_interval_s)
        ),
    }
}

/// Plain-language statements, each backed by the numbers in the report.
// long: one flat list of independent findings in the order summary.md prints them; a
// split into one helper per finding is planned (see ARCHITECTURE.md, known debts).
pub fn findings(r: &Report) -> Vec<String> {
    let o = &r.observed;
    let c = &o.consistency;
    let rep = &r.scenario.replication;
    let mut out = Vec::new();
    let has_faults = !r.faults.is_empty();

    // Availability.
    let ok = o.ops.read.ok + o.ops.write.ok;
    let attempted = o.ops.read.attempted + o.ops.write.attempted;
    if let Some(a) = share(ok, attempted) {
        let cmp = if a >= DYNAMO_AVAILABILITY {
            "at or above"
        } else {
            "below"
        };
        out.push(format!(
            "{} of {} requests succeeded (reads {}, writes {}); {cmp} the {} Dynamo reports (§6.6).",
            pct(Some(a)),
            count(attempted),
            pct(o.availability.read),
            pct(o.availability.write),
            percent_of(DYNAMO_AVAILABILITY * 100.0),
        ));
    }
    let a = &o.availability;
    if has_faults && (a.read_during_faults.is_some() || a.write_during_faults.is_some()) {
        out.push(format!(
            "During fault windows reads were {} and writes {} available; outside them, {} and {}.",
            pct(a.read_during_faults),
            pct(a.write_during_faults),
            pct(a.read_outside_faults),
            pct(a.write_outside_faults),
        ));
    }
    let below_one = a
        .by_datacenter
        .iter()
        .any(|d| d.read.is_some_and(|x| x < 1.0) || d.write.is_some_and(|x| x < 1.0));
    if a.by_datacenter.len() > 1 && below_one {
        let dcs: Vec<String> = a
            .by_datacenter
            .iter()
            .map(|d| format!("{} {} / {}", d.datacenter, pct(d.read), pct(d.write)))
            .collect();
        out.push(format!(
            "Read / write availability by the client's datacenter: {}.",
            dcs.join("; ")
        ));
    }

    // Stale reads against the quorum rule.
    let rule = quorum_rule_words(&r.scenario);
    // Whether the quorums would overlap without stand-ins (R+W>N for Dynamo's counts).
    let strict = r.scenario.quorums_overlap_without_stand_ins();
    if c.judged_reads == 0 {
        out.push(
            "No read followed an acknowledged write of its key, so none was judged for staleness."
                .into(),
        );
    } else if c.stale_reads == 0 {
        out.push(format!(
            "{rule} and none of the {} judged reads was stale.",
            count(c.judged_reads)
        ));
    } else if strict && c.stale_reads_during_faults > 0 {
        let mechanism = if rep.sloppy_quorum {
            "with sloppy quorum on, reads and writes can reach different fallback replicas"
        } else {
            "faults left fewer than a quorum of up-to-date replicas in reach"
        };
        out.push(format!(
            "{rule}, yet {} of the reads judged during fault windows were stale ({} of {}; {mechanism}); outside fault windows {} were stale.",
            pct(c.stale_read_fraction_during_faults),
            count(c.stale_reads_during_faults),
            count(c.judged_reads_during_faults),
            pct(c.stale_read_fraction_outside_faults),
        ));
    } else {
        out.push(format!(
            "{rule}: {} of judged reads were stale ({} of {}).",
            pct(c.stale_read_fraction),
            count(c.stale_reads),
            count(c.judged_reads)
        ));
    }
    if c.stale_reads > 0 {
        let deepest = c.k_staleness.last().map_or(0, |k| k.k);
        let k1 = c
            .k_staleness
            .iter()
            .find(|k| k.k == 1)
            .map_or(0, |k| k.reads);
        out.push(format!(
            "Of the stale reads, {} missed only the newest acknowledged write (k=1); the deepest missed {deepest}.",
            pct(share(k1, c.stale_reads))
        ));
        if let Some(t) = visible_after_ms(r) {
            out.push(format!(
                "Reads that started at least {} ms after the newest acknowledgement were fresh in at least 99.9% of cases (t-visibility).",
                short(t)
            ));
        }
    }

    // Versions per read.
    let v = &c.versions_per_read;
    let found = v.one + v.two + v.three + v.four_or_more;
    if found > 0 {
        let one = v.one as f64 / found as f64;
        out.push(format!(
            "{} of the successful reads that found their key saw one version (Dynamo §6.3 reports {}); {} saw two or more.",
            percent_of(one * 100.0),
            percent_of(DYNAMO_ONE_VERSION * 100.0),
            count(found - v.one),
        ));
    }

    // Session guarantees.
    let s = &c.session;
    let guarantee = |name: &str, g: &GuaranteeSummary, out: &mut Vec<String>| {
        if g.judged_reads == 0 {
            return;
        }
        if g.violations == 0 {
            out.push(format!(
                "No {name} violation in {} judged reads.",
                count(g.judged_reads)
            ));
        } else {
            out.push(format!(
                "{} {name} violations ({} of {} judged reads), seen by {} clients.",
                count(g.violations),
                pct(g.violation_fraction),
                count(g.judged_reads),
                g.clients_with_violations
            ));
        }
    };
    guarantee("read-your-writes", &s.read_your_writes, &mut out);
    guarantee("monotonic-read", &s.monotonic_reads, &mut out);

    // Latency and the SLA.
    let sla = &o.sla;
    if o.ops.read.ok + o.ops.write.ok > 0 {
        let within = share(
            (sla.read_within.unwrap_or(0.0) * o.ops.read.attempted as f64).round() as u64
                + (sla.write_within.unwrap_or(0.0) * o.ops.write.attempted as f64).round() as u64,
            attempted,
        );
        let met = if within.is_some_and(|w| w >= 0.999) {
            "meets"
        } else {
            "misses"
        };
        out.push(format!(
            "{} of reads and {} of writes succeeded within the {} ms SLA; together that {met} Dynamo's target of 99.9%.",
            pct(sla.read_within),
            pct(sla.write_within),
            short(sla.sla_ms)
        ));
        let l = &o.latency_ms.read;
        if o.ops.read.ok > 0 && l.mean > 0.0 {
            out.push(format!(
                "Read p99.9 was {} ms, {:.1}× the mean of {} ms (Dynamo saw about an order of magnitude).",
                ms(l.p999),
                l.p999 / l.mean,
                ms(l.mean)
            ));
        }
    }

    // Durability.
    let d = &r.durability;
    if d.acknowledged_writes > 0 {
        if d.lost_writes == 0 {
            out.push(format!(
                "No acknowledged write was lost ({} audited at the end of the run).",
                count(d.acknowledged_writes)
            ));
        } else {
            out.push(format!(
                "{} acknowledged writes were lost: no replica holds them or a version descended from them at the end (e.g. {}).",
                count(d.lost_writes),
                d.lost_examples.join(", ")
            ));
        }
        if d.lost_updates > 0 {
            out.push(format!(
                "{} of the lost writes are lost updates: a replica's versioning rules discarded them although nothing it kept descends from them, with no failure involved (e.g. {}).",
                count(d.lost_updates),
                d.lost_update_examples.join(", ")
            ));
        }
        if d.overwritten_writes > 0 {
            out.push(format!(
                "{} acknowledged writes were replaced before any client saw them (merged by a blind put, or discarded by last write wins for a version that does not descend from them; e.g. {}).",
                count(d.overwritten_writes),
                d.overwritten_examples.join(", ")
            ));
        }
    }
    delete_findings(r, &mut out);
    flapping_finding(r, &mut out);
    not_found_finding(r, &mut out);
    skew_finding(r, &mut out);
    sibling_finding(r, &mut out);
    imbalance_finding(r, &mut out);

    // Convergence.
    let conv = &r.convergence;
    if conv.divergent_keys_at_end > 0 {
        out.push(format!(
            "Replicas had not converged when the run ended: {} still {}.",
            counted(conv.divergent_keys_at_end, "key", "keys"),
            if conv.divergent_keys_at_end == 1 {
                "diverges"
            } else {
                "diverge"
            }
        ));
    } else if let Some(t) = conv.time_to_converge_s {
        out.push(format!(
            "Replicas converged {t:.0} s after the last fault ended, and no key diverged at the end."
        ));
    } else {
        out.push("No key diverged between its live replicas at the end of the run.".into());
    }

    // Hinted handoff.
    let h = &r.handoff;
    if h.hints_stored > 0 {
        let mut line = format!(
            "Fallback nodes accepted {} hinted replicas (writes to one key merge into one hint) and handed {} hints back to their owners",
            count(h.hints_stored),
            count(h.hints_delivered)
        );
        if h.hints_dropped > 0 {
            let _ = write!(
                line,
                "; {} were dropped (hint store full)",
                count(h.hints_dropped)
            );
        }
        if h.backlog_at_end > 0 {
            let _ = write!(
                line,
                "; {} were still held at the end",
                count(h.backlog_at_end)
            );
        }
        line.push('.');
        out.push(line);
    }
    if let Some(c) = &r.capacity {
        out.extend(capacity_finding(c));
    }
    super::repair::findings(r, &mut out);
    out
}

/// Where the bottleneck was, in plain words: the resource with the busiest node.
fn capacity_finding(c: &crate::report::capacity::CapacitySummary) -> Option<String> {
    let (resource, hottest) = c.bottleneck()?;
    let r = match resource {
        "disk" => c.disk.as_ref(),
        "CPU" => c.cpu.as_ref(),
        _ => c.network.as_ref(),
    }?;
    let load = if hottest.utilization >= 0.9 {
        "saturated: work queued for it"
    } else if hottest.utilization >= 0.6 {
        "busy, and queueing grows fast from here"
    } else {
        "with room to spare"
    };
    let mut finding = format!(
        "The bottleneck was the {resource}: {} was {} busy ({load}), against {} on the average node; work waited for it {} ms at the median and {} ms at p99.",
        hottest.node,
        percent(hottest.utilization),
        percent(r.utilization_mean),
        short(r.wait_ms.p50),
        short(r.wait_ms.p99),
    );
    if let Some(b) = &c.background {
        let kinds = [
            ("anti-entropy", &b.anti_entropy),
            ("hint handoff", &b.hint_handoff),
            ("range transfer", &b.transfer),
            ("Merkle tree rebuilds", &b.merkle_rebuild),
        ];
        let busy: Vec<String> = (kinds.iter())
            .filter(|(_, k)| k.disk_jobs > 0)
            .map(|(name, k)| {
                format!(
                    "{name} {} s for {} MB",
                    short(k.disk_busy_s),
                    short(k.bytes as f64 / 1e6)
                )
            })
            .collect();
        if !busy.is_empty() {
            finding.push_str(&format!(
                " Background work held the disks {} (summed over nodes).",
                busy.join(", ")
            ));
        }
    }
    Some(finding)
}

fn percent(f: f64) -> String {
    format!("{}%", short(f * 100.0))
}

/// The smallest lower edge of a t-visibility bin from which every bin with reads had
/// P(fresh) of at least 99.9%; None when the last bin with reads falls short.
fn visible_after_ms(r: &Report) -> Option<f64> {
    let bins: Vec<_> = r
        .observed
        .consistency
        .t_visibility
        .iter()
        .filter(|b| b.reads > 0)
        .collect();
    let mut from = None;
    for b in bins.iter().rev() {
        if b.p_fresh.is_some_and(|p| p >= 0.999) {
            from = Some(b.from_ms);
        } else {
            break;
        }
    }
    from.filter(|_| {
        bins.first()
            .is_some_and(|b| b.p_fresh.is_some_and(|p| p < 0.999))
    })
}

fn availability(s: &mut String, r: &Report) {
    let o = &r.observed;
    let a = &o.availability;
    let (rd, wr) = (&o.ops.read, &o.ops.write);
    let _ = writeln!(
        s,
        "## Availability\n\n\
         | | read | write |\n|---|---|---|\n\
         | attempted | {} | {} |\n\
         | succeeded | {} | {} |\n\
         | availability | {} | {} |\n\
         | outside fault windows | {} | {} |\n\
         | during fault windows | {} | {} |\n\
         | within the {} ms SLA | {} | {} |\n\
         | failed: timeout | {} | {} |\n\
         | failed: not enough replicas | {} | {} |\n\
         | failed: too many siblings | {} | {} |\n",
        count(rd.attempted),
        count(wr.attempted),
        count(rd.ok),
        count(wr.ok),
        pct(a.read),
        pct(a.write),
        pct(a.read_outside_faults),
        pct(a.write_outside_faults),
        pct(a.read_during_faults),
        pct(a.write_during_faults),
        short(o.sla.sla_ms),
        pct(o.sla.read_within),
        pct(o.sla.write_within),
        count(rd.failed_timeout),
        count(wr.failed_timeout),
        count(rd.failed_not_enough_replicas),
        count(wr.failed_not_enough_replicas),
        count(rd.failed_too_many_siblings),
        count(wr.failed_too_many_siblings),
    );
    let cr = &o.ops.context_read;
    if cr.attempted > 0 {
        let _ = writeln!(
            s,
            "Read-modify-write clients also made {} context reads before their puts ({} succeeded); they are not counted above.\n",
            count(cr.attempted),
            count(cr.ok)
        );
    }
    if let Some(ins) = &o.ops.insert {
        let _ = writeln!(
            s,
            "Of the writes, {} were inserts of a new key ({} succeeded).\n",
            count(ins.attempted),
            count(ins.ok)
        );
    }
    if !a.by_datacenter.is_empty() {
        let _ = writeln!(
            s,
            "By the client's datacenter:\n\n| datacenter | reads | read availability | writes | write availability |\n|---|---|---|---|---|"
        );
        for d in &a.by_datacenter {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} |",
                d.datacenter,
                count(d.reads_attempted),
                pct(d.read),
                count(d.writes_attempted),
                pct(d.write)
            );
        }
        s.push('\n');
    }
}

fn latency(s: &mut String, r: &Report) {
    let l = &r.observed.latency_ms;
    let _ = writeln!(
        s,
        "## Latency (ms, successful requests)\n\n\
         | op | p50 | p90 | p99 | p99.9 | max | mean |\n|---|---|---|---|---|---|---|"
    );
    let row = |s: &mut String, name: &str, x: &LatencySummary, ok: u64| {
        if ok == 0 {
            let _ = writeln!(s, "| {name} | n/a | n/a | n/a | n/a | n/a | n/a |");
        } else {
            let _ = writeln!(
                s,
                "| {name} | {} | {} | {} | {} | {} | {} |",
                ms(x.p50),
                ms(x.p90),
                ms(x.p99),
                ms(x.p999),
                ms(x.max),
                ms(x.mean)
            );
        }
    };
    row(s, "read", &l.read, r.observed.ops.read.ok);
    row(s, "write", &l.write, r.observed.ops.write.ok);
    s.push('\n');
}

fn consistency(s: &mut String, r: &Report) {
    let c = &r.observed.consistency;
    let _ = writeln!(
        s,
        "## Consistency\n\n\
         | | judged reads | stale reads | stale fraction |\n|---|---|---|---|\n\
         | all | {} | {} | {} |\n\
         | during fault windows | {} | {} | {} |\n\
         | outside fault windows | {} | {} | {} |\n",
        count(c.judged_reads),
        count(c.stale_reads),
        pct(c.stale_read_fraction),
        count(c.judged_reads_during_faults),
        count(c.stale_reads_during_faults),
        pct(c.stale_read_fraction_during_faults),
        count(c.judged_reads - c.judged_reads_during_faults),
        count(c.stale_reads - c.stale_reads_during_faults),
        pct(c.stale_read_fraction_outside_faults),
    );
    if !c.k_staleness.is_empty() {
        let _ = writeln!(
            s,
            "k-staleness of stale reads (acknowledged writes missed, from the newest):\n\n| k | reads |\n|---|---|"
        );
        for k in &c.k_staleness {
            let _ = writeln!(s, "| {} | {} |", k.k, count(k.reads));
        }
        s.push('\n');
    }
    let v = &c.versions_per_read;
    let total = v.zero + v.one + v.two + v.three + v.four_or_more;
    let _ = writeln!(
        s,
        "Versions per successful read (Dynamo §6.3: 99.94% one, 0.00057% two, 0.00047% three, 0.00009% four):\n\n\
         | versions | reads | share |\n|---|---|---|"
    );
    for (name, n) in [
        ("0 (not found)", v.zero),
        ("1", v.one),
        ("2", v.two),
        ("3", v.three),
        ("4 or more", v.four_or_more),
    ] {
        let _ = writeln!(s, "| {name} | {} | {} |", count(n), pct(share(n, total)));
    }
    s.push('\n');
    let _ = writeln!(
        s,
        "t-visibility: P(read not stale | t), t = read start − acknowledgement of the newest write before it:\n\n\
         | t (ms) | judged reads | fresh | P(not stale) |\n|---|---|---|---|"
    );
    for b in c.t_visibility.iter().filter(|b| b.reads > 0) {
        let range = match b.to_ms {
            Some(to) => format!("[{}, {})", short(b.from_ms), short(to)),
            None => format!("≥ {}", short(b.from_ms)),
        };
        let _ = writeln!(
            s,
            "| {range} | {} | {} | {} |",
            count(b.reads),
            count(b.fresh),
            pct(b.p_fresh)
        );
    }
    if c.judged_reads == 0 {
        let _ = writeln!(s, "| (no judged read) | | | |");
    }
    s.push('\n');
    let ss = &c.session;
    let _ = writeln!(
        s,
        "Session guarantees (per client and key):\n\n\
         | guarantee | judged reads | violations | fraction | clients with a violation |\n|---|---|---|---|---|"
    );
    for (name, g) in [
        ("read your writes", &ss.read_your_writes),
        ("monotonic reads", &ss.monotonic_reads),
    ] {
        let _ = writeln!(
            s,
            "| {name} | {} | {} | {} | {} |",
            count(g.judged_reads),
            count(g.violations),
            pct(g.violation_fraction),
            count(g.clients_with_violations)
        );
    }
    s.push('\n');
}

fn durability(s: &mut String, r: &Report) {
    let d = &r.durability;
    let examples = |v: &[String]| {
        if v.is_empty() {
            "".to_string()
        } else {
            v.join(", ")
        }
    };
    let _ = writeln!(
        s,
        "## Durability (audited at the end of the run)\n\n\
         | acknowledged writes | lost | of which lost updates | overwritten unseen |\n|---|---|---|---|\n\
         | {} | {} | {} | {} |\n",
        count(d.acknowledged_writes),
        count(d.lost_writes),
        count(d.lost_updates),
        count(d.overwritten_writes),
    );
    if !d.lost_examples.is_empty() || !d.overwritten_examples.is_empty() {
        let _ = writeln!(
            s,
            "Examples: lost {}; lost updates {}; overwritten {}.\n",
            examples(&d.lost_examples),
            examples(&d.lost_update_examples),
            examples(&d.overwritten_examples)
        );
    }
    if let (Some(acked), Some(back)) = (d.acknowledged_deletes, d.resurrected_deletes) {
        let _ = writeln!(
            s,
            "| acknowledged deletes | resurrected |\n|---|---|\n| {} | {} |\n",
            count(acked),
            count(back)
        );
    }
    let v = &r.observed.versioning;
    let _ = writeln!(
        s,
        "## Versioning: {}\n\n\
         | versions per read that found the key | reads with siblings | false siblings | clock bytes per version |\n|---|---|---|---|\n\
         | {} | {} | {} | {} |\n",
        v.scheme,
        v.siblings_per_read
            .map_or("-".into(), |x| format!("{x:.3}")),
        count(v.reads_with_siblings),
        count(v.false_siblings),
        v.clock_bytes_per_version
            .map_or("-".into(), |x| format!("{x:.1}")),
    );
}

fn convergence(s: &mut String, r: &Report) {
    let c = &r.convergence;
    let ttc = c
        .time_to_converge_s
        .map(|t| format!("{t:.0} s"))
        .unwrap_or_else(|| "n/a".into());
    let _ = writeln!(
        s,
        "## Convergence\n\n\
         | divergent keys at the end | time to converge after the last fault |\n|---|---|\n\
         | {} | {ttc} |\n",
        count(c.divergent_keys_at_end)
    );
}

fn handoff(s: &mut String, r: &Report) {
    let h = &r.handoff;
    let _ = writeln!(
        s,
        "## Hinted handoff\n\n\
         | hints stored | delivered | dropped | largest backlog on a node | held at the end |\n|---|---|---|---|---|\n\
         | {} | {} | {} | {} | {} |\n",
        count(h.hints_stored),
        count(h.hints_delivered),
        count(h.hints_dropped),
        count(h.max_backlog),
        count(h.backlog_at_end),
    );
}

fn failure_detection(s: &mut String, r: &Report) {
    let d = &r.observed.failure_detection;
    let secs = |x: Option<f64>| x.map_or("-".into(), |x| format!("{x:.2} s"));
    let _ = writeln!(
        s,
        "## Failure detection: {}\n\n\
         | suspicions | false suspicions | flaps | downs detected | detection mean | detection max |\n|---|---|---|---|---|---|\n\
         | {} | {} | {} | {} | {} | {} |\n",
        d.kind,
        count(d.suspicions),
        count(d.false_suspicions),
        count(d.flaps),
        count(d.downs_detected),
        secs(d.detection_mean_s),
        secs(d.detection_max_s),
    );
}

/// A share of nodes out of balance (more than 15% off the mean) past which a window after
/// a membership change is called imbalanced.
const OUT_OF_BALANCE_WORTH_A_FINDING: f64 = 0.25;

/// Ownership imbalance after joins or leaves: the balance windows that start once the last
/// change completed, against the windows before the first.
fn imbalance_finding(r: &Report, out: &mut Vec<String>) {
    let changes = &r.membership.changes;
    let (Some(first), Some(last)) = (
        changes.iter().map(|c| c.at_s).reduce(f64::min),
        changes
            .iter()
            .filter_map(|c| c.completed_s)
            .reduce(f64::max),
    ) else {
        return;
    };
    let windows = &r.load_balance.windows;
    let after: Vec<_> = windows.iter().filter(|w| w.start_s >= last).collect();
    let Some(worst) = after.iter().max_by(|a, b| {
        a.out_of_balance_fraction
            .total_cmp(&b.out_of_balance_fraction)
    }) else {
        return;
    };
    if worst.out_of_balance_fraction < OUT_OF_BALANCE_WORTH_A_FINDING {
        return;
    }
    let before = windows
        .iter()
        .filter(|w| w.end_s <= first)
        .map(|w| w.out_of_balance_fraction)
        .reduce(f64::max);
    let before = before.map_or(String::new(), |b| {
        format!(" (before the first change, at most {:.0}%)", b * 100.0)
    });
    let p = &r.scenario.cluster.partitioning;
    let placement = match p.strategy {
        crate::scenario::PartitionStrategy::EqualPartitions => format!(
            "strategy 3 ({} equal partitions dealt to the nodes)",
            p.partitions
        ),
        crate::scenario::PartitionStrategy::RandomTokensEqualPartitions => format!(
            "strategy 2 ({} equal partitions placed by {} random tokens per node): a joining node takes the partitions whose ends its tokens now precede, a leaver's partitions go to whichever nodes' tokens follow them",
            p.partitions, p.tokens_per_node
        ),
        crate::scenario::PartitionStrategy::RandomTokens => format!(
            "random tokens ({} per node): a joining node takes whatever ranges its tokens cut, a leaver's ranges go to whichever nodes follow them",
            p.tokens_per_node
        ),
    };
    out.push(format!(
        "Ownership imbalance after membership changes: in the {} s window from {} s, after the last join or leave, {:.0}% of the nodes served more than 15% off the mean load{before}, and the busiest served {:.1}× the mean (efficiency {}). Placement is {placement}. Strategy 3 (cluster.partitioning.strategy equal_partitions) deals partitions evenly on every join and leave; more tokens per node narrow random tokens' spread.",
        short(worst.end_s - worst.start_s),
        short(worst.start_s),
        worst.out_of_balance_fraction * 100.0,
        1.0 / worst.request_efficiency.unwrap_or(1.0).max(1e-9),
        worst.request_efficiency.map_or("n/a".to_string(), |e| format!("{e:.2}")),
    ));
}

/// Siblings per read past this, with false siblings among them, are an explosion.
const SIBLINGS_PER_READ_EXPLODED: f64 = 3.0;

/// Sibling explosion: sets of siblings that keep growing, versions the client had seen
/// kept beside their successors (false siblings).
fn sibling_finding(r: &Report, out: &mut Vec<String>) {
    let v = &r.observed.versioning;
    let per_read = v.siblings_per_read.unwrap_or(1.0);
    if per_read < SIBLINGS_PER_READ_EXPLODED || v.false_siblings == 0 {
        return;
    }
    let refused = r.observed.ops.write.failed_too_many_siblings;
    let refused = if refused > 0 {
        format!(
            " {} puts were refused for leaving more than replication.max_siblings versions.",
            count(refused)
        )
    } else {
        String::new()
    };
    out.push(format!(
        "Sibling explosion: reads returned {per_read:.1} versions on average, and {} of the versions returned were false siblings (a version kept beside one that descends from it in ground truth). Under {} a coordinator keeps the stored value as a sibling whenever a put's context did not see it, and interleaved writers add to the set faster than reads reconcile it.{refused} Dotted version vectors keep only truly concurrent writes as siblings.",
        count(v.false_siblings),
        v.scheme
    ));
}

/// Last write wins under clock skew: acknowledged writes a replica discarded for a version
/// acknowledged before they began (a skewed clock stamped them older).
fn skew_finding(r: &Report, out: &mut Vec<String>) {
    let d = &r.durability;
    let Some(older) = d.overwritten_by_older_writes.filter(|n| *n > 0) else {
        return;
    };
    let skews: Vec<String> = (r.scenario.faults.iter())
        .filter_map(|f| match f {
            crate::scenario::Fault::ClockSkew { offset_ms, .. } => {
                Some(format!("{} ms", short(*offset_ms)))
            }
            _ => None,
        })
        .collect();
    let cause = if skews.is_empty() {
        "their coordinators' clocks stamped them older".to_string()
    } else {
        format!(
            "a coordinator's clock, skewed by {}, stamped them older",
            skews.join(", ")
        )
    };
    out.push(format!(
        "Last write wins discarded newer writes: {} of the {} overwritten acknowledged writes were discarded by replicas for a version acknowledged before they began; {cause}, so the newer write lost. Vector clocks or dotted version vectors order versions by causality instead of clocks and keep truly concurrent writes as siblings.",
        count(older),
        count(d.overwritten_writes)
    ));
}

/// Stale "not found" answers below this many are noise, not a pathology.
const NOT_FOUND_WORTH_A_FINDING: u64 = 10;

/// Stale "not found" reads: a replica without the key (a fallback standing in, or one
/// that missed the writes) answered first and its "not found" counted toward R.
fn not_found_finding(r: &Report, out: &mut Vec<String>) {
    let c = &r.observed.consistency;
    if c.stale_not_found_reads < NOT_FOUND_WORTH_A_FINDING {
        return;
    }
    let rep = &r.scenario.replication;
    let cure = if rep.notfound_ok {
        "With replication.notfound_ok = false a \"not found\" does not count toward R: the read waits for a replica that holds the key (and answers \"not found\" only when every replica asked says so)."
    } else {
        "notfound_ok is already false here: these replicas answered after every replica asked had none of the key's acknowledged versions."
    };
    out.push(format!(
        "Not-found reads: {} of the {} stale reads answered \"not found\" for a key whose value had been acknowledged ({}). A replica that lacks the key, such as a fallback standing in for a home replica or a replica back from downtime, answered first and {} counted it. {cure}",
        count(c.stale_not_found_reads),
        count(c.stale_reads),
        r.scenario.quorum_label(),
        if rep.notfound_ok { "notfound_ok = true" } else { "the read" },
    ));
}

/// Flaps below this many are noise, not a pathology.
const FLAPS_WORTH_A_FINDING: u64 = 10;

/// Failure-detector flapping: healthy peers suspected and trusted again, over and over.
fn flapping_finding(r: &Report, out: &mut Vec<String>) {
    let d = &r.observed.failure_detection;
    if d.flaps < FLAPS_WORTH_A_FINDING {
        return;
    }
    let fd = &r.scenario.failure_detector;
    let (cause, cure) = match fd.kind {
        crate::scenario::DetectorKind::Timeout => (
            format!(
                "the timeout detector suspects a replica that is slower than failure_detector.op_timeout_ms ({} ms) and trusts it again with its next message",
                short(fd.op_timeout_ms)
            ),
            "Phi accrual (failure_detector.kind: \"phi_accrual\") judges neighbours by their heartbeats instead, and a longer op_timeout_ms makes slowness less often look like failure.",
        ),
        crate::scenario::DetectorKind::PhiAccrual => (
            format!(
                "phi accrual convicts at φ > {} (failure_detector.phi_threshold), which late heartbeats reach",
                short(fd.phi_threshold)
            ),
            "A higher phi_threshold (Cassandra's 8) tolerates late heartbeats, at the cost of slower detection.",
        ),
    };
    let strict = if r.scenario.replication.sloppy_quorum {
        "Sloppy quorum takes fallbacks for them."
    } else {
        "Without sloppy quorum, a key whose replicas are suspected fails for want of R or W of them."
    };
    out.push(format!(
        "Failure-detector flapping: {} times a node suspected a peer that was up and reachable and then trusted it again ({} false suspicions of {}): {cause}. Suspected replicas are routed around. {strict} {cure}",
        count(d.flaps),
        count(d.false_suspicions),
        count(d.suspicions),
    ));
}

/// The per-window balance, when the run spans more than one window: the worst and the
/// mean window, as Dynamo §6.2 reads its 30-minute windows.
fn balance_windows(s: &mut String, l: &crate::report::LoadBalance, window_s: f64) {
    if l.windows.len() < 2 {
        return;
    }
    let effs: Vec<f64> = l
        .windows
        .iter()
        .filter_map(|w| w.request_efficiency)
        .collect();
    let worst = effs.iter().copied().fold(f64::INFINITY, f64::min);
    let mean = effs.iter().sum::<f64>() / effs.len().max(1) as f64;
    let off = l.windows.iter().map(|w| w.out_of_balance_fraction);
    let most_off = off.fold(0.0, f64::max);
    let _ = writeln!(
        s,
        "Per {} s window ({} windows): efficiency {mean:.3} on average, {worst:.3} in the worst; at most {:.0}% of nodes out of balance in one window.\n",
        crate::report::format::amount(window_s),
        l.windows.len(),
        most_off * 100.0,
    );
}

fn repair_and_membership(s: &mut String, r: &Report) {
    let a = &r.anti_entropy;
    let _ = writeln!(
        s,
        "## Anti-entropy (Merkle trees)\n\n\
         | exchanges | hashes compared | keys transferred | bytes |\n|---|---|---|---|\n\
         | {} | {} | {} | {} |\n",
        count(a.exchanges),
        count(a.hashes_compared),
        count(a.keys_transferred),
        count(a.bytes),
    );
    let l = &r.load_balance;
    let eff = |x: Option<f64>| x.map(|v| format!("{v:.3}")).unwrap_or_else(|| "n/a".into());
    let _ = writeln!(
        s,
        "## Load balance\n\n\
         Dynamo's load-balancing efficiency is mean / max load per node (1 = perfectly even).\n\n\
         | replica requests per node (mean, max) | efficiency | nodes >15% off the mean | keys per node (mean, max) | key efficiency |\n|---|---|---|---|---|\n\
         | {:.0}, {} | {} | {} | {:.0}, {} | {} |\n",
        l.requests_per_node_mean,
        count(l.requests_per_node_max),
        eff(l.request_efficiency),
        count(l.nodes_out_of_balance),
        l.keys_per_node_mean,
        count(l.keys_per_node_max),
        eff(l.key_efficiency),
    );
    balance_windows(s, l, r.scenario.metrics.balance_window_s);
    let m = &r.membership;
    if m.changes.is_empty() {
        return;
    }
    let _ = writeln!(
        s,
        "## Membership changes\n\n\
         | # | kind | nodes | at (s) | completed (s) | keys to move | view converged after (s) |\n|---|---|---|---|---|---|---|"
    );
    for c in &m.changes {
        let opt = |x: Option<f64>| x.map(|v| format!("{v:.1}")).unwrap_or_else(|| "n/a".into());
        let _ = writeln!(
            s,
            "| {} | {} | {} | {:.1} | {} | {} | {} |",
            c.fault_index,
            c.kind,
            c.nodes.join(", "),
            c.at_s,
            opt(c.completed_s),
            count(c.keys_to_move),
            opt(c.view_convergence_s),
        );
    }
    let _ = writeln!(
        s,
        "\nKeys streamed to new owners: {} ({} bytes); requests misrouted by stale views: {}; gossip messages: {}.\n",
        count(m.keys_transferred),
        count(m.bytes_transferred),
        count(m.misrouted_requests),
        count(m.gossip_messages),
    );
}

fn messages(s: &mut String, r: &Report) {
    let m = &r.messages;
    let per = m
        .per_request
        .map(|p| format!("{p:.2}"))
        .unwrap_or_else(|| "n/a".into());
    let _ = writeln!(
        s,
        "## Messages\n\n\
         | sent | bytes | per client request | lost | blocked by a partition | to a down node |\n|---|---|---|---|---|---|\n\
         | {} | {} | {per} | {} | {} | {} |\n",
        count(m.sent),
        count(m.bytes),
        count(m.lost),
        count(m.partitioned),
        count(m.to_down_node),
    );
    let _ = writeln!(s, "| kind | sent | bytes |\n|---|---|---|");
    for (kind, k) in m.by_kind.iter().filter(|(_, k)| k.sent > 0) {
        let _ = writeln!(s, "| {kind} | {} | {} |", count(k.sent), count(k.bytes));
    }
    s.push('\n');
}

fn faults(s: &mut String, r: &Report) {
    if r.faults.is_empty() {
        let _ = writeln!(s, "## Faults\n\nNone.\n");
        return;
    }
    let _ = writeln!(
        s,
        "## Faults\n\n| # | kind | from (s) | to (s) | nodes |\n|---|---|---|---|---|"
    );
    for f in &r.faults {
        let to = f
            .end_s
            .map(|e| format!("{e:.1}"))
            .unwrap_or_else(|| "end of run".into());
        let nodes = if f.nodes.is_empty() {
            "—".to_string()
        } else if f.nodes.len() > 8 {
            format!("{} … ({} nodes)", f.nodes[..8].join(", "), f.nodes.len())
        } else {
            f.nodes.join(", ")
        };
        let _ = writeln!(
            s,
            "| {} | {} | {:.1} | {to} | {nodes} |",
            f.index, f.kind, f.at_s
        );
    }
    s.push('\n');
}

/// Deletes: how many were acknowledged and, the pathology operators know, how many came
/// back after replicas collected their tombstones.
fn delete_findings(r: &Report, out: &mut Vec<String>) {
    let d = &r.durability;
    let (Some(acked), Some(resurrected)) = (d.acknowledged_deletes, d.resurrected_deletes) else {
        return;
    };
    let grace = match r.scenario.replication.tombstone_gc_grace_s {
        Some(g) => format!("after {} s", short(g)),
        None => "never".to_string(),
    };
    if resurrected == 0 {
        out.push(format!(
            "No acknowledged delete came back ({} deletes; replicas collect tombstones {grace}).",
            count(acked)
        ));
    } else {
        let examples = d.resurrected_examples.as_deref().unwrap_or_default();
        out.push(format!(
            "Deleted data resurrected: {} of {} acknowledged deletes came back, a later read returning the value they had removed with no put in between (e.g. {}). Replicas collect tombstones {grace}; a replica that missed a delete and is repaired later brings the value back. A grace period longer than a replica can be down, plus the repair after it, prevents it.",
            count(resurrected),
            count(acked),
            examples.join(", ")
        ));
    }
}

/// The workload row of an open loop: rate, clients, shares, keys, and the YCSB preset it
/// came from, saying what E's scans became.
fn open_loop_line(w: &OpenLoop) -> String {
    let inserts = if w.insert_fraction > 0.0 {
        format!(", {}% inserts", short(w.insert_fraction * 100.0))
    } else {
        String::new()
    };
    let preset = match w.preset {
        Some(p) if p.scans_as_reads() => format!(
            "; YCSB preset `{}`: its scans run as single-key reads of their first key (dynasim has no range scans)",
            p.name()
        ),
        Some(p) => format!("; YCSB preset `{}`", p.name()),
        None => String::new(),
    };
    format!(
        "open loop, {} ops/s from {}, {}% reads{inserts}, {}{preset}",
        amount(w.ops_per_s),
        counted(u64::from(w.clients), "client", "clients"),
        short(w.read_fraction * 100.0),
        counted(u64::from(w.keys), "key", "keys")
    )
}
