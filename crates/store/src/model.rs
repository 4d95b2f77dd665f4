//! The in-memory model store.
