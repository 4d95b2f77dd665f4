//! The login queue through its API, in virtual time: logins start at the
//! rate the hashing pool serves, the rest wait and are told their place as it
//! moves up, a full queue answers `BUSY` at once, a login whose client left
//! keeps its place for the grace window and is dropped past it without a
//! hash, a queue ticket resumes its login once, and the expected wait follows
//! the measured hash times.

use accountcore::Entropy;
use accountcore::queue::{LoginQueue, QueueConfig, QueueOutput, ResumeRefused, Ticket};

const NOW_MS: u64 = 1_000_000;
/// The grace window of these tests' queues.
const GRACE_MS: u64 = 5_000;

/// Secrets 1, 2, 3, … (the queue needs distinct ones, not random ones).
struct Counter(u128);

impl Entropy for Counter {
    fn token(&mut self) -> u128 {
        self.0 += 1;
        self.0
    }
}

/// A queue with a counter for its secrets.
struct Harness {
    queue: LoginQueue,
    entropy: Counter,
}

impl Harness {
    fn arrive(&mut self, now_ms: u64) -> Ticket {
        self.queue.handle_arrival(now_ms, &mut self.entropy)
    }

    fn resume(&mut self, now_ms: u64, secret: u128) -> Result<Ticket, ResumeRefused> {
        self.queue.handle_resume(now_ms, secret, &mut self.entropy)
    }
}

impl std::ops::Deref for Harness {
    type Target = LoginQueue;
    fn deref(&self) -> &LoginQueue {
        &self.queue
    }
}

impl std::ops::DerefMut for Harness {
    fn deref_mut(&mut self) -> &mut LoginQueue {
        &mut self.queue
    }
}

fn queue(workers: usize, waiting_max: usize) -> Harness {
    let mut config = QueueConfig::new(workers);
    config.waiting_max = waiting_max;
    config.hash_estimate_ms = 100;
    config.position_update_interval_ms = 1_000;
    config.grace_ms = GRACE_MS;
    Harness {
        queue: LoginQueue::new(config),
        entropy: Counter(0),
    }
}

fn drain(queue: &mut Harness) -> Vec<QueueOutput> {
    std::iter::from_fn(|| queue.poll_output()).collect()
}

fn started(outputs: &[QueueOutput]) -> Vec<Ticket> {
    outputs
        .iter()
        .filter_map(|output| match output {
            QueueOutput::Start { ticket } => Some(*ticket),
            _ => None,
        })
        .collect()
}

/// (ticket, position) of every `Queued` in `outputs`.
fn told(outputs: &[QueueOutput]) -> Vec<(Ticket, u64)> {
    outputs
        .iter()
        .filter_map(|output| match output {
            QueueOutput::Queued {
                ticket, position, ..
            } => Some((*ticket, *position)),
            _ => None,
        })
        .collect()
}

/// The secret of the last `Queued` for `ticket` in `outputs`.
fn secret_of(outputs: &[QueueOutput], ticket: Ticket) -> u128 {
    outputs
        .iter()
        .rev()
        .find_map(|output| match output {
            QueueOutput::Queued {
                ticket: told,
                secret,
                ..
            } if *told == ticket => Some(*secret),
            _ => None,
        })
        .expect("the ticket was told its place")
}

