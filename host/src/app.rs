//! What every command needs: the loaded config, the plugin runtime, and plugin
//! lookup (installed first, then built-in).

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use anyhow::{Context, Result, anyhow};

use crate::capability::tls::Trust;
use crate::capability::{GrantSpec, Policy, ProgressSink};
use crate::config::{self, Config};
use crate::bindings::plugin_types::RunContext;
use crate::plugin::store::PluginStore;
use crate::state::{State, StateError};
use crate::plugin::{CallSetup, Limits, Manifest, Plugin, Runtime, builtin};

pub struct App {
    pub config: Config,
    runtime: OnceLock<Runtime>,
    state: OnceLock<State>,
    /// Where plugin calls' progress is shown (the CLI's bar), if anywhere.
    progress: Mutex<Option<ProgressSink>>,
}

impl App {
    pub fn load(path: Option<PathBuf>) -> Result<App, config::ConfigError> {
        let explicit = path.is_some();
        let path = path.unwrap_or_else(|| PathBuf::from(config::DEFAULT_FILE));
        let config = Config::load(&path, explicit)?;
        // bosun's own state is out of every plugin's reach, whatever the grants say.
        crate::capability::fs::protect(&config.state_dir());
        Ok(App { config, runtime: OnceLock::new(), state: OnceLock::new(), progress: Mutex::new(None) })
    }

    pub fn state_dir(&self) -> PathBuf {
        self.config.state_dir()
    }

    pub fn store(&self) -> PluginStore {
        PluginStore::open(&self.state_dir())
    }

    pub fn runtime(&self) -> Result<&Runtime> {
        if let Some(runtime) = self.runtime.get() {
            return Ok(runtime);
        }
        let runtime = Runtime::new(self.state_dir().join("cache/compiled"))?;
        Ok(self.runtime.get_or_init(|| runtime))
    }

    /// Shows the progress plugins report from now on with `sink` (none: not shown).
    pub fn show_progress(&self, sink: Option<ProgressSink>) {
        *self.progress.lock().expect("progress lock") = sink;
    }

    /// The SQLite state store, opened on first use.
    pub fn state(&self) -> Result<&State, StateError> {
        if let Some(state) = self.state.get() {
            return Ok(state);
        }
        let state = State::open(&self.state_dir())?;
        Ok(self.state.get_or_init(|| state))
    }

    /// The plugin called `name`: installed, else built in.
    pub fn plugin(&self, name: &str) -> Result<Arc<Plugin>> {
        let (bytes, origin) = self.component(name)?;
        Ok(self.runtime()?.load(&bytes, &origin)?)
    }

    /// The manifest of the plugin called `name` (nothing compiled).
    pub fn manifest(&self, name: &str) -> Result<Manifest> {
        let (bytes, origin) = self.component(name)?;
        Ok(Manifest::read(&bytes, &origin)?)
    }

    /// The component of the plugin called `name` and where it comes from:
    /// installed, else built in.
    fn component(&self, name: &str) -> Result<(Cow<'static, [u8]>, String)> {
        Ok(match self.store().read(name)? {
            Some(bytes) => (Cow::Owned(bytes), format!("installed plugin {name}")),
            None => (
                Cow::Borrowed(builtin_bytes(name).ok_or_else(|| anyhow!("no plugin called {name}: `bosun plugin list` shows the installed and built-in ones"))?),
                format!("built-in plugin {name}"),
            ),
        })
    }

    /// The call setup for `plugin` configured by `settings` (a bosun.toml table).
    pub fn setup(&self, plugin: &Plugin, settings: &toml::Table, dry_run: bool) -> Result<CallSetup> {
        let name = &plugin.manifest.name;
        let plugin_settings = self.config.plugin_settings(name);
        let granted = plugin_settings.map(|s| s.grant.clone()).unwrap_or_default();
        let mut policy = Policy::new(name, &plugin.manifest.capabilities, &granted).map_err(|e| anyhow!(e))?;
        if let Some(settings) = plugin_settings {
            policy.tls = Trust::load(&settings.tls, |p| self.config.resolve(p)).map_err(|e| anyhow!("[plugins.{name}.tls] {e}"))?;
        }
        let mut limits = Limits::default();
        if let Some(ms) = plugin_settings.and_then(|s| s.timeout_ms) {
            limits.timeout = Duration::from_millis(ms);
        }
        if let Some(mib) = plugin_settings.and_then(|s| s.memory_mib) {
            limits.memory_bytes = (mib as usize) << 20;
        }
        Ok(CallSetup {
            context: RunContext {
                project: self.config.project.name.clone(),
                env: self.config.project.env.clone(),
                // Set by `CallSetup::for_run` for a call that is part of a run.
                run_id: String::new(),
                dry_run,
                config: config::table_to_json(settings),
            },
            policy: Arc::new(policy),
            limits,
            progress: self.progress.lock().expect("progress lock").clone(),
        })
    }

    /// [`App::setup`] plus fs grants for this call only: the directories bosun
    /// itself hands the plugin (a backup's directory, a restore target).
    pub fn setup_with_paths(&self, plugin: &Plugin, settings: &toml::Table, dry_run: bool, writes: &[PathBuf], reads: &[PathBuf]) -> Result<CallSetup> {
        let mut setup = self.setup(plugin, settings, dry_run)?;
        let entries: Vec<String> = writes
            .iter()
            .map(|p| format!("rw:{}", p.display()))
            .chain(reads.iter().map(|p| format!("ro:{}", p.display())))
            .collect();
        let policy = (*setup.policy).clone().with_call_paths(&entries).map_err(|e| anyhow!(e))?;
        setup.policy = Arc::new(policy);
        Ok(setup)
    }

    /// What the operator granted `plugin` in bosun.toml.
    pub fn granted(&self, plugin: &str) -> GrantSpec {
        self.config.plugin_settings(plugin).map(|s| s.grant.clone()).unwrap_or_default()
    }
}

/// Manifests of the built-in plugins.
pub fn builtin_manifests() -> impl Iterator<Item = &'static Manifest> {
    builtin::manifests()
}

pub fn builtin_bytes(name: &str) -> Option<&'static [u8]> {
    builtin::bytes(name)
}

/// Reads a plugin file given on the command line.
pub fn read_plugin_file(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("{}: cannot read the plugin file", path.display()))
}
