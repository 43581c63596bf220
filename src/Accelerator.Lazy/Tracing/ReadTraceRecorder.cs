using System.Collections.Concurrent;
using System.Text;
using Accelerator.Lazy.Reading;

namespace Accelerator.Lazy.Tracing;

/// <summary>
/// Records which files are read, in the order they are first read, and writes them as a prefetch list: the file
/// <c>accel mount --record-trace FILE</c> writes and <c>accel convert --prefetch-list FILE</c> takes. Pass it to a
/// <see cref="LazyFileReader"/> as its observer.
/// </summary>
/// <remarks>
/// The list format: UTF-8 text, one absolute path per line (a hard-linked file under its first name); lines starting
/// with <c>#</c> are comments. The prefetch-list reader trims each line, so a path that ends in white space or holds a
/// line break cannot be written; such files are left out and counted in <see cref="Unrepresentable"/>.
/// Thread-safe.
/// </remarks>
public sealed class ReadTraceRecorder : ILazyReadObserver
{
    private readonly Func<ulong, string?> _pathOf;
    private readonly ConcurrentDictionary<ulong, byte> _seen = new();
    private readonly List<ulong> _order = [];

    /// <summary>Creates a recorder that names inodes by their paths in <paramref name="index"/>.</summary>
    public ReadTraceRecorder(IChunkIndex index)
    {
        ArgumentNullException.ThrowIfNull(index);
        _pathOf = inode => index.GetEntry(inode)?.Path;
    }

    /// <summary>
    /// Creates a recorder that names inodes with <paramref name="pathOf"/> (absolute paths as the mounted image shows
    /// them; null for an inode that has none): a seekable mount's inodes live in per-layer trees, and their merged path
    /// is their path within their layer.
    /// </summary>
    public ReadTraceRecorder(Func<ulong, string?> pathOf)
    {
        ArgumentNullException.ThrowIfNull(pathOf);
        _pathOf = pathOf;
    }

    /// <summary>Files recorded that cannot be written as a line of the list.</summary>
    public int Unrepresentable => Paths().Count(p => !IsRepresentable(p));

    /// <summary>The inodes read, in first-read order.</summary>
    public IReadOnlyList<ulong> Inodes
    {
        get
        {
            lock (_order)
            {
                return [.. _order];
            }
        }
    }

    /// <inheritdoc />
    public void OnRead(ulong inode, long offset, int count) => Record(inode);

    /// <summary>Records a read of <paramref name="inode"/> (only its first read matters).</summary>
    public void Record(ulong inode)
    {
        if (_seen.TryAdd(inode, 0))
        {
            lock (_order)
            {
                _order.Add(inode);
            }
        }
    }

    /// <summary>The paths recorded so far, in first-read order, those that cannot be written included.</summary>
    public IReadOnlyList<string> Paths() => [.. Inodes.Select(_pathOf).OfType<string>()];

    /// <summary>Writes the list: a comment line, then one path per line.</summary>
    public void WriteTo(TextWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.Write("# Files in first-read order, recorded by accel mount --record-trace (for accel convert --prefetch-list)\n");
        foreach (string path in Paths())
        {
            if (IsRepresentable(path))
            {
                writer.Write(path);
                writer.Write('\n');
            }
        }
    }

    /// <summary>Writes the list to <paramref name="path"/> (UTF-8 without BOM), replacing it atomically.</summary>
    public void WriteToFile(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string full = Path.GetFullPath(path);
        string temporary = $"{full}.{Guid.NewGuid():N}.tmp";
        try
        {
            using (var writer = new StreamWriter(temporary, append: false, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false)))
            {
                WriteTo(writer);
            }

            File.Move(temporary, full, overwrite: true);
        }
        catch
        {
            File.Delete(temporary);
            throw;
        }
    }

    // The list reader splits lines at \n and \r and trims white space at both ends; a path starts with '/'.
    private static bool IsRepresentable(string path) =>
        path.AsSpan().IndexOfAny('\n', '\r') < 0 && !char.IsWhiteSpace(path[^1]);
}
