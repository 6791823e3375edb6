//! Console sessions: signing in with a password, rotating refresh tokens, signing out,
//! and turning an access token back into its account. No HTTP here.

use entity::roles::AccountStatus;
use std::net::IpAddr;
use std::sync::Arc;

use entity::{account, refresh_token};
use sea_orm::DatabaseConnection;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseTransaction, DbErr, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::auth::attempts;
use crate::auth::password::HashError;
use crate::auth::password::PasswordHasher;
use crate::auth::tokens::{self, AccessClaims, TokenError};
use crate::config::AuthConfig;
use crate::domain::access_tokens::{self, TokenCache, TokenGrant, Usage, UseNoted};
use crate::domain::account_cache::AccountCache;
use crate::domain::account_views::AccountView;
use crate::domain::account_writes::{self, AccountWrite, NewRefreshToken};
use crate::domain::policy::SystemRole;
use crate::domain::settings::Settings;
use crate::domain::validate;

/// Failures for one email from one client address before that address is locked out of
/// it for the rest of the window (Dify: 5 are allowed, the 6th locks; Dify counts per
/// email alone, which lets anybody lock anybody out). All addresses together are held to
/// `LOGIN_EMAIL_CEILING` per email.
pub const EMAIL_FAILURE_LIMIT: u32 = 6;

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("email and password sign-in is disabled")]
    PasswordLoginDisabled,
    #[error("{0}")]
    InvalidEmail(String),
    #[error("invalid email or password")]
    BadCredentials,
    #[error("account is banned")]
    Banned,
    #[error("too many failed sign-ins for this email")]
    EmailLocked,
    #[error("too many failed sign-ins from this address")]
    AddressLocked,
    #[error("invalid refresh token")]
    InvalidRefreshToken,
    #[error("invalid access token")]
    InvalidAccessToken,
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error(transparent)]
    Hash(#[from] HashError),
    #[error(transparent)]
    Db(#[from] DbErr),
}

pub struct TokenPair {
    pub access_token: String,
    pub refresh_token: String,
}

/// How a sign-in began, as its session shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInMethod {
    Password,
    EmailCode,
    Github,
    Google,
    Invitation,
    Registration,
    PasswordReset,
}

impl SignInMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Password => "password",
            Self::EmailCode => "email_code",
            Self::Github => "github",
            Self::Google => "google",
            Self::Invitation => "invitation",
            Self::Registration => "registration",
            Self::PasswordReset => "password_reset",
        }
    }

    /// The stored value; an unknown one reads as a password sign-in.
    pub fn parse(value: &str) -> Self {
        match value {
            "email_code" => Self::EmailCode,
            "github" => Self::Github,
            "google" => Self::Google,
            "invitation" => Self::Invitation,
            "registration" => Self::Registration,
            "password_reset" => Self::PasswordReset,
            _ => Self::Password,
        }
    }
}

/// Where a request comes from, as far as a sign-in records it.
#[derive(Debug, Clone, Default)]
pub struct Client {
    pub ip: Option<IpAddr>,
    /// The `User-Agent` header, at most 255 characters.
    pub user_agent: Option<String>,
}

/// How and where a sign-in began: written with each of its refresh tokens.
#[derive(Debug, Clone)]
pub struct Origin {
    pub method: SignInMethod,
    pub client: Client,
}

impl Origin {
    pub fn new(method: SignInMethod, client: &Client) -> Self {
        Self {
            method,
            client: client.clone(),
        }
    }
}

/// The signed-in caller, as every console handler receives it.
#[derive(Debug, Clone)]
pub struct Session {
    pub account: account::Model,
    /// The system role; an account without a role row is `normal`.
    pub role_type: SystemRole,
    /// The refresh family of this sign-in.
    pub family: Uuid,
    /// The account as its views show it, as of this request.
    pub view: Arc<AccountView>,
    /// Set when the request came with a personal access token rather than a sign-in's
    /// access token; `family` is then the token's id, which no sign-in shares.
    pub token: Option<TokenGrant>,
}

impl Session {
    pub fn system_role(&self) -> SystemRole {
        self.role_type
    }

    pub fn is_system_admin(&self) -> bool {
        self.system_role().is_system_admin()
    }
}

/// All failures for one email, whatever their address (held to `LOGIN_EMAIL_CEILING`).
fn email_key(email: &str) -> String {
    format!("login:email:{email}")
}

