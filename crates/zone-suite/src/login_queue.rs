//! Login storms over real sockets (DESIGN §11): password logins beyond the
//! hashing pool wait in the login queue and are told their place, one more
//! than the queue holds is answered `BUSY` at once, device-id logins do not
//! wait behind them, a place survives a dropped connection for the grace
//! window (the client resumes with its queue ticket, also through the client
//! library) and is dropped past it without a hash, a replayed or unknown
//! ticket is refused, and repeated wrong passwords are limited while the
//! right one works once the limit's window has passed.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use client::{ClientConfig, ClientError, Connection};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use wire::client::client_frame::Body;
use wire::client::server_frame::Body as Reply;
use wire::client::{
    ClientFrame, ErrorCode, LoginOk, LoginQueued, Register, ResumeQueue, ServerFrame,
};
use wire::frame::transport::{FrameReader, FrameWriter, split_tcp};

use crate::helpers::*;
use crate::{TestZone, fast_zone};

/// argon2 passes that make one hash last long enough (hundreds of
/// milliseconds) for a second and a third login to arrive during it.
const SLOW_HASH_ITERATIONS: u32 = 60;
/// argon2 passes for the client library's tests: long enough for the
/// library's login to queue behind two others, short enough that its wait
/// stays well within the library's request timeout (each test's zone hashes
/// while the others' do).
const LIBRARY_HASH_ITERATIONS: u32 = 12;

/// How long a test's connection waits for an answer.
const PATIENCE: Duration = Duration::from_secs(120);

fn register(name: &str) -> Body {
    Body::Register(Register {
        account: name.into(),
        password: "pw".into(),
    })
}

/// A zone whose account center hashes on one worker, slowly, keeps `queue_max`
/// logins waiting and `grace_ms` for a client to come back, and tells a
/// moved place within 50 ms.
async fn slow_zone<Z: TestZone>(queue_max: usize, grace_ms: u64) -> Option<Z> {
    zone_hashing(queue_max, grace_ms, SLOW_HASH_ITERATIONS).await
}

/// [`slow_zone`] with `iterations` argon2 passes per hash.
async fn zone_hashing<Z: TestZone>(queue_max: usize, grace_ms: u64, iterations: u32) -> Option<Z> {
    let mut config = fast_zone(3);
    config.timing.token_ttl_ms = 60_000;
    config.login.hash_workers = 1;
    // One login started at a time (none ready behind the hash): the next
    // waits in the queue.
    config.login.hash_jobs_per_worker = 1;
    config.login.queue_max = queue_max;
    config.login.queue_grace_ms = grace_ms;
    config.login.position_update_interval_ms = 50;
    config.login.argon2_iterations = iterations;
    // The memory these passes were chosen for.
    config.login.argon2_memory_kib = 19_456;
    Z::start(config).await
}

/// Registrations sent on connections of their own, with their answers to come.
struct Line {
    connections: Vec<Arc<Connection>>,
    answers: Vec<JoinHandle<Result<Reply, ClientError>>>,
}

impl Line {
    /// Registers each of `names` on a connection of its own.
    async fn join(addr: &str, names: &[&str]) -> Self {
        let mut line = Line {
            connections: Vec::new(),
            answers: Vec::new(),
        };
        for name in names {
            line.send(addr, register(name)).await;
        }
        line
    }

    /// Sends `body` on a new connection, which waits as long as the test for
    /// its answer (two slow hashes on a busy machine can outlast the default
    /// request timeout).
    async fn send(&mut self, addr: &str, body: Body) {
        let config = ClientConfig {
            request_timeout: PATIENCE,
            ..ClientConfig::default()
        };
        let connection = Connection::connect_tcp_with(addr, config).await.unwrap();
        let connection = Arc::new(connection);
        let asking = connection.clone();
        self.connections.push(connection);
        self.answers
            .push(tokio::spawn(async move { asking.request(body).await }));
    }

    /// The place-in-queue updates of each connection.
    fn queued(&self) -> Vec<watch::Receiver<Option<LoginQueued>>> {
        self.connections.iter().map(|c| c.queued()).collect()
    }

    /// Closes connection `index`: its request ends, its socket closes.
    async fn drop_connection(&mut self, index: usize) {
        self.answers[index].abort();
        let _aborted = (&mut self.answers[index]).await;
        let connection = self.connections.remove(index);
        assert_eq!(Arc::strong_count(&connection), 1, "the last handle");
        self.answers.remove(index);
    }

