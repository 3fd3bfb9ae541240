//! DNS for tracking-domain verification (one CNAME question) and mailbox-provider resolution
//! (one MX question), to the configured recursive
//! resolvers, through hickory-resolver. Every nameserver is asked in the order given until one
//! answers; a truncated UDP answer is asked again over TCP. The resolvers are
//! `SENDOPS_DNS_RESOLVER` (`ip[:port]`, comma-separated for several) or every `nameserver` of
//! /etc/resolv.conf. Nothing is cached: a verification reads what DNS says now.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_resolver::config::{
    NameServerConfig, NameServerConfigGroup, ResolveHosts, ResolverConfig, ResolverOpts,
    ServerOrderingStrategy,
};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::proto::ProtoErrorKind;
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::RecordType;
use hickory_resolver::proto::xfer::Protocol;
use hickory_resolver::{Name, ResolveError};
use thiserror::Error;

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

/// What the resolver answered for an MX question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MxLookup {
    /// The exchange hosts (lower-case, no trailing dot), most preferred first.
    Found(Vec<String>),
    /// The name exists but has no MX record.
    NoRecord,
    /// The name does not exist.
    NxDomain,
    /// The resolver could not resolve it (SERVFAIL).
    ServFail,
}

/// The resolvers could not be asked (as opposed to answering "no").
#[derive(Debug, Error)]
pub enum DnsError {
    #[error(
        "no DNS resolver: set SENDOPS_DNS_RESOLVER (ip[:port], comma-separated) or add a nameserver to /etc/resolv.conf"
    )]
    NoResolver,
    #[error("{0:?} is not a valid DNS name")]
    InvalidName(String),
    #[error("DNS resolver {resolvers} did not answer")]
    Timeout { resolvers: String },
    #[error("DNS resolver {resolvers}: {detail}")]
    Io { resolvers: String, detail: String },
    #[error("DNS resolver {resolvers} refused the query (rcode {rcode})")]
    Refused { resolvers: String, rcode: u16 },
    #[error("DNS resolver {resolvers}: {detail}")]
    Failed { resolvers: String, detail: String },
}

/// The recursive resolvers to ask, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolver {
    pub nameservers: Vec<SocketAddr>,
    /// How long one attempt at one nameserver may take.
    pub timeout: Duration,
    /// Attempts per nameserver.
    pub attempts: u32,
}

impl Resolver {
    /// One nameserver.
    pub fn new(addr: SocketAddr) -> Resolver {
        Resolver::with_nameservers(vec![addr])
    }

    /// Several nameservers, asked in this order.
    pub fn with_nameservers(nameservers: Vec<SocketAddr>) -> Resolver {
        Resolver {
            nameservers,
            timeout: Duration::from_secs(2),
            attempts: 2,
        }
    }

    /// `SENDOPS_DNS_RESOLVER` (`ip[:port]`, comma-separated), else every nameserver of
    /// /etc/resolv.conf (port 53).
    pub fn from_env() -> Result<Resolver, DnsError> {
        if let Ok(v) = std::env::var("SENDOPS_DNS_RESOLVER")
            && !v.trim().is_empty()
        {
            let addrs = v
                .split(',')
                .map(|one| parse_addr(one.trim()))
                .collect::<Option<Vec<_>>>()
                .ok_or(DnsError::NoResolver)?;
            return Ok(Resolver::with_nameservers(addrs));
        }
        let conf = std::fs::read_to_string("/etc/resolv.conf").map_err(|_| DnsError::NoResolver)?;
        let addrs: Vec<SocketAddr> = conf
            .lines()
            .filter_map(|l| l.trim().strip_prefix("nameserver"))
            .filter_map(|ip| ip.trim().parse::<IpAddr>().ok())
            .map(|ip| SocketAddr::new(ip, 53))
            .collect();
        if addrs.is_empty() {
            return Err(DnsError::NoResolver);
        }
        Ok(Resolver::with_nameservers(addrs))
    }

    /// Asks for the CNAME of `name`.
    pub async fn cname(&self, name: &str) -> Result<CnameLookup, DnsError> {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        let fqdn = valid_name(&name).ok_or_else(|| DnsError::InvalidName(name.clone()))?;
        if self.nameservers.is_empty() {
            return Err(DnsError::NoResolver);
        }
        match self.client().lookup(fqdn.clone(), RecordType::CNAME).await {
            Ok(lookup) => Ok(lookup
                .record_iter()
                .filter(|r| r.name().eq_case(&fqdn) || r.name() == &fqdn)
                .find_map(|r| r.data().as_cname())
                .map(|target| {
                    let t = target.0.to_ascii().to_ascii_lowercase();
                    CnameLookup::Found(t.trim_end_matches('.').to_owned())
                })
                .unwrap_or(CnameLookup::NoRecord)),
            Err(e) => self.outcome_of(&e),
        }
    }

