//! A plain HTTP/1.1 GET for the tests of admin listeners, and a strict
//! reader of the Prometheus text format they serve.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Most bytes of a response read.
pub const RESPONSE_BYTES_MAX: u64 = 16 << 20;

/// GETs `path` from `addr` (one connection, closed after the answer) and
/// returns the status code and the body.
pub async fn get(addr: SocketAddr, path: &str) -> std::io::Result<(u16, String)> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut response = String::new();
    stream
        .take(RESPONSE_BYTES_MAX)
        .read_to_string(&mut response)
        .await?;
    let invalid =
        |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned());
    let (head, body) = response
        .split_once("\r\n\r\n")
        .ok_or_else(|| invalid("no end of headers"))?;
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| invalid("no status code"))?;
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        return Ok((status, unchunk(body).ok_or_else(|| invalid("bad chunks"))?));
    }
    Ok((status, body.to_owned()))
}

fn unchunk(mut body: &str) -> Option<String> {
    let mut out = String::new();
    loop {
        let (size, rest) = body.split_once("\r\n")?;
        let size = usize::from_str_radix(size.trim(), 16).ok()?;
        if size == 0 {
            return Some(out);
        }
        out.push_str(rest.get(..size)?);
        body = rest.get(size + 2..)?;
    }
}

/// One sample of a Prometheus text exposition.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// The series name (`_bucket`, `_sum`, `_count` included).
    pub name: String,
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// Its value.
    pub value: f64,
}

/// Reads a Prometheus text exposition (format 0.0.4) strictly: every line
/// is blank, a `# HELP`/`# TYPE` line of a valid name (and type), or a
/// sample with a valid name, well-quoted labels and a number. An error
/// names the first bad line.
pub fn parse_prometheus(text: &str) -> Result<Vec<Sample>, String> {
    let mut samples = Vec::new();
    for line in text.lines() {
        let bad = || format!("not Prometheus text: {line:?}");
        if line.trim().is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            check_comment(comment).ok_or_else(bad)?;
            continue;
        }
        samples.push(parse_sample(line).ok_or_else(bad)?);
    }
    Ok(samples)
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == '_' || first == ':')
        && chars.all(|rest| rest.is_ascii_alphanumeric() || rest == '_' || rest == ':')
}

fn check_comment(comment: &str) -> Option<()> {
    let mut words = comment.trim_start().splitn(3, ' ');
    match (words.next(), words.next(), words.next()) {
        (Some("HELP"), Some(name), _) => valid_name(name).then_some(()),
        (Some("TYPE"), Some(name), Some(kind)) => (valid_name(name)
            && ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind))
        .then_some(()),
        _ => Some(()),
    }
}

fn parse_sample(line: &str) -> Option<Sample> {
    let name_end = line.find(['{', ' '])?;
    let name = &line[..name_end];
    if !valid_name(name) {
        return None;
    }
    let (labels, rest) = if line[name_end..].starts_with('{') {
        parse_labels(&line[name_end + 1..])?
    } else {
        (BTreeMap::new(), &line[name_end..])
    };
    let mut fields = rest.split_whitespace();
    let value = match fields.next()? {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        number => number.parse().ok()?,
    };
    if let Some(timestamp) = fields.next() {
        timestamp.parse::<i64>().ok()?;
    }
    fields.next().is_none().then(|| Sample {
        name: name.to_owned(),
        labels,
        value,
    })
}

/// Reads `k="v",…}` and returns the labels and what follows the `}`.
fn parse_labels(mut text: &str) -> Option<(BTreeMap<String, String>, &str)> {
    let mut labels = BTreeMap::new();
    loop {
        text = text.trim_start_matches(',');
        if let Some(rest) = text.strip_prefix('}') {
            return Some((labels, rest));
        }
        let (name, rest) = text.split_once("=\"")?;
        if !valid_name(name) {
            return None;
        }
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            match chars.next()? {
                (at, '"') => break at,
                (_, '\\') => match chars.next()?.1 {
                    'n' => value.push('\n'),
                    escaped @ ('\\' | '"') => value.push(escaped),
                    _ => return None,
                },
                (_, other) => value.push(other),
            }
        };
        labels.insert(name.to_owned(), value);
        text = &rest[end + 1..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_with_labels_escapes_and_comments_are_read() {
        let text = "# HELP a_total Things.\n# TYPE a_total counter\n\
                    a_total{node=\"gs1\",why=\"say \\\"hi\\\"\"} 3\nb 1.5 1700000000\n\
                    c_bucket{le=\"+Inf\"} 2\n";
        let samples = parse_prometheus(text).unwrap();
        assert_eq!(samples.len(), 3);
        assert_eq!(samples[0].labels["why"], "say \"hi\"");
        assert_eq!(samples[0].value, 3.0);
        assert_eq!(samples[1].value, 1.5);
        assert_eq!(samples[2].labels["le"], "+Inf");
    }

    #[test]
    fn malformed_lines_are_refused() {
        for bad in [
            "a{node=\"x} 1",
            "1a 2",
            "a one",
            "a{node=x} 1",
            "# TYPE a colour",
            "a 1 2 3",
        ] {
            assert!(parse_prometheus(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