    /// The `LoginOk` that answered connection `index`.
    async fn login_ok(&mut self, index: usize) -> LoginOk {
        match (&mut self.answers[index]).await.unwrap() {
            Ok(Reply::LoginOk(login_ok)) => login_ok,
            other => panic!("expected LoginOk, got {other:?}"),
        }
    }
}

/// Logins beyond the pool wait and beyond the queue are busy.
pub async fn logins_beyond_the_pool_wait_and_beyond_the_queue_are_busy<Z: TestZone>() {
    let Some(zone) = slow_zone::<Z>(1, 0).await else {
        return;
    };
    let addr = zone.account();

    // Two registrations: one hashes, the other waits at position 1.
    let mut line = Line::join(&addr, &["ann", "bob"]).await;
    let (told, _) = first_queued(&line.queued()).await;
    assert_eq!(told.position, 1);
    assert!(told.expected_wait_ms > 0);

    // The queue is full: a third is refused at once, with a time to retry.
    let refused = Connection::connect_tcp(&addr).await.unwrap();
    match refused.request(register("cid")).await {
        Err(ClientError::Server {
            code: ErrorCode::Busy,
            retry_after: Some(retry_after),
            ..
        }) => assert!(retry_after > Duration::ZERO),
        other => panic!("expected BUSY, got {other:?}"),
    }

    // A device-id login needs no hash and does not wait behind them.
    let device = client::account::login_device(&addr, "device-1").await;
    assert!(device.is_ok(), "{device:?}");
    assert!(
        line.answers.iter().any(|answer| !answer.is_finished()),
        "the device login was answered while a password login still waited"
    );

    // The waiting login reaches admission and is answered.
    for index in 0..2 {
        line.login_ok(index).await;
    }
    zone.shutdown().await;
}

/// A client that reconnects within the grace window keeps its place.
pub async fn a_client_that_reconnects_within_the_grace_window_keeps_its_place<Z: TestZone>() {
    let Some(zone) = slow_zone::<Z>(10, 60_000).await else {
        return;
    };
    let addr = zone.account();
    let mut line = Line::join(&addr, &["ann", "bob"]).await;
    let (told, returning) = first_queued(&line.queued()).await;
    assert_eq!(told.position, 1);
    assert_eq!(told.ticket.len(), 16, "a queue ticket of 128 bits");
    line.send(&addr, register("cid")).await;
    let behind = queued_at(&mut line.queued()[2]).await;
    assert_eq!(behind.position, 2);

    // The waiting client's socket drops; it comes back on a new connection
    // with its ticket and is told its place at once, ahead of cid.
    line.drop_connection(returning).await;
    let resume = Body::ResumeQueue(ResumeQueue {
        ticket: told.ticket.clone(),
    });
    line.send(&addr, resume).await;
    let back = queued_at(&mut line.queued()[2]).await;
    assert_eq!(back.position, 1, "kept its place");
    assert_ne!(back.ticket, told.ticket, "a fresh ticket");

    // Served in that order: the resumed registration creates its account
    // before cid's.
    let cid = line.login_ok(1).await;
    let resumed = line.login_ok(2).await;
    assert!(resumed.account_id < cid.account_id, "{resumed:?} {cid:?}");
    zone.shutdown().await;
}

/// A client gone past the grace window is dropped and costs no hash.
pub async fn a_client_gone_past_the_grace_window_is_dropped_and_costs_no_hash<Z: TestZone>() {
    let Some(zone) = slow_zone::<Z>(10, 100).await else {
        return;
    };
    let addr = zone.account();
    let mut line = Line::join(&addr, &["ann", "bob"]).await;
    let (told, gone) = first_queued(&line.queued()).await;
    let gone_name = ["ann", "bob"][gone];
    line.send(&addr, register("cid")).await;
    assert_eq!(queued_at(&mut line.queued()[2]).await.position, 2);

    // Its client stays away: cid moves up past it, and its ticket expired.
    line.drop_connection(gone).await;
    let mut cid_queued = line.queued()[1].clone();
    test_support::eventually("cid moves up to position 1", || {
        let position = cid_queued
            .borrow_and_update()
            .as_ref()
            .map(|queued| queued.position);
        async move { (position == Some(1)).then_some(()) }
    })
    .await;
    let late = Connection::connect_tcp(&addr).await.unwrap();
    let resume = Body::ResumeQueue(ResumeQueue {
        ticket: told.ticket.clone(),
    });
    assert_eq!(code(late.request(resume).await), ErrorCode::TokenExpired);

    // Its registration never hashed: the account does not exist.
    line.login_ok(0).await;
    line.login_ok(1).await;
    let again = client::account::register(&addr, gone_name, "pw").await;
    assert!(again.is_ok(), "{again:?}");
    zone.shutdown().await;
}

