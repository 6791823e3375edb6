//! The console API server: the zgi-next console API and an AList-compatible admin user API,
//! both generated from `openapi/*.yaml` and served by one poem application.

pub mod api;
pub mod app;
pub mod audit;
pub mod auth;
pub mod backup;
pub mod cache;
pub mod clock;
pub mod config;
pub mod db;
pub mod domain;
pub mod mail;
pub mod metrics;
pub mod oauth;
pub mod server;
pub mod state;
