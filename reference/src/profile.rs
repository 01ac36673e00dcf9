//! Profiles: named positions on the questions the spec leaves open.
//!
//! A profile is data (`reference/profiles/*.json`); the parser and the materializer read it
//! and hard-code no position of their own. Each field answers one open question of the
//! requirements catalogue (the `OQ-*` entries); `docs/profiles.md` explains every choice.

use serde::{Deserialize, Serialize};

/// The presets shipped with the suite, as `(name, JSON)`.
const PRESETS: &[(&str, &str)] = &[
    ("spec-1.0", include_str!("../profiles/spec-1.0.json")),
    (
        "spec-1.0-strict",
        include_str!("../profiles/spec-1.0-strict.json"),
    ),
    ("ts-compat", include_str!("../profiles/ts-compat.json")),
];

/// The default profile's name.
pub const DEFAULT_PROFILE: &str = "spec-1.0";

/// Why a profile could not be had.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// No preset has that name.
    #[error("unknown profile `{name}` (known: {known})")]
    Unknown {
        /// The name asked for.
        name: String,
        /// The preset names, comma-separated.
        known: String,
    },
    /// A profile file is not a valid profile.
    #[error("invalid profile JSON: {0}")]
    Invalid(#[from] serde_json::Error),
}

/// A position on every question the spec leaves open (the OQ-* entries of the catalogue),
/// plus the reset-restart reading of §4.2.2: data, so a profile can come from a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Profile {
    /// The profile's name (`spec-1.0`, ...).
    pub name: String,
    /// What it stands for, in a sentence.
    pub description: String,
    /// OQ-UPDATE-SEMANTICS: what an update does to the stored value.
    pub update: UpdateSemantics,
    /// OQ-INSERT-EXISTING: insert at a key that already holds an entity.
    pub insert_existing: InsertExisting,
    /// OQ-UPDATE-MISSING: update of a key that holds nothing.
    pub update_missing: UpdateMissing,
    /// OQ-DELETE-MISSING: delete of a key that holds nothing.
    pub delete_missing: DeleteMissing,
    /// OQ-UPSERT: is `"operation": "upsert"` a valid operation?
    pub upsert: Acceptance,
    /// OQ-NON-OBJECT-VALUE: may an entity value be a string, number, array, ...?
    pub non_object_values: Acceptance,
    /// OQ-EXTRA-FIELDS: properties the schema does not define.
    pub extra_fields: Acceptance,
    /// OQ-SERVED-OFFSET: `headers.offset` on a change message, as servers add it.
    pub served_offset_header: Acceptance,
    /// OQ-TIMESTAMP: is a non-RFC 3339 `headers.timestamp` string rejected?
    pub timestamp_format: Enforcement,
    /// OQ-TXID: is an empty `headers.txid` rejected?
    pub empty_txid: Acceptance,
    /// OQ-TXID-SEEN: when a txid counts as seen.
    pub txid_seen: TxidSeen,
    /// OQ-VISIBILITY: when applied changes become visible.
    pub visibility: Visibility,
    /// OQ-RESET-SCOPE: what a reset clears.
    pub reset: ResetScope,
    /// SP-4.2.2-RESET-RESTART: where reading goes on after a reset that names an offset.
    pub reset_offset: ResetOffset,
    /// OQ-SNAPSHOT: what snapshot-start / snapshot-end mean to a consumer.
    pub snapshot: SnapshotSemantics,
    /// OQ-UNKNOWN-TYPE: a change whose type no declared collection has.
    pub unknown_type: Acceptance,
    /// OQ-INVALID-HALTS: does a rejected message stop the consumer?
    pub invalid_message: InvalidMessage,
}

/// What an update does to the stored value (OQ-UPDATE-SEMANTICS).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UpdateSemantics {
    /// The new value replaces the old one (§6).
    Replace,
    /// Object values are shallow-merged into the stored object.
    ShallowMerge,
}

/// An insert at a key that holds an entity (OQ-INSERT-EXISTING).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InsertExisting {
    /// The new value overwrites the stored one.
    Overwrite,
    /// The insert is rejected; the stored value stays.
    Reject,
}

/// An update of a key that holds nothing (OQ-UPDATE-MISSING).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UpdateMissing {
    /// The value is stored as if inserted.
    Store,
    /// The update is rejected.
    Reject,
}

/// A delete of a key that holds nothing (OQ-DELETE-MISSING).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeleteMissing {
    /// Nothing happens.
    Ignore,
    /// The delete is rejected.
    Reject,
}

