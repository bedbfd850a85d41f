use anyhow::{Context, Result};
use wasi_preview1_component_adapter_provider::WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER;
use wasmparser::{Parser, Payload};

/// Name of the custom section holding a plugin's manifest (TOML, written by bosun-sdk).
pub const MANIFEST_SECTION: &str = "bosun:manifest";

/// Turns a wasm32-wasip1 core module into a component with the preview1 reactor
/// adapter, and copies the plugin manifest to the component's top level so tools
/// (and bosun) find it without descending into the core module. A plugin that
/// exports its config schema gets it written into its manifest first.
pub fn componentize(core_module: &[u8]) -> Result<Vec<u8>> {
    let with_schema;
    let core_module = match crate::schema::config_schema(core_module).context("reading the plugin's config schema")? {
        Some(schema) => {
            with_schema = manifest_with_schema(core_module, &schema)?;
            &with_schema[..]
        }
        None => core_module,
    };
    let mut component = wit_component::ComponentEncoder::default()
        .module(core_module)
        .context("the module has no component type information (was it built with bosun-sdk or wit-bindgen?)")?
        .adapter("wasi_snapshot_preview1", WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER)?
        .validate(true)
        .encode()?;
    if let Some(manifest) = find_custom_section(core_module, MANIFEST_SECTION) {
        let section = wasm_encoder::CustomSection {
            name: MANIFEST_SECTION.into(),
            data: manifest.into(),
        };
        // A section is its id byte followed by its size-prefixed contents.
        component.push(wasm_encoder::ComponentSection::id(&section));
        wasm_encoder::Encode::encode(&section, &mut component);
    }
    Ok(component)
}

/// `core_module` with the schema written into its manifest section (the
/// other sections copied as they are).
fn manifest_with_schema(core_module: &[u8], schema: &str) -> Result<Vec<u8>> {
    let manifest = find_custom_section(core_module, MANIFEST_SECTION)
        .context("the module exports a config schema but has no bosun:manifest section")?;
    let manifest = String::from_utf8(manifest).context("its manifest is not UTF-8")?;
    let manifest = crate::schema::with_schema(&manifest, schema)?;
    let mut module = wasm_encoder::Module::new();
    for payload in Parser::new(0).parse_all(core_module) {
        let payload = payload?;
        match &payload {
            Payload::CustomSection(section) if section.name() == MANIFEST_SECTION => {
                module.section(&wasm_encoder::CustomSection { name: MANIFEST_SECTION.into(), data: manifest.as_bytes().into() });
            }
            _ => {
                if let Some((id, range)) = payload.as_section() {
                    module.section(&wasm_encoder::RawSection { id, data: &core_module[range] });
                }
            }
        }
    }
    Ok(module.finish())
}

/// The first custom section called `name`, at the top level or in a nested module.
pub fn find_custom_section(wasm: &[u8], name: &str) -> Option<Vec<u8>> {
    for payload in Parser::new(0).parse_all(wasm) {
        match payload {
            Ok(Payload::CustomSection(section)) if section.name() == name => {
                return Some(section.data().to_vec());
            }
            Ok(_) => {}
            Err(_) => return None,
        }
    }
    None
}
