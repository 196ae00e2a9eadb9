//! JSON API handlers under `/api/v1`, one file per resource.

pub mod cases;
pub mod dead_letters;
pub mod inventory;
pub mod maintenance;
pub mod oncall;
pub mod page;
pub mod people;
pub mod reload;
pub mod servers;
