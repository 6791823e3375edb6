//! The account cache's one repository: the only code that writes the rows an account's
//! cached view is made of (the account, its system role and extension, its group
//! memberships, and the refresh tokens whose ending the view remembers).
//!
//! A change runs in an [`AccountWrite`], a write transaction that records the accounts
//! each of its statements touches and, when it commits, drops their views on every
//! instance (`AccountCache::forget`). Nothing else writes these rows (xtask's
//! `cached_rows_are_written_only_by_their_owners` fails the build when a module does), so
//! a new write path cannot forget the invalidation: it has no way to write but this one.
//!
//! The few writes that change nothing a view shows (a new refresh token, one used up by
//! its rotation, a logout's revocation) are free functions here, so that what needs no
//! invalidation is decided in this file too.

use entity::roles::{AccountStatus, GroupRole, SystemRole};
use entity::{account, account_extension, account_role, group_member, refresh_token};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection,
    DatabaseTransaction, DbErr, EntityTrait, PaginatorTrait, QueryFilter, UpdateMany,
};
use uuid::Uuid;

use crate::domain::account_cache::AccountCache;

/// What a new account starts with.
pub struct NewAccount<'a> {
    pub id: Uuid,
    pub email: &'a str,
    pub name: &'a str,
    pub password_hash: Option<String>,
    pub language: &'a str,
    pub timezone: &'a str,
    /// `active`, or `pending` for invited accounts that still have to activate.
    pub status: AccountStatus,
    /// The system role row it starts with (`None`: none, shown as `normal`).
    pub system_role: Option<SystemRole>,
    pub now: i64,
}

/// A write transaction over the rows the account cache holds.
#[must_use = "an account write does nothing until it commits"]
pub struct AccountWrite<'a> {
    txn: DatabaseTransaction,
    db: &'a DatabaseConnection,
    cache: &'a AccountCache,
    touched: Vec<Uuid>,
}

impl<'a> AccountWrite<'a> {
    /// Begins a write transaction (SQLite: `BEGIN IMMEDIATE`, see `db::begin_write`).
    pub async fn begin(db: &'a DatabaseConnection, cache: &'a AccountCache) -> Result<Self, DbErr> {
        Ok(Self {
            txn: crate::db::begin_write(db).await?,
            db,
            cache,
            touched: Vec::new(),
        })
    }

    /// The transaction, for reads and for writes of rows no cache holds.
    pub fn conn(&self) -> &DatabaseTransaction {
        &self.txn
    }

    /// Commits with the call's audit event (`audit::commit`), then drops the touched
    /// accounts' views on every instance.
    pub async fn commit(self) -> Result<(), DbErr> {
        crate::audit::commit(self.txn).await?;
        forget(self.db, self.cache, self.touched).await
    }

    /// Commits a change the call makes on its way to a refusal (a reused refresh token ends
    /// every session): the call's event is the refusal, which its surface's layer writes.
    pub async fn commit_unrecorded(self) -> Result<(), DbErr> {
        self.txn.commit().await?;
        forget(self.db, self.cache, self.touched).await
    }

    fn touch(&mut self, id: Uuid) {
        if !self.touched.contains(&id) {
            self.touched.push(id);
        }
    }

    /// Inserts a new account (and its system role row): no avatar, light theme, never
    /// signed in; initialised now unless still pending. A taken email fails on the unique
    /// index.
    pub async fn create_account(&mut self, new: NewAccount<'_>) -> Result<account::Model, DbErr> {
        let active = new.status == AccountStatus::Active;
        let row = account::ActiveModel {
            id: Set(new.id),
            email: Set(new.email.to_string()),
            name: Set(new.name.to_string()),
            password_hash: Set(new.password_hash),
            avatar: Set(None),
            interface_language: Set(new.language.to_string()),
            interface_theme: Set("light".to_string()),
            timezone: Set(new.timezone.to_string()),
            status: Set(new.status),
            last_login_at: Set(None),
            last_login_ip: Set(None),
            created_at: Set(new.now),
            updated_at: Set(new.now),
            initialized_at: Set(active.then_some(new.now)),
            token_version: Set(0),
        }
        .insert(&self.txn)
        .await?;
        if let Some(role) = new.system_role {
            account_role::ActiveModel {
                account_id: Set(row.id),
                role_type: Set(role),
                created_at: Set(new.now),
            }
            .insert(&self.txn)
            .await?;
        }
        // Not touched: no instance holds a view of an account that did not exist.
        Ok(row)
    }

    /// Sets columns of account `id` (`set` adds the `col_expr`s); the rows changed.
    pub async fn update_account(
        &mut self,
        id: Uuid,
        set: impl FnOnce(UpdateMany<account::Entity>) -> UpdateMany<account::Entity>,
    ) -> Result<u64, DbErr> {
        self.touch(id);
        let changed = set(account::Entity::update_many())
            .filter(account::Column::Id.eq(id))
            .exec(&self.txn)
            .await?;
        Ok(changed.rows_affected)
    }

