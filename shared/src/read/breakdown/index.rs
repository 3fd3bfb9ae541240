//! In-process breakdown index: the breakdowns of `/v1/reports/breakdown` and `/v1/reputation`
//! answered from memory instead of ClickHouse.
//!
//! Why: a sender with a long tail of recipient domains (a B2B sender: tens of thousands of
//! company domains, each a few events a day) has about one breakdown group per event, so no
//! rollup in ClickHouse shrinks what a 30-day breakdown reads (the day seals of
//! [`Store::breakdown`] hold ~1.3 M groups for 30 days of 3.3 M events: seconds per request). Here
//! every stored event of a UTC day counted by a breakdown is kept once as (time, recipient
//! number), grouped by everything a breakdown keys or filters on (event type, bounce type, bounce
//! cause, channel, sending domain, template, recipient domain) and sorted by time within its
//! group. A window's breakdown is then one pass over its days' groups: whole days add their
//! groups' sizes, partial days count the times inside the window by binary search, and distinct
//! openers and clickers per key are bitset unions of the recipient numbers in the window (as in
//! [`crate::read::engaged_index`]). Several dimensions are computed in the same pass.
//!
//! Exactness, as the engaged index: a day is loaded from `events` counting each event id once
//! (a second copy of an event, from a retried or racing INSERT, is read once), together with its
//! change counter (`day_changes`, crate::store::ledger) as read *before* loading, and reused only
//! while the counter is unchanged (a batch that wrote to the day moved it). Bounce causes are
//! classified by this binary's rule table (`causes::sql`) as the day is loaded, so a process with
//! other rules has its own index. Mailbox providers are applied when answering, from
//! [`ProviderCache`], so a refreshed domain re-classifies at once.
//!
//! Memory: days, strings and recipient numbers of all orgs are bounded by a byte budget
//! (`SENDOPS_BREAKDOWN_INDEX_MB`); least recently used orgs are dropped first; a window whose
//! events could exceed the budget is not loaded (`None`: the caller reads ClickHouse instead,
//! slower but exact).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use clickhouse::Row;
use serde::Deserialize;
use uuid::Uuid;

use super::causes::{self, Cause};
use super::providers::ProviderCache;
use super::{Breakdown, COUNTED, Dimension, KeyCounts, RECIPIENT_DOMAIN_SQL};
use crate::read::engaged_index::HashToId;
use crate::read::org_cache::{HeldDay, OrgCache, days_to_load, rows_on_days};
use crate::read::report_filter::{ReportFilter, date, day_in};
use crate::read::reports::{split, type_list};
use crate::store::Store;
use crate::timefmt::{TimeRange, UtcDay, day_of_ms};
use crate::{EventType, StoreError};

mod count;
use count::count;

/// Bytes accounted per group, per event (time + recipient number), per numbered recipient
/// (with map overhead) and per interned string beyond its text.
const GROUP_BYTES: usize = std::mem::size_of::<Group>();
const EVENT_BYTES: usize = 12;
const RECIPIENT_BYTES: usize = 40;
const STRING_BYTES: usize = 64;

/// No recipient number (a row that is not an Open or Click).
const NOBODY: u32 = u32::MAX;

/// The in-process breakdown index of every org this process has answered for.
pub struct BreakdownIndex {
    orgs: OrgCache<OrgIndex>,
    providers: ProviderCache,
}

/// An org's strings (domains, templates, channel ids and names), each kept once.
#[derive(Default)]
struct Strings {
    list: Vec<Box<str>>,
    ids: HashMap<Box<str>, u32>,
    bytes: usize,
}

impl Strings {
    fn id(&mut self, s: &str) -> u32 {
        if let Some(&i) = self.ids.get(s) {
            return i;
        }
        let i = u32::try_from(self.list.len()).unwrap_or(u32::MAX);
        self.list.push(s.into());
        self.ids.insert(s.into(), i);
        self.bytes += 2 * s.len() + STRING_BYTES;
        i
    }

