//! The one row that says setup has finished. Its fixed primary key is what makes two
//! concurrent setups create exactly one administrator: the second insert conflicts.
use sea_orm::entity::prelude::*;

/// The primary key of the only row.
pub const SINGLETON_ID: i32 = 1;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "setups")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i32,
    pub version: String,
    pub setup_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
