//! Business rules, free of HTTP: each module returns its own error enum, and each API
//! surface maps those to its wire envelope.
pub mod access_tokens;
pub mod account_cache;
pub mod account_deletion;
pub mod accounts;
pub mod admin_users;
pub mod audit_events;
pub mod datasets;
pub mod email_change;
pub mod email_code_login;
pub mod email_codes;
pub mod group_datasets;
pub mod groups;
pub mod invitations;
pub mod owner_transfer;
pub mod password_reset;
pub mod policy;
pub mod profile;
pub mod registration;
pub mod session;
pub mod setup;
pub mod sign_ins;
pub mod social;
pub mod storage_folders;
pub mod validate;
pub mod workspace_members;
pub mod workspaces;
