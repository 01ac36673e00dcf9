//! Deliberately broken variants of the reference, one rule each.
//!
//! The suite is only as good as the bugs it catches: `self-test` (and the `mutants` test)
//! runs the corpus against every mutant and requires at least one required case to fail.
//! A mutant changes exactly one behaviour and names the requirement it breaks. Those marked
//! "Client" break the reference's HTTP client (`client.rs`), not the materializer.
//!
//! [`Mutant::POSITIONS`] are not defects: each takes another defensible position on a
//! question the spec leaves open, and the suite must *not* fail it on any required case,
//! in the corpus or in a generated scenario (the agreement test in `spec-tests`).

use serde::Serialize;

use crate::requirement as req;

/// A deliberate defect of the reference (materializer, parser or client): the suite must catch
/// every one (`state-conformance self-test`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mutant {
    /// Update shallow-merges objects instead of replacing the value.
    UpdateMerges,
    /// Reset does nothing.
    ResetIgnored,
    /// A reset's offset is ignored: reading goes on with the next item.
    ResetOffsetIgnored,
    /// Delete does nothing.
    DeletesIgnored,
    /// The items of a batch are applied last to first.
    OrderReversed,
    /// An insert or update without `value` is stored with value null.
    MissingValueAccepted,
    /// An empty `key` is accepted.
    EmptyKeyAccepted,
    /// An unknown operation is treated as an insert.
    UnknownOperationAsInsert,
    /// An unknown control value is skipped silently instead of rejected.
    UnknownControlAccepted,
    /// The txid of a rejected message is recorded as seen.
    RejectedTxidRecorded,
    /// Declared value schemas are not checked.
    ValueSchemaSkipped,
    /// One rejected message stops the rest of its batch.
    InvalidBlocksOtherTypes,
    /// Changes of an undeclared entity type are stored.
    UnknownTypeStored,
    /// Values that are not JSON objects are rejected.
    NonObjectValuesRejected,
    /// An insert or update whose value is null deletes the entity.
    NullValueAsDelete,
    /// A message with both `operation` and `control` is applied as a change.
    BothKindsAsChange,
    /// A reset clears only one entity type (the first in key order); the others stay.
    ResetKeepsOtherTypes,
    /// Client: a read's Stream-Next-Offset is committed when its headers arrive, so a body
    /// lost in transit is skipped.
    CommitBeforeBody,
    /// Client: a dropped connection ends the subscription instead of being retried.
    GivesUpOnTransportErrors,
    /// Client: Stream-Closed is not taken as the end of the stream; it keeps polling.
    ClosedNotEof,
    /// Client: the subscription stops at the first message the consumer rejects.
    StopsOnInvalidItem,
    /// Client: the subscription stops on a change whose value is not a JSON object.
    StopsOnNonObjectValue,
    /// Client: SSE data is applied as it arrives, before the control event that commits it.
    SseDataBeforeControl,
    /// Client: reads never echo the server's cursor (long-poll nor SSE).
    NoCursorEcho,
    /// Client: reading stops, silently, after the first read that is up to date: the
    /// subscription stays open but neither follows the stream nor reports that it stopped.
    StopsAtFirstUpToDate,
    /// Client: after a read that failed or ended with nothing new, reading resumes from the
    /// offset committed before the last one (re-reading data already applied).
    ResumesFromStaleOffset,
    /// Client: SSE reconnects do not echo the last `streamCursor` (long-polls still do).
    SseCursorNotEchoed,
    /// Client: each `data:` line of an SSE data event is parsed on its own (lines that are
    /// not a JSON array are dropped), instead of the event's lines joined.
    SseDataLinesSplit,
    /// Client: SSE connections name no offset (the parameter is left out); a server refuses
    /// them.
    SseOffsetOmitted,
    /// Txids are recorded in lower case: txids that differ only in case are taken as one
    /// (txids are opaque strings, compared exactly).
    TxidsCaseless,
    /// Position (not a defect): a reset clears the entities but the seen txids stay
    /// (OQ-RESET-SCOPE).
    KeepsTxidsAcrossReset,
    /// Position (not a defect), client: a 5xx or 429 answer ends the subscription with an
    /// error instead of being retried (OQ-TRANSIENT-ERRORS).
    GivesUpOnServerErrors,
}

