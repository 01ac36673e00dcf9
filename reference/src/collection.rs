//! Collections: an entity type with its primary-key field and, optionally, a value schema.
//!
//! Consumers declare collections to say which types they expect (§9.4) and how values of
//! each are validated (§7, §9.2); producers use them to build messages (`producer.rs`).

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A collection a consumer declares: the entity type it holds, the value field that is its
/// key, and an optional schema for its values. Declaring collections makes changes of any
/// other type rejected under profiles that say so (OQ-UNKNOWN-TYPE).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Collection {
    /// The collection's name in the application (e.g. `users`).
    pub name: String,
    /// The entity type its messages carry in `type` (e.g. `user`).
    #[serde(rename = "type")]
    pub entity_type: String,
    /// The value field holding the entity key (e.g. `id`).
    pub primary_key: String,
    /// An optional JSON Schema (draft-07) every inserted or updated value must satisfy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<Value>,
}

impl Collection {
    /// A collection named `name` holding entities of `entity_type`, keyed by the value field
    /// `primary_key`, with no value schema.
    pub fn new(
        name: impl Into<String>,
        entity_type: impl Into<String>,
        primary_key: impl Into<String>,
    ) -> Self {
        Collection {
            name: name.into(),
            entity_type: entity_type.into(),
            primary_key: primary_key.into(),
            schema: None,
        }
    }

    /// The same collection, its values held to `schema` (JSON Schema draft-07).
    pub fn with_schema(mut self, schema: Value) -> Self {
        self.schema = Some(schema);
        self
    }
}