/// The failures for one email from one client address (held to `EMAIL_FAILURE_LIMIT`).
/// The email comes first and cannot contain `|`, so `email_address_prefix` finds exactly
/// the keys of one email.
fn email_address_key(email: &str, client_ip: Option<IpAddr>) -> String {
    match client_ip {
        Some(ip) => format!("{}{ip}", email_address_prefix(email)),
        None => format!("{}unknown", email_address_prefix(email)),
    }
}

fn email_address_prefix(email: &str) -> String {
    format!("login:email-ip:{email}|")
}

fn ip_key(ip: IpAddr) -> String {
    format!("login:ip:{ip}")
}

/// The places one sign-in holds in the failure counters, taken before its password is
/// hashed. A failed sign-in keeps them: they are its failure, counted. Any other outcome
/// gives them back.
struct Attempt {
    email_address: (String, attempts::Reservation),
    ip: Option<(String, attempts::Reservation)>,
    email: (String, attempts::Reservation),
}

impl Attempt {
    /// Takes a place in every limit, or in none: the email from this address, this address
    /// across emails, the email across addresses. The three places are one atomic upsert
    /// that checks each key's limit (`attempts::reserve_all`), in a transaction, so a
    /// refused attempt — rolled back — counts towards nothing (an address locked out of an email cannot push that email
    /// to its ceiling), and the sign-in pays one commit.
    async fn reserve(
        db: &DatabaseConnection,
        limits: &AuthConfig,
        email: &str,
        client_ip: Option<IpAddr>,
        now: i64,
    ) -> Result<Self, SessionError> {
        let txn = crate::db::begin_write(db).await?;
        match Self::take(&txn, limits, email, client_ip, now).await {
            Ok(attempt) => {
                txn.commit().await?;
                Ok(attempt)
            }
            Err(refused) => {
                txn.rollback().await?;
                Err(refused)
            }
        }
    }

    async fn take(
        txn: &DatabaseTransaction,
        cfg: &AuthConfig,
        email: &str,
        client_ip: Option<IpAddr>,
        now: i64,
    ) -> Result<Self, SessionError> {
        let window = cfg.login_lockout_duration;
        let email_address = email_address_key(email, client_ip);
        let ip = client_ip.map(ip_key);
        let email = email_key(email);
        let mut places = vec![attempts::Place {
            key: &email_address,
            limit: EMAIL_FAILURE_LIMIT,
            window,
        }];
        if let Some(key) = &ip {
            places.push(attempts::Place {
                key,
                limit: cfg.login_ip_limit,
                window: cfg.login_ip_window,
            });
        }
        places.push(attempts::Place {
            key: &email,
            limit: cfg.login_email_ceiling,
            window,
        });
        // One statement for the three places; the first one refused names the refusal,
        // and the caller rolls the others back.
        let mut held = attempts::reserve_all(txn, &places, now).await?.into_iter();
        let email_address_held = held.next().flatten().ok_or(SessionError::EmailLocked)?;
        let ip = match ip {
            Some(key) => {
                let place = held.next().flatten().ok_or(SessionError::AddressLocked)?;
                Some((key, place))
            }
            None => None,
        };
        let email_held = held.next().flatten().ok_or(SessionError::EmailLocked)?;
        Ok(Self {
            email_address: (email_address, email_address_held),
            ip,
            email: (email, email_held),
        })
    }

    /// Not a failed guess (a right password for a banned account, an error): every place
    /// goes back.
    async fn give_back(self, db: &impl ConnectionTrait) -> Result<(), DbErr> {
        let mut all = vec![&self.email_address];
        all.extend(&self.ip);
        all.push(&self.email);
        release(db, &all).await
    }

    /// A successful sign-in: this address's failures for the email are forgotten, as Dify
    /// forgets them, and the places in the shared limits go back.
    async fn succeeded(self, db: &impl ConnectionTrait) -> Result<(), DbErr> {
        attempts::clear(db, &self.email_address.0).await?;
        let mut shared: Vec<_> = self.ip.iter().collect();
        shared.push(&self.email);
        release(db, &shared).await
    }
}

async fn release(
    db: &impl ConnectionTrait,
    held: &[&(String, attempts::Reservation)],
) -> Result<(), DbErr> {
    let held: Vec<(&str, attempts::Reservation)> =
        held.iter().map(|(key, r)| (key.as_str(), *r)).collect();
    attempts::release(db, &held).await
}

