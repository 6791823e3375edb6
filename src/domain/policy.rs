//! SECURITY: every role decision of the console, in one place.
//!
//! Roles are typed where they are stored (`entity::roles`, read from the database into
//! enums); every comparison of a role with what it permits is made by a function of this
//! module: the rules of the
//! authorization table ([`decide`]), what a workspace role may do ([`Capability`]), and
//! who may edit an account ([`account_edit`]). Nothing here touches the database or HTTP:
//! callers gather the facts, this module states the consequence, so a rule reads the same
//! wherever it is applied and is unit-tested alone.

use crate::domain::access_tokens::TokenScope;

/// Permissions a workspace owner holds.
pub const OWNER_PERMISSIONS: &str = r#"["create_agent","create_knowledge"]"#;

pub use entity::roles::{GroupRole, SystemRole, WorkspaceRole};

/// Whether a (possibly absent) group membership manages the group.
pub fn manages_group(role: Option<GroupRole>) -> bool {
    role.is_some_and(GroupRole::manages_group)
}

/// What a workspace member may manage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capability {
    /// The workspace itself (members, settings): owner or admin.
    Workspace,
    /// Apps: owner, admin, editor, or `create_agent`.
    Apps,
    /// Datasets: owner, admin, editor, dataset_operator, or `create_knowledge`.
    Datasets,
}

impl Capability {
    /// The stored workspace roles that grant it (for queries too).
    pub fn roles(self) -> &'static [WorkspaceRole] {
        use WorkspaceRole::*;
        match self {
            Capability::Workspace => &[Owner, Admin],
            Capability::Apps => &[Owner, Admin, Editor],
            Capability::Datasets => &[Owner, Admin, Editor, DatasetOperator],
        }
    }

    /// The stored permission that grants it besides the roles, if any.
    pub fn permission(self) -> Option<&'static str> {
        match self {
            Capability::Workspace => None,
            Capability::Apps => Some("create_agent"),
            Capability::Datasets => Some("create_knowledge"),
        }
    }

    /// Whether a membership with this role and these stored permissions (a JSON array of
    /// names; anything else holds none) has the capability.
    pub fn granted_by(self, role: WorkspaceRole, stored_permissions: &str) -> bool {
        self.roles().contains(&role)
            || self.permission().is_some_and(|p| {
                serde_json::from_str::<Vec<String>>(stored_permissions)
                    .is_ok_and(|held| held.iter().any(|h| h == p))
            })
    }
}

/// Who may call an operation: the rules of `docs/authz.md`.
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
    /// The group's super_admins and admins, or the account `{account_id}` itself as a
    /// member of the group.
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
    /// System admins, and the super_admins of any group (the audit trail: a group's
    /// super_admin reads only its group's events, `audit_view`).
    AuditReader,
    /// Routed, but answers 501 `not_implemented` until its issue lands.
    NotBuilt,
}

/// What a scoped rule's decision is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// A group the request names (and maybe an account in it).
    Group,
    /// The caller's current group.
    CurrentGroup,
    /// An account the request names.
    Account,
    /// A workspace the request names.
    Workspace,
}

impl Rule {
    /// The scopes a rule's decision may be about. Empty: the caller alone decides it.
    pub fn scopes(self) -> &'static [Scope] {
        match self {
            Rule::GroupMember
            | Rule::GroupAdmin
            | Rule::GroupAdminOrSystemAdmin
            | Rule::GroupAdminOrSelf => &[Scope::Group],
            Rule::GroupSuperAdmin => &[Scope::Group, Scope::CurrentGroup],
            Rule::AccountOrItsGroupAdmin => &[Scope::Account],
            Rule::WorkspaceMember => &[Scope::Workspace],
            Rule::BeforeSetup
            | Rule::Public
            | Rule::SignedIn
            | Rule::SystemAdmin
            | Rule::SuperAdmin
            | Rule::WorkspaceAdmin
            | Rule::DatasetEditor
            | Rule::AuditReader
            | Rule::NotBuilt => &[],
        }
    }

    /// Rules that depend on what the request names, not on the caller alone.
    pub fn is_scoped(self) -> bool {
        !self.scopes().is_empty()
    }
}

