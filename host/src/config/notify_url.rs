//! Channel URLs, shoutrrr-style: which notifier plugin delivers them, the
//! parts it needs (token, secret, chats, …) and the origin it sends to.
//! Parsed once, at config load, so a bad URL stops bosun before anything runs.

use std::collections::BTreeMap;
use std::path::Path;

use super::Channel;

/// A channel URL taken apart. Never print it whole: it holds secrets.
#[derive(Clone)]
pub struct Destination {
    pub via: Via,
    /// What the plugin needs, by name (`token`, `secret`, `chats`, …).
    pub params: BTreeMap<String, String>,
    /// `scheme://host[:port]` the delivery goes to; granted for the call.
    pub origin: String,
    /// The chats of a service that sends one message per chat (Telegram's
    /// `chats=@ops,42`), each delivered and recorded on its own; empty for
    /// services with one destination.
    pub chats: Vec<String>,
    /// The URL's secret parts, as written and decoded: tokens and keys (in
    /// the path of chat services), signing secrets, passwords, a generic
    /// webhook's path and query. Registered for masking when loaded.
    pub secrets: Vec<String>,
}

/// Who delivers: a notifier plugin, or bosun itself (email: a sandboxed
/// plugin has no sockets).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Plugin(&'static str),
    Email,
}

impl std::fmt::Debug for Destination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Destination {{ via: {:?}, origin: {} }}", self.via, self.origin)
    }
}

/// The channel's URL with secrets filled in: `url_file` read, `${VAR}`
/// replaced from the environment.
pub fn resolve_url(channel: &Channel, config_dir: &Path) -> Result<String, String> {
    let raw = match (&channel.url, &channel.url_file) {
        (Some(_), Some(_)) => return Err("set either url or url_file, not both".into()),
        (Some(url), None) => url.clone(),
        (None, Some(file)) => {
            let path = config_dir.join(file);
            let url = std::fs::read_to_string(&path).map_err(|e| format!("cannot read url_file {}: {e}", path.display()))?.trim().to_string();
            crate::secrets::register(&url);
            url
        }
        (None, None) => return Err("needs url (e.g. dingtalk://TOKEN) or url_file (a file holding it)".into()),
    };
    super::expand_env(&raw).map_err(|e| format!("the URL {e}"))
}

/// The channel's URL and destination, checked (at config load and before
/// sending); the URL's secret parts are registered for masking.
pub fn destination(channel: &Channel, config_dir: &Path) -> Result<(String, Destination), String> {
    let url = resolve_url(channel, config_dir)?;
    let destination = parse(&url, channel.endpoint.as_deref())?;
    destination.secrets.iter().for_each(|s| crate::secrets::register(s));
    Ok((url, destination))
}

const SCHEMES: &str = "dingtalk://, wecom://, feishu://, telegram://, slack://, discord://, smtp://, https://, http://, generic+https://, generic+http://";

