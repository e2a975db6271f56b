//! Which address a request comes from: the peer's, or, when the peer is a
//! trusted proxy, the one its forwarding header names.

use std::{net::IpAddr, str::FromStr};

use axum::http::HeaderMap;

/// A set of IP networks (`10.0.0.0/8`, `2001:db8::/32`, `127.0.0.1`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Networks(Vec<(IpAddr, u8)>);

/// A network that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an IP address or network (such as 10.0.0.0/8)")]
pub struct BadNetwork(String);

impl FromStr for Networks {
    type Err = BadNetwork;

    /// Comma-separated addresses or networks; empty for none.
    fn from_str(s: &str) -> Result<Self, BadNetwork> {
        let mut out = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let bad = || BadNetwork(part.to_owned());
            let (addr, bits) = match part.split_once('/') {
                Some((a, b)) => (a, Some(b.parse::<u8>().map_err(|_| bad())?)),
                None => (part, None),
            };
            let addr: IpAddr = addr.parse().map_err(|_| bad())?;
            let max = if addr.is_ipv4() { 32 } else { 128 };
            let bits = bits.unwrap_or(max);
            if bits > max {
                return Err(bad());
            }
            out.push((addr, bits));
        }
        Ok(Networks(out))
    }
}

impl Networks {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `ip` is in one of the networks (an IPv4-mapped IPv6
    /// address counts as its IPv4 address).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|(net, bits)| match (net, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                prefix(u128::from(n.to_bits()), u128::from(a.to_bits()), *bits, 32)
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => prefix(n.to_bits(), a.to_bits(), *bits, 128),
            _ => false,
        })
    }
}

fn prefix(net: u128, addr: u128, bits: u8, width: u32) -> bool {
    let shift = width - u32::from(bits);
    shift >= width || (net >> shift) == (addr >> shift)
}

/// The client's address. The peer's own, unless the peer is a trusted
/// proxy: then the rightmost address in `header` (a comma-separated list
/// such as `X-Forwarded-For`, or a single address such as `X-Real-IP`)
/// that is not itself a trusted proxy, since only the entries the trusted
/// proxies appended can be believed; anything a client put on the left is
/// ignored. A header that is missing or does not parse leaves the peer.
pub fn client_address(
    peer: IpAddr,
    headers: &HeaderMap,
    trusted: &Networks,
    header: &str,
) -> IpAddr {
    let peer = peer.to_canonical();
    if !trusted.contains(peer) {
        return peer;
    }
    let mut chain: Vec<IpAddr> = Vec::new();
    for value in headers.get_all(header) {
        let Ok(text) = value.to_str() else {
            return peer;
        };
        for entry in text.split(',').map(str::trim) {
            match parse_entry(entry) {
                Some(ip) => chain.push(ip.to_canonical()),
                None => return peer,
            }
        }
    }
    // Every hop a proxy of ours: the leftmost is as far as it goes.
    let leftmost = chain.first().copied().unwrap_or(peer);
    chain
        .into_iter()
        .rev()
        .find(|ip| !trusted.contains(*ip))
        .unwrap_or(leftmost)
}

/// One forwarded entry: an address, `[v6]:port` or `v4:port`.
fn parse_entry(entry: &str) -> Option<IpAddr> {
    if let Ok(ip) = entry.parse() {
        return Some(ip);
    }
    if let Some(rest) = entry.strip_prefix('[') {
        return rest.split_once(']').and_then(|(a, _)| a.parse().ok());
    }
    entry.rsplit_once(':').and_then(|(a, _)| a.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(s: &str) -> Networks {
        s.parse().unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn forwarded(v: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for x in v {
            h.append("x-forwarded-for", x.parse().unwrap());
        }
        h
    }

    #[test]
    fn networks_parse_and_match() {
        let n = nets("10.0.0.0/8, 192.168.1.7,2001:db8::/32");
        assert!(n.contains(ip("10.200.3.4")));
        assert!(!n.contains(ip("11.0.0.1")));
        assert!(n.contains(ip("192.168.1.7")));
        assert!(!n.contains(ip("192.168.1.8")));
        assert!(n.contains(ip("2001:db8:1::5")));
        assert!(n.contains(ip("::ffff:10.1.1.1")), "IPv4-mapped");
        assert!(nets("0.0.0.0/0").contains(ip("8.8.8.8")));
        assert!("".parse::<Networks>().unwrap().is_empty());
        for bad in ["10.0.0.0/33", "example.com", "10.0.0.0/x", "::/129"] {
            assert!(bad.parse::<Networks>().is_err(), "{bad}");
        }
    }

    #[test]
    fn only_a_trusted_peer_is_believed() {
        let trusted = nets("10.0.0.0/8");
        let h = forwarded(&["198.51.100.1"]);
        let client =
            |peer: &str, h: &HeaderMap| client_address(ip(peer), h, &trusted, "x-forwarded-for");
        assert_eq!(
            client("203.0.113.9", &h),
            ip("203.0.113.9"),
            "untrusted peer: header ignored"
        );
        assert_eq!(client("10.0.0.2", &h), ip("198.51.100.1"));
        assert_eq!(client("10.0.0.2", &HeaderMap::new()), ip("10.0.0.2"));
        // A client's own entries on the left are not believed.
        let spoofed = forwarded(&["1.1.1.1, 198.51.100.1, 10.0.0.3"]);
        assert_eq!(client("10.0.0.2", &spoofed), ip("198.51.100.1"));
        let split = forwarded(&["1.1.1.1", "198.51.100.1:5555"]);
        assert_eq!(client("10.0.0.2", &split), ip("198.51.100.1"));
        assert_eq!(client("10.0.0.2", &forwarded(&["junk"])), ip("10.0.0.2"));
        assert_eq!(
            client("10.0.0.2", &forwarded(&["10.0.0.9"])),
            ip("10.0.0.9")
        );
        let v6 = forwarded(&["[2001:db8::1]:443"]);
        assert_eq!(client("10.0.0.2", &v6), ip("2001:db8::1"));
        // Another header, as configured; X-Forwarded-For is then ignored.
        let mut real = forwarded(&["198.51.100.1"]);
        real.insert("x-real-ip", "192.0.2.4".parse().unwrap());
        assert_eq!(
            client_address(ip("10.0.0.2"), &real, &trusted, "x-real-ip"),
            ip("192.0.2.4")
        );
    }
}
