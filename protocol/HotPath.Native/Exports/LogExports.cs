using System.Runtime.InteropServices;
using System.Text;
using HotPath.Engine.Interop;
using HotPath.Native.Interop;
using HotPath.Protocol.Control;

namespace HotPath.Native.Exports;

/// <summary>
/// <c>hp_log_*</c>: HotPath writes no log line anywhere until the application asks (the library is a guest in its host
/// process). Levels are DPDK's RTE_LOG_* numbers: 4 error, 5 warning, 6 notice, 7 info, 8 debug.
/// </summary>
internal static unsafe partial class LogExports
{
    private static delegate* unmanaged<int, byte*, void*, void> s_callback;
    private static void* s_callbackArg;
    private static nint s_stream;

    [LibraryImport("libc")]
    private static partial int fputs(byte* s, nint stream);

    [LibraryImport("libc")]
    private static partial int fflush(nint stream);

    private static int ToDpdk(LogLevel l) => l switch { LogLevel.Error => 4, LogLevel.Warning => 5, LogLevel.Info => 7, _ => 8 };

    private static LogLevel FromDpdk(int level) => level switch { <= 4 => LogLevel.Error, 5 or 6 => LogLevel.Warning, 7 => LogLevel.Info, _ => LogLevel.Debug };

    /// <summary>Lines below <paramref name="level"/> are dropped (default 7, info; HOTPATH_LOG sets it too).</summary>
    [UnmanagedCallersOnly(EntryPoint = "hp_log_set_level")]
    public static int SetLevel(int level)
    {
        const string fn = "hp_log_set_level";
        try
        {
            if (level < 1 || level > 8) return Args.Errno(fn, $"level {level} is not 1..8 (RTE_LOG_EMERG..RTE_LOG_DEBUG)", LibC.EINVAL);
            ControlLog.Level = FromDpdk(level);
            return 0;
        }
        catch (Exception e)
        {
            return LastError.Set(fn, e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "hp_log_get_level")]
    public static int GetLevel()
    {
        try { return ToDpdk(ControlLog.Level); }
        catch (Exception e) { return LastError.Set("hp_log_get_level", e); }
    }

    /// <summary>Every line goes to <paramref name="cb"/>(level, line, arg) (no newline; NULL removes it). Calls are
    /// serialised; they come from HotPath's control thread or from the thread of the API call that logs.</summary>
    [UnmanagedCallersOnly(EntryPoint = "hp_log_set_callback")]
    public static int SetCallback(delegate* unmanaged<int, byte*, void*, void> cb, void* arg)
    {
        try
        {
            s_callback = cb;
            s_callbackArg = arg;
            Route();
            return 0;
        }
        catch (Exception e)
        {
            return LastError.Set("hp_log_set_callback", e);
        }
    }

    /// <summary>Lines are written to <paramref name="stream"/> (a FILE *, e.g. stderr), flushed each; NULL: nowhere
    /// (unless a callback is set). rte_openlog_stream's shape.</summary>
    [UnmanagedCallersOnly(EntryPoint = "hp_log_set_stream")]
    public static int SetStream(void* stream)
    {
        try
        {
            s_stream = (nint)stream;
            Route();
            return 0;
        }
        catch (Exception e)
        {
            return LastError.Set("hp_log_set_stream", e);
        }
    }

    /// <summary>Points the control log at the callback and/or the stream; with neither, at nothing.</summary>
    private static void Route()
    {
        if (s_callback == null && s_stream == 0)
        {
            ControlLog.Sink = null;
            ControlLog.SetFd(-1);
            return;
        }
        ControlLog.Sink = Deliver;
    }

    private static void Deliver(LogLevel level, string line)
    {
        int n = Encoding.UTF8.GetByteCount(line);
        byte[] bytes = new byte[n + 2];
        Encoding.UTF8.GetBytes(line, bytes);
        fixed (byte* p = bytes)
        {
            var cb = s_callback;
            if (cb != null) cb(ToDpdk(level), p, s_callbackArg);   // NUL-terminated at n
            nint stream = s_stream;
            if (stream != 0)
            {
                p[n] = (byte)'\n';
                fputs(p, stream);
                fflush(stream);
            }
        }
    }
}
