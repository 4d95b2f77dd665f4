//! How a bus message travels on NATS: the payload is the protobuf
//! `NodeMessage` (the same encoding on every bus, DESIGN §4); a request
//! carries its sender's name in the `Kuafu-From` header (as a subject token,
//! so no name can break the header); a reply the bus gives instead of the
//! node (the node's inbox was full, or it stopped) carries
//! `Kuafu-Bus-Error` and no payload.

use async_nats::HeaderMap;
use bytes::Bytes;
use prost::Message as _;
use wire::client::ErrorCode;
use wire::node::NodeMessage;

use bus::BusError;

use crate::subjects;

/// The header naming a request's sender.
const HEADER_FROM: &str = "Kuafu-From";
/// The header of a reply the bus gave instead of the node.
const HEADER_BUS_ERROR: &str = "Kuafu-Bus-Error";
const OVERLOADED: &str = "overloaded";
const STOPPED: &str = "stopped";

/// A reply to a request, as the responding side sends it.
#[derive(Debug)]
pub(crate) enum Answer {
    /// The node's answer.
    Node(NodeMessage),
    /// The node's inbox was full: the request was not delivered.
    Overloaded,
    /// The node stopped (unbound, dropped its inbox, or dropped the request).
    Stopped,
}

impl Answer {
    /// The reply's headers and payload.
    pub(crate) fn into_parts(self) -> (Option<HeaderMap>, Bytes) {
        let refusal = match self {
            Self::Node(message) => return (None, message.encode_to_vec().into()),
            Self::Overloaded => OVERLOADED,
            Self::Stopped => STOPPED,
        };
        let mut headers = HeaderMap::new();
        headers.insert(HEADER_BUS_ERROR, refusal);
        (Some(headers), Bytes::new())
    }
}

/// The headers and payload of a request from node `from`.
pub(crate) fn request(from: &str, message: &NodeMessage) -> (HeaderMap, Bytes) {
    let mut headers = HeaderMap::new();
    headers.insert(HEADER_FROM, subjects::token(from).as_str());
    (headers, message.encode_to_vec().into())
}

/// A request as the bound node receives it: its sender and message, or the
/// error reply a malformed request gets.
pub(crate) fn open_request(
    headers: Option<&HeaderMap>,
    payload: Bytes,
) -> Result<(String, NodeMessage), NodeMessage> {
    let from = headers
        .and_then(|headers| headers.get(HEADER_FROM))
        .and_then(|token| subjects::name(token.as_str()))
        .ok_or_else(|| malformed("a request names its sender in the Kuafu-From header"))?;
    let message = NodeMessage::decode(payload)
        .map_err(|error| malformed(&format!("the request is not a NodeMessage: {error}")))?;
    Ok((from, message))
}

fn malformed(reason: &str) -> NodeMessage {
    bus::error_reply(ErrorCode::MalformedFrame, reason)
}

/// The requester's view of a reply from node `to`.
pub(crate) fn open_reply(
    to: &str,
    headers: Option<&HeaderMap>,
    payload: Bytes,
) -> Result<NodeMessage, BusError> {
    if let Some(refusal) = headers.and_then(|headers| headers.get(HEADER_BUS_ERROR)) {
        return Err(match refusal.as_str() {
            OVERLOADED => BusError::Overloaded(to.to_owned()),
            STOPPED => BusError::NodeStopped(to.to_owned()),
            other => BusError::Transport(format!("{to} answered with bus error {other:?}")),
        });
    }
    let reply = NodeMessage::decode(payload).map_err(|error| {
        BusError::Transport(format!("{to}'s reply is not a NodeMessage: {error}"))
    })?;
    bus::into_result(reply)
}

/// The payload of a topic message.
pub(crate) fn topic_message(message: &NodeMessage) -> Bytes {
    message.encode_to_vec().into()
}

/// A topic message, or why it is not one.
pub(crate) fn open_topic_message(payload: Bytes) -> Result<NodeMessage, prost::DecodeError> {
    NodeMessage::decode(payload)
}

#[cfg(test)]
mod tests {
    use super::*;
    use wire::node::IsOnline;
    use wire::node::node_message::Body;

    fn is_online() -> NodeMessage {
        NodeMessage {
            body: Some(Body::IsOnline(IsOnline { roleid: 7 })),
        }
    }

    #[test]
    fn a_request_opens_to_its_sender_and_message() {
        let (headers, payload) = request("gs 1\r\nX: y", &is_online());
        let opened = open_request(Some(&headers), payload);
        assert_eq!(opened, Ok(("gs 1\r\nX: y".to_owned(), is_online())));
    }

    #[test]
    fn a_malformed_request_gets_a_typed_error_reply() {
        let (_, payload) = request("gs1", &is_online());
        let unsigned = open_request(None, payload.clone()).unwrap_err();
        let garbage = open_request(Some(&request("gs1", &is_online()).0), Bytes::from("\u{ff}"));
        for reply in [unsigned, garbage.unwrap_err()] {
            let refusal = bus::into_result(reply).unwrap_err();
            assert!(
                matches!(
                    refusal,
                    BusError::Remote {
                        code: ErrorCode::MalformedFrame,
                        ..
                    }
                ),
                "{refusal:?}"
            );
        }
    }

    #[test]
    fn the_bus_refusals_come_back_typed() {
        for (answer, expected) in [
            (Answer::Overloaded, BusError::Overloaded("gs1".into())),
            (Answer::Stopped, BusError::NodeStopped("gs1".into())),
        ] {
            let (headers, payload) = answer.into_parts();
            assert_eq!(open_reply("gs1", headers.as_ref(), payload), Err(expected));
        }
        let (headers, payload) = Answer::Node(is_online()).into_parts();
        assert_eq!(
            open_reply("gs1", headers.as_ref(), payload),
            Ok(is_online())
        );
    }

    #[test]
    fn an_undecodable_reply_is_a_transport_error_not_a_refusal() {
        let reply = open_reply("gs1", None, Bytes::from_static(b"\xff\xff\xff"));
        assert!(matches!(reply, Err(BusError::Transport(_))), "{reply:?}");
    }
}
