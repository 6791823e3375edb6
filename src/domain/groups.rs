//! Enterprise groups: their workspaces (tenants), members and roles, the pages the
//! console shows of them, and the repairs that copy a group's model settings into its
//! workspaces. No HTTP here; who may call what is decided in `api::console::authz`.
//!
//! Every page is newest first, ties broken by id, so pages are stable.

use std::collections::HashSet;

use entity::{
    account, dataset, enterprise_group, group_member, tenant, tenant_default_model, tenant_member,
    tenant_model_provider,
};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait,
    DatabaseConnection, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

use crate::domain::account_cache::AccountCache;
use crate::domain::account_views::AccountView;
use crate::domain::paging::{Page, offset};
pub use crate::domain::policy::Capability;
use crate::domain::policy::OWNER_PERMISSIONS;
use crate::domain::validate;
use entity::roles::{GroupRole, GroupStatus, TenantStatus, WorkspaceRole};

#[derive(Debug, thiserror::Error)]
pub enum GroupError {
    #[error("{0}")]
    InvalidParam(String),
    #[error("enterprise group not found")]
    GroupNotFound,
    #[error("account not found")]
    AccountNotFound,
    #[error("workspace not found")]
    TenantNotFound,
    #[error("{0}")]
    Forbidden(&'static str),
    /// The request is well formed but clashes with the current state (a taken name, a group
    /// that still holds workspaces): 409, so clients can tell it from bad input.
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// The account's role in the group, if it is a member.
pub async fn role_in<C: ConnectionTrait>(
    db: &C,
    group_id: Uuid,
    account_id: Uuid,
) -> Result<Option<GroupRole>, DbErr> {
    Ok(group_member::Entity::find()
        .filter(group_member::Column::GroupId.eq(group_id))
        .filter(group_member::Column::AccountId.eq(account_id))
        .one(db)
        .await?
        .map(|m| m.group_role))
}

/// The groups in which the account is super_admin or admin.
pub async fn administered_groups(
    db: &DatabaseConnection,
    account_id: Uuid,
) -> Result<Vec<Uuid>, DbErr> {
    Ok(group_member::Entity::find()
        .filter(group_member::Column::AccountId.eq(account_id))
        .filter(group_member::Column::GroupRole.is_in(GroupRole::MANAGING))
        .all(db)
        .await?
        .into_iter()
        .map(|m| m.group_id)
        .collect())
}

/// The groups where `account_id` is a super_admin (whose audit events it may read).
pub async fn super_admin_groups(
    db: &DatabaseConnection,
    account_id: Uuid,
) -> Result<Vec<Uuid>, DbErr> {
    Ok(group_member::Entity::find()
        .filter(group_member::Column::AccountId.eq(account_id))
        .filter(group_member::Column::GroupRole.eq(GroupRole::SuperAdmin))
        .all(db)
        .await?
        .into_iter()
        .map(|m| m.group_id)
        .collect())
}

/// Group `group_id` (if it exists) with `account_id`'s role in it (if a member): what the
/// group gate decides on, in one statement.
pub async fn with_role_of<C: ConnectionTrait>(
    db: &C,
    group_id: Uuid,
    account_id: Uuid,
) -> Result<Option<(enterprise_group::Model, Option<GroupRole>)>, DbErr> {
    use sea_orm::sea_query::{ExprTrait, IntoCondition};
    use sea_orm::{JoinType, RelationTrait};
    // The caller's membership only: the account is part of the join, not of the filter,
    // so a group the caller is not in still comes back (with no role).
    let membership = enterprise_group::Relation::Members
        .def()
        .on_condition(move |_, member| {
            Expr::col((member, group_member::Column::AccountId))
                .eq(account_id)
                .into_condition()
        });
    let found = enterprise_group::Entity::find_by_id(group_id)
        .select_also(group_member::Entity)
        .join(JoinType::LeftJoin, membership)
        .one(db)
        .await?;
    Ok(found.map(|(group, member)| (group, member.map(|m| m.group_role))))
}

/// The account's current group and its role there.
pub async fn current(
    db: &DatabaseConnection,
    account_id: Uuid,
) -> Result<Option<(enterprise_group::Model, GroupRole)>, DbErr> {
    let Some(member) = group_member::Entity::find()
        .filter(group_member::Column::AccountId.eq(account_id))
        .filter(group_member::Column::Current.eq(true))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    Ok(enterprise_group::Entity::find_by_id(member.group_id)
        .one(db)
        .await?
        .map(|g| (g, member.group_role)))
}

/// The shadow workspace of a group (same id).
pub async fn shadow(db: &DatabaseConnection, group_id: Uuid) -> Result<tenant::Model, GroupError> {
    tenant::Entity::find_by_id(group_id)
        .one(db)
        .await?
        .ok_or(GroupError::GroupNotFound)
}

pub async fn list(
    db: &DatabaseConnection,
    status: Option<GroupStatus>,
    page: u64,
    limit: u64,
) -> Result<Page<enterprise_group::Model>, DbErr> {
    let mut q = enterprise_group::Entity::find();
    if let Some(status) = status {
        q = q.filter(enterprise_group::Column::Status.eq(status));
    }
    let total = q.clone().count(db).await?;
    let items = q
        .order_by_desc(enterprise_group::Column::CreatedAt)
        .order_by_desc(enterprise_group::Column::Id)
        .offset(offset(page, limit))
        .limit(limit)
        .all(db)
        .await?;
    Ok(Page { items, total })
}

fn short_name(value: Option<String>) -> Option<String> {
    value
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

fn name_conflict(name: &str) -> GroupError {
    GroupError::Conflict(format!(
        "An active enterprise group named {name} already exists."
    ))
}

/// The unique index on active names (`ux_enterprise_groups_active_name`) refused a write
/// that passed [`name_taken`]: a concurrent creation or rename took the name in between.
fn unless_name_taken(err: DbErr, name: &str) -> GroupError {
    if crate::db::is_unique_violation(&err) {
        name_conflict(name)
    } else {
        err.into()
    }
}

async fn name_taken<C: ConnectionTrait>(
    db: &C,
    name: &str,
    except: Option<Uuid>,
) -> Result<bool, DbErr> {
    let mut q = enterprise_group::Entity::find()
        .filter(enterprise_group::Column::Name.eq(name))
        .filter(enterprise_group::Column::Status.eq(GroupStatus::Active));
    if let Some(id) = except {
        q = q.filter(enterprise_group::Column::Id.ne(id));
    }
    Ok(q.count(db).await? > 0)
}

/// Makes `account_id` a member of the group with `role` unless it already is one; its
/// first group becomes its current one.
pub async fn join<C: ConnectionTrait>(
    db: &C,
    group_id: Uuid,
    account_id: Uuid,
    role: GroupRole,
    now: i64,
) -> Result<(), DbErr> {
    if role_in(db, group_id, account_id).await?.is_some() {
        return Ok(());
    }
    let has_current = group_member::Entity::find()
        .filter(group_member::Column::AccountId.eq(account_id))
        .filter(group_member::Column::Current.eq(true))
        .count(db)
        .await?
        > 0;
    group_member::ActiveModel {
        id: Set(Uuid::now_v7()),
        group_id: Set(group_id),
        account_id: Set(account_id),
        group_role: Set(role),
        current: Set(!has_current),
        created_at: Set(now),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Creates a group, its shadow workspace, and makes the creator its super_admin.
pub async fn create(
    db: &DatabaseConnection,
    accounts: &AccountCache,
    now: i64,
    creator: Uuid,
    name: &str,
    short: Option<String>,
) -> Result<enterprise_group::Model, GroupError> {
    let name = validate::name(name, 255).map_err(GroupError::InvalidParam)?;
    let txn = crate::db::begin_write(db).await?;
    if name_taken(&txn, &name, None).await? {
        return Err(name_conflict(&name));
    }
    let id = Uuid::now_v7();
    let group = enterprise_group::ActiveModel {
        id: Set(id),
        name: Set(name.clone()),
        short_name: Set(short_name(short)),
        status: Set(GroupStatus::Active),
        created_at: Set(now),
    }
    .insert(&txn)
    .await
    .map_err(|e| unless_name_taken(e, &name))?;
    tenant::ActiveModel {
        id: Set(id),
        name: Set(name),
        status: Set(TenantStatus::Normal),
        group_id: Set(Some(id)),
        created_at: Set(now),
    }
    .insert(&txn)
    .await?;
    join(&txn, id, creator, GroupRole::SuperAdmin, now).await?;
    crate::audit::target("group", id);
    crate::audit::group(id);
    crate::audit::commit(txn).await?;
    // The account views show the role in the current group, which may be this one now.
    accounts.forget(db, &[creator]).await?;
    Ok(group)
}

/// Renames a group (and its shadow workspace); `short_name: None` keeps it.
pub async fn update(
    db: &DatabaseConnection,
    id: Uuid,
    name: &str,
    short: Option<String>,
) -> Result<enterprise_group::Model, GroupError> {
    let name = validate::name(name, 255).map_err(GroupError::InvalidParam)?;
    let txn = crate::db::begin_write(db).await?;
    let group = enterprise_group::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or(GroupError::GroupNotFound)?;
    if group.status == GroupStatus::Active && name_taken(&txn, &name, Some(id)).await? {
        return Err(name_conflict(&name));
    }
    let mut row: enterprise_group::ActiveModel = group.into();
    row.name = Set(name.clone());
    if short.is_some() {
        row.short_name = Set(short_name(short));
    }
    let group = row
        .update(&txn)
        .await
        .map_err(|e| unless_name_taken(e, &name))?;
    if let Some(shadow) = tenant::Entity::find_by_id(id).one(&txn).await? {
        let mut shadow: tenant::ActiveModel = shadow.into();
        shadow.name = Set(name);
        shadow.update(&txn).await?;
    }
    crate::audit::commit(txn).await?;
    Ok(group)
}

/// Deletes a group that holds nothing but its (empty) shadow workspace and is not the
/// last group. Members whose current group it was move to another of their groups.
pub async fn delete(
    db: &DatabaseConnection,
    accounts: &AccountCache,
    id: Uuid,
) -> Result<(), GroupError> {
    let txn = crate::db::begin_write(db).await?;
    enterprise_group::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or(GroupError::GroupNotFound)?;
    let tenants = tenant::Entity::find()
        .filter(tenant::Column::GroupId.eq(id))
        .filter(tenant::Column::Id.ne(id))
        .count(&txn)
        .await?;
    if tenants > 0 {
        return Err(GroupError::Conflict(format!(
            "The group still has {tenants} workspace(s); move or delete them first."
        )));
    }
    let datasets = dataset::Entity::find()
        .filter(dataset::Column::TenantId.eq(id))
        .count(&txn)
        .await?;
    if datasets > 0 {
        return Err(GroupError::Conflict(format!(
            "The group's own workspace still has {datasets} dataset(s); delete them first."
        )));
    }
    if enterprise_group::Entity::find().count(&txn).await? <= 1 {
        return Err(GroupError::Conflict(
            "The last enterprise group cannot be deleted.".to_string(),
        ));
    }
    let moved: Vec<Uuid> = group_member::Entity::find()
        .filter(group_member::Column::GroupId.eq(id))
        .filter(group_member::Column::Current.eq(true))
        .all(&txn)
        .await?
        .into_iter()
        .map(|m| m.account_id)
        .collect();
    let left_workspace: Vec<Uuid> = tenant_member::Entity::find()
        .filter(tenant_member::Column::TenantId.eq(id))
        .filter(tenant_member::Column::Current.eq(true))
        .all(&txn)
        .await?
        .into_iter()
        .map(|m| m.account_id)
        .collect();
    tenant::Entity::delete_by_id(id).exec(&txn).await?;
    enterprise_group::Entity::delete_by_id(id)
        .exec(&txn)
        .await?;
    for &account_id in &moved {
        if let Some(other) = group_member::Entity::find()
            .filter(group_member::Column::AccountId.eq(account_id))
            .order_by_desc(group_member::Column::CreatedAt)
            .one(&txn)
            .await?
        {
            let mut other: group_member::ActiveModel = other.into();
            other.current = Set(true);
            other.update(&txn).await?;
        }
    }
    for account_id in left_workspace {
        if let Some(other) = tenant_member::Entity::find()
            .filter(tenant_member::Column::AccountId.eq(account_id))
            .order_by_desc(tenant_member::Column::CreatedAt)
            .one(&txn)
            .await?
        {
            let mut other: tenant_member::ActiveModel = other.into();
            other.current = Set(true);
            other.update(&txn).await?;
        }
    }
    crate::audit::commit(txn).await?;
    accounts.forget(db, &moved).await?;
    Ok(())
}

/// The group's workspaces (without its shadow), optionally with one status.
pub async fn tenants(
    db: &DatabaseConnection,
    group_id: Uuid,
    status: Option<TenantStatus>,
    page: u64,
    limit: u64,
) -> Result<Page<tenant::Model>, DbErr> {
    let mut q = tenant::Entity::find()
        .filter(tenant::Column::GroupId.eq(group_id))
        .filter(tenant::Column::Id.ne(group_id));
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

async fn account_exists(db: &DatabaseConnection, id: Uuid) -> Result<(), GroupError> {
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
    let q = tenant::Entity::find()
        .filter(tenant::Column::GroupId.eq(group_id))
        .filter(tenant::Column::Id.ne(group_id));
    let q = if joined {
        q.filter(tenant::Column::Id.in_subquery(memberships_of(account_id)))
    } else {
        q.filter(tenant::Column::Id.not_in_subquery(memberships_of(account_id)))
    };
    // The count and the account's existence in one statement: an unknown account answers
    // 404, not a page of every workspace it "has not joined".
    let (total, known): (i64, bool) = q
        .clone()
        .select_only()
        .column_as(
            sea_orm::ExprTrait::count(Expr::col((tenant::Entity, tenant::Column::Id))),
            "total",
        )
        .column_as(
            Expr::exists(
                Query::select()
                    .expr(Expr::val(1))
                    .from(account::Entity)
                    .and_where(account::Column::Id.eq(account_id))
                    .to_owned(),
            ),
            "known",
        )
        .into_tuple()
        .one(db)
        .await?
        .unwrap_or((0, false));
    if !known {
        return Err(GroupError::AccountNotFound);
    }
    Ok(Page {
        items: tenants_on_page(db, q, page, limit).await?,
        total: u64::try_from(total).unwrap_or(0),
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
        .filter(tenant::Column::GroupId.eq(group_id))
        .filter(tenant::Column::Id.ne(group_id))
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

/// The groups the account is a member of.
pub async fn joined_groups(
    db: &DatabaseConnection,
    account_id: Uuid,
    page: u64,
    limit: u64,
) -> Result<Page<enterprise_group::Model>, GroupError> {
    account_exists(db, account_id).await?;
    let q = enterprise_group::Entity::find().filter(
        enterprise_group::Column::Id.in_subquery(
            Query::select()
                .column(group_member::Column::GroupId)
                .from(group_member::Entity)
                .and_where(group_member::Column::AccountId.eq(account_id))
                .to_owned(),
        ),
    );
    let total = q.clone().count(db).await?;
    let items = q
        .order_by_desc(enterprise_group::Column::CreatedAt)
        .order_by_desc(enterprise_group::Column::Id)
        .offset(offset(page, limit))
        .limit(limit)
        .all(db)
        .await?;
    Ok(Page { items, total })
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
    let mut q = tenant::Entity::find()
        .filter(tenant::Column::GroupId.eq(group_id))
        .filter(tenant::Column::Id.ne(group_id));
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
    let found = tenant::Entity::find()
        .filter(tenant::Column::GroupId.eq(group_id))
        .filter(tenant::Column::Id.ne(group_id))
        .filter(tenant::Column::Id.in_subquery(tenants_of(capability, account_id)))
        .count(db)
        .await?;
    Ok(found > 0)
}

/// Makes the group's shadow workspace the account's current workspace (joining it as
/// admin if needed) and the group its current group.
pub async fn switch_to_shadow(
    db: &DatabaseConnection,
    accounts: &AccountCache,
    now: i64,
    group_id: Uuid,
    account_id: Uuid,
) -> Result<(), GroupError> {
    let txn = crate::db::begin_write(db).await?;
    let shadow = tenant::Entity::find_by_id(group_id)
        .one(&txn)
        .await?
        .ok_or(GroupError::GroupNotFound)?;
    let member = tenant_member::Entity::find()
        .filter(tenant_member::Column::TenantId.eq(shadow.id))
        .filter(tenant_member::Column::AccountId.eq(account_id))
        .one(&txn)
        .await?;
    if member.is_none() {
        tenant_member::ActiveModel {
            id: Set(Uuid::now_v7()),
            tenant_id: Set(shadow.id),
            account_id: Set(account_id),
            role: Set(WorkspaceRole::Admin),
            position: Set(None),
            permissions: Set(OWNER_PERMISSIONS.to_string()),
            current: Set(false),
            created_at: Set(now),
        }
        .insert(&txn)
        .await?;
    }
    make_current(&txn, account_id, &shadow, now).await?;
    txn.commit().await?;
    accounts.forget(db, &[account_id]).await?;
    Ok(())
}

/// Makes `tenant` the account's current workspace and its group the current group.
pub async fn make_current<C: ConnectionTrait>(
    db: &C,
    account_id: Uuid,
    tenant: &tenant::Model,
    now: i64,
) -> Result<(), DbErr> {
    tenant_member::Entity::update_many()
        .col_expr(tenant_member::Column::Current, Expr::value(false))
        .filter(tenant_member::Column::AccountId.eq(account_id))
        .filter(tenant_member::Column::TenantId.ne(tenant.id))
        .exec(db)
        .await?;
    tenant_member::Entity::update_many()
        .col_expr(tenant_member::Column::Current, Expr::value(true))
        .filter(tenant_member::Column::AccountId.eq(account_id))
        .filter(tenant_member::Column::TenantId.eq(tenant.id))
        .exec(db)
        .await?;
    if let Some(group_id) = tenant.group_id {
        join(db, group_id, account_id, GroupRole::Normal, now).await?;
        group_member::Entity::update_many()
            .col_expr(group_member::Column::Current, Expr::value(false))
            .filter(group_member::Column::AccountId.eq(account_id))
            .filter(group_member::Column::GroupId.ne(group_id))
            .exec(db)
            .await?;
        group_member::Entity::update_many()
            .col_expr(group_member::Column::Current, Expr::value(true))
            .filter(group_member::Column::AccountId.eq(account_id))
            .filter(group_member::Column::GroupId.eq(group_id))
            .exec(db)
            .await?;
    }
    Ok(())
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
    let txn = crate::db::begin_write(db).await?;
    let id = Uuid::now_v7();
    let created = tenant::ActiveModel {
        id: Set(id),
        name: Set(name),
        status: Set(TenantStatus::Normal),
        group_id: Set(Some(group_id)),
        created_at: Set(now),
    }
    .insert(&txn)
    .await?;
    let has_current = tenant_member::Entity::find()
        .filter(tenant_member::Column::AccountId.eq(owner))
        .filter(tenant_member::Column::Current.eq(true))
        .count(&txn)
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
    .insert(&txn)
    .await?;
    join(&txn, group_id, owner, GroupRole::Normal, now).await?;
    copy_missing::<tenant_model_provider::Model, _>(&txn, group_id, &[id], now).await?;
    copy_missing::<tenant_default_model::Model, _>(&txn, group_id, &[id], now).await?;
    crate::audit::target("workspace", id);
    crate::audit::commit(txn).await?;
    accounts.forget(db, &[owner]).await?;
    Ok(created)
}

/// The group's members as account views, `group_role` being the role in this group.
pub async fn members(
    db: &DatabaseConnection,
    group_id: Uuid,
    page: u64,
    limit: u64,
) -> Result<Page<AccountView>, DbErr> {
    use entity::{account_extension, account_role};
    let q = group_member::Entity::find().filter(group_member::Column::GroupId.eq(group_id));
    let total = q.clone().count(db).await?;
    // One statement for the page: each membership with its account, the account's system
    // role and its extension (all one-to-one), so the group role is this group's.
    let rows = q
        .order_by_desc(group_member::Column::CreatedAt)
        .order_by_desc(group_member::Column::Id)
        .offset(offset(page, limit))
        .limit(limit)
        .find_also_related(account::Entity)
        .and_also_related(account_role::Entity)
        .find_also(account::Entity, account_extension::Entity)
        .all(db)
        .await?;
    let items = rows
        .into_iter()
        .filter_map(|(member, account, role, extension)| {
            Some(AccountView::new(
                account?,
                role,
                extension,
                Some(member.group_role),
            ))
        })
        .collect();
    Ok(Page { items, total })
}

/// The group's workspaces other than its shadow.
async fn tenant_ids<C: ConnectionTrait>(db: &C, group_id: Uuid) -> Result<Vec<Uuid>, DbErr> {
    tenant::Entity::find()
        .filter(tenant::Column::GroupId.eq(group_id))
        .filter(tenant::Column::Id.ne(group_id))
        .select_only()
        .column(tenant::Column::Id)
        .into_tuple::<Uuid>()
        .all(db)
        .await
}

/// A workspace record the shadow hands down to the group's workspaces: at most one per
/// workspace and key (a provider name, a model type).
trait Inherited: Sized + Send + Sync {
    type Entity: EntityTrait<Model = Self>;
    type Active: ActiveModelTrait<Entity = Self::Entity> + Clone + Send;
    const TENANT: <Self::Entity as EntityTrait>::Column;
    /// The unique (workspace, key) columns.
    const UNIQUE: [<Self::Entity as EntityTrait>::Column; 2];
    fn tenant(&self) -> Uuid;
    fn key(&self) -> &str;
    /// A copy of this record for workspace `tenant`.
    fn copy_to(&self, tenant: Uuid, now: i64) -> Self::Active;
}

impl Inherited for tenant_model_provider::Model {
    type Entity = tenant_model_provider::Entity;
    type Active = tenant_model_provider::ActiveModel;
    const TENANT: tenant_model_provider::Column = tenant_model_provider::Column::TenantId;
    const UNIQUE: [tenant_model_provider::Column; 2] = [
        tenant_model_provider::Column::TenantId,
        tenant_model_provider::Column::ProviderName,
    ];
    fn tenant(&self) -> Uuid {
        self.tenant_id
    }
    fn key(&self) -> &str {
        &self.provider_name
    }
    fn copy_to(&self, tenant: Uuid, now: i64) -> Self::Active {
        tenant_model_provider::ActiveModel {
            id: Set(Uuid::now_v7()),
            tenant_id: Set(tenant),
            provider_name: Set(self.provider_name.clone()),
            config: Set(self.config.clone()),
            created_at: Set(now),
        }
    }
}

impl Inherited for tenant_default_model::Model {
    type Entity = tenant_default_model::Entity;
    type Active = tenant_default_model::ActiveModel;
    const TENANT: tenant_default_model::Column = tenant_default_model::Column::TenantId;
    const UNIQUE: [tenant_default_model::Column; 2] = [
        tenant_default_model::Column::TenantId,
        tenant_default_model::Column::ModelType,
    ];
    fn tenant(&self) -> Uuid {
        self.tenant_id
    }
    fn key(&self) -> &str {
        &self.model_type
    }
    fn copy_to(&self, tenant: Uuid, now: i64) -> Self::Active {
        tenant_default_model::ActiveModel {
            id: Set(Uuid::now_v7()),
            tenant_id: Set(tenant),
            model_type: Set(self.model_type.clone()),
            provider_name: Set(self.provider_name.clone()),
            model_name: Set(self.model_name.clone()),
            created_at: Set(now),
        }
    }
}

/// Adds to each of `targets` the shadow's records (model providers, default models) whose
/// key it has none for; returns how many were added. Existing records (the workspace's
/// own choice) are never touched.
async fn copy_missing<M: Inherited, C: ConnectionTrait>(
    db: &C,
    group_id: Uuid,
    targets: &[Uuid],
    now: i64,
) -> Result<u64, DbErr> {
    let source = M::Entity::find()
        .filter(M::TENANT.eq(group_id))
        .all(db)
        .await?;
    if source.is_empty() || targets.is_empty() {
        return Ok(0);
    }
    let mut added = 0;
    for chunk in targets.chunks(500) {
        let have: HashSet<(Uuid, String)> = M::Entity::find()
            .filter(M::TENANT.is_in(chunk.to_vec()))
            .all(db)
            .await?
            .into_iter()
            .map(|m| (m.tenant(), m.key().to_string()))
            .collect();
        let missing: Vec<M::Active> = chunk
            .iter()
            .flat_map(|t| source.iter().map(move |s| (*t, s)))
            .filter(|(t, s)| !have.contains(&(*t, s.key().to_string())))
            .map(|(t, s)| s.copy_to(t, now))
            .collect();
        added += missing.len() as u64;
        for rows in missing.chunks(200) {
            M::Entity::insert_many(rows.to_vec())
                .on_conflict_do_nothing_on(M::UNIQUE)
                .exec(db)
                .await?;
        }
    }
    Ok(added)
}

/// `repair-model-providers`: every workspace of the group gets the shadow's providers it
/// lacks. Returns the number of records added (0 on a second call).
pub async fn repair_model_providers(
    db: &DatabaseConnection,
    now: i64,
    group_id: Uuid,
) -> Result<u64, DbErr> {
    let targets = tenant_ids(db, group_id).await?;
    copy_missing::<tenant_model_provider::Model, _>(db, group_id, &targets, now).await
}

/// `repair-system-default`: every workspace of the group gets the shadow's default
/// models for the model types it has none for.
pub async fn repair_system_default(
    db: &DatabaseConnection,
    now: i64,
    group_id: Uuid,
) -> Result<u64, DbErr> {
    let targets = tenant_ids(db, group_id).await?;
    copy_missing::<tenant_default_model::Model, _>(db, group_id, &targets, now).await
}
