namespace HotPath.Engine.Crypto;

/// <summary>
/// The sessions of one device, bounded (<see cref="Capacity"/>, DPDK's session map holds 1024). A session id is
/// <c>serial * Capacity + slot</c>: lookup is one array read plus an id compare, with no lock (the control thread
/// publishes and unlists sessions with volatile stores; a datapath thread takes a reference before use), and ids are
/// never reused, so a request naming a closed session cannot reach a newer one in the same slot. Ids start at 1.
/// </summary>
public sealed class CryptoSessionTable
{
    public const int DefaultCapacity = 1024;

    private readonly CryptoSession?[] _slots;
    private ulong _serial;
    private int _open;

    public CryptoSessionTable(int capacity = DefaultCapacity)
    {
        if (capacity < 1) throw new ArgumentOutOfRangeException(nameof(capacity));
        _slots = new CryptoSession?[capacity];
    }

    public int Capacity => _slots.Length;

    /// <summary>Open sessions.</summary>
    public int Count => Volatile.Read(ref _open);

    /// <summary>Validates and opens a session (control thread). Returns its id, or the reason it was refused.</summary>
    public CryptoSessionError Create(in CryptoSessionRequest request, out ulong id)
    {
        id = 0;
        CryptoSessionError e = request.Validate();
        if (e != CryptoSessionError.None) return e;
        int slot = Array.IndexOf(_slots, null);
        if (slot < 0) return CryptoSessionError.TableFull;
        _serial++;
        ulong newId = _serial * (ulong)_slots.Length + (ulong)slot;
        CryptoSession s;
        try
        {
            s = new CryptoSession(newId, request);
        }
        catch (System.Security.Cryptography.CryptographicException)
        {
            return CryptoSessionError.EngineFailed;
        }
        // Release store: the session is fully built before a datapath thread can find it.
        Volatile.Write(ref _slots[slot], s);
        _open++;
        id = newId;
        return CryptoSessionError.None;
    }

    /// <summary>Closes a session (control thread): unlisted at once, disposed when its last request is finalized.</summary>
    public CryptoSessionError Close(ulong id)
    {
        CryptoSession? s = Find(id);
        if (s == null) return CryptoSessionError.UnknownSession;
        Volatile.Write(ref _slots[(int)(id % (ulong)_slots.Length)], null);
        _open--;
        s.Release();
        return CryptoSessionError.None;
    }

    /// <summary>The open session with this id, or null.</summary>
    public CryptoSession? Find(ulong id)
    {
        if (id == 0) return null;
        CryptoSession? s = Volatile.Read(ref _slots[(int)(id % (ulong)_slots.Length)]);
        return s != null && s.Id == id ? s : null;
    }

    /// <summary>Closes every session (device reset or destroy).</summary>
    public void CloseAll()
    {
        for (int i = 0; i < _slots.Length; i++)
        {
            CryptoSession? s = _slots[i];
            if (s == null) continue;
            Volatile.Write(ref _slots[i], null);
            s.Release();
        }
        _open = 0;
    }
}
