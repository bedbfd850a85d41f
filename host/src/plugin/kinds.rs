//! The plugin kinds the host calls: each is its WIT world in every linked API
//! version (typed once when a plugin loads, instantiated for every call) and
//! its exports, each a thin call through [`Runtime::call`]. A plugin built for
//! API 0.2 is called through 0.2's world and its answers converted, so callers
//! see 0.3's types only. A new kind is its world in `wit/`, one [`world!`]
//! line, a [`Kind`], and its exports here.

use std::any::Any;
use std::future::Future;
use std::pin::Pin;

use wasmtime::Store;
use wasmtime::component::InstancePre;

use super::error::PluginError;
use super::manifest::{Api, Kind};
use super::runtime::{CallSetup, Called, Plugin, Runtime};
use crate::bindings::v0_2::{self as old, Convert};
use crate::bindings::types::Kv;
use crate::bindings::{backup_strategy, backup_types, check_types, naming_template, notifier, notify, pipeline_step, plugin_types as types, smoke_check, step_types};
use crate::capability::HostState;

/// A plugin kind's world as the host calls it.
pub trait KindWorld: 'static {
    const KIND: Kind;
    /// The pre-linked instance, checked against the world when the plugin loads.
    type Pre: Send + Sync + 'static;
    /// An instance of the world, made fresh for each call.
    type Instance: Send + 'static;

    fn typed(api: Api, pre: InstancePre<HostState>) -> wasmtime::Result<Self::Pre>;

    fn instantiate<'a>(pre: &'a Self::Pre, store: &'a mut Store<HostState>) -> Pin<Box<dyn Future<Output = wasmtime::Result<Self::Instance>> + Send + 'a>>;
}

/// A kind's world in each linked API version: `Current` (0.3) and `V0_2`.
pub enum Versioned<Current, V0_2> {
    Current(Current),
    V0_2(V0_2),
}

macro_rules! world {
    ($world:ident: $kind:ident, $module:ident::$pre:ident / $instance:ident) => {
        pub struct $world;

        impl KindWorld for $world {
            const KIND: Kind = Kind::$kind;
            type Pre = Versioned<$module::$pre<HostState>, old::$module::$pre<HostState>>;
            type Instance = Versioned<$module::$instance, old::$module::$instance>;

            fn typed(api: Api, pre: InstancePre<HostState>) -> wasmtime::Result<Self::Pre> {
                Ok(match api {
                    Api::V0_3 => Versioned::Current($module::$pre::new(pre)?),
                    Api::V0_2 => Versioned::V0_2(old::$module::$pre::new(pre)?),
                })
            }

            fn instantiate<'a>(pre: &'a Self::Pre, store: &'a mut Store<HostState>) -> Pin<Box<dyn Future<Output = wasmtime::Result<Self::Instance>> + Send + 'a>> {
                Box::pin(async move {
                    Ok(match pre {
                        Versioned::Current(pre) => Versioned::Current(pre.instantiate_async(store).await?),
                        Versioned::V0_2(pre) => Versioned::V0_2(pre.instantiate_async(store).await?),
                    })
                })
            }
        }
    };
}

world!(SmokeCheck: SmokeCheck, smoke_check::SmokeCheckPre / SmokeCheck);
world!(BackupStrategy: BackupStrategy, backup_strategy::BackupStrategyPre / BackupStrategy);
world!(NamingTemplate: NamingTemplate, naming_template::NamingTemplatePre / NamingTemplate);
world!(Notifier: Notifier, notifier::NotifierPre / Notifier);

/// Pipeline steps are new in API 0.3: there is no earlier world to link.
pub struct PipelineStep;

impl KindWorld for PipelineStep {
    const KIND: Kind = Kind::PipelineStep;
    type Pre = pipeline_step::PipelineStepPre<HostState>;
    type Instance = pipeline_step::PipelineStep;

    fn typed(api: Api, pre: InstancePre<HostState>) -> wasmtime::Result<Self::Pre> {
        match api {
            Api::V0_3 => pipeline_step::PipelineStepPre::new(pre),
            older => Err(wasmtime::format_err!("the pipeline-step kind is new in plugin API 0.3; this plugin was built for {}: rebuild it with bosun-sdk 0.3", older.version())),
        }
    }

