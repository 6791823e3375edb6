//! Who may call each console operation: the one table every request is checked against,
//! and the gate that applies it. `docs/authz.md` is its prose form. The match is
//! exhaustive, so an operation added to the spec does not compile until it has a rule.
//!
//! Rules decided by the caller alone are applied by [`admit_caller`]. Rules that depend on
//! what the request names (a group, an account, a workspace: `x-authz-scope` in the spec)
//! are applied by [`authorize_group`], [`authorize_current_group`], [`authorize_account`]
//! and [`authorize_workspace`], which the generated router calls with the ids it took from
//! the request. Each returns a proof ([`GroupAccess`], …) that only this module can make,
//! and the handler of a scoped operation takes that proof instead of a bare session, so it
//! cannot run without the scoped decision. The decisions themselves, and every role
//! comparison, are in `domain::policy`.

use entity::{enterprise_group, tenant};
use uuid::Uuid;

use super::ConsoleError;
use crate::api::generated::console::{GroupScope, Operation, ScopeKind};
pub use crate::domain::policy::Rule;
use crate::domain::policy::{
    self, Decision, Facts, GroupRole, Scope, TokenUse, WorkspaceMembership,
};
use crate::domain::session::Session;
use crate::domain::{groups, workspaces};
use crate::state::AppState;

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
        | OauthAuthorize
        | SendEmailCodeLogin
        | EmailCodeLogin => Rule::Public,
        Logout | LogoutPost | GetAccountProfile | GetAccountExProfile => Rule::SignedIn,
        UpdateAccountName
        | UpdateAccountAvatar
        | UpdateAccountInterfaceLanguage
        | UpdateAccountInterfaceTheme
        | UpdateAccountTimezone
        | ChangeAccountPassword
        | ListAccountSessions
        | EndAccountSession
        | EndOtherAccountSessions
        | SendChangeEmailCode
        | CheckChangeEmailCode
        | ResetAccountEmail
        | CheckEmailUnique
        | SendDeleteAccountCode
        | DeleteAccount => Rule::SignedIn,
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
        // Of the caller's current workspace; the member rules are `policy::member_*`.
        ListWorkspaceMembers => Rule::SignedIn,
        UpdateWorkspaceMemberRole | RemoveWorkspaceMember => Rule::WorkspaceAdmin,
        // Owner only, within that: `owner_transfer` says so.
        SendOwnerTransferCode | CheckOwnerTransferCode | TransferWorkspaceOwner => {
            Rule::WorkspaceAdmin
        }
        GetWorkspaceModelDefaults => Rule::WorkspaceMember,
        // A token never reaches these (`token_use`).
        ListAccessTokens | CreateAccessToken | RevokeAllAccessTokens | RevokeAccessToken => {
            Rule::SignedIn
        }
        ListAccountAccessTokensEx | RevokeAccountAccessTokensEx => Rule::SystemAdmin,
        ListAuditEvents => Rule::AuditReader,
    }
}

/// What `op` asks of a personal access token: reads are the GET operations; tokens and
/// the account's own credentials are never reached with one (`docs/authz.md` lists them).
pub fn token_use(op: Operation) -> TokenUse {
    use Operation::*;
    match op {
        ListAccessTokens
        | CreateAccessToken
        | RevokeAllAccessTokens
        | RevokeAccessToken
        | ListAccountAccessTokensEx
        | RevokeAccountAccessTokensEx
        | Logout
        | LogoutPost
        | ChangeAccountPassword
        | ListAccountSessions
        | EndAccountSession
        | EndOtherAccountSessions
        | SendChangeEmailCode
        | CheckChangeEmailCode
        | ResetAccountEmail
        | CheckEmailUnique
        | SendDeleteAccountCode
        | DeleteAccount => TokenUse::Never,
        _ if op.method() == "GET" => TokenUse::Read,
        _ => TokenUse::Change,
    }
}

/// Holds a request made with a personal access token to the token's scope (403
/// `forbidden` beyond it). A sign-in's access token passes.
pub fn admit_token(session: &Session, op: Operation) -> Result<(), ConsoleError> {
    match session.token {
        Some(grant) if !policy::token_admits(grant.scope, token_use(op)) => {
            Err(ConsoleError::forbidden())
        }
        _ => Ok(()),
    }
}

