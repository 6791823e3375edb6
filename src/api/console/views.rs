//! Domain records to wire schemas, for every operation that shows an account.

use crate::api::generated::console::schemas;
use crate::domain::account_views::AccountView;
use crate::domain::session::TokenPair;
use entity::roles;

fn theme(value: &str) -> schemas::InterfaceTheme {
    match value {
        "dark" => schemas::InterfaceTheme::Dark,
        _ => schemas::InterfaceTheme::Light,
    }
}

/// A stored enum and its wire twin, converted both ways by exhaustive matches, so a value
/// added to one side and not the other fails the build instead of being mapped to some
/// other value.
macro_rules! same_values {
    ($($stored:ty => $wire:ty { $($variant:ident),* })*) => {$(
        impl From<$stored> for $wire {
            fn from(value: $stored) -> Self {
                match value {
                    $(<$stored>::$variant => Self::$variant,)*
                }
            }
        }

        impl From<$wire> for $stored {
            fn from(value: $wire) -> Self {
                match value {
                    $(<$wire>::$variant => Self::$variant,)*
                }
            }
        }
    )*};
}

/// A wire enum that admits only some of a stored enum's values (what a request may set).
macro_rules! narrower {
    ($($wire:ty => $stored:ty { $($variant:ident),* })*) => {$(
        impl From<$wire> for $stored {
            fn from(value: $wire) -> Self {
                match value {
                    $(<$wire>::$variant => Self::$variant,)*
                }
            }
        }
    )*};
}

narrower! {
    schemas::SettableAccountStatus => roles::AccountStatus { Active, Banned, Closed }
    schemas::AssignableRoleType => roles::SystemRole { SystemAdmin, Normal }
    schemas::AssignableGroupRole => roles::GroupRole { Admin, Normal }
    schemas::InvitableRole => roles::WorkspaceRole { Admin, Editor, Normal, DatasetOperator }
}

same_values! {
    roles::AccountStatus => schemas::AccountStatus { Active, Pending, Banned, Closed }
    roles::SystemRole => schemas::RoleType { SuperAdmin, SystemAdmin, Normal }
    roles::GroupRole => schemas::GroupRole { SuperAdmin, Admin, Normal }
    roles::WorkspaceRole => schemas::TenantRole { Owner, Admin, Editor, Normal, DatasetOperator }
    roles::GroupStatus => schemas::GroupStatus { Active, Archived }
    roles::TenantStatus => schemas::TenantStatus { Normal, Archive }
}

/// An avatar that is already a URL is its own URL; stored file ids get one once file
/// serving exists.
pub fn avatar_url(avatar: Option<&str>) -> Option<String> {
    avatar
        .filter(|a| a.starts_with("https://") || a.starts_with("http://"))
        .map(str::to_string)
}

pub fn account(view: &AccountView) -> schemas::Account {
    let a = &view.account;
    schemas::Account {
        id: a.id,
        name: a.name.clone(),
        avatar: a.avatar.clone(),
        avatar_url: avatar_url(a.avatar.as_deref()),
        email: a.email.clone(),
        is_password_set: a.password_hash.is_some(),
        interface_language: a.interface_language.clone(),
        interface_theme: theme(&a.interface_theme),
        timezone: a.timezone.clone(),
        last_login_at: a.last_login_at,
        last_login_ip: a.last_login_ip.clone(),
        created_at: a.created_at,
    }
}

pub fn account_ex(view: &AccountView) -> schemas::AccountEx {
    let base = account(view);
    schemas::AccountEx {
        id: base.id,
        name: base.name,
        avatar: base.avatar,
        avatar_url: base.avatar_url,
        email: base.email,
        is_password_set: base.is_password_set,
        interface_language: base.interface_language,
        interface_theme: base.interface_theme,
        timezone: base.timezone,
        last_login_at: base.last_login_at,
        last_login_ip: base.last_login_ip,
        created_at: base.created_at,
        status: view.account.status.into(),
        group_role: view.group_role.map(Into::into),
        account_role: view.role_type.map(|r| schemas::AccountRole {
            role_type: r.into(),
        }),
        extension: view.extension.as_ref().map(|e| schemas::AccountExtension {
            mobile: e.mobile.clone(),
            wechat: e.wechat.clone(),
            address: e.address.clone(),
            gender: e.gender.clone(),
        }),
    }
}

/// `{"result": "success"}`.
pub fn success() -> schemas::ResultResponse {
    schemas::ResultResponse {
        result: "success".to_string(),
    }
}

/// `{"result": "success", "data": {access_token, refresh_token}}`, as the seed returns them.
/// A mailed code's token, in Dify's `{result, data}`.
pub fn email_token(token: String) -> schemas::EmailTokenResponse {
    schemas::EmailTokenResponse {
        result: "success".to_string(),
        data: token,
    }
}

