//! SeaORM entities of the console server. Timestamps are Unix seconds (the wire format);
//! ids are UUIDs (v7 for new rows) on the console side. Enum-like columns hold the wire
//! value as text so both databases store them the same way, read into the enums of [`roles`].

pub mod access_token;
pub mod account;
pub mod account_extension;
pub mod account_role;
pub mod admin_revoked_token;
pub mod admin_ssh_key;
pub mod admin_user;
pub mod audit_event;
pub mod dataset;
pub mod dataset_permission;
pub mod email_code;
pub mod enterprise_group;
pub mod group_member;
pub mod invitation;
pub mod oauth_link;
pub mod oauth_state;
pub mod rate_counter;
pub mod refresh_token;
pub mod roles;
pub mod setup;
pub mod tenant;
pub mod tenant_default_model;
pub mod tenant_member;
pub mod tenant_model_provider;