/// Whether a call of `op` is written to the audit trail: every operation that changes
/// state (sign-ins and code checks included: they spend attempts), not the reads.
pub fn audited(op: Operation) -> bool {
    use Operation::*;
    match op {
        // GETs with an effect: a sign-out, a social sign-in's callback and start, the
        // deletion code mail.
        Logout | OauthAuthorize | OauthLogin | SendDeleteAccountCode => true,
        // POSTs that only read.
        CheckEmailUnique => false,
        _ => op.method() != "GET",
    }
}

/// The policy's name for a generated scope kind.
pub fn scope_of(kind: ScopeKind) -> Scope {
    match kind {
        ScopeKind::Group => Scope::Group,
        ScopeKind::CurrentGroup => Scope::CurrentGroup,
        ScopeKind::Account => Scope::Account,
        ScopeKind::Workspace => Scope::Workspace,
    }
}

/// Whether the spec's `x-authz-scope` of `op` is one its rule is decided on: none for an
/// unscoped rule, one of the rule's scopes for a scoped one. The authz test checks every
/// operation; the gate refuses (as a build defect) any call where it does not hold.
pub fn scope_matches(op: Operation) -> bool {
    let scopes = rule(op).scopes();
    match op.authz_scope() {
        None => scopes.is_empty(),
        Some(kind) => scopes.contains(&scope_of(kind)),
    }
}

fn group_not_found() -> ConsoleError {
    ConsoleError::new(
        poem::http::StatusCode::NOT_FOUND,
        "group_not_found",
        "Enterprise group not found.",
    )
}

/// The table, the policy and the spec disagree about `op`; the authz test keeps them in
/// step, so this is a build defect, answered as an internal error (never as an admission).
pub fn mismatch(op: Operation) -> ConsoleError {
    ConsoleError::internal(&format!(
        "{}: the authz rule does not match the spec's security requirement or x-authz-scope",
        op.operation_id()
    ))
}

fn enforce(op: Operation, decision: Decision) -> Result<(), ConsoleError> {
    match decision {
        Decision::Allow => Ok(()),
        Decision::Forbid => Err(ConsoleError::forbidden()),
        Decision::Hide => Err(group_not_found()),
        Decision::NotBuilt => Err(ConsoleError::not_implemented(op.operation_id())),
    }
}

/// Checks that `op` is scoped to `kind` in both the spec and the table.
fn expect_scope(op: Operation, kind: ScopeKind) -> Result<(), ConsoleError> {
    if op.authz_scope() == Some(kind) && scope_matches(op) {
        Ok(())
    } else {
        Err(mismatch(op))
    }
}

/// Applies an unscoped rule to a signed-in caller.
pub async fn admit_caller(
    state: &AppState,
    session: &Session,
    op: Operation,
) -> Result<(), ConsoleError> {
    let rule = rule(op);
    if rule.is_scoped() || op.authz_scope().is_some() {
        return Err(mismatch(op));
    }
    let needs_workspace = matches!(rule, Rule::WorkspaceAdmin | Rule::DatasetEditor);
    let current = if needs_workspace {
        workspaces::current(&state.db, session.account.id).await?
    } else {
        None
    };
    let super_admin_groups = if rule == Rule::AuditReader && !session.is_system_admin() {
        groups::super_admin_groups(&state.db, session.account.id)
            .await?
            .len()
    } else {
        0
    };
    let facts = Facts {
        current_workspace: current.as_ref().map(|(_, m)| WorkspaceMembership {
            role: m.role,
            permissions: &m.permissions,
        }),
        super_admin_groups,
        ..Facts::of(session.system_role())
    };
    enforce(op, policy::decide(rule, facts))
}

/// Proof that the caller may run a group-scoped operation on [`GroupAccess::group`].
#[derive(Debug)]
pub struct GroupAccess {
    session: Session,
    group: enterprise_group::Model,
    role: Option<GroupRole>,
}

impl GroupAccess {
    pub fn session(&self) -> &Session {
        &self.session
    }

    pub fn group(&self) -> &enterprise_group::Model {
        &self.group
    }

    /// Whether the caller manages this group (its role there is super_admin or admin).
    pub fn manages_group(&self) -> bool {
        policy::manages_group(self.role)
    }
}

