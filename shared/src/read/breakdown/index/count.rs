//! Counting a window from the days of [`super`]: one pass per request over the window's days,
//! whole unfiltered days from their per-key totals, other days group by group; distinct openers
//! and clickers by bitset unions.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::super::causes::Cause;
use super::super::providers::ProviderCache;
use super::super::{Breakdown, Dimension, KeyCounts, label};
use super::{DayIndex, Filters, Group, NOBODY, OrgIndex, SLOTS, Strings, key_counts, slot};
use crate::EventType;
use crate::read::report_filter::ReportFilter;
use crate::timefmt::{DAY_MS, day_start_ms};

/// Counts of one dimension while counting.
struct Tally {
    dim: Dimension,
    counts: Vec<[u64; SLOTS]>,
    uniques: Vec<[u64; 2]>,
    /// Per key: a channel name seen with it (channels only).
    names: Vec<u32>,
}

impl Tally {
    fn add(&mut self, k: u32, name: u32, slot: usize, n: u64) {
        if let Some(c) = self.counts.get_mut(k as usize) {
            c[slot] += n;
        }
        if let Some(x) = self.names.get_mut(k as usize)
            && *x == NOBODY
        {
            *x = name;
        }
    }
}

/// The part of a day inside a window.
#[derive(Debug, Clone, Copy)]
struct DayWindow {
    /// The whole day is inside.
    whole: bool,
    lo: i64,
    hi: i64,
}

impl DayWindow {
    fn of(day: u16, (from_ms, to_ms): (i64, i64)) -> DayWindow {
        let start = day_start_ms(day);
        let (lo, hi) = (from_ms.max(start), to_ms.min(start + DAY_MS));
        DayWindow {
            whole: lo == start && hi == start + DAY_MS,
            lo,
            hi,
        }
    }

    /// The positions of `g`'s rows inside: all of them, or those timed in [lo, hi).
    fn rows(&self, d: &DayIndex, g: &Group) -> (usize, usize) {
        let (a, b) = (g.start as usize, g.start as usize + g.len as usize);
        if self.whole {
            return (a, b);
        }
        let t = &d.times[a..b];
        (
            a + t.partition_point(|&x| x < self.lo),
            a + t.partition_point(|&x| x < self.hi),
        )
    }
}

/// One pass over `days` for every dimension of `dims`.
pub(super) fn count(
    index: &OrgIndex,
    days: &[(u16, Arc<DayIndex>)],
    (from_ms, to_ms): (i64, i64),
    filter: &ReportFilter,
    dims: &[Dimension],
    uniques: bool,
    answers: Option<&HashMap<String, String>>,
) -> Vec<Vec<Breakdown>> {
    let s = &index.strings;
    let Some(filters) = Filters::new(s, filter) else {
        return dims.iter().map(|_| Vec::new()).collect();
    };
    let unfiltered = *filter == ReportFilter::default();
    let mut tallies: Vec<Tally> = dims
        .iter()
        .map(|&dim| {
            let keys = if dim == Dimension::BounceCause {
                Cause::ALL.len()
            } else {
                s.list.len()
            };
            Tally {
                dim,
                counts: vec![[0; SLOTS]; keys],
                uniques: Vec::new(),
                names: vec![NOBODY; if dim == Dimension::Channel { keys } else { 0 }],
            }
        })
        .collect();
    for (day, d) in days {
        let w = DayWindow::of(*day, (from_ms, to_ms));
        if w.whole && unfiltered {
            for t in &mut tallies {
                for total in d.totals(t.dim) {
                    let k = total.key as usize;
                    if let Some(c) = t.counts.get_mut(k) {
                        for (x, &n) in c.iter_mut().zip(&total.n) {
                            *x += u64::from(n);
                        }
                    }
                    if let Some(x) = t.names.get_mut(k)
                        && *x == NOBODY
                    {
                        *x = total.name;
                    }
                }
            }
            continue;
        }
        for g in &d.groups {
            let Some(slot) = slot(g.event_type, g.bounce_type) else {
                continue;
            };
            if !filters.matches(g) {
                continue;
            }
            let (a, b) = w.rows(d, g);
            if a >= b {
                continue;
            }
            for t in &mut tallies {
                if t.dim == Dimension::BounceCause && g.event_type != EventType::Bounce {
                    continue;
                }
                t.add(g.key(t.dim), g.channel_name, slot, (b - a) as u64);
            }
        }
    }
    if uniques {
        for t in &mut tallies {
            if t.dim == Dimension::BounceCause {
                continue;
            }
            t.uniques = distinct(index, days, &filters, t.dim, (from_ms, to_ms));
        }
    }
    tallies.into_iter().map(|t| answer(s, t, answers)).collect()
}

