//! The command line, exactly as SPEC §2 fixes it. Every flag also reads `USHER_*`.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use ipnet::IpNet;

#[derive(Debug, Parser)]
#[command(
    name = "usher",
    version,
    about = "Self-hosted video platform with signed-URL access control"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server: management API, delivery edge and media workers.
    Serve(Box<ServeArgs>),
    /// Manage accounts.
    Account {
        #[command(subcommand)]
        command: AccountCommand,
    },
    /// Signed-URL tokens, minted offline with a signing key.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Upload a video to a server over tus, with progress; an interrupted upload
    /// (Ctrl-C, lost connection, server restart) resumes where it stopped.
    Upload(UploadArgs),
    /// Manage signing keys on a server.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// List, show and delete videos on a server.
    Video {
        #[command(subcommand)]
        command: VideoCommand,
    },
}

/// Which server and account the client commands talk to.
#[derive(Debug, Clone, Args)]
pub struct ClientArgs {
    /// Base URL of the Usher server.
    #[arg(long, env = "USHER_SERVER", default_value = "http://127.0.0.1:8787")]
    pub server: String,
    /// The account id (32 hex characters).
    #[arg(long, env = "USHER_ACCOUNT")]
    pub account: String,
    /// The account's API token.
    #[arg(long, env = "USHER_TOKEN", hide_env_values = true)]
    pub token: String,
    /// Print exactly one JSON document on stdout instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Args)]
pub struct UploadArgs {
    /// The video file.
    pub file: PathBuf,
    #[command(flatten)]
    pub client: ClientArgs,
    /// The video's name (`meta.name`; default: the file's name).
    #[arg(long)]
    pub name: Option<String>,
    /// Make the video private: it plays only with a signed token.
    #[arg(long)]
    pub require_signed_urls: bool,
    /// Return once the bytes are in, without waiting for the video to be ready.
    #[arg(long)]
    pub no_wait: bool,
    /// How long to keep retrying while the server cannot be reached, in seconds.
    #[arg(long, default_value_t = 600)]
    pub retry_for: u64,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a signing key; its private parts are printed once and never again.
    Create(ClientArgs),
    /// List the live signing keys.
    List(ClientArgs),
    /// Revoke a signing key: every token it signed stops working.
    Revoke {
        /// The key's id.
        id: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Put a new master key first in the master key file and re-seal every account's
    /// own signing key under it (run on a machine with the database and the file; the
    /// older keys stay in the file, for processes still running with it).
    RotateMaster(RotateMasterArgs),
    /// Write a new master key file to copy to every API machine (never overwrites one).
    NewMaster {
        /// Where to write it.
        #[arg(long)]
        master_key_file: PathBuf,
    },
}

#[derive(Debug, Clone, Args)]
pub struct RotateMasterArgs {
    #[command(flatten)]
    pub storage: StorageArgs,
    #[command(flatten)]
    pub master_key: MasterKeyArgs,
}

/// Where the master key that seals account keys at rest is (SPEC §9).
#[derive(Debug, Clone, Args)]
pub struct MasterKeyArgs {
    /// The master key file (default: master.key in the data dir, created on first start
    /// when absent). Every API process of a deployment needs the same file: back it up
    /// apart from the database.
    #[arg(long, env = "USHER_MASTER_KEY_FILE")]
    pub master_key_file: Option<PathBuf>,
}

impl MasterKeyArgs {
    pub fn path(&self, storage: &StorageArgs) -> PathBuf {
        self.master_key_file.clone().unwrap_or_else(|| {
            storage
                .data_dir
                .join(usher_store::master_key::MASTER_KEY_FILE)
        })
    }
}

#[derive(Debug, Subcommand)]
pub enum VideoCommand {
    /// List videos, newest first.
    List {
        #[command(flatten)]
        client: ClientArgs,
        /// Only videos whose name contains this.
        #[arg(long)]
        search: Option<String>,
        /// At most this many (1-1000).
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// Show one video.
    Get {
        uid: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Delete a video and all its media.
    Delete {
        uid: String,
        #[command(flatten)]
        client: ClientArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Sign a token for one video with a signing key's PEM or JWK (the `pem`/`jwk`
    /// fields of `POST …/stream/keys`, base64 as returned); prints the token.
    Sign(TokenSignArgs),
    /// Ask a server what its edges would decide for a token now, with every check they
    /// run (signature, key, video, times, access rules, origin, download) and its verdict.
    Explain(TokenExplainArgs),
}

#[derive(Debug, Clone, Args)]
#[command(group = clap::ArgGroup::new("key").required(true).args(["pem", "jwk"]))]
#[command(group = clap::ArgGroup::new("expiry").args(["exp", "ttl"]))]
pub struct TokenSignArgs {
    /// The signing key's id (the token's `kid`).
    #[arg(long, env = "USHER_KEY_ID")]
    pub key_id: String,
    /// The key as base64 PEM (PKCS#1 or PKCS#8).
    #[arg(long, env = "USHER_PEM", hide_env_values = true)]
    pub pem: Option<String>,
    /// The key as base64 JWK.
    #[arg(long, env = "USHER_JWK", hide_env_values = true)]
    pub jwk: Option<String>,
    /// The video's uid (the token's `sub`).
    #[arg(long, env = "USHER_VIDEO")]
    pub video: String,
    /// Expiry as unix seconds (at most 24 hours ahead).
    #[arg(long)]
    pub exp: Option<i64>,
    /// Expiry as seconds from now (default 3600; at most 86400).
    #[arg(long)]
    pub ttl: Option<i64>,
    /// Not before, as unix seconds.
    #[arg(long)]
    pub nbf: Option<i64>,
    /// Allow the MP4 download.
    #[arg(long)]
    pub downloadable: bool,
    /// An access rule as JSON, e.g. '{"type":"ip.geoip.country","country":["GB"],"action":"allow"}';
    /// repeat for several, evaluated in order.
    #[arg(long = "rule")]
    pub rules: Vec<String>,
}

#[derive(Debug, Clone, Args)]
pub struct TokenExplainArgs {
    /// The signed-URL token (what goes where the video uid would in a URL).
    #[arg(value_name = "TOKEN")]
    pub signed_token: String,
    #[command(flatten)]
    pub client: ClientArgs,
    /// The video asked for (default: the one the token names).
    #[arg(long)]
    pub video: Option<String>,
    /// The viewer's address (default: this machine's, as the server sees it).
    #[arg(long)]
    pub ip: Option<String>,
    /// The viewer's country, ISO 3166-1 alpha-2 (default: where GeoIP places the address).
    #[arg(long)]
    pub country: Option<String>,
    /// The page's origin, as a player would send it (e.g. https://shop.example).
    #[arg(long)]
    pub origin: Option<String>,
    /// What is asked for: media (default), download, thumbnail or player.
    #[arg(long)]
    pub resource: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// Create an account and print its id and credentials (shown once).
    Create(AccountCreateArgs),
}

/// Where metadata and media live; shared by every command that touches them.
#[derive(Debug, Clone, Args)]
pub struct StorageArgs {
    /// Directory for the embedded defaults: SQLite database, media files, scratch space.
    #[arg(long, env = "USHER_DATA_DIR", default_value = "./usher-data")]
    pub data_dir: PathBuf,
    /// Metadata database: sqlite://PATH or postgres://… (default: SQLite in the data dir).
    #[arg(long, env = "USHER_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Media store: file://PATH or s3://BUCKET/PREFIX, with the endpoint and credentials
    /// from AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
    /// AWS_ALLOW_HTTP (default: media/ in the data dir).
    #[arg(long, env = "USHER_MEDIA_URL")]
    pub media_url: Option<String>,
    /// Database connections this process may hold (default: 16 on PostgreSQL, 4 on
    /// SQLite). Mind the server's max_connections across all processes.
    #[arg(long, env = "USHER_DATABASE_CONNECTIONS", value_parser = clap::value_parser!(u32).range(1..))]
    pub database_connections: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Role {
    /// API, edge and worker in one process.
    All,
    /// The management API and uploads (`/client/v4`, `/tus`, direct uploads).
    Api,
    /// Delivery: player pages, manifests, segments, downloads, thumbnails. Needs only
    /// the database and the media store.
    Edge,
    /// Packaging, copies from URLs, webhooks and the reaper; serves only the health
    /// and metrics endpoints.
    Worker,
}

impl Role {
    pub fn api(self) -> bool {
        matches!(self, Self::All | Self::Api)
    }
    pub fn edge(self) -> bool {
        matches!(self, Self::All | Self::Edge)
    }
    pub fn worker(self) -> bool {
        matches!(self, Self::All | Self::Worker)
    }
    pub fn name(self) -> &'static str {
        match self {
            Self::All => "all",
            Self::Api => "api",
            Self::Edge => "edge",
            Self::Worker => "worker",
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on; repeat for several (IPv6 as [::1]:8787). Port 0 picks a free port.
    #[arg(
        long = "listen",
        env = "USHER_LISTEN",
        value_delimiter = ',',
        default_value = "127.0.0.1:8787"
    )]
    pub listen: Vec<SocketAddr>,
    #[command(flatten)]
    pub storage: StorageArgs,
    #[command(flatten)]
    pub master_key: MasterKeyArgs,
    /// MaxMind-format (.mmdb) country database, e.g. GeoLite2-Country (default: the
    /// bundled free database).
    #[arg(long, env = "USHER_GEOIP")]
    pub geoip: Option<PathBuf>,
    /// CIDR of proxies whose X-Forwarded-For is believed; repeat for several.
    #[arg(
        long = "trusted-proxy",
        env = "USHER_TRUSTED_PROXY",
        value_delimiter = ','
    )]
    pub trusted_proxy: Vec<IpNet>,
    /// Base of the absolute URLs Usher hands out (default: http:// + the first listen address).
    #[arg(long, env = "USHER_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Base of the delivery URLs the API puts in video objects (playback, thumbnails,
    /// downloads, embed code) when the edges answer on another address than the API
    /// (default: the public URL).
    #[arg(long, env = "USHER_EDGE_URL")]
    pub edge_url: Option<String>,
    /// Seconds of clock difference tolerated on token exp/nbf.
    #[arg(long, env = "USHER_CLOCK_SKEW", default_value_t = 30)]
    pub clock_skew: u32,
    /// What this process does.
    #[arg(long, env = "USHER_ROLE", value_enum, default_value = "all")]
    pub role: Role,
    /// Largest basic (multipart) upload in bytes.
    #[arg(long, env = "USHER_MAX_UPLOAD_BYTES", default_value_t = usher_api::ApiConfig::default().max_upload_bytes)]
    pub max_upload_bytes: u64,
    /// Largest resumable (tus) upload in bytes.
    #[arg(long, env = "USHER_MAX_VIDEO_BYTES", default_value_t = usher_api::ApiConfig::default().max_video_bytes)]
    pub max_video_bytes: u64,
    /// `POST …/token` requests allowed per account per minute (across all API processes).
    #[arg(long, env = "USHER_TOKEN_RATE_LIMIT", default_value_t = usher_api::ApiConfig::default().token_requests_per_minute)]
    pub token_rate_limit: u32,
    /// Failed API authentications allowed per client address per minute (across all
    /// API processes); beyond it the address gets 429 until the minute has passed.
    #[arg(long, env = "USHER_AUTH_FAILURE_LIMIT", default_value_t = usher_api::ApiConfig::default().auth_failures_per_address)]
    pub auth_failure_limit: u32,
    /// Failed API authentications allowed per account per minute, from all addresses;
    /// beyond it the addresses that failed against the account get 429.
    #[arg(long, env = "USHER_AUTH_FAILURE_ACCOUNT_LIMIT", default_value_t = usher_api::ApiConfig::default().auth_failures_per_account)]
    pub auth_failure_account_limit: u32,
    /// Videos packaged at once by this process.
    #[arg(long, env = "USHER_WORKERS", default_value_t = 1)]
    pub workers: usize,
    /// MiB of published media (segments, manifests, thumbnails) the edge keeps in memory.
    #[arg(long, env = "USHER_MEDIA_CACHE_MIB", default_value_t = 256)]
    pub media_cache_mib: u64,
    /// Do not count viewing analytics on this edge (`…/stream/analytics/views` then
    /// shows nothing it served). The variable takes true/false, 1/0, yes/no or on/off.
    #[arg(long, env = "USHER_NO_VIEW_ANALYTICS", value_parser = clap::builder::BoolishValueParser::new())]
    pub no_view_analytics: bool,
    /// Seconds between runs of the reaper, which deletes videos past their
    /// scheduledDeletion and pending uploads whose upload URL expired.
    #[arg(long, env = "USHER_REAPER_INTERVAL_SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    pub reaper_interval_secs: u64,
    /// Let copies (`POST …/stream/copy`) and webhooks reach any address, including
    /// loopback, private and link-local ones (only for closed networks and tests).
    /// The variable takes true/false, 1/0, yes/no or on/off.
    #[arg(long, env = "USHER_COPY_ALLOW_PRIVATE", value_parser = clap::builder::BoolishValueParser::new())]
    pub copy_allow_private: bool,
    /// Publish a remuxed upload's own stream as soon as it is packaged, so the video
    /// turns `ready` then, and the lower renditions of its ladder afterwards (a new
    /// generation, switched to at once). Without it a video turns `ready` once its whole
    /// ladder is published. The variable takes true/false, 1/0, yes/no or on/off.
    #[arg(long, env = "USHER_PROGRESSIVE_PUBLISHING", value_parser = clap::builder::BoolishValueParser::new())]
    pub progressive_publishing: bool,
    /// A network `POST …/stream/copy` may fetch from in addition to public addresses
    /// (e.g. an internal media server, 10.1.2.3/32); repeat for several.
    #[arg(
        long = "copy-allow-net",
        env = "USHER_COPY_ALLOW_NET",
        value_delimiter = ','
    )]
    pub copy_allow_net: Vec<IpNet>,
    /// Seconds a worker holds a job without renewing it; a job of a worker that died on
    /// another machine is taken over after this long (on this machine, at once).
    #[arg(long, env = "USHER_JOB_LEASE_SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(2..))]
    pub job_lease_secs: u64,
    /// Seconds a client has to send a complete request head, from the connection
    /// opening or the previous response (an idle keep-alive connection is closed then too).
    #[arg(long, env = "USHER_REQUEST_HEAD_TIMEOUT_SECS", default_value_t = crate::http_server::DEFAULT_HEAD_TIMEOUT_SECS, value_parser = clap::value_parser!(u64).range(1..))]
    pub request_head_timeout_secs: u64,
    /// Seconds after which a connection on which nothing moves, either way, is closed.
    #[arg(long, env = "USHER_KEEP_ALIVE_TIMEOUT_SECS", default_value_t = crate::http_server::DEFAULT_IDLE_TIMEOUT_SECS, value_parser = clap::value_parser!(u64).range(1..))]
    pub keep_alive_timeout_secs: u64,
    /// Seconds an upload's body may stall (no bytes at all) before the request is ended;
    /// a resumable (tus) upload keeps what arrived.
    #[arg(long, env = "USHER_BODY_IDLE_TIMEOUT_SECS", default_value_t = usher_api::lingering::DEFAULT_BODY_IDLE_TIMEOUT_SECS, value_parser = clap::value_parser!(u64).range(1..))]
    pub body_idle_timeout_secs: u64,
    /// Connections one client address may hold at once (behind --trusted-proxy: requests
    /// per forwarded client); beyond it, 503.
    #[arg(long, env = "USHER_MAX_CONNECTIONS_PER_CLIENT", default_value_t = crate::http_server::DEFAULT_MAX_CONNECTIONS_PER_CLIENT, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections_per_client: u32,
    /// Accept live broadcasts over RTMP on this address (e.g. 0.0.0.0:1935; port 0 picks a
    /// free port). Publishers send to rtmp://HOST:PORT/live/ with their live input's
    /// stream key.
    #[arg(long, env = "USHER_RTMP_LISTEN")]
    pub rtmp_listen: Option<SocketAddr>,
    /// Accept live broadcasts over SRT on this UDP address (e.g. 0.0.0.0:9998); callers
    /// name their live input by stream id (its uid) and encrypt with its passphrase.
    #[arg(long, env = "USHER_SRT_LISTEN")]
    pub srt_listen: Option<SocketAddr>,
    /// The SRT URL the API hands out as a live input's `srt.url` (default: this
    /// process's --srt-listen address, else srt://<public host>:9998).
    #[arg(long, env = "USHER_LIVE_SRT_URL")]
    pub live_srt_url: Option<String>,
    /// PEM certificate chain for RTMPS: with --tls-key, --rtmp-listen takes publishers
    /// over TLS (rtmps://). HTTP listeners stay plain; put TLS for them in a proxy.
    #[arg(long, env = "USHER_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, env = "USHER_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Heights of lower renditions every live broadcast also gets, for viewers on slow
    /// links, e.g. 720,360 (none by default: the publisher's stream only). Each costs
    /// an encode for as long as the broadcast lasts; none at or above the source's height.
    #[arg(long, env = "USHER_LIVE_LADDER", value_delimiter = ',', value_parser = clap::value_parser!(u32).range(32..=4320))]
    pub live_ladder: Vec<u32>,
    /// The RTMP URL the API hands out as a live input's `rtmps.url` (default: this
    /// process's --rtmp-listen address, else rtmp://<public host>:1935/live/).
    #[arg(long, env = "USHER_LIVE_RTMP_URL")]
    pub live_rtmp_url: Option<String>,
    /// Networks whose clients may read `/metrics`; repeat for several.
    #[arg(
        long = "metrics-allow",
        env = "USHER_METRICS_ALLOW",
        value_delimiter = ',',
        default_value = "127.0.0.0/8,::1/128"
    )]
    pub metrics_allow: Vec<IpNet>,
}

