using HotPath.Frontend.Memory;

namespace HotPath.Fuzz.Memory;

/// <summary>
/// A copy of the whole guest memory (every region, byte for byte) with guest-physical reads. The models read
/// descriptors and buffers from the image taken before a burst; what they expect the device to write goes into an
/// <see cref="ExpectedMemory"/> on top of it. The buffers are reused from one snapshot to the next (<see cref="Refresh"/>).
/// </summary>
public sealed class GuestImage
{
    private readonly FrontendMemory _mem;
    private readonly ulong[] _gpa;
    private readonly byte[][] _bytes;

    public GuestImage(FrontendMemory mem)
    {
        _mem = mem;
        _gpa = mem.Regions.Select(r => r.GuestPhysAddr).ToArray();
        _bytes = mem.Regions.Select(r => new byte[r.Size]).ToArray();
        Refresh();
    }

    public FrontendMemory Memory => _mem;
    public int RegionCount => _gpa.Length;
    public ulong RegionGpa(int i) => _gpa[i];
    internal byte[] RegionBytes(int i) => _bytes[i];

    /// <summary>Copies the guest memory as it is now into this image.</summary>
    public unsafe void Refresh()
    {
        for (int i = 0; i < _gpa.Length; i++)
        {
            FrontendMemory.Region r = _mem.Regions[i];
            new ReadOnlySpan<byte>(r.Host, _bytes[i].Length).CopyTo(_bytes[i]);
        }
    }

    /// <summary>Index of the region holding <paramref name="gpa"/>, or -1.</summary>
    public int RegionOf(ulong gpa)
    {
        for (int i = 0; i < _gpa.Length; i++)
            if (gpa >= _gpa[i] && gpa - _gpa[i] < (ulong)_bytes[i].LongLength) return i;
        return -1;
    }

    /// <summary>True when all of [gpa, gpa+len) lies inside one region.</summary>
    public bool InOneRegion(ulong gpa, ulong len)
    {
        int r = RegionOf(gpa);
        return r >= 0 && len <= (ulong)_bytes[r].LongLength - (gpa - _gpa[r]);
    }

    /// <summary>Bytes from gpa to the end of its region (0 when unmapped).</summary>
    public ulong ContiguousAt(ulong gpa)
    {
        int r = RegionOf(gpa);
        return r < 0 ? 0 : (ulong)_bytes[r].LongLength - (gpa - _gpa[r]);
    }

    /// <summary>The bytes of [gpa, gpa+len), which must lie in one region.</summary>
    public ReadOnlySpan<byte> Span(ulong gpa, int len)
    {
        int r = RegionOf(gpa);
        if (r < 0 || !InOneRegion(gpa, (ulong)len)) throw new ArgumentOutOfRangeException(nameof(gpa), $"0x{gpa:x}+{len} is not inside one region");
        return _bytes[r].AsSpan((int)(gpa - _gpa[r]), len);
    }

    public ushort U16(ulong gpa) => BitConverter.ToUInt16(Span(gpa, 2));
    public uint U32(ulong gpa) => BitConverter.ToUInt32(Span(gpa, 4));
    public ulong U64(ulong gpa) => BitConverter.ToUInt64(Span(gpa, 8));
}
