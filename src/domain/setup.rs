//! First-run setup: the first administrator, the default enterprise group and workspaces.

use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, DatabaseConnection, DbErr, EntityTrait, SqlErr,
    TransactionTrait,
};
use uuid::Uuid;

use crate::auth::password::{HashError, PasswordHasher};
use crate::clock::Clock;
use crate::domain::validate;
use entity::{account, account_role, enterprise_group, group_member, setup, tenant, tenant_member};

/// The name of the group setup creates.
pub const DEFAULT_GROUP_NAME: &str = "Default Group";
/// Permissions a workspace owner holds.
pub const OWNER_PERMISSIONS: &str = r#"["create_agent","create_knowledge"]"#;

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("setup has already finished")]
    AlreadySetup,
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
    hasher: &PasswordHasher,
    clock: &dyn Clock,
    input: SetupInput,
) -> Result<Uuid, SetupError> {
    if finished_at(db).await?.is_some() {
        return Err(SetupError::AlreadySetup);
    }
    let email = validate::email(&input.email).map_err(SetupError::InvalidParam)?;
    let name = validate::name(&input.name, 30).map_err(SetupError::InvalidParam)?;
    validate::password(&input.password).map_err(SetupError::InvalidParam)?;
    let (language, timezone) = validate::language(input.language.as_deref());
    let password_hash = hasher.hash(input.password).await?;

    let now = clock.now();
    let account_id = Uuid::now_v7();
    let group_id = Uuid::now_v7();
    let workspace_id = Uuid::now_v7();
    let txn = db.begin().await?;
    let claimed = setup::ActiveModel {
        id: Set(setup::SINGLETON_ID),
        version: Set(env!("CARGO_PKG_VERSION").to_string()),
        setup_at: Set(now),
    }
    .insert(&txn)
    .await;
    if let Err(err) = claimed {
        return Err(match err.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(_)) => SetupError::AlreadySetup,
            _ => SetupError::Db(err),
        });
    }
    account::ActiveModel {
        id: Set(account_id),
        email: Set(email),
        name: Set(name.clone()),
        password_hash: Set(Some(password_hash)),
        avatar: Set(None),
        interface_language: Set(language.to_string()),
        interface_theme: Set("light".to_string()),
        timezone: Set(timezone.to_string()),
        status: Set("active".to_string()),
        last_login_at: Set(None),
        last_login_ip: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        initialized_at: Set(Some(now)),
        token_version: Set(0),
    }
    .insert(&txn)
    .await?;
    account_role::ActiveModel {
        account_id: Set(account_id),
        role_type: Set("super_admin".to_string()),
        created_at: Set(now),
    }
    .insert(&txn)
    .await?;
    enterprise_group::ActiveModel {
        id: Set(group_id),
        name: Set(DEFAULT_GROUP_NAME.to_string()),
        short_name: Set(None),
        status: Set("active".to_string()),
        created_at: Set(now),
    }
    .insert(&txn)
    .await?;
    group_member::ActiveModel {
        id: Set(Uuid::now_v7()),
        group_id: Set(group_id),
        account_id: Set(account_id),
        group_role: Set("super_admin".to_string()),
        current: Set(true),
        created_at: Set(now),
    }
    .insert(&txn)
    .await?;
    // The shadow workspace shares the group's id and name and stands for the group itself.
    for (id, tenant_name) in [
        (group_id, DEFAULT_GROUP_NAME.to_string()),
        (workspace_id, format!("{name}'s Workspace")),
    ] {
        tenant::ActiveModel {
            id: Set(id),
            name: Set(tenant_name),
            status: Set("normal".to_string()),
            group_id: Set(Some(group_id)),
            created_at: Set(now),
        }
        .insert(&txn)
        .await?;
    }
    tenant_member::ActiveModel {
        id: Set(Uuid::now_v7()),
        tenant_id: Set(workspace_id),
        account_id: Set(account_id),
        role: Set("owner".to_string()),
        position: Set(None),
        permissions: Set(OWNER_PERMISSIONS.to_string()),
        current: Set(true),
        created_at: Set(now),
    }
    .insert(&txn)
    .await?;
    txn.commit().await?;
    Ok(account_id)
}
