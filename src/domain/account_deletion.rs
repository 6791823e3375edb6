//! Deleting one's own account (Dify's `/account/delete`): a mailed code, then the account
//! is closed and stripped of what identifies a person. Its id and creation time stay, so
//! records that name it (datasets it created, memberships history) still resolve.

use std::net::IpAddr;

use entity::roles::AccountStatus;
use entity::{account, group_member, oauth_link, tenant_member};
use sea_orm::DatabaseConnection;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter};

use crate::domain::account_cache::AccountCache;
use crate::domain::account_writes::AccountWrite;
use crate::domain::accounts;
use crate::domain::email_codes::{self, CodeError, Purpose};
use crate::domain::policy::{GroupRole, SystemRole, WorkspaceRole};
use crate::domain::session::Session;
use crate::domain::settings::Settings;
use crate::mail::Mailer;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum DeletionError {
    #[error("{0}")]
    Refused(&'static str),
    #[error(transparent)]
    Code(#[from] CodeError),
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// `GET /account/delete/verify`: mails a code to the caller's address.
pub async fn send(
    db: &DatabaseConnection,
    mailer: &Arc<dyn Mailer>,
    settings: &Settings<'_>,
    now: i64,
    caller: &Session,
    client_ip: Option<IpAddr>,
) -> Result<String, DeletionError> {
    let purpose = Purpose::DeleteAccount;
    let issued = email_codes::issue(
        db,
        settings,
        now,
        purpose,
        &caller.account.email,
        Some(&caller.account.interface_language),
        client_ip,
    )
    .await?;
    email_codes::mail_code(mailer, settings, purpose, &issued);
    Ok(issued.token)
}

/// SECURITY: what would be lost if this account went: the last active super_admin, a
/// workspace whose owner it is and that has other members, a group whose last super_admin
/// it is.
async fn refusal(db: &DatabaseConnection, caller: &Session) -> Result<Option<&'static str>, DbErr> {
    let id = caller.account.id;
    if caller.system_role() == SystemRole::SuperAdmin
        && accounts::active_super_admins(db).await? <= 1
    {
        return Ok(Some("The last active super_admin cannot be deleted."));
    }
    let memberships = tenant_member::Entity::find()
        .filter(tenant_member::Column::AccountId.eq(id))
        .all(db)
        .await?;
    for owned in memberships
        .iter()
        .filter(|m| m.role == WorkspaceRole::Owner)
    {
        let members = tenant_member::Entity::find()
            .filter(tenant_member::Column::TenantId.eq(owned.tenant_id))
            .count(db)
            .await?;
        if members > 1 {
            return Ok(Some(
                "Transfer or empty the workspaces you own before deleting your account.",
            ));
        }
    }
    let groups_of = group_member::Entity::find()
        .filter(group_member::Column::AccountId.eq(id))
        .all(db)
        .await?;
    for member in groups_of
        .iter()
        .filter(|m| m.group_role == GroupRole::SuperAdmin)
    {
        if accounts::group_super_admins(db, member.group_id).await? <= 1 {
            return Ok(Some(
                "You are the last super_admin of an enterprise group; name another first.",
            ));
        }
    }
    Ok(None)
}

/// `POST /account/delete`: checks the code, then closes and anonymises the account.
pub async fn delete(
    db: &DatabaseConnection,
    accounts: &AccountCache,
    settings: &Settings<'_>,
    now: i64,
    caller: &Session,
    token: &str,
    code: &str,
) -> Result<(), DeletionError> {
    if let Some(reason) = refusal(db, caller).await? {
        return Err(DeletionError::Refused(reason));
    }
    let email = caller.account.email.as_str();
    email_codes::ensure_owner(db, now, Purpose::DeleteAccount, token, caller.account.id).await?;
    email_codes::check(
        db,
        settings,
        now,
        Purpose::DeleteAccount,
        email,
        code,
        token,
    )
    .await?;
    let row = email_codes::verified_for(db, now, Purpose::DeleteAccount, token, caller.account.id)
        .await?;
    let id = caller.account.id;
    let mut write = AccountWrite::begin(db, accounts).await?;
    if !email_codes::spend(write.conn(), row.id, now).await? {
        return Err(CodeError::InvalidToken.into());
    }
    // The address is freed (it may sign up again); nothing left names the person.
    write
        .update_account(id, |u| {
            u.col_expr(
                account::Column::Email,
                Expr::value(format!("deleted-{id}@deleted.invalid")),
            )
            .col_expr(account::Column::Name, Expr::value("Deleted account"))
            .col_expr(account::Column::Avatar, Expr::value(Option::<String>::None))
            .col_expr(
                account::Column::PasswordHash,
                Expr::value(Option::<String>::None),
            )
            .col_expr(
                account::Column::LastLoginIp,
                Expr::value(Option::<String>::None),
            )
            .col_expr(account::Column::Status, Expr::value(AccountStatus::Closed))
            .col_expr(account::Column::UpdatedAt, Expr::value(now))
        })
        .await?;
    write.delete_extension_and_memberships(id).await?;
    oauth_link::Entity::delete_many()
        .filter(oauth_link::Column::AccountId.eq(id))
        .exec(write.conn())
        .await?;
    tenant_member::Entity::delete_many()
        .filter(tenant_member::Column::AccountId.eq(id))
        .exec(write.conn())
        .await?;
    write.end_all_sessions(id, now).await?;
    write.commit().await?;
    Ok(())
}
