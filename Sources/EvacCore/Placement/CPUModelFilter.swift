/// The guest's CPU model against what the target's QEMU offers (its domain capabilities): a
/// host-model guest needs a host-model CPU there, a custom-model guest (and a running
/// host-model guest, whose live XML is its expanded custom model) a model the target can run
/// (`usable='yes'`). libvirt refuses either when the guest starts on the target; before each
/// migration its own CPU comparison judges again, with the features. A target whose domain
/// capabilities are unknown is not judged.
extension StaticFilters {
    static func cpuModelOffer(
        mode: GuestCPU.Mode, model: String?, _ p: TargetProfile, target: String
    ) -> Rejection? {
        switch mode {
        case .hostModel where p.hostModelCPU == false:
            return Rejection(
                target: target, filter: "cpu-model",
                reason: "QEMU here offers no host-model CPU (domain capabilities); the guest's CPU is host-model")
        case .custom:
            guard let model, let usable = p.cpuModels, !contains(usable, model) else { return nil }
            return Rejection(
                target: target, filter: "cpu-model",
                reason: "CPU model \(model) is not usable here (domain capabilities)")
        default:
            return nil
        }
    }
}