/// Distinct openers and clickers per key of `dim` ([opens, clicks] per string number) among
/// the Open/Click rows of `days` in the window.
fn distinct(
    index: &OrgIndex,
    days: &[(u16, Arc<DayIndex>)],
    filters: &Filters,
    dim: Dimension,
    window: (i64, i64),
) -> Vec<[u64; 2]> {
    let numbered = index.recipients.len();
    let mut out = vec![[0u64; 2]; index.strings.list.len()];
    let set = |bits: &mut [u64], id: u32| {
        let (word, bit) = ((id >> 6) as usize, 1u64 << (id & 63));
        match bits.get_mut(word) {
            Some(w) if *w & bit == 0 => {
                *w |= bit;
                true
            }
            _ => false,
        }
    };
    if matches!(dim, Dimension::RecipientDomain | Dimension::MailboxProvider) {
        // A recipient has one domain: distinct recipients of the whole window, each counted
        // under its own domain.
        let mut bits = [
            vec![0u64; numbered.div_ceil(64)],
            vec![0u64; numbered.div_ceil(64)],
        ];
        for (day, d) in days {
            let w = DayWindow::of(*day, window);
            for g in &d.groups[d.engaged_from..] {
                if !filters.matches(g) {
                    continue;
                }
                let click = usize::from(g.event_type == EventType::Click);
                let (a, b) = w.rows(d, g);
                for &id in &d.who[a..b.max(a)] {
                    if set(&mut bits[click], id)
                        && let Some(o) = index
                            .domain_of
                            .get(id as usize)
                            .and_then(|&k| out.get_mut(k as usize))
                    {
                        o[click] += 1;
                    }
                }
            }
        }
        return out;
    }
    // Other keys share recipients: the rows of each (key, type) are counted on one bitset,
    // cleared after each.
    let mut by_key: HashMap<(u32, usize), Vec<&[u32]>> = HashMap::new();
    for (day, d) in days {
        let w = DayWindow::of(*day, window);
        for g in &d.groups[d.engaged_from..] {
            if !filters.matches(g) {
                continue;
            }
            let (a, b) = w.rows(d, g);
            if a < b {
                let click = usize::from(g.event_type == EventType::Click);
                by_key
                    .entry((g.key(dim), click))
                    .or_default()
                    .push(&d.who[a..b]);
            }
        }
    }
    let mut bits = vec![0u64; numbered.div_ceil(64)];
    for ((k, click), slices) in by_key {
        let mut n = 0u64;
        for ids in &slices {
            for &id in *ids {
                n += u64::from(set(&mut bits, id));
            }
        }
        for ids in &slices {
            for &id in *ids {
                if let Some(w) = bits.get_mut((id >> 6) as usize) {
                    *w = 0;
                }
            }
        }
        if let Some(o) = out.get_mut(k as usize) {
            o[click] += n;
        }
    }
    out
}

/// A tally's rows: non-zero keys with their labels; providers folded from their domains (a
/// recipient has one domain, so distinct counts add up).
fn answer(s: &Strings, t: Tally, answers: Option<&HashMap<String, String>>) -> Vec<Breakdown> {
    let uniques = &t.uniques;
    let keyed = t
        .counts
        .iter()
        .enumerate()
        .map(|(k, n)| {
            let mut c = key_counts(n);
            if let Some(u) = uniques.get(k) {
                c.unique_opens = u[0];
                c.unique_clicks = u[1];
            }
            (k, c)
        })
        .filter(|(_, c)| !c.is_zero())
        .map(|(k, c)| {
            let k = k as u32;
            let key = if t.dim == Dimension::BounceCause {
                Cause::ALL[k as usize].as_str()
            } else {
                s.get(k)
            };
            let name = t.names.get(k as usize).map_or("", |&n| s.get(n));
            (key, name, c)
        });
    if t.dim == Dimension::MailboxProvider {
        let empty = HashMap::new();
        let answers = answers.unwrap_or(&empty);
        let mut by: BTreeMap<&str, KeyCounts> = BTreeMap::new();
        for (domain, _, c) in keyed {
            by.entry(ProviderCache::provider(answers, domain))
                .or_default()
                .add(&c);
        }
        return by
            .into_iter()
            .map(|(key, counts)| Breakdown {
                label: label(t.dim, key, ""),
                key: key.to_owned(),
                counts,
            })
            .collect();
    }
    keyed
        .map(|(key, name, counts)| Breakdown {
            label: label(t.dim, key, name),
            key: key.to_owned(),
            counts,
        })
        .collect()
}