    fn instantiate<'a>(pre: &'a Self::Pre, store: &'a mut Store<HostState>) -> Pin<Box<dyn Future<Output = wasmtime::Result<Self::Instance>> + Send + 'a>> {
        Box::pin(pre.instantiate_async(store))
    }
}

/// A loaded plugin's pre-instance typed by its manifest's kind and API; an
/// error if the component does not implement that kind's world.
pub(super) fn typed(kind: Kind, api: Api, pre: InstancePre<HostState>) -> wasmtime::Result<Box<dyn Any + Send + Sync>> {
    fn boxed<W: KindWorld>(api: Api, pre: InstancePre<HostState>) -> wasmtime::Result<Box<dyn Any + Send + Sync>> {
        Ok(Box::new(W::typed(api, pre)?))
    }
    match kind {
        Kind::SmokeCheck => boxed::<SmokeCheck>(api, pre),
        Kind::BackupStrategy => boxed::<BackupStrategy>(api, pre),
        Kind::NamingTemplate => boxed::<NamingTemplate>(api, pre),
        Kind::Notifier => boxed::<Notifier>(api, pre),
        Kind::PipelineStep => boxed::<PipelineStep>(api, pre),
    }
}

type Answer<T> = wasmtime::Result<Result<T, types::PluginError>>;

/// A 0.2 export's answer in 0.3's types.
fn upgraded<T: Convert<U>, U, E: Convert<types::PluginError>>(answer: wasmtime::Result<Result<T, E>>) -> Answer<U> {
    answer.map(Convert::convert)
}

/// What a 0.2 plugin answers to an export 0.2 did not have: its config is
/// fine as far as the plugin can tell.
fn accepted() -> Answer<()> {
    Ok(Ok(()))
}

/// The exports, by kind.
impl Runtime {
    pub async fn check(&self, plugin: &Plugin, setup: CallSetup) -> Result<Called<check_types::CheckResult>, PluginError> {
        self.call::<SmokeCheck, _>(plugin, setup, "check", |check, store, ctx| {
            Box::pin(async move {
                match check {
                    Versioned::Current(world) => world.bosun_plugin_check().call_check(store, ctx).await,
                    Versioned::V0_2(world) => upgraded(world.call_check(store, &ctx.clone().convert()).await),
                }
            })
        })
        .await
    }

    /// A check's own judgement of its configuration, without running it, and
    /// the places it will connect to.
    pub async fn validate(&self, plugin: &Plugin, setup: CallSetup) -> Result<Called<Vec<String>>, PluginError> {
        self.call::<SmokeCheck, _>(plugin, setup, "validate", |check, store, ctx| {
            Box::pin(async move {
                match check {
                    Versioned::Current(world) => world.bosun_plugin_check().call_validate(store, ctx).await,
                    Versioned::V0_2(world) => upgraded(world.call_validate(store, &ctx.clone().convert()).await),
                }
            })
        })
        .await
    }

    /// A backup strategy's own judgement of its configuration.
    pub async fn validate_backup(&self, plugin: &Plugin, setup: CallSetup) -> Result<Called<()>, PluginError> {
        self.call::<BackupStrategy, _>(plugin, setup, "validate", |strategy, store, ctx| {
            Box::pin(async move {
                match strategy {
                    Versioned::Current(world) => world.bosun_plugin_backup().call_validate(store, ctx).await,
                    Versioned::V0_2(_) => accepted(),
                }
            })
        })
        .await
    }

    pub async fn backup(&self, plugin: &Plugin, setup: CallSetup, req: backup_types::BackupRequest) -> Result<Called<backup_types::BackupResult>, PluginError> {
        self.call::<BackupStrategy, _>(plugin, setup, "backup", |strategy, store, ctx| {
            Box::pin(async move {
                match strategy {
                    Versioned::Current(world) => world.bosun_plugin_backup().call_backup(store, ctx, &req).await,
                    Versioned::V0_2(world) => upgraded(world.call_backup(store, &ctx.clone().convert(), &req.convert()).await),
                }
            })
        })
        .await
    }