#[test]
fn logins_beyond_the_pool_wait_and_are_told_their_place_as_it_moves_up() {
    let mut queue = queue(2, 100);
    let tickets: Vec<Ticket> = (0..5).map(|_| queue.arrive(NOW_MS)).collect();
    let outputs = drain(&mut queue);
    assert_eq!(started(&outputs), tickets[..2].to_vec());
    assert_eq!(
        told(&outputs),
        vec![(tickets[2], 1), (tickets[3], 2), (tickets[4], 3)]
    );
    assert_eq!(queue.poll_timeout(), Some(NOW_MS + 1_000));

    // One hash ends: the first in line starts; the others learn their new
    // places at the next update, not before.
    queue.handle_done(NOW_MS + 100, tickets[0]);
    assert_eq!(started(&drain(&mut queue)), vec![tickets[2]]);
    queue.handle_timeout(NOW_MS + 999);
    assert!(drain(&mut queue).is_empty(), "no update before it is due");
    queue.handle_timeout(NOW_MS + 1_000);
    assert_eq!(
        told(&drain(&mut queue)),
        vec![(tickets[3], 1), (tickets[4], 2)]
    );

    // Every waiting login reaches admission; then no updates are due.
    queue.handle_done(NOW_MS + 1_100, tickets[1]);
    queue.handle_done(NOW_MS + 1_100, tickets[2]);
    assert_eq!(started(&drain(&mut queue)), tickets[3..].to_vec());
    assert_eq!(queue.waiting(), 0);
    assert_eq!(queue.hashing(), 2);
    assert_eq!(queue.poll_timeout(), None);
}

#[test]
fn a_full_queue_answers_busy_at_once_with_the_time_it_takes_to_drain() {
    let mut queue = queue(1, 2);
    let _hashing = queue.arrive(NOW_MS);
    let _first = queue.arrive(NOW_MS);
    let _second = queue.arrive(NOW_MS);
    drain(&mut queue);
    let refused = queue.arrive(NOW_MS);
    assert_eq!(
        drain(&mut queue),
        vec![QueueOutput::Busy {
            ticket: refused,
            retry_after_ms: 200,
        }],
        "two waiting, one worker, 100 ms a hash"
    );
    assert_eq!(queue.waiting(), 2, "the refused login holds no place");
}

#[test]
fn with_no_grace_window_a_login_whose_client_left_is_dropped_at_once_and_costs_no_hash() {
    let mut config = QueueConfig::new(1);
    config.grace_ms = 0;
    config.position_update_interval_ms = 1_000;
    let mut queue = Harness {
        queue: LoginQueue::new(config),
        entropy: Counter(0),
    };
    let hashing = queue.arrive(NOW_MS);
    let gone = queue.arrive(NOW_MS);
    let stays = queue.arrive(NOW_MS);
    drain(&mut queue);
    queue.handle_left(NOW_MS + 10, gone);
    assert_eq!(
        drain(&mut queue),
        vec![QueueOutput::Dropped { ticket: gone }]
    );
    queue.handle_timeout(NOW_MS + 1_000);
    assert_eq!(told(&drain(&mut queue)), vec![(stays, 1)], "moved up");
    queue.handle_done(NOW_MS + 1_050, hashing);
    queue.handle_done(NOW_MS + 1_100, stays);
    let outputs = drain(&mut queue);
    assert_eq!(started(&outputs), vec![stays]);
    assert_eq!(queue.hashing(), 0, "the client that left was never started");
}

#[test]
fn a_client_that_reconnects_within_the_grace_window_keeps_its_place() {
    let mut queue = queue(1, 100);
    let hashing = queue.arrive(NOW_MS);
    let returns = queue.arrive(NOW_MS);
    let behind = queue.arrive(NOW_MS);
    let secret = secret_of(&drain(&mut queue), returns);
    queue.handle_left(NOW_MS + 10, returns);
    assert_eq!(queue.away(), 1);
    assert!(queue.poll_timeout() <= Some(NOW_MS + 10 + GRACE_MS));
    queue.handle_timeout(NOW_MS + 1_000);
    assert!(
        drain(&mut queue).is_empty(),
        "nobody moved up: the place is kept"
    );

    let at_ms = NOW_MS + 10 + GRACE_MS - 1;
    assert_eq!(queue.resume(at_ms, secret), Ok(returns));
    let outputs = drain(&mut queue);
    assert_eq!(told(&outputs), vec![(returns, 1)], "told its place at once");
    assert_ne!(secret_of(&outputs, returns), secret, "a fresh ticket");
    assert_eq!(queue.away(), 0);

    queue.handle_timeout(at_ms + GRACE_MS);
    assert_eq!(queue.waiting(), 2, "back for good: the grace window ended");
    queue.handle_done(at_ms + GRACE_MS, hashing);
    assert_eq!(
        started(&drain(&mut queue)),
        vec![returns],
        "ahead of {behind:?}"
    );
}

