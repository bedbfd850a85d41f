//! A Docker engine's address as bosun.toml (`hosts.<name>.docker`) and
//! `DOCKER_HOST` write it.

/// How a host's engine is reached, as its `docker` URL says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    Unix(String),
    /// `user@host` or `host`, and a port when one was given.
    Ssh { destination: String, port: Option<u16> },
    /// `host:port`.
    Tcp(String),
}

impl Address {
    pub fn parse(url: &str) -> Result<Address, String> {
        let refused = || format!("{url:?} is not an engine address; write unix:///var/run/docker.sock, ssh://user@host[:port] or tcp://host:2376");
        if let Some(path) = url.strip_prefix("unix://") {
            return match path.starts_with('/') {
                true => Ok(Address::Unix(path.to_string())),
                false => Err(refused()),
            };
        }
        if let Some(rest) = url.strip_prefix("ssh://") {
            let rest = rest.trim_end_matches('/');
            let (destination, port) = match rest.rsplit_once(':') {
                Some((destination, port)) => (destination, Some(port.parse::<u16>().map_err(|_| refused())?)),
                None => (rest, None),
            };
            let host = destination.rsplit('@').next().unwrap_or_default();
            if host.is_empty() || destination.contains(char::is_whitespace) || destination.starts_with('-') {
                return Err(refused());
            }
            return Ok(Address::Ssh { destination: destination.to_string(), port });
        }
        if let Some(rest) = url.strip_prefix("tcp://") {
            let rest = rest.trim_end_matches('/');
            return match rest.rsplit_once(':') {
                Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => Ok(Address::Tcp(rest.to_string())),
                _ => Err(refused()),
            };
        }
        Err(refused())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_addresses_as_the_docker_cli_writes_them() {
        assert_eq!(Address::parse("unix:///var/run/docker.sock"), Ok(Address::Unix("/var/run/docker.sock".into())));
        assert_eq!(Address::parse("ssh://deploy@web1"), Ok(Address::Ssh { destination: "deploy@web1".into(), port: None }));
        assert_eq!(Address::parse("ssh://web1:2222"), Ok(Address::Ssh { destination: "web1".into(), port: Some(2222) }));
        assert_eq!(Address::parse("tcp://10.0.0.2:2376"), Ok(Address::Tcp("10.0.0.2:2376".into())));
        for bad in ["web1", "http://web1:2375", "tcp://web1", "ssh://", "ssh://-oProxyCommand=x", "ssh://web1:port", "unix://relative.sock"] {
            assert!(Address::parse(bad).is_err(), "{bad}");
        }
    }
}
