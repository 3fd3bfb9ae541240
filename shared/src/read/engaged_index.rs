//! In-process index of engaged recipients (Open and Click), for distinct counts over a whole
//! window: template performance counts distinct recipients per template over [from, to), which
//! no per-day rollup can answer (distinct counts do not add up across days).
//!
//! Per org, every stored Open/Click row of a UTC day is kept as (time, dense recipient number),
//! grouped by (template, event type, channel, sending domain) and sorted by time; recipient hashes
//! (`engaged.recipient_hash`) are numbered per org. A window's distinct count per template is
//! then a bitset union of the rows in [from, to): a few milliseconds for millions of rows.
//!
//! Exactness: a day is reused only while its change counter (`day_changes`, crate::store::ledger) still
//! equals the one read before the day was loaded (an unchanged counter is an unchanged day);
//! otherwise the day is loaded again from `engaged` before answering. A second copy of an event
//! (a retried or racing INSERT) adds a row with the same recipient, which a distinct count
//! ignores. Memory: days and numbering of all orgs are bounded by a byte budget; the least
//! recently used orgs are dropped first, an org larger than the whole budget is answered and then
//! dropped, and a window whose rows alone could exceed the budget is not loaded at all (the
//! report counts it in ClickHouse, slower but exact).

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use clickhouse::Row;
use serde::Deserialize;
use uuid::Uuid;

use crate::read::org_cache::{HeldDay, OrgCache, days_to_load, rows_on_days};
use crate::read::report_filter::{ReportFilter, date, day_in};
use crate::store::Store;
use crate::timefmt::{TimeRange, UtcDay, day_of_ms};
use crate::{EventType, StoreError};

/// Bytes the index accounts per cached row and per numbered recipient (with map overhead).
const ROW_BYTES: usize = 12;
const ID_BYTES: usize = 40;

/// Distinct recipients of one template and event type over a window.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Row)]
pub struct TemplateUniques {
    pub template: String,
    pub event_type: EventType,
    pub uniques: u64,
}

/// The engaged-recipient index of every org this process has reported on.
pub struct EngagedIndex {
    orgs: OrgCache<OrgIndex>,
}

/// A recipient hash is already uniformly distributed: hash maps keyed by it use its bits as is.
#[derive(Default)]
pub(crate) struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.0 ^= u64::from_le_bytes(b);
        }
    }
    fn write_u128(&mut self, v: u128) {
        self.0 ^= v as u64 ^ (v >> 64) as u64;
    }
}

pub(crate) type HashToId = HashMap<u128, u32, BuildHasherDefault<PassThrough>>;

#[derive(Default)]
struct OrgIndex {
    ids: HashToId,
    days: HashMap<u16, Arc<DayIndex>>,
}

impl OrgIndex {
    fn bytes(&self) -> usize {
        let rows: usize = self.days.values().map(|d| d.rows as usize).sum();
        rows * ROW_BYTES + self.ids.len() * ID_BYTES
    }

    fn number(&mut self, hash: [u8; 16]) -> u32 {
        let next = self.ids.len() as u32;
        *self.ids.entry(u128::from_le_bytes(hash)).or_insert(next)
    }
}

/// One UTC day of an org.
struct DayIndex {
    /// The day's change counter read before it was loaded (the validator).
    changes: u64,
    /// Open/Click rows loaded.
    rows: u64,
    groups: Vec<Group>,
}

impl HeldDay for DayIndex {
    fn changes(&self) -> u64 {
        self.changes
    }
}

struct Group {
    template: String,
    event_type: EventType,
    channel_id: Uuid,
    sender_domain: String,
    /// Event times (ms), ascending, and the recipient number of each.
    times: Vec<i64>,
    ids: Vec<u32>,
}

impl Group {
    fn matches(&self, filter: &ReportFilter, types: &[EventType]) -> bool {
        !self.template.is_empty()
            && types.contains(&self.event_type)
            && filter.channel_id.is_none_or(|c| c == self.channel_id)
            && filter
                .sender_domain
                .as_deref()
                .is_none_or(|d| d == self.sender_domain)
            // ClickHouse's lower() is ASCII-only, and so is this comparison.
            && filter
                .template
                .as_deref()
                .is_none_or(|t| t.eq_ignore_ascii_case(&self.template))
    }

    /// Recipient numbers of the rows in [from_ms, to_ms).
    fn window(&self, from_ms: i64, to_ms: i64) -> &[u32] {
        let a = self.times.partition_point(|&t| t < from_ms);
        let b = self.times.partition_point(|&t| t < to_ms);
        &self.ids[a..b.max(a)]
    }
}

