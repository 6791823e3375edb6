//! Handing a workspace to another member (Dify 1.x's owner transfer): the owner confirms
//! with a mailed code, then the member becomes owner and the old owner an admin at once.

use entity::roles::AccountStatus;
use std::net::IpAddr;

use entity::{account, tenant_member};
use sea_orm::DatabaseConnection;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DbErr, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::domain::email_codes::{self, CodeError, Purpose};
use crate::domain::policy::WorkspaceRole;
use crate::domain::session::Session;
use crate::domain::settings::Settings;
use crate::domain::workspace_members::MemberError;
use crate::domain::workspaces;
use crate::mail::Mailer;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    #[error("the caller does not own the workspace")]
    NotOwner,
    #[error("the owner cannot transfer to itself")]
    ToSelf,
    #[error(transparent)]
    Member(#[from] MemberError),
    #[error(transparent)]
    Code(#[from] CodeError),
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// The caller's membership of its current workspace, if it owns it.
async fn owned(
    db: &DatabaseConnection,
    caller: &Session,
) -> Result<tenant_member::Model, TransferError> {
    let (_, mine) = workspaces::current(db, caller.account.id)
        .await?
        .ok_or(MemberError::NoWorkspace)?;
    // SECURITY: only the owner hands the workspace on.
    if mine.role != WorkspaceRole::Owner {
        return Err(TransferError::NotOwner);
    }
    Ok(mine)
}

/// Mails the owner a confirmation code; the token to check it with.
pub async fn send(
    db: &DatabaseConnection,
    mailer: &Arc<dyn Mailer>,
    settings: &Settings<'_>,
    now: i64,
    caller: &Session,
    language: Option<&str>,
    client_ip: Option<IpAddr>,
) -> Result<String, TransferError> {
    owned(db, caller).await?;
    let purpose = Purpose::OwnerTransfer;
    let issued = email_codes::issue(
        db,
        settings,
        now,
        purpose,
        &caller.account.email,
        language,
        client_ip,
    )
    .await?;
    email_codes::mail_code(mailer, settings, purpose, &issued);
    Ok(issued.token)
}

/// Checks the owner's code.
pub async fn check(
    db: &DatabaseConnection,
    settings: &Settings<'_>,
    now: i64,
    caller: &Session,
    code: &str,
    token: &str,
) -> Result<String, TransferError> {
    owned(db, caller).await?;
    let email = &caller.account.email;
    email_codes::ensure_owner(db, now, Purpose::OwnerTransfer, token, caller.account.id).await?;
    Ok(email_codes::check(
        db,
        settings,
        now,
        Purpose::OwnerTransfer,
        email,
        code,
        token,
    )
    .await?)
}

/// Makes `member` the owner of the caller's current workspace and the caller an admin.
pub async fn transfer(
    db: &DatabaseConnection,
    now: i64,
    caller: &Session,
    member: Uuid,
    token: &str,
) -> Result<(), TransferError> {
    let mine = owned(db, caller).await?;
    if member == caller.account.id {
        return Err(TransferError::ToSelf);
    }
    let row = email_codes::verified_for(db, now, Purpose::OwnerTransfer, token, caller.account.id)
        .await?;
    let theirs = tenant_member::Entity::find()
        .filter(tenant_member::Column::TenantId.eq(mine.tenant_id))
        .filter(tenant_member::Column::AccountId.eq(member))
        .one(db)
        .await?
        .ok_or(MemberError::NotMember)?;
    // A pending invitee has not taken its place yet: it cannot be handed a workspace.
    let active = account::Entity::find_by_id(member)
        .one(db)
        .await?
        .is_some_and(|a| a.status == AccountStatus::Active);
    if !active {
        return Err(MemberError::NotMember.into());
    }
    let txn = crate::db::begin_write(db).await?;
    if !email_codes::spend(&txn, row.id, now).await? {
        return Err(CodeError::InvalidToken.into());
    }
    for (id, role) in [
        (theirs.id, WorkspaceRole::Owner),
        (mine.id, WorkspaceRole::Admin),
    ] {
        tenant_member::Entity::update_many()
            .col_expr(tenant_member::Column::Role, Expr::value(role))
            .filter(tenant_member::Column::Id.eq(id))
            .exec(&txn)
            .await?;
    }
    crate::audit::commit(txn).await?;
    Ok(())
}
