//! Integration tests: the real server on 127.0.0.1:0 with its own database per test,
//! called through the generated SDK (raw HTTP only for requests it cannot express).

mod access_tokens;
mod accounts;
mod admin;
mod alist_web;
mod attacks;
mod attempts;
mod audit;
mod authz;
mod backup;
mod browser;
mod config_file;
mod email_codes;
mod enterprise;
mod errors;
mod helpers;
mod invitations;
mod json_logs;
mod migrations;
mod oauth;
mod oauth_provider;
mod query_budget;
mod reliability;
mod routing;
mod self_service;
mod session;
mod setup;
mod smtp;
mod spec;