/// The caller's membership of its current workspace.
#[derive(Debug, Clone, Copy)]
pub struct WorkspaceMembership<'a> {
    pub role: WorkspaceRole,
    /// The stored JSON array of permission names.
    pub permissions: &'a str,
}

/// The facts a rule is decided on; the caller of [`decide`] gathers those the rule needs
/// (the rest stay at their defaults, which never admit).
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    pub system_role: SystemRole,
    /// The caller's role in the group the request is about, if a member.
    pub group_role: Option<GroupRole>,
    /// The request names the caller's own account.
    pub is_self: bool,
    /// The caller manages a group the named account belongs to.
    pub manages_account: bool,
    /// The caller is a member of the named workspace.
    pub workspace_member: bool,
    /// The caller's membership of its current workspace, if any.
    pub current_workspace: Option<WorkspaceMembership<'a>>,
    /// The groups where the caller is a super_admin.
    pub super_admin_groups: usize,
}

impl Facts<'_> {
    pub fn of(system_role: SystemRole) -> Self {
        Facts {
            system_role,
            group_role: None,
            is_self: false,
            manages_account: false,
            workspace_member: false,
            current_workspace: None,
            super_admin_groups: 0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// 403 `forbidden`.
    Forbid,
    /// 404 `group_not_found`: the caller may not know the group exists.
    Hide,
    /// 501 `not_implemented`.
    NotBuilt,
}

/// SECURITY: the decision of every rule for a signed-in caller.
pub fn decide(rule: Rule, f: Facts<'_>) -> Decision {
    let system_admin = f.system_role.is_system_admin();
    let group_admin = manages_group(f.group_role);
    let allowed = match rule {
        Rule::NotBuilt => return Decision::NotBuilt,
        Rule::BeforeSetup | Rule::Public | Rule::SignedIn => true,
        Rule::SystemAdmin => system_admin,
        Rule::SuperAdmin => f.system_role == SystemRole::SuperAdmin,
        Rule::WorkspaceAdmin => f
            .current_workspace
            .is_some_and(|m| Capability::Workspace.granted_by(m.role, m.permissions)),
        Rule::DatasetEditor => f
            .current_workspace
            .is_some_and(|m| Capability::Datasets.granted_by(m.role, m.permissions)),
        Rule::GroupMember => f.group_role.is_some() || system_admin,
        Rule::GroupAdmin => group_admin,
        Rule::GroupAdminOrSystemAdmin => group_admin || system_admin,
        // "Self" is about one's own place in *this* group: an outsider naming their own id
        // must not read the group's workspaces, nor learn that it exists.
        Rule::GroupAdminOrSelf => group_admin || (f.is_self && f.group_role.is_some()),
        Rule::AccountOrItsGroupAdmin => f.is_self || f.manages_account || system_admin,
        Rule::GroupSuperAdmin => f.group_role == Some(GroupRole::SuperAdmin) || system_admin,
        Rule::WorkspaceMember => f.workspace_member || group_admin || system_admin,
        Rule::AuditReader => system_admin || f.super_admin_groups > 0,
    };
    match (allowed, rule) {
        (true, _) => Decision::Allow,
        (false, Rule::GroupMember) => Decision::Hide,
        (false, _) => Decision::Forbid,
    }
}

/// Which audit events a reader the rules admitted sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditView {
    All,
    /// Those about these groups.
    Groups(Vec<uuid::Uuid>),
}

/// SECURITY: a system admin reads the whole trail; a group's super_admin only the events
/// about the groups it is super_admin of.
pub fn audit_view(system_role: SystemRole, super_admin_groups: Vec<uuid::Uuid>) -> AuditView {
    if system_role.is_system_admin() {
        AuditView::All
    } else {
        AuditView::Groups(super_admin_groups)
    }
}

/// What a `PUT account-ex/id` asks to change, as far as the rules care.
#[derive(Debug, Clone, Copy, Default)]
pub struct AccountEdit {
    /// The system role would change.
    pub role_change: bool,
    /// The status would become banned or closed.
    pub ends_access: bool,
    /// A field other than `group_role` is set.
    pub beyond_group_role: bool,
    /// `group_role` is set.
    pub group_role: bool,
}

