//! Request facts handed to handlers instead of the HTTP request itself.

use std::net::IpAddr;
use std::sync::Arc;

/// The id the request-id middleware gives every request; it is in every log line of the
/// request and in the `x-request-id` response header.
#[derive(Clone, Debug)]
pub struct RequestId(pub Arc<str>);

/// What a handler may know about the request beyond its typed inputs.
#[derive(Clone, Debug)]
pub struct RequestContext {
    pub request_id: Arc<str>,
    /// The peer address. Forwarded-for headers are not trusted: a proxy deployment
    /// configures that explicitly once it is supported.
    pub client_ip: Option<IpAddr>,
}

impl RequestContext {
    pub fn from_request(request: &poem::Request) -> Self {
        let request_id = request
            .extensions()
            .get::<RequestId>()
            .map(|r| r.0.clone())
            .unwrap_or_else(|| Arc::from("-"));
        let client_ip = request.remote_addr().as_socket_addr().map(|addr| addr.ip());
        Self {
            request_id,
            client_ip,
        }
    }
}
