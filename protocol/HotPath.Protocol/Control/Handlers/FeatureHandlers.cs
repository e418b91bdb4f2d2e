using HotPath.Engine.Virtio;
using HotPath.Protocol.Transport;
using PF = HotPath.Protocol.Wire.ProtocolFeatures;

namespace HotPath.Protocol.Control.Handlers;

/// <summary>Feature and protocol-feature negotiation, queue count, ownership and resets.</summary>
internal static class FeatureHandlers
{
    public static HandlerResult GetFeatures(VhostSession s, MessageReader m) => s.ReplyU64(s.Driver.Features);

    public static HandlerResult SetFeatures(VhostSession s, MessageReader m)
    {
        ulong features = m.PayloadAs<ulong>();
        ulong offered = s.Driver.Features;
        if ((features & ~offered) != 0)
            return HandlerResult.Fail(ControlError.FeaturesNotOffered,
                $"0x{features:x} has bits never offered: {VirtioFeatures.Describe(features & ~offered)}");
        ulong current = s.Device.Features;
        if (s.IsRunning)
        {
            if (features == current) return HandlerResult.Ok;
            const ulong logAll = 1UL << VirtioFeatures.LogAll;
            // Only VHOST_F_LOG_ALL may change under a running device: it starts and ends live migration.
            if (((features ^ current) & ~logAll) != 0)
                return HandlerResult.Fail(ControlError.FeaturesChangedWhileRunning,
                    $"0x{current:x} -> 0x{features:x} while the device is running");
            s.Device.SetFeatures(features);
            s.Driver.Callback(ops => ops.FeaturesChanged(s.Vid, features), "features_changed");
            return HandlerResult.Ok;
        }
        s.Device.SetFeatures(features);
        s.Log(LogLevel.Debug, $"negotiated virtio features 0x{features:x}: {VirtioFeatures.Describe(features)}");
        return HandlerResult.Ok;
    }

    public static HandlerResult GetProtocolFeatures(VhostSession s, MessageReader m) =>
        s.ReplyU64(s.Driver.ProtocolFeatures);

    public static HandlerResult SetProtocolFeatures(VhostSession s, MessageReader m)
    {
        ulong features = m.PayloadAs<ulong>();
        ulong offered = s.Driver.ProtocolFeatures;
        if ((features & ~offered) != 0)
            return HandlerResult.Fail(ControlError.ProtocolFeaturesNotOffered,
                $"0x{features:x} has bits never offered: {PF.Describe(features & ~offered)}");
        s.SetProtocolFeatures(features);
        s.Log(LogLevel.Debug, $"negotiated protocol features 0x{features:x}: {PF.Describe(features)}");
        return HandlerResult.Ok;
    }

    public static HandlerResult GetQueueNum(VhostSession s, MessageReader m) => s.ReplyU64(s.Driver.MaxQueuePairs);

    public static HandlerResult SetOwner(VhostSession s, MessageReader m) => HandlerResult.Ok;

    /// <summary>RESET_OWNER and RESET_DEVICE: stop the device and return the rings to their initial state.</summary>
    public static HandlerResult Reset(VhostSession s, MessageReader m)
    {
        s.ResetDevice();
        return HandlerResult.Ok;
    }
}
