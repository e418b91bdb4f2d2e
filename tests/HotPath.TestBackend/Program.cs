using HotPath.Engine.Buffers;
using HotPath.Protocol.Control;
using HotPath.TestBackend;

// hp-test-backend --socket PATH [--client] [--takeover-allow] [--takeover] [--iommu]
// A forwarding net backend on HotPath's managed API: every packet the guest sends on its TX ring (vring 1) goes back
// to its RX ring (vring 0). Packets are held, not dropped, while the RX ring is full, so the only packets a kill can
// lose are the ones in the forwarder's hands. Prints "device N started" / "device N stopped" lines; runs until
// killed or until stdin closes. --takeover-allow: serve takeovers, and exit ("takeover complete") once the devices
// were handed over; --takeover: take the devices over from the process serving the path's takeover socket (prints
// "takeover: state=... devices=N pause_ns=N peer=PID"); --iommu: offer IOMMU_PLATFORM (the frontend fills an IOTLB).
string? socket = null;
var flags = VhostDriverFlags.None;
for (int i = 0; i < args.Length; i++)
{
    if (args[i] == "--socket" && i + 1 < args.Length) socket = args[++i];
    else if (args[i] == "--client") flags |= VhostDriverFlags.Client;
    else if (args[i] == "--takeover-allow") flags |= VhostDriverFlags.TakeoverAllow;
    else if (args[i] == "--takeover") flags |= VhostDriverFlags.Takeover;
    else if (args[i] == "--iommu") flags |= VhostDriverFlags.IommuSupport;
    else
    {
        Console.Error.WriteLine($"hp-test-backend: unknown argument {args[i]}");
        return 2;
    }
}
if (socket == null)
{
    Console.Error.WriteLine("usage: hp-test-backend --socket PATH [--client]");
    return 2;
}

using var pool = Mempool.Create("test-backend", 8192, 256, Mbuf.DefaultHeadroom + 2048, MempoolFlags.NoHuge);
var forwarder = new Forwarder(pool);
VhostDriver driver = VhostDriver.Register(socket, flags);
driver.RegisterCallbacks(forwarder);
driver.Start();
if ((flags & VhostDriverFlags.Takeover) != 0)
{
    var t = driver.LastTakeover;
    Console.WriteLine($"takeover: state={t.State} devices={t.Devices} pause_ns={t.PauseNs} peer={t.PeerPid}");
}
Console.WriteLine("hp-test-backend: running");
Console.Out.Flush();
// The parent closes stdin to stop us (or kills us); a takeover that took every device ends us too.
var stdinClosed = Task.Run(() => Console.In.ReadToEnd());
Task.WaitAny(stdinClosed, forwarder.HandedOver.Task);
driver.Unregister();
if (forwarder.HandedOver.Task.IsCompleted) Console.WriteLine("takeover complete");
Console.Out.Flush();
return 0;
