//! The real SQLite store (`store_sqlite::SqlitePlayerStore`), run in memory
//! beside the model store on a share of seeds (DESIGN §14): every op is
//! applied to both at the same database time and their answers must be
//! equal (`db::SimDb::apply`). SQLite is some 35 times slower than the
//! model, so it runs on one seed in `SeedConfig::sqlite_every`.

use ownership::Rules;
use routing::Srvno;
use store::PlayerStore;
use store_sqlite::SqlitePlayerStore;

/// An in-memory SQLite player database for `srvno`.
pub fn open_in_memory(srvno: Srvno, rules: Rules) -> Option<Box<dyn PlayerStore>> {
    let store = SqlitePlayerStore::open_in_memory(&[srvno], rules)
        .unwrap_or_else(|error| panic!("an in-memory SQLite database for srvno {srvno}: {error}"));
    Some(Box::new(store))
}