#[derive(Debug, Deserialize, Row)]
struct GroupRows {
    d: u16,
    template: String,
    event_type: EventType,
    #[serde(with = "clickhouse::serde::uuid")]
    channel_id: Uuid,
    sender_domain: String,
    /// (occurred_ms, recipient_hash) of every row.
    rows: Vec<(i64, [u8; 16])>,
}

const ENGAGED: &str = "'Open', 'Click'";

impl EngagedIndex {
    /// An index that keeps at most about `budget_bytes` across orgs.
    pub fn new(budget_bytes: usize) -> EngagedIndex {
        EngagedIndex {
            orgs: OrgCache::new(budget_bytes),
        }
    }

    /// Loads the last `days` days (and today) of the orgs with the most Open/Click rows in them,
    /// most first, while the index holds less than half its budget: what the first template
    /// performance report after a start or a bulk load would otherwise load itself. Days already
    /// held and unchanged cost nothing. Returns the orgs prepared.
    pub async fn prefill(&self, store: &Store, days: u16) -> Result<usize, StoreError> {
        let types = &[EventType::Open, EventType::Click];
        let f = &ReportFilter::default();
        self.orgs
            .prefill(
                store,
                ("engaged", ENGAGED),
                days,
                |routed, org_id, window| async move {
                    let loaded = self.template_uniques(&routed, org_id, window, f, types);
                    Ok(loaded.await?.is_some())
                },
            )
            .await
    }

    /// Distinct recipients per template (non-empty names) and event type of `types` (Open,
    /// Click) with an event in `window`, under `filter`; `None` when the window's rows alone
    /// could exceed the budget (the caller then counts in ClickHouse instead).
    pub async fn template_uniques(
        &self,
        store: &Store,
        org_id: Uuid,
        window: TimeRange,
        filter: &ReportFilter,
        types: &[EventType],
    ) -> Result<Option<Vec<TemplateUniques>>, StoreError> {
        let (from_ms, to_ms) = window.ms();
        if types.is_empty() || from_ms >= to_ms {
            return Ok(Some(Vec::new()));
        }
        let (first, last) = (day_of_ms(from_ms), day_of_ms(to_ms - 1));
        let changes = store
            .day_changes(org_id, UtcDay(first), UtcDay(last))
            .await?;
        let org = self.orgs.org(org_id);
        let (days, numbered, bytes) = {
            let mut index = org.lock().await;
            let (_, load) = days_to_load(&mut index.days, &changes, (first, last), "engaged_index");
            // At worst every row names a new recipient.
            let kept: u64 = (first..=last)
                .filter_map(|d| index.days.get(&d).map(|c| c.rows))
                .sum();
            let rows = kept + rows_on_days(store, "engaged", org_id, &load, ENGAGED).await?;
            if usize::try_from(rows).map_or(true, |r| {
                r.saturating_mul(ROW_BYTES + ID_BYTES) > self.orgs.budget_bytes()
            }) {
                return Ok(None);
            }
            if !load.is_empty() {
                load_days(store, org_id, &load, &changes, &mut index).await?;
            }
            let days: Vec<Arc<DayIndex>> = (first..=last)
                .filter_map(|d| index.days.get(&d).cloned())
                .collect();
            (days, index.ids.len(), index.bytes())
        };
        self.orgs.account(org_id, bytes);
        Ok(Some(count_distinct(
            &days, numbered, from_ms, to_ms, filter, types,
        )))
    }
}

