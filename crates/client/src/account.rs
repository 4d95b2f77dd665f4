//! Account center helpers: each opens a connection, asks once, and closes.
//!
//! The answer is a `LoginOk` naming the server to enter and a one-time login
//! token for it; pass both to [`GameSession::enter`](crate::GameSession::enter).

use wire::client::client_frame::Body;
use wire::client::{Login, LoginOk, Password, Register, login};

use crate::{ClientError, Connection, expect_reply};

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

/// One request to the account center, expecting `LoginOk`.
async fn ask(account_addr: &str, body: Body) -> Result<LoginOk, ClientError> {
    let connection = Connection::connect_tcp(account_addr).await?;
    expect_reply!(connection.request(body).await?, LoginOk)
}
