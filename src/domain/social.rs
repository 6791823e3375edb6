//! Social sign-in (GitHub, Google): the single-use `state` of each sign-in, and what a
//! provider identity means for accounts. The provider calls themselves are `crate::oauth`;
//! no HTTP is handled here.
//!
//! A state is bound three ways: to its provider and invitation (its row), to the browser
//! that started the sign-in (the caller hands the state to that browser in a cookie and
//! passes the cookie back to `finish`, which refuses a state the browser does not hold),
//! and to the code exchange (the row keeps a PKCE verifier whose challenge went to the
//! provider, so a code obtained for one sign-in cannot be redeemed in another).

use entity::roles::AccountStatus;
use entity::{account, oauth_link, oauth_state};
use sea_orm::DatabaseConnection;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, DbErr, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::auth::tokens;
use crate::db::is_unique_violation;
use crate::domain::account_cache::AccountCache;
use crate::domain::account_writes::AccountWrite;
use crate::domain::registration::{self, NewMember};
use crate::domain::session::{self, SessionError, TokenPair};
use crate::domain::session::{Client, Origin, SignInMethod};
use crate::domain::settings::Settings;
use crate::domain::{invitations, validate};
use crate::oauth::{self, Provider, ProviderError};

/// How long a sign-in may take at the provider.
pub const STATE_LIFETIME: i64 = 600;

