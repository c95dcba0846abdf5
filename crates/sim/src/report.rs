//! The run's report: what was sent, what was injected, what the platform showed and how fast.

use serde::Serialize;

use crate::live::LiveAlarm;

/// Nearest-rank percentiles of a set of latencies, ms. Empty sets give `n = 0` and `None`s.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Percentiles {
    pub n: usize,
    pub p50: Option<f64>,
    pub p90: Option<f64>,
    pub p99: Option<f64>,
    pub max: Option<f64>,
}

impl Percentiles {
    pub fn of(values: &[f64]) -> Self {
        let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return Percentiles::default();
        }
        v.sort_by(f64::total_cmp);
        // Nearest rank: the smallest value with at least p% of the values at or below it.
        let rank = |p: f64| v[((p / 100.0 * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1];
        Percentiles {
            n: v.len(),
            p50: Some(rank(50.0)),
            p90: Some(rank(90.0)),
            p99: Some(rank(99.0)),
            max: v.last().copied(),
        }
    }

    fn text(&self) -> String {
        let f = |x: Option<f64>| x.map_or("-".to_string(), |v| format!("{v:.0}"));
        if self.n == 0 {
            return "-".into();
        }
        format!(
            "p50 {} / p90 {} / p99 {} / max {} ms (n={})",
            f(self.p50),
            f(self.p90),
            f(self.p99),
            f(self.max),
            self.n
        )
    }
}

/// End-to-end latencies.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct LatencyStats {
    /// From the fall's impact (the peak sample's timestamp) to the alarm arriving on the live feed.
    pub impact_to_alarm_ms: Percentiles,
    /// From sending the batch that completes the decision window (impact + 0.9 s) to the alarm on
    /// the live feed: the platform's own share.
    pub completing_message_to_live_ms: Percentiles,
    /// From the first transmission of an SOS event to its `down/ack`.
    pub sos_to_ack_ms: Percentiles,
}

/// One injected fall.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FallRecord {
    pub serial: String,
    /// The SisFall trial replayed.
    pub trial: String,
    /// Wall-clock Unix ms of the impact (peak-magnitude sample).
    pub impact_ms: i64,
    /// When the batch holding the impact was sent, if it was before the run ended.
    pub impact_sent_ms: Option<i64>,
    /// When the batch holding impact + 900 ms was sent (the completing message), if it was.
    pub completing_sent_ms: Option<i64>,
    /// When the matching fall alarm arrived on the live feed.
    pub alarm_seen_ms: Option<i64>,
    pub alarm_id: Option<i64>,
}

/// What a run did. Serialisable (the binary prints it with `--json`).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct SimReport {
    pub wearers: usize,
    pub connections: usize,
    /// Seconds of generation (start to stop).
    pub seconds: f64,
    /// Publishes written to the sockets (every kind), counted from the event loops.
    pub messages_sent: u64,
    pub motion_messages_sent: u64,
    /// Accelerometer samples in the motion batches written.
    pub samples_sent: u64,
    pub messages_per_s: f64,
    pub samples_per_s: f64,
    /// Publishes refused by a full client queue or lost with a dropped connection.
    pub publish_errors: u64,
    /// Batches sent more than 200 ms after their due instant, and the worst delay.
    pub late_batches: u64,
    pub max_lateness_ms: i64,
    /// Connections that never came up.
    pub connect_failures: usize,
    /// Falls whose impact was sent (their full records are in `falls`).
    pub falls_injected: u64,
    pub sos_injected: u64,
    /// SOS retransmissions (no ack within 10 s, doubling to 60 s).
    pub sos_retransmissions: u64,
    pub acks_received: u64,
    /// Alarms raised on the live feed (any kind); 0 without `api`.
    pub alarms_seen: u64,
    pub fall_alarms_seen: u64,
    /// Fall alarms raised for one of our wearers with no injected fall near them.
    pub unexpected_fall_alarms: u64,
    /// Whether the live feed was ever connected.
    pub live_feed: bool,
    pub latency: LatencyStats,
    /// Injected falls (with their completing message sent) that no fall alarm followed on the
    /// live feed within 10 s of the impact; `None` without a live feed.
    pub missed_falls: Option<u64>,
    pub falls: Vec<FallRecord>,
}

/// A fall alarm counts for an injected fall if it is seen within this long after the impact.
pub const MATCH_WINDOW_MS: i64 = 10_000;

