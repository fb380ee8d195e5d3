//! Newtypes for the things a simulation counts, so a node index can never be passed where a
//! key or a client is expected.

use serde::Serialize;
use std::fmt;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident($inner:ty)) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $name(pub $inner);

        impl $name {
            pub fn index(self) -> usize {
                self.0 as usize
            }
        }
    };
}

id_type!(
    /// A physical node (a Dynamo process with its own disk), numbered in datacenter order.
    NodeId(u32)
);
id_type!(
    /// A client process issuing requests.
    ClientId(u32)
);
id_type!(
    /// A key of the workload's key space.
    KeyId(u32)
);
id_type!(
    /// A datacenter, numbered in the order the scenario lists them.
    DcId(u16)
);
id_type!(
    /// A client write: every put gets a fresh, globally unique id (the value it writes).
    WriteId(u64)
);
id_type!(
    /// A client request (one get or one put), unique over the run.
    RequestId(u64)
);

/// Where a message comes from or goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Endpoint {
    Node(NodeId),
    Client(ClientId),
}

impl fmt::Display for WriteId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "w-{}", self.0)
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "r-{}", self.0)
    }
}

/// A fast, deterministic hasher for integer-keyed maps on the hot path (FxHash's mixing
/// step). Maps using it are never iterated where the order could reach an outcome.
#[derive(Default, Clone, Copy)]
pub struct FxHasher {
    hash: u64,
}

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl std::hash::Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.add(*b as u64);
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.add(i as u64)
    }
    fn write_u16(&mut self, i: u16) {
        self.add(i as u64)
    }
    fn write_u32(&mut self, i: u32) {
        self.add(i as u64)
    }
    fn write_u64(&mut self, i: u64) {
        self.add(i)
    }
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64)
    }
    fn finish(&self) -> u64 {
        self.hash
    }
}

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

pub type FxBuild = std::hash::BuildHasherDefault<FxHasher>;
/// A HashMap with the deterministic hasher. Do not iterate it where order matters.
pub type FxHashMap<K, V> = std::collections::HashMap<K, V, FxBuild>;
/// A HashSet with the deterministic hasher. Do not iterate it where order matters.
pub type FxHashSet<K> = std::collections::HashSet<K, FxBuild>;
