//! The create body that recreates a container on a new image with its
//! config intact: env, binds and volumes, networks and aliases, labels,
//! restart policy, ports, resource limits. What the container only had
//! because the old image said so (its env defaults, labels, command, …) is
//! left out, so the new image's own defaults apply (Watchtower does the same).

use std::collections::HashMap;

use bollard::models::{ContainerCreateBody, ContainerInspectResponse, EndpointSettings, ImageConfig, NetworkingConfig};

/// `old` recreated from `reference`; `old_image` is the config of the image it ran.
pub fn recreate_body(old: &ContainerInspectResponse, old_image: Option<&ImageConfig>, reference: &str) -> ContainerCreateBody {
    let config = old.config.clone().unwrap_or_default();
    let image = old_image.cloned().unwrap_or_default();
    let short_id: String = old.id.as_deref().unwrap_or_default().chars().take(12).collect();
    let differs = |mine: &Option<Vec<String>>, theirs: &Option<Vec<String>>| mine.clone().filter(|m| Some(m) != theirs.as_ref());
    let env = config.env.map(|env| {
        let defaults = image.env.clone().unwrap_or_default();
        env.into_iter().filter(|e| !defaults.contains(e)).collect::<Vec<_>>()
    });
    let labels = config.labels.map(|labels| {
        let defaults = image.labels.clone().unwrap_or_default();
        labels.into_iter().filter(|(k, v)| defaults.get(k) != Some(v)).collect::<HashMap<_, _>>()
    });
    let exposed_ports = config.exposed_ports.map(|ports| {
        let defaults = image.exposed_ports.clone().unwrap_or_default();
        ports.into_iter().filter(|(p, _)| !defaults.contains_key(p)).collect::<HashMap<_, _>>()
    });
    let volumes = config.volumes.map(|volumes| {
        let defaults = image.volumes.clone().unwrap_or_default();
        volumes.into_iter().filter(|(v, _)| !defaults.contains_key(v)).collect::<HashMap<_, _>>()
    });
    let endpoints: HashMap<String, EndpointSettings> = old
        .network_settings
        .as_ref()
        .and_then(|n| n.networks.clone())
        .unwrap_or_default()
        .into_iter()
        .map(|(network, endpoint)| {
            // The old container's own id is an automatic alias, not configuration.
            let aliases = endpoint.aliases.map(|a| a.into_iter().filter(|alias| *alias != short_id).collect::<Vec<_>>()).filter(|a| !a.is_empty());
            let kept = EndpointSettings {
                aliases,
                ipam_config: endpoint.ipam_config,
                links: endpoint.links,
                driver_opts: endpoint.driver_opts,
                gw_priority: endpoint.gw_priority,
                ..Default::default()
            };
            (network, kept)
        })
        .collect();
    ContainerCreateBody {
        // The default hostname is the old container's id; a new one gets its own.
        hostname: config.hostname.filter(|h| *h != short_id),
        domainname: config.domainname,
        user: config.user.filter(|u| Some(u) != image.user.as_ref()),
        attach_stdin: config.attach_stdin,
        attach_stdout: config.attach_stdout,
        attach_stderr: config.attach_stderr,
        exposed_ports,
        tty: config.tty,
        open_stdin: config.open_stdin,
        stdin_once: config.stdin_once,
        env,
        cmd: differs(&config.cmd, &image.cmd),
        healthcheck: config.healthcheck.filter(|h| Some(h) != image.healthcheck.as_ref()),
        args_escaped: config.args_escaped,
        image: Some(reference.to_string()),
        volumes,
        working_dir: config.working_dir.filter(|w| Some(w) != image.working_dir.as_ref()),
        entrypoint: differs(&config.entrypoint, &image.entrypoint),
        network_disabled: config.network_disabled,
        on_build: None,
        labels,
        stop_signal: config.stop_signal.filter(|s| Some(s) != image.stop_signal.as_ref()),
        stop_timeout: config.stop_timeout,
        shell: differs(&config.shell, &image.shell),
        host_config: old.host_config.clone(),
        networking_config: (!endpoints.is_empty()).then_some(NetworkingConfig { endpoints_config: Some(endpoints) }),
        mac_address: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::models::{ContainerConfig, HostConfig, NetworkSettings};

    #[test]
    fn image_defaults_are_dropped_and_the_rest_kept() {
        let old = ContainerInspectResponse {
            id: Some("0123456789abcdef".into()),
            config: Some(ContainerConfig {
                hostname: Some("0123456789ab".into()),
                env: Some(vec!["PATH=/bin".into(), "VERSION=1".into(), "DB=prod".into()]),
                cmd: Some(vec!["serve".into()]),
                labels: Some(HashMap::from([("from-image".into(), "x".into()), ("team".into(), "shop".into())])),
                image: Some("web:latest".into()),
                ..Default::default()
            }),
            host_config: Some(HostConfig { memory: Some(64 << 20), binds: Some(vec!["/srv:/data".into()]), ..Default::default() }),
            network_settings: Some(NetworkSettings {
                networks: Some(HashMap::from([(
                    "shop".into(),
                    EndpointSettings { aliases: Some(vec!["web".into(), "0123456789ab".into()]), ip_address: Some("172.18.0.2".into()), ..Default::default() },
                )])),
                ..Default::default()
            }),
            ..Default::default()
        };
        let image = ImageConfig {
            env: Some(vec!["PATH=/bin".into(), "VERSION=1".into()]),
            cmd: Some(vec!["serve".into()]),
            labels: Some(HashMap::from([("from-image".into(), "x".into())])),
            ..Default::default()
        };
        let body = recreate_body(&old, Some(&image), "web:latest");
        assert_eq!(body.env, Some(vec!["DB=prod".to_string()]), "the new image's VERSION and PATH apply");
        assert_eq!(body.cmd, None, "the image's own command is not pinned");
        assert_eq!(body.labels, Some(HashMap::from([("team".to_string(), "shop".to_string())])));
        assert_eq!(body.hostname, None);
        assert_eq!(body.host_config.unwrap().binds, Some(vec!["/srv:/data".to_string()]));
        let endpoint = &body.networking_config.unwrap().endpoints_config.unwrap()["shop"];
        assert_eq!(endpoint.aliases, Some(vec!["web".to_string()]));
        assert_eq!(endpoint.ip_address, None, "addresses are the engine's to assign");
    }
}
