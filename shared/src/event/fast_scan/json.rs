//! The JSON layer of the fast scanner: bytes to strings, keys, objects and arrays, and the
//! validating skip of every value SendOps does not read. It knows nothing of SES; the parent
//! module reads SES fields with it.

use super::*;
use std::borrow::Cow;

/// Index of the next `"`, `\` or control character at or after `j`.
#[inline(always)]
pub(super) fn next_special(b: &[u8], mut j: usize) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    while j + 8 <= b.len() {
        let mut w = [0u8; 8];
        w.copy_from_slice(&b[j..j + 8]);
        let x = u64::from_le_bytes(w);
        let q = x ^ (LO * u64::from(b'"'));
        let e = x ^ (LO * u64::from(b'\\'));
        // Lowest flagged byte is exact (borrows only flag bytes above a real hit).
        let t = ((q.wrapping_sub(LO) & !q)
            | (e.wrapping_sub(LO) & !e)
            | (x.wrapping_sub(LO * 0x20) & !x))
            & HI;
        if t != 0 {
            return Some(j + (t.trailing_zeros() / 8) as usize);
        }
        j += 8;
    }
    while j < b.len() {
        let c = b[j];
        if c == b'"' || c == b'\\' || c < 0x20 {
            return Some(j);
        }
        j += 1;
    }
    None
}

/// The character a simple (non-`\u`) escape stands for.
#[inline]
pub(super) fn simple_escape(c: u8) -> Option<char> {
    Some(match c {
        b'"' => '"',
        b'\\' => '\\',
        b'/' => '/',
        b'b' => '\u{8}',
        b'f' => '\u{c}',
        b'n' => '\n',
        b'r' => '\r',
        b't' => '\t',
        _ => return None,
    })
}

pub(super) struct Scan<'a> {
    pub(super) s: &'a str,
    pub(super) b: &'a [u8],
    pub(super) i: usize,
    pub(super) depth: u32,
}

impl<'a> Scan<'a> {
    #[inline]
    pub(super) fn ws(&mut self) {
        while let Some(&c) = self.b.get(self.i) {
            if !matches!(c, b' ' | b'\t' | b'\n' | b'\r') {
                break;
            }
            self.i += 1;
        }
    }

    #[inline]
    pub(super) fn peek(&self) -> R<u8> {
        self.b.get(self.i).copied()
    }

