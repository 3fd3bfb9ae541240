//! A minimal DNS client for tracking-domain verification: one CNAME question over UDP to a
//! recursive resolver (RFC 1035 wire format, compressed names understood). The resolver is
//! `SENDOPS_DNS_RESOLVER` (`ip:port`) or the first `nameserver` of /etc/resolv.conf.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use thiserror::Error;
use tokio::net::UdpSocket;

/// What the resolver answered for a CNAME question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CnameLookup {
    /// The name has a CNAME to this target (lower-case, no trailing dot).
    Found(String),
    /// The name exists but has no CNAME.
    NoRecord,
    /// The name does not exist.
    NxDomain,
    /// The resolver could not resolve it (SERVFAIL).
    ServFail,
}

/// The resolver could not be asked (as opposed to answering "no").
#[derive(Debug, Error)]
pub enum DnsError {
    #[error(
        "no DNS resolver: set SENDOPS_DNS_RESOLVER (ip:port) or add a nameserver to /etc/resolv.conf"
    )]
    NoResolver,
    #[error("{0:?} is not a valid DNS name")]
    InvalidName(String),
    #[error("DNS resolver {0} did not answer")]
    Timeout(SocketAddr),
    #[error("DNS resolver {resolver}: {detail}")]
    Io {
        resolver: SocketAddr,
        detail: String,
    },
    #[error("DNS resolver {resolver} sent a malformed answer: {detail}")]
    Malformed {
        resolver: SocketAddr,
        detail: &'static str,
    },
    #[error("DNS resolver {resolver} refused the query (rcode {rcode})")]
    Refused { resolver: SocketAddr, rcode: u8 },
}

/// A recursive resolver to ask.
#[derive(Debug, Clone, Copy)]
pub struct Resolver {
    pub addr: SocketAddr,
    pub timeout: Duration,
    pub attempts: u32,
}

const TYPE_CNAME: u16 = 5;
const CLASS_IN: u16 = 1;

impl Resolver {
    pub fn new(addr: SocketAddr) -> Resolver {
        Resolver {
            addr,
            timeout: Duration::from_secs(2),
            attempts: 2,
        }
    }

    /// `SENDOPS_DNS_RESOLVER`, else the first nameserver of /etc/resolv.conf (port 53).
    pub fn from_env() -> Result<Resolver, DnsError> {
        if let Ok(v) = std::env::var("SENDOPS_DNS_RESOLVER")
            && !v.trim().is_empty()
        {
            let v = v.trim();
            let addr = v
                .parse::<SocketAddr>()
                .or_else(|_| v.parse::<IpAddr>().map(|ip| SocketAddr::new(ip, 53)))
                .map_err(|_| DnsError::NoResolver)?;
            return Ok(Resolver::new(addr));
        }
        let conf = std::fs::read_to_string("/etc/resolv.conf").map_err(|_| DnsError::NoResolver)?;
        conf.lines()
            .filter_map(|l| l.trim().strip_prefix("nameserver"))
            .filter_map(|ip| ip.trim().parse::<IpAddr>().ok())
            .map(|ip| Resolver::new(SocketAddr::new(ip, 53)))
            .next()
            .ok_or(DnsError::NoResolver)
    }

    /// Asks for the CNAME of `name`.
    pub async fn cname(&self, name: &str) -> Result<CnameLookup, DnsError> {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        let id: u16 = rand::random();
        let query = encode_query(id, &name).ok_or_else(|| DnsError::InvalidName(name.clone()))?;
        let bind: SocketAddr = if self.addr.is_ipv4() {
            "0.0.0.0:0".parse().expect("address")
        } else {
            "[::]:0".parse().expect("address")
        };
        let io = |e: std::io::Error| DnsError::Io {
            resolver: self.addr,
            detail: e.to_string(),
        };
        let socket = UdpSocket::bind(bind).await.map_err(io)?;
        socket.connect(self.addr).await.map_err(io)?;
        let mut buf = vec![0u8; 4096];
        for _ in 0..self.attempts.max(1) {
            socket.send(&query).await.map_err(io)?;
            let deadline = tokio::time::Instant::now() + self.timeout;
            loop {
                let n = match tokio::time::timeout_at(deadline, socket.recv(&mut buf)).await {
                    Err(_) => break,
                    Ok(r) => r.map_err(io)?,
                };
                // Stray datagrams (another id) are ignored, like resolvers do.
                if n >= 2 && u16::from_be_bytes([buf[0], buf[1]]) == id {
                    return parse_answer(&buf[..n], &name)
                        .map_err(|detail| DnsError::Malformed {
                            resolver: self.addr,
                            detail,
                        })?
                        .map_err(|rcode| DnsError::Refused {
                            resolver: self.addr,
                            rcode,
                        });
                }
            }
        }
        Err(DnsError::Timeout(self.addr))
    }
}

/// A query for the CNAME of `name` with recursion desired.
fn encode_query(id: u16, name: &str) -> Option<Vec<u8>> {
    if name.is_empty() || name.len() > 253 {
        return None;
    }
    let mut q = Vec::with_capacity(name.len() + 18);
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&[0x01, 0x00]); // RD
    q.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.split('.') {
        let ok = !label.is_empty()
            && label.len() <= 63
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !ok {
            return None;
        }
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.push(0);
    q.extend_from_slice(&TYPE_CNAME.to_be_bytes());
    q.extend_from_slice(&CLASS_IN.to_be_bytes());
    Some(q)
}

