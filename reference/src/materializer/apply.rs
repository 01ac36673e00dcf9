//! The apply loop: a batch's items one by one, each admitted (collections, value schemas,
//! profile positions) and applied, or diagnosed; control messages (snapshot marks, reset);
//! txids staged until the batch commits.

use super::entity::{Target, change_entity};
use super::*;

impl Materializer {
    /// Applies `len` items as one batch.
    pub(super) fn apply_items<'i>(
        &mut self,
        items: impl Iterator<Item = Item<'i>> + 'i,
        len: usize,
        offset: Option<String>,
        up_to_date: bool,
    ) -> &[Diagnostic] {
        let (batch_no, first_diagnostic) = self.start_batch();
        if self.halted {
            for index in 0..len {
                self.diagnose(batch_no, index, halted_rejection());
            }
            return &self.diagnostics[first_diagnostic..];
        }
        let batch_undo_start = self.undo.len();
        let batch_txid_start = self.staged_txids.len();
        let items: Box<dyn Iterator<Item = (usize, Item<'i>)> + 'i> = match self.mutant {
            Some(Mutant::OrderReversed) => {
                Box::new(items.enumerate().collect::<Vec<_>>().into_iter().rev())
            }
            _ => Box::new(items.enumerate()),
        };
        let mut completed = true;
        let (mut offset, mut up_to_date) = (offset, up_to_date);
        for (index, item) in items {
            let rejection = match self.apply_item(item) {
                Ok(Step::Next) => continue,
                Ok(Step::RestartAt(restart)) => {
                    // The items after the reset will be read again from `restart`.
                    (offset, up_to_date) = (Some(restart), false);
                    break;
                }
                Err(rejection) => rejection,
            };
            self.diagnose(batch_no, index, rejection);
            if self.profile.invalid_message == InvalidMessage::Halt {
                completed = false;
                self.halt(batch_undo_start, batch_txid_start);
                for rest in index + 1..len {
                    self.diagnose(batch_no, rest, halted_rejection());
                }
                break;
            }
            if self.mutant == Some(Mutant::InvalidBlocksOtherTypes) {
                break;
            }
        }
        if completed {
            self.commit(offset, up_to_date);
        }
        &self.diagnostics[first_diagnostic..]
    }

    pub(super) fn apply_item(&mut self, item: Item<'_>) -> Result<Step, Rejection> {
        let value = match item {
            Item::Parsed(value) => value,
            Item::Read(Err(value)) => value,
            Item::Read(Ok(change)) => {
                let txid = match self.records_rejected_txids() {
                    true => change.txid.as_deref().map(str::to_owned),
                    false => None,
                };
                let result = self.apply_change(change).map(|()| Step::Next);
                return self.after_item(result, txid);
            }
        };
        let txid = match self.records_rejected_txids() {
            true => value
                .pointer("/headers/txid")
                .and_then(Value::as_str)
                .map(str::to_owned),
            false => None,
        };
        let result = match Message::parse(value, &self.rules) {
            Ok(Message::Change(change)) => self
                .apply_change(DecodedChange::from_message(change))
                .map(|()| Step::Next),
            Ok(Message::Control(control)) => Ok(self.apply_control(control)),
            Err(r) => Err(r),
        };
        self.after_item(result, txid)
    }

    pub(super) fn records_rejected_txids(&self) -> bool {
        self.mutant == Some(Mutant::RejectedTxidRecorded)
    }

    /// Where the mutants that misjudge an item's outcome hook in.
    pub(super) fn after_item(
        &mut self,
        result: Result<Step, Rejection>,
        txid: Option<String>,
    ) -> Result<Step, Rejection> {
        match (result, self.mutant) {
            (Err(r), Some(Mutant::UnknownControlAccepted))
                if r.requirement == req::CONTROL_ENUM =>
            {
                Ok(Step::Next)
            }
            (Err(r), Some(Mutant::RejectedTxidRecorded)) => {
                self.seen_txids.extend(txid);
                Err(r)
            }
            (result, _) => result,
        }
    }

    /// Checks a change against the declared collections and the profile.
    pub(super) fn admit(&self, change: &DecodedChange<'_>) -> Result<(), Rejection> {
        let value = change
            .value
            .as_deref()
            .filter(|_| change.operation.requires_value());
        if let Some(collections) = &self.collections {
            match collections.get(change.entity_type.as_ref()) {
                None if self.profile.unknown_type == Acceptance::Reject
                    && self.mutant != Some(Mutant::UnknownTypeStored) =>
                {
                    return Err(Rejection {
                        requirement: req::EXPECTED_TYPE,
                        path: "/type".into(),
                        reason: format!(
                            "no declared collection has entity type {:?}",
                            change.entity_type
                        ),
                    });
                }
                Some(Some(validator)) if self.mutant != Some(Mutant::ValueSchemaSkipped) => {
                    let value = value.map(from_raw);
                    if let Some(error) =
                        value.as_ref().and_then(|v| validator.iter_errors(v).next())
                    {
                        return Err(Rejection {
                            requirement: req::VALUE_SCHEMA,
                            path: format!("/value{}", error.instance_path()),
                            reason: format!(
                                "value fails the {:?} schema: {error}",
                                change.entity_type
                            ),
                        });
                    }
                }
                _ => {}
            }
        }
        let reject_non_objects = self.profile.non_object_values == Acceptance::Reject
            || self.mutant == Some(Mutant::NonObjectValuesRejected);
        if let Some(v) = value
            && reject_non_objects
            && !v.get().trim_start().starts_with('{')
        {
            return Err(Rejection {
                requirement: req::OQ_NON_OBJECT_VALUE,
                path: "/value".into(),
                reason: format!(
                    "value is {}, not an object",
                    crate::message::kind_of(&from_raw(v))
                ),
            });
        }
        Ok(())
    }

    pub(super) fn apply_change(&mut self, change: DecodedChange<'_>) -> Result<(), Rejection> {
        self.admit(&change)?;
        let DecodedChange {
            entity_type,
            key,
            value,
            operation,
            txid,
        } = change;
        let target = Target {
            entity_type: &entity_type,
            key: &key,
            operation,
        };
        let changed = change_entity(&mut self.working, &self.profile, self.mutant, target, value)?;
        if let Some(previous) = changed
            && self.recording_undo()
        {
            self.undo.push(Undo::Put {
                entity_type: entity_type.into_owned(),
                key: key.into_owned(),
                previous,
            });
        }
        if let Some(txid) = txid {
            self.stage_txid(txid.into_owned());
        }
        Ok(())
    }

    pub(super) fn apply_control(&mut self, control: ControlMessage) -> Step {
        match control.control {
            Control::Reset if self.mutant == Some(Mutant::ResetIgnored) => {}
            Control::Reset if self.mutant == Some(Mutant::ResetKeepsOtherTypes) => {
                if let Some(first) = self.working.keys().min().cloned() {
                    if self.recording_undo() {
                        let state = self.working.clone();
                        self.undo.push(Undo::Clear { state, txids: None });
                    }
                    self.working.remove(&first);
                }
            }
            Control::Reset => {
                // A reset starts over: an open snapshot belonged to the state it discards.
                self.snapshot_mark = None;
                let clear_txids = self.profile.reset == ResetScope::StateAndTxids
                    && self.mutant != Some(Mutant::KeepsTxidsAcrossReset);
                self.clear(clear_txids);
                let restart = self.profile.reset_offset == ResetOffset::Restart
                    && self.mutant != Some(Mutant::ResetOffsetIgnored);
                if let Some(offset) = control.offset.filter(|_| restart) {
                    return Step::RestartAt(offset);
                }
            }
            Control::SnapshotStart => match self.profile.snapshot {
                SnapshotSemantics::Hint => {}
                _ if self.snapshot_mark.is_some() => {}
                SnapshotSemantics::Atomic => {
                    self.snapshot_mark = Some((self.undo.len(), self.staged_txids.len()));
                }
                SnapshotSemantics::Replace => {
                    self.snapshot_mark = Some((self.undo.len(), self.staged_txids.len()));
                    self.clear(false);
                }
            },
            // Closing the snapshot lets its changes commit with the batch that closes it.
            Control::SnapshotEnd => self.snapshot_mark = None,
        }
        Step::Next
    }

    pub(super) fn clear(&mut self, clear_txids: bool) {
        let state = std::mem::take(&mut self.working);
        let txids = clear_txids.then(|| {
            (
                std::mem::take(&mut self.seen_txids),
                std::mem::take(&mut self.staged_txids),
            )
        });
        if self.recording_undo() {
            self.undo.push(Undo::Clear { state, txids });
        }
    }

    pub(super) fn stage_txid(&mut self, txid: String) {
        let txid = match self.mutant {
            Some(Mutant::TxidsCaseless) => txid.to_lowercase(),
            _ => txid,
        };
        let visible_now = self.profile.txid_seen == TxidSeen::OnApply
            || (self.profile.visibility == Visibility::PerMessage && self.snapshot_mark.is_none());
        if visible_now {
            self.seen_txids.insert(txid);
        } else {
            self.staged_txids.push(txid);
        }
    }

    pub(super) fn diagnose(&mut self, batch: usize, index: usize, r: Rejection) {
        self.diagnostics.push(Diagnostic {
            batch,
            index,
            requirement: r.requirement,
            path: r.path,
            reason: r.reason,
        });
    }
}