/// A replayed or unknown queue ticket is refused and a live one takes the login over.
pub async fn a_replayed_or_unknown_queue_ticket_is_refused_and_a_live_one_takes_the_login_over<
    Z: TestZone,
>() {
    let Some(zone) = slow_zone::<Z>(10, 60_000).await else {
        return;
    };
    let addr = zone.account();
    let mut line = Line::join(&addr, &["ann", "bob"]).await;
    let (told, waiting) = first_queued(&line.queued()).await;
    line.drop_connection(waiting).await;
    let resume = |ticket: &[u8]| {
        Body::ResumeQueue(ResumeQueue {
            ticket: ticket.to_vec(),
        })
    };
    line.send(&addr, resume(&told.ticket)).await;
    assert_eq!(queued_at(&mut line.queued()[1]).await.position, 1);

    let other = Connection::connect_tcp(&addr).await.unwrap();
    let replayed = other.request(resume(&told.ticket)).await;
    assert_eq!(code(replayed), ErrorCode::TokenUsed);
    let unknown = other.request(resume(&[7; 16])).await;
    assert_eq!(code(unknown), ErrorCode::BadToken);
    let short = other.request(resume(&[7; 15])).await;
    assert_eq!(code(short), ErrorCode::BadToken);

    // The newest ticket, presented while its connection is open, moves the
    // login to the new connection; the old request is told so.
    let newest = queued_at(&mut line.queued()[1]).await.ticket;
    line.send(&addr, resume(&newest)).await;
    assert_eq!(queued_at(&mut line.queued()[2]).await.position, 1);
    let before = (&mut line.answers[1]).await.unwrap();
    assert_eq!(code(before), ErrorCode::LoggedInElsewhere);
    line.login_ok(2).await;
    zone.shutdown().await;
}

/// The client library resumes a queued login after its connection drops.
pub async fn the_client_library_resumes_a_queued_login_after_its_connection_drops<Z: TestZone>() {
    let Some(zone) = zone_hashing::<Z>(10, 60_000, LIBRARY_HASH_ITERATIONS).await else {
        return;
    };
    let addr = zone.account();
    let line = Line::join(&addr, &["ann", "bob"]).await;
    first_queued(&line.queued()).await;

    // The proxy cuts the first connection once the login is queued.
    let proxy = CuttingProxy::start(addr.clone(), false).await;
    let login = client::account::register(&proxy.addr, "cid", "pw").await;
    assert!(login.is_ok(), "{login:?}");
    // The first connection asked, every later one resumed (more than one
    // when a wait outlasts the library's request timeout).
    let requests = proxy.requests();
    let asked: Vec<&str> = requests
        .iter()
        .filter(|(_, kind)| *kind != "Hello")
        .map(|(_, kind)| *kind)
        .collect();
    assert_eq!(asked[..2], ["Register", "ResumeQueue"], "{requests:?}");
    assert!(
        asked[1..].iter().all(|kind| *kind == "ResumeQueue"),
        "{requests:?}"
    );
    assert_eq!(requests[..2], [(0, "Hello"), (0, "Register")]);
    zone.shutdown().await;
}

/// The client library logs in again when its queue ticket is refused.
pub async fn the_client_library_logs_in_again_when_its_queue_ticket_is_refused<Z: TestZone>() {
    let Some(zone) = zone_hashing::<Z>(10, 60_000, LIBRARY_HASH_ITERATIONS).await else {
        return;
    };
    let addr = zone.account();
    let line = Line::join(&addr, &["ann", "bob"]).await;
    first_queued(&line.queued()).await;

    // The proxy cuts the first connection and spoils every ticket presented.
    let proxy = CuttingProxy::start(addr.clone(), true).await;
    let login = client::account::register(&proxy.addr, "cid", "pw").await;
    assert!(login.is_ok(), "{login:?}");
    let requests = proxy.requests();
    let asked: Vec<&str> = requests.iter().map(|(_, kind)| *kind).collect();
    assert_eq!(
        asked[..6],
        [
            "Hello",
            "Register",
            "Hello",
            "ResumeQueue",
            "Hello",
            "Register"
        ],
        "refused BAD_TOKEN, it sent the registration again"
    );
    zone.shutdown().await;
}