/// `POST /login`: email and password to a new session.
///
/// The attempt is counted before the password is hashed (`Attempt::reserve`), so a burst
/// of concurrent guesses on any number of instances gets at most the limit evaluated.
pub async fn login(
    db: &DatabaseConnection,
    accounts: &AccountCache,
    hasher: &PasswordHasher,
    settings: &Settings<'_>,
    now: i64,
    email: &str,
    password: String,
    client: &Client,
) -> Result<TokenPair, SessionError> {
    let client_ip = client.ip;
    if !settings.features.enable_email_password_login {
        return Err(SessionError::PasswordLoginDisabled);
    }
    let email = validate::email(email).map_err(SessionError::InvalidEmail)?;
    crate::audit::attempted(&email);
    let attempt = Attempt::reserve(db, settings.auth, &email, client_ip, now).await?;
    let account = match check_password(db, hasher, &email, password).await {
        Ok(Some(account)) => account,
        // A failure: it keeps its places.
        Ok(None) => return Err(SessionError::BadCredentials),
        Err(err) => {
            attempt.give_back(db).await?;
            return Err(err);
        }
    };
    match account.status {
        AccountStatus::Active => {}
        AccountStatus::Banned => {
            attempt.give_back(db).await?;
            return Err(SessionError::Banned);
        }
        // Pending accounts sign in through their invitation; closed ones not at all.
        AccountStatus::Pending | AccountStatus::Closed => {
            attempt.give_back(db).await?;
            return Err(SessionError::BadCredentials);
        }
    }
    let mut write = AccountWrite::begin(db, accounts).await?;
    attempt.succeeded(write.conn()).await?;
    let ip = client_ip.map(|ip| ip.to_string());
    write
        .update_account(account.id, |u| {
            u.col_expr(account::Column::LastLoginAt, Expr::value(now))
                .col_expr(account::Column::LastLoginIp, Expr::value(ip))
                .col_expr(account::Column::UpdatedAt, Expr::value(now))
        })
        .await?;
    let origin = Origin::new(SignInMethod::Password, client);
    let family = Uuid::now_v7();
    let pair = start_family(settings, now, write.conn(), &account, family, &origin, now).await?;
    crate::audit::account(account.id, &account.email);
    write.commit().await?;
    Ok(pair)
}

/// The account `email` names if `password` is its password. An unknown email costs what a
/// wrong password costs (`verify_stored`).
async fn check_password(
    db: &DatabaseConnection,
    hasher: &PasswordHasher,
    email: &str,
    password: String,
) -> Result<Option<account::Model>, SessionError> {
    let found = account::Entity::find()
        .filter(account::Column::Email.eq(email))
        .one(db)
        .await?;
    let stored = found.as_ref().and_then(|a| a.password_hash.clone());
    let matches = hasher.verify_stored(password, stored).await?;
    // `verify_stored` never matches without a stored hash.
    Ok(found.filter(|_| matches))
}

/// The details a refresh token carries of its sign-in.
pub fn origin_of(row: &refresh_token::Model) -> Origin {
    Origin {
        method: SignInMethod::parse(&row.method),
        client: Client {
            ip: row.client_ip.as_deref().and_then(|ip| ip.parse().ok()),
            user_agent: row.user_agent.clone(),
        },
    }
}

/// Checks a signed-in user's own password (to change it), against the same limits as a
/// sign-in: the attempt is counted before the hash, a wrong one keeps its place, a right
/// one forgets this address's failures. `BadCredentials` for a wrong password.
pub async fn verify_password(
    db: &DatabaseConnection,
    hasher: &PasswordHasher,
    settings: &Settings<'_>,
    now: i64,
    email: &str,
    password: String,
    client_ip: Option<IpAddr>,
) -> Result<(), SessionError> {
    let attempt = Attempt::reserve(db, settings.auth, email, client_ip, now).await?;
    match check_password(db, hasher, email, password).await {
        Ok(Some(_)) => {
            attempt.succeeded(db).await?;
            Ok(())
        }
        Ok(None) => Err(SessionError::BadCredentials),
        Err(err) => {
            attempt.give_back(db).await?;
            Err(err)
        }
    }
}

