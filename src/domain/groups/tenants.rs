//! A group's workspaces: the pages of them (all, an account's joined and unjoined, those
//! a capability lets it manage), an account's roles in them, and creating one.

use super::model_repair::copy_missing;
use super::{GroupError, in_group, workspaces_of};
use crate::domain::account_writes::AccountWrite;

use entity::{account, tenant, tenant_default_model, tenant_member, tenant_model_provider};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, DatabaseConnection, DbErr,
    EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

use crate::domain::account_cache::AccountCache;
use crate::domain::paging::{Page, offset};
pub use crate::domain::policy::Capability;
use crate::domain::policy::OWNER_PERMISSIONS;
use crate::domain::validate;
use entity::roles::{GroupRole, TenantStatus, WorkspaceRole};

/// The group's workspaces (without its shadow), optionally with one status.
pub async fn tenants(
    db: &DatabaseConnection,
    group_id: Uuid,
    status: Option<TenantStatus>,
    page: u64,
    limit: u64,
) -> Result<Page<tenant::Model>, DbErr> {
    let mut q = workspaces_of(group_id);
    if let Some(status) = status {
        q = q.filter(tenant::Column::Status.eq(status));
    }
    page_of_tenants(db, q, page, limit).await
}

async fn page_of_tenants(
    db: &DatabaseConnection,
    q: sea_orm::Select<tenant::Entity>,
    page: u64,
    limit: u64,
) -> Result<Page<tenant::Model>, DbErr> {
    let total = q.clone().count(db).await?;
    let items = tenants_on_page(db, q, page, limit).await?;
    Ok(Page { items, total })
}

/// One page of `q`'s workspaces, newest first.
async fn tenants_on_page(
    db: &DatabaseConnection,
    q: sea_orm::Select<tenant::Entity>,
    page: u64,
    limit: u64,
) -> Result<Vec<tenant::Model>, DbErr> {
    q.order_by_desc(tenant::Column::CreatedAt)
        .order_by_desc(tenant::Column::Id)
        .offset(offset(page, limit))
        .limit(limit)
        .all(db)
        .await
}

/// The ids of the workspaces `account_id` belongs to, as a subquery.
pub(crate) fn memberships_of(account_id: Uuid) -> sea_orm::sea_query::SelectStatement {
    Query::select()
        .column(tenant_member::Column::TenantId)
        .from(tenant_member::Entity)
        .and_where(tenant_member::Column::AccountId.eq(account_id))
        .to_owned()
}

pub(super) async fn account_exists(db: &DatabaseConnection, id: Uuid) -> Result<(), GroupError> {
    account::Entity::find_by_id(id)
        .one(db)
        .await?
        .map(|_| ())
        .ok_or(GroupError::AccountNotFound)
}

/// The group's workspaces the account has (`joined`) or has not joined.
pub async fn tenants_of_account(
    db: &DatabaseConnection,
    group_id: Uuid,
    account_id: Uuid,
    joined: bool,
    page: u64,
    limit: u64,
) -> Result<Page<tenant::Model>, GroupError> {
    let q = workspaces_of(group_id);
    let q = if joined {
        q.filter(tenant::Column::Id.in_subquery(memberships_of(account_id)))
    } else {
        q.filter(tenant::Column::Id.not_in_subquery(memberships_of(account_id)))
    };
    // The count and the account's existence in one statement: an unknown account answers
    // 404, not a page of every workspace it "has not joined".
    let (total, known) = crate::db::count_and_exists(
        db,
        q.clone(),
        (tenant::Entity, tenant::Column::Id),
        Query::select()
            .expr(Expr::val(1))
            .from(account::Entity)
            .and_where(account::Column::Id.eq(account_id))
            .to_owned(),
    )
    .await?;
    if !known {
        return Err(GroupError::AccountNotFound);
    }
    Ok(Page {
        items: tenants_on_page(db, q, page, limit).await?,
        total,
    })
}

/// One membership of an account in a workspace of a group.
#[derive(Debug)]
pub struct TenantRole {
    pub tenant: tenant::Model,
    pub role: WorkspaceRole,
    pub position: Option<String>,
    pub permissions: Vec<String>,
}

pub fn permissions(stored: &str) -> Vec<String> {
    serde_json::from_str(stored).unwrap_or_default()
}

