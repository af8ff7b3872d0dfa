/// The guest's CPU model against what the target's QEMU offers (its domain capabilities): a
/// host-model guest needs a host-model CPU there, a custom-model guest (and a running
/// host-model guest, whose live XML is its expanded custom model) a model the target's QEMU
/// knows. libvirt refuses either outright; whether the model's features are all there is not
/// judged here: domain capabilities' `usable='no'` says the full model is not, yet a running
/// guest's live CPU disables what its host lacked (the lab's qemu64 guests are `usable='no'` on
/// its KVM hosts and migrate), so before each migration libvirt's own CPU comparison judges
/// the features. A target whose domain capabilities are unknown is not judged, nor a custom
/// model with `check='none'`. `p` is the target's offer for the guest's domain type.
extension StaticFilters {
    static func cpuModelOffer(
        mode: GuestCPU.Mode, model: String?, checked: Bool,
        _ p: (machineTypes: [String]?, cpuModels: [String]?, hostModelCPU: Bool?), target: String
    ) -> Rejection? {
        switch mode {
        case .hostModel where p.hostModelCPU == false:
            return Rejection(
                target: target, filter: .cpuModel,
                reason: "QEMU here offers no host-model CPU (domain capabilities); the guest's CPU is host-model")
        case .custom:
            guard checked, let model, let known = p.cpuModels, !contains(known, model) else { return nil }
            return Rejection(
                target: target, filter: .cpuModel,
                reason: "QEMU here does not know CPU model \(model) (domain capabilities)")
        default:
            return nil
        }
    }
}