/// SECURITY: who may edit an account (`update_account_ex`), once the table's rule
/// ("group super admin or system admin") has admitted the caller. `Err` is the reason of a
/// 403. The last-super-admin guards need counts and stay with the write.
pub fn account_edit(
    actor: SystemRole,
    target: SystemRole,
    is_self: bool,
    edit: AccountEdit,
) -> Result<(), &'static str> {
    if target == SystemRole::SuperAdmin && actor != SystemRole::SuperAdmin {
        return Err("Only a super_admin can edit a super_admin.");
    }
    if edit.ends_access && is_self {
        return Err("You cannot ban or close your own account.");
    }
    if edit.role_change {
        if actor != SystemRole::SuperAdmin {
            return Err("Only a super_admin can change system roles.");
        }
        if is_self {
            return Err("You cannot change your own role.");
        }
    }
    if !actor.is_system_admin() && (!edit.group_role || edit.beyond_group_role) {
        return Err("A group super_admin can change only group_role.");
    }
    Ok(())
}

/// Why a change to a workspace member is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberRefusal {
    /// 403: the caller's role does not allow it.
    Forbidden,
    /// 400: one's own membership.
    OwnMembership,
    /// 400: `owner` is given by an ownership transfer only.
    OwnerRole,
}

/// SECURITY: who may change a workspace member's role (Dify's rules): owners and admins;
/// only the owner grants or removes `admin`; nobody changes their own role or the owner's;
/// nobody is made owner this way.
pub fn member_role_change(
    operator: WorkspaceRole,
    target: WorkspaceRole,
    new: WorkspaceRole,
    is_self: bool,
) -> Result<(), MemberRefusal> {
    if !matches!(operator, WorkspaceRole::Owner | WorkspaceRole::Admin) {
        return Err(MemberRefusal::Forbidden);
    }
    if is_self {
        return Err(MemberRefusal::OwnMembership);
    }
    if new == WorkspaceRole::Owner {
        return Err(MemberRefusal::OwnerRole);
    }
    if target == WorkspaceRole::Owner {
        return Err(MemberRefusal::Forbidden);
    }
    let touches_admin = target == WorkspaceRole::Admin || new == WorkspaceRole::Admin;
    if touches_admin && operator != WorkspaceRole::Owner {
        return Err(MemberRefusal::Forbidden);
    }
    Ok(())
}

/// SECURITY: who may remove a workspace member: owners and admins; admins remove neither
/// admins nor the owner; nobody removes the owner or themselves.
pub fn member_removal(
    operator: WorkspaceRole,
    target: WorkspaceRole,
    is_self: bool,
) -> Result<(), MemberRefusal> {
    if !matches!(operator, WorkspaceRole::Owner | WorkspaceRole::Admin) {
        return Err(MemberRefusal::Forbidden);
    }
    if is_self {
        return Err(MemberRefusal::OwnMembership);
    }
    match (operator, target) {
        (_, WorkspaceRole::Owner) => Err(MemberRefusal::Forbidden),
        (WorkspaceRole::Admin, WorkspaceRole::Admin) => Err(MemberRefusal::Forbidden),
        _ => Ok(()),
    }
}

/// What an operation asks of a personal access token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenUse {
    /// A read (GET): any scope.
    Read,
    /// A change: `write` only.
    Change,
    /// Tokens themselves, or the account's own credentials (password, e-mail, sign-ins,
    /// deletion): never with a token, so a leaked token cannot make more tokens or take the
    /// account over.
    Never,
}

