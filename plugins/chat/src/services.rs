//! The request each chat service documents, from the channel's params.

use std::collections::BTreeMap;

use bosun_sdk::serde_json::{Value, json};

use crate::sign;

/// One POST to make.
#[derive(Debug, PartialEq)]
pub struct Outgoing {
    pub url: String,
    pub body: Value,
}

/// The POST that delivers `title` + `body` (markdown) for the channel's
/// service; for Telegram, to the one chat bosun names in `chat`.
pub fn request_for(params: &BTreeMap<String, String>, title: &str, body: &str, now_ms: u64) -> Result<Outgoing, String> {
    let get = |key: &str| params.get(key).map(String::as_str).ok_or_else(|| format!("bosun passed no `{key}` for this channel"));
    let endpoint = get("endpoint")?;
    let one = |url: String, body: Value| Ok(Outgoing { url, body });
    match get("service")? {
        "dingtalk" => {
            let mut url = format!("{endpoint}/robot/send?access_token={}", sign::url_encode(get("token")?));
            if let Some(secret) = params.get("secret") {
                url.push_str(&format!("&timestamp={now_ms}&sign={}", sign::url_encode(&sign::dingtalk(secret, now_ms))));
            }
            one(url, json!({ "msgtype": "markdown", "markdown": { "title": title, "text": format!("### {title}\n\n{body}") } }))
        }
        "wecom" => {
            let url = format!("{endpoint}/cgi-bin/webhook/send?key={}", sign::url_encode(get("key")?));
            one(url, json!({ "msgtype": "markdown", "markdown": { "content": format!("**{title}**\n{body}") } }))
        }
        "feishu" => {
            let url = format!("{endpoint}/open-apis/bot/v2/hook/{}", get("token")?);
            let mut message = json!({ "msg_type": "text", "content": { "text": format!("{title}\n{body}") } });
            if let Some(secret) = params.get("secret") {
                let seconds = now_ms / 1000;
                message["timestamp"] = json!(seconds.to_string());
                message["sign"] = json!(sign::feishu(secret, seconds));
            }
            one(url, message)
        }
        "telegram" => one(format!("{endpoint}/bot{}/sendMessage", get("token")?), json!({ "chat_id": get("chat")?, "text": format!("{title}\n\n{body}") })),
        "slack" => one(format!("{endpoint}/services/{}", get("token")?), json!({ "text": format!("*{title}*\n{body}") })),
        "discord" => one(
            format!("{endpoint}/api/webhooks/{}/{}", get("webhook_id")?, get("token")?),
            json!({ "content": format!("**{title}**\n{body}") }),
        ),
        other => Err(format!("the chat notifier does not speak {other}://")),
    }
}

/// Whether the service's answer body says it took the message (the robots
/// answer 200 with an error code in the body).
pub fn accepted(params: &BTreeMap<String, String>, answer: &str) -> bool {
    let parsed: Value = bosun_sdk::serde_json::from_str(answer).unwrap_or(Value::Null);
    match params.get("service").map(String::as_str) {
        Some("dingtalk" | "wecom") => parsed["errcode"].as_i64() == Some(0),
        Some("feishu") => parsed["code"].as_i64().or(parsed["StatusCode"].as_i64()) == Some(0),
        Some("telegram") => parsed["ok"].as_bool() == Some(true),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn dingtalk_signs_timestamp_and_secret() {
        let p = params(&[("service", "dingtalk"), ("endpoint", "https://oapi.dingtalk.com"), ("token", "T"), ("secret", "SEC")]);
        let out = request_for(&p, "t", "b", 1_700_000_000_000).unwrap();
        // Computed independently: printf '1700000000000\nSEC' | openssl dgst -sha256 -hmac SEC -binary | base64
        assert_eq!(sign::dingtalk("SEC", 1_700_000_000_000), "r+2we0q01lkZqz38LA5IPNbHN81U1leRf3Au4PSQb6Q=");
        assert!(out.url.starts_with("https://oapi.dingtalk.com/robot/send?access_token=T&timestamp=1700000000000&sign="), "{}", out.url);
        assert_eq!(out.body["markdown"]["title"], "t");
        // printf '' | openssl dgst -sha256 -hmac "$(printf '1700000000\nSEC')" -binary | base64
        assert_eq!(sign::feishu("SEC", 1_700_000_000), "yKzlnG5gJbbUvULgjP0QN/V99n1fNH31XG8Rrvl9pfk=");
    }

    #[test]
    fn telegram_sends_to_the_chat_bosun_names() {
        let p = params(&[("service", "telegram"), ("endpoint", "https://api.telegram.org"), ("token", "1:A"), ("chat", "42")]);
        let out = request_for(&p, "t", "b", 0).unwrap();
        assert_eq!(out.body["chat_id"], "42");
        assert_eq!(out.url, "https://api.telegram.org/bot1:A/sendMessage");
    }

    #[test]
    fn robots_answering_an_error_code_are_not_accepted() {
        let ding = params(&[("service", "dingtalk")]);
        assert!(accepted(&ding, r#"{"errcode":0,"errmsg":"ok"}"#));
        assert!(!accepted(&ding, r#"{"errcode":310000,"errmsg":"sign not match"}"#));
        assert!(accepted(&params(&[("service", "slack")]), "ok"));
    }
}
