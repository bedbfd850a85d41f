//! What a release will do, computed before anything is touched: the image,
//! the container, what it replaces and in which order, how health is judged,
//! and what retention removes afterwards. Every refusal (missing image, port
//! bound elsewhere, name taken) happens here, so a refused release has
//! stopped nothing. The plan is a pure function of its target, a
//! [`Snapshot`] of the engine and host, and [`PlanOptions`]: it asks nothing
//! while it decides.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::Serialize;

use super::preflight::{self, Needs};
use super::snapshot::{Image, Managed, Snapshot};
use super::spec::{ContainerSpec, label};
use crate::config::{Service, parse_duration};
use crate::failure::Failure;
use crate::state::ReleaseKind;

/// What to release: a service's config at a version, from bosun.toml (deploy)
/// or from a release record (rollback).
pub struct Target {
    pub service_name: String,
    pub service: Service,
    pub version: String,
    pub kind: ReleaseKind,
    /// Rollback: the image id the recorded release ran.
    pub pinned_image: Option<String>,
    /// Rollback: the recorded release.
    pub from_release: Option<i64>,
    /// Rollback: the container that release ran, started again if it was kept.
    pub kept_container: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Order {
    /// The new container starts while the old one still serves.
    StartFirst,
    /// The old container stops first: they would both bind the same host port.
    StopFirst,
}

#[derive(Debug, Clone, Serialize)]
pub struct HealthPlan {
    /// The image's or the service's Docker healthcheck decides.
    pub docker_healthcheck: bool,
    /// `[checks.*]` that must pass too.
    pub checks: Vec<String>,
    pub timeout_ms: u64,
}

impl fmt::Display for HealthPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut how = vec![if self.docker_healthcheck { "the Docker healthcheck".to_string() } else { "the container running".to_string() }];
        how.extend(self.checks.iter().map(|c| format!("check {c}")));
        write!(f, "{} within {}s", how.join(" + "), self.timeout_ms / 1000)
    }
}

/// A container whose name the new one needs, renamed out of the way.
#[derive(Debug, Clone, Serialize)]
pub struct SetAside {
    pub container: Managed,
    pub renamed_to: String,
}

/// What every release records, whatever its strategy.
#[derive(Debug, Clone, Serialize)]
pub struct ReleaseFacts {
    pub service: String,
    pub env: String,
    pub version: String,
    pub kind: ReleaseKind,
    /// `repo:version`.
    pub image: String,
    pub image_id: String,
    pub config_hash: String,
    /// The service's bosun.toml table as JSON (env-file values not included).
    #[serde(skip)]
    pub service_config: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct DeployPlan {
    #[serde(flatten)]
    pub facts: ReleaseFacts,
    pub container: ContainerSpec,
    /// Rollback: the kept container started again instead of creating one.
    pub reuse: Option<Managed>,
    /// The running containers the release replaces (stopped, kept for rollback).
    pub replaces: Vec<Managed>,
    pub set_aside: Option<SetAside>,
    pub order: Order,
    pub health: HealthPlan,
    /// Replaced containers beyond `retain`, removed after a successful release.
    pub remove: Vec<Managed>,
    pub stop_timeout: u32,
    #[serde(skip)]
    pub from_release: Option<i64>,
    /// The running container that already is what this release would create
    /// (same version, image and config): nothing is done unless forced.
    pub unchanged: Option<Managed>,
}

impl DeployPlan {
    /// bosun's labels on the new container.
    pub fn labels(&self, project: &str, release: i64) -> BTreeMap<&'static str, String> {
        BTreeMap::from([
            (label::PROJECT, project.to_string()),
            (label::SERVICE, self.facts.service.clone()),
            (label::ENV, self.facts.env.clone()),
            (label::VERSION, self.facts.version.clone()),
            (label::RELEASE, release.to_string()),
            (label::CONFIG_HASH, self.facts.config_hash.clone()),
        ])
    }
}

/// Why a release is refused while it is planned, before anything changed:
/// the one line the operator reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal(pub String);