    fn find(&self, s: &str) -> Option<u32> {
        self.ids.get(s).copied()
    }

    fn get(&self, i: u32) -> &str {
        self.list.get(i as usize).map_or("", |s| s)
    }
}

#[derive(Default)]
struct OrgIndex {
    strings: Strings,
    /// Recipient hash (`sipHash128(lower(recipient))`) → dense number.
    recipients: HashToId,
    /// Recipient number → its domain (a string number): a recipient has exactly one domain.
    domain_of: Vec<u32>,
    days: HashMap<u16, Arc<DayIndex>>,
}

impl OrgIndex {
    fn bytes(&self) -> usize {
        let days: usize = self.days.values().map(|d| d.bytes()).sum();
        days + self.strings.bytes + self.recipients.len() * RECIPIENT_BYTES
    }

    /// The number of the recipient with `hash`, whose domain is the string number `domain`.
    fn number(&mut self, hash: [u8; 16], domain: u32) -> u32 {
        let next = u32::try_from(self.recipients.len()).unwrap_or(NOBODY);
        let n = *self
            .recipients
            .entry(u128::from_le_bytes(hash))
            .or_insert(next);
        if n == next {
            self.domain_of.push(domain);
        }
        n
    }
}

/// One UTC day of an org.
struct DayIndex {
    /// The day's change counter read before it was loaded (the validator).
    changes: u64,
    /// Open and Click groups last, from `engaged_from` on.
    groups: Vec<Group>,
    engaged_from: usize,
    /// Per dimension (`Dimension::ALL` order), the whole day's counts per key without filters,
    /// summed from `groups` the first time a whole unfiltered day is asked for.
    totals: [std::sync::OnceLock<Vec<Total>>; 6],
    /// Event times (ms) of every group, each group's ascending, at `start..start + len`.
    times: Vec<i64>,
    /// The recipient number of each time (Open and Click groups), else [`NOBODY`].
    who: Vec<u32>,
}

/// A key's counts over a whole day: [`SLOTS`] order.
#[derive(Debug, Clone, Copy)]
struct Total {
    key: u32,
    /// A channel name seen with the key (channels only).
    name: u32,
    n: [u32; SLOTS],
}

/// sent, delivered, bounced permanent/transient/undetermined, complained, suppressed, delayed,
/// opens, clicks.
const SLOTS: usize = 10;

/// Where a group's rows count ([`SLOTS`]); `None` for types a breakdown does not count.
fn slot(event_type: EventType, bounce_type: u8) -> Option<usize> {
    Some(match event_type {
        EventType::Send => 0,
        EventType::Delivery => 1,
        EventType::Bounce => match bounce_type {
            1 => 2,
            2 => 3,
            _ => 4,
        },
        EventType::Complaint => 5,
        EventType::Reject => 6,
        EventType::DeliveryDelay => 7,
        EventType::Open => 8,
        EventType::Click => 9,
        EventType::RenderingFailure | EventType::Subscription => return None,
    })
}

fn key_counts(n: &[u64; SLOTS]) -> KeyCounts {
    KeyCounts {
        sent: n[0],
        delivered: n[1],
        bounced_permanent: n[2],
        bounced_transient: n[3],
        bounced_undetermined: n[4],
        complained: n[5],
        suppressed: n[6],
        delayed: n[7],
        opens: n[8],
        clicks: n[9],
        ..KeyCounts::default()
    }
}

/// The slot of `dim`'s totals: providers are summed from their domains, so they share the
/// recipient domains' totals.
fn dim_index(dim: Dimension) -> usize {
    let dim = match dim {
        Dimension::MailboxProvider => Dimension::RecipientDomain,
        d => d,
    };
    Dimension::ALL.iter().position(|&d| d == dim).unwrap_or(0)
}

impl HeldDay for DayIndex {
    fn changes(&self) -> u64 {
        self.changes
    }
}

impl DayIndex {
    fn new(changes: u64) -> DayIndex {
        DayIndex {
            changes,
            groups: Vec::new(),
            engaged_from: 0,
            totals: Default::default(),
            times: Vec::new(),
            who: Vec::new(),
        }
    }

