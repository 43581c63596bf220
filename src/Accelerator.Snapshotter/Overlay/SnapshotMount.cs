namespace Accelerator.Snapshotter.Overlay;

/// <summary>One mount(2) call that gives a snapshot's tree, in containerd's form (<c>containerd.types.Mount</c>).</summary>
/// <param name="Type">The file system type: <c>bind</c> or <c>overlay</c>.</param>
/// <param name="Source">The source: a directory for <c>bind</c>, <c>overlay</c> for an overlay.</param>
/// <param name="Options">Mount options as containerd's mount package reads them (<c>ro</c>, <c>rbind</c>, <c>lowerdir=…</c>).</param>
public sealed record SnapshotMount(string Type, string Source, IReadOnlyList<string> Options);
