using HotPath.Protocol.Control;

namespace HotPath.Native.Interop;

/// <summary>
/// The one way an export's body meets an exception: it becomes the thread's hp_last_error and the export returns
/// its failure value, because an exception escaping an [UnmanagedCallersOnly] method ends the host process.
/// Cold exports hand their body over as a lambda (the closure allocates; these are control calls). Datapath exports
/// (bursts, mbuf and ring operations) cannot allocate, so they write the same try/catch out from their first line;
/// <c>ExportGuardTests</c> reads the IL of every export and holds both kinds to this.
/// </summary>
internal static unsafe class ExportGuard
{
    /// <summary>Runs <paramref name="body"/>; an exception gives <paramref name="failure"/>.</summary>
    public static T Run<T>(string function, T failure, Func<T> body)
    {
        try
        {
            return body();
        }
        catch (Exception e)
        {
            LastError.Set(function, e);
            return failure;
        }
    }

    /// <summary>Runs <paramref name="action"/> on the driver registered at the C string <paramref name="path"/>:
    /// 0, or -1 when there is none or the action throws.</summary>
    public static int OnDriver(string function, byte* path, Action<VhostDriver> action)
    {
        try
        {
            VhostDriver? d = Args.Driver(function, path);
            if (d == null) return -1;
            action(d);
            return 0;
        }
        catch (Exception e)
        {
            return LastError.Set(function, e);
        }
    }

    /// <summary>Stores what <paramref name="get"/> reads from the driver at <paramref name="path"/> in the caller's
    /// <paramref name="result"/>: 0, or -1 when <paramref name="result"/> is NULL, there is no such driver, or it throws.</summary>
    public static int Query<T>(string function, byte* path, string argument, T* result, Func<VhostDriver, T> get)
        where T : unmanaged
    {
        try
        {
            if (!Args.NotNull(function, argument, result)) return -1;
            VhostDriver? d = Args.Driver(function, path);
            if (d == null) return -1;
            *result = get(d);
            return 0;
        }
        catch (Exception e)
        {
            return LastError.Set(function, e);
        }
    }

    /// <summary>Stores what <paramref name="get"/> reads from the connection <paramref name="vid"/> in the caller's
    /// <paramref name="result"/>: 0, or -1 when <paramref name="result"/> is NULL, there is no such vid, or it throws.</summary>
    public static int Query<T>(string function, int vid, string argument, T* result, Func<VhostSession, T> get)
        where T : unmanaged
    {
        try
        {
            VhostSession? s = Args.Session(function, vid);
            if (s == null || !Args.NotNull(function, argument, result)) return -1;
            *result = get(s);
            return 0;
        }
        catch (Exception e)
        {
            return LastError.Set(function, e);
        }
    }
}
