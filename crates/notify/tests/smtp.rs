//! The SMTP channel against a minimal SMTP server written here (EHLO/HELO, MAIL, RCPT, DATA, RSET,
//! NOOP, QUIT on 127.0.0.1:0) whose replies to RCPT and to the end of DATA are scripted per
//! connection.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use zhulao_notify::{
    Attempt, Channel, DeliveryOutcome, Notification, Recipient, RetryPolicy, SmtpChannel, SmtpConfig, SmtpTls,
};

/// Codes to answer on the n-th connection (250 once the script runs out).
#[derive(Default)]
struct Script {
    rcpt: Vec<u16>,
    data: Vec<u16>,
}

#[derive(Debug, Clone)]
struct Mail {
    helo: String,
    from: String,
    to: Vec<String>,
    data: String,
}

#[derive(Default)]
struct Sink {
    script: Script,
    connections: AtomicUsize,
    commands: Mutex<Vec<String>>,
    accepted: Mutex<Vec<Mail>>,
}

fn text(code: u16) -> &'static str {
    match code {
        250 => "2.0.0 OK",
        421 => "4.3.2 service not available",
        451 => "4.3.0 local error, try again later",
        550 => "5.1.1 mailbox unavailable",
        554 => "5.7.1 rejected",
        _ => "whatever",
    }
}

/// Starts the sink; returns its port.
async fn sink(script: Script) -> (u16, Arc<Sink>) {
    let sink = Arc::new(Sink { script, ..Sink::default() });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = sink.clone();
    tokio::spawn(async move {
        loop {
            let (socket, _) = listener.accept().await.unwrap();
            let n = server.connections.fetch_add(1, Ordering::SeqCst);
            let sink = server.clone();
            tokio::spawn(async move {
                let _ = session(socket, n, &sink).await;
            });
        }
    });
    (port, sink)
}

async fn session(socket: tokio::net::TcpStream, n: usize, sink: &Sink) -> std::io::Result<()> {
    let (read, mut write) = socket.into_split();
    let mut lines = BufReader::new(read);
    let rcpt_code = sink.script.rcpt.get(n).copied().unwrap_or(250);
    let data_code = sink.script.data.get(n).copied().unwrap_or(250);
    let mut mail = Mail { helo: String::new(), from: String::new(), to: vec![], data: String::new() };
    write.write_all(b"220 sink.test ESMTP ready\r\n").await?;
    loop {
        let mut line = String::new();
        if lines.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let line = line.trim_end().to_owned();
        sink.commands.lock().unwrap().push(line.clone());
        let upper = line.to_ascii_uppercase();
        let reply = if upper.starts_with("EHLO ") {
            mail.helo = line[5..].to_owned();
            "250-sink.test\r\n250-8BITMIME\r\n250 SMTPUTF8".to_owned()
        } else if upper.starts_with("HELO ") {
            mail.helo = line[5..].to_owned();
            "250 sink.test".to_owned()
        } else if upper.starts_with("MAIL FROM:") {
            mail.from = angle(&line);
            "250 2.1.0 OK".to_owned()
        } else if upper.starts_with("RCPT TO:") {
            if rcpt_code == 250 {
                mail.to.push(angle(&line));
            }
            format!("{rcpt_code} {}", text(rcpt_code))
        } else if upper == "DATA" {
            write.write_all(b"354 end with <CRLF>.<CRLF>\r\n").await?;
            let mut data = String::new();
            loop {
                let mut l = String::new();
                if lines.read_line(&mut l).await? == 0 {
                    return Ok(());
                }
                if l == ".\r\n" {
                    break;
                }
                data.push_str(l.strip_prefix('.').unwrap_or(&l));
            }
            mail.data = data;
            if data_code == 250 {
                sink.accepted.lock().unwrap().push(mail.clone());
            }
            format!("{data_code} {}", text(data_code))
        } else if upper == "RSET" || upper == "NOOP" {
            "250 2.0.0 OK".to_owned()
        } else if upper == "QUIT" {
            write.write_all(b"221 2.0.0 bye\r\n").await?;
            return Ok(());
        } else {
            "502 5.5.2 command not implemented".to_owned()
        };
        write.write_all(format!("{reply}\r\n").as_bytes()).await?;
    }
}

fn angle(line: &str) -> String {
    let start = line.find('<').map_or(0, |i| i + 1);
    let end = line.rfind('>').unwrap_or(line.len());
    line[start..end].to_owned()
}

