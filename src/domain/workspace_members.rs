//! The members of a workspace as its owner and admins manage them (Dify's
//! `/workspaces/current/members`): list, change a role, remove. The rules are
//! `policy::member_role_change` and `policy::member_removal`.

use entity::{account, invitation, tenant_member};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use crate::domain::policy::{self, MemberRefusal, WorkspaceRole};
use crate::domain::workspaces;

#[derive(Debug, thiserror::Error)]
pub enum MemberError {
    #[error("the caller has no current workspace")]
    NoWorkspace,
    #[error("the member is not in this workspace")]
    NotMember,
    #[error("refused: {0:?}")]
    Refused(MemberRefusal),
    #[error("the member already has this role")]
    SameRole,
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// A member with its account.
pub struct Member {
    pub account: account::Model,
    pub role: WorkspaceRole,
}

/// The caller's current workspace and its own membership there.
async fn caller_workspace(
    db: &DatabaseConnection,
    caller: Uuid,
) -> Result<tenant_member::Model, MemberError> {
    workspaces::current(db, caller)
        .await?
        .map(|(_, membership)| membership)
        .ok_or(MemberError::NoWorkspace)
}

async fn membership(
    db: &impl sea_orm::ConnectionTrait,
    tenant_id: Uuid,
    account_id: Uuid,
) -> Result<tenant_member::Model, MemberError> {
    tenant_member::Entity::find()
        .filter(tenant_member::Column::TenantId.eq(tenant_id))
        .filter(tenant_member::Column::AccountId.eq(account_id))
        .one(db)
        .await?
        .ok_or(MemberError::NotMember)
}

/// The members of the caller's current workspace: the owner first, then by joining time.
pub async fn list(
    db: &DatabaseConnection,
    caller: Uuid,
) -> Result<(Uuid, Vec<Member>), MemberError> {
    let mine = caller_workspace(db, caller).await?;
    let rows = tenant_member::Entity::find()
        .filter(tenant_member::Column::TenantId.eq(mine.tenant_id))
        .order_by_asc(tenant_member::Column::CreatedAt)
        .find_also_related(account::Entity)
        .all(db)
        .await?;
    let mut members: Vec<Member> = rows
        .into_iter()
        .filter_map(|(m, account)| {
            Some(Member {
                account: account?,
                role: m.role,
            })
        })
        .collect();
    // Stable: the owner moves to the front, everyone else keeps joining order.
    members.sort_by_key(|m| m.role != WorkspaceRole::Owner);
    Ok((mine.tenant_id, members))
}

/// Gives `member` the role `new` in the caller's current workspace.
pub async fn change_role(
    db: &DatabaseConnection,
    caller: Uuid,
    member: Uuid,
    new: WorkspaceRole,
) -> Result<(), MemberError> {
    let mine = caller_workspace(db, caller).await?;
    let theirs = membership(db, mine.tenant_id, member).await?;
    let target = theirs.role;
    policy::member_role_change(mine.role, target, new, caller == member)
        .map_err(MemberError::Refused)?;
    if target == new {
        return Err(MemberError::SameRole);
    }
    tenant_member::Entity::update_many()
        .col_expr(tenant_member::Column::Role, Expr::value(new))
        .filter(tenant_member::Column::Id.eq(theirs.id))
        .exec(db)
        .await?;
    Ok(())
}

/// Removes `member` from the caller's current workspace; the workspace's id. A pending
/// member's invitation is cancelled with it, and the removed account's current workspace
/// moves to another of its workspaces, if it has one.
pub async fn remove(
    db: &DatabaseConnection,
    now: i64,
    caller: Uuid,
    member: Uuid,
) -> Result<Uuid, MemberError> {
    let mine = caller_workspace(db, caller).await?;
    let theirs = membership(db, mine.tenant_id, member).await?;
    policy::member_removal(mine.role, theirs.role, caller == member)
        .map_err(MemberError::Refused)?;
    let txn = crate::db::begin_write(db).await?;
    tenant_member::Entity::delete_by_id(theirs.id)
        .exec(&txn)
        .await?;
    invitation::Entity::update_many()
        .col_expr(invitation::Column::UsedAt, Expr::value(now))
        .filter(invitation::Column::TenantId.eq(mine.tenant_id))
        .filter(invitation::Column::AccountId.eq(member))
        .filter(invitation::Column::UsedAt.is_null())
        .exec(&txn)
        .await?;
    if theirs.current {
        let next = tenant_member::Entity::find()
            .filter(tenant_member::Column::AccountId.eq(member))
            .order_by_desc(tenant_member::Column::CreatedAt)
            .one(&txn)
            .await?;
        if let Some(next) = next {
            tenant_member::Entity::update_many()
                .col_expr(tenant_member::Column::Current, Expr::value(true))
                .filter(tenant_member::Column::Id.eq(next.id))
                .exec(&txn)
                .await?;
        }
    }
    crate::audit::commit(txn).await?;
    Ok(mine.tenant_id)
}
