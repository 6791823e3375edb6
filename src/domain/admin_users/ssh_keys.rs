//! SSH public keys of admin-surface users: listing (own and, for admins, any user's),
//! adding with a fingerprint, deleting.

use super::{AdminUserError, Result, bounds};
use crate::domain::paging::{Page, offset};

use entity::{admin_ssh_key, admin_user};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};

use crate::clock::Clock;
use crate::db::is_unique_violation;

#[derive(Debug, Clone)]
pub struct SshKey {
    pub id: i64,
    pub title: String,
    pub fingerprint: String,
    pub added_time: i64,
    pub last_used_time: i64,
}

impl From<admin_ssh_key::Model> for SshKey {
    fn from(m: admin_ssh_key::Model) -> Self {
        Self {
            id: m.id,
            title: m.title,
            fingerprint: m.fingerprint,
            added_time: m.added_time,
            last_used_time: m.last_used_time,
        }
    }
}

/// `SHA256:` + unpadded base64 of the key blob's digest (as `ssh-keygen -l`).
pub fn fingerprint(key: &str) -> Result<(String, String)> {
    let trimmed = key.trim();
    let parsed =
        ssh_key::PublicKey::from_openssh(trimmed).map_err(|_| AdminUserError::KeyInvalid)?;
    Ok((
        parsed.fingerprint(ssh_key::HashAlg::Sha256).to_string(),
        trimmed.to_string(),
    ))
}

pub async fn list_ssh_keys(
    db: &DatabaseConnection,
    user_id: i64,
    page: i32,
    per_page: i32,
) -> Result<Page<SshKey>> {
    let total = keys_of(user_id).count(db).await?;
    ssh_key_page(db, user_id, page, per_page, total).await
}

/// The admin view: a user that does not exist is `UserInvalid`.
pub async fn list_user_ssh_keys(
    db: &DatabaseConnection,
    user_id: i64,
    page: i32,
    per_page: i32,
) -> Result<Page<SshKey>> {
    use sea_orm::sea_query::{Expr, Query};
    // The key count and the user's existence in one statement.
    let (total, known) = crate::db::count_and_exists(
        db,
        keys_of(user_id),
        (admin_ssh_key::Entity, admin_ssh_key::Column::Id),
        Query::select()
            .expr(Expr::val(1))
            .from(admin_user::Entity)
            .and_where(admin_user::Column::Id.eq(user_id))
            .to_owned(),
    )
    .await?;
    if !known {
        return Err(AdminUserError::UserInvalid);
    }
    ssh_key_page(db, user_id, page, per_page, total).await
}

/// The SSH keys of user `user_id`.
fn keys_of(user_id: i64) -> sea_orm::Select<admin_ssh_key::Entity> {
    admin_ssh_key::Entity::find().filter(admin_ssh_key::Column::UserId.eq(user_id))
}

async fn ssh_key_page(
    db: &DatabaseConnection,
    user_id: i64,
    page: i32,
    per_page: i32,
    total: u64,
) -> Result<Page<SshKey>> {
    let (page, limit) = bounds(page, per_page);
    let items = keys_of(user_id)
        .order_by_asc(admin_ssh_key::Column::Id)
        .offset(offset(page, limit))
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(SshKey::from)
        .collect();
    Ok(Page { items, total })
}

pub async fn add_ssh_key(
    db: &DatabaseConnection,
    clock: &dyn Clock,
    user_id: i64,
    title: &str,
    key: &str,
) -> Result<SshKey> {
    if title.is_empty() {
        return Err(AdminUserError::TitleEmpty);
    }
    let taken = admin_ssh_key::Entity::find()
        .filter(admin_ssh_key::Column::UserId.eq(user_id))
        .filter(admin_ssh_key::Column::Title.eq(title))
        .one(db)
        .await?
        .is_some();
    if taken {
        return Err(AdminUserError::DuplicateKeyTitle);
    }
    let (fingerprint, key_str) = fingerprint(key)?;
    let now = clock.now();
    let row = admin_ssh_key::ActiveModel {
        user_id: Set(user_id),
        title: Set(title.to_string()),
        fingerprint: Set(fingerprint),
        key_str: Set(key_str),
        added_time: Set(now),
        last_used_time: Set(now),
        ..Default::default()
    };
    match row.insert(db).await {
        Ok(m) => Ok(m.into()),
        Err(e) if is_unique_violation(&e) => Err(AdminUserError::DuplicateKeyTitle),
        Err(e) => Err(e.into()),
    }
}

/// Deletes one of `user_id`'s keys; someone else's key is `KeyNotFound`.
pub async fn delete_own_ssh_key(db: &DatabaseConnection, user_id: i64, id: i64) -> Result<()> {
    let deleted = admin_ssh_key::Entity::delete_many()
        .filter(admin_ssh_key::Column::Id.eq(id))
        .filter(admin_ssh_key::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    if deleted.rows_affected == 0 {
        return Err(AdminUserError::KeyNotFound);
    }
    Ok(())
}

/// The admin view: deletes any user's key; a missing key is not an error (as AList).
pub async fn delete_ssh_key(db: &DatabaseConnection, id: i64) -> Result<()> {
    admin_ssh_key::Entity::delete_by_id(id).exec(db).await?;
    Ok(())
}
