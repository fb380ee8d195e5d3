//! The operations a client asks of the store, and what one returns. `Op` names an
//! operation; `OpResult` is its result, the one encoding used from the coordinator
//! (`Completion`) through the reply message to the client, the workload driver and the
//! observer. Matches over either are exhaustive, so a new operation fails to compile
//! wherever it must be handled.

use super::message::{FailCause, Message};
use super::versioning::{Version, Versions};
use crate::ids::{NodeId, RequestId};

/// A client operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Get,
    Put,
}

/// What a finished operation returns: a get the versions it read (the siblings), a put
/// the version it stored; either may fail.
#[derive(Clone, Debug)]
pub enum OpResult {
    Get(Result<Versions, FailCause>),
    Put(Result<Version, FailCause>),
}

impl OpResult {
    /// `op` failed for `cause`.
    pub fn failed(op: Op, cause: FailCause) -> OpResult {
        match op {
            Op::Get => OpResult::Get(Err(cause)),
            Op::Put => OpResult::Put(Err(cause)),
        }
    }

    pub fn op(&self) -> Op {
        match self {
            OpResult::Get(_) => Op::Get,
            OpResult::Put(_) => Op::Put,
        }
    }

    pub fn is_ok(&self) -> bool {
        match self {
            OpResult::Get(r) => r.is_ok(),
            OpResult::Put(r) => r.is_ok(),
        }
    }

    /// The reply message that carries this result to the client that sent `req`;
    /// `fastest` (reads only) names the replica that answered first.
    pub fn into_reply(self, req: RequestId, fastest: Option<NodeId>) -> Message {
        match self {
            OpResult::Get(result) => Message::GetReply {
                req,
                result,
                fastest,
            },
            OpResult::Put(result) => Message::PutReply { req, result },
        }
    }
}