/// `url` (secrets resolved) → its destination; `endpoint` replaces the
/// service's own origin (a proxy, or a test server).
pub fn parse(url: &str, endpoint: Option<&str>) -> Result<Destination, String> {
    let (scheme, rest) = url.split_once("://").ok_or_else(|| format!("the URL has no scheme; use one of {SCHEMES}"))?;
    let (before_query, raw_query) = rest.split_once('?').unwrap_or((rest, ""));
    let query: BTreeMap<String, String> = raw_query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').map_or((p.to_string(), String::new()), |(k, v)| (k.to_string(), percent_decode(v))))
        .collect();
    let (raw_user, host_path) = match before_query.rsplit_once('@') {
        Some((user, host)) => (Some(user), host),
        None => (None, before_query),
    };
    let user = raw_user.map(percent_decode);
    let mut secrets: Vec<String> = raw_user.into_iter().map(str::to_string).collect();
    let missing = |what: &str, form: &str| format!("{scheme}:// URL has no {what}; write {form}");
    let mut params = BTreeMap::new();
    let mut chats = Vec::new();
    let mut put = |k: &str, v: String| {
        if !v.is_empty() {
            params.insert(k.to_string(), v);
        }
    };
    let (via, default_origin) = match scheme {
        "dingtalk" | "feishu" | "wecom" => {
            let token = percent_decode(host_path.trim_end_matches('/'));
            if token.is_empty() {
                let form = match scheme {
                    "wecom" => "wecom://KEY",
                    other => &format!("{other}://TOKEN or {other}://TOKEN?secret=SECRET"),
                };
                return Err(missing(if scheme == "wecom" { "key" } else { "token" }, form));
            }
            put(if scheme == "wecom" { "key" } else { "token" }, token);
            put("secret", query.get("secret").cloned().unwrap_or_default());
            let origin = match scheme {
                "dingtalk" => "https://oapi.dingtalk.com",
                "feishu" => "https://open.feishu.cn",
                _ => "https://qyapi.weixin.qq.com",
            };
            (Via::Plugin("chat"), origin.to_string())
        }
        "telegram" => {
            let token = user.filter(|u| !u.is_empty()).ok_or_else(|| missing("bot token", "telegram://TOKEN@telegram?chats=@channel,12345"))?;
            let listed = query.get("chats").map_or("", String::as_str);
            chats.extend(listed.split(',').map(str::trim).filter(|c| !c.is_empty()).map(str::to_string));
            if chats.is_empty() {
                return Err(missing("chats", "telegram://TOKEN@telegram?chats=@channel,12345"));
            }
            put("token", token);
            (Via::Plugin("chat"), "https://api.telegram.org".to_string())
        }
        "slack" => {
            let token = host_path.trim_matches('/').to_string();
            if token.split('/').filter(|p| !p.is_empty()).count() != 3 {
                return Err(missing("webhook token", "slack://T000/B000/XXXX (the three parts of the incoming-webhook URL)"));
            }
            secrets.extend(token.rsplit('/').next().map(str::to_string));
            put("token", token);
            (Via::Plugin("chat"), "https://hooks.slack.com".to_string())
        }
        "discord" => {
            let token = user.filter(|u| !u.is_empty()).ok_or_else(|| missing("webhook token", "discord://TOKEN@WEBHOOK_ID"))?;
            let id = host_path.trim_matches('/');
            if id.is_empty() {
                return Err(missing("webhook id", "discord://TOKEN@WEBHOOK_ID"));
            }
            put("token", token);
            put("webhook_id", id.to_string());
            (Via::Plugin("chat"), "https://discord.com".to_string())
        }
        "http" | "https" | "generic+http" | "generic+https" => {
            let http_scheme = scheme.trim_start_matches("generic+");
            let host = host_path.split('/').next().unwrap_or_default();
            if host.is_empty() {
                return Err(missing("host", &format!("{scheme}://host/path")));
            }
            // A webhook's path and query are its credentials (`/hooks/T0K3N`).
            secrets.push(host_path[host.len()..].trim_matches('/').to_string());
            secrets.push(raw_query.to_string());
            secrets.extend(query.values().cloned());
            secrets.extend(raw_user.and_then(|u| u.split_once(':')).map(|(_, password)| password.to_string()));
            (Via::Plugin("webhook"), format!("{http_scheme}://{host}"))
        }
        "smtp" => {
            let form = "smtp://[USER:PASSWORD@]HOST[:PORT]/?from=bosun@example.com&to=ops@example.com[,more][&tls=starttls|implicit|none]";
            // Split before decoding: a password may hold an encoded `:`.
            let (user, password) = raw_user.map_or((String::new(), String::new()), |u| match u.split_once(':') {
                Some((u, p)) => (percent_decode(u), percent_decode(p)),
                None => (percent_decode(u), String::new()),
            });
            let authority = host_path.split('/').next().unwrap_or_default();
            let (host, port) = match authority.rsplit_once(':') {
                Some((host, port)) => (host, Some(port.parse::<u16>().map_err(|_| format!("smtp:// port `{port}` is not a number; write {form}"))?)),
                None => (authority, None),
            };
            if host.is_empty() {
                return Err(missing("host", form));
            }
            let tls = query.get("tls").map_or("starttls", String::as_str);
            let default_port = match tls {
                "starttls" => 587,
                "implicit" => 465,
                "none" => 25,
                other => return Err(format!("smtp:// tls={other} is not starttls, implicit or none")),
            };
            let from = query.get("from").filter(|f| f.contains('@')).ok_or_else(|| missing("from address", form))?;
            let to = query.get("to").filter(|t| t.contains('@')).ok_or_else(|| missing("to address", form))?;
            let port = port.unwrap_or(default_port);
            for (key, value) in [("host", host.to_string()), ("port", port.to_string()), ("user", user), ("password", password), ("tls", tls.into())] {
                put(key, value);
            }
            put("from", from.clone());
            put("to", to.clone());
            (Via::Email, format!("smtp://{host}:{port}"))
        }
        other => return Err(format!("unknown scheme {other}://; use one of {SCHEMES}")),
    };
    let origin = match endpoint {
        Some(endpoint) => {
            let (scheme, rest) = endpoint.split_once("://").ok_or_else(|| format!("endpoint `{endpoint}` is not a URL like http://127.0.0.1:8080"))?;
            format!("{scheme}://{}", rest.split('/').next().unwrap_or_default())
        }
        None => default_origin,
    };
    secrets.extend(["token", "key", "secret", "password"].iter().filter_map(|k| params.get(*k).cloned()));
    secrets.retain(|s| !s.is_empty());
    params.insert("endpoint".into(), endpoint.map_or_else(|| origin.clone(), |e| e.trim_end_matches('/').to_string()));
    params.insert("service".into(), scheme.trim_start_matches("generic+").to_string());
    Ok(Destination { via, params, origin, chats, secrets })
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1).copied().and_then(hex), bytes.get(i + 2).copied().and_then(hex)) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_services_take_their_parts() {
        let d = parse("dingtalk://abc123?secret=SEC%2Bx", None).unwrap();
        assert_eq!((d.via, d.origin.as_str()), (Via::Plugin("chat"), "https://oapi.dingtalk.com"));
        assert_eq!(d.params["token"], "abc123");
        assert_eq!(d.params["secret"], "SEC+x");
        assert_eq!(d.params["service"], "dingtalk");
        let t = parse("telegram://123:AA-bb@telegram?chats=@ops,42", None).unwrap();
        assert_eq!((t.params["token"].as_str(), t.chats.as_slice()), ("123:AA-bb", ["@ops".to_string(), "42".to_string()].as_slice()));
        let s = parse("slack://T1/B2/X3", Some("http://127.0.0.1:9/")).unwrap();
        assert_eq!((s.origin.as_str(), s.params["endpoint"].as_str()), ("http://127.0.0.1:9", "http://127.0.0.1:9"));
        assert_eq!(parse("discord://tok@999", None).unwrap().params["webhook_id"], "999");
        assert_eq!(parse("generic+https://hooks.example.com/x", None).unwrap().origin, "https://hooks.example.com");
        assert_eq!(parse("wecom://KEY", None).unwrap().params["key"], "KEY");
        let mail = parse("smtp://ops%40example.com:p%40ss@mail.example.com/?from=bosun@example.com&to=a@example.com,b@example.com", None).unwrap();
        assert_eq!(mail.via, Via::Email);
        assert_eq!((mail.params["user"].as_str(), mail.params["password"].as_str(), mail.params["port"].as_str()), ("ops@example.com", "p@ss", "587"));
        assert_eq!(parse("smtp://mail:2525/?from=a@b&to=c@d&tls=none", None).unwrap().params["port"], "2525");
        assert!(parse("smtp://mail/?to=c@d", None).unwrap_err().contains("no from address"));
    }

    #[test]
    fn every_secret_part_is_named_for_masking() {
        let secrets = |url: &str| parse(url, None).unwrap().secrets;
        assert_eq!(secrets("telegram://123:AA%2Dbb@telegram?chats=@ops"), ["123:AA%2Dbb", "123:AA-bb"]);
        assert_eq!(secrets("slack://T1/B2/XSECRET"), ["XSECRET", "T1/B2/XSECRET"]);
        assert_eq!(secrets("dingtalk://TOK?secret=SEC"), ["TOK", "SEC"]);
        assert_eq!(secrets("wecom://WKEY"), ["WKEY"]);
        assert_eq!(secrets("discord://DTOK@987"), ["DTOK", "DTOK"]);
        assert_eq!(secrets("generic+https://u:pw@hooks.example/T/abc?sig=x%2By&v=1"), ["u:pw", "T/abc", "sig=x%2By&v=1", "x+y", "1", "pw"]);
        assert_eq!(secrets("smtp://ops:p%40ss@mail/?from=a@b&to=c@d"), ["ops:p%40ss", "p@ss"]);
    }

    #[test]
    fn bad_urls_say_what_to_write() {
        assert_eq!(parse("dingtalk://", None).unwrap_err(), "dingtalk:// URL has no token; write dingtalk://TOKEN or dingtalk://TOKEN?secret=SECRET");
        assert!(parse("telegram://@telegram?chats=1", None).unwrap_err().contains("no bot token"));
        assert!(parse("telegram://t@telegram", None).unwrap_err().contains("no chats"));
        assert!(parse("telegram://t@telegram?chats=,", None).unwrap_err().contains("no chats"));
        assert!(parse("slack://T1/B2", None).unwrap_err().contains("slack://T000/B000/XXXX"));
        assert!(parse("gopher://x", None).unwrap_err().starts_with("unknown scheme gopher://"));
        assert!(parse("hooks.example.com", None).unwrap_err().contains("no scheme"));
    }
}
