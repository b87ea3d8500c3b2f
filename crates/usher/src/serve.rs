//! `usher serve`: binds the listeners, assembles the API and the edge into one router,
//! starts the media workers, the webhook dispatcher and the reaper, and shuts all of it
//! down gracefully on SIGTERM/SIGINT.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use usher_api::webhooks::{Dispatcher, DispatcherConfig};
use usher_api::{ApiConfig, ApiState};
use usher_core::origin::RequestOrigin;
use usher_edge::client::Clients;
use usher_media::Tools;
use usher_media::worker::{Worker, WorkerConfig};

use crate::cli::ServeArgs;
use crate::http_server::{self, ConnectionLimits};
use crate::{geoip, liveness, ops, scratch, storage};

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let geoip = geoip::open(args.geoip.as_deref())?;
    let stores = storage::open(&args.storage).await?;
    let mut listeners = Vec::new();
    for addr in &args.listen {
        let l = TcpListener::bind(addr)
            .await
            .with_context(|| format!("listening on {addr}"))?;
        listeners.push(l);
    }
    let addrs: Vec<SocketAddr> = listeners
        .iter()
        .map(TcpListener::local_addr)
        .collect::<Result<_, _>>()?;
    let public_url = match &args.public_url {
        Some(u) => u.trim_end_matches('/').to_owned(),
        None => addrs
            .first()
            .map(|a| format!("http://{a}"))
            .unwrap_or_default(),
    };

    let edge_url = args.edge_url.as_deref().map_or_else(
        || public_url.clone(),
        |u| u.trim_end_matches('/').to_owned(),
    );
    let rtmp = match args.rtmp_listen {
        Some(addr) => Some(
            TcpListener::bind(addr)
                .await
                .with_context(|| format!("listening for RTMP on {addr}"))?,
        ),
        None => None,
    };
    let srt = match args.srt_listen {
        Some(addr) => Some(
            tokio::net::UdpSocket::bind(addr)
                .await
                .with_context(|| format!("listening for SRT on {addr}"))?,
        ),
        None => None,
    };
    let srt_url = match (&args.live_srt_url, &srt) {
        (Some(u), _) => Some(u.clone()),
        (None, Some(s)) => Some(format!("srt://{}", s.local_addr()?)),
        (None, None) => None,
    };
    let rtmps = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(usher_live::tls::acceptor(cert, key)?),
        _ => None,
    };
    let scheme = if rtmps.is_some() { "rtmps" } else { "rtmp" };
    let rtmp_url = match (&args.live_rtmp_url, &rtmp) {
        (Some(u), _) => Some(u.clone()),
        (None, Some(l)) => Some(format!("{scheme}://{}/live/", l.local_addr()?)),
        (None, None) => None,
    };
    let role = args.role;
    let shutdown = CancellationToken::new();
    let scratch = scratch::prepare(&stores.scratch).context("preparing scratch space")?;
    // The API never runs ffmpeg; the edge makes thumbnails, the worker packages.
    let tools = if role.edge() || role.worker() || rtmp.is_some() || srt.is_some() {
        Some(Arc::new(
            Tools::from_env().context("finding ffmpeg and ffprobe")?,
        ))
    } else {
        None
    };

    // Viewers' addresses and countries, resolved alike by the edge and `token explain`.
    let clients = Arc::new(Clients::new(args.trusted_proxy.clone(), Some(geoip)));
    let mut app = Router::new();
    let mut poller = None;
    let mut fast = None;
    let mut flusher = None;
    if role.api() {
        let master_keys =
            crate::master_key::open_for_api(&stores.db, &args.master_key.path(&args.storage))
                .await?;
        let mut api_state = ApiState::new(
            stores.db.clone(),
            stores.blobs.clone(),
            ApiConfig {
                public_url: public_url.clone(),
                edge_url: edge_url.clone(),
                max_upload_bytes: args.max_upload_bytes,
                max_video_bytes: args.max_video_bytes,
                token_requests_per_minute: args.token_rate_limit,
                auth_failures_per_address: args.auth_failure_limit,
                auth_failures_per_account: args.auth_failure_account_limit,
                copy_policy: args.copy_policy(),
                clock_skew: i64::from(args.clock_skew),
                body_idle_timeout: Duration::from_secs(args.body_idle_timeout_secs),
                live_rtmp_url: rtmp_url.clone(),
                live_srt_url: srt_url.clone(),
                ..ApiConfig::default()
            },
            master_keys,
        );
        api_state.clients = clients.clone();
        app = app
            .nest("/client/v4", usher_api::router(api_state.clone()))
            .route("/client/v4", axum::routing::any(usher_api::no_route))
            .route("/client/v4/", axum::routing::any(usher_api::no_route))
            // `nest` flattens the API's routes, so its fallback does not shadow the edge's
            // `/{id}/{*rest}`: claim every other API path explicitly.
            .route(
                "/client/v4/{*rest}",
                axum::routing::any(usher_api::no_route),
            )
            .merge(usher_api::upload_router(api_state))
            .merge(usher_api::dashboard::router(
                usher_api::dashboard::DashboardConfig {
                    edge_url: edge_url.clone(),
                },
            ));
    } else {
        // An API client pointed at the wrong role gets the API's own error envelope.
        app = app.route(
            "/client/v4/{*rest}",
            axum::routing::any(usher_api::no_route),
        );
    }
    if role.edge() {
        let mut edge = usher_edge::EdgeState::new(
            stores.db.clone(),
            stores.blobs.clone(),
            i64::from(args.clock_skew),
            Clients::default(),
        );
        edge.clients = clients.clone();
        if let Some(tools) = &tools {
            edge.thumbnails = Some(Arc::new(usher_edge::thumbnail::Thumbnailer::new(
                tools.clone(),
                scratch.clone(),
            )));
        }
        edge.public_origin = RequestOrigin::parse(&edge_url).map(Arc::new);
        edge.files = Arc::new(usher_edge::files::Files::new(
            args.media_cache_mib.saturating_mul(1 << 20),
        ));
        edge.analytics = Arc::new(usher_edge::analytics::Analytics::new(
            !args.no_view_analytics,
        ));
        flusher = Some(
            usher_edge::analytics::Flusher::new(
                edge.analytics.clone(),
                stores.db.clone(),
                stores.blobs.clone(),
            )
            .with_live_viewers(edge.viewers.clone())
            .spawn(shutdown.clone()),
        );
        // Revocations and policy edits made by any process reach this edge's caches.
        poller = Some(usher_edge::cache::spawn_poller(
            stores.db.clone(),
            shutdown.clone(),
        ));
        fast = Some(Arc::new(usher_edge::fast_path::FastPath::new(edge.clone())));
        app = app.merge(usher_edge::router(edge));
    } else {
        app = app.fallback(|| async { (axum::http::StatusCode::NOT_FOUND, "not found\n") });
    }
    let app = app
        .merge(ops::router(ops::Ops {
            db: stores.db.clone(),
            blobs: stores.blobs.clone(),
            draining: shutdown.clone(),
            role: role.name(),
            metrics_allow: args.metrics_allow.clone(),
        }))
        .layer(ops::ObserveLayer);

    tokio::spawn(on_signal(shutdown.clone()));

    let mut tasks = tokio::task::JoinSet::new();
    let limits = ConnectionLimits {
        head_timeout: Duration::from_secs(args.request_head_timeout_secs),
        idle_timeout: Duration::from_secs(args.keep_alive_timeout_secs),
        max_per_client: usize::try_from(args.max_connections_per_client).unwrap_or(usize::MAX),
    };
    for (listener, addr) in listeners.into_iter().zip(&addrs) {
        let (app, stop, clients) = (app.clone(), shutdown.clone(), clients.clone());
        let fast = fast.clone();
        tasks.spawn(async move {
            http_server::serve(listener, app, fast, limits, clients, stop).await;
            Ok::<(), anyhow::Error>(())
        });
        tracing::info!(%addr, "listening");
        // Scripts and tests read the bound address (port 0 picks one) from this line.
        println!("usher listening on http://{addr}");
    }
    if let (true, Some(tools)) = (rtmp.is_some() || srt.is_some(), &tools) {
        let ingest = usher_live::Ingest::start(
            stores.db.clone(),
            stores.blobs.clone(),
            usher_live::IngestConfig {
                ffmpeg: tools.ffmpeg_path().to_owned(),
                policy: args.copy_policy(),
                ladder: args.live_ladder.clone(),
            },
            shutdown.clone(),
        )
        .await
        .context("starting the live ingest")?;
        if let Some(listener) = rtmp {
            let addr = listener.local_addr()?;
            let (stop, ingest) = (shutdown.clone(), ingest.clone());
            tasks.spawn(async move {
                usher_live::rtmp::serve(listener, rtmps, ingest, stop).await;
                Ok::<(), anyhow::Error>(())
            });
            tracing::info!(%addr, scheme, "listening for RTMP");
            println!("usher rtmp listening on {scheme}://{addr}/live/");
        }
        if let Some(socket) = srt {
            let addr = usher_live::srt::serve(socket, ingest, shutdown.clone())
                .await
                .context("starting the SRT listener")?;
            tracing::info!(%addr, "listening for SRT");
            println!("usher srt listening on srt://{addr}");
        }
    }
    std::io::stdout().flush()?;

    if let (true, Some(tools)) = (role.worker(), &tools) {
        start_workers(
            &args, &stores, tools, &scratch, &edge_url, &shutdown, &mut tasks,
        )
        .await?;
    }
    if role.api() && !role.worker() {
        // The API takes the uploads whose abandonment the reaper cleans up; reapers on
        // several processes never conflict (each deletion re-checks in its transaction).
        start_reaper(&args, &stores, &shutdown, &mut tasks);
    }
    tracing::info!(role = role.name(), "started");

    let mut result = Ok(());
    while let Some(joined) = tasks.join_next().await {
        let outcome = joined.context("server task panicked").and_then(|r| r);
        if let Err(e) = outcome {
            tracing::error!(error = ?e, "stopping");
            shutdown.cancel();
            if result.is_ok() {
                result = Err(e);
            }
        }
    }
    if let Some(p) = poller {
        p.abort();
    }
    // Every request has been answered: what they counted is written now, so a restart
    // loses nothing (the batch ids keep a retried batch from counting twice).
    if let Some(f) = flusher
        && let Ok(mut f) = f.await
    {
        let unapplied = f.flush().await;
        if unapplied > 0 {
            tracing::error!(
                batches = unapplied,
                "viewing analytics: batches not written before stopping"
            );
        }
    }
    stores.db.close().await;
    if let Err(e) = std::fs::remove_dir_all(&scratch) {
        tracing::debug!(error = %e, "could not remove this process's scratch space");
    }
    tracing::info!("stopped");
    result
}

