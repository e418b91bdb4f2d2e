using HotPath.Frontend.Rings;

namespace HotPath.Tests.Datapath;

/// <summary>Split-ring enqueue (host → guest RX): the shared behaviour (<see cref="EnqueueBehaviour{TDriver}"/>).</summary>
public class EnqueueTests : EnqueueBehaviour<SplitRingDriver>;
