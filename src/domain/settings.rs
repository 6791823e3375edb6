//! The configuration the domain reads, borrowed from wherever the process keeps it: sign-in
//! limits and token lifetimes, the feature switches, the social providers, the secret
//! tokens are signed with, `INIT_PASSWORD`. Read-only, and no handle to anything: a
//! function taking `&Settings` reads configuration and touches nothing through it.

use crate::config::{AuthConfig, FeatureConfig, OAuthConfig};

#[derive(Clone, Copy)]
pub struct Settings<'a> {
    pub auth: &'a AuthConfig,
    pub features: &'a FeatureConfig,
    pub oauth: &'a OAuthConfig,
    /// Signs and checks every token of both surfaces (see `auth::secret`).
    pub secret: &'a [u8],
    /// `INIT_PASSWORD`, when set.
    pub init_password: Option<&'a str>,
}