    fn bytes(&self) -> usize {
        let totals: usize = self
            .totals
            .iter()
            .filter_map(|t| t.get())
            .map(|t| t.len() * std::mem::size_of::<Total>())
            .sum();
        self.groups.len() * GROUP_BYTES + self.times.len() * EVENT_BYTES + totals
    }

    /// The whole day's unfiltered counts per key of `dim`.
    fn totals(&self, dim: Dimension) -> &[Total] {
        self.totals[dim_index(dim)].get_or_init(|| {
            let mut at: HashMap<u32, usize> = HashMap::new();
            let mut out: Vec<Total> = Vec::new();
            for g in &self.groups {
                if dim == Dimension::BounceCause && g.event_type != EventType::Bounce {
                    continue;
                }
                let Some(slot) = slot(g.event_type, g.bounce_type) else {
                    continue;
                };
                let k = g.key(dim);
                let i = *at.entry(k).or_insert_with(|| {
                    out.push(Total {
                        key: k,
                        name: g.channel_name,
                        n: [0; SLOTS],
                    });
                    out.len() - 1
                });
                out[i].n[slot] += g.len;
            }
            out.shrink_to_fit();
            out
        })
    }
}

/// The events of one day sharing every breakdown key and filter column.
#[derive(Debug, Clone, Copy)]
struct Group {
    event_type: EventType,
    /// 0 none (not a bounce), 1 Permanent, 2 Transient, 3 anything else.
    bounce_type: u8,
    /// Index in [`Cause::ALL`] (bounces only).
    cause: u8,
    /// Strings: the channel id as text, the channel (configuration set) name, the sending
    /// domain, the template, the recipient domain.
    channel: u32,
    channel_name: u32,
    sender: u32,
    template: u32,
    domain: u32,
    start: u32,
    len: u32,
}

impl Group {
    fn key(&self, dim: Dimension) -> u32 {
        match dim {
            Dimension::MailboxProvider | Dimension::RecipientDomain => self.domain,
            Dimension::SendingDomain => self.sender,
            Dimension::Channel => self.channel,
            Dimension::Template => self.template,
            Dimension::BounceCause => u32::from(self.cause),
        }
    }
}

#[derive(Debug, Deserialize, Row)]
struct LoadRow {
    d: u16,
    event_type: EventType,
    bt: String,
    cause: String,
    cid: String,
    ch: String,
    sender_domain: String,
    template: String,
    rd: String,
    times: Vec<i64>,
    /// (occurred_ms, recipient hash) of the group's Open/Click rows.
    engaged: Vec<(i64, [u8; 16])>,
}

/// The filters of a request, in the org's string numbers.
struct Filters {
    channel: Option<u32>,
    sender: Option<u32>,
    /// Per string number: whether it names the filter's template (ASCII case-insensitively, as
    /// ClickHouse's `lower`).
    templates: Option<Vec<bool>>,
}

impl Filters {
    /// `None` when a filter names a value the org never had (nothing matches).
    fn new(s: &Strings, f: &ReportFilter) -> Option<Filters> {
        let channel = match f.channel_id {
            Some(c) => Some(s.find(&c.to_string())?),
            None => None,
        };
        let sender = match &f.sender_domain {
            Some(d) => Some(s.find(d)?),
            None => None,
        };
        let templates = f
            .template
            .as_ref()
            .map(|t| s.list.iter().map(|x| x.eq_ignore_ascii_case(t)).collect());
        Some(Filters {
            channel,
            sender,
            templates,
        })
    }

    fn matches(&self, g: &Group) -> bool {
        self.channel.is_none_or(|c| c == g.channel)
            && self.sender.is_none_or(|d| d == g.sender)
            && self
                .templates
                .as_ref()
                .is_none_or(|t| t.get(g.template as usize).copied().unwrap_or(false))
    }
}

