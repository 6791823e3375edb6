//! Enterprise groups: the groups themselves, their members and roles, and which group is
//! an account's current one, here; their workspaces (tenants) in `tenants`, and the
//! repairs that copy a group's model settings into its workspaces in `model_repair`. No
//! HTTP here; who may call what is decided in `api::console::authz`.
//!
//! Every page is newest first, ties broken by id, so pages are stable.

use entity::{account, dataset, enterprise_group, group_member, tenant, tenant_member};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait,
    DatabaseConnection, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

use crate::domain::account_cache::AccountCache;
use crate::domain::account_views::AccountView;
use crate::domain::account_writes::AccountWrite;
use crate::domain::paging::{Page, offset};
pub use crate::domain::policy::Capability;
use crate::domain::policy::OWNER_PERMISSIONS;
use crate::domain::validate;
use entity::roles::{GroupRole, GroupStatus, TenantStatus, WorkspaceRole};

mod model_repair;
mod tenants;

pub use model_repair::{repair_model_providers, repair_system_default};
use tenants::account_exists;
pub(crate) use tenants::memberships_of;
pub use tenants::{
    TenantRole, create_tenant, has_capability, managed_tenants, permissions, tenant_roles, tenants,
    tenants_of_account,
};

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
    groups_where(db, account_id, &GroupRole::MANAGING).await
}

/// The groups where `account_id` is a super_admin (whose audit events it may read).
pub async fn super_admin_groups(
    db: &DatabaseConnection,
    account_id: Uuid,
) -> Result<Vec<Uuid>, DbErr> {
    groups_where(db, account_id, &[GroupRole::SuperAdmin]).await
}