impl Mutant {
    /// Every mutant, in a fixed order.
    pub const ALL: [Mutant; 30] = [
        Mutant::UpdateMerges,
        Mutant::ResetIgnored,
        Mutant::ResetOffsetIgnored,
        Mutant::DeletesIgnored,
        Mutant::OrderReversed,
        Mutant::MissingValueAccepted,
        Mutant::EmptyKeyAccepted,
        Mutant::UnknownOperationAsInsert,
        Mutant::UnknownControlAccepted,
        Mutant::RejectedTxidRecorded,
        Mutant::ValueSchemaSkipped,
        Mutant::InvalidBlocksOtherTypes,
        Mutant::UnknownTypeStored,
        Mutant::NonObjectValuesRejected,
        Mutant::NullValueAsDelete,
        Mutant::BothKindsAsChange,
        Mutant::ResetKeepsOtherTypes,
        Mutant::CommitBeforeBody,
        Mutant::GivesUpOnTransportErrors,
        Mutant::ClosedNotEof,
        Mutant::StopsOnInvalidItem,
        Mutant::StopsOnNonObjectValue,
        Mutant::SseDataBeforeControl,
        Mutant::NoCursorEcho,
        Mutant::StopsAtFirstUpToDate,
        Mutant::ResumesFromStaleOffset,
        Mutant::SseCursorNotEchoed,
        Mutant::SseDataLinesSplit,
        Mutant::SseOffsetOmitted,
        Mutant::TxidsCaseless,
    ];

    /// Variants that take another position on an open question: never to fail a required
    /// case.
    pub const POSITIONS: [Mutant; 2] =
        [Mutant::KeepsTxidsAcrossReset, Mutant::GivesUpOnServerErrors];

    /// Whether this is a position (see [`Mutant::POSITIONS`]), not a defect.
    pub fn is_position(self) -> bool {
        Mutant::POSITIONS.contains(&self)
    }

