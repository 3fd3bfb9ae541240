use super::*;
use crate::timefmt::DAY_MS;

fn stats(events: u64, last_ms: i64, ingested_ms: i64) -> Stats {
    Stats {
        events,
        first_ms: last_ms - 10,
        last_ms,
        ingested_ms,
        ..Stats::default()
    }
}

fn history(rules: [Option<Stats>; 6]) -> History {
    History {
        email: "a@x.example".into(),
        rules,
        marked_ms: 0,
    }
}

fn exclusion(at: i64) -> Exclusion {
    Exclusion {
        id: uuid::Uuid::nil(),
        email: "a@x.example".into(),
        excluded_ms: at,
        excluded_by: "ops".into(),
        reason: "ok".into(),
    }
}

#[test]
fn highest_priority_enabled_matching_rule_wins() {
    let h = history([
        None,
        Some(stats(1, 100, 500)),
        Some(stats(1, 200, 600)),
        Some(stats(3, 300, 700)),
        None,
        Some(stats(9, 300, 800)),
    ]);
    let e = classify(&h, None, &RuleSet::STRICT).unwrap();
    assert_eq!(e.reason(), Some(Rule::Complaint));
    assert_eq!(e.last_changed_ms, 500, "the shown rule's latest ingest");
    // Configurable rules below their threshold or disabled never match.
    let only_soft = history([
        None,
        None,
        None,
        Some(stats(2, 1, 2)),
        None,
        Some(stats(5, 1, 3)),
    ]);
    assert_eq!(
        classify(&only_soft, None, &RuleSet::STRICT)
            .unwrap()
            .reason(),
        Some(Rule::SoftBounceAccumulation)
    );
    assert_eq!(classify(&only_soft, None, &RuleSet::STANDARD), None);
}

#[test]
fn exclusions_clear_rules_they_postdate() {
    let h = history([
        Some(stats(1, 100, 150)),
        None,
        None,
        Some(stats(3, 400, 450)),
        None,
        None,
    ]);
    // Excluded after everything: tombstone at excluded_at.
    let e = classify(&h, Some(&exclusion(500)), &RuleSet::STRICT).unwrap();
    assert!(matches!(e.state, State::Excluded(_)));
    assert_eq!(e.last_changed_ms, 500);
    // Excluded between: the permanent bounce is cleared, the transient rule is live again.
    let e = classify(&h, Some(&exclusion(300)), &RuleSet::STRICT).unwrap();
    assert_eq!(e.reason(), Some(Rule::RepeatedTransient));
    assert_eq!(e.last_changed_ms, 450);
    // Under standard rules nothing is live: tombstone.
    let e = classify(&h, Some(&exclusion(300)), &RuleSet::STANDARD).unwrap();
    assert!(!e.is_listed());
    // An exclusion at last_seen_at exactly does not clear (excluded_at must be greater).
    let e = classify(&h, Some(&exclusion(100)), &RuleSet::STANDARD).unwrap();
    assert_eq!(e.reason(), Some(Rule::PermanentBounce));
    // Exclusion of an address without history: tombstone.
    let e = classify(
        &history(Default::default()),
        Some(&exclusion(7)),
        &RuleSet::STANDARD,
    );
    assert_eq!(e.unwrap().last_changed_ms, 7);
    assert_eq!(
        classify(&history(Default::default()), None, &RuleSet::STRICT),
        None
    );
}

#[test]
fn rule_change_marks_raise_last_changed_at() {
    let mut h = history([Some(stats(1, 100, 150)), None, None, None, None, None]);
    h.marked_ms = 900;
    assert_eq!(
        classify(&h, None, &RuleSet::STANDARD)
            .unwrap()
            .last_changed_ms,
        900
    );
    assert_eq!(
        classify(&h, Some(&exclusion(800)), &RuleSet::STANDARD)
            .unwrap()
            .last_changed_ms,
        900
    );
    h.marked_ms = 10;
    assert_eq!(
        classify(&h, None, &RuleSet::STANDARD)
            .unwrap()
            .last_changed_ms,
        150
    );
}

