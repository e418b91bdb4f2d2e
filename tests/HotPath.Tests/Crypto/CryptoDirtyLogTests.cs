using HotPath.Engine.Crypto;
using HotPath.Engine.Stats;
using HotPath.Frontend.Memory;
using HotPath.Frontend.Rings;
using HotPath.Tests.Infrastructure;
using HotPath.Tests.Migration;
using static HotPath.Frontend.VhostUser.CryptoSessions;
using D = HotPath.Tests.Crypto.VirtioCryptoDriver;

namespace HotPath.Tests.Crypto;

/// <summary>
/// Live migration of a crypto device: with LOG_ALL and a log base (as QEMU sets them when migration starts), finalize
/// marks in the frontend's dirty log every page it wrote (destination, digest, status byte) and the used ring, in
/// both copy and zero-copy modes; a refused request marks only its status byte's page; without logging nothing is
/// marked.
/// </summary>
[Collection(SerialCollection.Name)]
public sealed unsafe class CryptoDirtyLogTests : IDisposable
{
    private static readonly byte[] Key = Convert.FromHexString("2b7e151628aed2a6abf7158809cf4f3c");
    private const int Page = 4096;

    private readonly CryptoRequestRig _rig = new("crypto-log");
    private readonly FrontendDirtyLog _log;

    public CryptoDirtyLogTests() => _log = new FrontendDirtyLog(DirtyLogTests.GuestEnd(_rig.Mem));

    public void Dispose()
    {
        _rig.Dispose();
        _log.Dispose();
    }

    private FrontendMemory _mem => _rig.Mem;
    private SplitRingDriver _ring => _rig.Ring;
    private CryptoBackend _b => _rig.Backend;
    private D _drv => _rig.Driver;

    private CryptoCompletion RunOne() => _rig.RunOne();

    /// <summary>The pages of the destination and status buffers of a request (descriptors after the readable ones).</summary>
    private List<ulong> WrittenPages(ushort head, int readable)
    {
        var pages = new List<ulong>();
        IReadOnlyList<ushort> ids = _drv.Descriptors(head);
        for (int i = readable; i < ids.Count; i++)
        {
            var d = _ring.RawDescriptors[ids[i]];
            for (ulong p = d.Addr >> 12; p <= (d.Addr + d.Len - 1) >> 12; p++) pages.Add(p << 12);
        }
        return pages;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Finalize_marks_every_page_it_wrote_and_the_used_ring_while_logging(bool zeroCopy)
    {
        _b.Crypto.ZeroCopy = zeroCopy;
        long id = _b.Frontend.CreateCryptoSession(Cipher(AesCbc, Key, Encrypt));
        byte[] data = new byte[3 * Page], iv = new byte[16];
        new Random(3).NextBytes(data);

        // Not logging: nothing marked.
        _drv.Submit(D.Cipher((ulong)id, true, 16, Page, Page), iv, data[..Page], Page);
        Assert.Equal(VirtioCrypto.StatusOk, RunOne().Status);
        Assert.Equal(0, _log.CountDirty());

        _b.Frontend.EnableLogging(_log, _mem, [_ring.Areas]);
        Assert.True(_b.Device.Logging);
        ulong marked = _b.Device.GetVring(0)!.Stats[VringStats.LogPagesMarked];
        // One page (zero-copy when asked) and three scattered pages (copied), each written and marked.
        ushort one = _drv.Submit(D.Cipher((ulong)id, true, 16, Page, Page), iv, data[..Page], Page);
        List<ulong> onePages = WrittenPages(one, 3);
        CryptoCompletion c = RunOne();
        Assert.Equal(CryptoReference.Cbc(Key, iv, data[..Page], true), c.Dst);
        ushort three = _drv.Submit(D.Cipher((ulong)id, true, 16, data.Length, data.Length), iv, data, data.Length);
        List<ulong> threePages = WrittenPages(three, 5);
        c = RunOne();
        Assert.Equal(CryptoReference.Cbc(Key, iv, data, true), c.Dst);
        foreach (ulong p in onePages.Concat(threePages)) Assert.True(_log.IsDirty(p), $"page 0x{p:x} written, not marked");
        Assert.True(_log.IsDirty(_ring.Areas.DeviceAreaGpa), "the used ring is not marked");
        Assert.True(_b.Device.GetVring(0)!.Stats[VringStats.LogPagesMarked] > marked);
        Assert.Equal(zeroCopy ? 2 : 0, _b.Crypto.ZeroCopied);   // the page-sized requests, logged or not

        // A refused request (unknown session): only its status byte's page and the used ring.
        _log.Clear();
        ushort bad = _drv.Submit(D.Cipher(987654321, true, 16, Page, Page), iv, data[..Page], Page);
        List<ulong> badPages = WrittenPages(bad, 3);
        c = RunOne();
        Assert.Equal(VirtioCrypto.StatusInvSess, c.Status);
        Assert.True(_log.IsDirty(badPages[^1]), "the status byte's page is not marked");
        var dirty = new HashSet<ulong>();
        _log.Collect(dirty);
        Assert.All(badPages.Take(badPages.Count - 1).Where(p => p != badPages[^1]), p => Assert.DoesNotContain(p, dirty));
    }
}
