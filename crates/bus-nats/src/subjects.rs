//! NATS subjects of a zone: `kuafu.<zone>.node.<name>` for a node's requests,
//! `kuafu.<zone>.topic.<name>` for a topic (and `kuafu.<zone>.barrier`, which
//! no one answers, for a round trip); a process's replies come to inboxes
//! under `_INBOX.kuafu.<zone>.<process>`. Zone, node and topic names
//! become one subject token each ([`token`]): characters a subject cannot
//! hold in a token are escaped, so every name has its own subject and no name
//! can reach into another's (a `.`, `*` or `>` in a name is only text).

/// The escape character of [`token`]: `~` and two lowercase hex digits per
/// byte.
const ESCAPE: char = '~';

/// A zone's subjects.
#[derive(Clone, Debug)]
pub struct Subjects {
    prefix: String,
}

impl Subjects {
    /// The subjects of zone `zone`.
    pub fn new(zone: &str) -> Self {
        Self {
            prefix: format!("kuafu.{}", token(zone)),
        }
    }

    /// Where node `name` takes its requests.
    pub fn node(&self, name: &str) -> String {
        format!("{}.node.{}", self.prefix, token(name))
    }

    /// A subject no node or topic has, for a round trip through NATS.
    pub fn barrier(&self) -> String {
        format!("{}.barrier", self.prefix)
    }

    /// The prefix of process `process`'s reply inboxes: its connection
    /// gets its replies under `_INBOX.kuafu.<zone>.<process>.`, which only
    /// its NATS user may subscribe to (`permissions`).
    pub fn inbox_prefix(&self, process: &str) -> String {
        format!("_INBOX.{}.{}", self.prefix, token(process))
    }

    /// Where topic `name` is published.
    pub fn topic(&self, name: &str) -> String {
        format!("{}.topic.{}", self.prefix, token(name))
    }
}

/// `name` as one subject token: ASCII letters, digits, `-` and `_` stay; any
/// other byte becomes `~xx`. An empty name is `~` alone (an escape always has
/// two digits after it, so no other name maps there).
pub fn token(name: &str) -> String {
    if name.is_empty() {
        return ESCAPE.to_string();
    }
    let mut token = String::with_capacity(name.len());
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_' {
            token.push(char::from(byte));
        } else {
            token.push_str(&format!("{ESCAPE}{byte:02x}"));
        }
    }
    token
}

/// The name [`token`] made `token` from; `None` if no name makes it (a
/// character a token does not hold, a broken escape, or an escape of a
/// character that needs none).
pub fn name(token: &str) -> Option<String> {
    if token == ESCAPE.to_string() {
        return Some(String::new());
    }
    let mut bytes = Vec::with_capacity(token.len());
    let mut rest = token.as_bytes();
    while let Some((&first, tail)) = rest.split_first() {
        if first == ESCAPE as u8 {
            let digits = std::str::from_utf8(tail.get(..2)?).ok()?;
            bytes.push(u8::from_str_radix(digits, 16).ok()?);
            rest = &tail[2..];
        } else {
            bytes.push(first);
            rest = tail;
        }
    }
    let name = String::from_utf8(bytes).ok()?;
    (self::token(&name) == token).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names_are_their_own_tokens() {
        let subjects = Subjects::new("zone-1");
        assert_eq!(subjects.node("gs1"), "kuafu.zone-1.node.gs1");
        assert_eq!(subjects.topic("horn"), "kuafu.zone-1.topic.horn");
        assert_eq!(subjects.inbox_prefix("gs.1"), "_INBOX.kuafu.zone-1.gs~2e1");
    }

    #[test]
    fn names_that_a_subject_cannot_hold_are_escaped_into_one_token() {
        let subjects = Subjects::new("a.b");
        assert_eq!(subjects.node("x.*>"), "kuafu.a~2eb.node.x~2e~2a~3e");
        assert_eq!(subjects.topic(""), "kuafu.a~2eb.topic.~");
        assert_eq!(token("跨 ~"), "~e8~b7~a8~20~7e");
    }

    #[test]
    fn every_name_comes_back_from_its_token() {
        for original in ["gs1", "", "~", "~7e", "a.b c", "跨服\u{0}\r\n", "_-"] {
            assert_eq!(name(&token(original)).as_deref(), Some(original));
        }
    }

    #[test]
    fn a_token_no_name_makes_is_refused() {
        for bad in ["a.b", "~7", "~zz", "~41", "~7E", "a b", "~ff", "~~"] {
            assert_eq!(name(bad), None, "{bad:?}");
        }
    }
}