type Tasks = tokio::task::JoinSet<anyhow::Result<()>>;

/// The media workers, the webhook dispatcher and the reaper.
#[allow(clippy::too_many_arguments)]
async fn start_workers(
    args: &ServeArgs,
    stores: &storage::Stores,
    tools: &Arc<Tools>,
    scratch: &std::path::Path,
    edge_url: &str,
    shutdown: &CancellationToken,
    tasks: &mut Tasks,
) -> anyhow::Result<()> {
    // Jobs held by workers of a process on this host that died (kill -9, OOM) need not
    // wait out their lease.
    match usher_media::worker::release_jobs_of(&stores.db, liveness::is_dead_here).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(jobs = n, "took back jobs of a process that is gone"),
        Err(e) => tracing::warn!(error = %e, "could not look for jobs of dead processes"),
    }
    for n in 0..args.workers.max(1) {
        let worker = Worker::new(
            stores.db.clone(),
            stores.blobs.clone(),
            tools.clone(),
            WorkerConfig {
                copy_policy: args.copy_policy(),
                max_video_bytes: args.max_video_bytes,
                lease: Duration::from_secs(args.job_lease_secs),
                progressive_publishing: args.progressive_publishing,
                ..WorkerConfig::new(
                    format!("{}-{n}", liveness::this_process()),
                    scratch.to_path_buf(),
                )
            },
        );
        let stop = shutdown.clone();
        tasks.spawn(async move {
            worker.run(stop).await;
            Ok(())
        });
    }

    // Webhooks get their own task: a slow receiver must never delay packaging. They
    // reach only the addresses copies may reach, and follow no redirects.
    let client = usher_outbound::Outbound::without_redirects(args.copy_policy())
        .context("building the webhook client")?;
    let dispatcher = Dispatcher::new(
        stores.db.clone(),
        client,
        DispatcherConfig::new(
            format!("{}-webhooks", liveness::this_process()),
            edge_url.to_owned(),
        ),
    );
    let stop = shutdown.clone();
    tasks.spawn(async move {
        dispatcher.run(stop).await;
        Ok(())
    });

    start_reaper(args, stores, shutdown, tasks);
    Ok(())
}

fn start_reaper(
    args: &ServeArgs,
    stores: &storage::Stores,
    shutdown: &CancellationToken,
    tasks: &mut Tasks,
) {
    let reaper = usher_store::Reaper::new(stores.db.clone(), stores.blobs.clone());
    let interval = Duration::from_secs(args.reaper_interval_secs);
    let stop = shutdown.clone();
    tasks.spawn(async move {
        reaper.run(interval, stop).await;
        Ok(())
    });
}

async fn on_signal(shutdown: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!("cannot install signal handlers");
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    tracing::info!("shutting down: finishing in-flight requests");
    shutdown.cancel();
}
