//! Transfers (转服, DESIGN §7) on both backends: a transferred role routes
//! to its new home on every node — its login goes to the new home server
//! and loads the copied data with its gold, a crossing from another server
//! (one that was down during the transfer, so it missed the push and
//! loaded the table when it started) reaches it, and the audit stays clean;
//! the operator's typed refusals; and a transfer stopped after any step
//! blocks every login until it is run again, which ends it the same way.

use wire::client::ErrorCode;
use zone::{TransferError, TransferStep};

use crate::helpers::*;
use crate::{TestZone, fast_zone};

/// Logs `name` in until the login names `srvname` (the account center's
/// table follows the data center's push) and enters there.
async fn enter_at(zone: &impl TestZone, name: &str, srvname: &str) -> client::GameSession {
    let what = format!("{name}'s login to name {srvname}");
    let login = eventually(&what, || async {
        let login = client::account::login_password(&zone.account(), name, "pw")
            .await
            .ok()?;
        let server = login.server.as_ref()?;
        (server.srvname == srvname).then_some(login)
    })
    .await;
    assert_eq!(login.roles[0].home_srvname, srvname, "the role list too");
    enter(&login, name).await.expect("enter at the new home")
}

/// A player with `gold` gold who logged off its home server, gs1.
async fn offline_player(zone: &impl TestZone, name: &str, gold: u64) -> u64 {
    let (_, mut session) = register_and_enter(zone, name).await;
    let roleid = roleid_of(&session);
    add_gold(&mut session, gold).await;
    session.logoff().await.expect("log off");
    expect_current(zone, roleid, "gs1", false).await;
    roleid
}

/// A transferred role routes to its new home on every node.
pub async fn a_transferred_role_routes_to_its_new_home_on_every_node<Z: TestZone>() {
    let Some(mut zone) = Z::start(fast_zone(3)).await else {
        return;
    };
    let (_, mut online) = register_and_enter(&zone, "tina").await;
    let roleid = roleid_of(&online);
    add_gold(&mut online, 25).await;
    let refused = zone.transfer(roleid, 3, None).await;
    assert!(
        matches!(refused, Err(TransferError::Online(_))),
        "{refused:?}"
    );
    online.logoff().await.unwrap();
    expect_current(&zone, roleid, "gs1", false).await;
    let refused = zone.transfer(roleid, 9, None).await;
    assert!(
        matches!(refused, Err(TransferError::UnknownSrvno(9))),
        "{refused:?}"
    );
    let refused = zone.transfer(roleid, 1, None).await;
    assert!(
        matches!(refused, Err(TransferError::SameSrvno { .. })),
        "{refused:?}"
    );
    let refused = zone.transfer(1_000_777, 3, None).await;
    assert!(
        matches!(refused, Err(TransferError::UnknownRole(_))),
        "{refused:?}"
    );

    zone.kill_game("gs2").await; // it misses the push
    let done = zone.transfer(roleid, 3, None).await.unwrap();
    assert_eq!(done.step, TransferStep::Sealed);
    assert_eq!((done.transfer.from.get(), done.transfer.to.get()), (1, 3));
    assert_eq!(
        zone.transfer(roleid, 3, None).await.unwrap(),
        done,
        "again: no change"
    );
    zone.restart_game("gs2").await;

    let mut tina = enter_at(&zone, "tina", "gs3").await;
    assert_eq!(
        (tina.current_srvname(), tina.home_srvname()),
        ("gs3", "gs3")
    );
    assert_eq!(roleid_of(&tina), roleid, "the role id is kept");
    assert_eq!(gold(&mut tina).await, 25, "the copied data");
    add_gold(&mut tina, 5).await;
    expect_saved_gold(&zone, roleid, 30).await;
    let entered = tina
        .go_server("gs2")
        .await
        .expect("gs2 loads it from srvno 3");
    assert_eq!(
        (entered.home_srvname.as_str(), entered.player.unwrap().gold),
        ("gs3", 30)
    );
    let entered = tina.go_home().await.expect("home is gs3");
    assert_eq!(entered.srvname, "gs3");
    tina.logoff().await.unwrap();
    expect_current(&zone, roleid, "gs3", false).await;
    assert_eq!(zone.audit_problems().await, 0);
    zone.shutdown().await;
}

/// A transfer stopped after any step (as if killed) lets no login claim the
/// role until it is run again, which ends it like an unbroken run.
pub async fn a_transfer_stopped_at_any_step_ends_the_same_when_run_again<Z: TestZone>() {
    let Some(zone) = Z::start(fast_zone(3)).await else {
        return;
    };
    let steps = [
        TransferStep::Fenced,
        TransferStep::Copied,
        TransferStep::Recorded,
    ];
    for (index, step) in steps.into_iter().enumerate() {
        let name = format!("step{index}");
        let roleid = offline_player(&zone, &name, 10 + index as u64).await;
        let stopped = zone.transfer(roleid, 2, Some(step)).await.unwrap();
        assert_eq!(stopped.step, step);
        if step < TransferStep::Recorded {
            let account = zone.account();
            let login = client::account::login_password(&account, &name, "pw");
            let login = login.await.unwrap();
            let refused = enter(&login, &name).await.map(|_| ());
            assert_eq!(code(refused), ErrorCode::RoleTransferred);
        }
        let done = zone.transfer(roleid, 2, None).await.unwrap();
        assert_eq!(done.step, TransferStep::Sealed);
        assert_eq!(zone.transfer(roleid, 2, None).await.unwrap(), done);
        let mut session = enter_at(&zone, &name, "gs2").await;
        assert_eq!(gold(&mut session).await, 10 + index as u64);
        session.logoff().await.unwrap();
    }
    assert_eq!(zone.audit_problems().await, 0);
    zone.shutdown().await;
}
