//! Whether an SNS `SubscriptionConfirmation` (recorded in `notices`) may be confirmed: its
//! `SubscribeURL` must be an SNS endpoint of AWS in the topic's own region and its `TopicArn` must
//! be in a known org's AWS account. The URL check is an SSRF guard: the URL is parsed, never
//! matched as a prefix, so `https://sns.us-east-1.amazonaws.com.evil.example/`, userinfo
//! (`https://x@sns.us-east-1.amazonaws.com/`), a port, or another scheme are refused.

use serde::Serialize;

/// What confirming needs: the topic and its token (ConfirmSubscription), and the checked URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Confirmable {
    pub topic_arn: String,
    pub account: String,
    pub region: String,
    pub token: String,
    pub subscribe_url: String,
}

/// `arn:aws:sns:REGION:ACCOUNT:NAME` → (region, account).
fn topic_region_account(arn: &str) -> Option<(&str, &str)> {
    let mut parts = arn.splitn(6, ':');
    let (arn_, partition, service, region, account, name) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    let region_ok = !region.is_empty()
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    let account_ok = account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit());
    (arn_ == "arn" && partition == "aws" && service == "sns" && region_ok && account_ok)
        .then_some(())
        .filter(|()| !name.is_empty())
        .map(|()| (region, account))
}

/// The host of an `https://HOST/…` URL, when it has no userinfo and no port; `None` otherwise.
fn https_host(url: &str) -> Result<&str, &'static str> {
    let rest = url
        .strip_prefix("https://")
        .ok_or("SubscribeURL is not https")?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    if authority.contains('@') {
        return Err("SubscribeURL has userinfo");
    }
    if authority.contains(':') {
        return Err("SubscribeURL has a port");
    }
    if authority.is_empty() {
        return Err("SubscribeURL has no host");
    }
    Ok(authority)
}

/// Checks a recorded SubscriptionConfirmation (its raw SNS JSON). `known_account` says whether an
/// AWS account belongs to a known org. `Err` carries the reason it must not be confirmed.
pub fn check_subscription_confirmation(
    raw: &str,
    known_account: impl Fn(&str) -> bool,
) -> Result<Confirmable, String> {
    let v: serde_json::Value =
        serde_json::from_str(raw).map_err(|_| "not a JSON SNS message".to_owned())?;
    let field = |name: &str| v.get(name).and_then(|x| x.as_str()).unwrap_or("");
    if field("Type") != "SubscriptionConfirmation" {
        return Err("not a SubscriptionConfirmation".into());
    }
    let topic_arn = field("TopicArn");
    let (region, account) = topic_region_account(topic_arn)
        .ok_or_else(|| format!("TopicArn {topic_arn:?} is not an arn:aws:sns ARN"))?;
    let token = field("Token");
    if token.is_empty() {
        return Err("no Token".into());
    }
    let url = field("SubscribeURL");
    let host = https_host(url).map_err(str::to_owned)?;
    let expected = format!("sns.{region}.amazonaws.com");
    if !host.eq_ignore_ascii_case(&expected) {
        return Err(format!(
            "SubscribeURL host {host:?} is not {expected} (the topic's region)"
        ));
    }
    if !known_account(account) {
        return Err(format!("topic account {account} belongs to no known org"));
    }
    Ok(Confirmable {
        topic_arn: topic_arn.to_owned(),
        account: account.to_owned(),
        region: region.to_owned(),
        token: token.to_owned(),
        subscribe_url: url.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(topic: &str, url: &str) -> String {
        serde_json::json!({
            "Type": "SubscriptionConfirmation",
            "MessageId": "m1",
            "Token": "tok",
            "TopicArn": topic,
            "SubscribeURL": url,
        })
        .to_string()
    }

    const TOPIC: &str = "arn:aws:sns:us-east-1:111111111111:sendops-events";

    fn check(topic: &str, url: &str) -> Result<Confirmable, String> {
        check_subscription_confirmation(&msg(topic, url), |a| a == "111111111111")
    }

    #[test]
    fn an_aws_sns_url_of_a_known_account_is_confirmable() {
        let c = check(
            TOPIC,
            "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=x&Token=tok",
        )
        .unwrap();
        assert_eq!(c.region, "us-east-1");
        assert_eq!(c.account, "111111111111");
        assert_eq!(c.token, "tok");
    }

    #[test]
    fn everything_else_is_refused_with_its_reason() {
        let cases = [
            (TOPIC, "http://sns.us-east-1.amazonaws.com/", "not https"),
            (
                TOPIC,
                "https://sns.us-east-1.amazonaws.com.evil.example/",
                "is not sns.us-east-1.amazonaws.com",
            ),
            (
                TOPIC,
                "https://evil.example@sns.us-east-1.amazonaws.com/",
                "userinfo",
            ),
            (TOPIC, "https://sns.us-east-1.amazonaws.com:8443/", "port"),
            (
                TOPIC,
                "https://sns.eu-west-1.amazonaws.com/",
                "the topic's region",
            ),
            (
                "arn:aws:sns:us-east-1:222222222222:t",
                "https://sns.us-east-1.amazonaws.com/",
                "no known org",
            ),
            (
                "arn:aws:sqs:us-east-1:111111111111:t",
                "https://sns.us-east-1.amazonaws.com/",
                "not an arn:aws:sns ARN",
            ),
        ];
        for (topic, url, reason) in cases {
            let e = check(topic, url).unwrap_err();
            assert!(e.contains(reason), "{url}: {e}");
        }
        let e = check_subscription_confirmation("{\"Type\":\"Notification\"}", |_| true);
        assert!(e.unwrap_err().contains("not a SubscriptionConfirmation"));
    }
}
