//! Knowledge datasets of a workspace.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "datasets")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub name: String,
    pub description: Option<String>,
    /// `vendor` or `external`.
    pub provider: String,
    /// `only_me`, `all_team_members` or `partial_members`.
    pub permission: String,
    pub data_source_type: Option<String>,
    /// `high_quality` or `economy`.
    pub indexing_technique: Option<String>,
    pub app_count: i32,
    pub document_count: i32,
    pub word_count: i64,
    pub created_by: Uuid,
    pub created_at: i64,
    pub updated_by: Option<Uuid>,
    pub updated_at: i64,
    pub embedding_model: Option<String>,
    pub embedding_model_provider: Option<String>,
    /// The retrieval settings, as the JSON object the wire shows.
    pub retrieval_model: String,
    pub doc_form: Option<String>,
    pub icon: Option<String>,
    pub icon_background: Option<String>,
    /// The group of the workspace (which never changes group), for the group listing.
    pub group_id: Option<Uuid>,
    /// `name` folded to lower case by the server (`str::to_lowercase`), for search.
    pub search_name: String,
    /// `description` folded likewise; empty when there is none.
    pub search_description: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The account that created the dataset.
    #[sea_orm(
        belongs_to = "super::account::Entity",
        from = "Column::CreatedBy",
        to = "super::account::Column::Id"
    )]
    Creator,
    #[sea_orm(
        belongs_to = "super::tenant::Entity",
        from = "Column::TenantId",
        to = "super::tenant::Column::Id"
    )]
    Tenant,
}

impl Related<super::account::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Creator.def()
    }
}

impl Related<super::tenant::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Tenant.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
