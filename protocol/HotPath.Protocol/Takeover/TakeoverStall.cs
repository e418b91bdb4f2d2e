using HotPath.Protocol.Control;

namespace HotPath.Protocol.Takeover;

/// <summary>
/// Fault injection for the kill tests: HOTPATH_TAKEOVER_STALL=&lt;point&gt; logs that the takeover reached that point
/// and blocks the control thread there for good, so a test can SIGKILL the process exactly there. Points: old-quiesced,
/// old-sent, old-committed (old process), new-received, new-ready, new-committed (new process).
/// </summary>
internal static class TakeoverStall
{
    private static readonly string? s_point = Environment.GetEnvironmentVariable("HOTPATH_TAKEOVER_STALL");

    public static void At(string point, string context)
    {
        if (s_point != point) return;
        ControlLog.Write(LogLevel.Warning, context, $"takeover: stalled at {point} (HOTPATH_TAKEOVER_STALL)");
        Thread.Sleep(Timeout.Infinite);
    }
}
