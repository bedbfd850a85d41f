//! The built-in steps a pipeline step can `use`: for each, the arguments its
//! `with` table takes and the outputs later steps can read. Validation checks
//! `with` against this; the executor (`crate::pipeline`) maps each name to
//! the same code as its CLI verb.

/// What an argument holds; a string with `${{ }}` may stand for any of them
/// (checked when the step runs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgKind {
    Text,
    Int,
    Bool,
    /// A duration like `30s` or `1h30m`.
    Duration,
    /// A list of strings.
    List,
    /// A table of strings (environment variables).
    Table,
    /// The name of a `[services.*]` table.
    Service,
    /// The name of a `[backups.*]` table.
    BackupSet,
    /// Names of `[checks.*]` or `[suites]` entries.
    Checks,
    /// Names of `[notify.*]` channels.
    Channels,
    /// The name of a `[pipelines.*]` table.
    Pipeline,
}

impl ArgKind {
    /// What a value of this kind is, for messages.
    pub fn words(self) -> &'static str {
        match self {
            ArgKind::Text | ArgKind::Service | ArgKind::BackupSet | ArgKind::Pipeline => "a string",
            ArgKind::Int => "a whole number",
            ArgKind::Bool => "true or false",
            ArgKind::Duration => "a duration such as \"30s\"",
            ArgKind::List | ArgKind::Checks | ArgKind::Channels => "a list of strings",
            ArgKind::Table => "a table of strings",
        }
    }
}

#[derive(Debug)]
pub struct Arg {
    pub name: &'static str,
    pub kind: ArgKind,
    pub required: bool,
}

#[derive(Debug)]
pub struct BuiltinStep {
    pub name: &'static str,
    pub args: &'static [Arg],
    pub outputs: &'static [&'static str],
    /// Whether it may set outputs of any name besides those (`command`'s
    /// `key=value` lines in `$BOSUN_OUTPUT`).
    pub any_output: bool,
    /// Whether, told of a timeout or Ctrl-C, it is awaited while it undoes
    /// what it did (a half-done rollout is rolled back); other steps are
    /// dropped at once.
    pub winds_down: bool,
}

impl BuiltinStep {
    pub fn arg(&self, name: &str) -> Option<&Arg> {
        self.args.iter().find(|a| a.name == name)
    }
}

const fn arg(name: &'static str, kind: ArgKind) -> Arg {
    Arg { name, kind, required: false }
}

const fn required(name: &'static str, kind: ArgKind) -> Arg {
    Arg { name, kind, required: true }
}

use ArgKind::*;

pub const BUILTIN_STEPS: &[BuiltinStep] = &[
    BuiltinStep {
        name: "backup",
        args: &[required("set", BackupSet), arg("incremental", Bool), arg("tags", List)],
        outputs: &["id", "dir", "bytes", "skipped"],
        any_output: false,
        winds_down: false,
    },
    BuiltinStep {
        name: "backup.verify",
        args: &[required("backup", Text), arg("restore_test", Bool)],
        outputs: &["id", "artifacts", "bytes"],
        any_output: false,
        winds_down: false,
    },
    BuiltinStep {
        name: "restore",
        args: &[required("backup", Text), arg("target", Text), arg("force", Bool), arg("keep_extra", Bool)],
        outputs: &["id", "safety_backup"],
        any_output: false,
        winds_down: false,
    },
    BuiltinStep { name: "backup.prune", args: &[arg("set", BackupSet)], outputs: &["removed", "kept"], any_output: false, winds_down: false },
    BuiltinStep {
        name: "deploy",
        args: &[required("service", Service), arg("version", Text), arg("message", Text), arg("force", Bool), arg("hosts", List), arg("from", Text)],
        outputs: &["release", "version", "previous_version", "container", "image_digest", "unchanged", "hosts"],
        any_output: false,
        winds_down: true,
    },
    BuiltinStep {
        name: "rollback",
        args: &[required("service", Service), arg("to", Text), arg("message", Text), arg("hosts", List)],
        outputs: &["release", "version", "previous_version", "container", "image_digest", "unchanged", "hosts"],
        any_output: false,
        winds_down: true,
    },
    BuiltinStep { name: "check", args: &[arg("checks", Checks)], outputs: &["summary", "passed", "failed", "failed_checks"], any_output: false, winds_down: false },
    BuiltinStep {
        name: "notify",
        args: &[required("title", Text), arg("message", Text), arg("kind", Text), arg("channels", Channels)],
        outputs: &["sent"],
        any_output: false,
        winds_down: false,
    },
    BuiltinStep { name: "images.pull", args: &[required("image", Text)], outputs: &["image_id", "digest"], any_output: false, winds_down: false },
    BuiltinStep { name: "images.update", args: &[required("image", Text)], outputs: &["image_id", "updated", "recreated"], any_output: false, winds_down: false },
    BuiltinStep { name: "images.prune", args: &[arg("keep", Int)], outputs: &["removed", "kept"], any_output: false, winds_down: false },
    BuiltinStep { name: "lock", args: &[required("service", Service), arg("message", Text)], outputs: &[], any_output: false, winds_down: false },
    BuiltinStep { name: "unlock", args: &[required("service", Service)], outputs: &[], any_output: false, winds_down: false },
    BuiltinStep { name: "approve", args: &[arg("message", Text), arg("channels", Channels)], outputs: &["approved_by", "note"], any_output: false, winds_down: false },
    BuiltinStep {
        name: "gate",
        args: &[required("pipeline", Pipeline), required("service", Service), arg("version", Text), arg("within", Duration)],
        outputs: &["digest", "run"],
        any_output: false,
        winds_down: false,
    },
    BuiltinStep { name: "wait", args: &[required("for", Duration)], outputs: &[], any_output: false, winds_down: false },
    BuiltinStep {
        name: "command",
        args: &[required("argv", List), arg("env", Table), arg("cwd", Text)],
        outputs: &["exit_code", "stdout"],
        any_output: true,
        winds_down: false,
    },
];

/// The built-in step called `name`.
pub fn builtin(name: &str) -> Option<&'static BuiltinStep> {
    BUILTIN_STEPS.iter().find(|s| s.name == name)
}

/// Every built-in step's name, for messages.
pub fn builtin_names() -> Vec<&'static str> {
    BUILTIN_STEPS.iter().map(|s| s.name).collect()
}
