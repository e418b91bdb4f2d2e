using HotPath.Engine.Buffers;
using HotPath.Protocol.Control;
using HotPath.TestBackend;

// hp-test-backend --socket PATH [--client]
// A forwarding net backend on HotPath's managed API: every packet the guest sends on its TX ring (vring 1) goes back
// to its RX ring (vring 0). Packets are held, not dropped, while the RX ring is full, so the only packets a kill can
// lose are the ones in the forwarder's hands. Prints "device N started" / "device N stopped" lines; runs until
// killed or until stdin closes.
string? socket = null;
bool client = false;
for (int i = 0; i < args.Length; i++)
{
    if (args[i] == "--socket" && i + 1 < args.Length) socket = args[++i];
    else if (args[i] == "--client") client = true;
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
VhostDriver driver = VhostDriver.Register(socket, client ? VhostDriverFlags.Client : VhostDriverFlags.None);
driver.RegisterCallbacks(forwarder);
driver.Start();
Console.WriteLine("hp-test-backend: running");
Console.Out.Flush();
Console.In.ReadToEnd();   // the parent closes stdin to stop us (or kills us)
driver.Unregister();
return 0;
