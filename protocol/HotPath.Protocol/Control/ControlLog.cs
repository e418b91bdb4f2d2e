using System.Text;
using HotPath.Engine.Interop;

namespace HotPath.Protocol.Control;

public enum LogLevel { Debug = 0, Info = 1, Warning = 2, Error = 3 }

/// <summary>
/// Where the control plane says what it did and why it refused something. Lines look like
/// <c>hotpath: [/tmp/vhost.sock vid=3] SET_MEM_TABLE refused: region 1 extends past the end of its fd</c>.
/// <para>A library is a guest in its host process: nothing is written anywhere until the application asks, with a
/// <see cref="Sink"/> (managed; <c>hp_log_set_callback</c> in C) or an fd (<see cref="SetFd"/>; <c>hp_log_set_stream</c>).
/// Setting <c>HOTPATH_LOG=debug|info|warning|error</c> in the environment is asking too: lines at that level and above
/// then go to stderr unless the application chose otherwise. Lines are written with write(2), never through
/// System.Console, whose first use installs SIGINT/SIGQUIT/SIGCHLD handlers in the host process.</para>
/// <para>Warnings that can repeat once per connection (<see cref="WriteOnce"/>) are written the first time and counted
/// after that (<see cref="Repeats"/>).</para>
/// </summary>
public static class ControlLog
{
    private static readonly object s_lock = new();
    private static readonly Dictionary<string, long> s_once = new();
    private static readonly string? s_envLevel = Environment.GetEnvironmentVariable("HOTPATH_LOG");
    private static int s_fd = s_envLevel != null ? 2 : -1;

    public static LogLevel Level { get; set; } = ParseLevel(s_envLevel);

    /// <summary>Receives every line at <see cref="Level"/> and above instead of the fd (tests capture lines here;
    /// <c>hp_log_set_callback</c> installs one). Null: lines go to the fd set by <see cref="SetFd"/>, if any.</summary>
    public static Action<LogLevel, string>? Sink { get; set; }

    /// <summary>Lines go to <paramref name="fd"/> (2 for stderr), or nowhere with -1.</summary>
    public static void SetFd(int fd) => Volatile.Write(ref s_fd, fd);

    public static bool IsEnabled(LogLevel level) => level >= Level && (Sink != null || Volatile.Read(ref s_fd) >= 0);

    public static void Write(LogLevel level, string context, string message)
    {
        if (level < Level) return;
        Action<LogLevel, string>? sink = Sink;
        int fd = Volatile.Read(ref s_fd);
        if (sink == null && fd < 0) return;
        string line = context.Length == 0 ? $"hotpath: {message}" : $"hotpath: [{context}] {message}";
        if (sink != null)
        {
            lock (s_lock) sink(level, line);
            return;
        }
        WriteLine(fd, line);
    }

    /// <summary>
    /// Writes a warning the first time <paramref name="key"/> is seen in this process and only counts it after that
    /// (one line per frontend connection would flood a log: DPDK's virtio-user brings unsealable memory every time).
    /// </summary>
    public static void WriteOnce(string key, LogLevel level, string context, string message)
    {
        lock (s_lock)
        {
            s_once.TryGetValue(key, out long n);
            s_once[key] = n + 1;
            if (n > 0) return;
        }
        Write(level, context, message + " (logged once; later occurrences are counted)");
    }

    /// <summary>How many times <see cref="WriteOnce"/> saw <paramref name="key"/>.</summary>
    public static long Repeats(string key)
    {
        lock (s_lock) return s_once.GetValueOrDefault(key);
    }

    private static unsafe void WriteLine(int fd, string line)
    {
        int n = Encoding.UTF8.GetByteCount(line);
        byte[] bytes = new byte[n + 1];
        Encoding.UTF8.GetBytes(line, bytes);
        bytes[n] = (byte)'\n';
        lock (s_lock)
        {
            fixed (byte* p = bytes)
                for (int at = 0; at < bytes.Length;)
                {
                    nint w = LibC.write(fd, p + at, (nuint)(bytes.Length - at));
                    if (w <= 0 && !(w < 0 && LibC.Errno == LibC.EINTR)) return;   // a closed or full log fd loses the line
                    if (w > 0) at += (int)w;
                }
        }
    }

    private static LogLevel ParseLevel(string? s) => s?.ToLowerInvariant() switch
    {
        "debug" => LogLevel.Debug,
        "warning" or "warn" => LogLevel.Warning,
        "error" => LogLevel.Error,
        _ => LogLevel.Info,
    };
}
