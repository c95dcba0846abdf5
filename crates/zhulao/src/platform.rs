//! Wires the running platform: the response service with its notification channels, the
//! device gateway on the embedded or an external broker, the escalation timers, the
//! home-care service layer with its dispatch timers, and the HTTP API over all of them.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use zhulao_gateway::{EmbeddedBroker, IngestConfig, Metrics, PipelineConfig};
use zhulao_notify::{Channel, DeliveryOutcome, Notification, Recipient};
use zhulao_response::{LiveEvent, LiveHub, Notifier, OutgoingNotification, Response};
use zhulao_store::{NotificationRecord, Store};

use crate::settings::{NotifySettings, Settings};

/// Sends through the configured channels and records every attempt. Escalations also go
/// to the operators' consoles (the live feed); a family call with no SMS/voice channel is
/// recorded as undeliverable, so the console shows that someone must phone.
struct ChannelNotifier {
    webhook: Option<Arc<dyn Channel>>,
    smtp: Option<Arc<dyn Channel>>,
    hub: LiveHub,
}

fn record(purpose: &str, a: zhulao_notify::Attempt) -> NotificationRecord {
    NotificationRecord {
        at: a.started_at_ms,
        channel: a.channel.to_string(),
        target: a.target,
        purpose: purpose.to_string(),
        attempt: a.attempt as i32,
        duration_ms: a.duration_ms as i64,
        outcome: match a.outcome {
            DeliveryOutcome::Delivered => "delivered".into(),
            DeliveryOutcome::Failed { retryable: true } => "failed".into(),
            DeliveryOutcome::Failed { retryable: false } => "failed_permanent".into(),
        },
        status: a.status.map(i32::from),
        detail: a.detail,
    }
}

#[async_trait]
impl Notifier for ChannelNotifier {
    async fn notify(&self, n: &OutgoingNotification) -> Vec<NotificationRecord> {
        let msg = Notification {
            id: n.id.clone(),
            alarm_id: n.alarm_id,
            kind: n.purpose.clone(),
            recipient: Recipient {
                name: n.recipient.name.clone(),
                phone: n.recipient.phone.as_ref().map(|p| p.as_str().to_string()),
                email: n.recipient.email.clone(),
                role: n.recipient.role.clone(),
            },
            subject_zh: n.subject_zh.clone(),
            subject_en: n.subject_en.clone(),
            body_zh: n.body_zh.clone(),
            body_en: n.body_en.clone(),
            data: n.data.clone(),
        };
        let mut out = Vec::new();
        if let Some(w) = &self.webhook {
            out.extend(w.send(&msg).await.into_iter().map(|a| record(&n.purpose, a)));
        }
        if let Some(s) = &self.smtp
            && n.recipient.email.is_some()
        {
            out.extend(s.send(&msg).await.into_iter().map(|a| record(&n.purpose, a)));
        }
        if out.is_empty() {
            out.push(NotificationRecord {
                at: chrono::Utc::now().timestamp_millis(),
                channel: "none".into(),
                target: zhulao_notify::mask_phone(n.recipient.phone.as_ref().map_or("", |p| p.as_str())),
                purpose: n.purpose.clone(),
                attempt: 1,
                duration_ms: 0,
                outcome: "failed_permanent".into(),
                status: None,
                detail: "未配置短信/语音通道，请人工联系 / no SMS or voice channel configured: call by hand"
                    .into(),
            });
        }
        // The console: every notification about an alarm shows there, without personal data.
        self.hub.publish(LiveEvent {
            topic: "notification",
            region_code: n.region_code.clone(),
            elder_id: n.elder_id,
            responder_id: None,
            at: chrono::Utc::now().timestamp_millis(),
            data: serde_json::json!({
                "alarm_id": n.alarm_id,
                "purpose": n.purpose,
                "recipient_role": n.recipient.role,
                "delivered": out.iter().any(|r| r.outcome == "delivered"),
                "subject_zh": n.subject_zh,
                "subject_en": n.subject_en,
            }),
        });
        out
    }
}

/// A configured channel, if any.
type MaybeChannel = Option<Arc<dyn Channel>>;

/// The webhook and SMTP channels the settings describe.
fn channels(s: &NotifySettings) -> anyhow::Result<(MaybeChannel, MaybeChannel)> {
    let webhook: MaybeChannel = match (&s.webhook_url, &s.webhook_secret) {
        (Some(url), Some(secret)) => Some(Arc::new(zhulao_notify::WebhookChannel::new(
            zhulao_notify::WebhookConfig::new(url.clone(), secret.expose()),
        )?)),
        (Some(_), None) => anyhow::bail!("notify.webhook_secret is required with notify.webhook_url"),
        _ => None,
    };
    let smtp: MaybeChannel = match (&s.smtp_host, &s.smtp_from) {
        (Some(host), Some(from)) => {
            let tls = match s.smtp_tls.as_deref().unwrap_or("starttls") {
                "none" => zhulao_notify::SmtpTls::None,
                "tls" => zhulao_notify::SmtpTls::Implicit,
                _ => zhulao_notify::SmtpTls::StartTls,
            };
            let mut cfg = zhulao_notify::SmtpConfig::new(host.clone(), tls, from.clone());
            if let Some(p) = s.smtp_port {
                cfg.port = p;
            }
            if let (Some(u), Some(p)) = (&s.smtp_username, &s.smtp_password) {
                cfg.credentials = Some(zhulao_notify::SmtpCredentials {
                    username: u.clone(),
                    password: p.expose().to_string(),
                });
            }
            Some(Arc::new(zhulao_notify::SmtpChannel::new(cfg)?))
        }
        _ => None,
    };
    Ok((webhook, smtp))
}

