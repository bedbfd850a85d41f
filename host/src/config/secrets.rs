//! `${VAR}` in bosun.toml values: filled from the environment when used, so
//! secrets stay out of the file (and out of version control).

/// `text` with every `${NAME}` replaced by that environment variable; an
/// unset variable or an unclosed `${` is an error naming it. Each value is
/// registered as a secret to mask.
pub fn expand_env(text: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find('}').ok_or("`${` is not closed by `}`")?;
        let name = &after[..end];
        let value = std::env::var(name).map_err(|_| format!("uses ${{{name}}} but that environment variable is not set"))?;
        crate::secrets::register(&value);
        out.push_str(&value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Every string in `table` (nested too) with `${NAME}` expanded; errors name
/// the key (`login.form.password: uses ${ADMIN_PASSWORD} but …`). Registered
/// as secrets to mask: the expansions, URL passwords, and the values of keys
/// named like `password`, `token`, `secret`.
pub fn expand_table(table: &toml::Table) -> Result<toml::Table, String> {
    table.iter().map(|(key, value)| Ok((key.clone(), expand_value(key, value).map_err(|e| format!("{key}{e}"))?))).collect()
}

fn expand_value(key: &str, value: &toml::Value) -> Result<toml::Value, String> {
    Ok(match value {
        toml::Value::String(s) => {
            let expanded = expand_env(s).map_err(|e| format!(": {e}"))?;
            crate::secrets::register_url_password(&expanded);
            if secret_key(key) {
                crate::secrets::register(&expanded);
            }
            toml::Value::String(expanded)
        }
        toml::Value::Array(items) => toml::Value::Array(
            items.iter().enumerate().map(|(i, v)| expand_value(key, v).map_err(|e| format!("[{i}]{e}"))).collect::<Result<_, _>>()?,
        ),
        toml::Value::Table(t) => toml::Value::Table(
            t.iter().map(|(k, v)| Ok((k.clone(), expand_value(k, v).map_err(|e| format!(".{k}{e}"))?))).collect::<Result<_, String>>()?,
        ),
        other => other.clone(),
    })
}

/// Whether a setting's name says its value is a secret: its last word is one
/// (`password`, `client_secret`, `api-key`; not `token_path`).
pub fn secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase().replace('-', "_");
    let last = key.rsplit('_').next().unwrap_or_default();
    ["password", "passwd", "secret", "token", "apikey"].contains(&last) || key.ends_with("api_key")
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

    #[test]
    fn secret_looking_settings_are_registered_for_masking() {
        let table: toml::Table = toml::from_str(
            "url = \"https://ops:url-pass-42@h/\"\nlogin = { token_path = \"data.access_token\", json = { password = \"literal-pw-42\", api-key = \"key-value-42\" } }",
        )
        .unwrap();
        expand_table(&table).unwrap();
        let masked = crate::secrets::mask("url-pass-42 literal-pw-42 key-value-42 data.access_token");
        assert_eq!(masked, "*** *** *** data.access_token");
        assert!(secret_key("DB_PASSWORD") && secret_key("client_secret") && secret_key("GITHUB_TOKEN"));
        assert!(!secret_key("token_path") && !secret_key("MODE") && !secret_key("keyword"));
    }
}