impl BreakdownIndex {
    /// An index that keeps at most about `budget_bytes` across orgs.
    pub fn new(budget_bytes: usize) -> BreakdownIndex {
        BreakdownIndex {
            orgs: OrgCache::new(budget_bytes),
            providers: ProviderCache::default(),
        }
    }

    /// Loads the last `days` days (and today) of the orgs with the most events in them, most
    /// first, while the index holds less than half its budget, and sums their whole days'
    /// totals for reputation's dimensions: what the first breakdown or reputation request after
    /// a start or a bulk load would otherwise load itself. Days already held and unchanged
    /// cost nothing. Returns the orgs prepared.
    pub async fn prefill(&self, store: &Store, days: u16) -> Result<usize, StoreError> {
        let dims = [
            Dimension::Channel,
            Dimension::SendingDomain,
            Dimension::Template,
            Dimension::RecipientDomain,
        ];
        let (dims, f) = (&dims, &ReportFilter::default());
        let types = type_list(COUNTED);
        self.orgs
            .prefill(
                store,
                ("events", &types),
                days,
                |routed, org_id, window| async move {
                    let loaded = self.breakdowns(&routed, org_id, window, f, dims, false);
                    Ok(loaded.await?.is_some())
                },
            )
            .await
    }

    /// The breakdowns of `org_id`'s events in `window` by each of `dims` (in that
    /// order), as [`Store::breakdown_with`] answers them: keys with a non-zero count, in no
    /// particular order; without `uniques`, `unique_opens`/`unique_clicks` stay 0. `None` when
    /// the window's events could exceed the budget (the caller reads ClickHouse instead).
    pub async fn breakdowns(
        &self,
        store: &Store,
        org_id: Uuid,
        window: TimeRange,
        filter: &ReportFilter,
        dims: &[Dimension],
        uniques: bool,
    ) -> Result<Option<Vec<Vec<Breakdown>>>, StoreError> {
        let (from_ms, to_ms) = split(window.from.0, window.to.0).window;
        if from_ms >= to_ms || dims.is_empty() {
            return Ok(Some(dims.iter().map(|_| Vec::new()).collect()));
        }
        let (first, last) = (day_of_ms(from_ms), day_of_ms(to_ms - 1));
        let providers = async {
            if dims.contains(&Dimension::MailboxProvider) {
                self.providers.answers(store).await.map(Some)
            } else {
                Ok(None)
            }
        };
        let (changes, answers) = tokio::try_join!(
            store.day_changes(org_id, UtcDay(first), UtcDay(last)),
            providers
        )?;
        let org = self.orgs.org(org_id);
        let mut index = org.lock().await;
        let (wanted, load) =
            days_to_load(&mut index.days, &changes, (first, last), "breakdown_index");
        if !load.is_empty() {
            // At worst every event is a group of its own and names a new recipient.
            let kept: usize = wanted
                .iter()
                .filter_map(|d| index.days.get(d))
                .map(|d| d.bytes())
                .sum();
            let rows = rows_on_days(store, "events", org_id, &load, &type_list(COUNTED)).await?;
            let worst = usize::try_from(rows).map_or(usize::MAX, |r| {
                r.saturating_mul(EVENT_BYTES + GROUP_BYTES + RECIPIENT_BYTES)
            });
            if kept.saturating_add(worst) > self.orgs.budget_bytes() {
                return Ok(None);
            }
            // A week per statement: bounds what one statement holds in ClickHouse's memory.
            for days in load.chunks(7) {
                load_days(store, org_id, days, &changes, &mut index).await?;
            }
        }
        let days: Vec<(u16, Arc<DayIndex>)> = wanted
            .iter()
            .filter_map(|d| index.days.get(d).map(|x| (*d, x.clone())))
            .collect();
        let out = count(
            &index,
            &days,
            (from_ms, to_ms),
            filter,
            dims,
            uniques,
            answers.as_deref(),
        );
        let bytes = index.bytes();
        drop(index);
        self.orgs.account(org_id, bytes);
        Ok(Some(out))
    }
}

