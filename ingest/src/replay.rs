//! File replay: a file holds one JSON document, a JSON array, or NDJSON; each item may be any
//! carrier the pipeline accepts. NDJSON is streamed in chunks, so memory stays bounded whatever
//! the file size; a single document or array is read whole.
//!
//! Input is read as bytes: a line (or a whole document) that is not valid UTF-8 cannot be a JSON
//! record, so it is quarantined as `invalid_json` with its bytes kept exactly, and the rest of
//! the file is ingested.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::ops::Range;

use sendops_shared::event::envelope::QuarantineReason;
use sendops_shared::store::QuarantineRow;
use sendops_shared::timefmt::now_ms;
use serde_json::value::RawValue;
use thiserror::Error;

use sendops_shared::write::pipeline::{
    BatchReport, Pipeline, Prepared, Record, Source, Stored, decode,
};
#[derive(Debug, Error)]
pub enum ReplayError {
    #[error("cannot read {path}: {source}")]
    Io { path: String, source: io::Error },
    #[error("store: {0}")]
    Store(#[from] sendops_shared::StoreError),
}

/// Replays files (`-` is standard input) through the pipeline, `chunk` records per batch.
pub async fn replay_paths(
    pipeline: &Pipeline,
    paths: &[String],
    chunk: usize,
) -> Result<BatchReport, ReplayError> {
    let mut total = BatchReport::default();
    for path in paths {
        let io_err = |source| ReplayError::Io {
            path: path.clone(),
            source,
        };
        let reader: Box<dyn Read> = if path == "-" {
            Box::new(io::stdin().lock())
        } else {
            Box::new(File::open(path).map_err(io_err)?)
        };
        let report = replay_reader(pipeline, BufReader::with_capacity(1 << 20, reader), chunk)
            .await
            .map_err(|e| match e {
                ReplayError::Io { source, .. } => ReplayError::Io {
                    path: path.clone(),
                    source,
                },
                other => other,
            })?;
        total.add(&report);
    }
    Ok(total)
}

/// Replays one input. NDJSON when the first non-empty line is a whole JSON value (read as if
/// its invalid UTF-8 were replacement characters); otherwise the whole input is one document (an
/// array is split into its items).
pub async fn replay_reader<R: BufRead>(
    pipeline: &Pipeline,
    mut reader: R,
    chunk: usize,
) -> Result<BatchReport, ReplayError> {
    let chunk = chunk.max(1);
    let io_err = |source| ReplayError::Io {
        path: String::new(),
        source,
    };
    let mut total = BatchReport::default();
    let mut first = Vec::new();
    let mut line_no: u64 = 0;
    loop {
        first.clear();
        if reader.read_until(b'\n', &mut first).map_err(io_err)? == 0 {
            return Ok(total);
        }
        line_no += 1;
        if !is_blank(&first) {
            break;
        }
    }
    let first_is_whole = match std::str::from_utf8(&first) {
        Ok(text) => serde_json::from_str::<&RawValue>(text.trim()).is_ok(),
        Err(_) => serde_json::from_str::<&RawValue>(String::from_utf8_lossy(&first).trim()).is_ok(),
    };
    if !first_is_whole {
        let mut all = first;
        reader.read_to_end(&mut all).map_err(io_err)?;
        let text = match std::str::from_utf8(&all) {
            Ok(text) => text,
            Err(e) => {
                let raw = all.trim_ascii();
                let detail = format!(
                    "the document is not valid UTF-8 (at byte {})",
                    e.valid_up_to() - (all.len() - all.trim_ascii_start().len())
                );
                total.add(&quarantine_bytes(pipeline, vec![(raw.to_vec(), detail)]).await?);
                return Ok(total);
            }
        };
        let items = split_document(text);
        for part in items.chunks(chunk) {
            let records: Vec<Record<'_>> = part.iter().map(|s| Record { body: s }).collect();
            total.add(&pipeline.process(&records).await?);
        }
        return Ok(total);
    }
    // NDJSON: one record per non-empty line, `chunk` lines per batch. A batch's lines are read
    // into one buffer (reused from batch to batch) rather than one allocation per line, and the
    // buffer is checked for UTF-8 once; only a batch that fails the check is looked at line by
    // line.
    //
    // Batches overlap: while batch N is stored, batch N+1 (already read) is decoded on a blocking
    // thread and checked against the done markers; once N is stored, the events N stored are
    // dropped from N+1 (its check could not see them yet) and N+1 is stored. So at most two
    // batches are held, and batches reach the store in file order.
    let mut buf = first;
    let mut lines: Vec<(Range<usize>, u64)> = Vec::with_capacity(chunk);
    lines.push((0..buf.len(), line_no));
    let mut pending: Option<PreparedLines> = None;
    loop {
        let start = buf.len();
        let n = reader.read_until(b'\n', &mut buf).map_err(io_err)?;
        if n > 0 {
            line_no += 1;
            if is_blank(&buf[start..]) {
                buf.truncate(start);
            } else {
                lines.push((start..buf.len(), line_no));
            }
        }
        if lines.len() >= chunk || (n == 0 && !lines.is_empty()) {
            let next = PreparedLines::prepare(
                pipeline,
                std::mem::take(&mut buf),
                std::mem::take(&mut lines),
            );
            let next = match pending.take() {
                Some(previous) => {
                    let (stored, next) = tokio::join!(previous.store(pipeline), next);
                    let stored = stored?;
                    total.add(&stored.report);
                    let mut next = next?;
                    next.prepared.without(&stored);
                    next
                }
                None => next.await?,
            };
            pending = Some(next);
            lines.reserve(chunk);
        }
        if n == 0 {
            if let Some(last) = pending.take() {
                total.add(&last.store(pipeline).await?.report);
            }
            return Ok(total);
        }
    }
}

/// A batch of NDJSON lines, decoded and checked.
struct PreparedLines {
    lines: BatchLines,
    prepared: Prepared,
}

impl PreparedLines {
    /// Reads the batch's lines as text and decodes them on a blocking thread, then attributes and
    /// checks the records.
    async fn prepare(
        pipeline: &Pipeline,
        buf: Vec<u8>,
        lines: Vec<(Range<usize>, u64)>,
    ) -> Result<PreparedLines, ReplayError> {
        let (lines, decoded) = tokio::task::spawn_blocking(move || {
            let lines = BatchLines::read(buf, &lines);
            let decoded = decode(&lines.records());
            (lines, decoded)
        })
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
        let prepared = pipeline.prepare(&lines.records(), decoded).await?;
        Ok(PreparedLines { lines, prepared })
    }

