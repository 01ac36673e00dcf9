//! The one place an entity changes: insert, update (replace or merge), upsert and delete,
//! as the profile answers the open questions, with the undo entry when one is kept.

use super::*;

/// Which entity a change addresses, and how.
#[derive(Clone, Copy)]
pub(super) struct Target<'a> {
    pub(super) entity_type: &'a str,
    pub(super) key: &'a str,
    pub(super) operation: Operation,
}

/// Applies an admitted change to `state`: `Some(previous value)` if it changed anything.
/// The one place an entity changes, for the sequential and the partitioned apply alike.
pub(super) fn change_entity(
    state: &mut State,
    profile: &Profile,
    mutant: Option<Mutant>,
    target: Target<'_>,
    value: Option<Cow<'_, RawValue>>,
) -> Result<Option<Option<Stored>>, Rejection> {
    let Target {
        entity_type,
        key,
        operation,
    } = target;
    let null_deletes = mutant == Some(Mutant::NullValueAsDelete)
        && value.as_deref().is_some_and(|v| v.get() == "null");
    let position_rejection = |requirement, reason: &str| Rejection {
        requirement,
        path: String::new(),
        reason: reason.into(),
    };
    // What the change did to the entity: `Some(previous value)` if it changed anything.
    let changed = if operation == Operation::Delete || null_deletes {
        let removed = match mutant {
            Some(Mutant::DeletesIgnored) if operation == Operation::Delete => None,
            _ => state.get_mut(entity_type).and_then(|e| e.remove(key)),
        };
        if removed.is_none()
            && operation == Operation::Delete
            && profile.delete_missing == DeleteMissing::Reject
        {
            return Err(position_rejection(
                req::OQ_DELETE_MISSING,
                "delete of a key that holds no entity",
            ));
        }
        removed.map(Some)
    } else {
        let value: Stored = match value {
            Some(Cow::Owned(v)) => v,
            Some(Cow::Borrowed(v)) => v.to_owned(),
            None => to_raw(&Value::Null),
        };
        let merge =
            profile.update == UpdateSemantics::ShallowMerge || mutant == Some(Mutant::UpdateMerges);
        let entities = state.entry_ref(entity_type).or_default();
        match entities.get_mut(key) {
            Some(_)
                if operation == Operation::Insert
                    && profile.insert_existing == InsertExisting::Reject =>
            {
                return Err(position_rejection(
                    req::OQ_INSERT_EXISTING,
                    "insert at a key that already holds an entity",
                ));
            }
            Some(slot) => {
                let value = match merge && operation != Operation::Insert {
                    true => merged(slot, &value),
                    false => value,
                };
                Some(Some(std::mem::replace(slot, value)))
            }
            None if operation == Operation::Update
                && profile.update_missing == UpdateMissing::Reject =>
            {
                return Err(position_rejection(
                    req::OQ_UPDATE_MISSING,
                    "update of a key that holds no entity",
                ));
            }
            None => {
                entities.insert(Key::from(key), value);
                Some(None)
            }
        }
    };
    Ok(changed)
}

/// Shallow merge of `new` into `old` when both are objects; otherwise `new` replaces.
fn merged(old: &RawValue, new: &RawValue) -> Stored {
    match (from_raw(old), from_raw(new)) {
        (Value::Object(mut m), Value::Object(n)) => {
            m.extend(n);
            to_raw(&Value::Object(m))
        }
        _ => new.to_owned(),
    }
}
