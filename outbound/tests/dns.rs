//! The DNS client against the fake resolver of testkit (UDP and TCP on loopback): every kind of
//! answer, a truncated UDP answer asked again over TCP, every configured nameserver tried.

use std::net::SocketAddr;
use std::time::Duration;

use sendops_outbound::dns::{CnameLookup, DnsError, Resolver};
use sendops_testkit::dns::{Answer, FakeDns};

fn quick(nameservers: Vec<SocketAddr>) -> Resolver {
    Resolver {
        timeout: Duration::from_millis(500),
        attempts: 1,
        ..Resolver::with_nameservers(nameservers)
    }
}

/// A loopback port nothing listens on (UDP or TCP).
fn unused_port() -> SocketAddr {
    let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    s.local_addr().unwrap()
}

#[tokio::test]
async fn every_kind_of_answer() {
    let dns = FakeDns::start().await;
    dns.cname("track.acme.com", "T.SendOps.dev.");
    dns.set("nodata.acme.com", Answer::NoData);
    dns.set("broken.acme.com", Answer::ServFail);
    let r = quick(vec![dns.addr()]);
    assert_eq!(
        r.cname("Track.ACME.com.").await.unwrap(),
        CnameLookup::Found("t.sendops.dev".into())
    );
    assert_eq!(
        r.cname("nodata.acme.com").await.unwrap(),
        CnameLookup::NoRecord
    );
    assert_eq!(
        r.cname("nowhere.acme.com").await.unwrap(),
        CnameLookup::NxDomain
    );
    assert_eq!(
        r.cname("broken.acme.com").await.unwrap(),
        CnameLookup::ServFail
    );
    assert!(matches!(
        r.cname("bad name.com").await,
        Err(DnsError::InvalidName(_))
    ));
    assert_eq!(dns.tcp_queries(), 0, "whole UDP answers need no TCP");
}

#[tokio::test]
async fn a_truncated_udp_answer_is_asked_again_over_tcp() {
    let dns = FakeDns::start().await;
    dns.cname("tok1._domainkey.acme.com", "tok1.dkim.amazonses.com");
    dns.truncate_udp(true);
    let r = quick(vec![dns.addr()]);
    assert_eq!(
        r.cname("tok1._domainkey.acme.com").await.unwrap(),
        CnameLookup::Found("tok1.dkim.amazonses.com".into())
    );
    assert!(dns.udp_queries() >= 1);
    assert!(
        dns.tcp_queries() >= 1,
        "the truncated answer was not retried over TCP"
    );
}

#[tokio::test]
async fn every_configured_nameserver_is_tried() {
    let dns = FakeDns::start().await;
    dns.cname("track.acme.com", "t.sendops.dev");
    let r = quick(vec![unused_port(), dns.addr()]);
    assert_eq!(
        r.cname("track.acme.com").await.unwrap(),
        CnameLookup::Found("t.sendops.dev".into())
    );
    assert!(dns.udp_queries() >= 1);

    // Nobody answers: an error, not an answer.
    let dead = quick(vec![unused_port(), unused_port()]);
    assert!(dead.cname("track.acme.com").await.is_err());
}
