//! Quartier's integration suite: every test runs against a real server on SQLite and on
//! PostgreSQL (`<test>::sqlite` and `<test>::postgres`), with mail going to a real SMTP server.

mod harness;

mod account;
mod auth;
mod authz;
mod bookings;
mod broadcast;
mod disputes;
mod errors;
mod feed;
mod idempotency;
mod kpis;
mod limits;
mod mails;
mod mass_assignment;
mod matching;
mod money;
mod ops;
mod outbox;
mod reassign;
mod reputation;
mod reset;
mod sequences;
mod vetting;
mod visit;