/// Every workspace of the group the account has joined, with its role there.
pub async fn tenant_roles(
    db: &DatabaseConnection,
    group_id: Uuid,
    account_id: Uuid,
) -> Result<Vec<TenantRole>, GroupError> {
    account_exists(db, account_id).await?;
    // One statement: each workspace with the account's membership row beside it.
    let joined = tenant::Entity::find()
        .find_also_related(tenant_member::Entity)
        .filter(in_group(group_id))
        .filter(tenant_member::Column::AccountId.eq(account_id))
        .order_by_desc(tenant::Column::CreatedAt)
        .order_by_desc(tenant::Column::Id)
        .all(db)
        .await?;
    Ok(joined
        .into_iter()
        .filter_map(|(tenant, member)| {
            member.map(|m| TenantRole {
                permissions: permissions(&m.permissions),
                role: m.role,
                position: m.position,
                tenant,
            })
        })
        .collect())
}

/// The memberships of `account_id` that grant this capability, as a subquery of
/// workspace ids. Permissions are a JSON array of names, matched as `"name"`.
fn tenants_of(capability: Capability, account_id: Uuid) -> sea_orm::sea_query::SelectStatement {
    let mut granted =
        Condition::any().add(tenant_member::Column::Role.is_in(capability.roles().to_vec()));
    if let Some(p) = capability.permission() {
        granted = granted.add(tenant_member::Column::Permissions.like(format!("%\"{p}\"%")));
    }
    Query::select()
        .column(tenant_member::Column::TenantId)
        .from(tenant_member::Entity)
        .and_where(tenant_member::Column::AccountId.eq(account_id))
        .cond_where(granted)
        .to_owned()
}

/// The group's workspaces in which the caller has `capability`; group admins have it in
/// every workspace of the group.
pub async fn managed_tenants(
    db: &DatabaseConnection,
    group_id: Uuid,
    account_id: Uuid,
    group_admin: bool,
    capability: Capability,
    page: u64,
    limit: u64,
) -> Result<Page<tenant::Model>, DbErr> {
    let mut q = workspaces_of(group_id);
    if !group_admin {
        q = q.filter(tenant::Column::Id.in_subquery(tenants_of(capability, account_id)));
    }
    page_of_tenants(db, q, page, limit).await
}

/// Whether the caller has `capability` in at least one workspace of the group.
pub async fn has_capability(
    db: &DatabaseConnection,
    group_id: Uuid,
    account_id: Uuid,
    group_admin: bool,
    capability: Capability,
) -> Result<bool, DbErr> {
    if group_admin {
        return Ok(true);
    }
    let found = workspaces_of(group_id)
        .filter(tenant::Column::Id.in_subquery(tenants_of(capability, account_id)))
        .count(db)
        .await?;
    Ok(found > 0)
}

/// Creates a workspace in the group with `owner` as its owner, copying the shadow
/// workspace's model providers and default models.
pub async fn create_tenant(
    db: &DatabaseConnection,
    accounts: &AccountCache,
    now: i64,
    group_id: Uuid,
    owner: Uuid,
    name: &str,
) -> Result<tenant::Model, GroupError> {
    let name = validate::name(name, 255).map_err(GroupError::InvalidParam)?;
    let mut write = AccountWrite::begin(db, accounts).await?;
    let id = Uuid::now_v7();
    let created = tenant::ActiveModel {
        id: Set(id),
        name: Set(name),
        status: Set(TenantStatus::Normal),
        group_id: Set(Some(group_id)),
        created_at: Set(now),
    }
    .insert(write.conn())
    .await?;
    let has_current = tenant_member::Entity::find()
        .filter(tenant_member::Column::AccountId.eq(owner))
        .filter(tenant_member::Column::Current.eq(true))
        .count(write.conn())
        .await?
        > 0;
    tenant_member::ActiveModel {
        id: Set(Uuid::now_v7()),
        tenant_id: Set(id),
        account_id: Set(owner),
        role: Set(WorkspaceRole::Owner),
        position: Set(None),
        permissions: Set(OWNER_PERMISSIONS.to_string()),
        current: Set(!has_current),
        created_at: Set(now),
    }
    .insert(write.conn())
    .await?;
    write
        .join_group(group_id, owner, GroupRole::Normal, now)
        .await?;
    copy_missing::<tenant_model_provider::Model, _>(write.conn(), group_id, &[id], now).await?;
    copy_missing::<tenant_default_model::Model, _>(write.conn(), group_id, &[id], now).await?;
    crate::audit::target("workspace", id);
    write.commit().await?;
    Ok(created)
}