#[test]
fn a_login_at_the_head_while_its_client_is_away_is_skipped_and_starts_first_on_return() {
    let mut queue = queue(1, 100);
    let first = queue.arrive(NOW_MS);
    let away = queue.arrive(NOW_MS);
    let present = queue.arrive(NOW_MS);
    let secret = secret_of(&drain(&mut queue), away);
    queue.handle_left(NOW_MS + 10, away);
    queue.handle_done(NOW_MS + 100, first);
    assert_eq!(
        started(&drain(&mut queue)),
        vec![present],
        "no hash for nobody, and no worker idle"
    );

    let back = queue.resume(NOW_MS + 200, secret).unwrap();
    assert_eq!(told(&drain(&mut queue)), vec![(back, 1)]);
    let later = queue.arrive(NOW_MS + 300);
    assert_eq!(told(&drain(&mut queue)), vec![(later, 2)]);
    queue.handle_done(NOW_MS + 400, present);
    assert_eq!(started(&drain(&mut queue)), vec![away]);

    // Away while every worker is free: it starts as soon as it is back.
    let mut queue = self::queue(1, 100);
    let hashing = queue.arrive(NOW_MS);
    let away = queue.arrive(NOW_MS);
    let secret = secret_of(&drain(&mut queue), away);
    queue.handle_left(NOW_MS + 10, away);
    queue.handle_done(NOW_MS + 100, hashing);
    assert!(started(&drain(&mut queue)).is_empty());
    let arrived = queue.arrive(NOW_MS + 150);
    assert_eq!(started(&drain(&mut queue)), vec![arrived], "not behind it");
    queue.handle_done(NOW_MS + 200, arrived);
    assert_eq!(queue.resume(NOW_MS + 300, secret), Ok(away));
    assert_eq!(drain(&mut queue), vec![QueueOutput::Start { ticket: away }]);
}

#[test]
fn a_client_gone_past_the_grace_window_is_dropped_and_costs_no_hash() {
    let mut queue = queue(1, 2);
    let hashing = queue.arrive(NOW_MS);
    let gone = queue.arrive(NOW_MS);
    let stays = queue.arrive(NOW_MS);
    let secret = secret_of(&drain(&mut queue), gone);
    queue.handle_left(NOW_MS + 10, gone);
    let refused = queue.arrive(NOW_MS + 20);
    assert!(
        matches!(drain(&mut queue)[..], [QueueOutput::Busy { ticket, .. }] if ticket == refused),
        "an away login still holds its place in the bound"
    );

    let ends_ms = NOW_MS + 10 + GRACE_MS;
    queue.handle_timeout(ends_ms - 1);
    assert!(!drain(&mut queue).contains(&QueueOutput::Dropped { ticket: gone }));
    queue.handle_timeout(ends_ms);
    assert_eq!(
        drain(&mut queue),
        vec![QueueOutput::Dropped { ticket: gone }]
    );
    let update_ms = queue.poll_timeout().unwrap();
    queue.handle_timeout(update_ms);
    assert_eq!(told(&drain(&mut queue)), vec![(stays, 1)], "moved up");
    assert_eq!(
        queue.resume(ends_ms + 1, secret),
        Err(ResumeRefused::Expired)
    );

    queue.handle_done(ends_ms + 50, hashing);
    queue.handle_done(ends_ms + 100, stays);
    assert_eq!(started(&drain(&mut queue)), vec![stays]);
    assert_eq!((queue.hashing(), queue.waiting()), (0, 0));
    assert_eq!(queue.poll_timeout(), None, "nothing left to time");
}

