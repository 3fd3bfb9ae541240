//! The SendOps consumer. Every entry point (Lambda, SQS poller, file replay) hands records to one
//! [`Pipeline`] (`sendops_shared::write::pipeline`), which decodes them, attributes each event to an org, drops events that are
//! already stored, and inserts the rest in one batch. See `DESIGN.md` beside this crate for the
//! delivery and duplicate semantics.

pub mod lambda;
pub mod ops;
pub mod poll;
pub mod replay;
pub mod secret;
pub mod sns_confirm;

pub use sendops_shared::write::pipeline::{BatchReport, Pipeline, Record, Source};
