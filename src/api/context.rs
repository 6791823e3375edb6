//! Request facts handed to handlers instead of the HTTP request itself.

use std::net::IpAddr;
use std::sync::Arc;

use ipnet::IpNet;

/// The id the request-id middleware gives every request; it is in every log line of the
/// request and in the `x-request-id` response header.
#[derive(Clone, Debug)]
pub struct RequestId(pub Arc<str>);

/// What a handler may know about the request beyond its typed inputs.
#[derive(Clone, Debug)]
pub struct RequestContext {
    pub request_id: Arc<str>,
    /// The client's address: the peer, or, when the peer is a trusted proxy, the address
    /// `X-Forwarded-For` gives (see `client_address`). Sign-in limits count by it.
    pub client_ip: Option<IpAddr>,
    /// The `User-Agent` header (at most 255 characters), recorded with a sign-in.
    pub user_agent: Option<String>,
}

impl RequestContext {
    /// `trusted_proxies` is `TRUSTED_PROXIES`: only those peers' forwarded-for headers count.
    pub fn from_request(request: &poem::Request, trusted_proxies: &[IpNet]) -> Self {
        let request_id = request
            .extensions()
            .get::<RequestId>()
            .map(|r| r.0.clone())
            .unwrap_or_else(|| Arc::from("-"));
        let client_ip = request.remote_addr().as_socket_addr().map(|addr| {
            let forwarded = request
                .headers()
                .get_all("x-forwarded-for")
                .iter()
                .filter_map(|v| v.to_str().ok());
            client_address(addr.ip(), forwarded, trusted_proxies)
        });
        let user_agent = request
            .headers()
            .get(poem::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(255).collect());
        Self {
            request_id,
            client_ip,
            user_agent,
        }
    }

    /// The request's client as a sign-in records it.
    pub fn client(&self) -> crate::domain::session::Client {
        crate::domain::session::Client {
            ip: self.client_ip,
            user_agent: self.user_agent.clone(),
        }
    }
}

/// The client behind `peer`. A peer that is not a trusted proxy is the client, whatever
/// headers it sends (anyone can write `X-Forwarded-For`). Otherwise the forwarded-for
/// chain is read from the right — the hops the trusted proxies appended — and the first
/// address that is not itself a trusted proxy is the client. An unparsable entry ends the
/// walk at the last address known good, so garbage cannot pick an address.
pub fn client_address<'a>(
    peer: IpAddr,
    forwarded: impl Iterator<Item = &'a str>,
    trusted_proxies: &[IpNet],
) -> IpAddr {
    let peer = peer.to_canonical();
    let trusted = |ip: &IpAddr| trusted_proxies.iter().any(|net| net.contains(ip));
    if !trusted(&peer) {
        return peer;
    }
    let hops: Vec<&str> = forwarded.flat_map(|v| v.split(',')).collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        match hop.trim().parse::<IpAddr>() {
            Ok(ip) => {
                client = ip.to_canonical();
                if !trusted(&client) {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    client
}

pub use crate::config::parse_proxy;

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    fn proxies(list: &[&str]) -> Vec<IpNet> {
        list.iter()
            .map(|p| parse_proxy(p).expect("proxy"))
            .collect()
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_claims() {
        let client = client_address(
            ip("198.51.100.9"),
            ["203.0.113.5"].into_iter(),
            &proxies(&["10.0.0.0/8"]),
        );
        assert_eq!(client, ip("198.51.100.9"));
        let client = client_address(ip("10.0.0.2"), ["203.0.113.5"].into_iter(), &[]);
        assert_eq!(client, ip("10.0.0.2"));
    }

    #[test]
    fn a_trusted_chain_is_read_from_the_right() {
        let trusted = proxies(&["10.0.0.0/8", "192.0.2.1"]);
        // The client spoofed the first entry; the proxies appended the rest.
        let chain = ["1.2.3.4, 203.0.113.5", "192.0.2.1"];
        assert_eq!(
            client_address(ip("10.1.1.1"), chain.into_iter(), &trusted),
            ip("203.0.113.5")
        );
        // Nothing forwarded: the proxy itself.
        assert_eq!(
            client_address(ip("10.1.1.1"), [].into_iter(), &trusted),
            ip("10.1.1.1")
        );
        // Garbage stops the walk at the last good hop.
        assert_eq!(
            client_address(ip("10.1.1.1"), ["203.0.113.5, bogus"].into_iter(), &trusted),
            ip("10.1.1.1")
        );
        // IPv4-mapped IPv6 is the IPv4 address.
        assert_eq!(
            client_address(
                ip("::ffff:10.1.1.1"),
                ["::ffff:203.0.113.5"].into_iter(),
                &trusted
            ),
            ip("203.0.113.5")
        );
    }

    #[test]
    fn proxies_are_addresses_or_ranges() {
        assert!(
            parse_proxy("10.0.0.7")
                .expect("addr")
                .contains(&ip("10.0.0.7"))
        );
        assert!(
            parse_proxy(" 10.0.0.0/8 ")
                .expect("range")
                .contains(&ip("10.200.0.1"))
        );
        assert!(parse_proxy("::1").is_ok());
        assert!(parse_proxy("example.com").is_err());
    }
}
