//! File replay: a file holds one JSON document, a JSON array, or NDJSON; each item may be any
//! carrier the pipeline accepts. NDJSON is streamed in chunks, so memory stays bounded whatever
//! the file size; a single document or array is read whole.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};

use serde_json::value::RawValue;
use thiserror::Error;

use crate::pipeline::{BatchReport, Pipeline, Record};

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

/// Replays one input. NDJSON when the first non-empty line is a whole JSON value; otherwise the
/// whole input is one document (an array is split into its items).
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
    let mut first = String::new();
    loop {
        first.clear();
        if reader.read_line(&mut first).map_err(io_err)? == 0 {
            return Ok(total);
        }
        if !first.trim().is_empty() {
            break;
        }
    }
    let first_is_whole = serde_json::from_str::<&RawValue>(first.trim()).is_ok();
    if !first_is_whole {
        let mut all = first;
        reader.read_to_string(&mut all).map_err(io_err)?;
        let items = split_document(&all);
        for part in items.chunks(chunk) {
            let records: Vec<Record<'_>> = part.iter().map(|s| Record { body: s }).collect();
            total.add(&pipeline.process(&records).await?);
        }
        return Ok(total);
    }
    // NDJSON: one record per non-empty line, `chunk` lines per batch. A batch's lines are read
    // into one buffer (reused from batch to batch) rather than one allocation per line.
    let mut text = first;
    let mut lines: Vec<std::ops::Range<usize>> = Vec::with_capacity(chunk);
    lines.push(0..text.trim_end().len());
    loop {
        let start = text.len();
        let n = reader.read_line(&mut text).map_err(io_err)?;
        let line = &text[start..];
        if n > 0 && !line.trim().is_empty() {
            lines.push(start..start + line.trim_end().len());
        }
        if lines.len() >= chunk || (n == 0 && !lines.is_empty()) {
            let records: Vec<Record<'_>> = lines
                .iter()
                .map(|r| Record {
                    body: &text[r.clone()],
                })
                .collect();
            total.add(&pipeline.process(&records).await?);
            lines.clear();
            text.clear();
        }
        if n == 0 {
            return Ok(total);
        }
    }
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