/// A checked code: its token goes on to the next step.
pub fn code_checked(email: String, token: String) -> schemas::CodeCheckResponse {
    schemas::CodeCheckResponse {
        is_valid: true,
        email,
        token,
    }
}

pub fn token_pair(pair: TokenPair) -> schemas::TokenPairResponse {
    schemas::TokenPairResponse {
        result: "success".to_string(),
        data: schemas::TokenPair {
            access_token: pair.access_token,
            refresh_token: pair.refresh_token,
        },
    }
}

/// A stored value (enum text or JSON) as its wire type; a stored value the contract does
/// not allow is a defect of this server, answered as an internal error.
pub fn wire<T: poem_openapi::types::ParseFromJSON>(
    value: serde_json::Value,
) -> Result<T, super::ConsoleError> {
    T::parse_from_json(Some(value.clone())).map_err(|err| {
        super::ConsoleError::internal(&format!(
            "stored value {value} does not fit the contract: {}",
            err.into_message()
        ))
    })
}

fn text<T: poem_openapi::types::ParseFromJSON>(value: &str) -> Result<T, super::ConsoleError> {
    wire(serde_json::Value::String(value.to_string()))
}

pub fn group(g: &entity::enterprise_group::Model) -> schemas::Group {
    schemas::Group {
        id: g.id,
        name: g.name.clone(),
        short_name: g.short_name.clone(),
        status: g.status.into(),
        created_at: g.created_at,
    }
}

pub fn current_group(
    g: &entity::enterprise_group::Model,
    role: roles::GroupRole,
) -> schemas::CurrentGroup {
    schemas::CurrentGroup {
        id: g.id,
        name: g.name.clone(),
        short_name: g.short_name.clone(),
        status: g.status.into(),
        created_at: g.created_at,
        group_role: role.into(),
    }
}

pub fn tenant(t: &entity::tenant::Model) -> schemas::Tenant {
    schemas::Tenant {
        id: t.id,
        name: t.name.clone(),
        status: t.status.into(),
        created_at: t.created_at,
    }
}

/// Permission names this contract knows; others (from later features) are not shown.
pub fn tenant_permissions(names: &[String]) -> Vec<schemas::TenantPermission> {
    names.iter().filter_map(|n| text(n).ok()).collect()
}

pub fn workspace(
    t: &entity::tenant::Model,
    m: &entity::tenant_member::Model,
) -> schemas::Workspace {
    schemas::Workspace {
        id: t.id,
        name: t.name.clone(),
        status: t.status.into(),
        created_at: t.created_at,
        current: m.current,
        role: m.role.into(),
    }
}

pub fn dataset(
    view: &crate::domain::datasets::DatasetView,
) -> Result<schemas::Dataset, super::ConsoleError> {
    let d = &view.dataset;
    let retrieval: serde_json::Value =
        serde_json::from_str(&d.retrieval_model).map_err(|e| super::ConsoleError::internal(&e))?;
    Ok(schemas::Dataset {
        id: d.id,
        name: d.name.clone(),
        description: d.description.clone(),
        provider: text(&d.provider)?,
        permission: text(&d.permission)?,
        data_source_type: d.data_source_type.clone(),
        indexing_technique: d.indexing_technique.as_deref().map(text).transpose()?,
        app_count: d.app_count,
        document_count: d.document_count,
        word_count: d.word_count,
        created_by: d.created_by,
        created_at: d.created_at,
        updated_by: d.updated_by,
        updated_at: d.updated_at,
        embedding_model: d.embedding_model.clone(),
        embedding_model_provider: d.embedding_model_provider.clone(),
        embedding_available: d.embedding_model.as_ref().map(|_| true),
        retrieval_model_dict: wire(retrieval.clone())?,
        tags: Vec::new(),
        doc_form: d.doc_form.clone(),
        external_knowledge_info: schemas::ExternalKnowledgeInfo {
            external_knowledge_id: None,
            external_knowledge_api_id: None,
            external_knowledge_api_name: None,
            external_knowledge_api_endpoint: None,
        },
        external_retrieval_model: schemas::ExternalRetrievalModel {
            top_k: retrieval["top_k"].as_i64().unwrap_or(2) as i32,
            score_threshold: retrieval["score_threshold"].as_f64().unwrap_or(0.0),
            score_threshold_enabled: retrieval["score_threshold_enabled"]
                .as_bool()
                .unwrap_or(false),
        },
        icon: d.icon.clone(),
        icon_background: d.icon_background.clone(),
        owner: None,
        owner_account: view
            .owner_name
            .clone()
            .map(|name| schemas::DatasetOwnerAccount { name }),
        tenant: schemas::DatasetTenant {
            name: view.tenant_name.clone(),
        },
    })
}