/// Matches fall alarms on the live feed to injected falls (by serial and time), fills the
/// falls' alarm fields and the report's alarm and latency figures.
pub(crate) fn match_alarms(report: &mut SimReport, live: &[LiveAlarm], our_serials: &dyn Fn(&str) -> bool) {
    let fall_changes: Vec<&LiveAlarm> =
        live.iter().filter(|a| a.kind == "fall" && (a.change == "raised" || a.change == "repeat")).collect();
    report.fall_alarms_seen = fall_changes.iter().filter(|a| a.change == "raised").count() as u64;
    let mut used = vec![false; fall_changes.len()];
    let mut impact_lat = Vec::new();
    let mut completing_lat = Vec::new();
    let mut missed = 0;
    // Earliest falls first, each taking the first unused alarm for its serial in its window;
    // a "raised" change is preferred to a "repeat" (a fall joining an alarm still open).
    let mut order: Vec<usize> = (0..report.falls.len()).collect();
    order.sort_by_key(|&i| report.falls[i].impact_ms);
    for i in order {
        let f = &mut report.falls[i];
        let Some(sent) = f.completing_sent_ms else { continue };
        let window = |a: &LiveAlarm| {
            a.serial.as_deref() == Some(f.serial.as_str())
                && a.seen_ms >= f.impact_ms - 1_000
                && a.seen_ms <= f.impact_ms + MATCH_WINDOW_MS
        };
        let pick = ["raised", "repeat"].iter().find_map(|change| {
            (0..fall_changes.len())
                .find(|&j| !used[j] && fall_changes[j].change == *change && window(fall_changes[j]))
        });
        match pick {
            Some(j) => {
                used[j] = true;
                let a = fall_changes[j];
                f.alarm_seen_ms = Some(a.seen_ms);
                f.alarm_id = a.alarm_id;
                impact_lat.push((a.seen_ms - f.impact_ms) as f64);
                completing_lat.push((a.seen_ms - sent) as f64);
            }
            None => missed += 1,
        }
    }
    report.unexpected_fall_alarms = fall_changes
        .iter()
        .zip(&used)
        .filter(|(a, u)| !**u && a.change == "raised" && a.serial.as_deref().is_some_and(our_serials))
        .count() as u64;
    report.latency.impact_to_alarm_ms = Percentiles::of(&impact_lat);
    report.latency.completing_message_to_live_ms = Percentiles::of(&completing_lat);
    report.missed_falls = report.live_feed.then_some(missed);
}

