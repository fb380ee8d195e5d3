//! What the oracle keeps for deletes, from its own record: which writes are deletes (the
//! clients' calls, in `Causality`), which tombstones replicas collected (their facts), and
//! which acknowledged deletes came back.
//!
//! Two judgements follow. A read that returns no value (nothing, or only tombstones)
//! stands for the key's collected deletes: after collection "not found" is what a delete
//! leaves, so it is not stale against one. And a read that returns a value a delete had
//! removed, the delete being the newest write acknowledged before the read began and its
//! tombstone collected by some replica already, is a resurrection: the deleted data came
//! back (a replica that missed the delete, repaired after the others collected its
//! tombstone). Before any collection such a read is only stale: the tombstone still
//! exists and repair spreads it.

use super::causality::{Acked, Causality, Order};
use crate::ids::{FxHashMap, KeyId, WriteId};
use smallvec::SmallVec;
use std::collections::BTreeSet;

#[derive(Default)]
pub struct DeleteRecord {
    /// Per key: the tombstones some replica collected.
    collected: FxHashMap<KeyId, SmallVec<[WriteId; 2]>>,
    pub acknowledged: u64,
    /// Acknowledged deletes whose key came back, in write order.
    pub resurrected: BTreeSet<WriteId>,
}

impl DeleteRecord {
    /// A replica collected `writes`, the tombstones `key` held.
    pub fn collected(&mut self, key: KeyId, writes: &[WriteId]) {
        let list = self.collected.entry(key).or_default();
        for w in writes {
            if !list.contains(w) {
                list.push(*w);
            }
        }
    }

    /// Judges a successful read of `key` that began at `start` and returned `returned`
    /// (every write id, tombstones too): records a resurrection, adds the collected
    /// tombstones a value-less read stands for, and returns how many values the user saw.
    pub fn judge_read(
        &mut self,
        c: &Causality,
        acked: &[Acked],
        start: Order,
        key: KeyId,
        returned: &mut SmallVec<[WriteId; 2]>,
    ) -> usize {
        let values: SmallVec<[WriteId; 2]> = returned
            .iter()
            .copied()
            .filter(|w| !c.is_delete(*w))
            .collect();
        let newest = acked[..acked.partition_point(|a| a.ack < start)].last();
        if let Some(delete) = newest.map(|a| a.write).filter(|w| c.is_delete(*w))
            && self.stand_ins(key).contains(&delete)
            && values.iter().any(|v| c.descends(delete, *v))
        {
            self.resurrected.insert(delete);
        }
        if values.is_empty() {
            returned.extend_from_slice(self.stand_ins(key));
        }
        values.len()
    }

    /// The tombstones replicas collected for `key`.
    fn stand_ins(&self, key: KeyId) -> &[WriteId] {
        self.collected.get(&key).map_or(&[], |l| l.as_slice())
    }

    /// A collected tombstone still stands in `held` (what replicas hold for `key` at the
    /// end): collection forgets a delete on purpose, so the writes it replaced are not
    /// lost, whatever was put on the key afterwards (a put after collection has no
    /// context that reaches them). A delete undone by a resurrection is counted there.
    pub fn stand_in_for_collected(&self, key: KeyId, held: &mut Vec<WriteId>) {
        for w in self.stand_ins(key) {
            if !held.contains(w) {
                held.push(*w);
            }
        }
    }
}
