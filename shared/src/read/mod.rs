//! Read models behind the API routes: message pages, details and timelines ([`messages`]),
//! reports ([`reports`], with the filter and day helpers in [`report_filter`]), and the
//! in-process engaged-recipient index of template performance ([`engaged_index`]).

pub mod breakdown;
pub mod engaged_index;
pub mod messages;
pub mod org_cache;
pub mod report_filter;
pub mod reports;
pub mod reputation;
