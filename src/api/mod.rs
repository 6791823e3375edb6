//! The HTTP surfaces: generated contract code and the handwritten implementations.
pub mod admin;
pub mod audit_layer;
pub mod body_guard;
pub mod console;
pub mod context;
pub mod error_layer;
pub mod generated;
pub mod spec_paths;
