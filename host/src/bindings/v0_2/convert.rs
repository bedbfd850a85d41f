//! Values of API 0.2 as 0.3 types and back. Most types kept their shape and
//! convert field by field; the ones 0.3 changed (times, digests, exit
//! statuses, docker states) are written out below, each saying what 0.2 gets.

use super as old;
use crate::bindings as new;
use crate::bindings::types::{Digest, ExitStatus};

/// A value of one API version as the other version's type.
pub trait Convert<T> {
    fn convert(self) -> T;
}

macro_rules! unchanged {
    ($($t:ty),*) => {$(
        impl Convert<$t> for $t {
            fn convert(self) -> $t {
                self
            }
        }
    )*};
}
unchanged!((), bool, u8, u16, u32, u64, i32, i64, f32, f64, String);

impl<A: Convert<B>, B> Convert<Vec<B>> for Vec<A> {
    fn convert(self) -> Vec<B> {
        self.into_iter().map(Convert::convert).collect()
    }
}

impl<A: Convert<B>, B> Convert<Option<B>> for Option<A> {
    fn convert(self) -> Option<B> {
        self.map(Convert::convert)
    }
}

impl<A: Convert<B>, B, E: Convert<F>, F> Convert<Result<B, F>> for Result<A, E> {
    fn convert(self) -> Result<B, F> {
        self.map(Convert::convert).map_err(Convert::convert)
    }
}

/// Enums and variants whose cases kept their names (and payloads), both ways.
macro_rules! same_cases {
    ($($a:ident::$ta:ident <=> $b:ident::$tb:ident { $($case:ident $(($x:ident))?),* };)*) => {$(
        impl Convert<$b::$tb> for $a::$ta {
            fn convert(self) -> $b::$tb {
                match self { $($a::$ta::$case $(($x))? => $b::$tb::$case $(($x.convert()))?),* }
            }
        }
        impl Convert<$a::$ta> for $b::$tb {
            fn convert(self) -> $a::$ta {
                match self { $($b::$tb::$case $(($x))? => $a::$ta::$case $(($x.convert()))?),* }
            }
        }
    )*};
}

/// Records whose fields kept their names (their types may have changed), both ways.
macro_rules! records {
    ($($a:ident::$ta:ident <=> $b:ident::$tb:ident { $($field:ident),* };)*) => {$(
        impl Convert<$b::$tb> for $a::$ta {
            fn convert(self) -> $b::$tb {
                $b::$tb { $($field: self.$field.convert()),* }
            }
        }
        impl Convert<$a::$ta> for $b::$tb {
            fn convert(self) -> $a::$ta {
                $a::$ta { $($field: self.$field.convert()),* }
            }
        }
    )*};
}

// Module aliases, so the tables below read as `old_x::T <=> new_x::T`.
use new::backup_types as new_backup;
use new::check_types as new_check;
use new::plugin_types as new_plugin;
use new::{docker as new_docker, fs as new_fs, log as new_log, net as new_net, notify as new_notify, process as new_process, types as new_types};
use old::{backup_types as old_backup, check_types as old_check, docker as old_docker, fs as old_fs, log as old_log, net as old_net, notify as old_notify};
use old::{process as old_process, types as old_types};

