//! The writes a batch owes the database, sent together: the writes to the
//! rows it holds locked ([`super::locked`]) wait for `COMMIT` and go out in
//! its round trip; any other statement first sends what is owed
//! ([`Deferred::flush`]), so every statement sees the batch's own writes.
//!
//! A deferred `UPDATE` names its row; the row is locked by this transaction
//! since its first round trip, so it is there. Should one still change no
//! row, the batch fails: before `COMMIT` it rolls back; with `COMMIT` its
//! outcome is unknown, as after any failed commit, and the caller reads
//! back. A failing statement aborts the transaction, so the `COMMIT`
//! pipelined after it rolls back and the failure is the statement's.
//! At most the statements of one batch are owed: two per write, one per
//! claim or renewed lease, of at most `store::BATCH_OPS_MAX` ops (a
//! renewal names at most the node's hosted players, its `players_max`).

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::task::Poll;

use routing::RoleId;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Statement};

use crate::connection::{Connection, Failure};

/// A statement's parameter, owned until the statement is sent.
pub(super) type Param = Box<dyn ToSql + Sync + Send>;

/// One statement owed.
struct Owed {
    statement: Statement,
    params: Vec<Param>,
    /// The row an `UPDATE` must change, if it is one.
    updates: Option<RoleId>,
}

/// The statements a batch owes, in the order it made them.
#[derive(Default)]
pub(super) struct Deferred(Vec<Owed>);

impl Deferred {
    /// Owes `statement` with `params`; `updates` names the one row it must
    /// change, if any.
    pub(super) fn push(
        &mut self,
        statement: &Statement,
        params: Vec<Param>,
        updates: Option<RoleId>,
    ) {
        self.0.push(Owed {
            statement: statement.clone(),
            params,
            updates,
        });
    }

    /// Sends every statement owed, in one round trip.
    pub(super) fn flush(&mut self, connection: &Connection) -> Result<(), Failure> {
        if self.0.is_empty() {
            return Ok(());
        }
        let counts = connection.run(self.send(connection.client()))?;
        let checked = self.check(&counts);
        self.0.clear();
        checked
    }

    /// Sends every statement owed and `COMMIT`, in one round trip; a
    /// failure leaves the outcome unknown.
    pub(super) fn commit(self, connection: &Connection) -> Result<(), Failure> {
        let client = connection.client();
        let committed = connection.run(async {
            let (counts, ()) = tokio::try_join!(self.send(client), client.batch_execute("COMMIT"))?;
            Ok(counts)
        });
        committed
            .and_then(|counts| self.check(&counts))
            .map_err(|failure| Failure(format!("commit failed, outcome unknown: {failure}")))
    }

    /// Every statement owed, pipelined in the order owed: the rows each
    /// changed. A statement is sent when its future is first polled, so
    /// every future is polled in order, each until it is done.
    async fn send(&self, client: &Client) -> Result<Vec<u64>, tokio_postgres::Error> {
        type Sent<'a> = Pin<Box<dyn Future<Output = Result<u64, tokio_postgres::Error>> + 'a>>;
        let mut sent: Vec<Sent<'_>> = self
            .0
            .iter()
            .map(|owed| -> Sent<'_> {
                let params: Vec<&(dyn ToSql + Sync)> = owed
                    .params
                    .iter()
                    .map(|param| param.as_ref() as &(dyn ToSql + Sync))
                    .collect();
                Box::pin(async move { client.execute(&owed.statement, &params).await })
            })
            .collect();
        let mut answers: Vec<Option<Result<u64, tokio_postgres::Error>>> =
            sent.iter().map(|_| None).collect();
        poll_fn(|context| {
            let mut done = true;
            for (future, answer) in sent.iter_mut().zip(answers.iter_mut()) {
                if answer.is_none() {
                    match future.as_mut().poll(context) {
                        Poll::Ready(changed) => *answer = Some(changed),
                        Poll::Pending => done = false,
                    }
                }
            }
            if done { Poll::Ready(()) } else { Poll::Pending }
        })
        .await;
        answers.into_iter().flatten().collect()
    }

    /// Fails when an `UPDATE` owed changed no row, or more than one.
    fn check(&self, counts: &[u64]) -> Result<(), Failure> {
        for (owed, changed) in self.0.iter().zip(counts) {
            if let Some(roleid) = owed.updates {
                super::rows::expect_one_row(*changed, roleid)?;
            }
        }
        Ok(())
    }
}
