//! Console accounts: how an administrator registers, lists and edits one (how one is
//! presented is `account_views`).

use entity::{account, account_role, group_member};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

use crate::auth::password::HashError;
use crate::auth::password::PasswordHasher;
use crate::db::is_unique_violation;
use crate::domain::account_cache::AccountCache;
pub use crate::domain::account_views::{AccountView, views_of};
use crate::domain::account_writes::{AccountWrite, NewAccount};
use crate::domain::paging::{Page, offset};
use crate::domain::policy::{self, AccountEdit};
use crate::domain::session::Session;
use crate::domain::validate;
use entity::roles::{AccountStatus, GroupRole, SystemRole};

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("{0}")]
    InvalidEmail(String),
    #[error("{0}")]
    InvalidParam(String),
    #[error("email already exists")]
    EmailExists,
    #[error("account not found")]
    NotFound,
    #[error("{0}")]
    Forbidden(&'static str),
    #[error(transparent)]
    Hash(#[from] HashError),
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// `POST /account/register`: an administrator creates an active account with the system
/// role `normal`.
pub async fn register(
    db: &DatabaseConnection,
    accounts: &AccountCache,
    hasher: &PasswordHasher,
    now: i64,
    email: &str,
    name: &str,
    password: String,
) -> Result<Uuid, AccountError> {
    let email = validate::email(email).map_err(AccountError::InvalidEmail)?;
    let name = validate::name(name, 255).map_err(AccountError::InvalidParam)?;
    validate::password(&password).map_err(AccountError::InvalidParam)?;
    let taken = account::Entity::find()
        .filter(account::Column::Email.eq(email.clone()))
        .one(db)
        .await?
        .is_some();
    if taken {
        return Err(AccountError::EmailExists);
    }
    let hash = hasher.hash(password).await?;
    let (language, timezone) = validate::language(None);
    let id = Uuid::now_v7();
    let mut write = AccountWrite::begin(db, accounts).await?;
    let inserted = write
        .create_account(NewAccount {
            id,
            email: &email,
            name: &name,
            password_hash: Some(hash),
            language,
            timezone,
            status: AccountStatus::Active,
            system_role: Some(SystemRole::Normal),
            now,
        })
        .await;
    if let Err(err) = inserted {
        // Two registrations of one email at once: the unique index decides.
        return Err(if is_unique_violation(&err) {
            AccountError::EmailExists
        } else {
            AccountError::Db(err)
        });
    }
    crate::audit::target("account", id);
    write.commit().await?;
    Ok(id)
}

/// A page of accounts, newest first.
pub async fn list(
    db: &DatabaseConnection,
    page: u64,
    limit: u64,
) -> Result<Page<AccountView>, DbErr> {
    let total = account::Entity::find().count(db).await?;
    let page = account::Entity::find()
        .order_by_desc(account::Column::CreatedAt)
        .order_by_desc(account::Column::Id)
        .offset(offset(page, limit))
        .limit(limit);
    Ok(Page {
        items: views_of(db, page).await?,
        total,
    })
}

pub async fn by_email(db: &DatabaseConnection, email: &str) -> Result<AccountView, AccountError> {
    let found =
        account::Entity::find().filter(account::Column::Email.eq(email.trim().to_lowercase()));
    views_of(db, found)
        .await?
        .pop()
        .ok_or(AccountError::NotFound)
}

pub async fn by_id(db: &DatabaseConnection, id: Uuid) -> Result<AccountView, AccountError> {
    views_of(db, account::Entity::find_by_id(id))
        .await?
        .pop()
        .ok_or(AccountError::NotFound)
}

/// The changes `PUT /account-ex/id` may make; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct AccountChanges {
    pub name: Option<String>,
    pub avatar: Option<String>,
    /// `active`, `banned` or `closed`.
    pub status: Option<AccountStatus>,
    pub mobile: Option<String>,
    /// `system_admin` or `normal`.
    pub role_type: Option<SystemRole>,
    /// `admin` or `normal`, in the account's current enterprise group.
    pub group_role: Option<GroupRole>,
}

/// The advisory lock key of changes that may remove a (system or group) super_admin.
/// The number of super_admins of a group.
pub async fn group_super_admins<C: sea_orm::ConnectionTrait>(
    db: &C,
    group_id: Uuid,
) -> Result<u64, DbErr> {
    group_member::Entity::find()
        .filter(group_member::Column::GroupId.eq(group_id))
        .filter(group_member::Column::GroupRole.eq(GroupRole::SuperAdmin))
        .count(db)
        .await
}

const SUPER_ADMIN_LOCK: i64 = 0x5355_5045_5241_444d;

pub async fn active_super_admins<C: sea_orm::ConnectionTrait>(db: &C) -> Result<u64, DbErr> {
    let ids: Vec<Uuid> = account_role::Entity::find()
        .filter(account_role::Column::RoleType.eq(SystemRole::SuperAdmin))
        .all(db)
        .await?
        .into_iter()
        .map(|r| r.account_id)
        .collect();
    account::Entity::find()
        .filter(account::Column::Id.is_in(ids))
        .filter(account::Column::Status.eq(AccountStatus::Active))
        .count(db)
        .await
}

/// Applies `changes` to account `id` on behalf of `actor`, under the rules: only a
/// super_admin changes system roles; nobody changes their own role or bans or closes
/// themselves; the last active super_admin is never demoted, banned or closed. Banning
/// or closing ends every session of the account.
pub async fn update(
    db: &DatabaseConnection,
    accounts: &AccountCache,
    now: i64,
    actor: &Session,
    id: Uuid,
    changes: AccountChanges,
) -> Result<AccountView, AccountError> {
    let target = by_id(db, id).await?;
    let is_self = actor.account.id == id;
    let target_role = target.role_type.unwrap_or(SystemRole::Normal);
    let target_is_super = target_role == SystemRole::SuperAdmin;
    if let Some(status) = changes.status
        && status == AccountStatus::Pending
    {
        return Err(AccountError::InvalidParam(format!(
            "status can be set to active, banned or closed, not {status}."
        )));
    }
    let ends_access = matches!(
        changes.status,
        Some(AccountStatus::Banned | AccountStatus::Closed)
    );
    let role_change = changes.role_type.filter(|r| target.role_type != Some(*r));
    policy::account_edit(
        actor.system_role(),
        target_role,
        is_self,
        AccountEdit {
            role_change: role_change.is_some(),
            ends_access,
            group_role: changes.group_role.is_some(),
            beyond_group_role: changes.name.is_some()
                || changes.avatar.is_some()
                || changes.status.is_some()
                || changes.mobile.is_some()
                || changes.role_type.is_some(),
        },
    )
    .map_err(AccountError::Forbidden)?;
    let demotes_super = target_is_super && (role_change.is_some() || ends_access);
    if demotes_super
        && target.account.status == AccountStatus::Active
        && active_super_admins(db).await? <= 1
    {
        return Err(last_super_admin());
    }
    let name = match &changes.name {
        Some(n) => Some(validate::name(n, 255).map_err(AccountError::InvalidParam)?),
        None => None,
    };
    let membership = match changes.group_role {
        Some(new_role) => {
            // The role is set in the caller's current group, whoever the caller is.
            let group_id = group_member::Entity::find()
                .filter(group_member::Column::AccountId.eq(actor.account.id))
                .filter(group_member::Column::Current.eq(true))
                .one(db)
                .await?
                .ok_or(AccountError::InvalidParam(
                    "You have no current enterprise group to set a group role in.".to_string(),
                ))?
                .group_id;
            let member = group_member::Entity::find()
                .filter(group_member::Column::GroupId.eq(group_id))
                .filter(group_member::Column::AccountId.eq(id))
                .one(db)
                .await?
                .ok_or(AccountError::InvalidParam(
                    "The account is not a member of your current enterprise group.".to_string(),
                ))?;
            if member.group_role == GroupRole::SuperAdmin
                && new_role != GroupRole::SuperAdmin
                && group_super_admins(db, group_id).await? <= 1
            {
                return Err(last_group_super_admin());
            }
            Some(member)
        }
        None => None,
    };

    let demotes_group_super = membership.as_ref().is_some_and(|m| {
        m.group_role == GroupRole::SuperAdmin && changes.group_role != Some(GroupRole::SuperAdmin)
    });
    let mut write = AccountWrite::begin(db, accounts).await?;
    if demotes_super || demotes_group_super {
        // The checks above are the quick answer; these locked re-counts after the write
        // are what keeps two concurrent demotions from removing the last one.
        crate::db::lock_for_transaction(write.conn(), SUPER_ADMIN_LOCK).await?;
    }
    write
        .edit_account(target.account.clone(), |row| {
            if let Some(name) = name {
                row.name = Set(name);
            }
            if let Some(avatar) = changes.avatar {
                row.avatar = Set(Some(avatar).filter(|a| !a.is_empty()));
            }
            if let Some(status) = changes.status {
                row.status = Set(status);
            }
            row.updated_at = Set(now);
        })
        .await?;
    if let Some(mobile) = changes.mobile {
        write
            .set_mobile(id, Some(mobile).filter(|m| !m.is_empty()))
            .await?;
    }
    if let Some(role) = role_change {
        write.set_system_role(id, role, now).await?;
    }
    if let (Some(member), Some(group_role)) = (membership, changes.group_role) {
        let group_id = member.group_id;
        write.set_group_role(member, group_role).await?;
        if demotes_group_super && group_super_admins(write.conn(), group_id).await? == 0 {
            return Err(last_group_super_admin());
        }
    }
    if demotes_super && active_super_admins(write.conn()).await? == 0 {
        return Err(last_super_admin());
    }
    if ends_access {
        write.end_all_sessions(id, now).await?;
    }
    write.commit().await?;
    by_id(db, id).await
}

fn last_super_admin() -> AccountError {
    AccountError::Forbidden("The last active super_admin cannot be demoted, banned or closed.")
}

fn last_group_super_admin() -> AccountError {
    AccountError::Forbidden("The last super_admin of a group cannot be demoted.")
}
