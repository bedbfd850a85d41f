//! The plugin kinds the host calls: each is its WIT world (typed once when a
//! plugin loads, instantiated for every call) and its exports, each a thin
//! call through [`Runtime::call`]. A new kind is its world in `wit/`, one
//! [`world!`] line, a [`Kind`], and its exports here.

use std::any::Any;
use std::future::Future;
use std::pin::Pin;

use wasmtime::Store;
use wasmtime::component::InstancePre;

use crate::bindings::{backup_strategy, backup_types, check_types, naming_template, notifier, notify, smoke_check, types};
use super::error::PluginError;
use super::manifest::Kind;
use super::runtime::{CallSetup, Called, Plugin, Runtime};
use crate::capability::HostState;

/// A plugin kind's world as the host calls it.
pub trait KindWorld: 'static {
    const KIND: Kind;
    /// The pre-linked instance, checked against the world when the plugin loads.
    type Pre: Send + Sync + 'static;
    /// An instance of the world, made fresh for each call.
    type Instance: Send + 'static;

    fn typed(pre: InstancePre<HostState>) -> wasmtime::Result<Self::Pre>;

    fn instantiate<'a>(pre: &'a Self::Pre, store: &'a mut Store<HostState>) -> Pin<Box<dyn Future<Output = wasmtime::Result<Self::Instance>> + Send + 'a>>;
}

macro_rules! world {
    ($world:ident: $kind:ident, $module:ident::$pre:ident, $instance:ident) => {
        pub struct $world;

        impl KindWorld for $world {
            const KIND: Kind = Kind::$kind;
            type Pre = $module::$pre<HostState>;
            type Instance = $module::$instance;

            fn typed(pre: InstancePre<HostState>) -> wasmtime::Result<Self::Pre> {
                $module::$pre::new(pre)
            }

            fn instantiate<'a>(pre: &'a Self::Pre, store: &'a mut Store<HostState>) -> Pin<Box<dyn Future<Output = wasmtime::Result<Self::Instance>> + Send + 'a>> {
                Box::pin(pre.instantiate_async(store))
            }
        }
    };
}

world!(SmokeCheck: SmokeCheck, smoke_check::SmokeCheckPre, SmokeCheck);
world!(BackupStrategy: BackupStrategy, backup_strategy::BackupStrategyPre, BackupStrategy);
world!(NamingTemplate: NamingTemplate, naming_template::NamingTemplatePre, NamingTemplate);
world!(Notifier: Notifier, notifier::NotifierPre, Notifier);

/// A loaded plugin's pre-instance typed by its manifest's kind; an error
/// if the component does not implement that kind's world.
pub(super) fn typed(kind: Kind, pre: InstancePre<HostState>) -> wasmtime::Result<Box<dyn Any + Send + Sync>> {
    fn boxed<W: KindWorld>(pre: InstancePre<HostState>) -> wasmtime::Result<Box<dyn Any + Send + Sync>> {
        Ok(Box::new(W::typed(pre)?))
    }
    match kind {
        Kind::SmokeCheck => boxed::<SmokeCheck>(pre),
        Kind::BackupStrategy => boxed::<BackupStrategy>(pre),
        Kind::NamingTemplate => boxed::<NamingTemplate>(pre),
        Kind::Notifier => boxed::<Notifier>(pre),
    }
}

/// The exports, by kind.
impl Runtime {
    pub async fn check(&self, plugin: &Plugin, setup: CallSetup) -> Result<Called<check_types::CheckResult>, PluginError> {
        self.call::<SmokeCheck, _>(plugin, setup, "check", |check, store, ctx| Box::pin(async move { check.call_check(store, ctx).await }))
            .await
    }

    /// A check's own judgement of its configuration, without running it, and
    /// the places it will connect to.
    pub async fn validate(&self, plugin: &Plugin, setup: CallSetup) -> Result<Called<Vec<String>>, PluginError> {
        self.call::<SmokeCheck, _>(plugin, setup, "validate", |check, store, ctx| Box::pin(async move { check.call_validate(store, ctx).await }))
            .await
    }

    pub async fn backup(&self, plugin: &Plugin, setup: CallSetup, req: backup_types::BackupRequest) -> Result<Called<backup_types::BackupResult>, PluginError> {
        self.call::<BackupStrategy, _>(plugin, setup, "backup", |strategy, store, ctx| Box::pin(async move { strategy.call_backup(store, ctx, &req).await }))
            .await
    }

    pub async fn restore(&self, plugin: &Plugin, setup: CallSetup, req: backup_types::RestoreRequest) -> Result<Called<()>, PluginError> {
        self.call::<BackupStrategy, _>(plugin, setup, "restore", |strategy, store, ctx| Box::pin(async move { strategy.call_restore(store, ctx, &req).await }))
            .await
    }

    pub async fn restore_test(
        &self,
        plugin: &Plugin,
        setup: CallSetup,
        req: backup_types::RestoreRequest,
    ) -> Result<Called<Option<backup_types::RestoreCheck>>, PluginError> {
        self.call::<BackupStrategy, _>(plugin, setup, "restore-test", |strategy, store, ctx| {
            Box::pin(async move { strategy.call_restore_test(store, ctx, &req).await })
        })
        .await
    }

    pub async fn render(&self, plugin: &Plugin, setup: CallSetup, vars: Vec<types::Kv>) -> Result<Called<String>, PluginError> {
        self.call::<NamingTemplate, _>(plugin, setup, "render", |template, store, ctx| Box::pin(async move { template.call_render(store, ctx, &vars).await }))
            .await
    }

    pub async fn deliver(&self, plugin: &Plugin, setup: CallSetup, event: notify::Event, channel: notify::Channel) -> Result<Called<String>, PluginError> {
        self.call::<Notifier, _>(plugin, setup, "deliver", |notifier, store, ctx| {
            Box::pin(async move { notifier.call_deliver(store, ctx, &event, &channel).await })
        })
        .await
    }
}
