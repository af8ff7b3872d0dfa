/// The refusals that are evac's policy rather than libvirt's: libvirt migrates these guests when
/// forced (scripts/lab-rule-table shows each), but the guest is worse off afterwards, so evac
/// refuses them unless the plan waives the rule by name (`constraints.allow`). Every output that
/// carries such a refusal labels it (`Rejection.policy`, `Unplaceable.guestPolicy`, and the
/// reason's `policySuffix`), so that no one mistakes it for a limit of libvirt's.
public enum PolicyWaiver: String, Codable, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    /// A running guest with a user-mode (NAT, slirp) NIC. Of the NAT, QEMU migrates only its
    /// DHCP leases, IP id and guestfwd sockets (libslirp's `slirp_state_save`); its host side is
    /// sockets of the source's QEMU process: the guest's connections through it are dropped, and
    /// forwarded host ports are opened by the target's QEMU on the target host's address
    /// instead. VirtFusion refuses such guests too.
    case userModeNIC = "user-mode-nic"
    /// A running guest with a 9p filesystem passthrough: QEMU blocks migration while the guest has
    /// the export mounted ("Migration is disabled when VirtFS export path … is mounted in the
    /// guest"), which evac cannot see from the host; waiving says the guest has not mounted it
    /// (if it has, the migration fails and the guest stays on its source).
    case unmounted9p = "unmounted-9p"
    /// A shut-off guest whose memory does not fit the target: libvirt moves a definition without
    /// looking at memory, but the guest could not start there. Waived, shut-off guests are placed
    /// (and pre-checked) without their memory counted against the target.
    case shutOffMemory = "shut-off-memory"

    /// The name, as written in `constraints.allow`.
    public var description: String { rawValue }

    /// What follows the reason of a refusal under this policy in every report.
    public var policySuffix: String { " (evac policy; waive with constraints.allow: [\(rawValue)])" }
}

/// One refusal a guest-level check makes, and the evac policy it applies (nil: libvirt's own).
public struct GuestRefusal: Hashable, Sendable {
    /// Why, for people; ends with the policy's suffix when `policy` is set.
    public var reason: String
    /// The waivable evac policy, or nil when libvirt itself refuses this.
    public var policy: PolicyWaiver?
    /// A refusal for `reason`, labelled with `policy` (its suffix appended).
    public init(_ reason: String, policy: PolicyWaiver? = nil) {
        self.reason = reason + (policy?.policySuffix ?? "")
        self.policy = policy
    }
}
