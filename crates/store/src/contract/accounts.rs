//! The account store contract ([`AccountStore`]): what the account center
//! relies on, for every backend. [`account_contract_suite!`](crate::account_contract_suite)
//! instantiates it for one backend, like the player suite.

use std::collections::BTreeSet;

use routing::RoleId;

use crate::{AccountError, AccountRole, AccountStore};

/// What the account suite needs from a backend.
pub trait AccountHarness {
    /// The store under test.
    type Store: AccountStore;
    /// A new session (connection) on the harness's database; every call
    /// opens the same database, so a second store sees what the first
    /// committed, and dropping a store then opening one is a restart.
    fn open_accounts(&mut self) -> Self::Store;
    /// Runs `first` and `second` at the same time, each on a thread of its
    /// own (`test_support::at_once`; this crate starts no thread).
    fn at_once<T: Send>(
        first: impl FnOnce() -> T + Send,
        second: impl FnOnce() -> T + Send,
    ) -> (T, T);
}

/// Instantiates every account contract test for one backend:
/// `account_contract_suite!(name, harness)` makes a module `name` with one
/// `#[test]` per test, each on the `Option<impl AccountHarness>` that
/// `harness` evaluates to (`None` skips).
#[macro_export]
macro_rules! account_contract_suite {
    ($module:ident, $harness:expr) => {
        $crate::contract_tests!(
            $module,
            $harness;
            accounts_register_once_and_keep_their_password_hash,
            account_ids_are_never_reused_after_a_reopen,
            two_sessions_registering_at_once_get_distinct_account_ids,
            a_name_registered_by_two_sessions_at_once_is_taken_once,
            a_device_gets_one_account_across_a_reopen,
            two_sessions_logging_a_device_in_at_once_share_its_account,
            roles_are_listed_by_id_and_the_last_one_survives_a_reopen,
            a_role_noted_twice_is_kept_once_and_another_accounts_role_is_refused,
            an_unknown_account_is_refused,
            a_role_keeps_the_newest_level_reported,
        );
    };
}

/// A realistic stored password hash: a PHC string, kept byte for byte.
const HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$Jq1tRbIqUvmvyGl1gWnG0pHqXnW5GTgtMJxq3ZtCAlQ";
/// How many accounts each session allocates in the concurrent tests.
const CONCURRENT_ACCOUNTS: usize = 40;

fn role(raw: u64) -> RoleId {
    RoleId::from_raw(raw).unwrap()
}

fn account_role(raw: u64, name: &str, srvname: &str) -> AccountRole {
    AccountRole {
        roleid: role(raw),
        name: name.to_owned(),
        srvname: srvname.to_owned(),
        level: 1,
    }
}

/// The store after a restart: whatever it committed is still there.
fn reopen<H: AccountHarness>(harness: &mut H, store: H::Store) -> H::Store {
    drop(store);
    harness.open_accounts()
}

/// Runs `work` on two new sessions at once, each told its index (0 or 1),
/// and returns both answers.
fn on_two_sessions<H: AccountHarness, T: Send>(
    harness: &mut H,
    work: impl Fn(&mut H::Store, usize) -> T + Sync,
) -> [T; 2] {
    let [mut first, mut second] = [harness.open_accounts(), harness.open_accounts()];
    let work = &work;
    let (one, two) = H::at_once(|| work(&mut first, 0), || work(&mut second, 1));
    [one, two]
}

/// Registration stores the hash as given and refuses a taken name; both
/// survive a restart.
pub fn accounts_register_once_and_keep_their_password_hash<H: AccountHarness>(mut harness: H) {
    let mut store = harness.open_accounts();
    let ann = store.register("ann", HASH).unwrap();
    let bob = store.register("bob", "$argon2id$bob").unwrap();
    assert_ne!(ann, bob);
    assert_eq!(
        store.register("ann", "$argon2id$other"),
        Err(AccountError::Exists("ann".to_owned()))
    );
    let mut store = reopen(&mut harness, store);
    assert_eq!(
        store.find_password("ann").unwrap(),
        Some((ann, HASH.to_owned()))
    );
    assert_eq!(
        store.find_password("bob").unwrap(),
        Some((bob, "$argon2id$bob".to_owned()))
    );
    assert_eq!(store.find_password("nobody").unwrap(), None);
    assert_eq!(store.find_password("Ann").unwrap(), None, "names are exact");
}

