namespace HotPath.Protocol.Control;

/// <summary>
/// Process-wide control-plane counters: messages handled and refused by reason, connections opened and closed on
/// error. Updated on the control-plane thread; read from anywhere.
/// </summary>
public static class ControlCounters
{
    private static readonly long[] s_refused = new long[Enum.GetValues<ControlError>().Length];
    private static long s_messages, s_connections, s_errorCloses, s_unsealedRegions, s_handedOver, s_takenOver, s_takeoversFailed;

    public static long Messages => Interlocked.Read(ref s_messages);
    public static long Connections => Interlocked.Read(ref s_connections);
    public static long ConnectionsClosedOnError => Interlocked.Read(ref s_errorCloses);
    /// <summary>Guest memory regions mapped although their fd could not be sealed against shrinking.</summary>
    public static long UnsealedRegions => Interlocked.Read(ref s_unsealedRegions);

    /// <summary>Takeovers this process completed as the old one (devices handed over) and as the new one.</summary>
    public static long TakeoversHandedOver => Interlocked.Read(ref s_handedOver);
    public static long TakeoversTaken => Interlocked.Read(ref s_takenOver);
    /// <summary>Takeovers that did not happen, on either side: refused, broken off, or a peer that lied or died.</summary>
    public static long TakeoversFailed => Interlocked.Read(ref s_takeoversFailed);

    public static long Refused(ControlError e) => Interlocked.Read(ref s_refused[(int)e]);

    public static long RefusedTotal
    {
        get
        {
            long t = 0;
            for (int i = 1; i < s_refused.Length; i++) t += Interlocked.Read(ref s_refused[i]);
            return t;
        }
    }

    internal static void CountMessage() => Interlocked.Increment(ref s_messages);
    internal static void CountConnection() => Interlocked.Increment(ref s_connections);
    internal static void CountRefused(ControlError e) => Interlocked.Increment(ref s_refused[(int)e]);
    internal static void CountErrorClose() => Interlocked.Increment(ref s_errorCloses);
    internal static void CountUnsealedRegion() => Interlocked.Increment(ref s_unsealedRegions);
    internal static void CountHandedOver() => Interlocked.Increment(ref s_handedOver);
    internal static void CountTakenOver() => Interlocked.Increment(ref s_takenOver);
    internal static void CountTakeoverFailed() => Interlocked.Increment(ref s_takeoversFailed);
}