/// Headers unfolded, with RFC 2047 encoded words decoded, and the base64 body decoded.
fn parse(data: &str) -> (Vec<(String, String)>, String) {
    let (head, body) = data.split_once("\r\n\r\n").expect("a blank line after the headers");
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in head.split("\r\n") {
        if line.starts_with([' ', '\t']) {
            headers.last_mut().unwrap().1.push_str(line);
        } else {
            let (name, value) = line.split_once(':').unwrap();
            headers.push((name.to_ascii_lowercase(), value.to_owned()));
        }
    }
    for (_, value) in &mut headers {
        *value = decode_words(value.trim());
    }
    let encoding = headers.iter().find(|(n, _)| n == "content-transfer-encoding").map(|(_, v)| v.as_str());
    assert_eq!(encoding, Some("base64"));
    let b64: String = body.split_whitespace().collect();
    (headers, String::from_utf8(STANDARD.decode(b64).unwrap()).unwrap())
}

/// Decodes `=?charset?B|Q?text?=` words; whitespace between two encoded words is dropped (RFC 2047 §6.2).
fn decode_words(value: &str) -> String {
    let mut out = String::new();
    let mut rest = value;
    let mut last_was_word = false;
    while let Some(start) = rest.find("=?") {
        let gap = &rest[..start];
        let after = &rest[start + 2..];
        let parts: Vec<&str> = after.splitn(3, '?').collect();
        let Some(end) = parts.get(2).and_then(|t| t.find("?=")) else { break };
        if !(last_was_word && gap.trim().is_empty()) {
            out.push_str(gap);
        }
        assert!(parts[0].eq_ignore_ascii_case("utf-8"), "charset {}", parts[0]);
        let encoded = &parts[2][..end];
        let bytes = if parts[1].eq_ignore_ascii_case("b") {
            STANDARD.decode(encoded).unwrap()
        } else {
            decode_q(encoded)
        };
        out.push_str(std::str::from_utf8(&bytes).unwrap());
        let consumed = start + 2 + parts[0].len() + 1 + parts[1].len() + 1 + end + 2;
        rest = &rest[consumed..];
        last_was_word = true;
    }
    out.push_str(rest);
    out
}

fn decode_q(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'_' => out.push(b' '),
            b'=' => {
                out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    out
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> &'a str {
    headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str()).unwrap_or_else(|| panic!("no {name}"))
}

const NOW_MS: i64 = 1_700_000_000_000;

fn channel(port: u16, tls: SmtpTls) -> SmtpChannel {
    let config = SmtpConfig {
        port,
        hello_name: Some("notify.zhulao.test".into()),
        retry: RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(50),
            attempt_timeout: Duration::from_secs(5),
        },
        ..SmtpConfig::new("127.0.0.1", tls, "助老平台 <noreply@zhulao.example.cn>")
    };
    SmtpChannel::new(config).unwrap().with_clock(|| NOW_MS)
}

fn notification(email: Option<&str>) -> Notification {
    let mut recipient = Recipient::new("李娜", "family").phone("13912345678");
    recipient.email = email.map(str::to_owned);
    Notification {
        id: "alarm-5-family-0-attempt-1".into(),
        alarm_id: 5,
        kind: "alarm_raised".into(),
        recipient,
        subject_zh: "紧急呼叫：王秀英按下了求助按钮".into(),
        subject_en: "SOS: Wang Xiuying pressed the help button".into(),
        body_zh: "王秀英（幸福里社区 3 号楼 2 单元）于 14:03 按下求助按钮，请立即联系。".into(),
        body_en: "Wang Xiuying (Xingfuli, bldg 3, unit 2) pressed SOS at 14:03. Please call now.".into(),
        data: serde_json::json!({ "alarm_kind": "sos", "link": "https://zhulao.example.cn/alarms/5" }),
    }
}

fn assert_no_address(attempts: &[Attempt]) {
    for a in attempts {
        assert_eq!(a.channel, "smtp");
        assert!(!a.detail.contains("li.na") && !a.detail.contains("13912345678"), "{a:?}");
        assert!(!a.target.contains("li.na@"), "{a:?}");
    }
}

