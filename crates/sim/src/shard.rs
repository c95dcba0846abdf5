//! A generator shard: a task that owns a slice of the wearers, wakes when the next one is
//! due, builds and hands over its messages, and injects the shard's share of falls and SOS.
//!
//! Wearers' send instants are spread evenly over the second (wearer `i` of `N` at
//! `i·1000/N` ms), and each shard keeps its wearers in that order, so the next due wearer is
//! always the one under the cursor.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use tokio::sync::{mpsc, watch};
use zhulao_proto::Kind;

use crate::motion::Activity;
use crate::report::FallRecord;
use crate::schedule::Poisson;
use crate::wearer::{FallTrack, Wearer};
use crate::{AckIn, Ctx};

/// Falls are planned this long ahead, so the wearer is walking (and the detector has learnt
/// their upright posture) when the trial starts.
pub const FALL_LOOKAHEAD_MS: i64 = 15_000;
/// A batch sent later than this after its due instant counts as late.
pub const LATE_MS: i64 = 200;

pub(crate) struct Shard {
    pub wearers: Vec<Wearer>,
    pub ctx: Arc<Ctx>,
    pub rng: ChaCha8Rng,
    pub falls: Poisson,
    pub sos: Poisson,
    /// The forced first fall's impact time (shard 0 only).
    pub forced_fall_ms: Option<i64>,
    pub acks: mpsc::UnboundedReceiver<AckIn>,
    pub motion_qos1: bool,
    /// Whether this run's connections are pooled (statuses then go with the first batch).
    pub pooled: bool,
}