    /// The mutant's kebab-case name (as `--mutant` takes it).
    pub fn name(self) -> &'static str {
        match self {
            Mutant::UpdateMerges => "update-merges",
            Mutant::ResetIgnored => "reset-ignored",
            Mutant::ResetOffsetIgnored => "reset-offset-ignored",
            Mutant::DeletesIgnored => "deletes-ignored",
            Mutant::OrderReversed => "order-reversed",
            Mutant::MissingValueAccepted => "missing-value-accepted",
            Mutant::EmptyKeyAccepted => "empty-key-accepted",
            Mutant::UnknownOperationAsInsert => "unknown-operation-as-insert",
            Mutant::UnknownControlAccepted => "unknown-control-accepted",
            Mutant::RejectedTxidRecorded => "rejected-txid-recorded",
            Mutant::ValueSchemaSkipped => "value-schema-skipped",
            Mutant::InvalidBlocksOtherTypes => "invalid-blocks-other-types",
            Mutant::UnknownTypeStored => "unknown-type-stored",
            Mutant::NonObjectValuesRejected => "non-object-values-rejected",
            Mutant::NullValueAsDelete => "null-value-as-delete",
            Mutant::CommitBeforeBody => "commit-before-body",
            Mutant::GivesUpOnTransportErrors => "gives-up-on-transport-errors",
            Mutant::ClosedNotEof => "closed-not-eof",
            Mutant::BothKindsAsChange => "both-kinds-as-change",
            Mutant::ResetKeepsOtherTypes => "reset-keeps-other-types",
            Mutant::StopsOnInvalidItem => "stops-on-invalid-item",
            Mutant::StopsOnNonObjectValue => "stops-on-non-object-value",
            Mutant::SseDataBeforeControl => "sse-data-before-control",
            Mutant::NoCursorEcho => "no-cursor-echo",
            Mutant::StopsAtFirstUpToDate => "stops-at-first-up-to-date",
            Mutant::ResumesFromStaleOffset => "resumes-from-stale-offset",
            Mutant::SseCursorNotEchoed => "sse-cursor-not-echoed",
            Mutant::SseDataLinesSplit => "sse-data-lines-split",
            Mutant::SseOffsetOmitted => "sse-offset-omitted",
            Mutant::TxidsCaseless => "txids-caseless",
            Mutant::KeepsTxidsAcrossReset => "keeps-txids-across-reset",
            Mutant::GivesUpOnServerErrors => "gives-up-on-server-errors",
        }
    }

    /// The requirement the mutant violates (for a position: the open question it answers).
    pub fn breaks(self) -> &'static str {
        match self {
            Mutant::UpdateMerges => "SP-6-UPDATE",
            Mutant::ResetIgnored => "SP-4.2.2-RESET-CLEAR",
            Mutant::ResetOffsetIgnored => "SP-4.2.2-RESET-RESTART",
            Mutant::DeletesIgnored => "SP-6-DELETE",
            Mutant::OrderReversed => "SP-6-ORDER",
            Mutant::MissingValueAccepted => req::VALUE_REQUIRED,
            Mutant::EmptyKeyAccepted => req::KEY_NONEMPTY,
            Mutant::UnknownOperationAsInsert => req::OPERATION_ENUM,
            Mutant::UnknownControlAccepted => req::CONTROL_ENUM,
            Mutant::RejectedTxidRecorded => "SP-9.1-REJECT-MALFORMED",
            Mutant::ValueSchemaSkipped => req::VALUE_SCHEMA,
            Mutant::InvalidBlocksOtherTypes => "SP-7-NO-BLOCK-OTHER-TYPES",
            Mutant::UnknownTypeStored => req::EXPECTED_TYPE,
            Mutant::NonObjectValuesRejected => "SP-5.1-VALUE-JSON",
            Mutant::NullValueAsDelete => "SP-6-UPDATE",
            Mutant::CommitBeforeBody => "DS-8-NEXT-OFFSET",
            Mutant::GivesUpOnTransportErrors => "DS-8-RESUME",
            Mutant::ClosedNotEof => "DS-5.7-EOF",
            Mutant::BothKindsAsChange => req::ONE_KIND,
            Mutant::ResetKeepsOtherTypes => "SP-4.2.2-RESET-CLEAR",
            Mutant::StopsOnInvalidItem => "SP-7-NO-BLOCK-OTHER-TYPES",
            Mutant::StopsOnNonObjectValue => "SP-5.1-VALUE-JSON",
            Mutant::SseDataBeforeControl => "DS-5.8-RECONNECT",
            Mutant::NoCursorEcho => "DS-10.1-CURSOR-ECHO",
            Mutant::StopsAtFirstUpToDate => "DS-8-NEXT-OFFSET",
            Mutant::ResumesFromStaleOffset => req::NEXT_OFFSET,
            Mutant::SseCursorNotEchoed => req::CURSOR_ECHO,
            Mutant::SseDataLinesSplit => req::SSE_DATA_LINES,
            Mutant::SseOffsetOmitted => req::LIVE_OFFSET,
            Mutant::TxidsCaseless => "SP-9.5-TXID-OPAQUE",
            Mutant::KeepsTxidsAcrossReset => req::OQ_RESET_SCOPE,
            Mutant::GivesUpOnServerErrors => req::OQ_TRANSIENT_ERRORS,
        }
    }

    /// The mutant with that name, if any.
    pub fn from_name(name: &str) -> Option<Mutant> {
        Mutant::ALL
            .into_iter()
            .chain(Mutant::POSITIONS)
            .find(|m| m.name() == name)
    }
}

impl std::fmt::Display for Mutant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        let every: Vec<Mutant> = Mutant::ALL.into_iter().chain(Mutant::POSITIONS).collect();
        let mut names: Vec<_> = every.iter().map(|m| m.name()).collect();
        for m in every.iter().copied() {
            assert_eq!(Mutant::from_name(m.name()), Some(m));
        }
        names.sort();
        names.dedup();
        assert_eq!(names.len(), every.len());
    }
}
