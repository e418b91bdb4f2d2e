using System.Runtime.CompilerServices;

// Only blittable types cross the C ABI: no marshalling stubs, no hidden allocations at the boundary.
[assembly: DisableRuntimeMarshalling]