/// What `start` leaves running.
pub struct Platform {
    pub state: zhulao_api::AppState,
    /// Where devices (and the simulator) connect: `mqtt://host:port`.
    pub device_url: Option<String>,
    _ingest: Option<zhulao_gateway::Ingest>,
    /// The embedded broker, when no external one is configured.
    pub broker: Option<zhulao_gateway::BrokerStarted>,
}

/// Starts the response service, the gateway and the timers.
pub async fn start(
    store: Arc<dyn Store>,
    s: &Settings,
    tls: Option<&Arc<rustls::ServerConfig>>,
) -> anyhow::Result<Platform> {
    let hub = LiveHub::new(16_384);
    let (webhook, smtp) = channels(&s.notify)?;
    let notifier = Arc::new(ChannelNotifier { webhook, smtp, hub: hub.clone() });
    let response = Response::new(store.clone(), s.alarms.clone(), notifier, hub);
    let metrics = Metrics::new();
    let mut broker = None;
    let mqtt = if s.mqtt.enabled {
        let client_id = format!("zhulao-{}", s.mqtt.instance);
        let (mut cfg, device_url) = match &s.mqtt.url {
            Some(url) => {
                let cfg = IngestConfig::from_url(url, &client_id)?;
                tracing::info!(broker = %zhulao_domain::redact_url(url), "external MQTT broker");
                // Devices log in with their own credentials: the address alone.
                let devices = format!("mqtt://{}:{}", cfg.host, cfg.port);
                (cfg, devices)
            }
            None => {
                let started = zhulao_gateway::broker::start(
                    &EmbeddedBroker {
                        listen_v4: s.mqtt.listen,
                        listen_v5: s.mqtt.listen_v5,
                        listen_tls: tls.map(|_| s.mqtt.listen_tls),
                        tls: tls.cloned(),
                        max_connections: 100_000,
                        topic_root: s.mqtt.topic_root.clone(),
                        login_timeout: Duration::from_secs(s.mqtt.login_timeout_s.max(1)),
                    },
                    store.clone(),
                    metrics.clone(),
                )
                .await?;
                let mut cfg = IngestConfig::from_url(&format!("mqtt://{}", started.internal), &client_id)?;
                cfg.username = Some(started.login.username.clone());
                cfg.password = Some(started.login.password.clone().into());
                // The embedded broker lives and dies with this process: nothing to resume.
                cfg.persistent_session = false;
                let addr = started.plain;
                let host =
                    if addr.ip().is_unspecified() { "127.0.0.1".to_string() } else { addr.ip().to_string() };
                let url = format!("mqtt://{host}:{}", addr.port());
                broker = Some(started);
                (cfg, url)
            }
        };
        cfg.topic_root = s.mqtt.topic_root.clone();
        cfg.shards = s.mqtt.shard_range()?;
        cfg.workers = s.mqtt.workers.max(1);
        tracing::info!(devices = %device_url, shards = ?cfg.shards, "device gateway starting");
        Some((cfg, device_url))
    } else {
        None
    };
    let watches = s.watch.config()?;
    let device_url = mqtt.as_ref().map(|(_, url)| url.clone());
    let ingest = if mqtt.is_some() || watches.is_some() {
        let pipeline = match &mqtt {
            Some((cfg, _)) => cfg.pipeline(),
            None => PipelineConfig {
                workers: s.mqtt.workers.max(1),
                queue: 4096,
                tick: Duration::from_secs(5),
                default_region: String::new(),
            },
        };
        Some(zhulao_gateway::start_gateway(
            &pipeline,
            mqtt.map(|(cfg, _)| cfg),
            watches.as_ref(),
            response.clone(),
            metrics.clone(),
        )?)
    } else {
        None
    };
    tokio::spawn(response.clone().run_timers(Duration::from_secs(1), std::future::pending()));
    // Home-care services share the live feed; their timers run from the database too.
    let orders = zhulao_orders::Orders::new(store.clone(), s.services.clone(), response.hub().clone());
    let added = orders.ensure_catalogue().await?;
    if added > 0 {
        tracing::info!(items = added, "service catalogue: built-in items added");
    }
    tokio::spawn(orders.clone().run_timers(Duration::from_secs(1), std::future::pending()));
    let responder = response.clone();
    let render: zhulao_api::MetricsRender =
        Arc::new(move || with_effect_failures(metrics.render(), responder.failed_effects()));
    let state = zhulao_api::AppState::with(store, response.clone(), Some(render)).with_orders(orders);
    Ok(Platform { state, device_url, _ingest: ingest, broker })
}

/// The gateway's metrics with the response service's failed effects (notifications,
/// dispatches, device feedback that could not be carried out) before the closing `# EOF`.
fn with_effect_failures(mut text: String, failed: u64) -> String {
    let line = format!(
        "# HELP zhulao_alarm_effect_failures Alarm effects that failed (notifications, dispatches, device feedback).\n\
         # TYPE zhulao_alarm_effect_failures counter\nzhulao_alarm_effect_failures_total {failed}\n"
    );
    match text.rfind("# EOF") {
        Some(i) => text.insert_str(i, &line),
        None => text.push_str(&line),
    }
    text
}
