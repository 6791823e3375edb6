//! Inviting people into a workspace and activating the accounts invitations create.

use entity::roles::{AccountStatus, GroupRole, WorkspaceRole};
use entity::{account, invitation, tenant, tenant_member};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter,
};
use uuid::Uuid;

use crate::auth::password::PasswordHasher;
use crate::auth::tokens;
use crate::domain::account_cache::AccountCache;
use crate::domain::account_writes::{AccountWrite, NewAccount};
use crate::domain::session::{self, Session, SessionError, TokenPair};
use crate::domain::session::{Client, Origin, SignInMethod};
use crate::domain::settings::Settings;
use crate::domain::{validate, workspaces};
use crate::mail::Mail;
use crate::mail::Mailer;
use std::sync::Arc;

/// Permissions a member gets when invited.
const MEMBER_PERMISSIONS: &str = "[]";

#[derive(Debug, thiserror::Error)]
pub enum InvitationError {
    #[error("{0}")]
    InvalidParam(String),
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("{0}")]
    InvalidEmail(String),
    #[error("the activation link is invalid or has already been used")]
    AlreadyActivated,
    #[error(transparent)]
    Session(#[from] SessionError),
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// What happened to one invited email.
///
/// SECURITY: it never carries the activation link. The link is a bearer credential for the
/// invitee's account (it sets the password, or signs in), so it travels only to the
/// invitee's mailbox: by SMTP, or into the server log when no mail is configured. An
/// inviter who held it could act as the invitee, and so reach every workspace other
/// inviters had given the same pending account (docs/SECURITY.md, "Invitations").
#[derive(Debug, Clone, PartialEq)]
pub struct InviteOutcome {
    pub email: String,
    pub invited: bool,
    pub message: Option<String>,
}

fn activation_url(base: &str, email: &str, token: &str) -> String {
    let email: String = url::form_urlencoded::byte_serialize(email.as_bytes()).collect();
    format!(
        "{}/activate?email={email}&token={token}",
        base.trim_end_matches('/')
    )
}

fn invitation_mail(
    to: &str,
    language: &str,
    workspace: &str,
    inviter: &str,
    url: Option<&str>,
) -> Mail {
    let (subject, body) = match (language, url) {
        ("zh-Hans", Some(url)) => (
            format!("{inviter} 邀请您加入 {workspace}"),
            format!(
                "{inviter} 邀请您加入工作空间 {workspace}。\n\n点击以下链接激活您的账户：\n{url}\n"
            ),
        ),
        ("zh-Hans", None) => (
            format!("您已加入 {workspace}"),
            format!("{inviter} 已将您加入工作空间 {workspace}。登录即可使用。\n"),
        ),
        (_, Some(url)) => (
            format!("{inviter} invited you to join {workspace}"),
            format!(
                "{inviter} invited you to join the workspace {workspace}.\n\nActivate your account here:\n{url}\n"
            ),
        ),
        (_, None) => (
            format!("You have been added to {workspace}"),
            format!("{inviter} added you to the workspace {workspace}. Sign in to start.\n"),
        ),
    };
    Mail {
        to: to.to_string(),
        subject,
        body,
    }
}

/// The caller's current workspace. The gate has already required that they own or
/// administer it (`Rule::WorkspaceAdmin`); this is what they manage.
async fn managed_workspace(
    db: &DatabaseConnection,
    actor: &Session,
) -> Result<tenant::Model, InvitationError> {
    match workspaces::current(db, actor.account.id).await? {
        Some((workspace, membership)) if workspaces::manages_members(&membership) => Ok(workspace),
        _ => Err(InvitationError::Forbidden(
            "Only the owner or an admin of the current workspace can invite members.",
        )),
    }
}

/// Invites `emails` into the caller's current workspace with `role`: unknown emails get a
/// pending account and an activation link, known ones are added. Joining a workspace of an
/// enterprise group makes the account a `normal` member of that group if it was not one.
pub async fn invite(
    db: &DatabaseConnection,
    accounts: &AccountCache,
    mailer: &Arc<dyn Mailer>,
    settings: &Settings<'_>,
    now: i64,
    actor: &Session,
    emails: &[String],
    role: WorkspaceRole,
    language: Option<&str>,
) -> Result<(Uuid, Vec<InviteOutcome>), InvitationError> {
    if role == WorkspaceRole::Owner {
        return Err(InvitationError::InvalidParam(
            "A workspace has one owner; invite members with another role.".into(),
        ));
    }
    if emails.is_empty() || emails.len() > 100 {
        return Err(InvitationError::InvalidParam(
            "Invite between 1 and 100 emails at a time.".into(),
        ));
    }
    let workspace = managed_workspace(db, actor).await?;
    let locale = validate::language(language);
    let mut outcomes = Vec::with_capacity(emails.len());
    for raw in emails {
        let email = match validate::email(raw) {
            Ok(e) => e,
            Err(message) => {
                outcomes.push(InviteOutcome {
                    email: raw.clone(),
                    invited: false,
                    message: Some(message),
                });
                continue;
            }
        };
        let outcome = invite_one(
            db, accounts, mailer, settings, now, actor, &workspace, &email, role, locale,
        )
        .await?;
        outcomes.push(outcome);
    }
    Ok((workspace.id, outcomes))
}

async fn invite_one(
    db: &DatabaseConnection,
    accounts: &AccountCache,
    mailer: &Arc<dyn Mailer>,
    settings: &Settings<'_>,
    now: i64,
    actor: &Session,
    workspace: &tenant::Model,
    email: &str,
    role: WorkspaceRole,
    (language, timezone): (&'static str, &'static str),
) -> Result<InviteOutcome, InvitationError> {
    let existing = account::Entity::find()
        .filter(account::Column::Email.eq(email))
        .one(db)
        .await?;
    if let Some(found) = &existing {
        let member = tenant_member::Entity::find()
            .filter(tenant_member::Column::TenantId.eq(workspace.id))
            .filter(tenant_member::Column::AccountId.eq(found.id))
            .one(db)
            .await?;
        if member.is_some() {
            if found.status == AccountStatus::Pending {
                // Not activated yet: the link may have been lost, so mail a fresh one.
                return resend(db, mailer, settings, now, actor, workspace, found, language).await;
            }
            return Ok(InviteOutcome {
                email: email.to_string(),
                invited: false,
                message: Some("Already a member of this workspace.".into()),
            });
        }
    }
    let mut write = AccountWrite::begin(db, accounts).await?;
    let account = match existing {
        Some(a) => a,
        None => {
            let name = email.split('@').next().unwrap_or(email);
            write
                .create_account(NewAccount {
                    id: Uuid::now_v7(),
                    email,
                    name,
                    password_hash: None,
                    language,
                    timezone,
                    status: AccountStatus::Pending,
                    system_role: None,
                    now,
                })
                .await?
        }
    };
    let has_current = tenant_member::Entity::find()
        .filter(tenant_member::Column::AccountId.eq(account.id))
        .filter(tenant_member::Column::Current.eq(true))
        .one(write.conn())
        .await?
        .is_some();
    tenant_member::ActiveModel {
        id: Set(Uuid::now_v7()),
        tenant_id: Set(workspace.id),
        account_id: Set(account.id),
        role: Set(role),
        position: Set(None),
        permissions: Set(MEMBER_PERMISSIONS.to_string()),
        current: Set(!has_current),
        created_at: Set(now),
    }
    .insert(write.conn())
    .await?;
    if let Some(group_id) = workspace.group_id {
        write
            .join_group(group_id, account.id, GroupRole::Normal, now)
            .await?;
    }
    let url = if account.status == AccountStatus::Pending {
        Some(new_invitation(settings, now, write.conn(), actor, workspace, &account).await?)
    } else {
        None
    };
    write.commit().await?;
    Ok(mail_invitation(mailer, actor, workspace, email, language, url.as_deref()).await)
}

/// Stores a fresh invitation of `account` into `workspace` and returns its activation link.
async fn new_invitation<C: sea_orm::ConnectionTrait>(
    settings: &Settings<'_>,
    now: i64,
    db: &C,
    actor: &Session,
    workspace: &tenant::Model,
    account: &account::Model,
) -> Result<String, DbErr> {
    let token = tokens::new_refresh_token();
    invitation::ActiveModel {
        id: Set(Uuid::now_v7()),
        token_hash: Set(tokens::token_hash(&token)),
        tenant_id: Set(workspace.id),
        account_id: Set(account.id),
        email: Set(account.email.clone()),
        inviter_id: Set(actor.account.id),
        expires_at: Set(now + settings.auth.invite_expiry_hours * 3600),
        used_at: Set(None),
        created_at: Set(now),
    }
    .insert(db)
    .await?;
    Ok(activation_url(
        &settings.auth.console_web_url,
        &account.email,
        &token,
    ))
}

/// A pending member invited again: a new link, by mail.
async fn resend(
    db: &DatabaseConnection,
    mailer: &Arc<dyn Mailer>,
    settings: &Settings<'_>,
    now: i64,
    actor: &Session,
    workspace: &tenant::Model,
    account: &account::Model,
    language: &str,
) -> Result<InviteOutcome, InvitationError> {
    let url = new_invitation(settings, now, db, actor, workspace, account).await?;
    Ok(mail_invitation(
        mailer,
        actor,
        workspace,
        &account.email,
        language,
        Some(&url),
    )
    .await)
}

/// Mails the invitation (with its link, when the account must activate). The link goes
/// to the mailbox only; the inviter hears whether the mail went out.
async fn mail_invitation(
    mailer: &Arc<dyn Mailer>,
    actor: &Session,
    workspace: &tenant::Model,
    email: &str,
    language: &str,
    url: Option<&str>,
) -> InviteOutcome {
    let mail = invitation_mail(email, language, &workspace.name, &actor.account.name, url);
    let message = match mailer.send(&mail).await {
        Ok(()) => None,
        Err(err) => {
            tracing::warn!(error = %err, "invitation mail not sent");
            Some(
                "Invited, but the mail could not be sent; invite again to send it again."
                    .to_string(),
            )
        }
    };
    InviteOutcome {
        email: email.to_string(),
        invited: true,
        message,
    }
}

/// Spends an invitation: only one caller can move it from unused to used.
async fn spend<C: sea_orm::ConnectionTrait>(db: &C, id: Uuid, now: i64) -> Result<bool, DbErr> {
    let spent = invitation::Entity::update_many()
        .col_expr(invitation::Column::UsedAt, Expr::value(now))
        .filter(invitation::Column::Id.eq(id))
        .filter(invitation::Column::UsedAt.is_null())
        .exec(db)
        .await?;
    Ok(spent.rows_affected == 1)
}

/// A live invitation for `token` (unused, unexpired), matching the email and workspace
/// when those are given.
async fn live_invitation(
    db: &DatabaseConnection,
    now: i64,
    token: &str,
    email: Option<&str>,
    workspace_id: Option<Uuid>,
) -> Result<Option<invitation::Model>, DbErr> {
    let found = invitation::Entity::find()
        .filter(invitation::Column::TokenHash.eq(tokens::token_hash(token)))
        .one(db)
        .await?;
    Ok(found.filter(|i| {
        i.used_at.is_none()
            && i.expires_at > now
            && email.is_none_or(|e| e.trim().eq_ignore_ascii_case(&i.email))
            && workspace_id.is_none_or(|w| w == i.tenant_id)
    }))
}

/// What `GET /activate/check` shows for a valid invitation: workspace name, id and email.
pub async fn check(
    db: &DatabaseConnection,
    now: i64,
    token: &str,
    email: Option<&str>,
    workspace_id: Option<Uuid>,
) -> Result<Option<(String, Uuid, String)>, DbErr> {
    let Some(found) = live_invitation(db, now, token, email, workspace_id).await? else {
        return Ok(None);
    };
    let workspace = tenant::Entity::find_by_id(found.tenant_id).one(db).await?;
    Ok(workspace.map(|w| (w.name, w.id, found.email)))
}

pub struct Activation<'a> {
    pub token: &'a str,
    pub email: Option<&'a str>,
    pub workspace_id: Option<Uuid>,
    pub name: &'a str,
    pub interface_language: &'a str,
    pub timezone: &'a str,
}

