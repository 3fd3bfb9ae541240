//! Shared helpers of the SendOps benchmarks.
