//! Mailbox providers: which company receives mail for a recipient domain
//! (docs/deliverability.md#mailbox-providers). Well-known consumer domains are mapped by a table
//! the project maintains; every other domain by the hosts of its MX records, resolved in the
//! background and cached in `mailbox_domains` (crate `sendops-outbound`, `providers`). The
//! mapping is applied when reading, so a refreshed domain re-classifies its history at once.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use clickhouse::Row;
use serde::{Deserialize, Serialize};

use crate::StoreError;
use crate::store::Store;
use crate::timefmt::now_ms;

/// Domains per `IN` list: a domain is at most 253 bytes, so a statement stays under 130 KB
/// (ClickHouse's default max_query_size is 256 KiB).
const DOMAINS_PER_QUERY: usize = 500;

/// A domain nobody has resolved yet, or whose every resolution failed.
pub const OTHER: &str = "other";
/// A domain without MX records.
pub const NONE: &str = "none";

/// Provider keys and labels.
pub const PROVIDERS: &[(&str, &str)] = &[
    ("google", "Google (Gmail, Workspace)"),
    ("microsoft", "Microsoft (Outlook.com, Microsoft 365)"),
    ("yahoo", "Yahoo (Yahoo Mail, AOL)"),
    ("apple", "Apple (iCloud Mail)"),
    ("proton", "Proton Mail"),
    ("zoho", "Zoho Mail"),
    ("fastmail", "Fastmail"),
    ("gmx", "GMX / WEB.DE (United Internet)"),
    ("mailru", "Mail.ru"),
    ("yandex", "Yandex Mail"),
    ("qq", "Tencent (QQ Mail)"),
    ("netease", "NetEase (163.com, 126.com)"),
    ("naver", "Naver"),
    ("comcast", "Comcast (Xfinity)"),
    ("orange", "Orange"),
    ("libero", "Libero / Italiaonline"),
    ("mimecast", "Mimecast"),
    ("proofpoint", "Proofpoint"),
    ("barracuda", "Barracuda"),
    ("cisco", "Cisco Secure Email (IronPort)"),
    (OTHER, "Other or not yet resolved"),
    (NONE, "No MX record"),
];

/// Consumer domains whose provider is known without asking DNS.
pub const CONSUMER_DOMAINS: &[(&str, &str)] = &[
    ("gmail.com", "google"),
    ("googlemail.com", "google"),
    ("outlook.com", "microsoft"),
    ("hotmail.com", "microsoft"),
    ("hotmail.co.uk", "microsoft"),
    ("hotmail.fr", "microsoft"),
    ("hotmail.de", "microsoft"),
    ("hotmail.it", "microsoft"),
    ("live.com", "microsoft"),
    ("live.co.uk", "microsoft"),
    ("live.fr", "microsoft"),
    ("msn.com", "microsoft"),
    ("outlook.fr", "microsoft"),
    ("outlook.de", "microsoft"),
    ("yahoo.com", "yahoo"),
    ("yahoo.co.uk", "yahoo"),
    ("yahoo.fr", "yahoo"),
    ("yahoo.de", "yahoo"),
    ("yahoo.co.jp", "yahoo"),
    ("yahoo.com.br", "yahoo"),
    ("ymail.com", "yahoo"),
    ("rocketmail.com", "yahoo"),
    ("aol.com", "yahoo"),
    ("aim.com", "yahoo"),
    ("icloud.com", "apple"),
    ("me.com", "apple"),
    ("mac.com", "apple"),
    ("proton.me", "proton"),
    ("protonmail.com", "proton"),
    ("pm.me", "proton"),
    ("zoho.com", "zoho"),
    ("fastmail.com", "fastmail"),
    ("gmx.de", "gmx"),
    ("gmx.net", "gmx"),
    ("gmx.com", "gmx"),
    ("web.de", "gmx"),
    ("mail.com", "gmx"),
    ("mail.ru", "mailru"),
    ("bk.ru", "mailru"),
    ("inbox.ru", "mailru"),
    ("list.ru", "mailru"),
    ("yandex.ru", "yandex"),
    ("yandex.com", "yandex"),
    ("ya.ru", "yandex"),
    ("qq.com", "qq"),
    ("foxmail.com", "qq"),
    ("163.com", "netease"),
    ("126.com", "netease"),
    ("naver.com", "naver"),
    ("comcast.net", "comcast"),
    ("orange.fr", "orange"),
    ("wanadoo.fr", "orange"),
    ("libero.it", "libero"),
];

