//! Configuration, layered: built-in defaults → a TOML file (`--config`) → `ZHULAO_*`
//! environment variables (`ZHULAO_DATABASE_URL`, `ZHULAO_LISTEN`) → command-line flags.

use std::net::SocketAddr;
use std::path::Path;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Settings {
    /// `sqlite://zhulao.db` (the embedded default) or `postgres://user@host/db`.
    pub database_url: String,
    /// The HTTP listen address.
    pub listen: SocketAddr,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            database_url: "sqlite://zhulao.db".into(),
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
        }
    }
}

/// Overrides given on the command line (highest precedence).
#[derive(Debug, Default, Clone, clap::Args)]
pub struct CommonArgs {
    /// Database URL: `sqlite://PATH` (default `sqlite://zhulao.db`) or `postgres://…`.
    #[arg(long)]
    pub database_url: Option<String>,
    /// Address to serve HTTP on (default 127.0.0.1:8080).
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// A TOML file with `database_url` and `listen`.
    #[arg(long)]
    pub config: Option<std::path::PathBuf>,
}

impl CommonArgs {
    /// Resolves the layers into settings, with `defaults` as the bottom layer.
    pub fn settings(&self, defaults: Settings) -> anyhow::Result<Settings> {
        let mut fig = Figment::from(Serialized::defaults(defaults));
        if let Some(path) = &self.config {
            anyhow::ensure!(Path::new(path).exists(), "config file {} does not exist", path.display());
            fig = fig.merge(Toml::file(path));
        }
        fig = fig.merge(Env::prefixed("ZHULAO_").only(&["database_url", "listen"]));
        let mut s: Settings = fig.extract()?;
        if let Some(url) = &self.database_url {
            s.database_url = url.clone();
        }
        if let Some(listen) = self.listen {
            s.listen = listen;
        }
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::result_large_err)] // figment::Jail's closure signature
    fn layers_in_order() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("z.toml", "listen = \"127.0.0.1:9000\"\ndatabase_url = \"sqlite://file.db\"")?;
            jail.set_env("ZHULAO_DATABASE_URL", "postgres://env/db");
            let args = CommonArgs { config: Some("z.toml".into()), ..Default::default() };
            let s = args.settings(Settings::default()).unwrap();
            assert_eq!(s.listen, "127.0.0.1:9000".parse().unwrap());
            assert_eq!(s.database_url, "postgres://env/db");
            let args = CommonArgs { database_url: Some("sqlite://cli.db".into()), ..args };
            assert_eq!(args.settings(Settings::default()).unwrap().database_url, "sqlite://cli.db");
            Ok(())
        });
    }
}