/// The groups where `account_id` holds one of `roles`.
async fn groups_where(
    db: &DatabaseConnection,
    account_id: Uuid,
    roles: &[GroupRole],
) -> Result<Vec<Uuid>, DbErr> {
    group_member::Entity::find()
        .filter(group_member::Column::AccountId.eq(account_id))
        .filter(group_member::Column::GroupRole.is_in(roles.iter().copied()))
        .select_only()
        .column(group_member::Column::GroupId)
        .into_tuple()
        .all(db)
        .await
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

/// The group's workspaces other than its shadow (which has the group's id).
fn workspaces_of(group_id: Uuid) -> sea_orm::Select<tenant::Entity> {
    tenant::Entity::find().filter(in_group(group_id))
}

/// In the group, not its shadow.
fn in_group(group_id: Uuid) -> Condition {
    Condition::all()
        .add(tenant::Column::GroupId.eq(group_id))
        .add(tenant::Column::Id.ne(group_id))
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
    page_of_groups(db, q, page, limit).await
}

/// One page of `q`'s groups, newest first, with their number.
async fn page_of_groups(
    db: &DatabaseConnection,
    q: sea_orm::Select<enterprise_group::Entity>,
    page: u64,
    limit: u64,
) -> Result<Page<enterprise_group::Model>, DbErr> {
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
    let mut write = AccountWrite::begin(db, accounts).await?;
    let txn = write.conn();
    if name_taken(txn, &name, None).await? {
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
    .insert(txn)
    .await
    .map_err(|e| unless_name_taken(e, &name))?;
    tenant::ActiveModel {
        id: Set(id),
        name: Set(name),
        status: Set(TenantStatus::Normal),
        group_id: Set(Some(id)),
        created_at: Set(now),
    }
    .insert(txn)
    .await?;
    write
        .join_group(id, creator, GroupRole::SuperAdmin, now)
        .await?;
    crate::audit::target("group", id);
    crate::audit::group(id);
    write.commit().await?;
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
    let mut write = AccountWrite::begin(db, accounts).await?;
    enterprise_group::Entity::find_by_id(id)
        .one(write.conn())
        .await?
        .ok_or(GroupError::GroupNotFound)?;
    let tenants = tenant::Entity::find()
        .filter(tenant::Column::GroupId.eq(id))
        .filter(tenant::Column::Id.ne(id))
        .count(write.conn())
        .await?;
    if tenants > 0 {
        return Err(GroupError::Conflict(format!(
            "The group still has {tenants} workspace(s); move or delete them first."
        )));
    }
    let datasets = dataset::Entity::find()
        .filter(dataset::Column::TenantId.eq(id))
        .count(write.conn())
        .await?;
    if datasets > 0 {
        return Err(GroupError::Conflict(format!(
            "The group's own workspace still has {datasets} dataset(s); delete them first."
        )));
    }
    if enterprise_group::Entity::find().count(write.conn()).await? <= 1 {
        return Err(GroupError::Conflict(
            "The last enterprise group cannot be deleted.".to_string(),
        ));
    }
    let moved: Vec<Uuid> = group_member::Entity::find()
        .filter(group_member::Column::GroupId.eq(id))
        .filter(group_member::Column::Current.eq(true))
        .all(write.conn())
        .await?
        .into_iter()
        .map(|m| m.account_id)
        .collect();
    let left_workspace: Vec<Uuid> = tenant_member::Entity::find()
        .filter(tenant_member::Column::TenantId.eq(id))
        .filter(tenant_member::Column::Current.eq(true))
        .all(write.conn())
        .await?
        .into_iter()
        .map(|m| m.account_id)
        .collect();
    // The memberships would go with the group (ON DELETE CASCADE); removed here, so the
    // members' views are dropped with them.
    write.remove_group_members(id).await?;
    tenant::Entity::delete_by_id(id).exec(write.conn()).await?;
    enterprise_group::Entity::delete_by_id(id)
        .exec(write.conn())
        .await?;
    for &account_id in &moved {
        if let Some(other) = group_member::Entity::find()
            .filter(group_member::Column::AccountId.eq(account_id))
            .order_by_desc(group_member::Column::CreatedAt)
            .one(write.conn())
            .await?
        {
            write.make_membership_current(other).await?;
        }
    }
    for account_id in left_workspace {
        if let Some(other) = tenant_member::Entity::find()
            .filter(tenant_member::Column::AccountId.eq(account_id))
            .order_by_desc(tenant_member::Column::CreatedAt)
            .one(write.conn())
            .await?
        {
            let mut other: tenant_member::ActiveModel = other.into();
            other.current = Set(true);
            other.update(write.conn()).await?;
        }
    }
    write.commit().await?;
    Ok(())
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
    Ok(page_of_groups(db, q, page, limit).await?)
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
    let mut write = AccountWrite::begin(db, accounts).await?;
    let shadow = tenant::Entity::find_by_id(group_id)
        .one(write.conn())
        .await?
        .ok_or(GroupError::GroupNotFound)?;
    let member = tenant_member::Entity::find()
        .filter(tenant_member::Column::TenantId.eq(shadow.id))
        .filter(tenant_member::Column::AccountId.eq(account_id))
        .one(write.conn())
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
        .insert(write.conn())
        .await?;
    }
    make_current(&mut write, account_id, &shadow, now).await?;
    write.commit().await?;
    Ok(())
}

/// Makes `tenant` the account's current workspace and its group the current group.
pub async fn make_current(
    write: &mut AccountWrite<'_>,
    account_id: Uuid,
    tenant: &tenant::Model,
    now: i64,
) -> Result<(), DbErr> {
    tenant_member::Entity::update_many()
        .col_expr(tenant_member::Column::Current, Expr::value(false))
        .filter(tenant_member::Column::AccountId.eq(account_id))
        .filter(tenant_member::Column::TenantId.ne(tenant.id))
        .exec(write.conn())
        .await?;
    tenant_member::Entity::update_many()
        .col_expr(tenant_member::Column::Current, Expr::value(true))
        .filter(tenant_member::Column::AccountId.eq(account_id))
        .filter(tenant_member::Column::TenantId.eq(tenant.id))
        .exec(write.conn())
        .await?;
    if let Some(group_id) = tenant.group_id {
        write
            .join_group(group_id, account_id, GroupRole::Normal, now)
            .await?;
        write.set_current_group(account_id, group_id).await?;
    }
    Ok(())
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
