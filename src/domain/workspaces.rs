//! Workspaces (tenants) as the rest of the domain needs them: whose is current, and in
//! what role.

use entity::{tenant, tenant_member};
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter};
use uuid::Uuid;

/// The account's current workspace and its membership there.
pub async fn current(
    db: &DatabaseConnection,
    account_id: Uuid,
) -> Result<Option<(tenant::Model, tenant_member::Model)>, DbErr> {
    let Some(membership) = tenant_member::Entity::find()
        .filter(tenant_member::Column::AccountId.eq(account_id))
        .filter(tenant_member::Column::Current.eq(true))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    Ok(tenant::Entity::find_by_id(membership.tenant_id)
        .one(db)
        .await?
        .map(|t| (t, membership)))
}

/// Whether a workspace role may manage members (invite, change roles).
pub fn manages_members(role: &str) -> bool {
    matches!(role, "owner" | "admin")
}