/// MX host suffixes (a host equal to the suffix, or ending in `.` + suffix) and their provider.
pub const MX_SUFFIXES: &[(&str, &str)] = &[
    ("google.com", "google"),
    ("googlemail.com", "google"),
    ("protection.outlook.com", "microsoft"),
    ("outlook.com", "microsoft"),
    ("hotmail.com", "microsoft"),
    ("yahoodns.net", "yahoo"),
    ("icloud.com", "apple"),
    ("protonmail.ch", "proton"),
    ("zoho.com", "zoho"),
    ("zoho.eu", "zoho"),
    ("messagingengine.com", "fastmail"),
    ("gmx.net", "gmx"),
    ("web.de", "gmx"),
    ("mail.ru", "mailru"),
    ("yandex.net", "yandex"),
    ("yandex.ru", "yandex"),
    ("qq.com", "qq"),
    ("163.com", "netease"),
    ("naver.com", "naver"),
    ("comcast.net", "comcast"),
    ("orange.fr", "orange"),
    ("libero.it", "libero"),
    ("mimecast.com", "mimecast"),
    ("mimecast.co.za", "mimecast"),
    ("pphosted.com", "proofpoint"),
    ("ppe-hosted.com", "proofpoint"),
    ("barracudanetworks.com", "barracuda"),
    ("iphmx.com", "cisco"),
];

/// The label of a provider key (the key itself for an unknown one).
pub fn label(provider: &str) -> &str {
    PROVIDERS
        .iter()
        .find(|(k, _)| *k == provider)
        .map_or(provider, |(_, l)| l)
}

/// The provider of a well-known consumer domain.
pub fn consumer(domain: &str) -> Option<&'static str> {
    static MAP: std::sync::OnceLock<HashMap<&'static str, &'static str>> =
        std::sync::OnceLock::new();
    MAP.get_or_init(|| CONSUMER_DOMAINS.iter().copied().collect())
        .get(domain)
        .copied()
}

/// The provider of a domain whose MX hosts (in preference order) are `hosts`: the first host
/// that matches a known suffix decides; none → [`OTHER`]; no hosts → [`NONE`].
pub fn provider_of_mx(hosts: &[String]) -> &'static str {
    if hosts.is_empty() {
        return NONE;
    }
    for host in hosts {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        for (suffix, provider) in MX_SUFFIXES {
            if host == *suffix
                || (host.len() > suffix.len()
                    && host.ends_with(suffix)
                    && host.as_bytes()[host.len() - suffix.len() - 1] == b'.')
            {
                return provider;
            }
        }
    }
    OTHER
}

/// The outcome of resolving one domain, as `mailbox_domains` stores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i8)]
pub enum Outcome {
    Resolved = 1,
    NoMx = 2,
    Failed = 3,
}

#[derive(Debug, Clone, Serialize, Deserialize, Row)]
pub struct DomainRow {
    pub domain: String,
    /// [`Outcome`] as stored (Enum8).
    pub outcome: i8,
    pub provider: String,
    pub mx: Vec<String>,
    pub error: String,
    pub resolved_ms: i64,
}

impl DomainRow {
    /// A domain resolved to `hosts` (none: no MX) now.
    pub fn answered(domain: &str, hosts: Vec<String>) -> DomainRow {
        let provider = provider_of_mx(&hosts).to_owned();
        DomainRow {
            domain: domain.to_owned(),
            outcome: if hosts.is_empty() {
                Outcome::NoMx as i8
            } else {
                Outcome::Resolved as i8
            },
            provider,
            mx: hosts,
            error: String::new(),
            resolved_ms: now_ms(),
        }
    }

    /// A resolution that failed now.
    pub fn failed(domain: &str, error: String) -> DomainRow {
        DomainRow {
            domain: domain.to_owned(),
            outcome: Outcome::Failed as i8,
            provider: OTHER.to_owned(),
            mx: Vec::new(),
            error,
            resolved_ms: now_ms(),
        }
    }
}

#[derive(Debug, Deserialize, Row)]
struct Known {
    domain: String,
    provider: String,
}

#[derive(Debug, Deserialize, Row)]
struct Attempt {
    domain: String,
    answered_ms: i64,
    tried_ms: i64,
}

/// The latest resolved or no-MX answer of every domain in `mailbox_domains` (what
/// [`Store::mailbox_providers`] reads), cached in the process and read again only when the
/// table's answers changed: a version (count and an order-independent hash sum of the answers)
/// is one scan of three small columns, the map a full read. A domain refreshed by any process
/// re-classifies on the next read, as with the uncached lookup.
#[derive(Default)]
pub struct ProviderCache {
    latest: tokio::sync::Mutex<Option<(Version, Answers)>>,
}

