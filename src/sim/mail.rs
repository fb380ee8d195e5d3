//! Messages on their way: one slab of slots the loop reuses, so that sending a message
//! costs no allocation. An event that carries a message holds a `Letter` (its slot and
//! kind, 8 bytes) and the message waits in the slab until the event is handled; a slot is
//! free again the moment its message is taken out. The slab grows to the most messages
//! ever in flight at once and never shrinks (`guard.rs` counts a queued message at its
//! full size already).

use crate::node::{Message, MessageKind};

/// A message waiting in the slab: where, and of what kind (the digest and the event
/// profile read the kind without touching the message). Not `Clone`: a letter is taken
/// once.
#[derive(Debug)]
pub struct Letter {
    slot: u32,
    kind: MessageKind,
}

impl Letter {
    pub fn kind(&self) -> MessageKind {
        self.kind
    }
}

#[derive(Default)]
pub struct Mail {
    /// A taken slot holds `Message::Ping` (a tag only) until it is filled again.
    slots: Vec<Message>,
    /// Free slots, the last freed first (it is the warmest).
    free: Vec<u32>,
}

impl Mail {
    /// Puts a message in a free slot (or a new one).
    pub fn post_new(&mut self, msg: Message) -> Letter {
        let kind = msg.kind();
        self.post(msg, kind)
    }

    /// Puts a message of `kind` (its `Message::kind`, already known) in a free slot.
    #[inline]
    pub fn post(&mut self, msg: Message, kind: MessageKind) -> Letter {
        debug_assert_eq!(kind, msg.kind());
        let slot = match self.free.pop() {
            Some(slot) => {
                let old = std::mem::replace(&mut self.slots[slot as usize], msg);
                // A free slot holds `Message::Ping`, which owns nothing: no drop to run.
                debug_assert!(matches!(old, Message::Ping));
                std::mem::forget(old);
                slot
            }
            None => {
                let slot = u32::try_from(self.slots.len()).expect("fewer than 2^32 in flight");
                self.slots.push(msg);
                slot
            }
        };
        Letter { slot, kind }
    }

    /// Takes a letter's message out; its slot is free again.
    #[inline]
    pub fn take(&mut self, letter: Letter) -> Message {
        self.free.push(letter.slot);
        std::mem::replace(&mut self.slots[letter.slot as usize], Message::Ping)
    }

    /// The message a letter stands for, still in its slot.
    pub fn read(&self, letter: &Letter) -> &Message {
        &self.slots[letter.slot as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::Message;

    #[test]
    fn a_slot_is_reused_once_its_message_is_taken() {
        let mut mail = Mail::default();
        let a = mail.post_new(Message::Gossip { epoch: 1 });
        let b = mail.post_new(Message::Heartbeat);
        assert_eq!(a.kind(), MessageKind::Gossip);
        assert!(matches!(mail.read(&b), Message::Heartbeat));
        assert!(matches!(mail.take(a), Message::Gossip { epoch: 1 }));
        let c = mail.post_new(Message::AeDone { slot: 7 });
        assert_eq!(mail.slots.len(), 2, "the freed slot is reused");
        assert!(matches!(mail.take(c), Message::AeDone { slot: 7 }));
        assert!(matches!(mail.take(b), Message::Heartbeat));
        assert_eq!(mail.free.len(), 2);
    }
}
