//! A large batch of changes applied partitioned by entity type on two threads: when no
//! change can depend on another type (no control message, no open snapshot, no halting, no
//! mutant), each type's changes are applied in order on their own, then diagnosed and their
//! txids staged in stream order: what one pass in stream order gives.

use super::entity::{Target, change_entity};
use super::*;

impl Materializer {
    /// Whether a batch of `parts` may be applied partitioned by entity type. It may when it
    /// holds only well-formed changes (no control message), no snapshot is open, the profile
    /// does not halt and no mutant is set: then a change's outcome depends only on the
    /// entities of its own type, no undo is recorded, and txids are staged the same way
    /// whenever they are staged, so each type's changes applied in order on their own, then
    /// diagnosed and staged in stream order, give what one pass in stream order gives.
    pub(super) fn partitionable(&self, parts: &[Vec<Decoded<'_>>]) -> bool {
        self.mutant.is_none()
            && !self.halted
            && self.snapshot_mark.is_none()
            && self.profile.invalid_message != InvalidMessage::Halt
            && parts.iter().flatten().all(Result::is_ok)
    }

    /// Applies a [`partitionable`](Self::partitionable) batch on two threads, its entity
    /// types split between them by count.
    pub(super) fn apply_partitioned(
        &mut self,
        parts: &[Vec<Decoded<'_>>],
        offset: Option<String>,
        up_to_date: bool,
    ) -> &[Diagnostic] {
        let (batch_no, first_diagnostic) = self.start_batch();
        let changes = || parts.iter().flatten().filter_map(|d| d.as_ref().ok());
        // Each change's type as an index into `types`, which counts the changes per type.
        let mut ids: HashMap<&str, usize> = HashMap::new();
        let mut types: Vec<(&str, usize)> = Vec::new();
        let type_of: Vec<usize> = changes()
            .map(|c| {
                let name = c.entity_type.as_ref();
                let id = *ids.entry(name).or_insert_with(|| {
                    types.push((name, 0));
                    types.len() - 1
                });
                types[id].1 += 1;
                id
            })
            .collect();
        // The busiest types first, each to the thread with fewer changes so far.
        let mut order: Vec<usize> = (0..types.len()).collect();
        order.sort_by_key(|&id| std::cmp::Reverse(types[id].1));
        let (mut worker_of, mut load) = (vec![0; types.len()], [0; 2]);
        for id in order {
            let w = usize::from(load[1] < load[0]);
            worker_of[id] = w;
            load[w] += types[id].1;
        }
        let mut shards = [State::new(), State::new()];
        for (id, (name, _)) in types.iter().enumerate() {
            if let Some((name, entities)) = self.working.remove_entry(*name) {
                shards[worker_of[id]].insert(name, entities);
            }
        }
        let this = &*self;
        // What each thread saw, by index: a rejection, or the txid of an applied change.
        let run = |w: usize, shard: &mut State| {
            let mut seen = Vec::new();
            let mine = changes().zip(&type_of).enumerate();
            for (index, (change, _)) in mine.filter(|(_, (_, id))| worker_of[**id] == w) {
                let target = Target {
                    entity_type: &change.entity_type,
                    key: &change.key,
                    operation: change.operation,
                };
                let value = change.value.as_deref().map(Cow::Borrowed);
                let outcome = this
                    .admit(change)
                    .and_then(|()| change_entity(shard, &this.profile, None, target, value));
                match outcome {
                    Err(rejection) => seen.push((index, Err(rejection))),
                    Ok(_) => seen.extend(change.txid.as_deref().map(|t| (index, Ok(t.to_owned())))),
                }
            }
            seen
        };
        let [mut first, mut second] = shards;
        let mut seen = std::thread::scope(|scope| {
            let other = (load[1] > 0).then(|| scope.spawn(|| run(1, &mut second)));
            let mut seen = run(0, &mut first);
            if let Some(other) = other {
                seen.extend(other.join().expect("a partition's apply does not panic"));
            }
            seen
        });
        self.working.extend(first);
        self.working.extend(second);
        seen.sort_unstable_by_key(|(index, _)| *index);
        for (index, outcome) in seen {
            match outcome {
                Err(rejection) => self.diagnose(batch_no, index, rejection),
                Ok(txid) => self.stage_txid(txid),
            }
        }
        self.commit(offset, up_to_date);
        &self.diagnostics[first_diagnostic..]
    }
}
