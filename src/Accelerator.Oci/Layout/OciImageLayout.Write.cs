using System.Collections.Concurrent;
using System.Text.RegularExpressions;
using Accelerator.Oci.Model;

namespace Accelerator.Oci.Layout;

public sealed partial class OciImageLayout
{
    // One lock per layout directory, shared by every instance in the process, so index.json updates never interleave.
    private static readonly ConcurrentDictionary<string, SemaphoreSlim> IndexLocks = new(StringComparer.Ordinal);

    // Temporary files live in the layout root (same file system as blobs/, so the final rename is atomic) with a
    // prefix that marks them as ours; they are never listed as blobs.
    private const string TempPrefix = ".accel-tmp-";

    private readonly SemaphoreSlim _indexLock;

    /// <inheritdoc />
    public Task PushBlobAsync(ImageReference image, Descriptor blob, Stream content, CancellationToken cancellationToken = default)
    {
        EnsureThisLayout(image);
        return PushBlobAsync(blob, content, cancellationToken);
    }

    /// <summary>
    /// Stores a blob. The content is written to a temporary file, verified against the descriptor's digest and size
    /// while it is written (<see cref="DigestMismatchException"/> leaves nothing behind), then renamed into place.
    /// When the blob is already present (with the expected size) the content is not read.
    /// </summary>
    public async Task PushBlobAsync(Descriptor blob, Stream content, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(blob);
        ArgumentNullException.ThrowIfNull(content);
        string path = GetBlobPath(blob.Digest);
        var existing = new FileInfo(path);
        if (existing.Exists && (blob.Size < 0 || existing.Length == blob.Size))
        {
            return;
        }

        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        string temp = NewTempPath();
        try
        {
            var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 81920, FileOptions.Asynchronous);
            await using (file.ConfigureAwait(false))
            {
                var verifying = new VerifyingStream(content, blob.Digest, blob.Size, "blob being written to " + DisplayName, leaveOpen: true);
                await using (verifying.ConfigureAwait(false))
                {
                    await verifying.CopyToAsync(file, cancellationToken).ConfigureAwait(false);
                }

                await file.FlushAsync(cancellationToken).ConfigureAwait(false);
                file.Flush(flushToDisk: true);
            }

            // rename(2) replaces atomically; a concurrent writer of the same blob writes the same bytes.
            File.Move(temp, path, overwrite: true);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
    }

    /// <inheritdoc />
    public Task PushManifestAsync(ImageReference image, ManifestDocument manifest, string? tag, CancellationToken cancellationToken = default)
    {
        EnsureThisLayout(image);
        return PushManifestAsync(manifest, tag, cancellationToken);
    }

    /// <summary>
    /// Stores a manifest (or index) as a blob and, when <paramref name="tag"/> is given, tags it in <c>index.json</c>,
    /// replacing the entry that held the tag before. Without a tag the manifest is stored only as a blob, reachable by
    /// digest (as the platform manifests of an index are).
    /// </summary>
    public async Task PushManifestAsync(ManifestDocument manifest, string? tag, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        if (tag is not null)
        {
            ValidateTag(tag);
        }

        var stream = new MemoryStream(manifest.Bytes.ToArray(), writable: false);
        await using (stream.ConfigureAwait(false))
        {
            await PushBlobAsync(manifest.Descriptor, stream, cancellationToken).ConfigureAwait(false);
        }

        if (tag is not null)
        {
            await TagAsync(manifest.Descriptor, tag, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Tags a stored manifest: <c>index.json</c> gets <paramref name="manifest"/> annotated with
    /// <see cref="RefNameAnnotation"/> = <paramref name="tag"/>, in place of any entry that held the tag.
    /// Throws <see cref="BlobNotFoundException"/> when the manifest's blob is not stored.
    /// </summary>
    public async Task TagAsync(Descriptor manifest, string tag, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        ValidateTag(tag);
        if (!await ((IBlobExistence)Blobs).ExistsAsync(new BlobAddress(string.Empty, manifest.Digest, manifest.Size), cancellationToken).ConfigureAwait(false))
        {
            throw new BlobNotFoundException($"manifest {manifest.Digest} to tag '{tag}'", DisplayName);
        }

        var annotations = new Dictionary<string, string>(StringComparer.Ordinal);
        if (manifest.Annotations is not null)
        {
            foreach (var (key, value) in manifest.Annotations)
            {
                annotations[key] = value;
            }
        }

        annotations[RefNameAnnotation] = tag;
        var entry = manifest with { Annotations = annotations };
        await UpdateIndexAsync(manifests =>
        {
            int at = manifests.FindIndex(m => TagOf(m) == tag);
            manifests.RemoveAll(m => TagOf(m) == tag);
            manifests.Insert(at < 0 ? manifests.Count : at, entry);
            return true;
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Removes <paramref name="tag"/> from <c>index.json</c> (the blobs stay). Returns whether it was there.</summary>
    public Task<bool> UntagAsync(string tag, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(tag);
        return UpdateIndexAsync(manifests => manifests.RemoveAll(m => TagOf(m) == tag) > 0, cancellationToken);
    }

    private async Task<bool> UpdateIndexAsync(Func<List<Descriptor>, bool> update, CancellationToken cancellationToken)
    {
        await _indexLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var index = ReadIndex();
            var manifests = index.Manifests.ToList();
            if (!update(manifests))
            {
                return false;
            }

            WriteFileAtomically(IndexFileName, OciJson.Serialize(index with { Manifests = manifests }));
            return true;
        }
        finally
        {
            _indexLock.Release();
        }
    }

    private void WriteFileAtomically(string name, byte[] content)
    {
        string temp = NewTempPath();
        try
        {
            using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                file.Write(content);
                file.Flush(flushToDisk: true);
            }

            File.Move(temp, Path.Combine(Root, name), overwrite: true);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
    }

    private string NewTempPath() => Path.Combine(Root, TempPrefix + Guid.NewGuid().ToString("N"));

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
            // Best effort: a leftover temporary file is harmless and carries our prefix.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private static void ValidateTag(string tag)
    {
        ArgumentNullException.ThrowIfNull(tag);
        if (!TagPattern().IsMatch(tag))
        {
            throw new FormatException($"Invalid tag '{(tag.Length > 80 ? tag[..80] + "…" : tag)}': expected [A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}}.");
        }
    }

    // distribution/reference grammar for tags, which every ref.name we write follows.
    [GeneratedRegex(@"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}\z")]
    private static partial Regex TagPattern();
}
