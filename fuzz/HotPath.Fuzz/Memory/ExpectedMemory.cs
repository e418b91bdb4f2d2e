using HotPath.Frontend.Memory;

namespace HotPath.Fuzz.Memory;

/// <summary>
/// The guest memory a model expects after a burst: the image from before it, plus the writes the model says the
/// device makes (kept page by page, later writes over earlier ones). <see cref="FirstDifference"/> compares it with the
/// live guest memory byte for byte: every page the model did not write must be unchanged, every page it wrote must
/// hold exactly what it wrote (except bytes two writes of one burst both covered, whose final value depends on the
/// device's write order).
/// </summary>
public sealed class ExpectedMemory
{
    private const int Page = 4096;
    private readonly GuestImage _before;
    private readonly Dictionary<(int Region, int Page), byte[]> _pages = new();

    public ExpectedMemory(GuestImage before) => _before = before;

    public bool IsEmpty => _pages.Count == 0;

    /// <summary>Writes <paramref name="src"/> at <paramref name="gpa"/>, region by region (every byte must be mapped).</summary>
    public void Write(ulong gpa, ReadOnlySpan<byte> src)
    {
        while (!src.IsEmpty)
        {
            int r = _before.RegionOf(gpa);
            if (r < 0) throw new ArgumentOutOfRangeException(nameof(gpa), $"expected write to unmapped 0x{gpa:x}");
            long off = (long)(gpa - _before.RegionGpa(r));
            int page = (int)(off / Page), inPage = (int)(off % Page);
            int n = Math.Min(src.Length, Page - inPage);
            n = (int)Math.Min(n, _before.RegionBytes(r).LongLength - off);
            if (!_pages.TryGetValue((r, page), out byte[]? p))
            {
                p = _before.RegionBytes(r).AsSpan(page * Page, Page).ToArray();
                _pages[(r, page)] = p;
            }
            src[..n].CopyTo(p.AsSpan(inPage));
            src = src[n..];
            gpa += (ulong)n;
        }
    }

    public void WriteU16(ulong gpa, ushort v) => Write(gpa, BitConverter.GetBytes(v));
    public void WriteU32(ulong gpa, uint v) => Write(gpa, BitConverter.GetBytes(v));

    /// <summary>
    /// Compares with the live memory. Returns null when equal, else how many bytes differ and where the first one is.
    /// Bytes inside <paramref name="contested"/> are not compared.
    /// </summary>
    public unsafe string? FirstDifference(FrontendMemory live, IReadOnlyList<(ulong Gpa, ulong Len)> contested, Func<ulong, string>? describe = null)
    {
        for (int r = 0; r < _before.RegionCount; r++)
        {
            byte[] before = _before.RegionBytes(r);
            var now = new ReadOnlySpan<byte>(live.Regions[r].Host, before.Length);
            int count = 0;
            long first = -1;
            byte want0 = 0, got0 = 0;
            for (int page = 0; page * Page < before.Length; page++)
            {
                ReadOnlySpan<byte> want = _pages.TryGetValue((r, page), out byte[]? p) ? p : before.AsSpan(page * Page, Page);
                ReadOnlySpan<byte> got = now.Slice(page * Page, Page);
                if (want.SequenceEqual(got)) continue;
                for (int i = 0; i < Page; i++)
                {
                    if (want[i] == got[i]) continue;
                    ulong gpa = _before.RegionGpa(r) + (ulong)(page * Page + i);
                    if (contested.Any(c => gpa >= c.Gpa && gpa - c.Gpa < c.Len)) continue;
                    if (count++ == 0)
                    {
                        first = page * Page + i;
                        want0 = want[i];
                        got0 = got[i];
                    }
                }
            }
            if (count == 0) continue;
            ulong at = _before.RegionGpa(r) + (ulong)first;
            return $"{count} byte(s) differ in region {r}, first at gpa 0x{at:x}{(describe != null ? $" ({describe(at)})" : "")}: " +
                   $"expected 0x{want0:x2}, found 0x{got0:x2}";
        }
        return null;
    }
}
