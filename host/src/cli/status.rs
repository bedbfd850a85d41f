//! `bosun status`: the overview an on-call person looks at first, as the
//! dashboard and `GET /api/v1/status` show it. Exit 1 when anything is red.

use clap::Args;

use super::output::{Failure, Output};
use crate::app::App;
use crate::ops::status::{self, Light};

#[derive(Args)]
pub struct StatusArgs {
    /// Only these hosts (`web1,web2`).
    #[arg(long, value_delimiter = ',')]
    hosts: Vec<String>,
}

pub async fn run(args: StatusArgs, app: &App, out: Output) -> Result<(), Failure> {
    let overview = status::overview(app, &args.hosts).await?;
    let word = |light: Light| format!("{light:?}").to_lowercase();
    let named = !app.config.hosts.is_empty();
    out.print(&overview, || {
        let mut lines = vec![format!("{}: all in all", word(overview.light))];
        for s in &overview.services {
            let release = s.current.as_ref().map_or("never deployed".to_string(), |r| format!("{} (release {})", r.version, r.id));
            let container = s.container.as_ref().map_or(String::new(), |c| format!(", {}{}", c.state, c.health.as_deref().map(|h| format!(" ({h})")).unwrap_or_default()));
            let on = if named { format!(" on {}", s.host) } else { String::new() };
            lines.push(format!("{:<6} service {}{on}: {release}{container}", word(s.light), s.name));
            lines.extend(s.why.iter().map(|why| format!("         {why}")));
        }
        for b in &overview.backups {
            let last = b.age_secs.map_or("no backup yet".to_string(), |age| format!("last backup {} ago", crate::time::elapsed(std::time::Duration::from_secs(age.max(0) as u64))));
            lines.push(format!("{:<6} backups {}: {last}", word(b.light), b.name));
            lines.extend(b.why.iter().filter(|why| !why.starts_with("no backup")).map(|why| format!("         {why}")));
        }
        lines.join("\n")
    });
    match overview.light {
        Light::Red => Err(Failure::failed("something is red; see above")),
        _ => Ok(()),
    }
}