/// Whether something the spec leaves open is accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Acceptance {
    /// Accepted.
    Accept,
    /// Rejected with a diagnostic.
    Reject,
}

/// Whether a format the spec names is enforced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Enforcement {
    /// Any string passes.
    Lenient,
    /// A string not in the format is rejected.
    Enforce,
}

/// When a txid counts as seen (OQ-TXID-SEEN).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TxidSeen {
    /// A txid is seen when the change carrying it becomes visible.
    OnVisible,
    /// A txid is seen as soon as the change carrying it is applied.
    OnApply,
}

/// When applied changes become visible (OQ-VISIBILITY).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Visibility {
    /// Each message is visible once applied; a halted batch keeps its applied prefix.
    PerMessage,
    /// A batch becomes visible as a whole when it ends; a halted batch is rolled back.
    PerBatch,
    /// Like per-batch, but nothing is visible before the first up-to-date batch.
    AfterFirstUpToDate,
}

/// What a reset clears (OQ-RESET-SCOPE).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ResetScope {
    /// Reset clears the entities and the seen txids: a fresh start.
    StateAndTxids,
    /// Reset clears the entities; seen txids stay.
    StateOnly,
}

/// Where reading goes on after a reset that names an offset (SP-4.2.2-RESET-RESTART).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ResetOffset {
    /// Re-read from the named offset: the rest of the batch is dropped, the resume offset
    /// becomes the reset's offset (§4.2.2).
    Restart,
    /// Go on with the next item, as if the reset named no offset.
    Continue,
}

/// What snapshot boundaries mean to a consumer (OQ-SNAPSHOT).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SnapshotSemantics {
    /// Boundaries are informative; the changes between them apply as usual.
    Hint,
    /// Changes between the boundaries become visible together at snapshot-end.
    Atomic,
    /// Like atomic, and the snapshot replaces the whole state at snapshot-end.
    Replace,
}

/// What a rejected message does to the consumer (OQ-INVALID-HALTS).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InvalidMessage {
    /// The bad message is rejected with a diagnostic; the rest of the stream goes on.
    Skip,
    /// The consumer stops at the bad message and refuses everything after it.
    Halt,
}

impl Profile {
    /// A preset by name.
    pub fn preset(name: &str) -> Result<Profile, ProfileError> {
        match PRESETS.iter().find(|(n, _)| *n == name) {
            Some((_, json)) => Ok(Profile::from_json(json)?),
            None => Err(ProfileError::Unknown {
                name: name.to_owned(),
                known: Self::preset_names().join(", "),
            }),
        }
    }

    /// The default profile (`spec-1.0`).
    pub fn default_profile() -> Profile {
        Self::preset(DEFAULT_PROFILE).expect("the embedded default profile parses")
    }

    /// Names of the presets, in catalogue order.
    pub fn preset_names() -> Vec<&'static str> {
        PRESETS.iter().map(|(n, _)| *n).collect()
    }

    /// Every preset, in catalogue order.
    pub fn presets() -> Vec<Profile> {
        PRESETS
            .iter()
            .map(|(_, json)| Profile::from_json(json).expect("the embedded presets parse"))
            .collect()
    }

    /// A profile from its JSON form (the presets' format; `docs/profiles.md`).
    pub fn from_json(json: &str) -> Result<Profile, serde_json::Error> {
        serde_json::from_str(json)
    }

    /// True when the parser applies the schema literally (what `spec-1.0-strict` does).
    pub fn is_schema_literal(&self) -> bool {
        self.upsert == Acceptance::Reject
            && self.extra_fields == Acceptance::Reject
            && self.served_offset_header == Acceptance::Reject
            && self.timestamp_format == Enforcement::Enforce
            && self.empty_txid == Acceptance::Reject
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_parses_and_names_itself() {
        for name in Profile::preset_names() {
            let p = Profile::preset(name).unwrap();
            assert_eq!(p.name, name);
        }
    }

    #[test]
    fn strict_preset_applies_the_schema_literally_and_default_does_not() {
        assert!(
            Profile::preset("spec-1.0-strict")
                .unwrap()
                .is_schema_literal()
        );
        assert!(!Profile::default_profile().is_schema_literal());
    }

    #[test]
    fn unknown_preset_lists_the_known_ones() {
        let err = Profile::preset("nope").unwrap_err().to_string();
        assert!(err.contains("spec-1.0-strict"), "{err}");
    }
}