/// Loads whole days from `events` into `index` (replacing what it held for them), each with its
/// change counter as read before loading. Each event id is read once.
async fn load_days(
    store: &Store,
    org_id: Uuid,
    days: &[u16],
    changes: &BTreeMap<u16, u64>,
    index: &mut OrgIndex,
) -> Result<(), StoreError> {
    let (Some(lo), Some(hi)) = (days.iter().min(), days.iter().max()) else {
        return Ok(());
    };
    let mut cursor = store
        .client()
        .query(&format!(
            "SELECT toUInt16(day) AS d, event_type, bt, cause, toString(channel_id) AS cid, \
             any(channel) AS ch, sender_domain, template, rd, groupArray(occurred_ms) AS times, \
             groupArrayIf((occurred_ms, who), event_type IN ('Open', 'Click')) AS engaged FROM (\
             SELECT day, event_type, if(event_type = 'Bounce', bounce_type, '') AS bt, \
             {cause} AS cause, channel_id, channel, sender_domain, template, {domain} AS rd, \
             occurred_ms, sipHash128(lower(recipient)) AS who \
             FROM events WHERE org_id = ? AND day >= toDate(?) AND day <= toDate(?) AND {days} \
             AND event_type IN ({types}) LIMIT 1 BY event_id) \
             GROUP BY d, event_type, bt, cause, cid, sender_domain, template, rd",
            cause = causes::sql(),
            domain = RECIPIENT_DOMAIN_SQL,
            days = day_in(days),
            types = type_list(COUNTED),
        ))
        .bind(org_id.to_string())
        .bind(date(*lo))
        .bind(date(*hi))
        .fetch::<LoadRow>()?;
    let mut loaded: HashMap<u16, DayIndex> = HashMap::new();
    while let Some(r) = cursor.next().await? {
        let engaged = matches!(r.event_type, EventType::Open | EventType::Click);
        let domain = index.strings.id(&r.rd);
        let mut pairs: Vec<(i64, u32)> = if engaged {
            r.engaged
                .iter()
                .map(|&(t, h)| (t, index.number(h, domain)))
                .collect()
        } else {
            r.times.iter().map(|&t| (t, NOBODY)).collect()
        };
        pairs.sort_unstable();
        let s = &mut index.strings;
        let mut group = |start: usize| Group {
            event_type: r.event_type,
            bounce_type: match r.bt.as_str() {
                "" => 0,
                "Permanent" => 1,
                "Transient" => 2,
                _ => 3,
            },
            cause: Cause::ALL
                .iter()
                .position(|&c| c == Cause::parse(&r.cause).unwrap_or(Cause::Other))
                .unwrap_or(0) as u8,
            channel: s.id(&r.cid),
            channel_name: s.id(&r.ch),
            sender: s.id(&r.sender_domain),
            template: s.id(&r.template),
            domain,
            start: u32::try_from(start).unwrap_or(u32::MAX),
            len: u32::try_from(pairs.len()).unwrap_or(u32::MAX),
        };
        let day = loaded
            .entry(r.d)
            .or_insert_with(|| DayIndex::new(changes.get(&r.d).copied().unwrap_or(0)));
        let g = group(day.times.len());
        day.groups.push(g);
        day.times.extend(pairs.iter().map(|p| p.0));
        day.who.extend(pairs.iter().map(|p| p.1));
    }
    for &d in days {
        // A day without counted rows is held empty, so it is not asked for again.
        let mut day = loaded
            .remove(&d)
            .unwrap_or_else(|| DayIndex::new(changes.get(&d).copied().unwrap_or(0)));
        let engaged = |g: &Group| matches!(g.event_type, EventType::Open | EventType::Click);
        day.groups.sort_by_key(engaged);
        day.engaged_from = day.groups.partition_point(|g| !engaged(g));
        day.groups.shrink_to_fit();
        day.times.shrink_to_fit();
        day.who.shrink_to_fit();
        index.days.insert(d, Arc::new(day));
    }
    Ok(())
}
