//! A plugin's config schema: bosun-sdk's export macros, given the plugin's
//! config type, export a core function returning the type's JSON Schema
//! (`bosun_sdk::manifest::config_schema`). The build runs it once, in an
//! interpreter where every import traps (it needs none), and writes the
//! schema into the manifest, so a plugin's config is described by its type
//! alone and bosun can check bosun.toml against it before any plugin runs.

use anyhow::{Context, Result, anyhow, bail};
use wasmi::{Engine, ExternType, Linker, Module, Store};

/// The core export returning the schema: its text's address in the high 32
/// bits of an `i64`, its length in the low ones (`bosun_sdk::manifest::CONFIG_SCHEMA_EXPORT`).
pub const CONFIG_SCHEMA_EXPORT: &str = "bosun-config-schema";

/// The manifest key the schema is written under, as a JSON string.
pub const CONFIG_SCHEMA_KEY: &str = "config-schema";

/// Generating a schema takes well under a million instructions; this bounds
/// a broken one (a `default` function that loops) instead of hanging the build.
const FUEL: u64 = 2_000_000_000;

/// The interpreter's native stack: unoptimised (as in a build script), its
/// executor's frames outgrow a main thread's 8 MiB.
const STACK_BYTES: usize = 256 << 20;

/// The schema the core module's export returns, or `None` when it has no
/// such export (a plugin that names no config type).
pub fn config_schema(core_module: &[u8]) -> Result<Option<String>> {
    if !exports(core_module, CONFIG_SCHEMA_EXPORT) {
        return Ok(None);
    }
    std::thread::scope(|scope| {
        let run = std::thread::Builder::new().name("config-schema".into()).stack_size(STACK_BYTES).spawn_scoped(scope, || run_export(core_module))?;
        run.join().map_err(|_| anyhow!("running {CONFIG_SCHEMA_EXPORT} panicked"))?
    })
    .map(Some)
}

fn run_export(core_module: &[u8]) -> Result<String> {
    let mut config = wasmi::Config::default();
    config.consume_fuel(true);
    let engine = Engine::new(&config);
    let module = Module::new(&engine, core_module).map_err(|e| anyhow!("{e}"))?;
    let mut store = Store::new(&engine, ());
    store.set_fuel(FUEL).map_err(|e| anyhow!("{e}"))?;
    let mut linker = Linker::<()>::new(&engine);
    for import in module.imports() {
        if let ExternType::Func(ty) = import.ty() {
            let name = format!("{}#{}", import.module(), import.name());
            linker
                .func_new(import.module(), import.name(), ty.clone(), move |_, _, _| {
                    Err(wasmi::Error::new(format!("it called the host import {name}, which a schema cannot need")))
                })
                .map_err(|e| anyhow!("{e}"))?;
        }
    }
    let mut run = || -> Result<String, wasmi::Error> {
        let instance = linker.instantiate_and_start(&mut store, &module)?;
        if let Ok(initialize) = instance.get_typed_func::<(), ()>(&store, "_initialize") {
            initialize.call(&mut store, ())?;
        }
        let export = instance.get_typed_func::<(), i64>(&store, CONFIG_SCHEMA_EXPORT)?;
        let packed = export.call(&mut store, ())? as u64;
        let (address, length) = ((packed >> 32) as usize, (packed & 0xffff_ffff) as usize);
        let memory = instance.get_memory(&store, "memory").ok_or_else(|| wasmi::Error::new("the module exports no memory"))?;
        let text = memory.data(&store).get(address..address + length).ok_or_else(|| wasmi::Error::new("it returned text outside its memory"))?;
        String::from_utf8(text.to_vec()).map_err(|_| wasmi::Error::new("it returned text that is not UTF-8"))
    };
    let schema = run().map_err(|e| anyhow!("running {CONFIG_SCHEMA_EXPORT}: {e}"))?;
    serde_json::from_str::<serde_json::Value>(&schema).with_context(|| format!("{CONFIG_SCHEMA_EXPORT} returned text that is not JSON: {schema:.200}"))?;
    Ok(schema)
}

/// `manifest` with the schema written in as its first key. A manifest that
/// still describes its config by hand (`[config.*]` tables) is refused: the
/// type is the one description.
pub fn with_schema(manifest: &str, schema: &str) -> Result<String> {
    let by_hand = manifest.lines().map(str::trim).find(|line| *line == "[config]" || line.starts_with("[config."));
    if let Some(table) = by_hand {
        bail!(
            "bosun-plugin.toml describes the config by hand ({table}) and the export macro names a config type: \
             remove the [config.*] tables; the type's schema replaces them"
        );
    }
    // A JSON string is a TOML basic string: serde_json escapes `"`, `\` and
    // control characters as TOML does, and never writes `\/`.
    let quoted = serde_json::to_string(schema)?;
    Ok(format!("{CONFIG_SCHEMA_KEY} = {quoted}\n{manifest}"))
}

fn exports(core_module: &[u8], name: &str) -> bool {
    for payload in wasmparser::Parser::new(0).parse_all(core_module) {
        if let Ok(wasmparser::Payload::ExportSection(exports)) = payload {
            return exports.into_iter().any(|export| export.is_ok_and(|e| e.name == name));
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_goes_first_as_a_toml_string() {
        let manifest = "api = \"0.2.0\"\nkind = \"smoke-check\"\nversion = \"1.0.0\"\nname = \"x\"\n\n[capabilities]\n";
        let schema = r#"{"type":"object","properties":{"a":{"description":"say \"hi\"\n\\o/"}}}"#;
        let written = with_schema(manifest, schema).unwrap();
        assert!(written.starts_with("config-schema = \"{\\\"type\\\""), "{written}");
        assert!(written.ends_with(manifest));
    }

    #[test]
    fn config_tables_by_hand_are_refused_beside_a_schema() {
        let manifest = "name = \"x\"\n\n[config.url]\ntype = \"string\"\n";
        let e = with_schema(manifest, "{}").unwrap_err().to_string();
        assert!(e.contains("[config.url]") && e.contains("remove the [config.*] tables"), "{e}");
    }
}
