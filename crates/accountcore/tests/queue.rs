//! The login queue through its API, in virtual time: logins start at the
//! rate the hashing pool serves, the rest wait and are told their place as it
//! moves up, a full queue answers `BUSY` at once, a login whose client left
//! costs no hash, the expected wait follows the measured hash times, and a
//! worker has the next login ready behind its hash.

use accountcore::queue::{LoginQueue, QueueConfig, QueueOutput, Ticket};

const NOW_MS: u64 = 1_000_000;

/// A queue of `workers` slots: one login started per worker, none ready
/// behind it (the last test has them).
fn queue(workers: usize, waiting_max: usize) -> LoginQueue {
    let mut config = QueueConfig::new(workers);
    config.jobs_per_worker = 1;
    config.waiting_max = waiting_max;
    config.hash_estimate_ms = 100;
    config.position_update_interval_ms = 1_000;
    LoginQueue::new(config)
}

fn drain(queue: &mut LoginQueue) -> Vec<QueueOutput> {
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

#[test]
fn logins_beyond_the_pool_wait_and_are_told_their_place_as_it_moves_up() {
    let mut queue = queue(2, 100);
    let tickets: Vec<Ticket> = (0..5).map(|_| queue.handle_arrival(NOW_MS)).collect();
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
    let _hashing = queue.handle_arrival(NOW_MS);
    let _first = queue.handle_arrival(NOW_MS);
    let _second = queue.handle_arrival(NOW_MS);
    drain(&mut queue);
    let refused = queue.handle_arrival(NOW_MS);
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
fn a_login_whose_client_left_the_queue_costs_no_hash() {
    let mut queue = queue(1, 100);
    let hashing = queue.handle_arrival(NOW_MS);
    let gone = queue.handle_arrival(NOW_MS);
    let stays = queue.handle_arrival(NOW_MS);
    drain(&mut queue);
    queue.handle_left(NOW_MS + 10, gone);
    queue.handle_timeout(NOW_MS + 1_000);
    assert_eq!(told(&drain(&mut queue)), vec![(stays, 1)], "moved up");
    queue.handle_done(NOW_MS + 1_050, hashing);
    queue.handle_done(NOW_MS + 1_100, stays);
    let outputs = drain(&mut queue);
    assert_eq!(started(&outputs), vec![stays]);
    assert_eq!(queue.hashing(), 0, "the client that left was never started");
}

#[test]
fn the_expected_wait_follows_the_measured_hash_times() {
    let mut queue = queue(2, 100);
    assert_eq!(queue.expected_wait_ms(4), 200, "two rounds of the estimate");
    let mut now_ms = NOW_MS;
    for _ in 0..40 {
        let ticket = queue.handle_arrival(now_ms);
        now_ms += 400;
        queue.handle_done(now_ms, ticket);
    }
    let expected_ms = queue.expected_wait_ms(4);
    assert!(
        (780..=800).contains(&expected_ms),
        "hashes take 400 ms: two rounds are about 800 ms, not {expected_ms}"
    );
    drain(&mut queue);
    let _busy: Vec<Ticket> = (0..2).map(|_| queue.handle_arrival(now_ms)).collect();
    let waiting = queue.handle_arrival(now_ms);
    let outputs = drain(&mut queue);
    assert!(
        matches!(outputs.last(), Some(QueueOutput::Queued { ticket, position: 1, expected_wait_ms })
            if *ticket == waiting && (390..=400).contains(expected_wait_ms)),
        "{outputs:?}"
    );
}

#[test]
fn a_worker_has_the_next_login_ready_and_the_wait_counts_every_slot() {
    let mut config = QueueConfig::new(2);
    config.jobs_per_worker = 2;
    config.hash_estimate_ms = 100;
    let mut queue = LoginQueue::new(config);
    let tickets: Vec<Ticket> = (0..6).map(|_| queue.handle_arrival(NOW_MS)).collect();
    let outputs = drain(&mut queue);
    assert_eq!(
        started(&outputs),
        tickets[..4].to_vec(),
        "two workers, each with one hashing and one ready"
    );
    assert_eq!(told(&outputs), vec![(tickets[4], 1), (tickets[5], 2)]);

    // A slot frees up: the first in line starts at once, no timer involved.
    queue.handle_done(NOW_MS + 100, tickets[0]);
    assert_eq!(started(&drain(&mut queue)), vec![tickets[4]]);
    assert_eq!(queue.hashing(), 4);

    // Saturated, each login spends one hash waiting behind its worker's
    // current one and one hashing: 200 ms a hash makes 400 ms start to done.
    // The 8th in line then waits for 8 logins at 2 workers ÷ 200 ms.
    let mut now_ms = NOW_MS + 100;
    for ticket in &tickets[1..] {
        now_ms += 400;
        queue.handle_done(now_ms, *ticket);
    }
    for _ in 0..40 {
        let ticket = queue.handle_arrival(now_ms);
        now_ms += 400;
        queue.handle_done(now_ms, ticket);
    }
    let expected_ms = queue.expected_wait_ms(8);
    assert!(
        (790..=810).contains(&expected_ms),
        "8 logins at 2 per 200 ms take about 800 ms, not {expected_ms}"
    );
}