#[tokio::test]
async fn delivers_a_utf8_message_chinese_first() {
    let (port, sink) = sink(Script::default()).await;
    let attempts = channel(port, SmtpTls::None).send(&notification(Some("li.na@example.cn"))).await;

    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].outcome, DeliveryOutcome::Delivered);
    assert_eq!(attempts[0].status, Some(250));
    assert_eq!(attempts[0].target, "l***@example.cn");
    assert_eq!(attempts[0].started_at_ms, NOW_MS);
    assert_no_address(&attempts);

    let mails = sink.accepted.lock().unwrap().clone();
    assert_eq!(mails.len(), 1);
    let mail = &mails[0];
    assert_eq!(mail.helo, "notify.zhulao.test");
    assert_eq!(mail.from, "noreply@zhulao.example.cn");
    assert_eq!(mail.to, ["li.na@example.cn"]);
    assert!(mail.data.is_ascii(), "headers and body are encoded for 7-bit transport");

    let (headers, body) = parse(&mail.data);
    assert_eq!(
        header(&headers, "subject"),
        "紧急呼叫：王秀英按下了求助按钮 / SOS: Wang Xiuying pressed the help button"
    );
    assert_eq!(header(&headers, "to"), "李娜 <li.na@example.cn>");
    assert_eq!(header(&headers, "from"), "助老平台 <noreply@zhulao.example.cn>");
    assert_eq!(header(&headers, "message-id"), "<alarm-5-family-0-attempt-1@zhulao>");
    assert_eq!(header(&headers, "date"), "Tue, 14 Nov 2023 22:13:20 +0000");
    assert!(header(&headers, "content-type").starts_with("text/plain; charset=utf-8"));
    let zh = body.find("王秀英（幸福里社区").expect("Chinese body");
    let en = body.find("Wang Xiuying (Xingfuli").expect("English body");
    assert!(zh < en, "Chinese first:\n{body}");
    assert!(body.contains("https://zhulao.example.cn/alarms/5"));
}

#[tokio::test]
async fn transient_451_then_250_is_two_attempts() {
    let (port, sink) = sink(Script { data: vec![451, 250], ..Script::default() }).await;
    let attempts = channel(port, SmtpTls::None).send(&notification(Some("li.na@example.cn"))).await;

    assert_eq!(
        attempts.iter().map(|a| a.outcome).collect::<Vec<_>>(),
        [DeliveryOutcome::Failed { retryable: true }, DeliveryOutcome::Delivered]
    );
    assert_eq!(attempts.iter().map(|a| a.status).collect::<Vec<_>>(), [Some(451), Some(250)]);
    assert_eq!(attempts[0].detail, "SMTP 451");
    assert_no_address(&attempts);
    assert_eq!(sink.connections.load(Ordering::SeqCst), 2);
    let mails = sink.accepted.lock().unwrap().clone();
    assert_eq!(mails.len(), 1);
    // The retry is the same message: same Message-ID.
    assert_eq!(header(&parse(&mails[0].data).0, "message-id"), "<alarm-5-family-0-attempt-1@zhulao>");
}

#[tokio::test]
async fn rejected_recipient_550_is_one_permanent_failure() {
    let (port, sink) = sink(Script { rcpt: vec![550], ..Script::default() }).await;
    let attempts = channel(port, SmtpTls::None).send(&notification(Some("li.na@example.cn"))).await;

    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].outcome, DeliveryOutcome::Failed { retryable: false });
    assert_eq!(attempts[0].status, Some(550));
    assert_eq!(attempts[0].detail, "SMTP 550");
    assert_no_address(&attempts);
    assert_eq!(sink.connections.load(Ordering::SeqCst), 1);
    assert!(sink.accepted.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_recipient_without_e_mail_is_not_tried() {
    let (port, sink) = sink(Script::default()).await;
    let ch = channel(port, SmtpTls::None);
    for email in [None, Some("  ")] {
        let attempts = ch.send(&notification(email)).await;
        assert_eq!(attempts.len(), 1);
        assert_eq!(attempts[0].outcome, DeliveryOutcome::Failed { retryable: false });
        assert_eq!(attempts[0].detail, "no e-mail address");
        assert_eq!(attempts[0].started_at_ms, NOW_MS);
    }
    let attempts = ch.send(&notification(Some("not an address"))).await;
    assert_eq!(attempts[0].detail, "invalid e-mail address");
    assert_eq!(attempts[0].outcome, DeliveryOutcome::Failed { retryable: false });
    assert_eq!(sink.connections.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn required_starttls_is_not_skipped() {
    // The sink offers no STARTTLS: nothing may be sent in the clear.
    let (port, sink) = sink(Script::default()).await;
    let attempts = channel(port, SmtpTls::StartTls).send(&notification(Some("li.na@example.cn"))).await;
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].outcome, DeliveryOutcome::Failed { retryable: false });
    assert_eq!(attempts[0].detail, "server does not offer STARTTLS");
    let commands = sink.commands.lock().unwrap().clone();
    assert!(!commands.iter().any(|c| c.starts_with("MAIL") || c.starts_with("RCPT")), "{commands:?}");
}

#[tokio::test]
async fn a_closed_port_gives_retryable_connection_failures() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let attempts = channel(port, SmtpTls::None).send(&notification(Some("li.na@example.cn"))).await;
    assert_eq!(attempts.len(), 3);
    assert!(
        attempts
            .iter()
            .all(|a| a.outcome == DeliveryOutcome::Failed { retryable: true } && a.status.is_none())
    );
    assert_eq!(attempts[0].detail, "connection failed");
}
