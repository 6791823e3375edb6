//! The HTTP surfaces: generated contract code and the handwritten implementations.
pub mod generated;
