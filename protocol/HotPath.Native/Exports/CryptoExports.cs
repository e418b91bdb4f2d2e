using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using HotPath.Engine;
using HotPath.Engine.Crypto;
using HotPath.Engine.Interop;
using HotPath.Native.Interop;

namespace HotPath.Native.Exports;

/// <summary>
/// <c>hp_vhost_crypto_*</c> (DPDK's rte_vhost_crypto_*): a virtio-crypto driver, and the request path of its data
/// queues. Fetch, process and finalize are datapath calls: one vid lookup, no allocation on success; a failure returns
/// 0 (or -1) with the reason in hp_last_error().
/// </summary>
internal static unsafe class CryptoExports
{
    /// <summary>rte_vhost_crypto_driver_start: offer virtio-crypto (features, CRYPTO_SESSION) and start.</summary>
    [UnmanagedCallersOnly(EntryPoint = "hp_vhost_crypto_driver_start")]
    public static int DriverStart(byte* path) => ExportGuard.OnDriver("hp_vhost_crypto_driver_start", path, d =>
    {
        d.EnableCrypto();
        d.Start();
    });

    [UnmanagedCallersOnly(EntryPoint = "hp_vhost_crypto_fetch_requests")]
    public static ushort Fetch(int vid, uint queueId, CryptoRequest* reqs, ushort count)
    {
        const string fn = "hp_vhost_crypto_fetch_requests";
        try
        {
            VhostDevice? dev = CryptoDevice(fn, vid);
            if (dev == null || !Args.NotNull(fn, "reqs", reqs)) return 0;
            if (queueId >= VhostDevice.MaxVrings)
            {
                LastError.BadQueue(fn, vid, (int)Math.Min(queueId, int.MaxValue));
                return 0;
            }
            return (ushort)dev.FetchCryptoRequests((int)queueId, new Span<CryptoRequest>(reqs, count));
        }
        catch (Exception e)
        {
            LastError.Set(fn, e);
            return 0;
        }
    }

    /// <summary>Runs the requests through HotPath's engine; returns how many were processed OK, or -1.</summary>
    [UnmanagedCallersOnly(EntryPoint = "hp_vhost_crypto_process_requests")]
    public static int Process(int vid, CryptoRequest* reqs, ushort count)
    {
        const string fn = "hp_vhost_crypto_process_requests";
        try
        {
            VhostDevice? dev = CryptoDevice(fn, vid);
            if (dev == null || !Args.NotNull(fn, "reqs", reqs)) return -1;
            var span = new Span<CryptoRequest>(reqs, count);
            dev.Crypto!.Process(span);
            int ok = 0;
            foreach (ref readonly CryptoRequest r in span) if (r.IsOk) ok++;
            return ok;
        }
        catch (Exception e)
        {
            return LastError.Set(fn, e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "hp_vhost_crypto_finalize_requests")]
    public static ushort Finalize(int vid, CryptoRequest* reqs, ushort count)
    {
        const string fn = "hp_vhost_crypto_finalize_requests";
        try
        {
            VhostDevice? dev = CryptoDevice(fn, vid);
            if (dev == null || !Args.NotNull(fn, "reqs", reqs)) return 0;
            return (ushort)dev.FinalizeCryptoRequests(new ReadOnlySpan<CryptoRequest>(reqs, count));
        }
        catch (Exception e)
        {
            LastError.Set(fn, e);
            return 0;
        }
    }

    /// <summary>The staging of a fetched request for an application's own engine: valid until it is finalized.</summary>
    [UnmanagedCallersOnly(EntryPoint = "hp_vhost_crypto_request_buffers")]
    public static int Buffers(int vid, CryptoRequest* req, byte** iv, byte** data, byte** digest)
    {
        const string fn = "hp_vhost_crypto_request_buffers";
        try
        {
            VhostDevice? dev = CryptoDevice(fn, vid);
            if (dev == null || !Args.NotNull(fn, "req", req)) return -1;
            if (iv == null || data == null || digest == null) return LastError.Set(fn, "iv, data and digest must not be NULL", LibC.EINVAL);
            dev.Crypto!.Buffers(*req, out Span<byte> i, out Span<byte> d, out Span<byte> g);
            // SAFETY: staging is a pinned array that lives as long as the device's crypto state.
            *iv = (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetReference(i));
            *data = (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetReference(d));
            *digest = (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetReference(g));
            return 0;
        }
        catch (Exception e)
        {
            return LastError.Set(fn, e);
        }
    }

    /// <summary>rte_vhost_crypto_set_zero_copy: 0 copies, 1 runs cipher-only requests in place on guest memory when
    /// they allow it (<see cref="VhostCrypto.ZeroCopy"/>; -ENOTSUP when libcrypto cannot be loaded), anything else -EINVAL.</summary>
    [UnmanagedCallersOnly(EntryPoint = "hp_vhost_crypto_set_zero_copy")]
    public static int SetZeroCopy(int vid, int option)
    {
        const string fn = "hp_vhost_crypto_set_zero_copy";
        try
        {
            if (CryptoDevice(fn, vid) is not { } dev) return -LibC.EINVAL;
            if (option is not (0 or 1)) return Args.Errno(fn, $"option {option} is neither 0 (copy) nor 1 (zero copy)", LibC.EINVAL);
            if (option == 1 && !VhostCrypto.ZeroCopyAvailable)
                return Args.Errno(fn, "zero-copy needs libcrypto.so.3, which could not be loaded", LibC.ENOTSUP);
            dev.Crypto!.ZeroCopy = option == 1;
            return 0;
        }
        catch (Exception e)
        {
            LastError.Set(fn, e);
            return -LibC.EIO;
        }
    }

    private static VhostDevice? CryptoDevice(string fn, int vid)
    {
        VhostDevice? dev = Args.Device(fn, vid);
        if (dev != null && dev.Crypto == null)
        {
            LastError.Set(fn, $"vid {vid} is not a virtio-crypto device (register its path with hp_vhost_crypto_driver_start)", LibC.EINVAL);
            return null;
        }
        return dev;
    }
}