records! {
    old_types::Kv <=> new_types::Kv { key, value };
    old_types::RunContext <=> new_plugin::RunContext { project, env, run_id, dry_run, config };
    old_notify::Event <=> new_notify::Event { kind, severity, title, body, facts, link };
    old_notify::Channel <=> new_notify::Channel { name, url, params };
    old_net::TcpConnection <=> new_net::TcpConnection { address, connect_ms };
    old_fs::ArchiveRequest <=> new_fs::ArchiveRequest { sources, excludes, dest, compression, level, since_manifest, manifest_dest };
    old_fs::ArchiveResult <=> new_fs::ArchiveResult { archive, manifest, entries, deleted };
    old_process::RunOptions <=> new_process::RunOptions { cwd, env, stdin, stdout_to, timeout_ms };
    old_docker::PortBinding <=> new_docker::PortBinding { container_port, protocol, host_ip, host_port };
    old_docker::ContainerStats <=> new_docker::ContainerStats { cpu_percent, memory_bytes, memory_limit };
    old_check::ConditionResult <=> new_check::ConditionResult { condition, actual, passed, message };
    old_check::CheckResult <=> new_check::CheckResult { passed, summary, conditions, metrics, suggestion };
    old_backup::BackupRequest <=> new_backup::BackupRequest { set, kind, dest_dir, base_dir };
    old_backup::BackupResult <=> new_backup::BackupResult { artifacts, facts };
    old_backup::RestoreRequest <=> new_backup::RestoreRequest { backup_dir, target, base_dirs };
    old_backup::RestoreCheck <=> new_backup::RestoreCheck { checked, summary };
}

same_cases! {
    old_types::PluginError <=> new_plugin::PluginError { InvalidConfig(m), Denied(m), Failed(m), Skipped(m) };
    old_types::HostError <=> new_types::HostError { Denied(m), NotFound(m), Invalid(m), Failed(m), TimedOut(m) };
    old_log::Level <=> new_log::Level { Trace, Debug, Info, Warn, Error };
    old_notify::Severity <=> new_notify::Severity { Info, Success, Warning, Failure };
    old_fs::EntryKind <=> new_fs::EntryKind { File, Dir, Symlink, Other };
    old_fs::Compression <=> new_fs::Compression { None, Zstd, Gzip };
    old_process::DetachMethod <=> new_process::DetachMethod { Setsid, Nohup, Systemd };
    old_process::Matcher <=> new_process::Matcher { Name(x), Cmdline(x), Pidfile(x), Port(x) };
    old_backup::BackupKind <=> new_backup::BackupKind { Full, Incremental };
}

// What 0.3 changed.

/// 0.2 gave an artifact's sha256 as bare hex.
impl Convert<new_types::Artifact> for old_types::Artifact {
    fn convert(self) -> new_types::Artifact {
        new_types::Artifact { path: self.path, size: self.size, digest: Digest::sha256(self.sha256) }
    }
}

impl Convert<old_types::Artifact> for new_types::Artifact {
    fn convert(self) -> old_types::Artifact {
        old_types::Artifact { path: self.path, size: self.size, sha256: self.digest.hex }
    }
}

/// 0.2's exit code: the code, or -1 when killed by a signal or a timeout.
fn exit_code(status: ExitStatus) -> i32 {
    match status {
        ExitStatus::Code(code) => code,
        ExitStatus::Signal(_) | ExitStatus::TimedOut => -1,
    }
}

impl Convert<old_process::Output> for new_process::Output {
    fn convert(self) -> old_process::Output {
        old_process::Output {
            exit_code: exit_code(self.status),
            stdout: self.stdout,
            stdout_artifact: self.stdout_artifact.convert(),
            stderr_tail: self.stderr_tail,
            duration_ms: self.duration_ms,
        }
    }
}

impl Convert<old_process::ProcessInfo> for new_process::ProcessInfo {
    fn convert(self) -> old_process::ProcessInfo {
        old_process::ProcessInfo {
            pid: self.pid,
            name: self.name,
            cmdline: self.cmdline,
            cpu_percent: self.cpu_percent,
            rss_bytes: self.rss_bytes,
            started_at_ms: self.started_at,
        }
    }
}

impl Convert<old_fs::Entry> for new_fs::Entry {
    fn convert(self) -> old_fs::Entry {
        old_fs::Entry {
            path: self.path,
            kind: self.kind.convert(),
            size: self.size,
            mtime_ms: self.mtime,
            mode: self.mode,
            link_target: self.link_target,
        }
    }
}

/// 0.2's certificate validity was in seconds.
impl Convert<old_net::Certificate> for new_net::Certificate {
    fn convert(self) -> old_net::Certificate {
        old_net::Certificate {
            subject: self.subject,
            issuer: self.issuer,
            names: self.names,
            not_before: self.not_before.div_euclid(1000),
            not_after: self.not_after.div_euclid(1000),
            untrusted: self.untrusted,
        }
    }
}