/// Every new account, by name or by device, gets an id above every id
/// handed out before, even across a restart and after a refused name.
pub fn account_ids_are_never_reused_after_a_reopen<H: AccountHarness>(mut harness: H) {
    let mut store = harness.open_accounts();
    let ann = store.register("ann", "h").unwrap();
    let phone = store.device_account("phone").unwrap();
    assert!(store.register("ann", "h").is_err());
    let mut store = reopen(&mut harness, store);
    let bob = store.register("bob", "h").unwrap();
    let tablet = store.device_account("tablet").unwrap();
    let before = ann.max(phone);
    assert!(bob > before && tablet > before && tablet != bob);
}

/// Two sessions allocating accounts at once never hand out one id twice.
pub fn two_sessions_registering_at_once_get_distinct_account_ids<H: AccountHarness>(
    mut harness: H,
) {
    let ids = on_two_sessions(&mut harness, |store, session| {
        (0..CONCURRENT_ACCOUNTS)
            .flat_map(|index| {
                let name = format!("s{session}-{index}");
                [
                    (name.clone(), store.register(&name, &name).unwrap()),
                    (String::new(), store.device_account(&name).unwrap()),
                ]
            })
            .collect::<Vec<_>>()
    });
    let all: Vec<&(String, u64)> = ids.iter().flatten().collect();
    let distinct: BTreeSet<u64> = all.iter().map(|(_, id)| *id).collect();
    assert_eq!(
        distinct.len(),
        4 * CONCURRENT_ACCOUNTS,
        "an id was handed out twice"
    );
    let mut store = harness.open_accounts();
    for (name, id) in all.iter().filter(|(name, _)| !name.is_empty()) {
        assert_eq!(
            store.find_password(name).unwrap(),
            Some((*id, name.clone()))
        );
    }
}

/// Two sessions registering the same names at once: each name is taken by
/// exactly one of them, the other told `Exists`.
pub fn a_name_registered_by_two_sessions_at_once_is_taken_once<H: AccountHarness>(mut harness: H) {
    let answers = on_two_sessions(&mut harness, |store, _| {
        (0..CONCURRENT_ACCOUNTS)
            .map(|index| store.register(&format!("name-{index}"), "h"))
            .collect::<Vec<_>>()
    });
    for (index, (first, second)) in answers[0].iter().zip(&answers[1]).enumerate() {
        let name = format!("name-{index}");
        let winner = match (first, second) {
            (Ok(id), Err(AccountError::Exists(taken)))
            | (Err(AccountError::Exists(taken)), Ok(id)) => {
                assert_eq!(taken, &name);
                *id
            }
            other => panic!("{name}: {other:?}"),
        };
        let found = harness.open_accounts().find_password(&name).unwrap();
        assert_eq!(found, Some((winner, "h".to_owned())));
    }
}

/// A device's first login creates its account, every later one finds it,
/// across a restart; a device id never finds an account by name.
pub fn a_device_gets_one_account_across_a_reopen<H: AccountHarness>(mut harness: H) {
    let mut store = harness.open_accounts();
    let registered = store.register("phone-1", "h").unwrap();
    let phone = store.device_account("phone-1").unwrap();
    assert_ne!(phone, registered, "a device id is not an account name");
    assert_eq!(store.device_account("phone-1").unwrap(), phone);
    let tablet = store.device_account("tablet-1").unwrap();
    assert_ne!(tablet, phone);
    let mut store = reopen(&mut harness, store);
    assert_eq!(store.device_account("phone-1").unwrap(), phone);
    assert_eq!(store.device_account("tablet-1").unwrap(), tablet);
}

/// Two sessions logging the same devices in at once: each device ends up
/// with one account, the same for both.
pub fn two_sessions_logging_a_device_in_at_once_share_its_account<H: AccountHarness>(
    mut harness: H,
) {
    let answers = on_two_sessions(&mut harness, |store, _| {
        (0..CONCURRENT_ACCOUNTS)
            .map(|index| store.device_account(&format!("device-{index}")).unwrap())
            .collect::<Vec<_>>()
    });
    assert_eq!(answers[0], answers[1], "a device got two accounts");
    let distinct: BTreeSet<u64> = answers[0].iter().copied().collect();
    assert_eq!(distinct.len(), CONCURRENT_ACCOUNTS);
}