impl Refusal {
    /// `scope: problem`, and the promise that matters most.
    pub fn new(scope: &str, problem: &str) -> Refusal {
        Refusal(format!("{scope}: {problem}; nothing was changed"))
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<Refusal> for Failure {
    fn from(refusal: Refusal) -> Failure {
        Failure::bad_input(refusal.0)
    }
}

/// The labels that select a service's containers in a project and env.
pub fn service_labels(project: &str, env: &str, service: &str) -> BTreeMap<&'static str, String> {
    BTreeMap::from([(label::PROJECT, project.to_string()), (label::SERVICE, service.to_string()), (label::ENV, env.to_string())])
}

/// What a plan needs besides its target and the snapshot.
#[derive(Debug, Clone)]
pub struct PlanOptions {
    pub project: String,
    pub env: String,
    /// bosun.toml's directory, absolute: relative env files and bind sources are under it.
    pub config_dir: PathBuf,
    /// The new container's name, as the naming plugin rendered it; not used
    /// when a kept container is started again.
    pub name: String,
    /// Recreate the container even when the version already runs unchanged.
    pub force: bool,
}

impl PlanOptions {
    pub fn scope(&self, target: &Target) -> String {
        format!("{}@{}", target.service_name, self.env)
    }
}

/// The image a release creates its container from, and that image: the
/// tag's, or for a rollback the recorded one even when the tag has moved on.
pub fn image<'a>(target: &Target, snapshot: &'a Snapshot, options: &PlanOptions) -> Result<(String, &'a Image), Refusal> {
    let scope = options.scope(target);
    let image = format!("{}:{}", target.service.image, target.version);
    let local = snapshot.images.get(&image);
    match (&target.pinned_image, local) {
        (Some(pinned), Some(local)) if *pinned == local.id => Ok((image, local)),
        (Some(pinned), _) => match snapshot.images.get(pinned) {
            Some(info) => Ok((pinned.clone(), info)),
            None => Err(Refusal::new(&scope, &format!("the image {image} ({pinned}) of that release is no longer on this machine; pull it with `bosun images pull {image}` if the registry still has it"))),
        },
        (None, Some(local)) => Ok((image, local)),
        (None, None) => Err(Refusal::new(&scope, &format!("image {image} is not on this machine; pull it with `bosun images pull {image}`"))),
    }
}

/// Rollback: the kept container of the recorded release, when it is still there.
pub fn kept(target: &Target, snapshot: &Snapshot, options: &PlanOptions) -> Option<Managed> {
    let id = target.kept_container.as_ref()?;
    snapshot.managed(&service_labels(&options.project, &options.env, &target.service_name)).into_iter().find(|m| m.id == *id)
}

