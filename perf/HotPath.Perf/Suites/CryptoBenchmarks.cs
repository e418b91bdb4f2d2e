using BenchmarkDotNet.Attributes;
using HotPath.Perf.Rigs;

namespace HotPath.Perf.Suites;

/// <summary>
/// The vhost-crypto backend's cost per request: fetch (walk, header and data copied out once), the built-in engine
/// and finalize (results and status into the guest's buffers, one used publish), bursts of 32 on a split ring, the
/// frontend's posting and reaping included; the zero-copy rows with <c>VhostCrypto.ZeroCopy</c> (one page each way:
/// run in place by finalize). Mean is per request.
/// </summary>
[MemoryDiagnoser]
public class CryptoBenchmarks
{
    private CryptoRig _rig = null!;

    [Params(64, 1024, 4096)] public int Size { get; set; }
    [Params("AES-CBC", "AES-CTR", "CBC+HMAC-SHA256", "AES-CBC zero-copy", "AES-CTR zero-copy")]
    public string Op { get; set; } = "AES-CBC";

    [GlobalSetup]
    public void Setup() => _rig = new CryptoRig(Size, ctr: Op.StartsWith("AES-CTR"), chain: Op == "CBC+HMAC-SHA256", zeroCopy: Op.EndsWith("zero-copy"));
    [GlobalCleanup] public void Cleanup() => _rig.Dispose();

    [Benchmark(OperationsPerInvoke = CryptoRig.Burst)]
    public int Request() => _rig.Round();
}