/// Loads whole days from `engaged` into `index` (replacing what it held for them), each with its
/// change counter as read before loading.
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
            "SELECT toUInt16(day) AS d, template, event_type, channel_id, sender_domain, \
             groupArray((occurred_ms, recipient_hash)) AS rows \
             FROM engaged WHERE org_id = ? AND event_type IN ({ENGAGED}) \
             AND day >= toDate(?) AND day <= toDate(?) AND {} \
             GROUP BY day, template, event_type, channel_id, sender_domain",
            day_in(days)
        ))
        .bind(org_id.to_string())
        .bind(date(*lo))
        .bind(date(*hi))
        .fetch::<GroupRows>()?;
    let mut loaded: HashMap<u16, DayIndex> = HashMap::new();
    while let Some(r) = cursor.next().await? {
        let mut pairs: Vec<(i64, u32)> = r
            .rows
            .into_iter()
            .map(|(t, h)| (t, index.number(h)))
            .collect();
        pairs.sort_unstable();
        let day = loaded.entry(r.d).or_insert(DayIndex {
            changes: changes.get(&r.d).copied().unwrap_or(0),
            rows: 0,
            groups: Vec::new(),
        });
        day.rows += pairs.len() as u64;
        day.groups.push(Group {
            template: r.template,
            event_type: r.event_type,
            channel_id: r.channel_id,
            sender_domain: r.sender_domain,
            times: pairs.iter().map(|p| p.0).collect(),
            ids: pairs.iter().map(|p| p.1).collect(),
        });
    }
    for &d in days {
        // A day without Open/Click rows is held empty, so it is not asked for again.
        let day = loaded.remove(&d).unwrap_or(DayIndex {
            changes: changes.get(&d).copied().unwrap_or(0),
            rows: 0,
            groups: Vec::new(),
        });
        index.days.insert(d, Arc::new(day));
    }
    Ok(())
}

/// Distinct recipient numbers per (template, type) over the rows in [from_ms, to_ms).
fn count_distinct(
    days: &[Arc<DayIndex>],
    numbered: usize,
    from_ms: i64,
    to_ms: i64,
    filter: &ReportFilter,
    types: &[EventType],
) -> Vec<TemplateUniques> {
    let mut by_key: BTreeMap<(&str, EventType), Vec<&[u32]>> = BTreeMap::new();
    for day in days {
        for g in &day.groups {
            if g.matches(filter, types) {
                let ids = g.window(from_ms, to_ms);
                if !ids.is_empty() {
                    by_key
                        .entry((&g.template, g.event_type))
                        .or_default()
                        .push(ids);
                }
            }
        }
    }
    let mut bits = vec![0u64; numbered.div_ceil(64)];
    let mut out = Vec::with_capacity(by_key.len());
    for ((template, event_type), slices) in by_key {
        let mut uniques = 0u64;
        for ids in &slices {
            for &id in *ids {
                let (word, bit) = ((id >> 6) as usize, 1u64 << (id & 63));
                if bits[word] & bit == 0 {
                    bits[word] |= bit;
                    uniques += 1;
                }
            }
        }
        // Clear only the words this key touched.
        for ids in &slices {
            for &id in *ids {
                bits[(id >> 6) as usize] = 0;
            }
        }
        out.push(TemplateUniques {
            template: template.to_owned(),
            event_type,
            uniques,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(template: &str, rows: &[(i64, u32)]) -> Group {
        Group {
            template: template.into(),
            event_type: EventType::Open,
            channel_id: Uuid::nil(),
            sender_domain: "example.com".into(),
            times: rows.iter().map(|r| r.0).collect(),
            ids: rows.iter().map(|r| r.1).collect(),
        }
    }

    #[test]
    fn distinct_counts_union_days_and_respect_the_window_and_template_rule() {
        let d1 = Arc::new(DayIndex {
            changes: 2,
            rows: 5,
            groups: vec![
                group("Welcome", &[(10, 1), (20, 2), (30, 1)]),
                group("", &[(15, 3)]),
                group("receipt", &[(25, 200)]),
            ],
        });
        let d2 = Arc::new(DayIndex {
            changes: 2,
            rows: 3,
            groups: vec![group("Welcome", &[(100, 2), (110, 3), (120, 70)])],
        });
        let all = count_distinct(
            &[d1.clone(), d2.clone()],
            201,
            0,
            1000,
            &ReportFilter::default(),
            &[EventType::Open],
        );
        let get =
            |v: &[TemplateUniques], t: &str| v.iter().find(|u| u.template == t).map(|u| u.uniques);
        assert_eq!(get(&all, "Welcome"), Some(4)); // 1, 2, 3, 70
        assert_eq!(get(&all, "receipt"), Some(1));
        assert_eq!(get(&all, ""), None);
        // [20, 111): 2, 1 (at 30), 2 again, 3.
        let part = count_distinct(
            &[d1.clone(), d2.clone()],
            201,
            20,
            111,
            &ReportFilter::default(),
            &[EventType::Open],
        );
        assert_eq!(get(&part, "Welcome"), Some(3));
        let only = count_distinct(
            &[d1, d2],
            201,
            0,
            1000,
            &ReportFilter {
                template: Some("RECEIPT".into()),
                ..ReportFilter::default()
            },
            &[EventType::Open],
        );
        assert_eq!(only.len(), 1);
        assert_eq!(get(&only, "receipt"), Some(1));
    }
}
