//! The SendOps consumer. Every entry point (Lambda, SQS poller, file replay) hands records to one
//! [`Pipeline`], which decodes them, attributes each event to an org, drops events that are
//! already stored, and inserts the rest in one batch. See `DESIGN.md` beside this crate for the
//! delivery and duplicate semantics.

pub mod lambda;
pub mod pipeline;
pub mod poll;
pub mod replay;

pub use pipeline::{BatchReport, Pipeline, Record, Source};