/// Completes an invited account and signs it in. The token works once.
pub async fn activate(
    db: &DatabaseConnection,
    accounts: &AccountCache,
    settings: &Settings<'_>,
    now: i64,
    input: Activation<'_>,
    client: &Client,
) -> Result<TokenPair, InvitationError> {
    let name = validate::name(input.name, 30).map_err(InvitationError::InvalidParam)?;
    let (language, _) = validate::language(Some(input.interface_language));
    if language != input.interface_language {
        return Err(InvitationError::InvalidParam(format!(
            "interface_language {} is not supported.",
            input.interface_language
        )));
    }
    // Checked as sent, not trimmed: the contract's pattern for `timezone` is this rule.
    let timezone = input.timezone;
    if timezone.is_empty()
        || !timezone
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/_+-".contains(c))
    {
        return Err(InvitationError::InvalidParam(format!(
            "{timezone} is not a valid time zone."
        )));
    }
    let found = live_invitation(db, now, input.token, input.email, input.workspace_id)
        .await?
        .ok_or(InvitationError::AlreadyActivated)?;
    let mut write = AccountWrite::begin(db, accounts).await?;
    if !spend(write.conn(), found.id, now).await? {
        return Err(InvitationError::AlreadyActivated);
    }
    let account = account::Entity::find_by_id(found.account_id)
        .one(write.conn())
        .await?
        .filter(|a| a.status == AccountStatus::Pending)
        .ok_or(InvitationError::AlreadyActivated)?;
    let account = write
        .edit_account(account, |row| {
            row.name = Set(name);
            row.interface_language = Set(language.to_string());
            row.timezone = Set(timezone.to_string());
            row.status = Set(AccountStatus::Active);
            row.initialized_at = Set(Some(now));
            row.updated_at = Set(now);
        })
        .await?;
    write.commit().await?;
    let origin = Origin::new(SignInMethod::Invitation, client);
    Ok(session::start_session(db, settings, now, &account, &origin).await?)
}

