-- Releases are per host: a service on web1 and web2 has a release record on
-- each. Records from before hosts existed were made on the one engine there
-- was, `local`.
ALTER TABLE releases ADD COLUMN host TEXT NOT NULL DEFAULT 'local';
CREATE INDEX releases_by_service_host ON releases (service, env, host, id);
