//! What is applied but not visible yet, and taking it back: the undo log (an open atomic
//! snapshot, or a batch a halting profile may roll back), commits that drain it, and the
//! rollback of a halted batch.

use super::*;

impl Materializer {
    /// Stops the consumer; under batch visibility the unfinished batch is rolled back.
    pub(super) fn halt(&mut self, batch_undo_start: usize, batch_txid_start: usize) {
        self.halted = true;
        if self.profile.visibility == Visibility::PerMessage {
            return;
        }
        while self.undo.len() > batch_undo_start {
            let step = self.undo.pop().expect("length checked");
            step.revert(
                &mut self.working,
                &mut self.seen_txids,
                &mut self.staged_txids,
            );
        }
        self.staged_txids.truncate(batch_txid_start);
    }

    /// Makes the batch visible, except what an open atomic snapshot still holds back.
    pub(super) fn commit(&mut self, offset: Option<String>, up_to_date: bool) {
        if offset.is_some() {
            self.offset = offset;
        }
        self.up_to_date_seen |= up_to_date;
        let (undo_keep, txid_keep) = self
            .snapshot_mark
            .unwrap_or((self.undo.len(), self.staged_txids.len()));
        self.undo.drain(..undo_keep);
        self.seen_txids.extend(self.staged_txids.drain(..txid_keep));
        if self.snapshot_mark.is_some() {
            self.snapshot_mark = Some((0, 0));
        }
    }

    /// Whether a change applied now may still have to be hidden or rolled back.
    pub(super) fn recording_undo(&self) -> bool {
        self.snapshot_mark.is_some()
            || (self.profile.invalid_message == InvalidMessage::Halt
                && self.profile.visibility != Visibility::PerMessage)
    }
}

impl Undo {
    /// Takes this step back out of `state`, `seen` and `staged`.
    pub(super) fn revert(self, state: &mut State, seen: &mut Txids, staged: &mut Vec<String>) {
        let step = self;
        match step {
            Undo::Put {
                entity_type,
                key,
                previous: Some(v),
            } => {
                state.entry(entity_type).or_default().insert(key.into(), v);
            }
            Undo::Put {
                entity_type,
                key,
                previous: None,
            } => {
                if let Some(entities) = state.get_mut(&entity_type) {
                    entities.remove(key.as_str());
                }
            }
            Undo::Clear {
                state: before,
                txids,
            } => {
                *state = before;
                if let Some((s, st)) = txids {
                    *seen = s;
                    *staged = st;
                }
            }
        }
    }
}
