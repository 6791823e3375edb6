//! The repairs that copy a group's model settings (providers, default models) from its
//! shadow workspace into its other workspaces.

use std::collections::HashSet;

use entity::{tenant, tenant_default_model, tenant_model_provider};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr,
    EntityTrait, QueryFilter, QuerySelect,
};
use uuid::Uuid;

/// The group's workspaces other than its shadow.
async fn tenant_ids<C: ConnectionTrait>(db: &C, group_id: Uuid) -> Result<Vec<Uuid>, DbErr> {
    super::workspaces_of(group_id)
        .select_only()
        .column(tenant::Column::Id)
        .into_tuple::<Uuid>()
        .all(db)
        .await
}

/// A workspace record the shadow hands down to the group's workspaces: at most one per
/// workspace and key (a provider name, a model type).
pub(super) trait Inherited: Sized + Send + Sync {
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
pub(super) async fn copy_missing<M: Inherited, C: ConnectionTrait>(
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