/// SECURITY: whether a personal access token of `scope` may make a call that asks `kind`.
pub fn token_admits(scope: TokenScope, kind: TokenUse) -> bool {
    match kind {
        TokenUse::Read => true,
        TokenUse::Change => scope == TokenScope::Write,
        TokenUse::Never => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_token_only_reads_and_no_token_reaches_credentials() {
        let (read, write) = (TokenScope::Read, TokenScope::Write);
        assert!(token_admits(read, TokenUse::Read));
        assert!(!token_admits(read, TokenUse::Change));
        assert!(token_admits(write, TokenUse::Change));
        assert!(token_admits(write, TokenUse::Read));
        assert!(!token_admits(write, TokenUse::Never));
        assert!(!token_admits(read, TokenUse::Never));
    }

    #[test]
    fn an_outsider_naming_itself_is_refused_a_members_self_rule() {
        let outsider = Facts {
            is_self: true,
            ..Facts::of(SystemRole::Normal)
        };
        assert_eq!(decide(Rule::GroupAdminOrSelf, outsider), Decision::Forbid);
        let member = Facts {
            group_role: Some(GroupRole::Normal),
            ..outsider
        };
        assert_eq!(decide(Rule::GroupAdminOrSelf, member), Decision::Allow);
        assert_eq!(
            decide(Rule::GroupMember, Facts::of(SystemRole::Normal)),
            Decision::Hide
        );
    }

    #[test]
    fn workspace_rules_read_role_and_permissions() {
        let with = |role, permissions| Facts {
            current_workspace: Some(WorkspaceMembership { role, permissions }),
            ..Facts::of(SystemRole::Normal)
        };
        assert_eq!(
            decide(Rule::WorkspaceAdmin, with(WorkspaceRole::Admin, "[]")),
            Decision::Allow
        );
        assert_eq!(
            decide(Rule::WorkspaceAdmin, with(WorkspaceRole::Editor, "[]")),
            Decision::Forbid
        );
        assert_eq!(
            decide(
                Rule::DatasetEditor,
                with(WorkspaceRole::Normal, r#"["create_knowledge"]"#)
            ),
            Decision::Allow
        );
        assert_eq!(
            decide(
                Rule::DatasetEditor,
                with(WorkspaceRole::Normal, r#"["create_agent"]"#)
            ),
            Decision::Forbid
        );
        assert_eq!(
            decide(Rule::WorkspaceAdmin, Facts::of(SystemRole::SuperAdmin)),
            Decision::Forbid
        );
    }

    #[test]
    fn workspace_member_rules_are_difys() {
        use WorkspaceRole::*;
        assert_eq!(member_role_change(Admin, Editor, Normal, false), Ok(()));
        assert_eq!(
            member_role_change(Admin, Editor, Admin, false),
            Err(MemberRefusal::Forbidden)
        );
        assert_eq!(
            member_role_change(Admin, Admin, Normal, false),
            Err(MemberRefusal::Forbidden)
        );
        assert_eq!(member_role_change(Owner, Admin, Normal, false), Ok(()));
        assert_eq!(
            member_role_change(Owner, Editor, Owner, false),
            Err(MemberRefusal::OwnerRole)
        );
        assert_eq!(
            member_role_change(Admin, Owner, Normal, false),
            Err(MemberRefusal::Forbidden)
        );
        assert_eq!(
            member_role_change(Owner, Owner, Admin, true),
            Err(MemberRefusal::OwnMembership)
        );
        assert_eq!(
            member_role_change(Editor, Normal, Editor, false),
            Err(MemberRefusal::Forbidden)
        );
        assert_eq!(member_removal(Admin, Normal, false), Ok(()));
        assert_eq!(
            member_removal(Admin, Admin, false),
            Err(MemberRefusal::Forbidden)
        );
        assert_eq!(member_removal(Owner, Admin, false), Ok(()));
        assert_eq!(
            member_removal(Owner, Owner, true),
            Err(MemberRefusal::OwnMembership)
        );
        assert_eq!(
            member_removal(Admin, Owner, false),
            Err(MemberRefusal::Forbidden)
        );
    }

    #[test]
    fn nobody_below_super_admin_edits_a_super_admin() {
        let rename = AccountEdit {
            beyond_group_role: true,
            ..AccountEdit::default()
        };
        assert!(
            account_edit(
                SystemRole::SystemAdmin,
                SystemRole::SuperAdmin,
                false,
                rename
            )
            .is_err()
        );
        assert!(
            account_edit(
                SystemRole::SuperAdmin,
                SystemRole::SuperAdmin,
                false,
                rename
            )
            .is_ok()
        );
        assert!(account_edit(SystemRole::SystemAdmin, SystemRole::Normal, false, rename).is_ok());
        let group_only = AccountEdit {
            group_role: true,
            ..AccountEdit::default()
        };
        assert!(account_edit(SystemRole::Normal, SystemRole::Normal, false, group_only).is_ok());
        assert!(account_edit(SystemRole::Normal, SystemRole::Normal, false, rename).is_err());
    }
}
