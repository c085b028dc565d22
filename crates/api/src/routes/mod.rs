//! HTTP handlers, one module per area of the API.

pub mod account;
pub mod auth;
pub mod bookings;
pub mod catalog;
pub mod conversation;
pub mod disputes;
pub mod feed;
pub mod helpers;
pub mod insights;
pub mod links;
pub mod matching;
pub mod money;
pub mod ops;
pub mod outbox;
pub mod reputation;
pub mod reset;
pub mod vetting;