/// Signs `account` in without a password (after activation, say): a new session.
pub async fn start_session(
    db: &DatabaseConnection,
    settings: &Settings<'_>,
    now: i64,
    account: &account::Model,
    origin: &Origin,
) -> Result<TokenPair, SessionError> {
    start_family(settings, now, db, account, Uuid::now_v7(), origin, now).await
}

/// Issues an access token and a new refresh token in `family`, a sign-in that began at
/// `signed_in_at` as `origin` says.
pub(crate) async fn start_family<C: ConnectionTrait>(
    settings: &Settings<'_>,
    now: i64,
    db: &C,
    account: &account::Model,
    family: Uuid,
    origin: &Origin,
    signed_in_at: i64,
) -> Result<TokenPair, SessionError> {
    let refresh = tokens::new_refresh_token();
    account_writes::issue_refresh_token(
        db,
        NewRefreshToken {
            account_id: account.id,
            family,
            token_hash: tokens::token_hash(&refresh),
            expires_at: now + settings.auth.refresh_token_expire_days * 86_400,
            now,
            client_ip: origin.client.ip.map(|ip| ip.to_string()),
            user_agent: origin
                .client
                .user_agent
                .as_ref()
                .map(|ua| ua.chars().take(255).collect()),
            method: origin.method.as_str().to_string(),
            signed_in_at,
        },
    )
    .await?;
    let claims = AccessClaims {
        user_id: account.id,
        exp: now + settings.auth.access_token_expire_minutes * 60,
        iat: now,
        iss: tokens::ISSUER.to_string(),
        sub: tokens::SUBJECT.to_string(),
        ver: account.token_version,
        fam: family,
    };
    Ok(TokenPair {
        access_token: tokens::issue_access(settings.secret, &claims)?,
        refresh_token: refresh,
    })
}

/// `POST /refresh-token`: trades a refresh token for a new pair. The presented token is
/// used up; presenting a used one again means it leaked, so its whole family is revoked.
pub async fn refresh(
    db: &DatabaseConnection,
    accounts: &AccountCache,
    settings: &Settings<'_>,
    now: i64,
    presented: &str,
) -> Result<TokenPair, SessionError> {
    let row = refresh_token::Entity::find()
        .filter(refresh_token::Column::TokenHash.eq(tokens::token_hash(presented)))
        .one(db)
        .await?
        .ok_or(SessionError::InvalidRefreshToken)?;
    if row.revoked_at.is_some() || row.expires_at <= now {
        return Err(SessionError::InvalidRefreshToken);
    }
    // Claim the token (only one caller can move it from unused to used) and issue its
    // successor in one transaction, so a failure cannot leave the caller with neither.
    let txn = crate::db::begin_write(db).await?;
    if !account_writes::claim_refresh_token(&txn, row.id, now).await? {
        txn.rollback().await?;
        // SECURITY: a rotated token presented again means two parties hold this sign-in,
        // one of them a thief. Which one cannot be told, so every session of the account
        // ends now, its access tokens included, not only this family's refresh tokens.
        end_all_sessions(db, accounts, now, row.account_id).await?;
        tracing::warn!(account = %row.account_id, "refresh token reused; every session of the account is ended");
        crate::audit::note("reuse_detected", true);
        crate::audit::default_target("account", row.account_id);
        return Err(SessionError::InvalidRefreshToken);
    }
    let account = account::Entity::find_by_id(row.account_id)
        .one(&txn)
        .await?
        .filter(|a| a.status == AccountStatus::Active)
        .ok_or(SessionError::InvalidRefreshToken)?;
    // The successor carries the sign-in's details: the session stays what it was.
    let origin = origin_of(&row);
    let pair = start_family(
        settings,
        now,
        &txn,
        &account,
        row.family,
        &origin,
        row.signed_in_at,
    )
    .await?;
    crate::audit::commit(txn).await?;
    Ok(pair)
}

/// Ends every session of an account (`AccountWrite::end_all_sessions`) as a write of its
/// own, apart from the call's change: a reused refresh token's refusal is what the call's
/// audit event records.
pub async fn end_all_sessions(
    db: &DatabaseConnection,
    accounts: &AccountCache,
    now: i64,
    account_id: Uuid,
) -> Result<(), DbErr> {
    let mut write = AccountWrite::begin(db, accounts).await?;
    write.end_all_sessions(account_id, now).await?;
    write.commit_unrecorded().await
}