/// Sign-in with an invitation (`POST /login` with `invite_token`): a pending account that
/// has no password yet sets the one it signs in with, becomes active, and spends the
/// token. `Ok(None)` means the token does not apply (unknown, used, expired, or the account
/// is already set up), and the sign-in goes on as an ordinary one.
pub async fn sign_in_with_invitation(
    db: &DatabaseConnection,
    accounts: &AccountCache,
    hasher: &PasswordHasher,
    settings: &Settings<'_>,
    now: i64,
    email: &str,
    password: &str,
    token: &str,
    client: &Client,
) -> Result<Option<TokenPair>, InvitationError> {
    let Some(found) = live_invitation(db, now, token, None, None).await? else {
        return Ok(None);
    };
    let email = validate::email(email).map_err(InvitationError::InvalidEmail)?;
    if email != found.email {
        return Err(InvitationError::InvalidEmail(
            "The email does not match the invitation.".into(),
        ));
    }
    let Some(account) = account::Entity::find_by_id(found.account_id)
        .one(db)
        .await?
        .filter(|a| a.status == AccountStatus::Pending && a.password_hash.is_none())
    else {
        return Ok(None);
    };
    validate::password(password).map_err(InvitationError::InvalidParam)?;
    let hash = hasher
        .hash(password.to_string())
        .await
        .map_err(|e| InvitationError::Session(SessionError::Hash(e)))?;
    let mut write = AccountWrite::begin(db, accounts).await?;
    if !spend(write.conn(), found.id, now).await? {
        return Ok(None);
    }
    let account = write
        .edit_account(account, |row| {
            row.password_hash = Set(Some(hash));
            row.status = Set(AccountStatus::Active);
            row.initialized_at = Set(Some(now));
            row.last_login_at = Set(Some(now));
            row.updated_at = Set(now);
        })
        .await?;
    write.commit().await?;
    let origin = Origin::new(SignInMethod::Invitation, client);
    Ok(Some(
        session::start_session(db, settings, now, &account, &origin).await?,
    ))
}
