//! Names the scenario format and the protocol share, kept at the bottom of the crate so
//! that `scenario` can check a name against them without depending on `node`. Today the
//! one such vocabulary is the kinds of messages: `network.by_message_ms` keys and the
//! message counts of a report use these names, and `node::Message::kind` maps each
//! message to one of them.

/// Message kinds: the names used by `network.by_message_ms` and message counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum MessageKind {
    ClientRequest = 0,
    ClientResponse,
    Forward,
    ReadRequest,
    ReadResponse,
    WriteRequest,
    WriteAck,
    ReadRepair,
    Ping,
    Pong,
    HintHandoff,
    HintAck,
    AeHashes,
    AeKeys,
    AeData,
    Gossip,
    GossipUpdate,
    Transfer,
    TransferDone,
    MembershipPoll,
    Heartbeat,
    AeDone,
    AeAsk,
}

impl MessageKind {
    pub const COUNT: usize = 23;
    pub const ALL: [MessageKind; Self::COUNT] = [
        MessageKind::ClientRequest,
        MessageKind::ClientResponse,
        MessageKind::Forward,
        MessageKind::ReadRequest,
        MessageKind::ReadResponse,
        MessageKind::WriteRequest,
        MessageKind::WriteAck,
        MessageKind::ReadRepair,
        MessageKind::Ping,
        MessageKind::Pong,
        MessageKind::HintHandoff,
        MessageKind::HintAck,
        MessageKind::AeHashes,
        MessageKind::AeKeys,
        MessageKind::AeData,
        MessageKind::Gossip,
        MessageKind::GossipUpdate,
        MessageKind::Transfer,
        MessageKind::TransferDone,
        MessageKind::MembershipPoll,
        MessageKind::Heartbeat,
        MessageKind::AeDone,
        MessageKind::AeAsk,
    ];
    pub const NAMES: [&'static str; Self::COUNT] = [
        "client_request",
        "client_response",
        "forward",
        "read_request",
        "read_response",
        "write_request",
        "write_ack",
        "read_repair",
        "ping",
        "pong",
        "hint_handoff",
        "hint_ack",
        "ae_hashes",
        "ae_keys",
        "ae_data",
        "gossip",
        "gossip_update",
        "transfer",
        "transfer_done",
        "membership_poll",
        "heartbeat",
        "ae_done",
        "ae_ask",
    ];

    pub fn name(self) -> &'static str {
        Self::NAMES[self as usize]
    }

    pub fn from_name(name: &str) -> Option<MessageKind> {
        Self::NAMES
            .iter()
            .position(|n| *n == name)
            .map(|i| Self::ALL[i])
    }
}