impl Shard {
    /// Runs until `stop` turns true; returns the wearers (for their final status).
    pub async fn run(mut self, mut stop: watch::Receiver<bool>) -> Vec<Wearer> {
        if self.wearers.is_empty() {
            return self.wearers;
        }
        let mut cursor = 0;
        let mut out = Vec::new();
        loop {
            if *stop.borrow() {
                break;
            }
            let now = self.ctx.clock.now_ms();
            self.housekeeping(now);
            // At most one round per wake, so a stop is seen even when hopelessly behind.
            for _ in 0..self.wearers.len() {
                if self.wearers[cursor].next_send_ms > now {
                    break;
                }
                self.due(cursor, now, &mut out);
                cursor = (cursor + 1) % self.wearers.len();
            }
            let wait = (self.wearers[cursor].next_send_ms - self.ctx.clock.now_ms()).clamp(0, 50);
            if wait > 0 {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(wait as u64)) => {}
                    _ = stop.changed() => break,
                }
            } else {
                tokio::task::yield_now().await;
            }
        }
        self.wearers
    }

    /// Acks, and the falls and SOS presses that are due.
    fn housekeeping(&mut self, now: i64) {
        while let Ok(a) = self.acks.try_recv() {
            let Some(w) = self.wearers.get_mut(a.local as usize) else { continue };
            if w.sos.as_ref().is_some_and(|p| p.id == a.id) {
                let p = w.sos.take().expect("checked");
                self.ctx.sos_latency.lock().expect("sos lock").push((a.at_ms - p.first_sent_ms) as f64);
            }
        }
        let ctx = self.ctx.clone();
        let lib = &ctx.lib;
        if lib.falls.is_empty() {
            return;
        }
        if let Some(t) = self.forced_fall_ms
            && now >= t - FALL_LOOKAHEAD_MS
        {
            self.forced_fall_ms = None;
            // Prefer someone already walking: falls happen on the move, and the detector has
            // then learnt which way is up for this wearer.
            let walking = (0..self.wearers.len())
                .filter(|&i| !self.wearers[i].in_fall() && self.wearers[i].activity() == Activity::Walk)
                .min_by_key(|&i| self.wearers[i].next_send_ms);
            let pick = walking.or_else(|| self.pick_free());
            if let Some(i) = pick {
                self.inject_fall(i, lib.clearest_fall(), t);
            }
        }
        while let Some(t) = self.falls.take_before(now + FALL_LOOKAHEAD_MS, &mut self.rng) {
            let trial = self.rng.random_range(0..lib.falls.len());
            if let Some(i) = self.pick_free() {
                self.inject_fall(i, trial, t.max(now));
            }
        }
        while self.sos.take_before(now, &mut self.rng).is_some() {
            for _ in 0..20 {
                let i = self.rng.random_range(0..self.wearers.len());
                let w = &mut self.wearers[i];
                if w.sos.is_none() && w.sos_request.is_none() {
                    w.sos_request = Some(now);
                    break;
                }
            }
        }
    }

    /// A random wearer not busy with a fall (a few tries).
    fn pick_free(&mut self) -> Option<usize> {
        (0..20).map(|_| self.rng.random_range(0..self.wearers.len())).find(|&i| !self.wearers[i].in_fall())
    }

    fn inject_fall(&mut self, i: usize, trial: usize, impact_target_ms: i64) {
        let ctx = self.ctx.clone();
        let w = &mut self.wearers[i];
        let (impact_ms, impact_batch, completing_batch) = w.plan_fall(&ctx.lib, trial, impact_target_ms);
        let mut falls = ctx.falls.lock().expect("falls lock");
        falls.push(FallRecord {
            serial: w.spec.serial.clone(),
            trial: ctx.lib.falls[trial].name.clone(),
            impact_ms,
            impact_sent_ms: None,
            completing_sent_ms: None,
            alarm_seen_ms: None,
            alarm_id: None,
        });
        w.fall_track = Some(FallTrack { record: falls.len() - 1, impact_batch, completing_batch });
        tracing::info!(serial = %w.spec.serial, trial = %ctx.lib.falls[trial].name, in_ms = impact_ms - ctx.clock.now_ms(), "fall planned");
    }

    /// Sends wearer `i`'s batch and whatever else it has due.
    fn due(&mut self, i: usize, now: i64, out: &mut Vec<(Kind, bool, Vec<u8>)>) {
        let ctx = &*self.ctx;
        let w = &mut self.wearers[i];
        let late = now - w.next_send_ms;
        if late > LATE_MS {
            ctx.stats.late_batches.fetch_add(1, Ordering::Relaxed);
        }
        ctx.stats.max_lateness_ms.fetch_max(late, Ordering::Relaxed);
        let conn = &ctx.conns[w.conn];
        let session = conn.sessions.load(Ordering::Relaxed);
        if session != w.session_seen {
            if w.session_seen != 0 {
                w.reconnected(now);
            }
            w.session_seen = session;
        }
        if self.pooled && !w.status_sent {
            w.status_sent = true;
            conn.send(ctx, &w.topics.status, true, true, w.status(true), 0);
        }
        let batch_index = w.batch;
        let batch = w.motion_batch(&ctx.lib);
        let n = batch.accel.len() as u32;
        conn.send(ctx, &w.topics.motion, self.motion_qos1, false, batch.encode(), n);
        w.step_position();
        if let Some(track) = w.fall_track {
            let mut falls = ctx.falls.lock().expect("falls lock");
            let rec = &mut falls[track.record];
            if batch_index == track.impact_batch {
                rec.impact_sent_ms = Some(now);
                ctx.stats.falls_injected.fetch_add(1, Ordering::Relaxed);
            }
            if batch_index == track.completing_batch {
                rec.completing_sent_ms = Some(now);
                w.fall_track = None;
            }
        }
        out.clear();
        let (new_sos, retx) = w.reports(now, out);
        if new_sos {
            ctx.stats.sos_injected.fetch_add(1, Ordering::Relaxed);
            tracing::info!(serial = %w.spec.serial, "SOS pressed");
        }
        if retx {
            ctx.stats.sos_retransmissions.fetch_add(1, Ordering::Relaxed);
        }
        for (kind, qos1, payload) in out.drain(..) {
            conn.send(ctx, w.topic(kind), qos1, false, payload, 0);
        }
        w.last_pub_ms = now;
    }
}