    /// Saves what `edit` sets on `row` and returns the row as stored.
    pub async fn edit_account(
        &mut self,
        row: account::Model,
        edit: impl FnOnce(&mut account::ActiveModel),
    ) -> Result<account::Model, DbErr> {
        self.touch(row.id);
        let mut active: account::ActiveModel = row.into();
        edit(&mut active);
        active.update(&self.txn).await
    }

    /// Gives account `id` the system role `role` (the row is made if it has none).
    pub async fn set_system_role(
        &mut self,
        id: Uuid,
        role: SystemRole,
        now: i64,
    ) -> Result<(), DbErr> {
        self.touch(id);
        match account_role::Entity::find_by_id(id).one(&self.txn).await? {
            Some(existing) => {
                let mut existing: account_role::ActiveModel = existing.into();
                existing.role_type = Set(role);
                existing.update(&self.txn).await?;
            }
            None => {
                account_role::ActiveModel {
                    account_id: Set(id),
                    role_type: Set(role),
                    created_at: Set(now),
                }
                .insert(&self.txn)
                .await?;
            }
        }
        Ok(())
    }

    /// Sets the mobile number on account `id`'s extension (made if it has none).
    pub async fn set_mobile(&mut self, id: Uuid, mobile: Option<String>) -> Result<(), DbErr> {
        self.touch(id);
        match account_extension::Entity::find_by_id(id)
            .one(&self.txn)
            .await?
        {
            Some(ext) => {
                let mut ext: account_extension::ActiveModel = ext.into();
                ext.mobile = Set(mobile);
                ext.update(&self.txn).await?;
            }
            None => {
                account_extension::ActiveModel {
                    account_id: Set(id),
                    mobile: Set(mobile),
                    wechat: Set(None),
                    address: Set(None),
                    gender: Set(None),
                }
                .insert(&self.txn)
                .await?;
            }
        }
        Ok(())
    }

    /// Deletes account `id`'s extension and every group membership.
    pub async fn delete_extension_and_memberships(&mut self, id: Uuid) -> Result<(), DbErr> {
        self.touch(id);
        account_extension::Entity::delete_many()
            .filter(account_extension::Column::AccountId.eq(id))
            .exec(&self.txn)
            .await?;
        group_member::Entity::delete_many()
            .filter(group_member::Column::AccountId.eq(id))
            .exec(&self.txn)
            .await?;
        Ok(())
    }

    /// Makes the account a member of the group with `role` unless it is one already; the
    /// group becomes its current one when it has none.
    pub async fn join_group(
        &mut self,
        group_id: Uuid,
        account_id: Uuid,
        role: GroupRole,
        now: i64,
    ) -> Result<(), DbErr> {
        let member = group_member::Entity::find()
            .filter(group_member::Column::GroupId.eq(group_id))
            .filter(group_member::Column::AccountId.eq(account_id))
            .one(&self.txn)
            .await?;
        if member.is_some() {
            return Ok(());
        }
        let has_current = group_member::Entity::find()
            .filter(group_member::Column::AccountId.eq(account_id))
            .filter(group_member::Column::Current.eq(true))
            .count(&self.txn)
            .await?
            > 0;
        self.touch(account_id);
        group_member::ActiveModel {
            id: Set(Uuid::now_v7()),
            group_id: Set(group_id),
            account_id: Set(account_id),
            group_role: Set(role),
            current: Set(!has_current),
            created_at: Set(now),
        }
        .insert(&self.txn)
        .await?;
        Ok(())
    }

    /// Sets `role` on a membership.
    pub async fn set_group_role(
        &mut self,
        member: group_member::Model,
        role: GroupRole,
    ) -> Result<(), DbErr> {
        self.touch(member.account_id);
        let mut member: group_member::ActiveModel = member.into();
        member.group_role = Set(role);
        member.update(&self.txn).await?;
        Ok(())
    }

    /// Makes `group_id` the account's one current group (a group it is not a member of
    /// leaves it with none).
    pub async fn set_current_group(
        &mut self,
        account_id: Uuid,
        group_id: Uuid,
    ) -> Result<(), DbErr> {
        self.touch(account_id);
        group_member::Entity::update_many()
            .col_expr(group_member::Column::Current, Expr::value(false))
            .filter(group_member::Column::AccountId.eq(account_id))
            .filter(group_member::Column::GroupId.ne(group_id))
            .exec(&self.txn)
            .await?;
        group_member::Entity::update_many()
            .col_expr(group_member::Column::Current, Expr::value(true))
            .filter(group_member::Column::AccountId.eq(account_id))
            .filter(group_member::Column::GroupId.eq(group_id))
            .exec(&self.txn)
            .await?;
        Ok(())
    }

    /// Marks a membership current (after the account's current group went away).
    pub async fn make_membership_current(
        &mut self,
        member: group_member::Model,
    ) -> Result<(), DbErr> {
        self.touch(member.account_id);
        let mut member: group_member::ActiveModel = member.into();
        member.current = Set(true);
        member.update(&self.txn).await?;
        Ok(())
    }