#[test]
fn profiles_and_windows() {
    assert_eq!(RuleSet::STANDARD.profile(), Profile::Standard);
    assert_eq!(RuleSet::STRICT.profile(), Profile::Strict);
    let mut custom = RuleSet::STANDARD;
    custom.undetermined.enabled = true;
    assert_eq!(custom.profile(), Profile::Custom);
    let now = 1_000 * DAY_MS;
    let starts = RuleSet::STRICT.window_starts(30, now);
    assert_eq!(starts[Rule::PermanentBounce.index()], now - 30 * DAY_MS);
    assert_eq!(starts[Rule::RepeatedTransient.index()], now - 7 * DAY_MS);
    assert_eq!(starts[Rule::Undetermined.index()], now - 14 * DAY_MS);
    assert_eq!(
        starts[Rule::SoftBounceAccumulation.index()],
        now - 30 * DAY_MS
    );
    let mut wide = RuleSet::STRICT;
    wide.undetermined.window_days = 200;
    assert_eq!(
        wide.window_starts(90, now)[Rule::Undetermined.index()],
        now - 90 * DAY_MS,
        "clamped to retention"
    );
    let custom = RuleSet::STANDARD
        .with_rule(Rule::Undetermined, Some(true), Some(4), None)
        .unwrap();
    assert_eq!(
        custom.undetermined,
        Threshold {
            enabled: true,
            events: 4,
            window_days: 14
        }
    );
    assert_eq!(custom.profile(), Profile::Custom);
    for locked in [Rule::PermanentBounce, Rule::Complaint, Rule::Rejected] {
        let err = RuleSet::STRICT
            .with_rule(locked, Some(false), None, None)
            .unwrap_err();
        assert!(err.contains("locked"), "{err}");
    }
    assert!(
        RuleSet::STRICT
            .with_rule(Rule::Undetermined, None, Some(0), None)
            .is_err()
    );
    let mut bad = RuleSet::STRICT;
    bad.repeated_transient.events = 0;
    assert!(bad.validate().is_err());
    bad.repeated_transient.events = 1;
    bad.repeated_transient.window_days = 366;
    assert!(bad.validate().is_err());
}

#[test]
fn filters_and_cursor() {
    let listed = Entry {
        email: "bob@x.example".into(),
        last_changed_ms: 10,
        state: State::Listed {
            reason: Rule::Complaint,
            stats: stats(2, 1, 1),
        },
    };
    let tomb = Entry {
        email: "eve@x.example".into(),
        last_changed_ms: 10,
        state: State::Excluded(exclusion(10)),
    };
    let mut q = ListQuery {
        now_ms: 0,
        retention_days: 30,
        since_ms: None,
        until_ms: None,
        status: StatusFilter::All,
        reason: Some(Rule::PermanentBounce),
        email: None,
        min_events: 1,
        after: None,
        limit: 10,
    };
    assert!(!q.accepts(&listed));
    assert!(q.accepts(&tomb), "reason does not filter tombstones");
    q.reason = None;
    q.min_events = 2;
    assert!(q.accepts(&listed));
    assert!(!q.accepts(&tomb), "min_events > 1 drops tombstones");
    q.min_events = 3;
    assert!(!q.accepts(&listed));
    q.min_events = 1;
    q.email = Some("eve".into());
    assert!(!q.accepts(&listed) && q.accepts(&tomb));
    q.after = Some(Position {
        last_changed_ms: 0,
        email: "bob@x.example".into(),
    });
    assert!(!q.after_cursor(&listed) && q.after_cursor(&tomb));
    // Within a second, email decides, whatever the milliseconds.
    let later_ms = Entry {
        last_changed_ms: 999,
        ..tomb.clone()
    };
    assert!(q.after_cursor(&later_ms));
    assert_eq!(Entry::order(&listed, &later_ms), std::cmp::Ordering::Less);
    q.after = Some(Position {
        last_changed_ms: 1000,
        email: "zed@x.example".into(),
    });
    assert!(q.after_cursor(&listed), "an earlier second comes after");
}

fn ev(kind: Kind, occurred_ms: i64, ingested_ms: i64, sub: &str, sender: &str) -> Event {
    Event {
        kind,
        occurred_ms,
        ingested_ms,
        subtype: sub.into(),
        diagnostic: String::new(),
        sender: sender.into(),
        event_id: String::new(),
    }
}

fn with_id(mut e: Event, id: &str) -> Event {
    e.event_id = id.into();
    e
}