/// Reads a (possibly compressed) name at `pos`; returns it and the position after it.
fn read_name(msg: &[u8], mut pos: usize) -> Result<(String, usize), &'static str> {
    let mut labels: Vec<String> = Vec::new();
    let mut end = None;
    let mut jumps = 0;
    loop {
        let len = *msg.get(pos).ok_or("name runs past the message")?;
        match len & 0xC0 {
            0xC0 => {
                let lo = *msg.get(pos + 1).ok_or("truncated pointer")?;
                end.get_or_insert(pos + 2);
                jumps += 1;
                if jumps > 32 {
                    return Err("compression loop");
                }
                pos = (usize::from(len & 0x3F) << 8) | usize::from(lo);
            }
            0x00 if len == 0 => {
                let next = end.unwrap_or(pos + 1);
                return Ok((labels.join(".").to_ascii_lowercase(), next));
            }
            0x00 => {
                let bytes = msg
                    .get(pos + 1..pos + 1 + usize::from(len))
                    .ok_or("label runs past the message")?;
                labels.push(String::from_utf8_lossy(bytes).into_owned());
                pos += 1 + usize::from(len);
            }
            _ => return Err("unknown label type"),
        }
    }
}

fn u16_at(msg: &[u8], pos: usize) -> Result<u16, &'static str> {
    msg.get(pos..pos + 2)
        .map(|b| u16::from_be_bytes([b[0], b[1]]))
        .ok_or("record runs past the message")
}

/// The lookup result of an answer to our question: `Err(detail)` when malformed, `Ok(Err(rcode))`
/// when the resolver refused.
fn parse_answer(msg: &[u8], name: &str) -> Result<Result<CnameLookup, u8>, &'static str> {
    if msg.len() < 12 {
        return Err("shorter than a header");
    }
    if msg[2] & 0x80 == 0 {
        return Err("not a response");
    }
    if msg[2] & 0x02 != 0 {
        return Err("truncated response");
    }
    let rcode = msg[3] & 0x0F;
    let qdcount = u16_at(msg, 4)?;
    let ancount = u16_at(msg, 6)?;
    let mut pos = 12;
    for _ in 0..qdcount {
        pos = read_name(msg, pos)?.1 + 4;
    }
    for _ in 0..ancount {
        let (owner, after) = read_name(msg, pos)?;
        let rtype = u16_at(msg, after)?;
        let rdlen = usize::from(u16_at(msg, after + 8)?);
        let rdata = after + 10;
        if msg.len() < rdata + rdlen {
            return Err("record data runs past the message");
        }
        if rtype == TYPE_CNAME && owner == name {
            let (target, _) = read_name(msg, rdata)?;
            return Ok(Ok(CnameLookup::Found(target)));
        }
        pos = rdata + rdlen;
    }
    Ok(match rcode {
        0 => Ok(CnameLookup::NoRecord),
        2 => Ok(CnameLookup::ServFail),
        3 => Ok(CnameLookup::NxDomain),
        other => Err(other),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_well_formed() {
        let q = encode_query(0xABCD, "track.acme.com").unwrap();
        assert_eq!(&q[..4], &[0xAB, 0xCD, 0x01, 0x00]);
        assert_eq!(&q[12..18], b"\x05track");
        assert_eq!(&q[q.len() - 4..], &[0, 5, 0, 1]);
        assert!(encode_query(1, "bad name.com").is_none());
        assert!(encode_query(1, "a..b").is_none());
        assert!(encode_query(1, &"a".repeat(64)).is_none());
    }

    #[test]
    fn reads_compressed_answers() {
        // Question track.acme.com CNAME; answer owner = pointer to 12, target
        // "t.sendops.dev" written as "t" + "sendops" + "dev".
        let mut m = vec![0, 1, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0];
        m.extend_from_slice(b"\x05track\x04acme\x03com\x00\x00\x05\x00\x01");
        m.extend_from_slice(&[0xC0, 12, 0, 5, 0, 1, 0, 0, 0, 60]);
        let rdata = b"\x01t\x07sendops\x03dev\x00";
        m.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        m.extend_from_slice(rdata);
        assert_eq!(
            parse_answer(&m, "track.acme.com"),
            Ok(Ok(CnameLookup::Found("t.sendops.dev".into())))
        );
        // A pointer into the question: "x." + pointer to "acme.com".
        let mut m2 = m[..m.len() - rdata.len() - 2].to_vec();
        m2.extend_from_slice(&[0, 4, 1, b'x', 0xC0, 18]);
        assert_eq!(
            parse_answer(&m2, "track.acme.com"),
            Ok(Ok(CnameLookup::Found("x.acme.com".into())))
        );
        let mut nx = m[..12].to_vec();
        nx[3] = 0x83;
        nx[5] = 0;
        nx[7] = 0;
        assert_eq!(parse_answer(&nx, "x"), Ok(Ok(CnameLookup::NxDomain)));
        nx[3] = 0x85;
        assert_eq!(parse_answer(&nx, "x"), Ok(Err(5)));
        let mut looped = m[..12].to_vec();
        looped[5] = 1;
        looped[7] = 0;
        looped.extend_from_slice(&[0xC0, 12]);
        assert!(parse_answer(&looped, "x").is_err());
    }
}
