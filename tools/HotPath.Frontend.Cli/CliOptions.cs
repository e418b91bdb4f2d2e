namespace HotPath.Frontend.Cli;

/// <summary>Which way the packets go, named from the backend's side as the interop scripts name workloads.</summary>
public enum Direction
{
    /// <summary>The frontend transmits; the backend dequeues (hp-fwd rxonly).</summary>
    Dequeue,
    /// <summary>The backend enqueues; the frontend receives (hp-fwd txonly).</summary>
    Enqueue,
    /// <summary>The frontend transmits and receives what the backend sends back (hp-fwd io).</summary>
    Loop,
}

/// <summary>
/// hp-frontend's command line:
/// <c>hp-frontend --socket PATH --direction dequeue|enqueue|loop [--pkt-len N] [--seconds S] [--connect-timeout S] [--iommu]</c>,
/// or <c>hp-frontend --socket PATH --crypto [--max-len N] [--connect-timeout S]</c>.
/// </summary>
public sealed record CliOptions
{
    public const string Usage =
        "usage: hp-frontend --socket PATH --direction dequeue|enqueue|loop [--pkt-len N] [--seconds S] [--connect-timeout S] [--iommu]\n" +
        "  connects to a vhost-user backend, brings up a split-ring net device and drives traffic:\n" +
        "  dequeue: transmit (the backend dequeues); enqueue: receive (the backend enqueues); loop: both.\n" +
        "  --pkt-len 60..1518 (default 64), --seconds 1..3600 (default 5), --connect-timeout (default 10).\n" +
        "  --iommu: IOTLB mode: acks IOMMU_PLATFORM (the backend must offer it), sends ring addresses as IOVAs and maps\n" +
        "  all guest memory read-write at IOVA = guest physical address.\n" +
        "  Prints one line: hp-frontend direction=D pkt_len=N seconds=S tx_packets=N rx_packets=N tx_mpps=X rx_mpps=X\n" +
        "  polls=N (loop rounds) kicks=N (kick eventfd writes) rx_buffers=N (used entries the received packets took)\n" +
        "  refills=N refilled=N (RX refills and the buffers they posted). It asks the backend for no interrupts.\n" +
        "usage: hp-frontend --socket PATH --crypto [--max-len N] [--connect-timeout S]\n" +
        "  checks a vhost-user crypto backend: sessions, NIST AES-CBC/CTR vectors, a multi-page CBC request and an\n" +
        "  AES-CBC + HMAC-SHA256 chain against .NET; with --max-len (the backend's limit, below 65536) a longer request\n" +
        "  must come back ERR. One line per check, exit 1 when any failed.";

    public required string Socket { get; init; }
    public required Direction Direction { get; init; }
    public int PacketLength { get; init; } = 64;
    public double Seconds { get; init; } = 5;
    public double ConnectTimeout { get; init; } = 10;
    public bool Iommu { get; init; }
    public bool Crypto { get; init; }
    public int MaxLen { get; init; } = 64 * 1024;

    /// <summary>The options, or null and the reason.</summary>
    public static CliOptions? Parse(string[] args, out string? error)
    {
        error = null;
        string? socket = null;
        Direction? direction = null;
        int len = 64;
        double seconds = 5, connect = 10;
        bool iommu = false, crypto = false;
        int maxLen = 64 * 1024;
        for (int i = 0; i < args.Length; i++)
        {
            string a = args[i];
            if (a == "--iommu")
            {
                iommu = true;
                continue;
            }
            if (a == "--crypto")
            {
                crypto = true;
                continue;
            }
            string? v = i + 1 < args.Length ? args[i + 1] : null;
            if (v == null) return Fail($"missing value for {a}", out error);
            i++;
            switch (a)
            {
                case "--socket":
                    socket = v;
                    break;
                case "--direction":
                    direction = v switch { "dequeue" => Direction.Dequeue, "enqueue" => Direction.Enqueue, "loop" => Direction.Loop, _ => null };
                    if (direction == null) return Fail($"--direction wants dequeue, enqueue or loop: {v}", out error);
                    break;
                case "--pkt-len":
                    if (!int.TryParse(v, out len) || len < 60 || len > 1518) return Fail($"--pkt-len wants 60..1518: {v}", out error);
                    break;
                case "--seconds":
                    if (!double.TryParse(v, System.Globalization.CultureInfo.InvariantCulture, out seconds) || seconds < 0.1 || seconds > 3600)
                        return Fail($"--seconds wants 0.1..3600: {v}", out error);
                    break;
                case "--connect-timeout":
                    if (!double.TryParse(v, System.Globalization.CultureInfo.InvariantCulture, out connect) || connect < 0 || connect > 600)
                        return Fail($"--connect-timeout wants 0..600: {v}", out error);
                    break;
                case "--max-len":
                    if (!int.TryParse(v, out maxLen) || maxLen < 1024 || maxLen > 64 * 1024) return Fail($"--max-len wants 1024..65536: {v}", out error);
                    break;
                default:
                    return Fail($"unknown option {a}", out error);
            }
        }
        if (socket == null) return Fail("--socket is required", out error);
        if (direction == null && !crypto) return Fail("--direction is required", out error);
        return new CliOptions
        {
            Socket = socket, Direction = direction ?? Direction.Loop, PacketLength = len, Seconds = seconds, ConnectTimeout = connect,
            Iommu = iommu, Crypto = crypto, MaxLen = maxLen,
        };
    }

    private static CliOptions? Fail(string why, out string? error)
    {
        error = why;
        return null;
    }
}
