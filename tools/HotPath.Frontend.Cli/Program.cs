using System.Globalization;
using HotPath.Frontend.Cli;

// hp-frontend: see CliOptions.Usage. Exit 0 after the run, 1 when the device could not be brought up or broke,
// 2 on a bad command line.
CliOptions? options = CliOptions.Parse(args, out string? error);
if (options == null)
{
    Console.Error.WriteLine($"hp-frontend: {error}");
    Console.Error.WriteLine(CliOptions.Usage);
    return 2;
}
try
{
    using TrafficDevice device = TrafficDevice.Open(options.Socket, TimeSpan.FromSeconds(options.ConnectTimeout), options.Iommu);
    (long tx, long rx, double secs) = device.Run(options.Direction, options.PacketLength, TimeSpan.FromSeconds(options.Seconds));
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"hp-frontend direction={options.Direction.ToString().ToLowerInvariant()} pkt_len={options.PacketLength} seconds={secs:F2} " +
        $"tx_packets={tx} rx_packets={rx} tx_mpps={tx / secs / 1e6:F3} rx_mpps={rx / secs / 1e6:F3}"));
    return 0;
}
catch (Exception e)
{
    Console.Error.WriteLine($"hp-frontend: {e.GetType().Name}: {e.Message}");
    return 1;
}
