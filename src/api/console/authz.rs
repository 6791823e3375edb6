//! Who may call each console operation: the one table every request is checked against.
//! `docs/authz.md` is its prose form. The match is exhaustive, so an operation added to
//! the spec does not compile until it has a rule here.

use crate::api::generated::console::Operation;

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
    /// Routed, but answers 501 `not_implemented` until its issue lands.
    NotBuilt,
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
        RegisterAccount | ListAccountsEx | GetAccountExByEmail | GetAccountExById
        | UpdateAccountEx => Rule::SystemAdmin,
        UpdateAccountRole => Rule::SuperAdmin,
        ListEnterpriseGroups
        | UpdateEnterpriseGroup
        | CreateEnterpriseGroup
        | DeleteEnterpriseGroup
        | GetEnterpriseGroupInfo
        | ListGroupTenants
        | CreateGroupTenant
        | ListUnjoinedTenants
        | ListJoinedTenants
        | ListJoinedTenantRoles
        | ListAccountJoinedGroups
        | ListMyJoinedGroups
        | CheckManagePermission
        | GetCurrentGroup
        | GetCurrentGroupDetail
        | ListManagedTenants
        | ListManagedAppTenants
        | ListManagedDatasetTenants
        | ListGroupMembers
        | ListGroupDatasets
        | RepairModelProviders
        | CheckAppPermission
        | CheckDatasetPermission
        | RepairSystemDefault => Rule::NotBuilt,
    }
}
