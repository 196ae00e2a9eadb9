//! Escalation: who holds the pager now (`oncall`); the timed levels and customer updates come
//! with the paging work.

pub mod oncall;
