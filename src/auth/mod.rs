//! Credentials: password hashing now; tokens, principals and rate limits as they are built.
pub mod attempts;
pub mod password;
pub mod sealed;
pub mod secret;
pub mod tokens;