    /// Asks for the MX records of `name` (a mail domain).
    pub async fn mx(&self, name: &str) -> Result<MxLookup, DnsError> {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        let fqdn = valid_name(&name).ok_or_else(|| DnsError::InvalidName(name.clone()))?;
        if self.nameservers.is_empty() {
            return Err(DnsError::NoResolver);
        }
        match self.client().mx_lookup(fqdn).await {
            Ok(lookup) => {
                let mut records: Vec<(u16, String)> = lookup
                    .iter()
                    .map(|mx| {
                        let host = mx.exchange().to_ascii().to_ascii_lowercase();
                        (mx.preference(), host.trim_end_matches('.').to_owned())
                    })
                    .collect();
                records.sort();
                if records.is_empty() {
                    return Ok(MxLookup::NoRecord);
                }
                Ok(MxLookup::Found(
                    records.into_iter().map(|(_, h)| h).collect(),
                ))
            }
            Err(e) => match self.outcome_of(&e)? {
                CnameLookup::NxDomain => Ok(MxLookup::NxDomain),
                CnameLookup::ServFail => Ok(MxLookup::ServFail),
                _ => Ok(MxLookup::NoRecord),
            },
        }
    }

    /// A resolver over exactly these nameservers (UDP, then TCP for truncated answers), no
    /// cache, no hosts file, no search domains.
    fn client(&self) -> hickory_resolver::TokioResolver {
        let mut group = NameServerConfigGroup::new();
        for &addr in &self.nameservers {
            group.push(NameServerConfig::new(addr, Protocol::Udp));
            group.push(NameServerConfig::new(addr, Protocol::Tcp));
        }
        let config = ResolverConfig::from_parts(None, Vec::new(), group);
        let mut opts = ResolverOpts::default();
        opts.timeout = self.timeout;
        opts.attempts = self.attempts.max(1) as usize;
        opts.cache_size = 0;
        opts.use_hosts_file = ResolveHosts::Never;
        opts.num_concurrent_reqs = 1;
        opts.server_ordering_strategy = ServerOrderingStrategy::UserProvidedOrder;
        hickory_resolver::Resolver::builder_with_config(config, TokioConnectionProvider::default())
            .with_options(opts)
            .build()
    }

    /// A failed lookup: a negative answer is a [`CnameLookup`], the rest a [`DnsError`].
    fn outcome_of(&self, e: &ResolveError) -> Result<CnameLookup, DnsError> {
        let resolvers = self.names();
        let Some(proto) = e.proto() else {
            return Err(DnsError::Failed {
                resolvers,
                detail: e.to_string(),
            });
        };
        match proto.kind() {
            ProtoErrorKind::NoRecordsFound { response_code, .. } => match *response_code {
                ResponseCode::NoError => Ok(CnameLookup::NoRecord),
                ResponseCode::NXDomain => Ok(CnameLookup::NxDomain),
                ResponseCode::ServFail => Ok(CnameLookup::ServFail),
                code => Err(DnsError::Refused {
                    resolvers,
                    rcode: u16::from(code),
                }),
            },
            ProtoErrorKind::Timeout => Err(DnsError::Timeout { resolvers }),
            ProtoErrorKind::Io(io) => Err(DnsError::Io {
                resolvers,
                detail: io.to_string(),
            }),
            _ => Err(DnsError::Failed {
                resolvers,
                detail: proto.to_string(),
            }),
        }
    }

    fn names(&self) -> String {
        let names: Vec<String> = self.nameservers.iter().map(|a| a.to_string()).collect();
        names.join(", ")
    }
}

/// `ip:port`, or an IP address (port 53).
fn parse_addr(v: &str) -> Option<SocketAddr> {
    v.parse::<SocketAddr>()
        .ok()
        .or_else(|| v.parse::<IpAddr>().ok().map(|ip| SocketAddr::new(ip, 53)))
}

/// `name` as an absolute DNS name (so no search domain is ever appended), when it is a host name
/// of at most 253 characters in labels of 1 to 63.
fn valid_name(name: &str) -> Option<Name> {
    if name.is_empty()
        || name.len() > 253
        || name
            .split('.')
            .any(|l| l.is_empty() || l.len() > 63 || !l.bytes().all(host_byte))
    {
        return None;
    }
    Name::from_ascii(format!("{name}.")).ok()
}

/// A byte of a host-name label (letters, digits, `-`, and `_` for DKIM-style names).
fn host_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert!(valid_name("track.acme.com").is_some_and(|n| n.is_fqdn()));
        for bad in [
            "",
            "a..b",
            "bad name.com",
            &"x".repeat(64),
            &format!("{}.com", "a.".repeat(130)),
        ] {
            assert!(valid_name(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn resolver_addresses_take_an_optional_port() {
        assert_eq!(parse_addr("10.0.0.2"), Some("10.0.0.2:53".parse().unwrap()));
        assert_eq!(
            parse_addr("127.0.0.1:5353"),
            Some("127.0.0.1:5353".parse().unwrap())
        );
        assert_eq!(parse_addr("[::1]:53"), Some("[::1]:53".parse().unwrap()));
        assert_eq!(parse_addr("resolver"), None);
    }
}
