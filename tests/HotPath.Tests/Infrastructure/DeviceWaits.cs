using HotPath.Protocol.Control;

namespace HotPath.Tests.Infrastructure;

/// <summary>
/// Waits on a device's state instead of reading it once. IsRunning is set on the control thread just after the
/// application's new_device returns (DPDK's VIRTIO_DEV_RUNNING), so a test woken by the new_device event may look
/// before it is set: that read raced and failed a fresh-clone CI run (issue 12).
/// </summary>
public static class DeviceWaits
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    /// <summary>Asserts that device <paramref name="vid"/> is (or within 10 s becomes) running.</summary>
    public static void Running(int vid) =>
        Assert.True(SpinWait.SpinUntil(() => DeviceRegistry.Get(vid)?.IsRunning == true, Timeout),
            $"vid {vid} is not running: {(DeviceRegistry.Get(vid) is { } s ? $"session open={!s.IsClosed}" : "no session")}");

    public static void Running(VhostSession s) =>
        Assert.True(SpinWait.SpinUntil(() => s.IsRunning, Timeout), $"vid {s.Vid} is not running (closed={s.IsClosed})");
}