impl ServeArgs {
    /// The address policy for copies from URLs, shared by the API and the workers.
    pub fn copy_policy(&self) -> usher_outbound::AddressPolicy {
        usher_outbound::AddressPolicy::public_only()
            .allow_private(self.copy_allow_private)
            .allow_nets(self.copy_allow_net.iter().copied())
    }
}

#[derive(Debug, Clone, Args)]
pub struct AccountCreateArgs {
    /// The account's email (used with X-Auth-Key for legacy authentication).
    #[arg(long, env = "USHER_EMAIL")]
    pub email: String,
    #[command(flatten)]
    pub storage: StorageArgs,
    /// Print exactly one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn serve_accepts_every_spec_flag() {
        let cli = Cli::try_parse_from([
            "usher",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--listen",
            "[::1]:0",
            "--data-dir",
            "/tmp/x",
            "--database-url",
            "sqlite:///tmp/x/db",
            "--media-url",
            "file:///tmp/x/m",
            "--geoip",
            "/tmp/g.mmdb",
            "--trusted-proxy",
            "10.0.0.0/8",
            "--trusted-proxy",
            "::1/128",
            "--public-url",
            "http://h:1",
            "--clock-skew",
            "5",
            "--role",
            "all",
            "--max-video-bytes",
            "1000",
            "--copy-allow-private",
            "--copy-allow-net",
            "10.1.2.3/32",
            "--copy-allow-net",
            "fd00::/8",
        ])
        .unwrap();
        let Command::Serve(s) = cli.command else {
            panic!()
        };
        assert_eq!(s.listen.len(), 2);
        assert_eq!(s.trusted_proxy.len(), 2);
        assert_eq!(s.clock_skew, 5);
        assert_eq!(s.reaper_interval_secs, 60);
        assert_eq!(s.max_video_bytes, 1000);
        assert!(s.copy_allow_private);
        assert_eq!(s.copy_allow_net.len(), 2);
    }

    #[test]
    fn serve_reads_the_reaper_and_private_address_flags() {
        let cli = Cli::try_parse_from([
            "usher",
            "serve",
            "--reaper-interval-secs",
            "1",
            "--copy-allow-private",
            "--progressive-publishing",
        ])
        .unwrap();
        let Command::Serve(s) = cli.command else {
            panic!()
        };
        assert_eq!(s.reaper_interval_secs, 1);
        assert!(s.copy_allow_private);
        assert!(s.progressive_publishing);
        let Command::Serve(plain) = Cli::try_parse_from(["usher", "serve"]).unwrap().command else {
            panic!()
        };
        assert!(
            !plain.progressive_publishing,
            "the whole ladder first by default"
        );
        assert!(
            Cli::try_parse_from(["usher", "serve", "--reaper-interval-secs", "0"]).is_err(),
            "a zero interval would spin"
        );
    }

    #[test]
    fn copy_policy_defaults_to_public_only() {
        let cli = Cli::try_parse_from(["usher", "serve"]).unwrap();
        let Command::Serve(s) = cli.command else {
            panic!()
        };
        assert_eq!(s.max_video_bytes, 30_000_000_000);
        let policy = s.copy_policy();
        assert!(!policy.allows("127.0.0.1".parse().unwrap()));
        assert!(!policy.allows("169.254.169.254".parse().unwrap()));
        assert!(policy.allows("8.8.8.8".parse().unwrap()));
        let cli =
            Cli::try_parse_from(["usher", "serve", "--copy-allow-net", "127.0.0.2/32"]).unwrap();
        let Command::Serve(s) = cli.command else {
            panic!()
        };
        assert!(s.copy_policy().allows("127.0.0.2".parse().unwrap()));
        assert!(!s.copy_policy().allows("127.0.0.1".parse().unwrap()));
    }
}
