using Microsoft.Extensions.Logging;

namespace Accelerator.Snapshots.Sharing;

/// <summary>
/// The staging layout of an adoption — <c>staging/ID/origin</c> (where the tree came from) and
/// <c>staging/ID/layer/{fs,layer.json}</c> (the layer being published) — and how recovery undoes one that a crash
/// interrupted between moving the holder's tree in and publishing the layer.
/// </summary>
internal static partial class LayerAdoption
{
    /// <summary>The file naming the adopted tree's original path.</summary>
    public const string OriginFile = "origin";

    /// <summary>The layer directory being published.</summary>
    public const string LayerDirectory = "layer";

    /// <summary>Moves an interrupted adoption's tree back to its holder, when it is still in <paramref name="staging"/> and its old place is free.</summary>
    public static void Undo(string staging, ILogger logger)
    {
        string tree = Path.Combine(staging, LayerDirectory, "fs");
        string originFile = Path.Combine(staging, OriginFile);
        if (!Directory.Exists(tree) || !File.Exists(originFile))
        {
            return;
        }

        string origin = File.ReadAllText(originFile);
        if (!Path.IsPathFullyQualified(origin) || Path.Exists(origin) || !Directory.Exists(Path.GetDirectoryName(origin)))
        {
            LogNotUndone(logger, origin);
            return;
        }

        Directory.Move(tree, origin);
        LogUndone(logger, origin);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "An interrupted adoption of {Origin} into the snapshot store was undone: the tree is back in place.")]
    private static partial void LogUndone(ILogger logger, string origin);

    [LoggerMessage(Level = LogLevel.Warning, Message = "An interrupted adoption of {Origin} into the snapshot store cannot be undone (its place is taken or gone); the tree is deleted.")]
    private static partial void LogNotUndone(ILogger logger, string origin);
}
