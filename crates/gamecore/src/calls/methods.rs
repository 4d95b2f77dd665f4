//! Player methods: the registry a game fills ([`Methods`]), the trait a
//! method implements ([`PlayerMethod`]) and the built-ins. A method is a
//! pure function of its arguments over the player's data and its ledger;
//! the registry runs it on a copy's data and undoes everything when it
//! refuses, so a refused call never changes the player.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use store::LedgerEntry;
use wire::node::PlayerData;

use crate::gameplay::{self, GameplayError};
use crate::limits::{CALL_METHOD_NAME_BYTES_MAX, CALL_RESULT_BYTES_MAX};

/// Why a method refused; the player is unchanged.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MethodError {
    /// The arguments are out of range (or did not decode).
    #[error("bad arguments: {0}")]
    BadArguments(String),
    /// A game rule refused (e.g. not enough gold).
    #[error("refused: {0}")]
    Refused(String),
}

impl From<GameplayError> for MethodError {
    fn from(error: GameplayError) -> Self {
        match error {
            GameplayError::BadArgument(why) => MethodError::BadArguments(why),
            refused @ GameplayError::InsufficientGold { .. } => {
                MethodError::Refused(refused.to_string())
            }
        }
    }
}

/// A method callable on a player anywhere in the zone. The type is its
/// arguments (a value type, JSON on the wire); `Reply` is its result.
pub trait PlayerMethod: Serialize + DeserializeOwned + 'static {
    /// The method's name, unique in a registry.
    const NAME: &'static str;
    /// The arguments' version: a call of another version is refused
    /// `BadArguments`, never misread.
    const VERSION: u32;
    /// What the method answers.
    type Reply: Serialize + DeserializeOwned;
    /// Applies the method to the player's data; every gold or item change
    /// goes through [`gameplay`], which writes its ledger lines.
    fn apply(
        self,
        data: &mut PlayerData,
        ledger: &mut Vec<LedgerEntry>,
    ) -> Result<Self::Reply, MethodError>;
}

/// Why a registry call did not give a result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum RunError {
    NoSuchMethod,
    Method(MethodError),
}

type Handler = Arc<
    dyn Fn(&mut PlayerData, &mut Vec<LedgerEntry>, &[u8]) -> Result<Vec<u8>, MethodError>
        + Send
        + Sync,
>;

#[derive(Clone)]
struct Registered {
    version: u32,
    handler: Handler,
}

/// The player methods a game server serves, by name.
#[derive(Clone)]
pub struct Methods {
    by_name: BTreeMap<&'static str, Registered>,
}

impl fmt::Debug for Methods {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.by_name.keys()).finish()
    }
}

impl Default for Methods {
    /// The built-ins: `add_items`, `add_gold`, `spend_gold`, `view`.
    fn default() -> Self {
        let mut methods = Self {
            by_name: BTreeMap::new(),
        };
        methods.register::<AddItems>();
        methods.register::<AddGold>();
        methods.register::<SpendGold>();
        methods.register::<View>();
        methods
    }
}

impl Methods {
    /// Registers `M`, replacing a method of the same name. Panics if the
    /// name is empty or longer than [`CALL_METHOD_NAME_BYTES_MAX`]: a
    /// game's programming error, found at start.
    pub fn register<M: PlayerMethod>(&mut self) {
        assert!(
            !M::NAME.is_empty() && M::NAME.len() <= CALL_METHOD_NAME_BYTES_MAX,
            "a method name is 1..={CALL_METHOD_NAME_BYTES_MAX} bytes: {:?}",
            M::NAME
        );
        let handler: Handler = Arc::new(|data, ledger, args| {
            let method: M = serde_json::from_slice(args)
                .map_err(|error| MethodError::BadArguments(error.to_string()))?;
            let reply = method.apply(data, ledger)?;
            Ok(serde_json::to_vec(&reply).expect("a method's reply serializes"))
        });
        let version = M::VERSION;
        self.by_name
            .insert(M::NAME, Registered { version, handler });
    }

    /// Whether a method named `name` is registered.
    pub fn contains(&self, name: &str) -> bool {
        self.by_name.contains_key(name)
    }

