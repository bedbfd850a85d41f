//! More Docker engines for the multi-host tests, each a `dockerd` in a
//! network namespace of its own (an extra engine in the host's namespace
//! would take over docker0), and an `sshd` on a loopback port that leads to
//! one of them, as a remote host's would. Stopped and removed when dropped.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// A dockerd in its own network namespace, reached through its unix socket
/// (and, when started with TLS, over tcp through a veth pair).
pub struct Engine {
    pub socket: PathBuf,
    /// With TLS: `host:port` inside the namespace, and the client's ca, cert and key files.
    pub tls: Option<(String, [PathBuf; 3])>,
    netns: String,
    veth: Option<String>,
    dockerd: Child,
    dir: PathBuf,
}

/// PEM files of a CA, a server certificate for `ip` and a client certificate.
fn certificates(dir: &Path, ip: &str) -> ([PathBuf; 3], [PathBuf; 3]) {
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(rcgen::DnType::CommonName, "bosun test engines CA");
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, rcgen::KeyPair::generate().unwrap()).unwrap();
    let issue = |names: Vec<String>, usage: rcgen::ExtendedKeyUsagePurpose, stem: &str| {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(names).unwrap();
        params.extended_key_usages = vec![usage];
        let cert = params.signed_by(&key, &*ca).unwrap();
        let (cert_path, key_path) = (dir.join(format!("{stem}-cert.pem")), dir.join(format!("{stem}-key.pem")));
        std::fs::write(&cert_path, cert.pem()).unwrap();
        std::fs::write(&key_path, key.serialize_pem()).unwrap();
        (cert_path, key_path)
    };
    let ca_path = dir.join("ca.pem");
    std::fs::write(&ca_path, ca.pem()).unwrap();
    let (server_cert, server_key) = issue(vec![ip.to_string()], rcgen::ExtendedKeyUsagePurpose::ServerAuth, "server");
    let (client_cert, client_key) = issue(vec!["bosun".to_string()], rcgen::ExtendedKeyUsagePurpose::ClientAuth, "client");
    ([ca_path.clone(), server_cert, server_key], [ca_path, client_cert, client_key])
}