/// Domain → provider of every answered domain.
pub type Answers = Arc<HashMap<String, String>>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Row)]
struct Version {
    answers: u64,
    sum: u64,
}

impl ProviderCache {
    /// Domain → provider of every answered domain (consumer domains and unanswered ones are
    /// not in it: see [`ProviderCache::provider`]).
    pub async fn answers(&self, store: &Store) -> Result<Answers, StoreError> {
        let mut latest = self.latest.lock().await;
        let version = store
            .client()
            .query(
                "SELECT count() AS answers, sum(cityHash64(domain, provider, resolved_ms)) AS sum \
                 FROM mailbox_domains WHERE outcome IN ('resolved', 'no_mx')",
            )
            .fetch_one::<Version>()
            .await?;
        if let Some((v, map)) = latest.as_ref()
            && *v == version
        {
            return Ok(map.clone());
        }
        let map: HashMap<String, String> = store
            .client()
            .query(
                "SELECT domain, argMax(provider, resolved_ms) AS provider FROM mailbox_domains \
                 WHERE outcome IN ('resolved', 'no_mx') GROUP BY domain",
            )
            .fetch_all::<Known>()
            .await?
            .into_iter()
            .map(|k| (k.domain, k.provider))
            .collect();
        let map = Arc::new(map);
        *latest = Some((version, map.clone()));
        Ok(map)
    }

    /// A domain's provider given [`ProviderCache::answers`]: the consumer table first, then the
    /// latest answer, else [`OTHER`] (as [`Store::mailbox_providers`]).
    pub fn provider<'a>(answers: &'a HashMap<String, String>, domain: &str) -> &'a str {
        match consumer(domain) {
            Some(p) => p,
            None => answers.get(domain).map_or(OTHER, String::as_str),
        }
    }
}

impl Store {
    /// The provider of each of `domains`: the consumer table, else the latest answered
    /// resolution (resolved or no MX) in `mailbox_domains`, else [`OTHER`].
    pub async fn mailbox_providers(
        &self,
        domains: &[String],
    ) -> Result<HashMap<String, String>, StoreError> {
        let mut out = HashMap::with_capacity(domains.len());
        let mut ask = Vec::new();
        for d in domains {
            match consumer(d) {
                Some(p) => {
                    out.insert(d.clone(), p.to_owned());
                }
                None => ask.push(d.clone()),
            }
        }
        // In chunks: a sender with a long tail of company domains has tens of thousands, and
        // one statement must stay far below the server's max_query_size.
        for chunk in ask.chunks(DOMAINS_PER_QUERY) {
            let known = self
                .client()
                .query(
                    "SELECT domain, argMax(provider, resolved_ms) AS provider FROM mailbox_domains \
                     WHERE domain IN (SELECT arrayJoin(?)) AND outcome IN ('resolved', 'no_mx') \
                     GROUP BY domain",
                )
                .bind(chunk)
                .fetch_all::<Known>()
                .await?;
            for k in known {
                out.insert(k.domain, k.provider);
            }
        }
        for d in domains {
            out.entry(d.clone()).or_insert_with(|| OTHER.to_owned());
        }
        Ok(out)
    }

    /// Records resolutions.
    pub async fn record_mailbox_domains(&self, rows: &[DomainRow]) -> Result<(), StoreError> {
        self.insert_rows("mailbox_domains", rows).await
    }

    /// Recipient domains seen in the last `days` days (of every org, or of `org`) that are not
    /// consumer domains and are due for resolution: never answered, answered before
    /// `answered_before_ms`, or last failed before `failed_before_ms`. Most recently seen
    /// volume first, at most `limit`.
    pub async fn domains_to_resolve(
        &self,
        org: Option<uuid::Uuid>,
        days: u16,
        answered_before_ms: i64,
        failed_before_ms: i64,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        let seen = self.recent_recipient_domains(org, days).await?;
        let candidates: Vec<String> = seen
            .iter()
            .filter(|(d, _)| !d.is_empty() && consumer(d).is_none())
            .map(|(d, _)| d.clone())
            .collect();
        if candidates.is_empty() {
            return Ok(Vec::new());
        }
        let mut attempts: HashMap<String, (i64, i64)> = HashMap::new();
        for chunk in candidates.chunks(DOMAINS_PER_QUERY) {
            let rows = self
                .client()
                .query(
                    "SELECT domain, maxIf(resolved_ms, outcome != 'failed') AS answered_ms, \
                     max(resolved_ms) AS tried_ms FROM mailbox_domains \
                     WHERE domain IN (SELECT arrayJoin(?)) GROUP BY domain",
                )
                .bind(chunk)
                .fetch_all::<Attempt>()
                .await?;
            attempts.extend(
                rows.into_iter()
                    .map(|a| (a.domain, (a.answered_ms, a.tried_ms))),
            );
        }
        let mut due: Vec<(u64, String)> = candidates
            .into_iter()
            .filter(|d| match attempts.get(d) {
                None => true,
                Some(&(answered, tried)) => {
                    let stale = answered < answered_before_ms;
                    // A failure is retried only after `failed_before_ms`.
                    stale && (tried == answered || tried < failed_before_ms)
                }
            })
            .map(|d| (seen.get(&d).copied().unwrap_or(0), d))
            .collect();
        due.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        due.truncate(limit);
        Ok(due.into_iter().map(|(_, d)| d).collect())
    }