    /// A string (at its `"`), unescaped; `None` on `\u`, a bad escape or a control character.
    #[inline(always)]
    pub(super) fn string(&mut self) -> R<Cow<'a, str>> {
        let start = self.i + 1;
        let j = next_special(self.b, start)?;
        match self.b[j] {
            b'"' => {
                self.i = j + 1;
                Some(Cow::Borrowed(&self.s[start..j]))
            }
            b'\\' => self.string_escaped(start, j).map(Cow::Owned),
            _ => None,
        }
    }

    #[cold]
    pub(super) fn string_escaped(&mut self, start: usize, mut j: usize) -> R<String> {
        let mut out = String::from(&self.s[start..j]);
        loop {
            // `b[j]` is a backslash.
            out.push(simple_escape(*self.b.get(j + 1)?)?);
            let from = j + 2;
            let k = next_special(self.b, from)?;
            out.push_str(&self.s[from..k]);
            match self.b[k] {
                b'"' => {
                    self.i = k + 1;
                    return Some(out);
                }
                b'\\' => j = k,
                _ => return None,
            }
        }
    }

    /// Skips a string (at its `"`), checking its escapes; `None` on `\u` or a control character.
    #[inline(always)]
    pub(super) fn skip_string(&mut self) -> R<()> {
        let mut j = self.i + 1;
        loop {
            j = next_special(self.b, j)?;
            match self.b[j] {
                b'"' => {
                    self.i = j + 1;
                    return Some(());
                }
                b'\\' => {
                    simple_escape(*self.b.get(j + 1)?)?;
                    j += 2;
                }
                _ => return None,
            }
        }
    }

    /// An object key without escapes (at its `"`).
    #[inline(always)]
    pub(super) fn key(&mut self) -> R<&'a [u8]> {
        let start = self.i + 1;
        let j = next_special(self.b, start)?;
        if self.b[j] != b'"' {
            return None;
        }
        self.i = j + 1;
        Some(&self.b[start..j])
    }

    pub(super) fn literal(&mut self, word: &[u8]) -> R<()> {
        if self.b.get(self.i..self.i + word.len())? != word {
            return None;
        }
        self.i += word.len();
        Some(())
    }

    /// Skips a number, checking JSON's grammar: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
    pub(super) fn skip_number(&mut self) -> R<()> {
        let b = self.b;
        let mut i = self.i;
        if b.get(i) == Some(&b'-') {
            i += 1;
        }
        match b.get(i)? {
            b'0' => i += 1,
            b'1'..=b'9' => {
                while b.get(i).is_some_and(u8::is_ascii_digit) {
                    i += 1;
                }
            }
            _ => return None,
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            if !b.get(i)?.is_ascii_digit() {
                return None;
            }
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
        }
        if matches!(b.get(i), Some(b'e' | b'E')) {
            i += 1;
            if matches!(b.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            if !b.get(i)?.is_ascii_digit() {
                return None;
            }
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
        }
        self.i = i;
        Some(())
    }

    /// Skips a scalar (at its first byte), validating it; `None` at `{` or `[` too.
    #[inline]
    pub(super) fn skip_scalar(&mut self, c: u8) -> R<()> {
        match c {
            b'"' => self.skip_string(),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            b'-' | b'0'..=b'9' => self.skip_number(),
            _ => None,
        }
    }

    /// Skips any value (at its first byte), validating it. Iterative: the open objects and
    /// arrays are bits of a `u128` (1 = object), at most [`MAX_NESTING`] deep in all.
    pub(super) fn skip_value(&mut self) -> R<()> {
        let mut open: u128 = 0;
        let mut level: u32 = 0;
        loop {
            // At a value.
            let c = self.peek()?;
            match c {
                b'{' | b'[' => {
                    level += 1;
                    if self.depth + level > MAX_NESTING {
                        return None;
                    }
                    open = (open << 1) | u128::from(c == b'{');
                    self.i += 1;
                    self.ws();
                    let close = if c == b'{' { b'}' } else { b']' };
                    if self.peek()? == close {
                        self.i += 1;
                        level -= 1;
                        open >>= 1;
                    } else {
                        if c == b'{' {
                            self.member_key()?;
                        }
                        continue;
                    }
                }
                _ => self.skip_scalar(c)?,
            }
            // After a value: close what ends here, up to the next value.
            loop {
                if level == 0 {
                    return Some(());
                }
                self.ws();
                let in_object = open & 1 == 1;
                match self.peek()? {
                    b',' => {
                        self.i += 1;
                        self.ws();
                        if in_object {
                            self.member_key()?;
                        }
                        break;
                    }
                    b'}' if in_object => {}
                    b']' if !in_object => {}
                    _ => return None,
                }
                self.i += 1;
                level -= 1;
                open >>= 1;
            }
        }
    }

    /// A skipped object's member name and its `:` (whitespace after it skipped).
    #[inline]
    pub(super) fn member_key(&mut self) -> R<()> {
        if self.peek()? != b'"' {
            return None;
        }
        self.skip_string()?;
        self.colon()
    }

    /// The `:` after a member name, with the whitespace on either side of it.
    #[inline(always)]
    fn colon(&mut self) -> R<()> {
        self.ws();
        if self.peek()? != b':' {
            return None;
        }
        self.i += 1;
        self.ws();
        Some(())
    }

    /// An object (at its `{`): `f` reads each member's value (whitespace before it skipped).
    #[inline]
    pub(super) fn object(&mut self, mut f: impl FnMut(&mut Self, &'a [u8]) -> R<()>) -> R<()> {
        self.container(b'{', b'}', |s| {
            if s.peek()? != b'"' {
                return None;
            }
            let key = s.key()?;
            s.colon()?;
            f(s, key)
        })
    }

    /// An array (at its `[`): `f` reads each element (whitespace before it skipped).
    #[inline]
    pub(super) fn array(&mut self, f: impl FnMut(&mut Self) -> R<()>) -> R<()> {
        self.container(b'[', b']', f)
    }

    /// An object or array (at its `open` byte, ended by `close`): `item` reads each member or
    /// element (whitespace before it skipped), at one more level of nesting.
    #[inline(always)]
    fn container(
        &mut self,
        open: u8,
        close: u8,
        mut item: impl FnMut(&mut Self) -> R<()>,
    ) -> R<()> {
        if self.peek()? != open {
            return None;
        }
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return None;
        }
        self.i += 1;
        self.ws();
        if self.peek()? == close {
            self.i += 1;
            self.depth -= 1;
            return Some(());
        }
        loop {
            item(self)?;
            self.ws();
            match self.peek()? {
                b',' => {
                    self.i += 1;
                    self.ws();
                }
                c if c == close => {
                    self.i += 1;
                    self.depth -= 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }
}
