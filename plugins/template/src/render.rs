//! `${NAME}` substitution and Docker container-name validation (pure Rust,
//! unit-tested on the host).

use std::collections::BTreeMap;

/// Replace every `${NAME}` in `template` with `vars[NAME]`. A `$` not followed
/// by `{` is kept as is. Errors name the template, the variable and the known
/// ones.
pub fn render(template: &str, vars: &BTreeMap<String, String>) -> Result<String, String> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(i) = rest.find("${") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let Some(end) = after.find('}') else {
            let col = template.len() - rest.len() + i + 1;
            return Err(format!("template `{template}`: `${{` at column {col} is not closed by `}}`"));
        };
        let name = &after[..end];
        match vars.get(name) {
            Some(v) => out.push_str(v),
            None => {
                let known: Vec<&str> = vars.keys().map(String::as_str).collect();
                return Err(format!(
                    "template `{template}`: unknown variable ${{{name}}} (known: {})",
                    known.join(", ")
                ));
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Docker's rule for container names: `[a-zA-Z0-9][a-zA-Z0-9_.-]*`.
pub fn check_container_name(name: &str) -> Result<(), String> {
    let bad = |what: String| {
        Err(format!(
            "rendered name `{name}` is not a valid Docker container name: {what} \
             (allowed: [a-zA-Z0-9][a-zA-Z0-9_.-]*)"
        ))
    };
    let mut chars = name.chars().enumerate();
    match chars.next() {
        None => return bad("it is empty".into()),
        Some((_, c)) if !c.is_ascii_alphanumeric() => return bad(format!("it starts with `{c}`")),
        _ => {}
    }
    for (i, c) in chars {
        if !(c.is_ascii_alphanumeric() || "_.-".contains(c)) {
            return bad(format!("`{c}` at position {}", i + 1));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn renders() {
        let v = vars(&[("PREFIX", "shop"), ("SEP", "-"), ("ENV", "prod"), ("SERVICE", "web"), ("VERSION", "1.4.2")]);
        let t = "${PREFIX}${SEP}${ENV}${SEP}${SERVICE}${SEP}${VERSION}";
        assert_eq!(render(t, &v).unwrap(), "shop-prod-web-1.4.2");
        assert_eq!(render("a$b_${ENV}", &v).unwrap(), "a$b_prod");
        assert_eq!(render("plain", &v).unwrap(), "plain");
    }

    #[test]
    fn unknown_and_unclosed() {
        let v = vars(&[("ENV", "prod"), ("SEP", "-")]);
        assert_eq!(
            render("${ENV}${SEP}${NOPE}", &v).unwrap_err(),
            "template `${ENV}${SEP}${NOPE}`: unknown variable ${NOPE} (known: ENV, SEP)"
        );
        assert_eq!(
            render("x-${ENV", &v).unwrap_err(),
            "template `x-${ENV`: `${` at column 3 is not closed by `}`"
        );
    }

    #[test]
    fn docker_names() {
        assert!(check_container_name("shop-prod-web-1.4.2").is_ok());
        assert!(check_container_name("a_b.c-d").is_ok());
        assert!(check_container_name("").is_err());
        assert_eq!(
            check_container_name("-x").unwrap_err(),
            "rendered name `-x` is not a valid Docker container name: it starts with `-` (allowed: [a-zA-Z0-9][a-zA-Z0-9_.-]*)"
        );
        assert!(check_container_name("web-1.0+build").unwrap_err().contains("`+` at position 8"));
        assert!(check_container_name("web/1").is_err());
    }
}
