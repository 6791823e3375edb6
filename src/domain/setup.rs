//! First-run setup: the first administrator, the default enterprise group and workspaces.

use entity::roles::{AccountStatus, GroupRole, GroupStatus, SystemRole, TenantStatus};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, DatabaseConnection, DbErr, EntityTrait};
use uuid::Uuid;

use std::net::IpAddr;

use crate::auth::password::HashError;
use crate::auth::password::PasswordHasher;
use crate::auth::{attempts, tokens};
use crate::db::is_unique_violation;
use crate::domain::account_cache::AccountCache;
use crate::domain::account_writes::{AccountWrite, NewAccount};
use crate::domain::settings::Settings;
use crate::domain::{validate, workspaces};
use entity::{enterprise_group, setup, tenant};

/// The name of the group setup creates.
pub const DEFAULT_GROUP_NAME: &str = "Default Group";

/// Failed `INIT_PASSWORD` attempts allowed from one address per hour.
const INIT_FAILURE_LIMIT: u32 = 10;
/// How long a successful `POST /init` lets its address run setup.
const INIT_VALID_FOR: i64 = 3600;

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("setup has already finished")]
    AlreadySetup,
    #[error("the init password has not been validated")]
    NotInitValidated,
    #[error("wrong init password")]
    InitValidateFailed,
    #[error("{0}")]
    InvalidParam(String),
    #[error(transparent)]
    Hash(#[from] HashError),
    #[error(transparent)]
    Db(#[from] DbErr),
}

pub struct SetupInput {
    pub email: String,
    pub name: String,
    pub password: String,
    pub language: Option<String>,
}

fn init_key(ip: Option<IpAddr>) -> String {
    format!(
        "init:ok:{}",
        ip.map_or_else(|| "-".to_string(), |ip| ip.to_string())
    )
}

fn init_failure_key(ip: Option<IpAddr>) -> String {
    format!(
        "init:fail:{}",
        ip.map_or_else(|| "-".to_string(), |ip| ip.to_string())
    )
}

/// Whether setup may run from `ip` as far as `INIT_PASSWORD` goes: no password is set, or
/// this address validated it within the last hour. (Dify keeps the flag in its session
/// cookie; the contract has no cookie, so the address carries it, in the shared database.)
pub async fn init_validated(
    db: &DatabaseConnection,
    settings: &Settings<'_>,
    now: i64,
    ip: Option<IpAddr>,
) -> Result<bool, DbErr> {
    if settings.init_password.is_none() {
        return Ok(true);
    }
    Ok(attempts::count(db, &init_key(ip), INIT_VALID_FOR, now).await? > 0)
}

/// `POST /init`: checks the `INIT_PASSWORD`.
pub async fn validate_init(
    db: &DatabaseConnection,
    settings: &Settings<'_>,
    now: i64,
    ip: Option<IpAddr>,
    password: &str,
) -> Result<(), SetupError> {
    if finished_at(db).await?.is_some() {
        return Err(SetupError::AlreadySetup);
    }
    let Some(expected) = settings.init_password else {
        return Ok(());
    };
    // SECURITY: a guess is counted before it is compared, so concurrent guesses from one
    // address are never compared past the limit; a right one gives its place back.
    let failure_key = init_failure_key(ip);
    let held = attempts::reserve(db, &failure_key, INIT_FAILURE_LIMIT, 3600, now)
        .await?
        .ok_or(SetupError::InitValidateFailed)?;
    if !tokens::secrets_equal(password, expected) {
        return Err(SetupError::InitValidateFailed);
    }
    attempts::release(db, &[(failure_key.as_str(), held)]).await?;
    attempts::record(db, &init_key(ip), INIT_VALID_FOR, now).await?;
    Ok(())
}

/// When setup finished (Unix seconds), or `None` before.
pub async fn finished_at(db: &DatabaseConnection) -> Result<Option<i64>, DbErr> {
    Ok(setup::Entity::find_by_id(setup::SINGLETON_ID)
        .one(db)
        .await?
        .map(|row| row.setup_at))
}

/// Creates the first administrator (system role super_admin), "Default Group" with its
/// shadow workspace, and the administrator's own workspace inside that group, all in one
/// transaction. The setup row is written first: its fixed key makes a concurrent second
/// setup fail on the unique constraint instead of creating a second administrator.
pub async fn run(
    db: &DatabaseConnection,
    accounts: &AccountCache,
    hasher: &PasswordHasher,
    settings: &Settings<'_>,
    now: i64,
    client_ip: Option<IpAddr>,
    input: SetupInput,
) -> Result<Uuid, SetupError> {
    if finished_at(db).await?.is_some() {
        return Err(SetupError::AlreadySetup);
    }
    if !init_validated(db, settings, now, client_ip).await? {
        return Err(SetupError::NotInitValidated);
    }
    let email = validate::email(&input.email).map_err(SetupError::InvalidParam)?;
    let name = validate::name(&input.name, 30).map_err(SetupError::InvalidParam)?;
    validate::password(&input.password).map_err(SetupError::InvalidParam)?;
    let (language, timezone) = validate::language(input.language.as_deref());
    let password_hash = hasher.hash(input.password).await?;
    let account_id = Uuid::now_v7();
    let group_id = Uuid::now_v7();
    let mut write = AccountWrite::begin(db, accounts).await?;
    let claimed = setup::ActiveModel {
        id: Set(setup::SINGLETON_ID),
        version: Set(env!("CARGO_PKG_VERSION").to_string()),
        setup_at: Set(now),
    }
    .insert(write.conn())
    .await;
    if let Err(err) = claimed {
        return Err(if is_unique_violation(&err) {
            SetupError::AlreadySetup
        } else {
            SetupError::Db(err)
        });
    }
    write
        .create_account(NewAccount {
            id: account_id,
            email: &email,
            name: &name,
            password_hash: Some(password_hash),
            language,
            timezone,
            status: AccountStatus::Active,
            system_role: Some(SystemRole::SuperAdmin),
            now,
        })
        .await?;
    enterprise_group::ActiveModel {
        id: Set(group_id),
        name: Set(DEFAULT_GROUP_NAME.to_string()),
        short_name: Set(None),
        status: Set(GroupStatus::Active),
        created_at: Set(now),
    }
    .insert(write.conn())
    .await?;
    // Its first member, so the group becomes the account's current one.
    write
        .join_group(group_id, account_id, GroupRole::SuperAdmin, now)
        .await?;
    // The shadow workspace shares the group's id and name and stands for the group itself.
    tenant::ActiveModel {
        id: Set(group_id),
        name: Set(DEFAULT_GROUP_NAME.to_string()),
        status: Set(TenantStatus::Normal),
        group_id: Set(Some(group_id)),
        created_at: Set(now),
    }
    .insert(write.conn())
    .await?;
    workspaces::create_owned(
        write.conn(),
        account_id,
        &format!("{name}'s Workspace"),
        Some(group_id),
        now,
    )
    .await?;
    crate::audit::target("account", account_id);
    write.commit().await?;
    Ok(account_id)
}
