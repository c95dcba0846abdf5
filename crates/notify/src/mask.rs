//! Masked forms of notification targets, for attempts and logs: phone numbers keep their first
//! three and last four characters, e-mail addresses their first character and domain, URLs only
//! their host and port.

/// `13812345678` → `138****5678`. Numbers shorter than eight characters are masked whole.
pub fn mask_phone(phone: &str) -> String {
    let chars: Vec<char> = phone.trim().chars().collect();
    if chars.len() < 8 {
        return "****".to_owned();
    }
    let head: String = chars[..3].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}****{tail}")
}

/// `alice@x.cn` → `a***@x.cn`. Without an `@` nothing is shown.
pub fn mask_email(email: &str) -> String {
    match email.trim().rsplit_once('@') {
        Some((local, domain)) => match local.chars().next() {
            Some(first) => format!("{first}***@{domain}"),
            None => format!("***@{domain}"),
        },
        None => "***".to_owned(),
    }
}

/// `https://user:pw@hooks.example.cn:8443/sms?key=…` → `hooks.example.cn:8443`: scheme,
/// credentials, path, query and fragment are dropped.
pub fn mask_url(url: &str) -> String {
    let rest = url.trim();
    let rest = rest.split_once("://").map_or(rest, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if host.is_empty() { "***".to_owned() } else { host.to_owned() }
}

/// Masks any target by its shape: a URL (`scheme://`), an e-mail address (`@`), else a phone number.
pub fn mask_target(target: &str) -> String {
    if target.contains("://") {
        mask_url(target)
    } else if target.contains('@') {
        mask_email(target)
    } else {
        mask_phone(target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones() {
        assert_eq!(mask_phone("13812345678"), "138****5678");
        assert_eq!(mask_phone(" 010-62345678 "), "010****5678");
        assert_eq!(mask_phone("+8613812345678"), "+86****5678");
        assert_eq!(mask_phone("1234567"), "****");
        assert_eq!(mask_phone(""), "****");
    }

    #[test]
    fn emails() {
        assert_eq!(mask_email("alice@x.cn"), "a***@x.cn");
        assert_eq!(mask_email("王@例子.中国"), "王***@例子.中国");
        assert_eq!(mask_email("@x.cn"), "***@x.cn");
        assert_eq!(mask_email("nobody"), "***");
    }

    #[test]
    fn urls() {
        assert_eq!(mask_url("https://hooks.example.cn/sms?key=secret"), "hooks.example.cn");
        assert_eq!(mask_url("http://user:pw@127.0.0.1:8080/a#b"), "127.0.0.1:8080");
        assert_eq!(mask_url("hooks.example.cn?token=1"), "hooks.example.cn");
        assert_eq!(mask_url("https://"), "***");
    }

    #[test]
    fn by_shape() {
        assert_eq!(mask_target("https://h.cn/x"), "h.cn");
        assert_eq!(mask_target("bob@h.cn"), "b***@h.cn");
        assert_eq!(mask_target("13900001111"), "139****1111");
    }
}
