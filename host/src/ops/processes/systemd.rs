//! Detaching through systemd, where it is init and bosun runs as root:
//! `systemd-run` makes the transient unit `bosun-<service>.service`, which
//! systemd runs in a cgroup of its own; `--collect` unloads it once it ends.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use super::Launch;
use crate::failure::Failure;

/// Whether systemd is init here (sd_booted(3)'s test) and bosun may ask it
/// for system units (root). Otherwise services get a session of their own.
pub fn manages_services() -> bool {
    // SAFETY: geteuid has no preconditions.
    Path::new("/run/systemd/system").is_dir() && unsafe { libc::geteuid() } == 0
}

pub fn unit_name(service: &str) -> String {
    format!("bosun-{service}.service")
}

/// Starts the program as a transient unit and returns its main pid.
pub fn start(launch: &Launch) -> Result<u32, Failure> {
    let unit = unit_name(launch.name);
    // The environment goes to systemd in a file only root reads, removed once
    // the unit has started: never on a command line or in a unit's
    // properties, which any user can read (`systemctl show`).
    // systemd takes absolute paths only; the state directory may be relative to bosun.toml's.
    let absolute = |path: &Path| std::path::absolute(path).map_err(|e| Failure::failed(format!("{}: {e}", path.display())));
    let env_file = absolute(&launch.run_dir.join(format!("{}.env", launch.name)))?;
    write_private(&env_file, environment_file(&launch.env)?.as_bytes())?;
    let (log, workdir) = (absolute(launch.log)?, absolute(&launch.workdir)?);
    let log = log.display();
    let mut command = Command::new("systemd-run");
    command
        .args(["--unit", &unit, "--collect", "--quiet", "--service-type=exec"])
        .arg(format!("--working-directory={}", workdir.display()))
        .arg(format!("--property=EnvironmentFile={}", env_file.display()))
        .arg(format!("--property=StandardOutput=append:{log}"))
        .arg(format!("--property=StandardError=append:{log}"))
        .arg(format!("--property=TimeoutStopSec={}", launch.stop_timeout));
    if let Some(user) = &launch.user {
        command.arg(format!("--uid={}", user.name));
    }
    // With --service-type=exec it returns once the program has been executed, so the file has been read.
    let ran = command.arg("--").args(launch.argv).output();
    let _ = std::fs::remove_file(&env_file);
    let ran = ran.map_err(|e| Failure::failed(format!("starting {} as {unit}: systemd-run: {e}", launch.name)))?;
    if !ran.status.success() {
        let said = String::from_utf8_lossy(&ran.stderr).trim().replace('\n', "; ");
        let hint = match said.contains("already loaded") {
            true => format!(": systemd has a unit of that name already (`systemctl status {unit}`), perhaps another bosun project's; stop it there"),
            false => String::new(),
        };
        return Err(Failure::failed(format!("starting {} as {unit}: {said}{hint}", launch.name)));
    }
    std::thread::sleep(Duration::from_millis(200));
    main_pid(&unit).ok_or_else(|| launch.ended_at_once())
}

/// Signals every process in the unit's cgroup, also those that left its process group.
pub fn signal(unit: &str, signal: i32) {
    let name = match signal {
        libc::SIGKILL => "SIGKILL",
        _ => "SIGTERM",
    };
    let _ = Command::new("systemctl").args(["kill", "--signal", name, unit]).output();
}

/// The unit's main pid, while it runs.
fn main_pid(unit: &str) -> Option<u32> {
    let shown = Command::new("systemctl").args(["show", "--property=MainPID", "--value", unit]).output().ok()?;
    String::from_utf8_lossy(&shown.stdout).trim().parse().ok().filter(|pid| *pid != 0)
}

/// systemd's EnvironmentFile format: each value double-quoted, with `\`, `"`,
/// `$` and `` ` `` escaped, so it arrives exactly as given.
fn environment_file(env: &[(String, String)]) -> Result<String, Failure> {
    let mut file = String::new();
    for (key, value) in env {
        let valid = key.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_') && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(Failure::bad_input(format!("environment variable {key:?}: not a name systemd accepts (letters, digits and _, not starting with a digit); rename it in env or env_files")));
        }
        if value.contains('\0') {
            return Err(Failure::bad_input(format!("environment variable {key}: its value holds a NUL character, which no program's environment can; remove it")));
        }
        let mut quoted = String::with_capacity(value.len() + 2);
        for c in value.chars() {
            if matches!(c, '\\' | '"' | '$' | '`') {
                quoted.push('\\');
            }
            quoted.push(c);
        }
        file.push_str(&format!("{key}=\"{quoted}\"\n"));
    }
    Ok(file)
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), Failure> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let failed = |e: std::io::Error| Failure::failed(format!("{}: {e}", path.display()));
    // Removed first, then made anew (never through a link put in its place): a file left from before would keep its mode.
    let _ = std::fs::remove_file(path);
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path).map_err(failed)?;
    file.write_all(bytes).map_err(failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_quoted_so_systemd_reads_them_back_exactly() {
        let env = [("A".to_string(), "say \"hi\" \\ $HOME `id`\nnext".to_string()), ("_B2".to_string(), String::new())];
        assert_eq!(environment_file(&env).unwrap(), "A=\"say \\\"hi\\\" \\\\ \\$HOME \\`id\\`\nnext\"\n_B2=\"\"\n");
        for bad in ["2X", "A-B", "", "A\nB=1"] {
            let refused = environment_file(&[(bad.to_string(), "v".to_string())]).unwrap_err();
            assert!(refused.message.contains("not a name systemd accepts"), "{}", refused.message);
        }
        assert!(environment_file(&[("A".to_string(), "x\0y".to_string())]).unwrap_err().message.contains("NUL"));
    }
}