    /// Removes every membership of a group (which is about to be deleted).
    pub async fn remove_group_members(&mut self, group_id: Uuid) -> Result<(), DbErr> {
        let members = group_member::Entity::find()
            .filter(group_member::Column::GroupId.eq(group_id))
            .all(&self.txn)
            .await?;
        for member in members {
            self.touch(member.account_id);
        }
        group_member::Entity::delete_many()
            .filter(group_member::Column::GroupId.eq(group_id))
            .exec(&self.txn)
            .await?;
        Ok(())
    }

    /// Ends the account's live sign-ins `families` (all but `keep` when `families` is
    /// `None`); the number ended. Their refresh tokens stop at once; their access tokens
    /// once the view, which lists the ended sign-ins, is dropped.
    pub async fn end_sign_ins(
        &mut self,
        account_id: Uuid,
        now: i64,
        families: Option<&[Uuid]>,
        keep: Option<Uuid>,
    ) -> Result<u64, DbErr> {
        let mut update = refresh_token::Entity::update_many()
            .col_expr(refresh_token::Column::RevokedAt, Expr::value(now))
            .col_expr(refresh_token::Column::EndedAt, Expr::value(now))
            .filter(refresh_token::Column::AccountId.eq(account_id))
            .filter(refresh_token::Column::RevokedAt.is_null())
            .filter(refresh_token::Column::ExpiresAt.gt(now));
        if let Some(families) = families {
            update = update.filter(refresh_token::Column::Family.is_in(families.to_vec()));
        }
        if let Some(keep) = keep {
            update = update.filter(refresh_token::Column::Family.ne(keep));
        }
        let ended = update.exec(&self.txn).await?.rows_affected;
        if ended > 0 {
            self.touch(account_id);
        }
        Ok(ended)
    }

    /// Revokes every refresh token of the account. With the token version moved on (by
    /// [`Self::end_all_sessions`] or a password change), its access tokens stop too.
    pub async fn revoke_refresh_tokens(&mut self, account_id: Uuid, now: i64) -> Result<(), DbErr> {
        self.touch(account_id);
        refresh_token::Entity::update_many()
            .col_expr(refresh_token::Column::RevokedAt, Expr::value(now))
            .filter(refresh_token::Column::AccountId.eq(account_id))
            .filter(refresh_token::Column::RevokedAt.is_null())
            .exec(&self.txn)
            .await?;
        Ok(())
    }

    /// Ends every session of an account: its access tokens stop verifying (the token
    /// version moves on) and its refresh tokens are revoked.
    pub async fn end_all_sessions(&mut self, account_id: Uuid, now: i64) -> Result<(), DbErr> {
        self.update_account(account_id, |u| {
            u.col_expr(
                account::Column::TokenVersion,
                Expr::col(account::Column::TokenVersion).add(1),
            )
        })
        .await?;
        self.revoke_refresh_tokens(account_id, now).await
    }
}

async fn forget(
    db: &DatabaseConnection,
    cache: &AccountCache,
    touched: Vec<Uuid>,
) -> Result<(), DbErr> {
    if touched.is_empty() {
        return Ok(());
    }
    cache.forget(db, &touched).await
}

/// A refresh token to store (its secret only as `token_hash`).
pub struct NewRefreshToken {
    pub account_id: Uuid,
    pub family: Uuid,
    pub token_hash: String,
    pub expires_at: i64,
    pub now: i64,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    pub method: String,
    pub signed_in_at: i64,
}

/// Stores a new live refresh token. No view changes: a view lists only ended sign-ins.
pub async fn issue_refresh_token<C: ConnectionTrait>(
    db: &C,
    new: NewRefreshToken,
) -> Result<(), DbErr> {
    refresh_token::ActiveModel {
        id: Set(Uuid::now_v7()),
        account_id: Set(new.account_id),
        family: Set(new.family),
        token_hash: Set(new.token_hash),
        expires_at: Set(new.expires_at),
        used_at: Set(None),
        revoked_at: Set(None),
        created_at: Set(new.now),
        client_ip: Set(new.client_ip),
        user_agent: Set(new.user_agent),
        method: Set(new.method),
        signed_in_at: Set(new.signed_in_at),
        ended_at: Set(None),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Uses up refresh token `id` for its rotation; `false` when it was used already (only
/// one caller can move it from unused to used). No view changes: the sign-in goes on.
pub async fn claim_refresh_token<C: ConnectionTrait>(
    db: &C,
    id: Uuid,
    now: i64,
) -> Result<bool, DbErr> {
    let claimed = refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::UsedAt, Expr::value(now))
        .filter(refresh_token::Column::Id.eq(id))
        .filter(refresh_token::Column::UsedAt.is_null())
        .exec(db)
        .await?;
    Ok(claimed.rows_affected == 1)
}

/// Revokes every refresh token of a sign-in (logout). No view changes: a view lists the
/// sign-ins ended with `end_sign_ins` (their `ended_at`), which this does not set.
pub async fn revoke_family<C: ConnectionTrait>(
    db: &C,
    now: i64,
    family: Uuid,
) -> Result<(), DbErr> {
    refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::RevokedAt, Expr::value(now))
        .filter(refresh_token::Column::Family.eq(family))
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}
