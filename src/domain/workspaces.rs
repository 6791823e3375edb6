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

/// Creates a workspace named `name` (in `group_id`, when given) and makes `account_id` its
/// owner, as the account's current workspace. Setup, self-registration and social sign-up
/// all start an account's own workspace this way.
pub async fn create_owned<C: sea_orm::ConnectionTrait>(
    db: &C,
    account_id: Uuid,
    name: &str,
    group_id: Option<Uuid>,
    now: i64,
) -> Result<Uuid, DbErr> {
    use sea_orm::{ActiveModelTrait, ActiveValue::Set};
    let workspace_id = Uuid::now_v7();
    tenant::ActiveModel {
        id: Set(workspace_id),
        name: Set(name.to_string()),
        status: Set("normal".to_string()),
        group_id: Set(group_id),
        created_at: Set(now),
    }
    .insert(db)
    .await?;
    tenant_member::ActiveModel {
        id: Set(Uuid::now_v7()),
        tenant_id: Set(workspace_id),
        account_id: Set(account_id),
        role: Set("owner".to_string()),
        position: Set(None),
        permissions: Set(crate::domain::setup::OWNER_PERMISSIONS.to_string()),
        current: Set(true),
        created_at: Set(now),
    }
    .insert(db)
    .await?;
    Ok(workspace_id)
}
