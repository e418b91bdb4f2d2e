using System.Numerics;
using HotPath.Engine.Stats;

namespace HotPath.Engine.Logging;

/// <summary>One cached log word: its index in the log's word array and the bits to OR into it.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct LogCacheEntry
{
    public ulong Word;
    public ulong Bits;
}

/// <summary>
/// DPDK's per-vring log cache (vhost_log_cache_write / vhost_log_cache_sync): a burst collects the pages it wrote
/// as (word, bits) pairs and writes each 64-page word of the log once, with one atomic OR, when it flushes. Lives on
/// the stack of one burst's logging path over caller-provided storage (a stackalloc), so it costs no allocation
/// and no per-vring memory. When the storage is full a page goes to the log at once.
/// <para>Consecutive writes mostly land in the word written last (one word covers 256 KiB of guest memory), so
/// that word is tried before the scan.</para>
/// <para>With a vring's <see cref="VringStats"/> given, <see cref="Flush"/> counts the bits it set (and those that
/// went to the log at once) in <c>log_pages_marked</c> and itself in <c>log_cache_flushes</c>: plain adds, by the
/// one burst that holds the vring.</para>
/// </summary>
public unsafe ref struct LogCache
{
    /// <summary>Entries a burst keeps (DPDK's VHOST_LOG_CACHE_NR).</summary>
    public const int Capacity = 32;

    private readonly DirtyLog _log;
    private readonly LogCacheEntry* _entries;
    private readonly VringStats? _stats;
    private ulong _direct;
    private int _count;
    private int _last;
    private ulong _lastPage;

    /// <param name="log">The log the cached bits are flushed into.</param>
    /// <param name="storage"><see cref="Capacity"/> entries, e.g. <c>stackalloc LogCacheEntry[LogCache.Capacity]</c>.</param>
    /// <param name="stats">The counters of the vring whose burst logs here (null: not counted).</param>
    public LogCache(DirtyLog log, LogCacheEntry* storage, VringStats? stats = null)
    {
        _log = log;
        _entries = storage;
        _stats = stats;
        _direct = 0;
        _count = 0;
        _last = 0;
        _lastPage = ulong.MaxValue;
    }

    /// <summary>Pages cached and not yet flushed (tests).</summary>
    public readonly int Count => _count;

    /// <summary>Caches every page of [gpa, gpa+len). Pages past the log are counted by the log and dropped.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void MarkRange(ulong gpa, ulong len)
    {
        if (len == 0) return;
        ulong first = gpa >> DirtyLog.PageShift;
        ulong end = gpa + (len - 1);
        // One page (a small packet, a used entry): the common case, inline; the page marked last is skipped at once
        // (neighbouring buffers share pages).
        if (end >> DirtyLog.PageShift == first && end >= gpa)
        {
            if (first == _lastPage) return;
            if (_log.TryLocate(first, out ulong word, out ulong bit)) Add(word, bit);
            _lastPage = first;
            return;
        }
        MarkPages(first, end < gpa ? ulong.MaxValue >> DirtyLog.PageShift : end >> DirtyLog.PageShift);
    }

    private void MarkPages(ulong first, ulong last)
    {
        for (ulong page = first; ; page++)
        {
            if (!_log.TryLocate(page, out ulong word, out ulong bit)) return;   // the rest lies past the log too
            Add(word, bit);
            if (page == last) return;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Add(ulong word, ulong bit)
    {
        // SAFETY: _last < _count <= Capacity whenever _count != 0; the scan stays below _count.
        if (_count != 0 && _entries[_last].Word == word)
        {
            _entries[_last].Bits |= bit;
            return;
        }
        for (int i = 0; i < _count; i++)
        {
            if (_entries[i].Word != word) continue;
            _entries[i].Bits |= bit;
            _last = i;
            return;
        }
        if (_count == Capacity)
        {
            _log.OrWord(word, bit);   // full: straight to the log (atomic, ordered after our data stores)
            _direct++;
            return;
        }
        _entries[_count] = new LogCacheEntry { Word = word, Bits = bit };
        _last = _count++;
    }

    /// <summary>
    /// Writes every cached word to the log (DPDK's __vhost_log_cache_sync). Each Interlocked.Or is a full fence, so
    /// the guest-memory writes made before the flush are visible before the first bit that names them.
    /// </summary>
    public void Flush()
    {
        ulong pages = _direct;
        for (int i = 0; i < _count; i++)
        {
            _log.OrWord(_entries[i].Word, _entries[i].Bits);
            pages += (ulong)BitOperations.PopCount(_entries[i].Bits);
        }
        if (_stats != null && pages != 0)
        {
            _stats.Add(VringStats.LogPagesMarked, pages);
            _stats.Add(VringStats.LogCacheFlushes, 1);
        }
        _direct = 0;
        _count = 0;
        _last = 0;
        _lastPage = ulong.MaxValue;
    }
}
