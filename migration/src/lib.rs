//! Database migrations; run by `console-server serve` at start-up and by `console-server migrate`.
pub use sea_orm_migration::prelude::*;

mod m20261123_000001_initial;
mod m20261123_000002_rate_counters;
mod m20261123_000003_sessions;
mod m20261123_000004_invitations;
mod m20261123_000005_email_codes;
mod m20261123_000006_oauth_links;
mod m20261123_000007_enterprise_groups;
mod m20261123_000008_dataset_search;
mod m20261123_000009_group_search_index;
mod m20261123_000010_oauth_pkce;
mod m20261123_000100_admin_users;
mod m20261201_000101_admin_otp_last_step;
mod m20261202_000011_session_details;
mod m20261203_000012_access_tokens;
mod m20261203_000013_audit_events;
mod m20261204_000014_audit_partial_indexes;
mod m20261204_000015_group_name_unique;

/// SQLite's dataset search keys: a group's datasets are keyed `(group key << this) + n`.
pub use m20261123_000009_group_search_index::GROUP_SHIFT as DATASET_SEARCH_GROUP_SHIFT;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_initial::Migration),
            Box::new(m20261123_000002_rate_counters::Migration),
            Box::new(m20261123_000003_sessions::Migration),
            Box::new(m20261123_000004_invitations::Migration),
            Box::new(m20261123_000005_email_codes::Migration),
            Box::new(m20261123_000006_oauth_links::Migration),
            Box::new(m20261123_000007_enterprise_groups::Migration),
            Box::new(m20261123_000008_dataset_search::Migration),
            Box::new(m20261123_000009_group_search_index::Migration),
            Box::new(m20261123_000010_oauth_pkce::Migration),
            Box::new(m20261123_000100_admin_users::Migration),
            Box::new(m20261201_000101_admin_otp_last_step::Migration),
            Box::new(m20261202_000011_session_details::Migration),
            Box::new(m20261203_000012_access_tokens::Migration),
            Box::new(m20261203_000013_audit_events::Migration),
            Box::new(m20261204_000014_audit_partial_indexes::Migration),
            Box::new(m20261204_000015_group_name_unique::Migration),
        ]
    }
}
