//! A fake recursive DNS resolver over UDP and TCP on the same loopback port: answers CNAME
//! queries from a table (RFC 1035 wire format, answer names compressed against the question like
//! real resolvers do). Unknown names are NXDOMAIN. It can answer every UDP query truncated (TC
//! set, no records), as a resolver does when the answer does not fit a datagram, so that clients
//! must ask again over TCP; it counts the queries of each transport.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};

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
    /// NOERROR with these MX records (preference, exchange) for MX questions; no records for
    /// other types.
    Mx(Vec<(u16, String)>),
    /// No reply at all (the client times out).
    Silent,
}

type Table = Arc<Mutex<HashMap<String, Answer>>>;

/// A running fake resolver on a loopback port (UDP and TCP).
pub struct FakeDns {
    addr: SocketAddr,
    table: Table,
    state: Arc<State>,
}

#[derive(Default)]
struct State {
    truncate_udp: AtomicBool,
    udp_queries: AtomicU64,
    tcp_queries: AtomicU64,
}

fn key(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

impl FakeDns {
    pub async fn start() -> FakeDns {
        let (socket, listener) = bind_both().await;
        let addr = socket.local_addr().expect("fake DNS address");
        let table: Table = Arc::default();
        let state = Arc::new(State::default());
        let (t, st) = (table.clone(), state.clone());
        tokio::spawn(async move {
            let mut buf = [0u8; 512];
            loop {
                let Ok((n, peer)) = socket.recv_from(&mut buf).await else {
                    return;
                };
                st.udp_queries.fetch_add(1, Ordering::Relaxed);
                let reply = {
                    let table = t.lock().unwrap_or_else(|e| e.into_inner());
                    answer(&buf[..n], &table)
                };
                let reply = if st.truncate_udp.load(Ordering::Relaxed) {
                    reply.and_then(|r| truncated(&r))
                } else {
                    reply
                };
                if let Some(reply) = reply {
                    let _ = socket.send_to(&reply, peer).await;
                }
            }
        });
        let (t, st) = (table.clone(), state.clone());
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                tokio::spawn(serve_tcp(stream, t.clone(), st.clone()));
            }
        });
        FakeDns { addr, table, state }
    }

    /// From now on every UDP answer is truncated (TC set, no records); TCP answers stay whole.
    pub fn truncate_udp(&self, on: bool) {
        self.state.truncate_udp.store(on, Ordering::Relaxed);
    }

    /// Queries received over UDP so far.
    pub fn udp_queries(&self) -> u64 {
        self.state.udp_queries.load(Ordering::Relaxed)
    }

    /// Queries received over TCP so far.
    pub fn tcp_queries(&self) -> u64 {
        self.state.tcp_queries.load(Ordering::Relaxed)
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

    /// MX records for `name`: (preference, exchange host).
    pub fn mx(&self, name: &str, records: &[(u16, &str)]) {
        self.set(
            name,
            Answer::Mx(records.iter().map(|(p, h)| (*p, (*h).to_owned())).collect()),
        );
    }
}

/// A UDP socket and a TCP listener on the same loopback port.
async fn bind_both() -> (UdpSocket, TcpListener) {
    for _ in 0..100 {
        let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind fake DNS");
        let addr = socket.local_addr().expect("fake DNS address");
        if let Ok(listener) = TcpListener::bind(addr).await {
            return (socket, listener);
        }
    }
    panic!("no loopback port free for both UDP and TCP");
}

/// Serves one TCP connection: messages prefixed with their two-byte length, until EOF.
async fn serve_tcp(mut stream: TcpStream, table: Table, state: Arc<State>) {
    loop {
        let mut len = [0u8; 2];
        if stream.read_exact(&mut len).await.is_err() {
            return;
        }
        let mut query = vec![0u8; usize::from(u16::from_be_bytes(len))];
        if stream.read_exact(&mut query).await.is_err() {
            return;
        }
        state.tcp_queries.fetch_add(1, Ordering::Relaxed);
        let reply = {
            let table = table.lock().unwrap_or_else(|e| e.into_inner());
            answer(&query, &table)
        };
        let Some(reply) = reply else { return };
        let mut framed = (reply.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(&reply);
        if stream.write_all(&framed).await.is_err() {
            return;
        }
    }
}

/// `reply` cut to its header and question, with TC set and no records.
fn truncated(reply: &[u8]) -> Option<Vec<u8>> {
    let mut i = 12;
    loop {
        let len = *reply.get(i)? as usize;
        if len == 0 || len & 0xC0 == 0xC0 {
            i += if len == 0 { 1 } else { 2 };
            break;
        }
        i += 1 + len;
    }
    let mut out = reply.get(..i + 4)?.to_vec();
    out[2] |= 0x02; // TC
    out[6..12].fill(0); // no answer, authority or additional records
    Some(out)
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
    if found == Answer::Silent {
        return None;
    }

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
    let mx: &[(u16, String)] = match (&found, qtype) {
        (Answer::Mx(records), 15 | 255) => records,
        _ => &[],
    };
    let answers = u16::from(cname.is_some()) + mx.len() as u16;
    out.extend_from_slice(&1u16.to_be_bytes());
    out.extend_from_slice(&answers.to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(query.get(12..question_end)?);
    for (preference, exchange) in mx {
        out.extend_from_slice(&[0xC0, 12]); // owner: pointer to the question name
        out.extend_from_slice(&15u16.to_be_bytes());
        out.extend_from_slice(&1u16.to_be_bytes());
        out.extend_from_slice(&60u32.to_be_bytes());
        let name = compressed_name(exchange, &labels);
        out.extend_from_slice(&((name.len() + 2) as u16).to_be_bytes());
        out.extend_from_slice(&preference.to_be_bytes());
        out.extend_from_slice(&name);
    }
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
