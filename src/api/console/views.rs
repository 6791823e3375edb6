//! Domain records to wire schemas, for every operation that shows an account.

use crate::api::generated::console::schemas;
use crate::domain::accounts::AccountView;
use crate::domain::session::TokenPair;

fn theme(value: &str) -> schemas::InterfaceTheme {
    match value {
        "dark" => schemas::InterfaceTheme::Dark,
        _ => schemas::InterfaceTheme::Light,
    }
}

fn status(value: &str) -> schemas::AccountStatus {
    match value {
        "pending" => schemas::AccountStatus::Pending,
        "banned" => schemas::AccountStatus::Banned,
        "closed" => schemas::AccountStatus::Closed,
        _ => schemas::AccountStatus::Active,
    }
}

fn role_type(value: &str) -> schemas::RoleType {
    match value {
        "super_admin" => schemas::RoleType::SuperAdmin,
        "system_admin" => schemas::RoleType::SystemAdmin,
        _ => schemas::RoleType::Normal,
    }
}

fn group_role(value: &str) -> schemas::GroupRole {
    match value {
        "super_admin" => schemas::GroupRole::SuperAdmin,
        "admin" => schemas::GroupRole::Admin,
        _ => schemas::GroupRole::Normal,
    }
}

/// An avatar that is already a URL is its own URL; stored file ids get one once file
/// serving exists.
fn avatar_url(avatar: Option<&str>) -> Option<String> {
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
        status: status(&view.account.status),
        group_role: view.group_role.as_deref().map(group_role),
        account_role: view.role_type.as_deref().map(|r| schemas::AccountRole {
            role_type: role_type(r),
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
pub fn token_pair(pair: TokenPair) -> schemas::TokenPairResponse {
    schemas::TokenPairResponse {
        result: "success".to_string(),
        data: schemas::TokenPair {
            access_token: pair.access_token,
            refresh_token: pair.refresh_token,
        },
    }
}
