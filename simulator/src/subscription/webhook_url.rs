//! Webhook URL checks against server-side request forgery (PROTOCOL §6.2, §12.8): `https://`
//! to a public address, or plain `http://` to this machine for development; never a private,
//! link-local, loopback or unspecified address otherwise (cloud metadata endpoints included).

use std::net::{IpAddr, Ipv4Addr};

use reqwest::Url;

/// `Ok` with the parsed URL, or why it is refused.
pub(crate) fn check(text: &str) -> Result<Url, String> {
    let url = Url::parse(text).map_err(|e| format!("not a URL ({e})"))?;
    let host = url.host_str().unwrap_or_default();
    if development(&url) {
        return Ok(url);
    }
    if url.scheme() != "https" {
        return Err(
            "a webhook URL must use https:// (http:// only to localhost or 127.0.0.x)".into(),
        );
    }
    let address = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
        .ok();
    if host.eq_ignore_ascii_case("localhost") || address.is_some_and(local) {
        return Err(format!("{host} is a local or private network address"));
    }
    Ok(url)
}

/// The development exception: `localhost` or `127.0.0.x`, over `http://` (or `https://`).
fn development(url: &Url) -> bool {
    let host = url.host_str().unwrap_or_default();
    matches!(url.scheme(), "http" | "https")
        && (host.eq_ignore_ascii_case("localhost")
            || host
                .parse::<Ipv4Addr>()
                .is_ok_and(|ip| ip.octets()[..3] == [127, 0, 0]))
}

fn local(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                // 100.64.0.0/10, carrier-grade NAT: shared, not public.
                || (v4.octets()[0] == 100 && (v4.octets()[1] & 0xc0) == 64)
        }
        IpAddr::V6(v6) => {
            v6.is_loopback()
                || v6.is_unspecified()
                // fc00::/7 unique local, fe80::/10 link-local.
                || (v6.segments()[0] & 0xfe00) == 0xfc00
                || (v6.segments()[0] & 0xffc0) == 0xfe80
                || v6.to_ipv4_mapped().is_some_and(|v4| local(IpAddr::V4(v4)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn development_and_public_https_urls_pass_and_local_targets_do_not() {
        for ok in [
            "http://localhost:8080/hook",
            "http://127.0.0.1:4000/webhook",
            "http://127.0.0.9/x",
            "https://worker.example/hooks",
            "https://93.184.216.34/hook",
            "https://localhost/hook",
        ] {
            assert!(check(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://10.0.0.1/hook",
            "http://worker.example/hooks",
            "https://10.1.2.3/hook",
            "https://192.168.0.5/hook",
            "https://172.16.0.1/hook",
            "https://169.254.169.254/latest/meta-data",
            "https://[::1]/hook",
            "https://[fd00::1]/hook",
            "https://[::ffff:10.0.0.1]/hook",
            "http://127.0.1.1/hook",
            "ftp://example.com/hook",
            "not a url",
        ] {
            assert!(check(bad).is_err(), "{bad}");
        }
    }
}
