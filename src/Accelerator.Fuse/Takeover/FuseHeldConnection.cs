using Microsoft.Win32.SafeHandles;

namespace Accelerator.Fuse.Takeover;

/// <summary>
/// A FUSE connection claimed from the holder: a new descriptor of the mount's <c>/dev/fuse</c> (the caller owns it:
/// give it to the session that resumes serving, or dispose it) and the state its previous owner deposited.
/// </summary>
/// <param name="Key">The key it is held under (e.g. the canonical mount point).</param>
/// <param name="Device">The caller's own copy of the connection's descriptor (close-on-exec).</param>
/// <param name="State">What the depositor recorded with it (at most 64 KiB; e.g. the negotiated connection as JSON).</param>
/// <param name="PredecessorPid">The pid of the owner that let go (it has exited, or was killed), or null when none was connected.</param>
public sealed record FuseHeldConnection(string Key, SafeFileHandle Device, string State, int? PredecessorPid);
