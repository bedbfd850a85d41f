//! A project directory with a bosun.toml, and the real `bosun` binary run in it.

use std::path::PathBuf;
use std::process::{Command, Output};

pub struct Project {
    pub dir: tempfile::TempDir,
}

impl Project {
    pub fn new(config: &str) -> Project {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("bosun.toml"), config).unwrap();
        Project { dir }
    }

    pub fn path(&self) -> PathBuf {
        self.dir.path().canonicalize().unwrap()
    }

    pub fn bosun(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    /// The `bosun` command, not yet run (to start it in the background).
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_bosun"));
        command.args(args).current_dir(self.dir.path()).env_remove("BOSUN_CONFIG");
        command
    }

    pub fn lockfile(&self) -> Option<String> {
        std::fs::read_to_string(self.dir.path().join(".bosun/plugins.lock")).ok()
    }

    pub fn write(&self, name: &str, bytes: &[u8]) -> String {
        let path = self.dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path.display().to_string()
    }
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}