/// The plan for `target`, from `snapshot` alone: every refusal is found here.
pub fn plan(target: Target, snapshot: &Snapshot, options: &PlanOptions) -> Result<DeployPlan, Refusal> {
    let scope = options.scope(&target);
    let (create_from, image_info) = image(&target, snapshot, options)?;
    let reuse = kept(&target, snapshot, options);
    let Target { service_name, service, version, kind, from_release, .. } = target;
    let env = options.env.clone();
    let image = format!("{}:{version}", service.image);
    let image_id = image_info.id.clone();

    let managed = snapshot.managed(&service_labels(&options.project, &env, &service_name));
    if let Some(kept) = reuse.as_ref().filter(|k| k.running) {
        return Err(Refusal::new(&scope, &format!("it already runs release {} (version {}, container {})", from_release.unwrap_or_default(), kept.version, kept.name)));
    }
    let name = reuse.as_ref().map_or_else(|| options.name.clone(), |kept| kept.name.clone());
    let set_aside = match (&reuse, snapshot.named(&name)) {
        (None, Some(existing)) => {
            let Some(ours) = managed.iter().find(|m| m.id == existing.id).cloned() else {
                return Err(Refusal::new(&scope, &format!("container name {name} is taken by a container bosun does not manage for {scope}; rename or remove it, or change [naming].template")));
            };
            let renamed_to = format!("{name}-r{}", ours.release.map_or_else(|| ours.short_id().to_string(), |r| r.to_string()));
            Some(SetAside { container: ours, renamed_to })
        }
        _ => None,
    };

    let container = ContainerSpec::build(&service, &name, &create_from, &options.config_dir, &snapshot.env_files).map_err(|e| Refusal::new(&scope, &format!("{e:#}")))?;
    let config_hash = container.config_hash();
    let replaces: Vec<Managed> = managed.iter().filter(|m| m.running).cloned().collect();
    // As `docker compose up`: the same version from the same image with the same config is left alone.
    let unchanged = replaces.iter().find(|m| reuse.is_none() && m.version == version && m.image_id == image_id && m.config_hash == config_hash);
    let unchanged = unchanged.filter(|_| !options.force).cloned();
    let needs = Needs { service: &service_name, spec: &container, image: &image, image_info, replaces: &replaces };
    let problems = if unchanged.is_some() { vec![] } else { preflight::problems(snapshot, &needs) };
    if !problems.is_empty() {
        return Err(Refusal::new(&scope, &problems.join("; ")));
    }
    let order = if !container.fixed_host_ports().is_empty() && !replaces.is_empty() { Order::StopFirst } else { Order::StartFirst };

    let service_healthcheck = container.healthcheck.as_ref();
    let docker_healthcheck = service_healthcheck.or(image_info.healthcheck.as_ref()).is_some_and(|test| test.first().is_some_and(|t| t != "NONE"));
    let timeout = parse_duration(&service.health_timeout).map_err(Refusal)?;
    let health = HealthPlan { docker_healthcheck, checks: service.checks.clone(), timeout_ms: timeout.as_millis() as u64 };

    // After the release every other managed container is stopped; the newest `retain` stay.
    let keep_id = reuse.as_ref().map(|k| k.id.clone());
    let remove = managed.iter().filter(|m| Some(&m.id) != keep_id.as_ref()).skip(service.retain).cloned().collect();

    let service_config = serde_json::to_string(&service).expect("a service serializes");
    Ok(DeployPlan {
        facts: ReleaseFacts { service: service_name, env, version, kind, image, image_id, config_hash, service_config },
        container,
        reuse,
        replaces,
        set_aside,
        order,
        health,
        remove,
        stop_timeout: service.stop_timeout,
        from_release,
        unchanged,
    })
}

impl fmt::Display for DeployPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let short = |id: &str| id.trim_start_matches("sha256:").chars().take(12).collect::<String>();
        let facts = &self.facts;
        writeln!(f, "{} {} {} ({})", facts.kind.as_str(), facts.service, facts.version, facts.env)?;
        writeln!(f, "  image     {} ({})", facts.image, short(&facts.image_id))?;
        if let Some(kept) = &self.reuse {
            writeln!(f, "  start     {} (kept from release {})", kept.name, self.from_release.unwrap_or_default())?;
        } else {
            let ports: Vec<String> = self.container.ports.iter().map(ToString::to_string).collect();
            let ports = if ports.is_empty() { String::new() } else { format!(", ports {}", ports.join(" ")) };
            writeln!(f, "  create    {} (config {}{ports})", self.container.name, &facts.config_hash[..12])?;
        }
        match &self.set_aside {
            Some(aside) if aside.container.running && aside.container.version == facts.version => {
                let old = &aside.container;
                let why = match (old.image_id == facts.image_id, old.config_hash == facts.config_hash) {
                    (false, _) => "the image changed",
                    (true, false) => "the config changed",
                    (true, true) => "--force",
                };
                writeln!(f, "  redeploy  version {} already runs as {}; {why}: it is renamed to {} and replaced", facts.version, old.name, aside.renamed_to)?;
            }
            Some(aside) => writeln!(f, "  rename    {} -> {} (its name is reused)", aside.container.name, aside.renamed_to)?,
            None => {}
        }
        let order = match self.order {
            Order::StartFirst => "start new, then stop old",
            Order::StopFirst => "stop old, then start new (they publish the same host port)",
        };
        writeln!(f, "  order     {order}")?;
        for old in &self.replaces {
            writeln!(f, "  stop      {} (version {}), kept for rollback", old.name, old.version)?;
        }
        writeln!(f, "  healthy   {}", self.health)?;
        for old in &self.remove {
            writeln!(f, "  remove    {} (version {}), beyond retain", old.name, old.version)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
