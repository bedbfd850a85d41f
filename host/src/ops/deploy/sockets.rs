//! The host's bound sockets, read from /proc/net (tcp, tcp6, udp, udp6), and
//! the process holding one: what a published port would collide with.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A TCP socket listening, or a UDP socket bound, on this host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bound {
    pub protocol: &'static str,
    pub addr: IpAddr,
    pub port: u16,
    inode: u64,
}

/// The kernel's TCP state number for LISTEN (include/net/tcp_states.h).
const TCP_LISTEN: &str = "0A";

/// Every listening TCP and bound UDP socket in this network namespace.
pub fn bound() -> std::io::Result<Vec<Bound>> {
    let mut sockets = Vec::new();
    for (file, protocol) in [("tcp", "tcp"), ("tcp6", "tcp"), ("udp", "udp"), ("udp6", "udp")] {
        let text = match std::fs::read_to_string(format!("/proc/net/{file}")) {
            Ok(text) => text,
            // A kernel without IPv6 has no tcp6/udp6.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        sockets.extend(text.lines().skip(1).filter_map(|line| parse_line(line, protocol)));
    }
    Ok(sockets)
}

/// One row: `sl local_address rem_address st … uid timeout inode …`.
fn parse_line(line: &str, protocol: &'static str) -> Option<Bound> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    let (local, state, inode) = (fields.get(1)?, fields.get(3)?, fields.get(9)?);
    // A UDP socket holds its port whatever its state; TCP only while listening.
    if protocol == "tcp" && *state != TCP_LISTEN {
        return None;
    }
    let (addr, port) = local.split_once(':')?;
    Some(Bound { protocol, addr: parse_addr(addr)?, port: u16::from_str_radix(port, 16).ok()?, inode: inode.parse().ok()? })
}

/// The kernel prints an address as 32-bit words in host byte order, in hex.
fn parse_addr(hex: &str) -> Option<IpAddr> {
    let words: Vec<[u8; 4]> = (0..hex.len() / 8).map(|i| u32::from_str_radix(&hex[i * 8..i * 8 + 8], 16).map(u32::to_ne_bytes)).collect::<Result<_, _>>().ok()?;
    match words.as_slice() {
        [v4] => Some(IpAddr::V4(Ipv4Addr::from(*v4))),
        [a, b, c, d] => {
            let bytes: [u8; 16] = [*a, *b, *c, *d].concat().try_into().ok()?;
            Some(IpAddr::V6(Ipv6Addr::from(bytes)))
        }
        _ => None,
    }
}

/// The process holding each of `sockets` (`nginx (pid 812)`), found through
/// the sockets' inodes in /proc/*/fd in one pass; none for a socket whose
/// process is not visible (another user's, without privileges).
pub fn holders(sockets: &[Bound]) -> Vec<Option<String>> {
    let mut holders = vec![None; sockets.len()];
    if sockets.is_empty() {
        return holders;
    }
    let wanted: Vec<String> = sockets.iter().map(|s| format!("socket:[{}]", s.inode)).collect();
    let Ok(processes) = std::fs::read_dir("/proc") else { return holders };
    for process in processes.flatten() {
        let Some(pid) = process.file_name().to_str().and_then(|p| p.parse::<u32>().ok()) else { continue };
        let Ok(fds) = std::fs::read_dir(process.path().join("fd")) else { continue };
        for fd in fds.flatten() {
            let Ok(target) = std::fs::read_link(fd.path()) else { continue };
            for (i, socket) in wanted.iter().enumerate() {
                if holders[i].is_none() && target.as_os_str() == socket.as_str() {
                    let name = std::fs::read_to_string(process.path().join("comm")).unwrap_or_default();
                    holders[i] = Some(format!("{} (pid {pid})", name.trim()));
                }
            }
        }
    }
    holders
}

/// Whether a bind to `want` (none: every address) and a socket on `have`,
/// same port and protocol, collide as the kernel sees it: equal addresses,
/// or a wildcard on either side of the same family. An IPv6 wildcard socket
/// may be dual-stack, so it collides with IPv4 too.
pub fn overlaps(want: Option<IpAddr>, have: IpAddr) -> bool {
    let Some(want) = want else { return true };
    let (want, have) = (want.to_canonical(), have.to_canonical());
    match (want, have) {
        (IpAddr::V4(_), IpAddr::V4(_)) | (IpAddr::V6(_), IpAddr::V6(_)) => want == have || want.is_unspecified() || have.is_unspecified(),
        (IpAddr::V4(_), IpAddr::V6(have)) => have.is_unspecified(),
        (IpAddr::V6(_), IpAddr::V4(_)) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_of_proc_net_are_read_as_the_kernel_prints_them() {
        // Rows as Linux prints them (little-endian host): 127.0.0.1:8080 listening,
        // an established connection, ::1:53 and 0.0.0.0:68 over UDP.
        let listen = "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1254 1 0000000000000000 100 0 0 10 0";
        let established = "   1: 020200C0:A48C 507100CB:01BB 01 00000000:00000000 00:00000000 00000000     0        0 9257 1 0000000000000000 20 5 1 102 146";
        let udp6 = "  2: 00000000000000000000000001000000:0035 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000   101        0 777 2 0000000000000000 0";
        let udp = "  3: 00000000:0044 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 778 2 0000000000000000 0";
        let bound = parse_line(listen, "tcp").unwrap();
        assert_eq!((bound.addr, bound.port, bound.inode), ("127.0.0.1".parse().unwrap(), 8080, 1254));
        assert_eq!(parse_line(established, "tcp"), None);
        let bound = parse_line(udp6, "udp").unwrap();
        assert_eq!((bound.addr, bound.port), ("::1".parse().unwrap(), 53));
        assert_eq!(parse_line(udp, "udp").unwrap().addr, IpAddr::from([0, 0, 0, 0]));
    }

    #[test]
    fn addresses_collide_as_the_kernel_decides() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(overlaps(None, ip("10.0.0.1")), "no host IP publishes on every address");
        assert!(overlaps(Some(ip("127.0.0.1")), ip("0.0.0.0")));
        assert!(overlaps(Some(ip("0.0.0.0")), ip("127.0.0.1")));
        assert!(!overlaps(Some(ip("127.0.0.1")), ip("127.0.0.2")));
        assert!(overlaps(Some(ip("127.0.0.1")), ip("::")), "a dual-stack wildcard holds IPv4 too");
        assert!(overlaps(Some(ip("127.0.0.1")), ip("::ffff:127.0.0.1")));
        assert!(!overlaps(Some(ip("127.0.0.1")), ip("::1")));
        assert!(!overlaps(Some(ip("::1")), ip("0.0.0.0")));
        assert!(overlaps(Some(ip("::")), ip("::1")));
    }
}
