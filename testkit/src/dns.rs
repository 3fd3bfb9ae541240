//! A fake recursive DNS resolver over UDP: answers CNAME queries from a table (RFC 1035 wire
//! format, answer names compressed against the question like real resolvers do). Unknown names
//! are NXDOMAIN.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::net::UdpSocket;

/// What the fake answers for one name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// NOERROR with one CNAME record pointing at this name.
    Cname(String),
    /// NOERROR without records (the name exists, but has no CNAME).
    NoData,
    /// RCODE 3.
    NxDomain,
    /// RCODE 2.
    ServFail,
}

type Table = Arc<Mutex<HashMap<String, Answer>>>;

/// A running fake resolver on a loopback UDP port.
pub struct FakeDns {
    addr: SocketAddr,
    table: Table,
}

fn key(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

impl FakeDns {
    pub async fn start() -> FakeDns {
        let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind fake DNS");
        let addr = socket.local_addr().expect("fake DNS address");
        let table: Table = Arc::default();
        let t = table.clone();
        tokio::spawn(async move {
            let mut buf = [0u8; 512];
            loop {
                let Ok((n, peer)) = socket.recv_from(&mut buf).await else {
                    return;
                };
                let reply = {
                    let table = t.lock().unwrap_or_else(|e| e.into_inner());
                    answer(&buf[..n], &table)
                };
                if let Some(reply) = reply {
                    let _ = socket.send_to(&reply, peer).await;
                }
            }
        });
        FakeDns { addr, table }
    }

    /// The resolver address (`127.0.0.1:PORT`).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn set(&self, name: &str, answer: Answer) {
        self.table
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key(name), answer);
    }

    pub fn cname(&self, name: &str, target: &str) {
        self.set(name, Answer::Cname(target.into()));
    }
}

/// The reply to one query datagram (`None` for datagrams that are not a single question).
fn answer(query: &[u8], table: &HashMap<String, Answer>) -> Option<Vec<u8>> {
    if query.len() < 12 || u16::from_be_bytes([query[4], query[5]]) != 1 {
        return None;
    }
    // The question: labels from offset 12, then QTYPE and QCLASS.
    let mut labels: Vec<(usize, String)> = Vec::new();
    let mut i = 12;
    loop {
        let len = *query.get(i)? as usize;
        if len == 0 {
            i += 1;
            break;
        }
        if len > 63 {
            return None;
        }
        let label = std::str::from_utf8(query.get(i + 1..i + 1 + len)?).ok()?;
        labels.push((i, label.to_ascii_lowercase()));
        i += 1 + len;
    }
    let qtype = u16::from_be_bytes([*query.get(i)?, *query.get(i + 1)?]);
    let question_end = i + 4;
    let name: Vec<&str> = labels.iter().map(|(_, l)| l.as_str()).collect();
    let found = table
        .get(&name.join("."))
        .cloned()
        .unwrap_or(Answer::NxDomain);

    let mut out = Vec::with_capacity(128);
    out.extend_from_slice(&query[0..2]);
    let rd = query[2] & 0x01;
    let rcode = match found {
        Answer::NxDomain => 3,
        Answer::ServFail => 2,
        _ => 0,
    };
    out.push(0x80 | rd); // QR, opcode 0, RD copied
    out.push(0x80 | rcode); // RA
    let cname = match (&found, qtype) {
        (Answer::Cname(target), 5 | 255) => Some(target.clone()),
        _ => None,
    };
    out.extend_from_slice(&1u16.to_be_bytes());
    out.extend_from_slice(&u16::from(cname.is_some()).to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(query.get(12..question_end)?);
    if let Some(target) = cname {
        out.extend_from_slice(&[0xC0, 12]); // owner: pointer to the question name
        out.extend_from_slice(&5u16.to_be_bytes());
        out.extend_from_slice(&1u16.to_be_bytes());
        out.extend_from_slice(&60u32.to_be_bytes());
        let rdata = compressed_name(&target, &labels);
        out.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        out.extend_from_slice(&rdata);
    }
    Some(out)
}

/// `target` in wire format, its longest suffix shared with the question replaced by a pointer.
fn compressed_name(target: &str, question: &[(usize, String)]) -> Vec<u8> {
    let parts: Vec<String> = key(target).split('.').map(str::to_owned).collect();
    let mut out = Vec::new();
    for start in 0..parts.len() {
        let suffix = &parts[start..];
        if suffix.len() <= question.len() {
            let q = &question[question.len() - suffix.len()..];
            if q.iter().map(|(_, l)| l).eq(suffix.iter()) {
                let offset = q[0].0 as u16;
                out.extend_from_slice(&(0xC000 | offset).to_be_bytes());
                return out;
            }
        }
        out.push(parts[start].len() as u8);
        out.extend_from_slice(parts[start].as_bytes());
    }
    out.push(0);
    out
}
