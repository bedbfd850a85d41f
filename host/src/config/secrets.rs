//! `${VAR}` in bosun.toml values: filled from the environment when used, so
//! secrets stay out of the file (and out of version control).

/// `text` with every `${NAME}` replaced by that environment variable; an
/// unset variable or an unclosed `${` is an error naming it.
pub fn expand_env(text: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find('}').ok_or("`${` is not closed by `}`")?;
        let name = &after[..end];
        let value = std::env::var(name).map_err(|_| format!("uses ${{{name}}} but that environment variable is not set"))?;
        out.push_str(&value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Every string in `table` (nested too) with `${NAME}` expanded; errors name
/// the key (`login.form.password: uses ${ADMIN_PASSWORD} but …`).
pub fn expand_table(table: &toml::Table) -> Result<toml::Table, String> {
    table.iter().map(|(key, value)| Ok((key.clone(), expand_value(value).map_err(|e| format!("{key}{e}"))?))).collect()
}

fn expand_value(value: &toml::Value) -> Result<toml::Value, String> {
    Ok(match value {
        toml::Value::String(s) => toml::Value::String(expand_env(s).map_err(|e| format!(": {e}"))?),
        toml::Value::Array(items) => {
            toml::Value::Array(items.iter().enumerate().map(|(i, v)| expand_value(v).map_err(|e| format!("[{i}]{e}"))).collect::<Result<_, _>>()?)
        }
        toml::Value::Table(t) => toml::Value::Table(
            t.iter().map(|(k, v)| Ok((k.clone(), expand_value(v).map_err(|e| format!(".{k}{e}"))?))).collect::<Result<_, String>>()?,
        ),
        other => other.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_come_from_the_environment_and_missing_ones_are_named() {
        // PATH is set in every test environment.
        let path = std::env::var("PATH").unwrap();
        assert_eq!(expand_env("x${PATH}y").unwrap(), format!("x{path}y"));
        assert_eq!(expand_env("no vars, $HOME stays").unwrap(), "no vars, $HOME stays");
        assert!(expand_env("${BOSUN_SURELY_UNSET_VAR}").unwrap_err().contains("${BOSUN_SURELY_UNSET_VAR} but that environment variable is not set"));
        let table: toml::Table = toml::from_str("url = \"u\"\nlogin = { form = { password = \"${BOSUN_SURELY_UNSET_VAR}\" } }").unwrap();
        assert!(expand_table(&table).unwrap_err().starts_with("login.form.password: uses ${BOSUN_SURELY_UNSET_VAR}"));
    }
}
