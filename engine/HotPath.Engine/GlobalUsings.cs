// Namespaces nearly every engine file needs: the unsafe-code attributes and marshalling helpers, Debug.Assert, and
// the virtio spec structures every layer reads. The engine's own layers (Memory, Vrings, Datapath...) stay explicit
// per file, so a file's usings still show which layers it depends on.
global using System.Diagnostics;
global using System.Runtime.CompilerServices;
global using System.Runtime.InteropServices;
global using HotPath.Engine.Virtio;