#[test]
fn a_replayed_or_unknown_ticket_resumes_nothing() {
    let mut queue = queue(1, 100);
    let hashing = queue.arrive(NOW_MS);
    let waiting = queue.arrive(NOW_MS);
    let first = secret_of(&drain(&mut queue), waiting);
    queue.handle_left(NOW_MS + 10, waiting);
    assert_eq!(queue.resume(NOW_MS + 20, first), Ok(waiting));
    let second = secret_of(&drain(&mut queue), waiting);
    assert_eq!(
        queue.resume(NOW_MS + 30, first),
        Err(ResumeRefused::Used),
        "replayed"
    );
    assert_eq!(
        queue.resume(NOW_MS + 30, 0xdead),
        Err(ResumeRefused::Unknown)
    );

    // A client whose old connection still looks open takes the login over.
    assert_eq!(queue.resume(NOW_MS + 40, second), Ok(waiting));
    let third = secret_of(&drain(&mut queue), waiting);
    queue.handle_done(NOW_MS + 50, hashing);
    assert_eq!(started(&drain(&mut queue)), vec![waiting]);
    assert_eq!(
        queue.resume(NOW_MS + 60, third),
        Err(ResumeRefused::Used),
        "the login left the queue to be served"
    );

    // An ended ticket is remembered for one grace window.
    let _input = queue.arrive(NOW_MS + 20 + GRACE_MS);
    assert_eq!(
        queue.resume(NOW_MS + 20 + GRACE_MS, first),
        Err(ResumeRefused::Unknown)
    );
    assert_eq!(
        queue.resume(NOW_MS + 20 + GRACE_MS, third),
        Err(ResumeRefused::Used)
    );
}

#[test]
fn the_queue_remembers_at_most_its_bound_of_ended_tickets() {
    let mut queue = queue(1, 2);
    let hashing = queue.arrive(NOW_MS);
    let waiting = queue.arrive(NOW_MS);
    let mut secrets = vec![secret_of(&drain(&mut queue), waiting)];
    for step in 0..3 {
        queue.handle_left(NOW_MS + step, waiting);
        queue.resume(NOW_MS + step, secrets[step as usize]).unwrap();
        secrets.push(secret_of(&drain(&mut queue), waiting));
    }
    assert_eq!(
        queue.resume(NOW_MS + 3, secrets[0]),
        Err(ResumeRefused::Unknown),
        "forgotten"
    );
    assert_eq!(
        queue.resume(NOW_MS + 3, secrets[1]),
        Err(ResumeRefused::Used)
    );
    assert_eq!(
        queue.resume(NOW_MS + 3, secrets[2]),
        Err(ResumeRefused::Used)
    );
    assert_eq!(queue.resume(NOW_MS + 3, secrets[3]), Ok(waiting));
    queue.handle_done(NOW_MS + 4, hashing);
}

#[test]
fn the_expected_wait_follows_the_measured_hash_times() {
    let mut queue = queue(2, 100);
    assert_eq!(queue.expected_wait_ms(4), 200, "two rounds of the estimate");
    let mut now_ms = NOW_MS;
    for _ in 0..40 {
        let ticket = queue.arrive(now_ms);
        now_ms += 400;
        queue.handle_done(now_ms, ticket);
    }
    let expected_ms = queue.expected_wait_ms(4);
    assert!(
        (780..=800).contains(&expected_ms),
        "hashes take 400 ms: two rounds are about 800 ms, not {expected_ms}"
    );
    drain(&mut queue);
    let _busy: Vec<Ticket> = (0..2).map(|_| queue.arrive(now_ms)).collect();
    let waiting = queue.arrive(now_ms);
    let outputs = drain(&mut queue);
    assert!(
        matches!(outputs.last(), Some(QueueOutput::Queued { ticket, position: 1, expected_wait_ms, .. })
            if *ticket == waiting && (390..=400).contains(expected_wait_ms)),
        "{outputs:?}"
    );
}
