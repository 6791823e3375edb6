//! Who may call each console operation: the one table every request is checked against.
//! `docs/authz.md` is its prose form. The match is exhaustive, so an operation added to
//! the spec does not compile until it has a rule here.
//!
//! Most rules are decided by the gate (`Surface::authenticate`) from the token alone.
//! The group and workspace rules depend on the group, workspace or account the request
//! names; the gate checks that the caller is signed in, and the handler asks this module
//! ([`admit_group`], [`admit_current_group`], [`admit_account`], [`admit_workspace`])
//! before it does anything else, with the ids it was given. The decision itself is
//! [`decide`], one function for every scoped rule.

use entity::{enterprise_group, tenant};
use uuid::Uuid;

use super::ConsoleError;
use crate::api::generated::console::Operation;
use crate::domain::groups;
use crate::domain::session::Session;
use crate::state::AppState;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Anyone, even before setup has finished.
    BeforeSetup,
    /// Anyone, signed in or not, once setup has finished.
    Public,
    /// Any signed-in, active account.
    SignedIn,
    /// Accounts whose system role is `super_admin` or `system_admin`.
    SystemAdmin,
    /// Accounts whose system role is `super_admin`.
    SuperAdmin,
    /// Owners and admins of their current workspace.
    WorkspaceAdmin,
    /// Members of their current workspace who may manage datasets there (owner, admin,
    /// editor, dataset_operator, or the `create_knowledge` permission).
    DatasetEditor,
    /// Members of the `{group_id}` group and system admins; others get 404
    /// `group_not_found`, so groups are not revealed to outsiders.
    GroupMember,
    /// The group's super_admins and admins.
    GroupAdmin,
    /// The group's super_admins and admins, and system admins.
    GroupAdminOrSystemAdmin,
    /// The group's super_admins and admins, or the account `{account_id}` itself.
    GroupAdminOrSelf,
    /// The account `{account_id}` itself, super_admins and admins of a group it belongs
    /// to, and system admins.
    AccountOrItsGroupAdmin,
    /// The group's super_admins (the group named in the request, else the caller's
    /// current group) and system admins.
    GroupSuperAdmin,
    /// Members of the `{tenant_id}` workspace, super_admins and admins of its group, and
    /// system admins.
    WorkspaceMember,
    /// Routed, but answers 501 `not_implemented` until its issue lands.
    NotBuilt,
}

impl Rule {
    /// Rules the gate cannot decide alone: it admits any signed-in caller, and the
    /// handler calls this module with the ids the request names.
    pub fn is_scoped(self) -> bool {
        matches!(
            self,
            Rule::GroupMember
                | Rule::GroupAdmin
                | Rule::GroupAdminOrSystemAdmin
                | Rule::GroupAdminOrSelf
                | Rule::AccountOrItsGroupAdmin
                | Rule::GroupSuperAdmin
                | Rule::WorkspaceMember
        )
    }
}

pub fn rule(op: Operation) -> Rule {
    use Operation::*;
    match op {
        GetSetupStatus | Setup | GetSystemFeatures | GetInitStatus | ValidateInitPassword => {
            Rule::BeforeSetup
        }
        Login
        | RefreshToken
        | CheckActivation
        | Activate
        | SendForgotPasswordEmail
        | CheckForgotPasswordCode
        | ResetPassword
        | SendRegisterEmail
        | CheckRegisterCode
        | FinishRegister
        | OauthLogin
        | OauthAuthorize => Rule::Public,
        Logout | LogoutPost | GetAccountProfile | GetAccountExProfile => Rule::SignedIn,
        InviteMembersByEmail => Rule::WorkspaceAdmin,
        RegisterAccount | ListAccountsEx | GetAccountExByEmail | GetAccountExById => {
            Rule::SystemAdmin
        }
        UpdateAccountEx => Rule::GroupSuperAdmin,
        UpdateAccountRole => Rule::SuperAdmin,
        ListEnterpriseGroups | CreateEnterpriseGroup | DeleteEnterpriseGroup => Rule::SystemAdmin,
        UpdateEnterpriseGroup | RepairModelProviders | RepairSystemDefault => Rule::GroupSuperAdmin,
        GetEnterpriseGroupInfo
        | CheckManagePermission
        | ListManagedTenants
        | ListManagedAppTenants
        | ListManagedDatasetTenants
        | CheckAppPermission
        | CheckDatasetPermission
        | ListGroupDatasets => Rule::GroupMember,
        ListGroupTenants | CreateGroupTenant => Rule::GroupAdmin,
        ListGroupMembers => Rule::GroupAdminOrSystemAdmin,
        ListUnjoinedTenants | ListJoinedTenants | ListJoinedTenantRoles => Rule::GroupAdminOrSelf,
        ListAccountJoinedGroups => Rule::AccountOrItsGroupAdmin,
        ListMyJoinedGroups
        | GetCurrentGroup
        | GetCurrentGroupDetail
        | ListWorkspaces
        | SwitchWorkspace => Rule::SignedIn,
        CreateDataset => Rule::DatasetEditor,
        GetWorkspaceModelDefaults => Rule::WorkspaceMember,
    }
}

/// The facts a scoped rule is decided on.
#[derive(Debug, Clone, Copy, Default)]
pub struct Facts<'a> {
    /// The caller's system role is super_admin or system_admin.
    pub system_admin: bool,
    /// The caller's role in the group the request is about, if a member.
    pub group_role: Option<&'a str>,
    /// The request names the caller's own account.
    pub is_self: bool,
    /// The caller administers a group the named account belongs to
    /// (`AccountOrItsGroupAdmin`), or is a member of the named workspace
    /// (`WorkspaceMember`).
    pub related: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// 403 `forbidden`.
    Forbid,
    /// 404 `group_not_found`: the caller may not know the group exists.
    Hide,
}

