//! Roles and statuses as stored: text columns holding the wire value, read into enums so
//! nothing above storage compares a role or a status with a string. What a role permits
//! is decided in the server's `domain::policy`, not here.
//!
//! A stored value outside an enum fails the read (`DbErr::Type`) instead of being taken
//! for some other role: only this server writes these columns.
use sea_orm::entity::prelude::*;

/// One enum per column, its variants with their stored text, and `as_str` giving that
/// text back as a `&'static str` (sea-orm's `to_value` allocates a `String`).
macro_rules! stored_text {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal,)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
        #[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
        pub enum $name {
            $($(#[$vdoc])* #[sea_orm(string_value = $text)] $variant,)*
        }

        impl $name {
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)*
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

stored_text! {
    /// A console account's system role (`account_roles.role_type`).
    SystemRole {
        SuperAdmin = "super_admin",
        SystemAdmin = "system_admin",
        Normal = "normal",
    }
}

stored_text! {
    /// An account's role in an enterprise group (`group_members.group_role`).
    GroupRole {
        SuperAdmin = "super_admin",
        Admin = "admin",
        Normal = "normal",
    }
}

stored_text! {
    /// A workspace member's role (`tenant_members.role`).
    WorkspaceRole {
        Owner = "owner",
        Admin = "admin",
        Editor = "editor",
        Normal = "normal",
        DatasetOperator = "dataset_operator",
    }
}

stored_text! {
    /// A console account's status (`accounts.status`).
    AccountStatus {
        Active = "active",
        /// Invited or registered, no password set yet.
        Pending = "pending",
        Banned = "banned",
        Closed = "closed",
    }
}

stored_text! {
    /// An enterprise group's status (`enterprise_groups.status`).
    GroupStatus {
        Active = "active",
        /// Dify's value for a retired group; this server deletes groups instead.
        Archived = "archived",
    }
}

stored_text! {
    /// A workspace's status (`tenants.status`).
    TenantStatus {
        Normal = "normal",
        /// Dify's value for an archived workspace; this server does not archive.
        Archive = "archive",
    }
}

impl SystemRole {
    /// super_admin and system_admin: the console's administrators.
    pub fn is_system_admin(self) -> bool {
        matches!(self, SystemRole::SuperAdmin | SystemRole::SystemAdmin)
    }
}

impl GroupRole {
    /// The roles that manage a group, for queries.
    pub const MANAGING: [GroupRole; 2] = [GroupRole::SuperAdmin, GroupRole::Admin];

    /// super_admin and admin manage the group: its workspaces, members and datasets.
    pub fn manages_group(self) -> bool {
        Self::MANAGING.contains(&self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::{ActiveEnum, Iterable};

    #[test]
    fn each_value_is_stored_as_its_text_and_read_back() {
        for role in WorkspaceRole::iter() {
            assert_eq!(role.to_value(), role.as_str());
            assert_eq!(
                WorkspaceRole::try_from_value(&role.to_value()).ok(),
                Some(role)
            );
        }
        for status in AccountStatus::iter() {
            assert_eq!(status.to_value(), status.as_str());
        }
        assert_eq!(SystemRole::SuperAdmin.to_string(), "super_admin");
    }

    #[test]
    fn a_stored_value_no_variant_names_is_refused_not_guessed() {
        // Before the enums, an unknown role was read as the least privileged one; now the
        // read fails, so a bad row is seen rather than silently given some role.
        assert!(SystemRole::try_from_value(&"root".to_string()).is_err());
        assert!(GroupRole::try_from_value(&"owner".to_string()).is_err());
        assert!(AccountStatus::try_from_value(&"Active".to_string()).is_err());
    }
}
