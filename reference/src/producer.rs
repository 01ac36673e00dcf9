//! Producer helpers: build well-formed change messages for a [`Collection`].
//!
//! The key defaults to the value's primary-key field; everything built here is valid under
//! the schema (a property test holds it to that). Inserts never carry `old_value` (§4.1.1).

use serde_json::Value;

use crate::collection::Collection;
use crate::message::{ChangeMessage, Operation, kind_of};

/// Why a change could not be built. Each names the collection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProducerError {
    /// No key given, and the value lacks the primary-key field.
    #[error(
        "collection `{collection}`: the value has no primary-key field `{field}` and no key was given"
    )]
    MissingKey {
        /// The collection.
        collection: String,
        /// Its primary-key field.
        field: String,
    },
    /// The primary-key field is neither a string nor an integer.
    #[error(
        "collection `{collection}`: primary-key field `{field}` is {found}; expected a string or an integer"
    )]
    KeyNotScalar {
        /// The collection.
        collection: String,
        /// Its primary-key field.
        field: String,
        /// The JSON kind found there.
        found: &'static str,
    },
    /// The key is the empty string.
    #[error("collection `{collection}`: the key must not be empty")]
    EmptyKey {
        /// The collection.
        collection: String,
    },
    /// An insert was given an old value.
    #[error("collection `{collection}`: an insert must not carry old_value (STATE-PROTOCOL 4.1.1)")]
    OldValueOnInsert {
        /// The collection.
        collection: String,
    },
    /// The txid is the empty string.
    #[error("collection `{collection}`: txid must not be empty")]
    EmptyTxid {
        /// The collection.
        collection: String,
    },
    /// The timestamp is not RFC 3339.
    #[error("collection `{collection}`: {timestamp:?} is not an RFC 3339 timestamp")]
    BadTimestamp {
        /// The collection.
        collection: String,
        /// The timestamp given.
        timestamp: String,
    },
}

/// A change under construction; finish it with [`ChangeBuilder::build`].
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct ChangeBuilder<'c> {
    collection: &'c Collection,
    operation: Operation,
    key: Option<String>,
    value: Option<Value>,
    old_value: Option<Value>,
    txid: Option<String>,
    timestamp: Option<String>,
}

impl Collection {
    /// An insert of `value`; the key is read from the primary-key field unless set.
    pub fn insert(&self, value: Value) -> ChangeBuilder<'_> {
        ChangeBuilder::new(self, Operation::Insert, Some(value))
    }

    /// An update replacing the entity with `value`.
    pub fn update(&self, value: Value) -> ChangeBuilder<'_> {
        ChangeBuilder::new(self, Operation::Update, Some(value))
    }

    /// A delete; give the key with [`ChangeBuilder::key`] or the old value with
    /// [`ChangeBuilder::old_value`] (the key is then read from it).
    pub fn delete(&self) -> ChangeBuilder<'_> {
        ChangeBuilder::new(self, Operation::Delete, None)
    }
}

impl<'c> ChangeBuilder<'c> {
    fn new(collection: &'c Collection, operation: Operation, value: Option<Value>) -> Self {
        ChangeBuilder {
            collection,
            operation,
            key: None,
            value,
            old_value: None,
            txid: None,
            timestamp: None,
        }
    }

    /// The entity key (else it is read from the value's primary-key field).
    pub fn key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// The value before the change (updates and deletes).
    pub fn old_value(mut self, old_value: Value) -> Self {
        self.old_value = Some(old_value);
        self
    }

    /// The transaction the change belongs to.
    pub fn txid(mut self, txid: impl Into<String>) -> Self {
        self.txid = Some(txid.into());
        self
    }

    /// When the change was made (RFC 3339).
    pub fn timestamp(mut self, timestamp: impl Into<String>) -> Self {
        self.timestamp = Some(timestamp.into());
        self
    }

    /// The change message, or why the parts given do not make one.
    pub fn build(self) -> Result<ChangeMessage, ProducerError> {
        let collection = self.collection.name.clone();
        if self.operation == Operation::Insert && self.old_value.is_some() {
            return Err(ProducerError::OldValueOnInsert { collection });
        }
        if self.txid.as_deref() == Some("") {
            return Err(ProducerError::EmptyTxid { collection });
        }
        if let Some(ts) = &self.timestamp
            && !crate::schema::is_rfc3339(ts)
        {
            return Err(ProducerError::BadTimestamp {
                collection,
                timestamp: ts.clone(),
            });
        }
        let key = match self.key {
            Some(k) => k,
            None => {
                let source = self.value.as_ref().or(self.old_value.as_ref());
                primary_key_of(self.collection, source)?
            }
        };
        if key.is_empty() {
            return Err(ProducerError::EmptyKey { collection });
        }
        Ok(ChangeMessage {
            entity_type: self.collection.entity_type.clone(),
            key,
            value: self.value,
            old_value: self.old_value,
            operation: self.operation,
            txid: self.txid,
            timestamp: self.timestamp,
            extra_headers: Default::default(),
            extra_fields: Default::default(),
        })
    }
}

