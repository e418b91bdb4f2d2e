using HotPath.Engine.Crypto;

namespace HotPath.Engine;

public sealed partial class VhostDevice
{
    /// <summary>The device's virtio-crypto state (sessions, data-queue requests); null unless its driver serves
    /// virtio-crypto.</summary>
    public VhostCrypto? Crypto { get; set; }
}
