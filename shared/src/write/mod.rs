//! The write path: [`pipeline`] decodes records, attributes each event to an org, drops events
//! that are already stored and inserts the rest (`ingest/DESIGN.md` has the delivery and
//! duplicate semantics). Every entry point uses it: the Lambda handler, the SQS poller and file
//! replay in `sendops-ingest`, and the operator's quarantine replay in `sendops-admin`.

pub mod pipeline;
