//! What an outside security review tried against the server (issue 15), one module per
//! attack family. Each test reproduces an attack that worked before its fix, and runs on
//! SQLite and PostgreSQL.

mod admin;
mod codes;
mod invitations;
mod lockout;
mod oauth;
mod small_holes;