/// Revokes every refresh token of a sign-in (logout).
pub async fn revoke_family(db: &DatabaseConnection, now: i64, family: Uuid) -> Result<(), DbErr> {
    account_writes::revoke_family(db, now, family).await
}

/// What checking a request's credential touches: the account views, the personal access
/// tokens in use and when each was last used, the secret access tokens are signed with.
pub struct Authenticator<'a> {
    pub db: &'a DatabaseConnection,
    pub accounts: &'a AccountCache,
    pub tokens: &'a TokenCache,
    pub usage: &'a Usage,
    pub secret: &'a [u8],
    /// `AUDIT_TRAIL`: whether a token used from a new address is an audit event.
    pub audit_trail: bool,
}

/// The signed-in caller of a request made with `credential`: an access token (genuine,
/// unexpired, not revoked, its account active), or a personal access token (`pat_…`).
/// `client_ip` is recorded as a token's last use.
pub async fn authenticate(
    with: &Authenticator<'_>,
    now: i64,
    credential: &str,
    client_ip: Option<IpAddr>,
) -> Result<Session, SessionError> {
    if credential.starts_with(access_tokens::PREFIX) {
        return authenticate_token(with, now, credential, client_ip).await;
    }
    let claims = tokens::verify_access(with.secret, credential, now)?;
    let view = with
        .accounts
        .view(with.db, claims.user_id)
        .await?
        .filter(|v| {
            v.account.status == AccountStatus::Active
                && v.account.token_version == claims.ver
                && !v.ended_sessions.contains(&claims.fam)
        })
        .ok_or(SessionError::InvalidAccessToken)?;
    Ok(session_of(view, claims.fam, None))
}

fn session_of(view: Arc<AccountView>, family: Uuid, token: Option<TokenGrant>) -> Session {
    Session {
        account: view.account.clone(),
        role_type: view.role_type.unwrap_or(SystemRole::Normal),
        family,
        view,
        token,
    }
}

/// A personal access token's owner, while the token is unrevoked and unexpired and the
/// owner active. A password change leaves tokens alone (`token_version` is not compared):
/// they are revoked on their own.
async fn authenticate_token(
    with: &Authenticator<'_>,
    now: i64,
    secret: &str,
    client_ip: Option<IpAddr>,
) -> Result<Session, SessionError> {
    let held = access_tokens::find_live(with.db, with.tokens, now, secret)
        .await?
        .ok_or(SessionError::InvalidAccessToken)?;
    let view = with
        .accounts
        .view(with.db, held.account_id)
        .await?
        .filter(|v| v.account.status == AccountStatus::Active)
        .ok_or(SessionError::InvalidAccessToken)?;
    if with.usage.note(held.id, now, client_ip) != UseNoted::Quiet {
        // Off the request's path: a lost write only delays what the list shows.
        let db = with.db.clone();
        let audited = with.audit_trail;
        let id = held.id;
        let (owner, email) = (view.account.id, view.account.email.clone());
        tokio::spawn(async move {
            let noticed = match access_tokens::record_use(&db, id, now, client_ip).await {
                Ok(Some(_)) if !audited => Ok(()),
                Ok(Some(before)) => {
                    let mut changes = serde_json::Map::new();
                    changes.insert("previous_ip".into(), before.into());
                    crate::audit::notice(
                        &db,
                        crate::audit::Noticed {
                            at: now,
                            operation_id: "use_access_token",
                            account: (owner, &email),
                            client_ip: client_ip.map(|ip| ip.to_string()),
                            target: ("access_token", id.to_string()),
                            outcome: "new_address",
                            changes,
                        },
                    )
                    .await
                }
                Ok(None) => Ok(()),
                Err(err) => Err(err),
            };
            if let Err(err) = noticed {
                tracing::warn!(error = %err, "recording a personal access token's use failed");
            }
        });
    }
    let grant = TokenGrant {
        id: held.id,
        scope: held.scope,
    };
    Ok(session_of(view, held.id, Some(grant)))
}

/// Forgets the failed sign-ins counted against `email`, from every address (after its
/// password was reset).
pub async fn clear_lockout(db: &DatabaseConnection, email: &str) -> Result<(), DbErr> {
    attempts::clear(db, &email_key(email)).await?;
    attempts::clear_prefix(db, &email_address_prefix(email)).await
}