/// The first `LoginQueued` seen on any of the connections, and its index.
async fn first_queued(waiting: &[watch::Receiver<Option<LoginQueued>>]) -> (LoginQueued, usize) {
    test_support::eventually("a login is queued", || {
        let first = waiting
            .iter()
            .enumerate()
            .find_map(|(index, receiver)| Some((receiver.borrow().clone()?, index)));
        async move { first }
    })
    .await
}

/// The first `LoginQueued` on `receiver`.
async fn queued_at(receiver: &mut watch::Receiver<Option<LoginQueued>>) -> LoginQueued {
    let queued = receiver.wait_for(Option::is_some).await.unwrap();
    queued.clone().unwrap()
}

/// A TCP proxy to the account center that cuts its first connection once the
/// server has sent two frames on it (`Welcome` and the first `LoginQueued`),
/// records the requests of every connection, and may spoil every queue
/// ticket presented (so the account center answers `BAD_TOKEN`).
struct CuttingProxy {
    addr: String,
    requests: Arc<Mutex<Vec<(usize, &'static str)>>>,
    accepting: JoinHandle<()>,
}

/// Server frames the proxy lets through on its first connection.
const FRAMES_BEFORE_THE_CUT: usize = 2;

impl CuttingProxy {
    async fn start(target: String, spoil_tickets: bool) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let recorded = requests.clone();
        let accepting = tokio::spawn(async move {
            for index in 0.. {
                let (client, _) = listener.accept().await.unwrap();
                let server = TcpStream::connect(&target).await.unwrap();
                let (client_read, client_write) = split_tcp(client);
                let (server_read, server_write) = split_tcp(server);
                let recorded = recorded.clone();
                let pass = move |mut frame: ClientFrame| {
                    recorded.lock().unwrap().push((index, kind(&frame)));
                    if let Some(Body::ResumeQueue(resume)) = &mut frame.body
                        && spoil_tickets
                    {
                        resume.ticket = vec![0; 16];
                    }
                    frame
                };
                tokio::spawn(forward(client_read, server_write, None, pass));
                let cut = (index == 0).then_some(FRAMES_BEFORE_THE_CUT);
                tokio::spawn(forward(
                    server_read,
                    client_write,
                    cut,
                    |frame: ServerFrame| frame,
                ));
            }
        });
        Self {
            addr,
            requests,
            accepting,
        }
    }

    fn requests(&self) -> Vec<(usize, &'static str)> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for CuttingProxy {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}

/// Forwards frames, each through `pass`, until either side ends or
/// `frames_max` went through, then closes the writing side.
async fn forward<M: wire::Message + Default>(
    mut from: FrameReader,
    mut to: FrameWriter,
    frames_max: Option<usize>,
    mut pass: impl FnMut(M) -> M,
) {
    let mut frames = 0;
    while let Ok(frame) = from.read_message::<M>(wire::frame::FRAME_BYTES_MAX).await {
        if to.write_message(&pass(frame)).await.is_err() {
            break;
        }
        frames += 1;
        if Some(frames) == frames_max {
            break;
        }
    }
    let _closed = to.close().await;
}

/// The name of a client frame's request.
fn kind(frame: &ClientFrame) -> &'static str {
    match frame.body {
        Some(Body::Hello(_)) => "Hello",
        Some(Body::Register(_)) => "Register",
        Some(Body::ResumeQueue(_)) => "ResumeQueue",
        _ => "another",
    }
}

/// Repeated wrong passwords are limited and the right one works after the wait.
pub async fn repeated_wrong_passwords_are_limited_and_the_right_one_works_after_the_wait<
    Z: TestZone,
>() {
    let mut config = fast_zone(3);
    config.login.failures_per_account_max = 2;
    config.login.failure_window_ms = 1_000;
    let Some(zone) = Z::start(config).await else {
        return;
    };
    let addr = zone.account();
    client::account::register(&addr, "lena", "right")
        .await
        .unwrap();

    for _ in 0..2 {
        let wrong = client::account::login_password(&addr, "lena", "wrong").await;
        assert_eq!(code(wrong), ErrorCode::BadCredentials);
    }
    let limited = client::account::login_password(&addr, "lena", "right").await;
    let retry_after = match limited {
        Err(ClientError::Server {
            code: ErrorCode::RateLimited,
            retry_after: Some(retry_after),
            ..
        }) => retry_after,
        other => panic!("expected RATE_LIMITED, got {other:?}"),
    };
    assert!(retry_after <= Duration::from_millis(1_000));
    tokio::time::sleep(retry_after).await;
    let login = client::account::login_password(&addr, "lena", "right").await;
    assert!(login.is_ok(), "the lockout expired: {login:?}");
    zone.shutdown().await;
}