fn primary_key_of(collection: &Collection, value: Option<&Value>) -> Result<String, ProducerError> {
    let field = &collection.primary_key;
    match value.and_then(|v| v.get(field)) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Number(n)) if n.is_i64() || n.is_u64() => Ok(n.to_string()),
        Some(other) => Err(ProducerError::KeyNotScalar {
            collection: collection.name.clone(),
            field: field.clone(),
            found: kind_of(other),
        }),
        None => Err(ProducerError::MissingKey {
            collection: collection.name.clone(),
            field: field.clone(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn users() -> Collection {
        Collection::new("users", "user", "id")
    }

    #[test]
    fn key_defaults_to_the_primary_key_field() {
        let c = users()
            .insert(json!({"id": "u1", "name": "Ada"}))
            .txid("t1")
            .build()
            .unwrap();
        assert_eq!(
            c.to_value(),
            json!({"type": "user", "key": "u1", "value": {"id": "u1", "name": "Ada"},
                   "headers": {"operation": "insert", "txid": "t1"}})
        );
        assert_eq!(users().update(json!({"id": 7})).build().unwrap().key, "7");
        assert_eq!(
            users()
                .delete()
                .old_value(json!({"id": "u9"}))
                .build()
                .unwrap()
                .key,
            "u9"
        );
    }

    #[test]
    fn missing_or_unusable_keys_are_clear_errors() {
        let err = users().insert(json!({"name": "Ada"})).build().unwrap_err();
        assert_eq!(
            err.to_string(),
            "collection `users`: the value has no primary-key field `id` and no key was given"
        );
        assert!(matches!(
            users().insert(json!({"id": [1]})).build(),
            Err(ProducerError::KeyNotScalar { .. })
        ));
        assert!(matches!(
            users().delete().build(),
            Err(ProducerError::MissingKey { .. })
        ));
        assert!(matches!(
            users().insert(json!({"id": ""})).build(),
            Err(ProducerError::EmptyKey { .. })
        ));
    }

    #[test]
    fn refuses_what_the_spec_forbids_producers() {
        assert!(matches!(
            users()
                .insert(json!({"id": "a"}))
                .old_value(json!({}))
                .build(),
            Err(ProducerError::OldValueOnInsert { .. })
        ));
        assert!(matches!(
            users().insert(json!({"id": "a"})).txid("").build(),
            Err(ProducerError::EmptyTxid { .. })
        ));
        assert!(matches!(
            users().insert(json!({"id": "a"})).timestamp("noon").build(),
            Err(ProducerError::BadTimestamp { .. })
        ));
    }
}

/// One change a producer is asked to write, by collection name: what the adapter protocol's
/// `produce` command and a case's `produce` step carry.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProduceOp {
    /// The collection's name.
    pub collection: String,
    /// `insert`, `update`, `delete` (or `upsert`, which the helpers cannot build).
    pub op: String,
    /// The new value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
    /// The key, when not read from the value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The value before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_value: Option<Value>,
    /// The transaction id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub txid: Option<String>,
    /// The timestamp (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
}

/// Why an op could not be built into a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpError {
    /// The op names a collection not declared.
    #[error("op {index}: no collection named {name:?}")]
    UnknownCollection {
        /// The op's position.
        index: usize,
        /// The name it gave.
        name: String,
    },
    /// The op cannot be built (an unknown op, or no value where one is needed).
    #[error("op {index}: cannot produce {op:?} without a value")]
    Unbuildable {
        /// The op's position.
        index: usize,
        /// The op given.
        op: String,
    },
    /// The builder refused the op's parts.
    #[error("op {index}: {source}")]
    Builder {
        /// The op's position.
        index: usize,
        /// The builder's reason.
        source: ProducerError,
    },
}

/// The messages `ops` describe, built with these helpers over `collections`.
pub fn build_ops(collections: &[Collection], ops: &[ProduceOp]) -> Result<Vec<Value>, OpError> {
    ops.iter()
        .enumerate()
        .map(|(index, op)| {
            let collection = collections
                .iter()
                .find(|c| c.name == op.collection)
                .ok_or_else(|| OpError::UnknownCollection {
                    index,
                    name: op.collection.clone(),
                })?;
            let mut builder = match (op.op.as_str(), &op.value) {
                ("insert", Some(v)) => collection.insert(v.clone()),
                ("update", Some(v)) => collection.update(v.clone()),
                ("delete", _) => collection.delete(),
                (other, _) => {
                    return Err(OpError::Unbuildable {
                        index,
                        op: other.to_owned(),
                    });
                }
            };
            if let Some(key) = &op.key {
                builder = builder.key(key.clone());
            }
            if let Some(old) = &op.old_value {
                builder = builder.old_value(old.clone());
            }
            if let Some(txid) = &op.txid {
                builder = builder.txid(txid.clone());
            }
            if let Some(ts) = &op.timestamp {
                builder = builder.timestamp(ts.clone());
            }
            let message = builder
                .build()
                .map_err(|source| OpError::Builder { index, source })?;
            Ok(message.to_value())
        })
        .collect()
}