#[derive(Debug, thiserror::Error)]
pub enum SocialError {
    #[error("{0} sign-in is not configured")]
    NotConfigured(&'static str),
    #[error("the sign-in state is missing, expired or already used")]
    BadState,
    /// The callback came without the state cookie of the browser that started the sign-in
    /// (another browser, or the cookie expired): nothing was looked up or spent.
    #[error("the sign-in was not started in this browser")]
    OtherBrowser,
    #[error("the user did not grant access: {0}")]
    Denied(String),
    #[error("the provider sent no authorization code")]
    MissingCode,
    #[error(transparent)]
    Provider(#[from] ProviderError),
    #[error("the invitation is for another email")]
    InvalidInvitation,
    #[error("account is banned")]
    Banned,
    #[error("account is closed")]
    Closed,
    #[error("no account has this email and registration is closed")]
    RegistrationClosed,
    #[error(transparent)]
    Session(#[from] SessionError),
    #[error(transparent)]
    Db(#[from] DbErr),
}

impl SocialError {
    /// What the sign-in page shows.
    pub fn message(&self) -> &'static str {
        match self {
            Self::NotConfigured(_) => "Invalid provider",
            Self::BadState => {
                "The sign-in request has expired or was already used. Please try again."
            }
            Self::OtherBrowser => {
                "The sign-in request has expired or was started in another browser. Please sign in again."
            }
            Self::Denied(_) => "Sign-in was cancelled at the provider.",
            Self::MissingCode => "Authorization code is required",
            Self::Provider(ProviderError::NoVerifiedEmail) => {
                "Your account at the provider has no verified email address."
            }
            Self::Provider(_) => "OAuth process failed. Please try again.",
            Self::InvalidInvitation => "Invalid invitation token.",
            Self::Banned => "Account is banned.",
            Self::Closed => "Account is closed.",
            Self::RegistrationClosed => {
                "No account uses this email, and registration is closed. Ask an administrator for an invitation."
            }
            Self::Session(_) | Self::Db(_) => "Sign-in failed. Please try again later.",
        }
    }
}

/// Where a finished sign-in lands.
pub enum Landing {
    SignedIn(TokenPair),
    /// The invitation carried through the sign-in matches the provider's email: the
    /// console's invite settings page completes it.
    InviteSettings(String),
}

fn configured(settings: &Settings<'_>, provider: Provider) -> Result<(), SocialError> {
    if oauth::is_configured(settings.oauth, provider) {
        Ok(())
    } else {
        Err(SocialError::NotConfigured(provider.as_str()))
    }
}

/// A sign-in begun: where to send the browser, and the state the browser must bring back
/// (the caller keeps it in that browser, as a cookie).
pub struct Begun {
    pub authorize_url: String,
    pub state: String,
}

/// `GET /oauth/login/{provider}`: stores a new single-use state (bound to this provider,
/// the invitation, if any, and a fresh PKCE verifier) and returns the provider's
/// authorization URL with the state and the verifier's S256 challenge.
pub async fn begin(
    db: &DatabaseConnection,
    settings: &Settings<'_>,
    now: i64,
    provider: Provider,
    invite_token: Option<&str>,
) -> Result<Begun, SocialError> {
    configured(settings, provider)?;
    // Sign-ins abandoned at the provider leave their state behind; clear the expired ones.
    oauth_state::Entity::delete_many()
        .filter(oauth_state::Column::ExpiresAt.lte(now))
        .exec(db)
        .await?;
    let value = tokens::new_refresh_token();
    let verifier = oauth::new_pkce_verifier();
    let authorize_url = oauth::authorize_url(settings.oauth, provider, &value, &verifier)?;
    oauth_state::ActiveModel {
        state_hash: Set(tokens::token_hash(&value)),
        provider: Set(provider.as_str().to_string()),
        invite_token: Set(invite_token
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_string)),
        pkce_verifier: Set(verifier),
        expires_at: Set(now + STATE_LIFETIME),
        created_at: Set(now),
    }
    .insert(db)
    .await?;
    Ok(Begun {
        authorize_url,
        state: value,
    })
}

/// Whether the browser's state cookie is the state the callback brought. Both must be
/// present; compared in constant time.
fn same_browser(callback: &Callback<'_>) -> bool {
    match (callback.state, callback.cookie) {
        (Some(state), Some(cookie)) if !state.is_empty() && !cookie.is_empty() => {
            tokens::secrets_equal(state, cookie)
        }
        _ => false,
    }
}

/// Takes the state back: it must exist, belong to this provider and be unexpired, and only
/// one request can take it.
async fn take_state(
    db: &DatabaseConnection,
    now: i64,
    provider: Provider,
    value: Option<&str>,
) -> Result<oauth_state::Model, SocialError> {
    let value = value
        .filter(|v| !v.is_empty())
        .ok_or(SocialError::BadState)?;
    let hash = tokens::token_hash(value);
    let row = oauth_state::Entity::find_by_id(hash.clone())
        .one(db)
        .await?
        .ok_or(SocialError::BadState)?;
    let taken = oauth_state::Entity::delete_many()
        .filter(oauth_state::Column::StateHash.eq(hash))
        .exec(db)
        .await?;
    if taken.rows_affected != 1 || row.provider != provider.as_str() || row.expires_at <= now {
        return Err(SocialError::BadState);
    }
    Ok(row)
}

/// What the provider sent back to the callback.
pub struct Callback<'a> {
    pub code: Option<&'a str>,
    pub state: Option<&'a str>,
    /// The provider's `error` (the user denied access, say).
    pub error: Option<&'a str>,
    /// The state the browser holds (its cookie), if any.
    pub cookie: Option<&'a str>,
}

/// `GET /oauth/authorize/{provider}`: checks that the browser holds the state (else
/// `OtherBrowser`, before anything is looked up, so the state stays usable by the browser
/// that does), takes the state, asks the provider who the user is (exchanging the code
/// with the state's PKCE verifier), and signs them in: by the linked identity, else by the
/// verified email (linking it), else as a new account when registration is open.
pub async fn finish(
    db: &DatabaseConnection,
    accounts: &AccountCache,
    settings: &Settings<'_>,
    now: i64,
    provider: Provider,
    callback: Callback<'_>,
    client: &Client,
) -> Result<Landing, SocialError> {
    configured(settings, provider)?;
    let method = match provider {
        Provider::Github => SignInMethod::Github,
        Provider::Google => SignInMethod::Google,
    };
    if !same_browser(&callback) {
        return Err(SocialError::OtherBrowser);
    }
    let flow = take_state(db, now, provider, callback.state).await?;
    if let Some(error) = callback.error.filter(|e| !e.is_empty()) {
        return Err(SocialError::Denied(error.to_string()));
    }
    let code = callback
        .code
        .filter(|c| !c.is_empty())
        .ok_or(SocialError::MissingCode)?;
    let identity = oauth::identify(settings.oauth, provider, code, &flow.pkce_verifier).await?;
    let email = validate::email(&identity.email)
        .map_err(|_| SocialError::Provider(ProviderError::NoVerifiedEmail))?;
    if let Some(invite) = flow.invite_token.as_deref()
        && let Some((_, _, invited)) = invitations::check(db, now, invite, None, None).await?
    {
        return if invited == email {
            Ok(Landing::InviteSettings(invite.to_string()))
        } else {
            Err(SocialError::InvalidInvitation)
        };
    }
    let account = find_or_create(db, accounts, settings, now, provider, &identity, &email).await?;
    // An invited account signing in with a provider that vouches for its email activates.
    let activates = match account.status {
        AccountStatus::Active => false,
        AccountStatus::Pending => true,
        AccountStatus::Banned => return Err(SocialError::Banned),
        AccountStatus::Closed => return Err(SocialError::Closed),
    };
    let mut write = AccountWrite::begin(db, accounts).await?;
    let account = write
        .edit_account(account, |row| {
            if activates {
                row.status = Set(AccountStatus::Active);
                row.initialized_at = Set(Some(now));
            }
            row.last_login_at = Set(Some(now));
            row.updated_at = Set(now);
        })
        .await?;
    write.commit().await?;
    Ok(Landing::SignedIn(
        session::start_session(db, settings, now, &account, &Origin::new(method, client)).await?,
    ))
}

async fn find_or_create(
    db: &DatabaseConnection,
    accounts: &AccountCache,
    settings: &Settings<'_>,
    now: i64,
    provider: Provider,
    identity: &oauth::Identity,
    email: &str,
) -> Result<account::Model, SocialError> {
    let linked = oauth_link::Entity::find()
        .filter(oauth_link::Column::Provider.eq(provider.as_str()))
        .filter(oauth_link::Column::OpenId.eq(identity.open_id.clone()))
        .one(db)
        .await?;
    if let Some(link) = linked
        && let Some(account) = account::Entity::find_by_id(link.account_id).one(db).await?
    {
        return Ok(account);
    }
    let by_email = account::Entity::find()
        .filter(account::Column::Email.eq(email))
        .one(db)
        .await?;
    let account = match by_email {
        Some(account) => account,
        None if settings.features.allow_register => {
            let fallback = email.split('@').next().unwrap_or(email);
            let name = identity
                .name
                .as_deref()
                .and_then(|n| validate::name(n, 255).ok())
                .unwrap_or_else(|| fallback.to_string());
            let member = NewMember {
                email,
                name: &name,
                password_hash: None,
                language: "en-US",
                now,
            };
            let created = async {
                let mut write = AccountWrite::begin(db, accounts).await?;
                let account = registration::create_account(&mut write, member).await?;
                write.commit().await?;
                Ok::<_, DbErr>(account)
            }
            .await;
            match created {
                Ok(account) => account,
                // Created by a concurrent sign-in a moment ago.
                Err(err) if is_unique_violation(&err) => account::Entity::find()
                    .filter(account::Column::Email.eq(email))
                    .one(db)
                    .await?
                    .ok_or(SocialError::Db(err))?,
                Err(err) => return Err(err.into()),
            }
        }
        None => return Err(SocialError::RegistrationClosed),
    };
    let linked = oauth_link::ActiveModel {
        id: Set(Uuid::now_v7()),
        account_id: Set(account.id),
        provider: Set(provider.as_str().to_string()),
        open_id: Set(identity.open_id.clone()),
        created_at: Set(now),
    }
    .insert(db)
    .await;
    match linked {
        // Already linked (to another identity of this provider, or concurrently): the
        // provider vouched for the email, so the sign-in stands without a new link.
        Ok(_) => {}
        Err(err) if is_unique_violation(&err) => {}
        Err(err) => return Err(err.into()),
    }
    Ok(account)
}