/// Applies `op`'s rule to a request about group `scope.group_id` (and account
/// `scope.account_id`, for the rules that name one). The decision comes before the group
/// is looked up, so a caller who may not act on a group learns nothing about whether it
/// exists.
pub async fn authorize_group(
    state: &AppState,
    session: Session,
    op: Operation,
    scope: GroupScope,
) -> Result<GroupAccess, ConsoleError> {
    expect_scope(op, ScopeKind::Group)?;
    let found = groups::with_role_of(&state.db, scope.group_id, session.account.id).await?;
    let role = found.as_ref().and_then(|(_, role)| *role);
    let facts = Facts {
        group_role: role,
        is_self: scope.account_id == Some(session.account.id),
        ..Facts::of(session.system_role())
    };
    crate::audit::default_target("group", scope.group_id);
    crate::audit::group(scope.group_id);
    enforce(op, policy::decide(rule(op), facts))?;
    let Some((group, _)) = found else {
        return Err(ConsoleError::from(groups::GroupError::GroupNotFound));
    };
    Ok(GroupAccess {
        session,
        group,
        role,
    })
}

/// Proof that the caller may run an operation scoped to its current group.
#[derive(Debug)]
pub struct CurrentGroupAccess {
    session: Session,
    current: Option<(enterprise_group::Model, GroupRole)>,
}

impl CurrentGroupAccess {
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// The caller's current group. `None`: it has none, and the rule admitted it anyway
    /// (system admins).
    pub fn group(&self) -> Option<&enterprise_group::Model> {
        self.current.as_ref().map(|(g, _)| g)
    }
}

/// Applies `op`'s rule to the caller's current group.
pub async fn authorize_current_group(
    state: &AppState,
    session: Session,
    op: Operation,
) -> Result<CurrentGroupAccess, ConsoleError> {
    expect_scope(op, ScopeKind::CurrentGroup)?;
    let current = groups::current(&state.db, session.account.id).await?;
    if let Some((group, _)) = &current {
        crate::audit::group(group.id);
    }
    let facts = Facts {
        group_role: current.as_ref().map(|(_, r)| *r),
        ..Facts::of(session.system_role())
    };
    enforce(op, policy::decide(rule(op), facts))?;
    Ok(CurrentGroupAccess { session, current })
}

/// Proof that the caller may run an operation about account [`AccountAccess::account_id`].
#[derive(Debug)]
pub struct AccountAccess {
    session: Session,
    account_id: Uuid,
}

impl AccountAccess {
    pub fn session(&self) -> &Session {
        &self.session
    }

    pub fn account_id(&self) -> Uuid {
        self.account_id
    }
}

/// Applies `op`'s rule to a request about account `subject`.
pub async fn authorize_account(
    state: &AppState,
    session: Session,
    op: Operation,
    subject: Uuid,
) -> Result<AccountAccess, ConsoleError> {
    expect_scope(op, ScopeKind::Account)?;
    let is_self = subject == session.account.id;
    let manages_account = if is_self || session.is_system_admin() {
        false
    } else {
        let administered = groups::administered_groups(&state.db, session.account.id).await?;
        let mut found = false;
        for group_id in administered {
            if groups::role_in(&state.db, group_id, subject)
                .await?
                .is_some()
            {
                found = true;
                break;
            }
        }
        found
    };
    let facts = Facts {
        is_self,
        manages_account,
        ..Facts::of(session.system_role())
    };
    enforce(op, policy::decide(rule(op), facts))?;
    Ok(AccountAccess {
        session,
        account_id: subject,
    })
}

/// Proof that the caller may run an operation about workspace [`WorkspaceAccess::tenant`].
#[derive(Debug)]
pub struct WorkspaceAccess {
    session: Session,
    tenant: tenant::Model,
}

impl WorkspaceAccess {
    pub fn session(&self) -> &Session {
        &self.session
    }

    pub fn tenant(&self) -> &tenant::Model {
        &self.tenant
    }
}

/// Applies `op`'s rule to a request about workspace `tenant_id`.
pub async fn authorize_workspace(
    state: &AppState,
    session: Session,
    op: Operation,
    tenant_id: Uuid,
) -> Result<WorkspaceAccess, ConsoleError> {
    use entity::tenant_member;
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
    expect_scope(op, ScopeKind::Workspace)?;
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
    if let Some(group_id) = found.as_ref().and_then(|t| t.group_id) {
        crate::audit::group(group_id);
    }
    let facts = Facts {
        group_role: role,
        workspace_member: member,
        ..Facts::of(session.system_role())
    };
    enforce(op, policy::decide(rule(op), facts))?;
    let tenant = found.ok_or_else(|| {
        ConsoleError::new(
            poem::http::StatusCode::NOT_FOUND,
            "tenant_not_found",
            "Workspace not found.",
        )
    })?;
    Ok(WorkspaceAccess { session, tenant })
}