    /// Stores the batch: the valid UTF-8 lines through the pipeline, the others straight into
    /// quarantine.
    async fn store(self, pipeline: &Pipeline) -> Result<Stored, ReplayError> {
        let PreparedLines { lines, prepared } = self;
        let mut stored = pipeline.commit(&lines.records(), prepared, None).await?;
        if !lines.invalid.is_empty() {
            stored
                .report
                .add(&quarantine_bytes(pipeline, lines.invalid).await?);
        }
        Ok(stored)
    }
}

/// A batch's NDJSON lines checked for UTF-8 once: the records (non-blank lines, trailing
/// whitespace cut) as ranges of `text`, in order, and the lines that are not UTF-8 as
/// `(bytes, detail)`.
struct BatchLines {
    text: String,
    records: Vec<Range<usize>>,
    invalid: Vec<(Vec<u8>, String)>,
}

impl BatchLines {
    /// The lines `buf[range]` (with their line numbers). The whole buffer is checked for UTF-8
    /// once; only a buffer that fails the check is looked at line by line (its valid lines are
    /// copied into a text of their own).
    fn read(buf: Vec<u8>, lines: &[(Range<usize>, u64)]) -> BatchLines {
        let buf = match String::from_utf8(buf) {
            Ok(text) => {
                // Every range starts after a `\n` and ends at one (or at the end): char
                // boundaries.
                let records = lines
                    .iter()
                    .filter_map(|(r, _)| {
                        record(&text[r.clone()]).map(|b| r.start..r.start + b.len())
                    })
                    .collect();
                return BatchLines {
                    text,
                    records,
                    invalid: Vec::new(),
                };
            }
            Err(e) => e.into_bytes(),
        };
        let mut out = BatchLines {
            text: String::new(),
            records: Vec::new(),
            invalid: Vec::new(),
        };
        for (r, line) in lines {
            match std::str::from_utf8(&buf[r.clone()]) {
                Ok(text) => {
                    if let Some(body) = record(text) {
                        let start = out.text.len();
                        out.text.push_str(body);
                        out.records.push(start..out.text.len());
                    }
                }
                Err(e) => out.invalid.push((
                    buf[r.clone()].trim_ascii_end().to_vec(),
                    format!(
                        "line {line} is not valid UTF-8 (at byte {} of the line)",
                        e.valid_up_to()
                    ),
                )),
            }
        }
        out
    }

