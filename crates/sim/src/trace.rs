//! The trace hash: every delivered event folds a few words (time, kind, the
//! ids it carries) into one 64-bit hash, and the final database contents are
//! folded in at the end. Two runs of one seed must give the same hash; the
//! mixing function is written out here so it cannot change under us.

/// A running hash of a run's delivered events.
pub struct Trace {
    state: u64,
    words: u64,
}

const MULTIPLIER: u64 = 0x9E37_79B9_7F4A_7C15;

impl Trace {
    /// A trace for `seed`.
    pub fn new(seed: u64) -> Self {
        let mut trace = Self {
            state: 0x243F_6A88_85A3_08D3,
            words: 0,
        };
        trace.add(&[seed]);
        trace
    }

    /// Folds `words` in.
    pub fn add(&mut self, words: &[u64]) {
        for &word in words {
            self.state = (self.state.rotate_left(23) ^ word).wrapping_mul(MULTIPLIER);
        }
        self.words += words.len() as u64;
    }

    /// The hash of everything folded in.
    pub fn finish(&self) -> u64 {
        let mut hash = self.state ^ self.words;
        hash ^= hash >> 33;
        hash = hash.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
        hash ^ (hash >> 33)
    }
}