fn run(program: &str, args: &[&str]) -> Output {
    let out = Command::new(program).args(args).output().unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(out.status.success(), "{program} {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
    out
}

impl Engine {
    pub fn start() -> Engine {
        Engine::launch(false)
    }

    /// An engine that also answers tcp+TLS on an address only a veth pair
    /// between the host and its namespace reaches.
    pub fn start_tls() -> Engine {
        Engine::launch(true)
    }

    fn launch(tls: bool) -> Engine {
        static STARTED: AtomicUsize = AtomicUsize::new(0);
        let n = STARTED.fetch_add(1, Ordering::SeqCst);
        let tag = format!("bz{}-{n}", std::process::id());
        // Short: containerd's socket path under the exec root must fit a sockaddr.
        let dir = PathBuf::from(format!("/tmp/{tag}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("daemon.json"), "{}").unwrap();
        run("ip", &["netns", "add", &tag]);
        run("ip", &["netns", "exec", &tag, "ip", "link", "set", "lo", "up"]);
        let socket = dir.join("docker.sock");
        let log = std::fs::File::create(dir.join("dockerd.log")).unwrap();
        let mut tcp = Vec::new();
        let (mut veth, mut client) = (None, None);
        if tls {
            // A /30 of 10.213.0.0/16 of its own: traffic goes to nothing else.
            let block = (std::process::id() as usize * 8 + n) % 16_000;
            let (host_ip, engine_ip) = (format!("10.213.{}.{}", block / 64, (block % 64) * 4 + 1), format!("10.213.{}.{}", block / 64, (block % 64) * 4 + 2));
            let (outside, inside) = (format!("vh{tag}"), format!("vn{tag}"));
            run("ip", &["link", "add", &outside, "type", "veth", "peer", "name", &inside]);
            run("ip", &["link", "set", &inside, "netns", &tag]);
            run("ip", &["addr", "add", &format!("{host_ip}/30"), "dev", &outside]);
            run("ip", &["link", "set", &outside, "up"]);
            run("ip", &["netns", "exec", &tag, "ip", "addr", "add", &format!("{engine_ip}/30"), "dev", &inside]);
            run("ip", &["netns", "exec", &tag, "ip", "link", "set", &inside, "up"]);
            let ([ca, cert, key], client_files) = certificates(&dir, &engine_ip);
            tcp = vec!["--host".to_string(), format!("tcp://{engine_ip}:2376"), "--tlsverify".into()];
            for (flag, file) in [("--tlscacert", ca), ("--tlscert", cert), ("--tlskey", key)] {
                tcp.extend([flag.to_string(), file.display().to_string()]);
            }
            veth = Some(outside);
            client = Some((format!("{engine_ip}:2376"), client_files));
        }
        let dockerd = Command::new("nsenter")
            .arg(format!("--net=/var/run/netns/{tag}"))
            .arg("dockerd")
            .arg("--config-file")
            .arg(dir.join("daemon.json"))
            .arg("--data-root")
            .arg(dir.join("data"))
            .arg("--exec-root")
            .arg(dir.join("x"))
            .arg("--pidfile")
            .arg(dir.join("dockerd.pid"))
            .arg("--host")
            .arg(format!("unix://{}", socket.display()))
            .args(&tcp)
            .stdout(Stdio::null())
            .stderr(log)
            .process_group(0)
            .spawn()
            .expect("nsenter and dockerd");
        let engine = Engine { socket, tls: client, netns: tag, veth, dockerd, dir };
        let started = Instant::now();
        while !engine.docker(&["version"]).status.success() {
            assert!(started.elapsed() < Duration::from_secs(60), "the engine did not start: {}", std::fs::read_to_string(engine.dir.join("dockerd.log")).unwrap_or_default());
            std::thread::sleep(Duration::from_millis(200));
        }
        engine
    }

    /// `docker -H <this engine> args`.
    pub fn docker(&self, args: &[&str]) -> Output {
        Command::new("docker").arg("-H").arg(format!("unix://{}", self.socket.display())).args(args).output().unwrap()
    }

    /// This engine's address, as a bosun.toml names it.
    pub fn url(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    /// Copies an image from the host's engine into this one.
    pub fn load(&self, image: &str) {
        let saved = self.dir.join("image.tar");
        run("docker", &["save", "-o", &saved.to_string_lossy(), image]);
        let out = self.docker(&["load", "-i", &saved.to_string_lossy()]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let _ = std::fs::remove_file(saved);
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        // dockerd ends its containers and containerd on SIGTERM; the group goes if it does not.
        unsafe { libc::kill(self.dockerd.id() as i32, libc::SIGTERM) };
        let asked = Instant::now();
        while self.dockerd.try_wait().ok().flatten().is_none() && asked.elapsed() < Duration::from_secs(20) {
            std::thread::sleep(Duration::from_millis(100));
        }
        unsafe { libc::kill(-(self.dockerd.id() as i32), libc::SIGKILL) };
        let _ = self.dockerd.wait();
        if let Some(veth) = &self.veth {
            let _ = Command::new("ip").args(["link", "delete", veth]).output();
        }
        let _ = Command::new("ip").args(["netns", "delete", &self.netns]).output();
        let _ = Command::new("umount").arg("-R").arg(self.dir.join("data")).output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A `docker-registry` on 127.0.0.1:5000 inside an engine's namespace: that
/// engine's own registry (a loopback registry needs no TLS), at the address
/// every engine sees its own at.
pub struct NsRegistry {
    child: Child,
    _dir: tempfile::TempDir,
}

impl Engine {
    pub fn registry(&self) -> NsRegistry {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config.yml");
        let yaml = format!("version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:5000\n", dir.path().join("data").display());
        std::fs::write(&config, yaml).unwrap();
        let netns = format!("--net=/var/run/netns/{}", self.netns);
        let child = Command::new("nsenter").arg(&netns).arg("docker-registry").arg("serve").arg(&config).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("docker-registry (scripts/setup installs it)");
        let started = Instant::now();
        let probe = "import socket; socket.create_connection(('127.0.0.1', 5000), 1)";
        while !Command::new("nsenter").arg(&netns).args(["/usr/bin/python3", "-c", probe]).stderr(Stdio::null()).status().unwrap().success() {
            assert!(started.elapsed() < Duration::from_secs(20), "docker-registry did not listen in {}", self.netns);
            std::thread::sleep(Duration::from_millis(100));
        }
        NsRegistry { child, _dir: dir }
    }

    /// Kills the engine at once (dockerd and containerd, no shutdown): a
    /// host lost mid-way. Dropping it still cleans up.
    pub fn kill(&mut self) {
        unsafe { libc::kill(-(self.dockerd.id() as i32), libc::SIGKILL) };
        let _ = self.dockerd.wait();
    }

    /// Tags `image` (on this engine) as `reference` and pushes it to this engine's registry.
    pub fn push(&self, image: &str, reference: &str) {
        for args in [vec!["tag", image, reference], vec!["push", "--quiet", reference]] {
            let out = self.docker(&args);
            assert!(out.status.success(), "docker {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
        }
    }
}

impl Drop for NsRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An sshd on a loopback port whose sessions reach `docker_host`, with a
/// client key and a known_hosts entry made for it, and an ssh configuration
/// file that uses them (`ssh_config` of a host in bosun.toml).
pub struct Sshd {
    pub port: u16,
    pub ssh_config: PathBuf,
    pub known_hosts: PathBuf,
    child: Child,
    _dir: tempfile::TempDir,
}

fn keygen(path: &Path) {
    run("ssh-keygen", &["-q", "-t", "ed25519", "-N", "", "-f", &path.to_string_lossy()]);
}

impl Sshd {
    pub fn start(docker_host: &str) -> Sshd {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        keygen(&d.join("host_key"));
        keygen(&d.join("id"));
        std::fs::copy(d.join("id.pub"), d.join("authorized_keys")).unwrap();
        std::fs::create_dir_all("/run/sshd").unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let config = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\nAuthorizedKeysFile {d}/authorized_keys\nPidFile {d}/sshd.pid\n\
             StrictModes no\nUsePAM no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\n\
             SetEnv DOCKER_HOST={docker_host}\nLogLevel ERROR\n",
            d = d.display()
        );
        std::fs::write(d.join("sshd_config"), config).unwrap();
        let child = Command::new("/usr/sbin/sshd").arg("-D").arg("-e").arg("-f").arg(d.join("sshd_config")).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("/usr/sbin/sshd (scripts/setup installs openssh-server)");
        let host_key = std::fs::read_to_string(d.join("host_key.pub")).unwrap();
        let known_hosts = d.join("known_hosts");
        std::fs::write(&known_hosts, format!("[127.0.0.1]:{port} {host_key}")).unwrap();
        let ssh_config = d.join("ssh_config");
        std::fs::write(&ssh_config, format!("Host *\n  IdentityFile {d}/id\n  IdentitiesOnly yes\n  UserKnownHostsFile {}\n", known_hosts.display(), d = d.display())).unwrap();
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < Duration::from_secs(20), "sshd did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Sshd { port, ssh_config, known_hosts, child, _dir: dir }
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether the host engine's bridge is still there (an engine started in
/// the host's namespace would have taken it).
pub fn docker0_is_there() -> bool {
    Command::new("ip").args(["link", "show", "docker0"]).output().is_ok_and(|o| o.status.success())
}

/// A CPU budget (a cgroup of the v1 `cpu` controller) for the processes put
/// in it and those they start: an engine capped so has one host's CPU,
/// however many engines share this machine. Removed when dropped.
pub struct CpuCap {
    dir: PathBuf,
}

const CPU_CGROUPS: &str = "/sys/fs/cgroup/cpu";

impl CpuCap {
    /// At most `cores` of CPU time per wall-clock second.
    pub fn new(cores: f64) -> CpuCap {
        static MADE: AtomicUsize = AtomicUsize::new(0);
        let dir = Path::new(CPU_CGROUPS).join(format!("bosun-cap-{}-{}", std::process::id(), MADE.fetch_add(1, Ordering::SeqCst)));
        std::fs::create_dir(&dir).unwrap_or_else(|e| panic!("{}: {e} (a cgroup v1 cpu controller is needed to give each engine one host's CPU)", dir.display()));
        std::fs::write(dir.join("cpu.cfs_period_us"), "100000").unwrap();
        std::fs::write(dir.join("cpu.cfs_quota_us"), ((cores * 100_000.0) as u64).to_string()).unwrap();
        CpuCap { dir }
    }

    /// The engine's dockerd and containerd (its process group), and whatever they start from now on.
    pub fn hold(&self, engine: &Engine) {
        let group = engine.dockerd.id() as i32;
        let members = std::fs::read_dir("/proc").unwrap().filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok()).filter(|pid| unsafe { libc::getpgid(*pid) } == group);
        members.for_each(|pid| self.hold_pid(pid as u32));
    }

    pub fn hold_pid(&self, pid: u32) {
        std::fs::write(self.dir.join("cgroup.procs"), pid.to_string()).unwrap_or_else(|e| panic!("moving {pid} into {}: {e}", self.dir.display()));
    }
}

impl Drop for CpuCap {
    fn drop(&mut self) {
        let held = std::fs::read_to_string(self.dir.join("cgroup.procs")).unwrap_or_default();
        for pid in held.split_whitespace() {
            let _ = std::fs::write(Path::new(CPU_CGROUPS).join("cgroup.procs"), pid);
        }
        let _ = std::fs::remove_dir(&self.dir);
    }
}

impl NsRegistry {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}