    /// Runs `name` with JSON `args` of `version` on the player: its JSON
    /// result and whether the data changed. On any refusal the data and the
    /// ledger are as they were; the durable-call records are out of the
    /// method's reach.
    pub(crate) fn run(
        &self,
        name: &str,
        version: u32,
        args: &[u8],
        data: &mut PlayerData,
        ledger: &mut Vec<LedgerEntry>,
    ) -> Result<(Vec<u8>, bool), RunError> {
        let registered = self.by_name.get(name).ok_or(RunError::NoSuchMethod)?;
        if version != registered.version {
            return Err(RunError::Method(MethodError::BadArguments(format!(
                "{name} takes arguments of version {}, not {version}",
                registered.version
            ))));
        }
        let records = std::mem::take(&mut data.durable_calls);
        let (before, ledger_len) = (data.clone(), ledger.len());
        let result = (registered.handler)(data, ledger, args).and_then(|reply| {
            if reply.len() > CALL_RESULT_BYTES_MAX {
                return Err(MethodError::Refused(format!(
                    "a result is at most {CALL_RESULT_BYTES_MAX} bytes"
                )));
            }
            Ok(reply)
        });
        let changed = match &result {
            Ok(_) => *data != before || ledger.len() != ledger_len,
            Err(_) => {
                *data = before;
                ledger.truncate(ledger_len);
                false
            }
        };
        data.durable_calls = records;
        result
            .map(|reply| (reply, changed))
            .map_err(RunError::Method)
    }
}

/// Adds items of one type (seed `itemdb:additembytype`); answers the count
/// added.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddItems {
    /// The item type.
    pub item_type: u32,
    /// How many.
    pub count: u64,
    /// The ledger's reason.
    pub reason: String,
}

impl PlayerMethod for AddItems {
    const NAME: &'static str = "add_items";
    const VERSION: u32 = 1;
    type Reply = u64;
    fn apply(
        self,
        data: &mut PlayerData,
        ledger: &mut Vec<LedgerEntry>,
    ) -> Result<u64, MethodError> {
        Ok(gameplay::add_item(
            data,
            ledger,
            self.item_type,
            self.count,
            &self.reason,
        )?)
    }
}

/// A gold method: an amount and a reason, applied by a `gameplay`
/// function; answers the amount applied.
macro_rules! gold_method {
    ($(#[$doc:meta])* $method:ident, $name:literal, $apply:path) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
        pub struct $method {
            /// How much.
            pub amount: u64,
            /// The ledger's reason.
            pub reason: String,
        }

        impl PlayerMethod for $method {
            const NAME: &'static str = $name;
            const VERSION: u32 = 1;
            type Reply = u64;
            fn apply(
                self,
                data: &mut PlayerData,
                ledger: &mut Vec<LedgerEntry>,
            ) -> Result<u64, MethodError> {
                Ok($apply(data, ledger, self.amount, &self.reason)?)
            }
        }
    };
}

gold_method!(
    /// Adds gold (seed `addgold(10, "test:rpc")`); answers the amount added.
    AddGold,
    "add_gold",
    gameplay::add_gold
);
gold_method!(
    /// Spends gold, never below zero; answers the amount spent.
    SpendGold,
    "spend_gold",
    gameplay::spend_gold
);

/// Reads the player; changes nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct View {}

/// What [`View`] answers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlayerSnapshot {
    /// The role.
    pub roleid: u64,
    /// Its name.
    pub name: String,
    /// Its level.
    pub level: u32,
    /// Its gold.
    pub gold: u64,
    /// Item type and count, ordered by type.
    pub items: Vec<(u32, u64)>,
}

impl PlayerMethod for View {
    const NAME: &'static str = "view";
    const VERSION: u32 = 1;
    type Reply = PlayerSnapshot;
    fn apply(
        self,
        data: &mut PlayerData,
        _: &mut Vec<LedgerEntry>,
    ) -> Result<PlayerSnapshot, MethodError> {
        Ok(PlayerSnapshot {
            roleid: data.roleid,
            name: data.name.clone(),
            level: data.level,
            gold: data.gold,
            items: data
                .items
                .iter()
                .map(|stack| (stack.item_type, stack.count))
                .collect(),
        })
    }
}