#[test]
fn copies_of_one_event_count_once_with_their_latest_ingest_time() {
    let b = |ingested| ev(Kind::Transient, 1_000, ingested, "General", "a@x.example");
    let starts = [0; 6];
    let count = |events: &[Event]| {
        let h = History::from_events("r@y.example".into(), events, &starts);
        let s = h.rules[Rule::RepeatedTransient.index()].clone().unwrap();
        (s.events, s.ingested_ms)
    };
    // Two copies of one event (a retried INSERT): once, with the later ingest time.
    assert_eq!(count(&[with_id(b(5), "e1"), with_id(b(9), "e1")]), (1, 9));
    // Two events with the same content but different ids: twice.
    assert_eq!(count(&[with_id(b(5), "e1"), with_id(b(9), "e2")]), (2, 9));
    // A row without an id beside a row with one and the same content (old and new view
    // during migration 0010): once.
    assert_eq!(count(&[b(5), with_id(b(5), "e1")]), (1, 5));
    // Rows without ids (the old path stored each event once): each counts.
    assert_eq!(count(&[b(5), b(5)]), (2, 5));
}

#[test]
fn histories_follow_windows_kinds_and_marks() {
    let events = vec![
        ev(Kind::Transient, 100, 900, "General", "a@s"),
        ev(Kind::Transient, 300, 200, "", "c@s"),
        ev(Kind::Transient, 300, 250, "MailboxFull", "b@s"),
        ev(Kind::Delay, 50, 60, "", "d@s"),
        ev(Kind::Permanent, 10, 20, "NoEmail", "e@s"),
        ev(Kind::RuleChange, 400, 400, "", ""),
        ev(Kind::RuleChange, 350, 350, "", ""),
    ];
    let starts = [0, 0, 0, 100, 0, 60];
    let h = History::from_events("x@y".into(), &events, &starts);
    assert_eq!(h.marked_ms, 400);
    let rt = h.rules[Rule::RepeatedTransient.index()].as_ref().unwrap();
    assert_eq!(
        (rt.events, rt.first_ms, rt.last_ms, rt.ingested_ms),
        (3, 100, 300, 900)
    );
    assert_eq!(
        rt.subtype, "MailboxFull",
        "latest with a value, ties by value"
    );
    assert_eq!(rt.sender, "c@s", "latest, ties by value");
    let soft = h.rules[Rule::SoftBounceAccumulation.index()]
        .as_ref()
        .unwrap();
    assert_eq!(
        soft.events, 3,
        "the delay at 50 is before the window start 60"
    );
    assert!(h.rules[Rule::Undetermined.index()].is_none());
    assert_eq!(
        h.rules[Rule::PermanentBounce.index()]
            .as_ref()
            .unwrap()
            .subtype,
        "NoEmail"
    );
    let late = History::from_events("x@y".into(), &events, &[11, 0, 0, 0, 0, 0]);
    assert!(late.rules[0].is_none(), "outside the retention window");
}

#[test]
fn payloads_round_trip() {
    let e =
        Event::from_payload("1700000000123\t1700000000456\t4\tabuse\t\tops@acme.example").unwrap();
    assert_eq!(
        e,
        Event {
            kind: Kind::Complaint,
            occurred_ms: 1_700_000_000_123,
            ingested_ms: 1_700_000_000_456,
            subtype: "abuse".into(),
            diagnostic: String::new(),
            sender: "ops@acme.example".into(),
            event_id: String::new(),
        }
    );
    let with = Event::from_payload("1\t2\t4\tabuse\t\tops@acme.example\t6a1c-id").unwrap();
    assert_eq!(
        (with.sender.as_str(), with.event_id.as_str()),
        ("ops@acme.example", "6a1c-id")
    );
    let m = Event::from_payload(&Event::mark_payload(42)).unwrap();
    assert_eq!(
        (m.kind, m.occurred_ms, m.ingested_ms),
        (Kind::RuleChange, 42, 42)
    );
    assert!(Event::from_payload("1\t2\t9\t\t\t").is_none());
    assert!(Event::from_payload("x").is_none());
}

#[test]
fn emails_are_normalised() {
    use crate::address::{AddressRule::Normalised, EmailAddress};
    let normalize_email = |e: &str| EmailAddress::parse(e, Normalised).map(|a| a.into_string());
    assert_eq!(normalize_email(" Bob@X.Example ").unwrap(), "bob@x.example");
    assert!(normalize_email("nobody").is_err());
    assert!(normalize_email("@x").is_err());
    assert!(normalize_email("a b@x").is_err());
}