/// The decision of every scoped rule.
pub fn decide(rule: Rule, f: Facts<'_>) -> Decision {
    let group_admin = groups::is_group_admin(f.group_role);
    let allowed = match rule {
        Rule::GroupMember => f.group_role.is_some() || f.system_admin,
        Rule::GroupAdmin => group_admin,
        Rule::GroupAdminOrSystemAdmin => group_admin || f.system_admin,
        // SECURITY: "self" is about one's own place in *this* group: an outsider naming
        // their own id must not read the group's workspaces, nor learn that it exists.
        Rule::GroupAdminOrSelf => group_admin || (f.is_self && f.group_role.is_some()),
        Rule::AccountOrItsGroupAdmin => f.is_self || f.related || f.system_admin,
        Rule::GroupSuperAdmin => f.group_role == Some("super_admin") || f.system_admin,
        Rule::WorkspaceMember => f.related || group_admin || f.system_admin,
        _ => false,
    };
    match (allowed, rule) {
        (true, _) => Decision::Allow,
        (false, Rule::GroupMember) => Decision::Hide,
        (false, _) => Decision::Forbid,
    }
}

fn group_not_found() -> ConsoleError {
    ConsoleError::new(
        poem::http::StatusCode::NOT_FOUND,
        "group_not_found",
        "Enterprise group not found.",
    )
}

fn enforce(decision: Decision) -> Result<(), ConsoleError> {
    match decision {
        Decision::Allow => Ok(()),
        Decision::Forbid => Err(ConsoleError::forbidden()),
        Decision::Hide => Err(group_not_found()),
    }
}

/// What an admitted caller is in the group the request is about.
#[derive(Debug, Clone)]
pub struct GroupAccess {
    pub group: enterprise_group::Model,
    /// The caller's role in the group, if a member.
    pub role: Option<String>,
}

impl GroupAccess {
    pub fn is_group_admin(&self) -> bool {
        groups::is_group_admin(self.role.as_deref())
    }
}

/// Applies `op`'s rule to a request about group `group_id` (and account `subject`, for
/// the rules that name one). The decision comes before the group is looked up, so a
/// caller who may not act on a group learns nothing about whether it exists.
pub async fn admit_group(
    state: &AppState,
    session: &Session,
    op: Operation,
    group_id: Uuid,
    subject: Option<Uuid>,
) -> Result<GroupAccess, ConsoleError> {
    let role = groups::role_in(&state.db, group_id, session.account.id).await?;
    enforce(decide(
        rule(op),
        Facts {
            system_admin: session.is_system_admin(),
            group_role: role.as_deref(),
            is_self: subject == Some(session.account.id),
            related: false,
        },
    ))?;
    let group = groups::find(&state.db, group_id)
        .await
        .map_err(ConsoleError::from)?;
    Ok(GroupAccess { group, role })
}

/// Applies `op`'s rule to the caller's current group. `None`: the caller has no current
/// group but the rule admits it anyway (system admins).
pub async fn admit_current_group(
    state: &AppState,
    session: &Session,
    op: Operation,
) -> Result<Option<GroupAccess>, ConsoleError> {
    let current = groups::current(&state.db, session.account.id).await?;
    let role = current.as_ref().map(|(_, r)| r.as_str());
    enforce(decide(
        rule(op),
        Facts {
            system_admin: session.is_system_admin(),
            group_role: role,
            ..Facts::default()
        },
    ))?;
    Ok(current.map(|(group, role)| GroupAccess {
        group,
        role: Some(role),
    }))
}

/// Applies `op`'s rule to a request about account `subject`.
pub async fn admit_account(
    state: &AppState,
    session: &Session,
    op: Operation,
    subject: Uuid,
) -> Result<(), ConsoleError> {
    let is_self = subject == session.account.id;
    let related = if is_self || session.is_system_admin() {
        false
    } else {
        let administered = groups::administered_groups(&state.db, session.account.id).await?;
        let mut related = false;
        for group_id in administered {
            if groups::role_in(&state.db, group_id, subject)
                .await?
                .is_some()
            {
                related = true;
                break;
            }
        }
        related
    };
    enforce(decide(
        rule(op),
        Facts {
            system_admin: session.is_system_admin(),
            is_self,
            related,
            ..Facts::default()
        },
    ))
}

/// Applies `op`'s rule to a request about workspace `tenant_id`.
pub async fn admit_workspace(
    state: &AppState,
    session: &Session,
    op: Operation,
    tenant_id: Uuid,
) -> Result<tenant::Model, ConsoleError> {
    use entity::tenant_member;
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
    let db = &state.db;
    let member = tenant_member::Entity::find()
        .filter(tenant_member::Column::TenantId.eq(tenant_id))
        .filter(tenant_member::Column::AccountId.eq(session.account.id))
        .count(db)
        .await?
        > 0;
    let found = tenant::Entity::find_by_id(tenant_id).one(db).await?;
    let role = match found.as_ref().and_then(|t| t.group_id) {
        Some(group_id) => groups::role_in(db, group_id, session.account.id).await?,
        None => None,
    };
    enforce(decide(
        rule(op),
        Facts {
            system_admin: session.is_system_admin(),
            group_role: role.as_deref(),
            related: member,
            ..Facts::default()
        },
    ))?;
    found.ok_or_else(|| {
        ConsoleError::new(
            poem::http::StatusCode::NOT_FOUND,
            "tenant_not_found",
            "Workspace not found.",
        )
    })
}
