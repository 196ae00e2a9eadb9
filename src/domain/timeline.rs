//! What a case timeline entry records (`case_events.kind`), one list, and which kinds a
//! customer's status page shows.

crate::named_enum! {
    /// The kind of one case timeline entry; stored by name.
    pub enum TimelineKind ("timeline kind") {
        /// The engine opened the case.
        Opened => "opened",
        /// A new outage within `reopen_window` brought a resolved case back.
        Reopened => "reopened",
        /// Another server of the service went down while the case is open.
        ServerDown => "server_down",
        /// One server of the service answers again.
        ServerRecovered => "server_recovered",
        /// Severity 2 to 1: no server of the service serves any more.
        SeverityRaised => "severity_raised",
        /// Every server of the service answers again.
        Recovered => "recovered",
        Acknowledged => "acknowledged",
        /// The inventory changed under the case: a target changed, or its server was removed.
        Inventory => "inventory",
        /// An engineer's note; customers see notes as updates.
        Note => "note",
        Resolved => "resolved",
        Closed => "closed",
        /// The first response target passed without acknowledgement.
        SlaBreach => "sla_breach",
        /// An escalation level fired.
        Escalation => "escalation",
        /// The customer was sent an update.
        CustomerUpdate => "customer_update",
        /// A notification about the case arrived.
        Delivered => "delivered",
        /// A notification about the case was given up on.
        DeadLetter => "dead_letter",
    }
}

impl TimelineKind {
    /// Whether a customer sees entries of this kind on their status page.
    pub const fn is_public(self) -> bool {
        match self {
            TimelineKind::Opened
            | TimelineKind::Reopened
            | TimelineKind::SeverityRaised
            | TimelineKind::ServerDown
            | TimelineKind::ServerRecovered
            | TimelineKind::Recovered
            | TimelineKind::Resolved
            | TimelineKind::CustomerUpdate
            | TimelineKind::Note => true,
            TimelineKind::Acknowledged
            | TimelineKind::Inventory
            | TimelineKind::Closed
            | TimelineKind::SlaBreach
            | TimelineKind::Escalation
            | TimelineKind::Delivered
            | TimelineKind::DeadLetter => false,
        }
    }

    /// The kinds a customer sees.
    pub fn public() -> Vec<TimelineKind> {
        TimelineKind::ALL.into_iter().filter(|k| k.is_public()).collect()
    }
}
