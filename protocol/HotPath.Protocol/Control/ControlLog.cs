namespace HotPath.Protocol.Control;

public enum LogLevel { Debug = 0, Info = 1, Warning = 2, Error = 3 }

/// <summary>
/// Where the control plane says what it did and why it refused something. Lines look like
/// <c>hotpath: [/tmp/vhost.sock vid=3] SET_MEM_TABLE refused: region 1 extends past the end of its fd</c>.
/// Default sink: stderr at Info and above (HOTPATH_LOG=debug|info|warning|error changes the level).
/// </summary>
public static class ControlLog
{
    private static readonly object s_lock = new();

    public static LogLevel Level { get; set; } = ParseLevel(Environment.GetEnvironmentVariable("HOTPATH_LOG"));

    /// <summary>Replaces the sink (tests capture lines here); null restores stderr.</summary>
    public static Action<LogLevel, string>? Sink { get; set; }

    public static bool IsEnabled(LogLevel level) => level >= Level;

    public static void Write(LogLevel level, string context, string message)
    {
        if (level < Level) return;
        string line = context.Length == 0 ? $"hotpath: {message}" : $"hotpath: [{context}] {message}";
        Action<LogLevel, string>? sink = Sink;
        if (sink != null)
        {
            sink(level, line);
            return;
        }
        lock (s_lock) Console.Error.WriteLine(line);
    }

    private static LogLevel ParseLevel(string? s) => s?.ToLowerInvariant() switch
    {
        "debug" => LogLevel.Debug,
        "warning" or "warn" => LogLevel.Warning,
        "error" => LogLevel.Error,
        _ => LogLevel.Info,
    };
}
