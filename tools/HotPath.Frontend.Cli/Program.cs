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
    if (options.Crypto)
    {
        List<string> failed = CryptoCheck.Run(options.Socket, TimeSpan.FromSeconds(options.ConnectTimeout), options.MaxLen);
        Console.WriteLine($"hp-frontend crypto: {(failed.Count == 0 ? "all checks passed" : $"{failed.Count} failed")}");
        return failed.Count == 0 ? 0 : 1;
    }
    using TrafficDevice device = TrafficDevice.Open(options.Socket, TimeSpan.FromSeconds(options.ConnectTimeout), options.Iommu);
    TrafficCounts c = device.Run(options.Direction, options.PacketLength, TimeSpan.FromSeconds(options.Seconds));
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"hp-frontend direction={options.Direction.ToString().ToLowerInvariant()} pkt_len={options.PacketLength} seconds={c.Seconds:F2} " +
        $"tx_packets={c.Tx} rx_packets={c.Rx} tx_mpps={c.Tx / c.Seconds / 1e6:F3} rx_mpps={c.Rx / c.Seconds / 1e6:F3} " +
        $"polls={c.Polls} kicks={c.Kicks} rx_buffers={c.RxBuffers} refills={c.Refills} refilled={c.Refilled}"));
    return 0;
}
catch (Exception e)
{
    Console.Error.WriteLine($"hp-frontend: {e.GetType().Name}: {e.Message}");
    return 1;
}
