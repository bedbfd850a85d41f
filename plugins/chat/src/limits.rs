//! How much each chat service takes in one message, as it documents, and
//! how it counts. A request over the limit is refused (or, on Slack, cut off
//! by the service), so bosun builds each message to fit.

use bosun_sdk::serde_json::Value;

/// Whether the request body `body` for `service` is within its limit.
pub fn within(service: &str, body: &Value) -> bool {
    let text = |pointer: &str| body.pointer(pointer).and_then(Value::as_str).unwrap_or_default();
    let json_bytes = || bosun_sdk::serde_json::to_vec(body).map_or(usize::MAX, |bytes| bytes.len());
    match service {
        // "Text of the message to be sent, 1-4096 characters after entities
        // parsing" — https://core.telegram.org/bots/api#sendmessage. Telegram
        // counts UTF-16 code units (its entity offsets do), so an emoji is two.
        "telegram" => text("/text").encode_utf16().count() <= 4096,
        // "the message contents (up to 2000 characters)" —
        // https://discord.com/developers/docs/resources/webhook#execute-webhook
        "discord" => text("/content").chars().count() <= 2000,
        // markdown.content "最长不超过4096个字节，必须是utf8编码" (at most 4096 bytes,
        // UTF-8) — https://developer.work.weixin.qq.com/document/path/91770
        "wecom" => text("/markdown/content").len() <= 4096,
        // Slack truncates `text` past 40,000 characters ("The text field
        // accepts up to 40,000 characters") —
        // https://api.slack.com/changelog/2018-04-truncating-really-long-messages
        "slack" => text("/text").chars().count() <= 40_000,
        // The custom robot refuses a request body over 20000 bytes: errcode
        // 460101 "message too long, exceed 20000 bytes". The robot page
        // (https://open.dingtalk.com/document/orgapp/custom-robot-access) could
        // not be read here; the figure is the service's own error answer.
        "dingtalk" => json_bytes() <= 20_000,
        // The custom bot's request body is at most 20 KB (error 9499, "请求体大小
        // 不能超过20k") — https://open.feishu.cn/document/client-docs/bot-v3/add-custom-bot;
        // the page could not be read here, the figure is from its error table
        // as client libraries quote it. Read conservatively as 20,000 bytes.
        "feishu" => json_bytes() <= 20_000,
        _ => true,
    }
}
