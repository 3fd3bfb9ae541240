//! One way to assemble a statement: [`Sql`] collects fragments, each pushed together with the
//! values of its own `?` placeholders, so a condition and its binds are added (or left out) as
//! one and cannot drift apart in order. [`Store::sql`] sends it through the metered client.
//!
//! The clickhouse crate reads every `?` of the text as a placeholder; a literal `?` is written
//! `??` (and is not counted as a placeholder here).
//!
//! Column lists: a SELECT of plain columns into a `#[derive(Row)]` type writes `?fields`, which
//! the crate expands to the row type's field names (its serde names), so the list cannot drift
//! from the struct; `?fields` takes no value (not counted here either). A list with computed
//! columns (aggregates, casts, aliases that must differ from the column names on 18.16) stays
//! typed by hand, in field order: RowBinary is read by position.

use uuid::Uuid;

use crate::store::Store;
use crate::store::metered;

/// A value bound to one placeholder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bind {
    Text(String),
    Int(i64),
    UInt(u64),
    /// An `Array(String)` (e.g. ids for `IN (SELECT toUUID(arrayJoin(?)))`).
    Texts(Vec<String>),
}

impl From<&str> for Bind {
    fn from(v: &str) -> Bind {
        Bind::Text(v.to_owned())
    }
}

impl From<String> for Bind {
    fn from(v: String) -> Bind {
        Bind::Text(v)
    }
}

impl From<&String> for Bind {
    fn from(v: &String) -> Bind {
        Bind::Text(v.clone())
    }
}

impl From<Uuid> for Bind {
    fn from(v: Uuid) -> Bind {
        Bind::Text(v.to_string())
    }
}

impl From<i64> for Bind {
    fn from(v: i64) -> Bind {
        Bind::Int(v)
    }
}

impl From<u64> for Bind {
    fn from(v: u64) -> Bind {
        Bind::UInt(v)
    }
}

impl From<&[Uuid]> for Bind {
    fn from(v: &[Uuid]) -> Bind {
        Bind::Texts(v.iter().map(Uuid::to_string).collect())
    }
}

/// A statement under construction: its text and the values of its placeholders, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sql {
    text: String,
    binds: Vec<Bind>,
}

/// `?` placeholders in `fragment` (`??` is a literal question mark, `?fields` a column list).
fn placeholders(fragment: &str) -> usize {
    let mut n = 0;
    let mut chars = fragment.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '?' {
            if chars.peek() == Some(&'?') {
                chars.next();
            } else if chars.clone().take(6).eq("fields".chars()) {
                chars.nth(5);
            } else {
                n += 1;
            }
        }
    }
    n
}

impl Sql {
    /// A statement starting with `fragment` and the values of its placeholders.
    pub fn new<const N: usize>(fragment: &str, binds: [Bind; N]) -> Sql {
        let mut sql = Sql::default();
        sql.push(fragment, binds);
        sql
    }

    /// Appends `fragment` and the values of its placeholders (as many as it has: checked in
    /// debug builds, so every test run checks every statement it builds).
    pub fn push<const N: usize>(&mut self, fragment: &str, binds: [Bind; N]) -> &mut Sql {
        self.push_all(fragment, binds)
    }

    /// [`Sql::push`] with a list of values.
    pub fn push_all(&mut self, fragment: &str, binds: impl IntoIterator<Item = Bind>) -> &mut Sql {
        let before = self.binds.len();
        self.binds.extend(binds);
        debug_assert_eq!(
            placeholders(fragment),
            self.binds.len() - before,
            "placeholders and values differ in {fragment:?}"
        );
        self.text.push_str(fragment);
        self
    }

    /// Appends another statement (a subquery, a filter built elsewhere) with its values.
    pub fn append(&mut self, other: Sql) -> &mut Sql {
        self.text.push_str(&other.text);
        self.binds.extend(other.binds);
        self
    }

    /// `parts` joined by `separator` (a fragment without placeholders).
    pub fn join(parts: Vec<Sql>, separator: &str) -> Sql {
        let mut out = Sql::default();
        for (i, p) in parts.into_iter().enumerate() {
            if i > 0 {
                out.push(separator, []);
            }
            out.append(p);
        }
        out
    }

    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn binds(&self) -> &[Bind] {
        &self.binds
    }
}

impl Store {
    /// `sql` as a query of the metered client, its values bound in order.
    pub fn sql(&self, sql: Sql) -> metered::Query {
        let mut q = self.client().query(&sql.text);
        for b in sql.binds {
            q = match b {
                Bind::Text(s) => q.bind(s),
                Bind::Int(i) => q.bind(i),
                Bind::UInt(u) => q.bind(u),
                Bind::Texts(v) => q.bind(v),
            };
        }
        q
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fragments_carry_their_own_values() {
        let mut sql = Sql::new("SELECT 1 FROM t WHERE a = ?", ["x".into()]);
        sql.push(" AND b IN (?, ?)", [1i64.into(), 2u64.into()]);
        sql.push(" AND match(c, '^x??$')", []);
        sql.push(" AND d IN (SELECT ?fields FROM u)", []);
        assert_eq!(
            sql.text(),
            "SELECT 1 FROM t WHERE a = ? AND b IN (?, ?) AND match(c, '^x??$') \
             AND d IN (SELECT ?fields FROM u)"
        );
        assert_eq!(
            sql.binds(),
            &[Bind::Text("x".into()), Bind::Int(1), Bind::UInt(2)]
        );
    }

    #[test]
    #[should_panic(expected = "placeholders and values differ")]
    fn a_fragment_without_its_values_is_refused() {
        Sql::default().push(" AND a = ?", []);
    }
}