/// 0.2 gave creation times in seconds.
fn seconds(timestamp_ms: i64) -> i64 {
    timestamp_ms.div_euclid(1000)
}

/// 0.2 gave a start time as RFC 3339 text, empty when never started.
fn rfc3339(timestamp_ms: Option<i64>) -> String {
    timestamp_ms.and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok()).map(|t| t.to_string()).unwrap_or_default()
}

impl Convert<old_docker::ContainerSummary> for new_docker::ContainerSummary {
    fn convert(self) -> old_docker::ContainerSummary {
        old_docker::ContainerSummary {
            id: self.id,
            name: self.name,
            image: self.image,
            image_id: self.image_id,
            state: self.state.as_str().into(),
            status: self.status,
            labels: self.labels.convert(),
            created: seconds(self.created),
        }
    }
}

impl Convert<old_docker::Mount> for new_docker::Mount {
    fn convert(self) -> old_docker::Mount {
        old_docker::Mount { kind: self.kind.as_str().into(), source: self.source, destination: self.destination, read_only: self.read_only }
    }
}

impl Convert<old_docker::ContainerDetails> for new_docker::ContainerDetails {
    fn convert(self) -> old_docker::ContainerDetails {
        old_docker::ContainerDetails {
            id: self.id,
            name: self.name,
            image: self.image,
            image_id: self.image_id,
            status: self.state.as_str().into(),
            running: self.running,
            health: self.health.map(|health| health.as_str().into()),
            exit_code: self.exit_code.into(),
            restart_count: self.restart_count,
            started_at: rfc3339(self.started_at),
            labels: self.labels.convert(),
            env: self.env,
            mounts: self.mounts.convert(),
            ports: self.ports.convert(),
            networks: self.networks,
        }
    }
}

impl Convert<old_docker::ImageSummary> for new_docker::ImageSummary {
    fn convert(self) -> old_docker::ImageSummary {
        old_docker::ImageSummary {
            id: self.id,
            repo_tags: self.repo_tags,
            repo_digests: self.repo_digests,
            size: self.size,
            created: seconds(self.created),
            labels: self.labels.convert(),
        }
    }
}

impl Convert<old_docker::ExecStatus> for new_docker::ExecStatus {
    fn convert(self) -> old_docker::ExecStatus {
        old_docker::ExecStatus {
            exit_code: exit_code(self.status).into(),
            stdout_artifact: self.stdout_artifact.convert(),
            stdout: self.stdout,
            stderr_tail: self.stderr_tail,
        }
    }
}

/// 0.2 gave a registry digest as `sha256:hex`, and a file's hash as bare hex.
pub fn digest_reference(digest: Digest) -> String {
    format!("{}:{}", digest.algorithm, digest.hex)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_statuses_read_as_0_2_exit_codes() {
        assert_eq!(exit_code(ExitStatus::Code(3)), 3);
        assert_eq!(exit_code(ExitStatus::Signal(9)), -1);
        assert_eq!(exit_code(ExitStatus::TimedOut), -1);
    }

    #[test]
    fn times_read_as_0_2_seconds_and_rfc3339() {
        assert_eq!(seconds(1_700_000_000_999), 1_700_000_000);
        assert_eq!(seconds(-1), -1);
        assert_eq!(rfc3339(Some(1_700_000_000_000)), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(None), "");
    }

    #[test]
    fn artifacts_keep_their_sha256_both_ways() {
        let old = old_types::Artifact { path: "/b/a.tar".into(), size: 3, sha256: "ab".into() };
        let new: new_types::Artifact = old.clone().convert();
        assert_eq!((new.digest.algorithm.as_str(), new.digest.hex.as_str()), ("sha256", "ab"));
        let back: old_types::Artifact = new.convert();
        assert_eq!(back.sha256, old.sha256);
    }
}
