//! Workspaces (tenants) as the rest of the domain needs them: whose is current, and in
//! what role.

use entity::roles::{TenantStatus, WorkspaceRole};
use entity::{tenant, tenant_member};
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use crate::domain::account_cache::AccountCache;
use crate::domain::account_writes::AccountWrite;
use crate::domain::policy::Capability;

/// The account's current workspace and its membership there.
pub async fn current(
    db: &DatabaseConnection,
    account_id: Uuid,
) -> Result<Option<(tenant::Model, tenant_member::Model)>, DbErr> {
    let found = tenant_member::Entity::find()
        .filter(tenant_member::Column::AccountId.eq(account_id))
        .filter(tenant_member::Column::Current.eq(true))
        .find_also_related(tenant::Entity)
        .one(db)
        .await?;
    Ok(found.and_then(|(membership, tenant)| Some((tenant?, membership))))
}

/// Whether a workspace role may manage members (invite, change roles).
pub fn manages_members(membership: &tenant_member::Model) -> bool {
    Capability::Workspace.granted_by(membership.role, &membership.permissions)
}

/// Whether a membership may create and manage datasets in its workspace.
pub fn manages_datasets(membership: &tenant_member::Model) -> bool {
    Capability::Datasets.granted_by(membership.role, &membership.permissions)
}

/// Every workspace the account belongs to, newest first, with its membership.
pub async fn of_account(
    db: &DatabaseConnection,
    account_id: Uuid,
) -> Result<Vec<(tenant::Model, tenant_member::Model)>, DbErr> {
    // One statement: the account's memberships with their workspaces joined in.
    let rows = tenant::Entity::find()
        .find_also_related(tenant_member::Entity)
        .filter(tenant_member::Column::AccountId.eq(account_id))
        .order_by_desc(tenant::Column::CreatedAt)
        .order_by_desc(tenant::Column::Id)
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(t, m)| m.map(|m| (t, m)))
        .collect())
}

#[derive(Debug, thiserror::Error)]
pub enum WorkspaceError {
    #[error("workspace not found")]
    NotFound,
    #[error("not a member of this workspace")]
    NotMember,
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// Makes a workspace the account belongs to its current one.
pub async fn switch(
    db: &DatabaseConnection,
    accounts: &AccountCache,
    now: i64,
    account_id: Uuid,
    tenant_id: Uuid,
) -> Result<(tenant::Model, tenant_member::Model), WorkspaceError> {
    let tenant = tenant::Entity::find_by_id(tenant_id)
        .one(db)
        .await?
        .ok_or(WorkspaceError::NotFound)?;
    let member = tenant_member::Entity::find()
        .filter(tenant_member::Column::TenantId.eq(tenant_id))
        .filter(tenant_member::Column::AccountId.eq(account_id))
        .one(db)
        .await?
        .ok_or(WorkspaceError::NotMember)?;
    let mut write = AccountWrite::begin(db, accounts).await?;
    crate::domain::groups::make_current(&mut write, account_id, &tenant, now).await?;
    write.commit().await?;
    Ok((
        tenant,
        tenant_member::Model {
            current: true,
            ..member
        },
    ))
}

/// A workspace's model providers and default models, each sorted by name.
pub async fn model_defaults(
    db: &DatabaseConnection,
    tenant_id: Uuid,
) -> Result<
    (
        Vec<entity::tenant_model_provider::Model>,
        Vec<entity::tenant_default_model::Model>,
    ),
    DbErr,
> {
    use entity::{tenant_default_model, tenant_model_provider};
    use sea_orm::QueryOrder;
    let providers = tenant_model_provider::Entity::find()
        .filter(tenant_model_provider::Column::TenantId.eq(tenant_id))
        .order_by_asc(tenant_model_provider::Column::ProviderName)
        .all(db)
        .await?;
    let defaults = tenant_default_model::Entity::find()
        .filter(tenant_default_model::Column::TenantId.eq(tenant_id))
        .order_by_asc(tenant_default_model::Column::ModelType)
        .all(db)
        .await?;
    Ok((providers, defaults))
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
        status: Set(TenantStatus::Normal),
        group_id: Set(group_id),
        created_at: Set(now),
    }
    .insert(db)
    .await?;
    tenant_member::ActiveModel {
        id: Set(Uuid::now_v7()),
        tenant_id: Set(workspace_id),
        account_id: Set(account_id),
        role: Set(WorkspaceRole::Owner),
        position: Set(None),
        permissions: Set(crate::domain::policy::OWNER_PERMISSIONS.to_string()),
        current: Set(true),
        created_at: Set(now),
    }
    .insert(db)
    .await?;
    Ok(workspace_id)
}
