namespace HotPath.Frontend.Rings;

/// <summary>
/// A ring driver's record of the guest buffers behind its posted chains: one buffer per index
/// (<see cref="DescriptorBuffers"/>), free indexes on a stack, and each posted chain a list of indexes linked
/// through <see cref="Next"/>, each piece with its guest address and length. A split driver uses the index as the
/// descriptor id, a packed driver as the buffer id of a chain's head. Shared so both fill TX chains and gather RX
/// chains the same way. Allocates nothing after construction.
/// </summary>
public sealed class ChainBuffers
{
    private readonly ushort[] _free;
    private int _nFree;
    private readonly ushort[] _next;      // next index in a posted chain
    private readonly ushort[] _pieces;    // pieces of the chain whose head is this index
    private readonly uint[] _len;         // bytes of each piece in its chain
    private readonly ulong[] _gpa;

    public DescriptorBuffers Buffers { get; }
    public uint Count { get; }

    public ChainBuffers(DescriptorBuffers buffers)
    {
        Buffers = buffers;
        Count = buffers.Count;
        _free = new ushort[Count];
        for (uint i = 0; i < Count; i++) _free[i] = (ushort)(Count - 1 - i);
        _nFree = (int)Count;
        _next = new ushort[Count];
        _pieces = new ushort[Count];
        _len = new uint[Count];
        _gpa = new ulong[Count];
    }

    /// <summary>Indexes free for new chains.</summary>
    public int Free => _nFree;

    public ushort Pop() => _free[--_nFree];

    public void Push(ushort id) => _free[_nFree++] = id;

    public ushort Next(ushort id) => _next[id];
    public ulong Gpa(ushort id) => _gpa[id];
    public uint Len(ushort id) => _len[id];
    public int Pieces(ushort head) => _pieces[head];

    /// <summary>
    /// Takes one index per entry of <paramref name="lens"/> (each with its own buffer) and links them; returns the
    /// head. The caller checked <see cref="Free"/> and that each length fits a buffer.
    /// </summary>
    public ushort Take(ReadOnlySpan<uint> lens)
    {
        foreach (uint l in lens)
            if (l > Buffers.BufferSize) throw new ArgumentException($"{l} bytes do not fit a {Buffers.BufferSize}-byte descriptor buffer");
        ushort head = Pop(), id = head;
        for (int p = 0; p < lens.Length; p++)
        {
            ushort next = p + 1 < lens.Length ? Pop() : (ushort)0;
            _next[id] = next;
            _gpa[id] = Buffers.Gpa(id);
            _len[id] = lens[p];
            id = next;
        }
        _pieces[head] = (ushort)lens.Length;
        return head;
    }

    /// <summary>A one-piece chain at <paramref name="id"/> (already popped) over any guest range (the crossing buffer).</summary>
    public void SetSingle(ushort id, ulong gpa, uint len)
    {
        _gpa[id] = gpa;
        _len[id] = len;
        _next[id] = 0;
        _pieces[id] = 1;
    }

    /// <summary>Writes <paramref name="header"/> then <paramref name="data"/> into the chain's buffers, piece by piece.</summary>
    public void FillTx(ushort head, ReadOnlySpan<byte> header, ReadOnlySpan<byte> data)
    {
        ushort id = head;
        int hdrLeft = header.Length;
        for (int p = 0; p < _pieces[head]; p++, id = _next[id])
        {
            ulong gpa = _gpa[id];
            uint room = _len[id];
            int h = Math.Min(hdrLeft, (int)room);
            Buffers.Write(gpa, header.Slice(header.Length - hdrLeft, h));
            hdrLeft -= h;
            int n = (int)room - h;
            Buffers.Write(gpa + (ulong)h, data[..n]);
            data = data[n..];
        }
    }

    /// <summary>Bytes of all pieces of the chain at <paramref name="head"/>.</summary>
    public uint Bytes(ushort head)
    {
        uint sum = 0;
        ushort id = head;
        for (int i = 0; i < _pieces[head]; i++, id = _next[id]) sum += _len[id];
        return sum;
    }

    /// <summary>Copies the first <paramref name="len"/> bytes of the chain at <paramref name="head"/> into <paramref name="dst"/>.</summary>
    public void Gather(ushort head, uint len, Span<byte> dst) => Gather(head, 0, len, dst);

    /// <summary>
    /// Copies <paramref name="len"/> bytes of the chain at <paramref name="head"/>, from its byte
    /// <paramref name="skip"/> on, into <paramref name="dst"/>.
    /// </summary>
    public void Gather(ushort head, uint skip, uint len, Span<byte> dst)
    {
        if ((ulong)skip + len > Bytes(head)) throw new InvalidDataException($"used length {skip + len} exceeds chain {head}'s buffers");
        ushort id = head;
        int at = 0;
        for (int i = 0; i < _pieces[head] && len > 0; i++, id = _next[id])
        {
            if (skip >= _len[id])
            {
                skip -= _len[id];
                continue;
            }
            uint n = Math.Min(len, _len[id] - skip);
            Buffers.Read(_gpa[id] + skip, dst.Slice(at, (int)n));
            skip = 0;
            at += (int)n;
            len -= n;
        }
    }

    /// <summary>Gives every index of the chain at <paramref name="head"/> back to the free stack.</summary>
    public void Release(ushort head)
    {
        ushort id = head;
        for (int i = 0; i < _pieces[head]; i++)
        {
            ushort nx = _next[id];
            Push(id);
            id = nx;
        }
    }
}