/// Roles are listed by role id, whatever order they were added in; the
/// last role is the one added or chosen last; both survive a restart.
pub fn roles_are_listed_by_id_and_the_last_one_survives_a_reopen<H: AccountHarness>(
    mut harness: H,
) {
    let mut store = harness.open_accounts();
    let ann = store.register("ann", "h").unwrap();
    let bob = store.device_account("phone").unwrap();
    assert_eq!(store.last_role(ann).unwrap(), None);
    assert_eq!(store.roles(ann).unwrap(), Vec::new());
    let warrior = account_role(2_000_001, "warrior", "gs2");
    let mage = account_role(1_000_001, "mage", "gs1");
    store.add_role(ann, &warrior).unwrap();
    store.add_role(ann, &mage).unwrap();
    let mut store = reopen(&mut harness, store);
    assert_eq!(
        store.roles(ann).unwrap(),
        vec![mage.clone(), warrior.clone()]
    );
    assert_eq!(store.roles(bob).unwrap(), Vec::new());
    assert_eq!(store.last_role(ann).unwrap(), Some(mage));
    store.set_last_role(ann, role(2_000_001)).unwrap();
    assert_eq!(
        store.set_last_role(bob, role(2_000_001)),
        Err(AccountError::RoleNotOfAccount(role(2_000_001)))
    );
    assert_eq!(
        store.set_last_role(ann, role(3_000_001)),
        Err(AccountError::RoleNotOfAccount(role(3_000_001)))
    );
    let mut store = reopen(&mut harness, store);
    assert_eq!(store.last_role(ann).unwrap(), Some(warrior));
    assert_eq!(store.last_role(bob).unwrap(), None);
}

/// A creation note delivered twice changes nothing (not even the last
/// role); a role of another account is refused and changes nothing.
pub fn a_role_noted_twice_is_kept_once_and_another_accounts_role_is_refused<H: AccountHarness>(
    mut harness: H,
) {
    let mut store = harness.open_accounts();
    let ann = store.register("ann", "h").unwrap();
    let bob = store.register("bob", "h").unwrap();
    let mage = account_role(1_000_001, "mage", "gs1");
    let warrior = account_role(2_000_001, "warrior", "gs2");
    store.add_role(ann, &mage).unwrap();
    store.add_role(ann, &warrior).unwrap();
    store.add_role(ann, &mage).unwrap();
    assert_eq!(store.last_role(ann).unwrap(), Some(warrior.clone()));
    let thief = account_role(1_000_001, "thief", "gs1");
    assert_eq!(
        store.add_role(bob, &thief),
        Err(AccountError::RoleNotOfAccount(role(1_000_001)))
    );
    assert_eq!(store.roles(ann).unwrap(), vec![mage, warrior]);
    assert_eq!(store.roles(bob).unwrap(), Vec::new());
    assert_eq!(store.last_role(bob).unwrap(), None);
}

/// Adding a role to, or choosing the last role of, an account that does
/// not exist is refused with its id.
pub fn an_unknown_account_is_refused<H: AccountHarness>(mut harness: H) {
    let mut store = harness.open_accounts();
    let ann = store.register("ann", "h").unwrap();
    let ghost = ann + 1_000;
    assert_eq!(
        store.add_role(ghost, &account_role(1_000_002, "ghost", "gs1")),
        Err(AccountError::UnknownAccount(ghost))
    );
    assert_eq!(
        store.set_last_role(ghost, role(1_000_002)),
        Err(AccountError::UnknownAccount(ghost))
    );
    assert_eq!(store.roles(ghost).unwrap(), Vec::new());
}

/// A level report at an epoch at or above the stored one wins; an older
/// one or one for an unknown role changes nothing; the level survives a
/// restart and a repeated creation note; the whole `u32` range is kept.
pub fn a_role_keeps_the_newest_level_reported<H: AccountHarness>(mut harness: H) {
    let mut store = harness.open_accounts();
    let ann = store.register("ann", "h").unwrap();
    let mage = account_role(1_000_001, "mage", "gs1");
    store.add_role(ann, &mage).unwrap();
    store.set_level(role(1_000_001), 4, 2).unwrap();
    store.set_level(role(1_000_001), 3, 1).unwrap(); // late: epoch 1 < 2
    store.set_level(role(9_000_001), 7, 1).unwrap(); // unknown role
    store.add_role(ann, &mage).unwrap(); // the creation note again
    let mut store = reopen(&mut harness, store);
    let level_four = AccountRole { level: 4, ..mage };
    assert_eq!(store.roles(ann).unwrap(), vec![level_four.clone()]);
    assert_eq!(store.last_role(ann).unwrap(), Some(level_four));
    store.set_level(role(1_000_001), 5, 2).unwrap(); // same epoch: in order
    assert_eq!(store.roles(ann).unwrap()[0].level, 5);
    store.set_level(role(1_000_001), u32::MAX, 3).unwrap();
    assert_eq!(store.roles(ann).unwrap()[0].level, u32::MAX);
}