    pub async fn restore(&self, plugin: &Plugin, setup: CallSetup, req: backup_types::RestoreRequest) -> Result<Called<()>, PluginError> {
        self.call::<BackupStrategy, _>(plugin, setup, "restore", |strategy, store, ctx| {
            Box::pin(async move {
                match strategy {
                    Versioned::Current(world) => world.bosun_plugin_backup().call_restore(store, ctx, &req).await,
                    Versioned::V0_2(world) => upgraded(world.call_restore(store, &ctx.clone().convert(), &req.convert()).await),
                }
            })
        })
        .await
    }

    pub async fn restore_test(
        &self,
        plugin: &Plugin,
        setup: CallSetup,
        req: backup_types::RestoreRequest,
    ) -> Result<Called<Option<backup_types::RestoreCheck>>, PluginError> {
        self.call::<BackupStrategy, _>(plugin, setup, "restore-test", |strategy, store, ctx| {
            Box::pin(async move {
                match strategy {
                    Versioned::Current(world) => world.bosun_plugin_backup().call_restore_test(store, ctx, &req).await,
                    Versioned::V0_2(world) => upgraded(world.call_restore_test(store, &ctx.clone().convert(), &req.convert()).await),
                }
            })
        })
        .await
    }

    /// A naming template's own judgement of its configuration.
    pub async fn validate_naming(&self, plugin: &Plugin, setup: CallSetup) -> Result<Called<()>, PluginError> {
        self.call::<NamingTemplate, _>(plugin, setup, "validate", |template, store, ctx| {
            Box::pin(async move {
                match template {
                    Versioned::Current(world) => world.bosun_plugin_naming().call_validate(store, ctx).await,
                    Versioned::V0_2(_) => accepted(),
                }
            })
        })
        .await
    }

    pub async fn render(&self, plugin: &Plugin, setup: CallSetup, vars: Vec<Kv>) -> Result<Called<String>, PluginError> {
        self.call::<NamingTemplate, _>(plugin, setup, "render", |template, store, ctx| {
            Box::pin(async move {
                match template {
                    Versioned::Current(world) => world.bosun_plugin_naming().call_render(store, ctx, &vars).await,
                    Versioned::V0_2(world) => upgraded(world.call_render(store, &ctx.clone().convert(), &vars.convert()).await),
                }
            })
        })
        .await
    }

    /// A notifier's own judgement of a channel (its URL and settings).
    pub async fn validate_channel(&self, plugin: &Plugin, setup: CallSetup, channel: notify::Channel) -> Result<Called<()>, PluginError> {
        self.call::<Notifier, _>(plugin, setup, "validate", |notifier, store, ctx| {
            Box::pin(async move {
                match notifier {
                    Versioned::Current(world) => world.bosun_plugin_delivery().call_validate(store, ctx, &channel).await,
                    Versioned::V0_2(_) => accepted(),
                }
            })
        })
        .await
    }

    pub async fn deliver(&self, plugin: &Plugin, setup: CallSetup, event: notify::Event, channel: notify::Channel) -> Result<Called<String>, PluginError> {
        self.call::<Notifier, _>(plugin, setup, "deliver", |notifier, store, ctx| {
            Box::pin(async move {
                match notifier {
                    Versioned::Current(world) => world.bosun_plugin_delivery().call_deliver(store, ctx, &event, &channel).await,
                    Versioned::V0_2(world) => upgraded(world.call_deliver(store, &ctx.clone().convert(), &event.convert(), &channel.convert()).await),
                }
            })
        })
        .await
    }

    pub async fn validate_step(&self, plugin: &Plugin, setup: CallSetup) -> Result<Called<()>, PluginError> {
        self.call::<PipelineStep, _>(plugin, setup, "validate", |step, store, ctx| Box::pin(async move { step.bosun_plugin_step().call_validate(store, ctx).await })).await
    }

    pub async fn run_step(&self, plugin: &Plugin, setup: CallSetup) -> Result<Called<step_types::StepResult>, PluginError> {
        self.call::<PipelineStep, _>(plugin, setup, "run", |step, store, ctx| Box::pin(async move { step.bosun_plugin_step().call_run(store, ctx).await })).await
    }
}
