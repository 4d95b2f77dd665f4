//! [`OrderedList`]: a sorted set with positions, the order-statistic
//! structure under every board. Keys live in sorted chunks of at most
//! [`ORDERED_CHUNK_MAX`]; a key's position is the lengths of the chunks
//! before it plus a binary search in its own, so rank, insert and remove
//! stay cheap at a million entries without a tree.

use crate::limits::ORDERED_CHUNK_MAX;

/// A sorted set of distinct keys, addressable by position (0-based).
#[derive(Clone, Debug)]
pub struct OrderedList<K> {
    chunks: Vec<Vec<K>>,
    len: usize,
}

impl<K: Ord> Default for OrderedList<K> {
    fn default() -> Self {
        Self {
            chunks: Vec::new(),
            len: 0,
        }
    }
}

impl<K: Ord> OrderedList<K> {
    /// How many keys it holds.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The chunk where `key` is or belongs: the first whose last key is not
    /// below it, or the last chunk.
    fn chunk_of(&self, key: &K) -> usize {
        let found = self
            .chunks
            .partition_point(|chunk| chunk.last().is_some_and(|last| last < key));
        found.min(self.chunks.len().saturating_sub(1))
    }

    /// Adds `key`; false (and no change) when it is there already.
    pub fn insert(&mut self, key: K) -> bool {
        if self.chunks.is_empty() {
            self.chunks.push(Vec::with_capacity(ORDERED_CHUNK_MAX));
        }
        let chunk = self.chunk_of(&key);
        let keys = &mut self.chunks[chunk];
        let Err(at) = keys.binary_search(&key) else {
            return false;
        };
        keys.insert(at, key);
        self.len += 1;
        if keys.len() > ORDERED_CHUNK_MAX {
            let upper = keys.split_off(keys.len() / 2);
            self.chunks.insert(chunk + 1, upper);
        }
        true
    }

    /// Removes `key`; false when it was not there.
    pub fn remove(&mut self, key: &K) -> bool {
        if self.chunks.is_empty() {
            return false;
        }
        let chunk = self.chunk_of(key);
        let keys = &mut self.chunks[chunk];
        let Ok(at) = keys.binary_search(key) else {
            return false;
        };
        keys.remove(at);
        self.len -= 1;
        if keys.is_empty() {
            self.chunks.remove(chunk);
        }
        true
    }

    /// The 0-based position of `key`, if it is there.
    pub fn position(&self, key: &K) -> Option<usize> {
        if self.chunks.is_empty() {
            return None;
        }
        let chunk = self.chunk_of(key);
        let within = self.chunks[chunk].binary_search(key).ok()?;
        let before: usize = self.chunks[..chunk].iter().map(Vec::len).sum();
        Some(before + within)
    }

    /// The keys at positions `start..start + count` (fewer past the end).
    pub fn range(&self, start: usize, count: usize) -> impl Iterator<Item = &K> {
        let mut skip = start;
        let mut first_chunk = self.chunks.len();
        for (index, chunk) in self.chunks.iter().enumerate() {
            if skip < chunk.len() {
                first_chunk = index;
                break;
            }
            skip -= chunk.len();
        }
        self.chunks[first_chunk..]
            .iter()
            .flatten()
            .skip(skip)
            .take(count)
    }

    /// Every key, in order.
    pub fn iter(&self) -> impl Iterator<Item = &K> {
        self.chunks.iter().flatten()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// Positions, ranges and membership agree with a `BTreeSet` through
    /// inserts and removes that split and empty chunks.
    #[test]
    fn positions_and_ranges_match_a_sorted_set() {
        let mut list = OrderedList::default();
        let mut model = BTreeSet::new();
        let mut value: u64 = 7;
        for step in 0..20_000u64 {
            value = value
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            let key = (value >> 33) % 3_000;
            if step % 3 == 2 {
                assert_eq!(list.remove(&key), model.remove(&key));
            } else {
                assert_eq!(list.insert(key), model.insert(key));
            }
            assert_eq!(list.len(), model.len());
        }
        let sorted: Vec<u64> = model.iter().copied().collect();
        assert_eq!(list.iter().copied().collect::<Vec<_>>(), sorted);
        for (position, key) in sorted.iter().enumerate() {
            assert_eq!(list.position(key), Some(position));
        }
        assert_eq!(list.position(&3_001), None);
        let window: Vec<u64> = list.range(700, 50).copied().collect();
        assert_eq!(window, sorted[700..750]);
        assert_eq!(list.range(sorted.len() - 2, 10).count(), 2);
        assert_eq!(list.range(sorted.len(), 10).count(), 0);
    }
}
