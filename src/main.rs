//! `concierge`: the messaging engine's binary: `serve`, `token` and the operator commands.

use anyhow::Context;
use axum::serve::ListenerExt;
use clap::Parser;
use concierge::{auth, cli, config, log, projection, realtime, state};
use concierge_projections::ViewStore;
use config::{Cli, Command, Config, TokenArgs};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use state::AppState;
use std::future::Future;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Token(args) => token(args),
        Command::Rebuild(args) => match args.log.clone().check() {
            Ok(settings) if args.search => run_to_end(cli::rebuild_search(settings)),
            Ok(settings) => run_to_end(cli::rebuild(settings)),
            Err(e) => unusable(e),
        },
        Command::Replay(args) => match args.log.clone().check() {
            Ok(settings) => run_to_end(cli::replay(args, settings)),
            Err(e) => unusable(e),
        },
        Command::Tail(args) => match args.log.clone().check() {
            Ok(settings) => run_to_end(cli::tail(args, settings)),
            Err(e) => unusable(e),
        },
        Command::Openapi => openapi(),
        Command::Skip(args) => match cli::skip(&args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e:#}");
                ExitCode::from(1)
            }
        },
        Command::Doctor(args) => doctor(args),
        Command::Webhooks(config::WebhooksCommand::Failed { table, log }) => match log.check() {
            Ok(settings) => run_to_end(cli::webhooks_failed(table, settings)),
            Err(e) => unusable(e),
        },
        Command::Webhooks(config::WebhooksCommand::Redeliver { id, log }) => match log.check() {
            Ok(settings) => run_to_end(cli::webhooks_redeliver(id, settings)),
            Err(e) => unusable(e),
        },
        Command::Serve(args) => {
            init_tracing(args.log_format);
            match args.check() {
                Ok(config) => run_to_end(serve(config)),
                Err(e) => unusable(e),
            }
        }
    }
}

/// Settings the command cannot run with: the message names the key; exit status 2.
fn unusable(e: config::ConfigError) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::from(2)
}

/// Runs a command on a new runtime; its errors go to stderr with exit status 1.
fn run_to_end(command: impl Future<Output = anyhow::Result<()>>) -> ExitCode {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(refused_settings(&e))
        }
    }
}

/// 2 when the error is a setting that NATS refused or that is unusable (as for a bad flag), else 1.
fn refused_settings(e: &anyhow::Error) -> u8 {
    let settings = e.chain().any(|cause| {
        cause.is::<log::connect::NatsRejected>()
            || matches!(
                cause.downcast_ref::<log::OpenError>(),
                Some(log::OpenError::Rejected(_))
            )
            || cause.is::<log::connect::NatsConfigError>()
            || cause.is::<config::ConfigError>()
    });
    if settings {
        2
    } else {
        1
    }
}

fn init_tracing(format: config::LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let fmt = tracing_subscriber::fmt().with_env_filter(filter);
    match format {
        config::LogFormat::Text => fmt.init(),
        // One JSON object a line: `timestamp`, `level`, `fields` (with `message`), `target`.
        config::LogFormat::Json => fmt.json().init(),
    }
}

/// `concierge doctor`: exit 0 with no FAIL, 1 with one, 2 when the settings are unusable.
fn doctor(args: config::DoctorArgs) -> ExitCode {
    let config = match args.serve.check() {
        Ok(c) => c,
        Err(e) => {
            println!("FAIL settings: {e}");
            return ExitCode::from(2);
        }
    };
    let min_free = args.min_free_mb.saturating_mul(1 << 20);
    let worst = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt.block_on(concierge::doctor::run(&config, min_free)),
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match worst {
        concierge::doctor::Status::Fail => ExitCode::from(1),
        _ => ExitCode::SUCCESS,
    }
}

/// Prints the OpenAPI document, pretty, as `docs/openapi.json` holds it.
fn openapi() -> ExitCode {
    match concierge::http::openapi_document().to_pretty_json() {
        Ok(json) => {
            println!("{json}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: cannot encode the OpenAPI document: {e}");
            ExitCode::from(1)
        }
    }
}

