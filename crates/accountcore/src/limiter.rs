//! Attempt limits (DESIGN §11): failed passwords per account and per client
//! address, registrations per address. Pure and bounded: time comes in as
//! `now_ms`, and the table holds at most [`LimitConfig::entries_max`] keys.
//!
//! Each key counts its events in a window that opens at its first event and
//! lasts [`LimitConfig::window_ms`]. Once a window holds
//! [`LimitConfig::events_max`] events, the key is limited until the window
//! closes: [`Limiter::check`] answers how long to wait. A window always
//! closes, so a lockout never blocks the right password for longer than one
//! window; a success can [`Limiter::forget`] the key at once.
//!
//! When the table is full, windows that have closed are swept out; if none
//! has, the key whose window closes first is forgotten (it is the one that
//! would have been released soonest).

use std::collections::BTreeMap;

pub use crate::limits::LIMITER_ENTRIES_MAX;

/// One limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LimitConfig {
    /// Events a key may have in one window; more are refused.
    pub events_max: u32,
    /// How long a window lasts, from the key's first event in it.
    pub window_ms: u64,
    /// Most keys remembered at once.
    pub entries_max: usize,
}

/// A key's events in its current window.
#[derive(Clone, Copy, Debug)]
struct Window {
    opened_ms: u64,
    events: u32,
}

/// Counts events per key and refuses keys over their limit.
#[derive(Debug)]
pub struct Limiter<K> {
    config: LimitConfig,
    windows: BTreeMap<K, Window>,
}

impl<K: Ord + Clone> Limiter<K> {
    /// An empty limiter.
    pub fn new(config: LimitConfig) -> Self {
        Self {
            config,
            windows: BTreeMap::new(),
        }
    }

    /// `Ok` when `key` may act now, else how many milliseconds until it may.
    pub fn check(&self, now_ms: u64, key: &K) -> Result<(), u64> {
        match self.windows.get(key) {
            Some(window) if self.is_open(now_ms, window) => {
                if window.events >= self.config.events_max {
                    Err(self.closes_ms(window).saturating_sub(now_ms).max(1))
                } else {
                    Ok(())
                }
            }
            _ => Ok(()),
        }
    }

    /// Counts one event of `key` (a failed password, a registration).
    pub fn record(&mut self, now_ms: u64, key: &K) {
        if let Some(window) = self.windows.get(key).copied()
            && self.is_open(now_ms, &window)
        {
            let events = window.events.saturating_add(1);
            self.windows
                .insert(key.clone(), Window { events, ..window });
            return;
        }
        if !self.windows.contains_key(key) && self.windows.len() >= self.config.entries_max {
            self.make_room(now_ms);
        }
        let window = Window {
            opened_ms: now_ms,
            events: 1,
        };
        self.windows.insert(key.clone(), window);
    }

    /// Forgets `key`'s events (the right password ends the count).
    pub fn forget(&mut self, key: &K) {
        self.windows.remove(key);
    }

    /// Keys remembered now.
    pub fn len(&self) -> usize {
        self.windows.len()
    }

    /// Whether no key is remembered.
    pub fn is_empty(&self) -> bool {
        self.windows.is_empty()
    }

    fn is_open(&self, now_ms: u64, window: &Window) -> bool {
        now_ms < self.closes_ms(window)
    }

    fn closes_ms(&self, window: &Window) -> u64 {
        window.opened_ms.saturating_add(self.config.window_ms)
    }

    /// Sweeps closed windows; if none closed, forgets the one closing first.
    fn make_room(&mut self, now_ms: u64) {
        let window_ms = self.config.window_ms;
        self.windows
            .retain(|_, window| now_ms < window.opened_ms.saturating_add(window_ms));
        if self.windows.len() < self.config.entries_max {
            return;
        }
        let oldest = self
            .windows
            .iter()
            .min_by_key(|(_, window)| window.opened_ms)
            .map(|(key, _)| key.clone());
        if let Some(oldest) = oldest {
            self.windows.remove(&oldest);
        }
    }
}
