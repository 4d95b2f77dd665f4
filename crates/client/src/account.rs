//! Account center helpers: each opens a connection, asks once, and closes.
//!
//! The answer is a `LoginOk` naming the server to enter and a one-time login
//! token for it; pass both to [`GameSession::enter`](crate::GameSession::enter).
//!
//! A password login or a registration may wait in the account center's
//! login queue. If the connection drops (or falls silent past the request
//! timeout) while it waits, the helper reconnects and presents the newest
//! queue ticket in `ResumeQueue`, keeping the login's place; a ticket the
//! server no longer takes (`BAD_TOKEN`, `TOKEN_EXPIRED`, `TOKEN_USED`) sends
//! the original request again. At most [`RetryPolicy::attempts_max`] requests
//! in all, with the default policy's backoff between them.

use wire::client::client_frame::Body;
use wire::client::server_frame::Body as Reply;
use wire::client::{ErrorCode, Login, LoginOk, Password, Register, ResumeQueue, login};

use crate::retry::{RetryPolicy, backoff};
use crate::{ClientError, Connection, expect_reply};

/// The errors with which the account center refuses a queue ticket.
const TICKET_REFUSALS: [ErrorCode; 3] = [
    ErrorCode::BadToken,
    ErrorCode::TokenExpired,
    ErrorCode::TokenUsed,
];

/// Creates a password account and logs it in.
pub async fn register(
    account_addr: &str,
    account: &str,
    password: &str,
) -> Result<LoginOk, ClientError> {
    let register = Register {
        account: account.into(),
        password: password.into(),
    };
    ask(account_addr, Body::Register(register)).await
}

/// Logs in with an account name and password.
pub async fn login_password(
    account_addr: &str,
    account: &str,
    password: &str,
) -> Result<LoginOk, ClientError> {
    let password = Password {
        account: account.into(),
        password: password.into(),
    };
    let credential = login::Credential::Password(password);
    ask(account_addr, login_body(credential)).await
}

/// Logs in with a device id (the account center creates the account on first use).
pub async fn login_device(account_addr: &str, device_id: &str) -> Result<LoginOk, ClientError> {
    let credential = login::Credential::DeviceId(device_id.into());
    ask(account_addr, login_body(credential)).await
}

fn login_body(credential: login::Credential) -> Body {
    Body::Login(Login {
        credential: Some(credential),
    })
}

/// One request to the account center, expecting `LoginOk`; resumed with its
/// queue ticket when the connection is lost while it waits in the queue.
async fn ask(account_addr: &str, body: Body) -> Result<LoginOk, ClientError> {
    let policy = RetryPolicy::default();
    let mut ticket = None;
    let mut attempt = 0;
    loop {
        let request = match &ticket {
            Some(ticket) => Body::ResumeQueue(ResumeQueue {
                ticket: Vec::clone(ticket),
            }),
            None => body.clone(),
        };
        let (answer, newest) = ask_once(account_addr, request).await;
        let retry = attempt + 1 < policy.attempts_max;
        match answer {
            Err(error) if retry && lost(&error) && (newest.is_some() || ticket.is_some()) => {
                ticket = newest.or(ticket);
                tracing::debug!(%error, attempt, "resuming the queued login");
                tokio::time::sleep(backoff(&policy, attempt, None, rand::random())).await;
            }
            Err(ClientError::Server { code, .. })
                if retry && ticket.is_some() && TICKET_REFUSALS.contains(&code) =>
            {
                tracing::debug!(?code, "queue ticket refused: logging in again");
                ticket = None;
            }
            answer => return expect_reply!(answer?, LoginOk),
        }
        attempt += 1;
    }
}

/// Sends `body` on a new connection: the answer, and the newest queue ticket
/// the connection was given, if any.
async fn ask_once(account_addr: &str, body: Body) -> (Result<Reply, ClientError>, Option<Vec<u8>>) {
    let connection = match Connection::connect_tcp(account_addr).await {
        Ok(connection) => connection,
        Err(error) => return (Err(error), None),
    };
    let answer = connection.request(body).await;
    let ticket = connection
        .queued()
        .borrow()
        .as_ref()
        .map(|queued| queued.ticket.clone())
        .filter(|ticket| !ticket.is_empty());
    (answer, ticket)
}

/// Whether the connection was lost (closed, broken or silent) rather than
/// the request answered.
fn lost(error: &ClientError) -> bool {
    matches!(
        error,
        ClientError::Io(_) | ClientError::Closed { .. } | ClientError::Timeout
    )
}