fn token(args: TokenArgs) -> ExitCode {
    let Some(secret) = args.jwt_secret.filter(|s| !s.is_empty()) else {
        eprintln!("error: JWT_SECRET is not set: set JWT_SECRET to the secret the server uses");
        return ExitCode::from(2);
    };
    if !matches!(args.role.as_str(), "customer" | "admin" | "service") {
        eprintln!("error: --role must be customer, admin or service");
        return ExitCode::from(2);
    }
    if !concierge_events::ids::is_external(&args.sub) {
        eprintln!("error: --sub must be 1-128 characters of [A-Za-z0-9._:@-]");
        return ExitCode::from(2);
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let claims = auth::Claims {
        sub: args.sub,
        role: args.role,
        exp: now + args.ttl,
        name: args.name,
        bookings: (!args.bookings.is_empty()).then_some(args.bookings),
    };
    println!("{}", auth::JwtKeys::new(&secret).mint(&claims));
    ExitCode::SUCCESS
}

fn install_metrics() -> Option<PrometheusHandle> {
    let buckets = [
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
    ];
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &buckets)
        .ok()?
        .install_recorder()
        .ok()?;
    concierge::http::ops::register_metrics();
    Some(handle)
}

/// Runs a node until SIGINT or SIGTERM: in-flight requests finish, the views are flushed.
async fn serve(config: Config) -> anyhow::Result<()> {
    if config.jwt_secret_generated {
        tracing::warn!(
            "--dev without JWT_SECRET: generated JWT_SECRET={} (mint tokens with: JWT_SECRET={} concierge token ...)",
            config.jwt_secret,
            config.jwt_secret
        );
    }
    let data_dir = &config.log.data_dir;
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create DATA_DIR {}", data_dir.display()))?;
    let cipher = config
        .log
        .views_key
        .as_ref()
        .map(|k| concierge_projections::Cipher::new(&k.0));
    let views = ViewStore::open_sealed(&data_dir.join("views"), cipher)
        .with_context(|| format!("cannot open the views in {}", data_dir.display()))?;
    if views.resealed() {
        tracing::warn!(
            sealed = config.log.views_key.is_some(),
            "VIEWS_KEY was set, changed or removed: the views were wiped and fold again from the log"
        );
    }

    let connection = log::Connection::open(&config.log).await?;
    let log = connection.log.clone();
    let nats_url = log::redacted_url(&connection.url);

    let checkpoint = views
        .checkpoint()
        .context("cannot read the checkpoint of the views")?;
    let progress = projection::Progress::new(
        "views",
        checkpoint,
        config.event_level,
        projection::skip_file(&config.log.data_dir),
    );
    let search_index = Arc::new(
        concierge::search::SearchIndex::open(&data_dir.join("search"))
            .with_context(|| format!("cannot open the search index in {}", data_dir.display()))?,
    );
    let indexer =
        concierge::search::writer::Indexer::new(search_index.clone(), config.search_commit_events)
            .with_context(|| {
                format!(
                "cannot write the search index in {} (is a node still running on this DATA_DIR?)",
                data_dir.display()
            )
            })?;
    let search_progress = projection::Progress::new(
        "search",
        search_index
            .checkpoint()
            .context("cannot read the search index's checkpoint")?,
        config.event_level,
        projection::skip_file(&config.log.data_dir),
    );
    let (stop, stopped) = watch::channel(false);
    let listener = TcpListener::bind((config.host.as_str(), config.port))
        .await
        .with_context(|| format!("cannot listen on {}:{}", config.host, config.port))?;
    tracing::info!(
        addr = %listener.local_addr()?,
        https = config.tls.is_some(),
        nats = %nats_url,
        "concierge listening"
    );
    let state = AppState::new(
        config,
        log.clone(),
        views.clone(),
        progress.clone(),
        concierge::search::Search {
            index: search_index,
            progress: search_progress.clone(),
        },
        install_metrics(),
    );

    let (folded_tx, folded_rx) = tokio::sync::mpsc::channel(1024);
    let worker = tokio::spawn(projection::run(
        log.clone(),
        Arc::new(projection::views::Views {
            store: views.clone(),
            progress: progress.clone(),
            fanout: folded_tx,
        }),
        progress.clone(),
        stopped.clone(),
    ));
    let indexer = Arc::new(indexer);
    let search_worker = tokio::spawn(projection::run(
        log.clone(),
        indexer.clone(),
        search_progress.clone(),
        stopped.clone(),
    ));
    let persister = tokio::spawn(projection::views::persist(
        views.clone(),
        state.config.views_persist,
        stopped.clone(),
    ));
    let monitor = tokio::spawn(projection::monitor(
        log,
        vec![progress, search_progress],
        stopped.clone(),
    ));
    let fanout = tokio::spawn(realtime::plan::run(state.clone(), folded_rx));
    let presence = tokio::spawn(realtime::presence::run(state.clone(), stopped.clone()));
    let typing = tokio::spawn(realtime::typing::run(state.clone(), stopped.clone()));
    let sweeper = tokio::spawn(concierge::attachments::sweep::run(
        state.clone(),
        stopped.clone(),
    ));
    let waker = tokio::spawn(concierge::snooze::run(state.clone(), stopped.clone()));
    let webhooks = tokio::spawn(concierge::webhooks::run(state.clone(), stopped.clone()));
    let pruner = {
        let state = state.clone();
        let mut stopped = stopped.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(60)) => {
                        state.send_limiter.prune();
                        state.write_limiter.prune();
                        state.auth_failures.prune();
                    }
                    _ = stopped.changed() => return,
                }
            }
        })
    };

    let drain = state.drain.clone();
    let limit = state.config.drain;
    // The listener closes once every socket is gone; HTTP is served until then.
    let stopping = {
        let drain = drain.clone();
        async move {
            shutdown_signal().await;
            drain.begin();
            tracing::info!(
                connections = drain.open(),
                "draining: telling the sockets to reconnect"
            );
            drain.idle().await;
            tracing::info!("drained: every socket is closed; closing the listener");
        }
    };
    let mut server = tokio::spawn(run(listener, state, stopping));
    // Stopping the workers and flushing the views get the end of DRAIN_SECS.
    let stop_reserve = (limit / 4).min(Duration::from_secs(2));
    let cut = tokio::select! {
        served = &mut server => {
            served.context("the HTTP server panicked")??;
            false
        }
        _ = async { tokio::time::sleep_until(drain.began().await + limit - stop_reserve).await } => true,
    };
    if cut {
        tracing::warn!(
            "drain cut after DRAIN_SECS={}: closing {} connection(s) still open and any HTTP request still in flight",
            limit.as_secs(),
            drain.open()
        );
        server.abort();
    }
    let deadline = drain.began().await + limit;

    let _ = stop.send(true);
    let tasks = async {
        tokio::join!(
            worker,
            search_worker,
            persister,
            monitor,
            presence,
            typing,
            pruner,
            sweeper,
            waker,
            webhooks
        )
    };
    if tokio::time::timeout_at(deadline, tasks).await.is_err() {
        tracing::warn!("drain cut after DRAIN_SECS: the projection worker had not stopped");
    }
    fanout.abort();
    views.flush().context("cannot flush the views")?;
    if let Err(e) = projection::Projection::settle(indexer.as_ref()).await {
        tracing::warn!(error = %e, "cannot commit the search index; it resumes from its last commit");
    }
    connection.close().await;
    tracing::info!("stopped cleanly");
    Ok(())
}

/// Serves HTTP on `listener` until `shutdown` resolves, then lets in-flight requests finish.
async fn run(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let tls = state.config.tls.clone();
    let app = concierge::app(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    // Nagle's algorithm would hold a socket's next frame until the client ACKs the last one: with
    // batched writes that added milliseconds to every delivery (docs/performance.md, issue 13).
    let nodelay = |tcp: &tokio::net::TcpStream| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
    };
    match tls {
        None => {
            let listener = listener.tap_io(move |tcp| nodelay(tcp));
            axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await
        }
        Some(files) => {
            let listener = concierge::tls::TlsListener::new(listener, files)?
                .tap_io(move |tls| nodelay(tls.get_ref().0));
            axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
    tracing::info!(
        "draining: /ready is 503, sockets are told to reconnect, in-flight requests finish"
    );
}