    fn records(&self) -> Vec<Record<'_>> {
        self.records
            .iter()
            .map(|r| Record {
                body: &self.text[r.clone()],
            })
            .collect()
    }
}

/// Only ASCII whitespace (a line of other Unicode whitespace is skipped once it is read as
/// text, as it always was).
fn is_blank(line: &[u8]) -> bool {
    line.iter().all(u8::is_ascii_whitespace)
}

/// A line read as text: trailing whitespace cut; `None` for a blank line (as it always was).
fn record(text: &str) -> Option<&str> {
    (!text.trim().is_empty()).then(|| text.trim_end())
}

/// Quarantines records that are not UTF-8 (`(bytes, detail)`) as `invalid_json`.
async fn quarantine_bytes(
    pipeline: &Pipeline,
    records: Vec<(Vec<u8>, String)>,
) -> Result<BatchReport, ReplayError> {
    let now = now_ms();
    let reason = QuarantineReason::InvalidJson.as_str();
    // Bytes rows: the record is kept exactly as it was read, and its id is the one the same
    // bytes would get as text, so replaying the file again adds no entry.
    let rows: Vec<QuarantineRow<Vec<u8>>> = records
        .into_iter()
        .map(|(raw, detail)| QuarantineRow {
            id: QuarantineRow::id_for(reason, &raw),
            received_ms: now,
            source: Source::Replay.as_str().to_owned(),
            reason: reason.to_owned(),
            detail,
            account_id: String::new(),
            raw,
            resolved_ms: 0,
            version: now as u64,
        })
        .collect();
    pipeline.store().insert_quarantine(&rows).await?;
    Ok(BatchReport {
        records: rows.len() as u64,
        quarantined: rows.len() as u64,
        ..BatchReport::default()
    })
}

/// A JSON array becomes its items; anything else is one record (bad JSON included, so that it
/// is quarantined rather than lost).
fn split_document(text: &str) -> Vec<&str> {
    let trimmed = text.trim();
    if trimmed.starts_with('[')
        && let Ok(items) = serde_json::from_str::<Vec<&RawValue>>(trimmed)
    {
        return items.into_iter().map(RawValue::get).collect();
    }
    if trimmed.is_empty() {
        Vec::new()
    } else {
        vec![trimmed]
    }
}

#[cfg(test)]
mod tests {
    use super::split_document;
    use sendops_shared::store::QuarantineRow;

    #[test]
    fn byte_ids_are_the_text_ids() {
        for raw in ["", "{\"a\":1}", "not json", "é"] {
            assert_eq!(
                QuarantineRow::id_for("invalid_json", raw.as_bytes()),
                QuarantineRow::id_for("invalid_json", raw)
            );
        }
        assert_ne!(
            QuarantineRow::id_for("invalid_json", b"\xff"),
            QuarantineRow::id_for("invalid_json", b"\xfe")
        );
    }

    #[test]
    fn arrays_split_and_documents_stay_whole() {
        assert_eq!(
            split_document("[{\"a\":1}, {\"b\":[2]}]"),
            vec!["{\"a\":1}", "{\"b\":[2]}"]
        );
        assert_eq!(split_document("{\n \"a\": 1\n}\n"), vec!["{\n \"a\": 1\n}"]);
        assert_eq!(split_document("[broken"), vec!["[broken"]);
        assert!(split_document("  \n").is_empty());
    }
}
