//! Gift credits, their ledger reasons and the zone-wide pairing of credits
//! with debits, tested without a store.

use super::*;

fn receiver() -> PlayerData {
    PlayerData {
        roleid: 2_000_001,
        level: 1,
        next_ledger_seq: 1,
        ..PlayerData::default()
    }
}

fn gift(seq: u64, gold: u64) -> Gift {
    Gift {
        id: Some(GiftId {
            from_roleid: 1_000_001,
            seq,
        }),
        to_roleid: 2_000_001,
        gold,
    }
}

fn role(raw: u64) -> RoleId {
    RoleId::from_raw(raw).unwrap()
}

#[test]
fn a_gift_is_credited_once_with_a_line_naming_it() {
    let mut data = receiver();
    let line = credit(&mut data, &gift(7, 30)).unwrap().expect("credited");
    assert_eq!((line.seq, line.delta), (1, 30));
    assert_eq!(line.reason, "gift:from:1000001:7");
    assert_eq!(
        credit(&mut data, &gift(7, 30)),
        Ok(None),
        "a second delivery"
    );
    assert_eq!((data.gold, data.next_ledger_seq), (30, 2));
}

#[test]
fn a_gift_for_another_role_or_past_the_gold_cap_changes_nothing() {
    let mut data = receiver();
    let mut stranger = gift(1, 5);
    stranger.to_roleid = 3_000_001;
    assert!(credit(&mut data, &stranger).is_err());
    data.gold = u64::MAX;
    assert_eq!(credit(&mut data, &gift(2, 1)), Err(GiftError::GoldOverflow));
    assert!(data.gifts_received.is_empty());
    assert_eq!(data.next_ledger_seq, 1);
}

#[test]
fn the_oldest_remembered_gift_is_forgotten_past_the_bound() {
    let mut data = receiver();
    for seq in 1..=GIFTS_REMEMBERED_MAX as u64 + 1 {
        credit(&mut data, &gift(seq, 1)).unwrap().expect("new");
    }
    assert_eq!(data.gifts_received.len(), GIFTS_REMEMBERED_MAX);
    assert_eq!(data.gifts_received[0].seq, 2, "gift 1 is forgotten");
}

#[test]
fn reasons_read_back_as_the_gift_they_move() {
    let to = role(2_000_001);
    assert_eq!(
        gift_line(&debit_reason(to)),
        Some(GiftLine::Debit { to: 2_000_001 })
    );
    let id = gift(9, 1).id.unwrap();
    assert_eq!(
        gift_line(&credit_reason(&id)),
        Some(GiftLine::Credit { id })
    );
    assert_eq!(gift_line("test:rpc"), None);
    assert_eq!(gift_line("gift:from:x:1"), None);
}

fn line(seq: u64, delta: i64, reason: String) -> LedgerEntry {
    LedgerEntry {
        seq,
        kind: LedgerKind::Gold,
        delta,
        reason,
    }
}

#[test]
fn the_book_pairs_debits_with_credits_across_databases() {
    let (sender, to) = (role(1_000_001), role(2_000_001));
    let mut senders = GiftBook::default();
    senders.add(sender, &line(3, -30, debit_reason(to)));
    senders.add(sender, &line(4, -5, debit_reason(to)));
    senders.add(sender, &line(5, 99, "test:rpc".into()));
    let mut receivers = GiftBook::default();
    receivers.add(to, &line(1, 30, credit_reason(&gift(3, 30).id.unwrap())));
    senders.merge(receivers);
    let pairing = senders.pairing();
    assert_eq!(
        (pairing.debited, pairing.paired, pairing.in_flight),
        (2, 1, 1)
    );
    assert!(pairing.unpaired.is_empty());
}

#[test]
fn a_gift_credited_twice_or_without_its_debit_is_unpaired() {
    let (sender, to) = (role(1_000_001), role(2_000_001));
    let mut book = GiftBook::default();
    book.add(sender, &line(3, -30, debit_reason(to)));
    let twice = credit_reason(&gift(3, 30).id.unwrap());
    book.add(to, &line(1, 30, twice.clone()));
    book.add(to, &line(2, 30, twice));
    book.add(to, &line(3, 8, credit_reason(&gift(4, 8).id.unwrap())));
    let pairing = book.pairing();
    let unpaired: Vec<u64> = pairing.unpaired.iter().map(|id| id.seq).collect();
    assert_eq!(unpaired, [3, 4]);
    assert_eq!(pairing.paired, 0);
}