    /// Recipient domains with their row counts over the last `days` UTC days: past days from
    /// the breakdown seals (`breakdown_day_counts`, written for every org by the background
    /// preparation), today from `events`.
    async fn recent_recipient_domains(
        &self,
        org: Option<uuid::Uuid>,
        days: u16,
    ) -> Result<BTreeMap<String, u64>, StoreError> {
        #[derive(Deserialize, Row)]
        struct Seen {
            d: String,
            n: u64,
        }
        let today = crate::timefmt::day_of_ms(now_ms());
        let first = today.saturating_sub(days.saturating_sub(1));
        let org_cond = if org.is_some() { " AND org_id = ?" } else { "" };
        let sql = format!(
            "SELECT d, sum(n) AS n FROM (\
             SELECT recipient_domain AS d, n FROM breakdown_day_counts \
             WHERE day >= toDate(?) AND day < toDate(?){org_cond} \
             UNION ALL SELECT {d} AS d, toUInt64(1) AS n FROM events \
             WHERE day >= toDate(?){org_cond}) GROUP BY d",
            d = super::RECIPIENT_DOMAIN_SQL
        );
        let date = crate::read::report_filter::date;
        let sql = &sql;
        let read = |store: Store| async move {
            let mut q = store
                .client()
                .query(sql)
                .bind(date(first))
                .bind(date(today));
            if let Some(o) = org {
                q = q.bind(o.to_string());
            }
            q = q.bind(date(today));
            if let Some(o) = org {
                q = q.bind(o.to_string());
            }
            Ok(q.fetch_all::<Seen>().await?)
        };
        // One org: from its shard; all: each shard its own orgs' domains (one that is down
        // leaves its orgs' domains for the next refresh).
        let rows = match org {
            Some(o) => read(self.route(o).await?).await?,
            None => self
                .on_each_shard("recently seen recipient domains", read)
                .await?
                .into_iter()
                .flatten()
                .collect(),
        };
        let mut seen = BTreeMap::new();
        for s in rows {
            *seen.entry(s.d).or_insert(0) += s.n;
        }
        Ok(seen)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mx_hosts_map_to_providers_by_suffix() {
        let h = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(provider_of_mx(&h(&["aspmx.l.google.com."])), "google");
        assert_eq!(
            provider_of_mx(&h(&["acme-com.mail.protection.outlook.com"])),
            "microsoft"
        );
        assert_eq!(provider_of_mx(&h(&["mta5.am0.yahoodns.net"])), "yahoo");
        assert_eq!(provider_of_mx(&h(&["mx0a-001.pphosted.com"])), "proofpoint");
        assert_eq!(
            provider_of_mx(&h(&["eu-smtp-inbound-1.mimecast.com"])),
            "mimecast"
        );
        // A suffix must start at a label: notgoogle.com is not google.com.
        assert_eq!(provider_of_mx(&h(&["mx.notgoogle.com"])), OTHER);
        assert_eq!(provider_of_mx(&h(&["mx.example.net"])), OTHER);
        assert_eq!(provider_of_mx(&[]), NONE);
        // The most preferred host that is known decides.
        assert_eq!(
            provider_of_mx(&h(&["mx.self-hosted.example", "alt1.aspmx.l.google.com"])),
            "google"
        );
    }

    #[test]
    fn consumer_domains_and_labels() {
        assert_eq!(consumer("googlemail.com"), Some("google"));
        assert_eq!(consumer("hotmail.com"), Some("microsoft"));
        assert_eq!(consumer("ymail.com"), Some("yahoo"));
        assert_eq!(consumer("me.com"), Some("apple"));
        assert_eq!(consumer("example.com"), None);
        for (_, p) in CONSUMER_DOMAINS.iter().chain(MX_SUFFIXES) {
            assert_ne!(label(p), *p, "{p} has no label");
        }
        assert_eq!(label("google"), "Google (Gmail, Workspace)");
    }
}
