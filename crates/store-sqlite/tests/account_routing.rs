//! The account and routing databases keep what they were told across a
//! reopen.

use datacentercore::{Current, CurrentNote};
use routing::RoleId;
use store_sqlite::{
    ACCOUNT_DB_FILE, AccountError, AccountRole, AccountStore, ROUTING_DB_FILE, RoutingStore,
};

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

#[test]
fn accounts_register_once_and_keep_their_password() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join(ACCOUNT_DB_FILE);
    let mut accounts = AccountStore::open(&path).unwrap();
    let ann = accounts.register("ann", "$argon2id$ann").unwrap();
    let bob = accounts.register("bob", "$argon2id$bob").unwrap();
    assert_ne!(ann, bob);
    assert_eq!(
        accounts.register("ann", "$argon2id$other"),
        Err(AccountError::Exists("ann".to_owned()))
    );
    drop(accounts);

    let mut accounts = AccountStore::open(&path).unwrap();
    assert_eq!(
        accounts.find_password("ann").unwrap(),
        Some((ann, "$argon2id$ann".to_owned()))
    );
    assert_eq!(accounts.find_password("nobody").unwrap(), None);
    let cat = accounts.register("cat", "$argon2id$cat").unwrap();
    assert!(cat > bob, "account ids are not reused");
}

#[test]
fn a_device_gets_one_account() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join(ACCOUNT_DB_FILE);
    let mut accounts = AccountStore::open(&path).unwrap();
    let registered = accounts.register("ann", "$argon2id$ann").unwrap();
    let phone = accounts.device_account("phone-1").unwrap();
    assert_ne!(phone, registered);
    assert_eq!(accounts.device_account("phone-1").unwrap(), phone);
    let tablet = accounts.device_account("tablet-1").unwrap();
    assert_ne!(tablet, phone);
    drop(accounts);

    let mut accounts = AccountStore::open(&path).unwrap();
    assert_eq!(accounts.device_account("phone-1").unwrap(), phone);
}

#[test]
fn roles_of_an_account_and_the_last_one_survive_a_reopen() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join(ACCOUNT_DB_FILE);
    let mut accounts = AccountStore::open(&path).unwrap();
    let ann = accounts.register("ann", "hash").unwrap();
    let bob = accounts.device_account("phone").unwrap();
    assert_eq!(accounts.last_role(ann).unwrap(), None);
    let warrior = account_role(2_000_001, "warrior", "gs2");
    accounts.add_role(ann, &warrior).unwrap();
    accounts
        .add_role(ann, &account_role(1_000_001, "mage", "gs1"))
        .unwrap();
    accounts.add_role(ann, &warrior).unwrap();
    assert_eq!(
        accounts.add_role(bob, &account_role(1_000_001, "thief", "gs1")),
        Err(AccountError::RoleNotOfAccount(role(1_000_001)))
    );
    assert_eq!(
        accounts.add_role(999, &account_role(1_000_002, "ghost", "gs1")),
        Err(AccountError::UnknownAccount(999))
    );
    drop(accounts);

    let mut accounts = AccountStore::open(&path).unwrap();
    let mage = account_role(1_000_001, "mage", "gs1");
    let warrior = account_role(2_000_001, "warrior", "gs2");
    assert_eq!(
        accounts.roles(ann).unwrap(),
        vec![mage.clone(), warrior.clone()]
    );
    assert_eq!(accounts.roles(bob).unwrap(), Vec::new());
    assert_eq!(accounts.last_role(ann).unwrap(), Some(mage));
    accounts.set_last_role(ann, role(2_000_001)).unwrap();
    assert_eq!(
        accounts.set_last_role(bob, role(2_000_001)),
        Err(AccountError::RoleNotOfAccount(role(2_000_001)))
    );
    drop(accounts);

    let accounts = AccountStore::open(&path).unwrap();
    assert_eq!(accounts.last_role(ann).unwrap(), Some(warrior));
}

#[test]
fn a_role_keeps_the_newest_level_reported_across_a_reopen() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join(ACCOUNT_DB_FILE);
    let mut accounts = AccountStore::open(&path).unwrap();
    let ann = accounts.register("ann", "hash").unwrap();
    let mage = account_role(1_000_001, "mage", "gs1");
    accounts.add_role(ann, &mage).unwrap();
    accounts.set_level(role(1_000_001), 4, 2).unwrap();
    accounts.set_level(role(1_000_001), 3, 1).unwrap(); // late: epoch 1 < 2, ignored
    accounts.set_level(role(9_000_001), 7, 1).unwrap(); // unknown role: nothing
    accounts.add_role(ann, &mage).unwrap(); // the creation note again
    drop(accounts);

    let mut accounts = AccountStore::open(&path).unwrap();
    let level_four = AccountRole { level: 4, ..mage };
    assert_eq!(accounts.roles(ann).unwrap(), vec![level_four.clone()]);
    assert_eq!(accounts.last_role(ann).unwrap(), Some(level_four));
    accounts.set_level(role(1_000_001), 5, 2).unwrap(); // same epoch: in order
    assert_eq!(accounts.roles(ann).unwrap()[0].level, 5);
}

#[test]
fn the_current_server_of_a_role_survives_a_reopen() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join(ROUTING_DB_FILE);
    let mut routes = RoutingStore::open(&path).unwrap();
    assert_eq!(routes.load().unwrap(), vec![]);
    let record = |roleid, srvname: &str, online, epoch| CurrentNote {
        roleid: role(roleid),
        current: Current {
            srvname: srvname.into(),
            online,
            epoch,
        },
    };
    routes
        .record(&[
            record(2_000_001, "gs2", false, 1),
            record(1_000_001, "gs1", true, 1),
        ])
        .unwrap();
    routes.record(&[record(1_000_001, "gs2", true, 2)]).unwrap(); // replaces
    drop(routes);

    let routes = RoutingStore::open(&path).unwrap();
    assert_eq!(
        routes.load().unwrap(),
        vec![
            record(1_000_001, "gs2", true, 2),
            record(2_000_001, "gs2", false, 1)
        ],
        "every record, ordered by role id"
    );
}
