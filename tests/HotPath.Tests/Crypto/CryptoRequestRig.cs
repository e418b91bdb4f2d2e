using HotPath.Engine.Crypto;
using HotPath.Frontend.Memory;
using HotPath.Frontend.Rings;
using HotPath.Protocol.Wire;

namespace HotPath.Tests.Crypto;

/// <summary>
/// What the data-queue tests share: memfd guest memory, a split ring of 256 descriptors with 4 KiB buffers driven by
/// HotPath's frontend, HotPath's backend over a real socket (<see cref="CryptoBackend"/>, started on that ring) and a
/// <see cref="VirtioCryptoDriver"/> on it; sessions made through CREATE_CRYPTO_SESSION, requests run to completion.
/// </summary>
internal sealed class CryptoRequestRig : IDisposable
{
    public FrontendMemory Mem { get; } = FrontendMemory.Create(32 << 20);
    public SplitRingDriver Ring { get; }
    public CryptoBackend Backend { get; }
    public VirtioCryptoDriver Driver { get; }
    public CryptoRequest[] Ops { get; } = new CryptoRequest[CryptoQueue.Slots];

    public CryptoRequestRig(string tag)
    {
        Ring = new SplitRingDriver(Mem, new RingDriverOptions { Size = 256, BufferSize = 4096, MaxIndirect = 40 });
        Backend = new CryptoBackend(tag);
        Backend.Start(Mem, Ring);
        Driver = new VirtioCryptoDriver(Ring);
    }

    /// <summary>A session the backend must accept; its id.</summary>
    public ulong Session(in CryptoSessionPayload p)
    {
        long id = Backend.Frontend.CreateCryptoSession(p);
        Assert.True(id > 0);
        return (ulong)id;
    }

    /// <summary>Publishes what was submitted, serves until <paramref name="count"/> requests completed, returns them.</summary>
    public List<CryptoCompletion> Run(int count)
    {
        Driver.Publish();
        var all = new List<CryptoCompletion>();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (all.Count < count)
        {
            Backend.Serve(Ops);
            all.AddRange(Driver.Reap());
            if (clock.Elapsed > CryptoBackend.Wait) throw new TimeoutException($"{all.Count} of {count} crypto requests completed");
        }
        return all;
    }

    public CryptoCompletion RunOne() => Assert.Single(Run(1));

    public void Dispose()
    {
        Backend.Dispose();
        Ring.Dispose();
        Mem.Dispose();
    }
}
