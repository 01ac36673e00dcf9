//! Requirement IDs the reference cites in its rejections.
//!
//! Every constant here names an entry of `fixtures/requirements.json`; a test in
//! `spec-tests` fails if one is missing there. IDs are stable: never renamed or reused.

/// §5.1 / §5.2: a message is a JSON object.
pub const MESSAGE_OBJECT: &str = "SP-5.1-OBJECT";
/// §4.1: a change message carries `headers`.
pub const CHANGE_HEADERS: &str = "SP-4.1-HEADERS-REQUIRED";
/// §4.2: a control message carries `headers`.
pub const CONTROL_HEADERS: &str = "SP-4.2-HEADERS-REQUIRED";
/// §4.1: a change message carries `type`.
pub const TYPE_REQUIRED: &str = "SP-4.1-TYPE-REQUIRED";
/// §4.1: a change message carries `key`.
pub const KEY_REQUIRED: &str = "SP-4.1-KEY-REQUIRED";
/// §4.1: `headers.operation` is present.
pub const OPERATION_REQUIRED: &str = "SP-4.1-OPERATION-REQUIRED";
/// §4.1, §4.1.1, §4.1.2: insert and update carry `value`.
pub const VALUE_REQUIRED: &str = "SP-4.1-VALUE-REQUIRED";
/// §4.2: `headers.control` is present.
pub const CONTROL_REQUIRED: &str = "SP-4.2-CONTROL-REQUIRED";
/// §5.1: `type` is a non-empty string.
pub const TYPE_NONEMPTY: &str = "SP-5.1-TYPE-NONEMPTY";
/// §5.1: `key` is a non-empty string.
pub const KEY_NONEMPTY: &str = "SP-5.1-KEY-NONEMPTY";
/// §5.1: `headers.operation` is one of insert / update / delete.
pub const OPERATION_ENUM: &str = "SP-5.1-OPERATION-ENUM";
/// §5.1: `headers.txid`, when present, is a non-empty string.
pub const TXID_NONEMPTY: &str = "SP-5.1-TXID-NONEMPTY";
/// §5.1: `headers.timestamp`, when present, is an RFC 3339 timestamp.
pub const TIMESTAMP_RFC3339: &str = "SP-5.1-TIMESTAMP-RFC3339";
/// §5.2: `headers.control` is one of snapshot-start / snapshot-end / reset.
pub const CONTROL_ENUM: &str = "SP-5.2-CONTROL-ENUM";
/// §5.2: `headers.offset` of a control message, when present, is an offset string.
pub const CONTROL_OFFSET: &str = "SP-5.2-OFFSET-STRING";
/// Schema root `oneOf`: a message is exactly one of change or control.
pub const ONE_KIND: &str = "SCH-ONEOF";
/// Schema: a change message has no properties beyond type/key/value/old_value/headers.
pub const CHANGE_NO_EXTRA: &str = "SCH-CHANGE-NO-EXTRA";
/// Schema: change headers have no properties beyond operation/txid/timestamp.
pub const CHANGE_HEADERS_NO_EXTRA: &str = "SCH-CHANGE-HEADERS-NO-EXTRA";
/// Schema: a control message has no property beyond headers.
pub const CONTROL_NO_EXTRA: &str = "SCH-CONTROL-NO-EXTRA";
/// Schema: control headers have no properties beyond control/offset.
pub const CONTROL_HEADERS_NO_EXTRA: &str = "SCH-CONTROL-HEADERS-NO-EXTRA";
/// §9.2: with value schemas enabled, values are validated before materialization.
pub const VALUE_SCHEMA: &str = "SP-9.2-VALIDATE-VALUES";
/// §9.4: type (and key) are checked against the expected set.
pub const EXPECTED_TYPE: &str = "SP-9.4-TYPE-KEY-EXPECTED";
/// Open question: the `upsert` operation, outside spec and schema.
pub const OQ_UPSERT: &str = "OQ-UPSERT";
/// Open question: non-object entity values.
pub const OQ_NON_OBJECT_VALUE: &str = "OQ-NON-OBJECT-VALUE";
/// Open question: insert at a key that already holds an entity.
pub const OQ_INSERT_EXISTING: &str = "OQ-INSERT-EXISTING";
/// Open question: update of a key that holds no entity.
pub const OQ_UPDATE_MISSING: &str = "OQ-UPDATE-MISSING";
/// Open question: delete of a key that holds no entity.
pub const OQ_DELETE_MISSING: &str = "OQ-DELETE-MISSING";
/// Open question: whether one bad message stops the consumer.
pub const OQ_HALT: &str = "OQ-INVALID-HALTS";
/// Open question: when changes become visible, and the resume offset with them.
pub const OQ_VISIBILITY: &str = "OQ-VISIBILITY";
/// PROTOCOL §10.1: a long-poll echoes the last `Stream-Cursor` as `cursor`.
pub const CURSOR_ECHO: &str = "DS-10.1-CURSOR-ECHO";
/// PROTOCOL §8: each next read starts at the offset the last one was told.
pub const NEXT_OFFSET: &str = "DS-8-NEXT-OFFSET";
/// PROTOCOL §5.7, §5.8: every live read (long-poll, SSE) names the offset it reads from.
pub const LIVE_OFFSET: &str = "DS-5.7-LIVE-OFFSET";
/// PROTOCOL §5.8: an SSE reader reconnects from its last control event's offset.
pub const SSE_RECONNECT: &str = "DS-5.8-RECONNECT";
/// PROTOCOL §5.8: an SSE data event's `data:` lines are joined before parsing.
pub const SSE_DATA_LINES: &str = "DS-5.8-DATA-LINES";
/// Open question: how a reader retries after 5xx and 429 (`Retry-After`).
pub const OQ_TRANSIENT_ERRORS: &str = "OQ-TRANSIENT-ERRORS";
/// Open question: what a reader does when its stream answers 404 mid-subscription.
pub const OQ_STREAM_GONE: &str = "OQ-STREAM-GONE";
/// Open question: what a reset clears (state only, or seen txids too).
pub const OQ_RESET_SCOPE: &str = "OQ-RESET-SCOPE";
