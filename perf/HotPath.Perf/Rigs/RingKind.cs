namespace HotPath.Perf.Rigs;

/// <summary>The virtqueue layout a benchmark drives.</summary>
public enum RingKind { Split, Packed }

/// <summary>How the driver posts RX buffers for an enqueue benchmark.</summary>
public enum RxLayout
{
    /// <summary>MRG_RXBUF: 2 KiB single-descriptor buffers, a large packet spans several.</summary>
    Mergeable,
    /// <summary>No MRG_RXBUF: one descriptor big enough for the whole packet.</summary>
    Single,
    /// <summary>No MRG_RXBUF: the buffer as a 2-descriptor chain inside an indirect table.</summary>
    Indirect,
}