impl SimReport {
    /// The report as plain text, Chinese and English labels.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let mut line = |label: &str, value: String| {
            // Pad by display width: CJK characters take two columns.
            let width: usize = label.chars().map(|c| if c >= '\u{1100}' { 2 } else { 1 }).sum();
            s.push_str(&format!("  {label}{} {value}\n", " ".repeat(44usize.saturating_sub(width))));
        };
        line("佩戴者 / wearers", format!("{} ({} MQTT connections)", self.wearers, self.connections));
        line("时长 / duration", format!("{:.1} s", self.seconds));
        line(
            "已发送消息 / messages sent",
            format!(
                "{} ({:.0}/s; motion batches {})",
                self.messages_sent, self.messages_per_s, self.motion_messages_sent
            ),
        );
        line("已发送采样 / samples sent", format!("{} ({:.0}/s)", self.samples_sent, self.samples_per_s));
        line("发送失败 / publish errors", self.publish_errors.to_string());
        line(
            "发送延迟 / late batches (>200 ms)",
            format!("{} (worst {} ms)", self.late_batches, self.max_lateness_ms),
        );
        if self.connect_failures > 0 {
            line("连接失败 / connections not up", self.connect_failures.to_string());
        }
        line("注入跌倒 / falls injected", self.falls_injected.to_string());
        line(
            "注入求助 / SOS injected",
            format!("{} (retransmissions {})", self.sos_injected, self.sos_retransmissions),
        );
        line("收到确认 / acks received", self.acks_received.to_string());
        if self.live_feed {
            line(
                "实时告警 / alarms on the live feed",
                format!("{} (falls {})", self.alarms_seen, self.fall_alarms_seen),
            );
            line("漏报跌倒 / missed falls (10 s)", self.missed_falls.map_or("-".into(), |m| m.to_string()));
            line("意外跌倒告警 / unexpected fall alarms", self.unexpected_fall_alarms.to_string());
            line("撞击→告警 / impact → alarm", self.latency.impact_to_alarm_ms.text());
            line("完成消息→告警 / completing msg → alarm", self.latency.completing_message_to_live_ms.text());
        } else {
            line("实时告警 / live feed", "未连接 / not connected (no --api, or unreachable)".into());
        }
        line("求助→确认 / SOS → ack", self.latency.sos_to_ack_ms.text());
        s
    }

    /// Prints [`to_text`](Self::to_text) to stdout under a heading.
    pub fn print_text(&self) {
        println!("模拟运行报告 / simulation report\n{}", self.to_text());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        let p = Percentiles::of(&v);
        assert_eq!((p.n, p.p50, p.p90, p.p99, p.max), (100, Some(50.0), Some(90.0), Some(99.0), Some(100.0)));
        let p = Percentiles::of(&[3.0, 1.0, 2.0]);
        assert_eq!((p.p50, p.p90, p.p99, p.max), (Some(2.0), Some(3.0), Some(3.0), Some(3.0)));
        let p = Percentiles::of(&[7.0]);
        assert_eq!((p.p50, p.p99), (Some(7.0), Some(7.0)));
        assert_eq!(Percentiles::of(&[]), Percentiles::default());
        assert_eq!(Percentiles::of(&[f64::NAN, 4.0]).n, 1);
        let v: Vec<f64> = (1..=1000).map(f64::from).collect();
        assert_eq!(Percentiles::of(&v).p99, Some(990.0));
    }

    fn fall(serial: &str, impact: i64, sent: Option<i64>) -> FallRecord {
        FallRecord {
            serial: serial.into(),
            trial: "F05".into(),
            impact_ms: impact,
            impact_sent_ms: Some(impact + 500),
            completing_sent_ms: sent,
            alarm_seen_ms: None,
            alarm_id: None,
        }
    }

    fn alarm(serial: &str, kind: &str, change: &str, seen: i64, id: i64) -> LiveAlarm {
        LiveAlarm {
            alarm_id: Some(id),
            kind: kind.into(),
            change: change.into(),
            serial: Some(serial.into()),
            seen_ms: seen,
            at_ms: None,
        }
    }

    #[test]
    fn alarms_are_matched_by_serial_and_time() {
        let mut r = SimReport {
            live_feed: true,
            falls: vec![
                fall("A", 10_000, Some(11_500)),
                fall("B", 20_000, Some(21_200)),
                fall("A", 60_000, Some(61_000)),
                fall("C", 90_000, None), // run ended before its decision window was sent
            ],
            ..Default::default()
        };
        let live = vec![
            alarm("A", "fall", "raised", 12_000, 1),
            alarm("B", "sos", "raised", 20_500, 2),  // not a fall
            alarm("B", "fall", "raised", 35_000, 3), // too late for B's fall
            alarm("A", "fall", "answer", 62_000, 1), // not a raise
            alarm("A", "fall", "repeat", 61_800, 1), // joins the alarm still open
            alarm("D", "fall", "raised", 5_000, 4),  // not ours
        ];
        match_alarms(&mut r, &live, &|s| ["A", "B", "C"].contains(&s));
        assert_eq!(r.falls[0].alarm_seen_ms, Some(12_000));
        assert_eq!(r.falls[1].alarm_seen_ms, None);
        assert_eq!((r.falls[2].alarm_seen_ms, r.falls[2].alarm_id), (Some(61_800), Some(1)));
        assert_eq!(r.missed_falls, Some(1));
        assert_eq!(r.fall_alarms_seen, 3);
        assert_eq!(r.unexpected_fall_alarms, 1, "B's late alarm; D is not ours");
        assert_eq!(r.latency.impact_to_alarm_ms.n, 2);
        assert_eq!(r.latency.impact_to_alarm_ms.max, Some(2_000.0));
        assert_eq!(r.latency.completing_message_to_live_ms.p50, Some(500.0));
        // Without a live feed nothing is "missed": it was not measured.
        let mut r2 = SimReport { falls: vec![fall("A", 1, Some(2))], ..Default::default() };
        match_alarms(&mut r2, &[], &|_| true);
        assert_eq!(r2.missed_falls, None);
    }

    #[test]
    fn text_report_has_both_languages() {
        let t = SimReport { wearers: 3, ..Default::default() }.to_text();
        assert!(t.contains("佩戴者 / wearers") && !t.contains("missed") && t.contains("live feed"));
    }
}
