//! Datasets of a workspace: creating one (Dify's create-dataset call). Listing them for a
//! group lives in `group_datasets`.

use entity::{dataset, dataset_permission, tenant, tenant_member};
use sea_orm::DatabaseConnection;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter,
};
use uuid::Uuid;

use crate::domain::validate;

/// A dataset with the names the listing shows beside it.
#[derive(Debug)]
pub struct DatasetView {
    pub dataset: dataset::Model,
    pub owner_name: Option<String>,
    pub tenant_name: String,
}

#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    #[error("{0}")]
    InvalidParam(String),
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// Dify's defaults for a new dataset's retrieval settings.
pub const DEFAULT_RETRIEVAL_MODEL: &str = r#"{"search_method":"semantic_search","reranking_enable":false,"reranking_mode":null,"reranking_model":{"reranking_provider_name":"","reranking_model_name":""},"weights":null,"top_k":2,"score_threshold_enabled":false,"score_threshold":null}"#;

/// How a dataset's name, description and a search term are folded for the group
/// listing's case-insensitive search: Unicode lower case, done here rather than by the
/// database so that it is the same on SQLite (whose `lower` folds ASCII only) and
/// PostgreSQL. Every write of `name` or `description` sets `search_name` and
/// `search_description` with it.
pub fn fold(text: &str) -> String {
    text.to_lowercase()
}

pub struct NewDataset {
    pub name: String,
    pub description: Option<String>,
    pub indexing_technique: Option<String>,
    /// `only_me` when not given, as in Dify.
    pub permission: Option<String>,
    pub partial_members: Vec<Uuid>,
}

/// Creates an empty vendor dataset in `tenant` with `creator` as its creator. A
/// `partial_members` dataset lists the creator and the given members of the workspace.
pub async fn create(
    db: &DatabaseConnection,
    now: i64,
    tenant: &tenant::Model,
    creator: &entity::account::Model,
    input: NewDataset,
) -> Result<DatasetView, DatasetError> {
    let name = validate::name(&input.name, 255).map_err(DatasetError::InvalidParam)?;
    let permission = input.permission.unwrap_or_else(|| "only_me".to_string());
    let mut listed = vec![creator.id];
    if permission == "partial_members" {
        for id in input.partial_members {
            if !listed.contains(&id) {
                listed.push(id);
            }
        }
        let members = tenant_member::Entity::find()
            .filter(tenant_member::Column::TenantId.eq(tenant.id))
            .filter(tenant_member::Column::AccountId.is_in(listed.clone()))
            .count(db)
            .await?;
        if members != listed.len() as u64 {
            return Err(DatasetError::InvalidParam(
                "partial_member_list may name only members of the workspace.".to_string(),
            ));
        }
    }
    // Any other permission ignores partial_member_list, as Dify's dataset API does.
    let id = Uuid::now_v7();
    let description = input.description.filter(|d| !d.is_empty());
    let txn = crate::db::begin_write(db).await?;
    let row = dataset::ActiveModel {
        id: Set(id),
        tenant_id: Set(tenant.id),
        name: Set(name.clone()),
        description: Set(description.clone()),
        provider: Set("vendor".to_string()),
        permission: Set(permission.clone()),
        data_source_type: Set(None),
        indexing_technique: Set(input.indexing_technique),
        app_count: Set(0),
        document_count: Set(0),
        word_count: Set(0),
        created_by: Set(creator.id),
        created_at: Set(now),
        updated_by: Set(None),
        updated_at: Set(now),
        embedding_model: Set(None),
        embedding_model_provider: Set(None),
        retrieval_model: Set(DEFAULT_RETRIEVAL_MODEL.to_string()),
        doc_form: Set(None),
        icon: Set(None),
        icon_background: Set(None),
        group_id: Set(tenant.group_id),
        search_name: Set(fold(&name)),
        search_description: Set(fold(description.as_deref().unwrap_or_default())),
    }
    .insert(&txn)
    .await?;
    if permission == "partial_members" {
        for account_id in listed {
            dataset_permission::ActiveModel {
                id: Set(Uuid::now_v7()),
                dataset_id: Set(id),
                account_id: Set(account_id),
                created_at: Set(now),
            }
            .insert(&txn)
            .await?;
        }
    }
    crate::audit::target("dataset", row.id);
    crate::audit::commit(txn).await?;
    Ok(DatasetView {
        dataset: row,
        owner_name: Some(creator.name.clone()),
        tenant_name: tenant.name.clone(),
    })
}
