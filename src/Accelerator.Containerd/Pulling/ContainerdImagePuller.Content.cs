using System.Buffers;
using System.Security.Cryptography;
using Accelerator.Containerd.Api.Content;
using Accelerator.Containerd.Api.Leases;
using Accelerator.Oci.Model;
using Google.Protobuf;
using Grpc.Core;

namespace Accelerator.Containerd.Pulling;

// Writes into containerd's content store: the manifests and config, and layer blobs when a layer must be applied.
public sealed partial class ContainerdImagePuller
{
    // One Write message carries at most this much (containerd accepts up to 16 MiB per message).
    private const int WriteChunkSize = 1 << 20;

    // The config, the manifest and the index (when the reference names one), each with the GC labels that keep its
    // children; children first, so a label never names content that is not there yet.
    private async Task WriteManifestsAsync(Pull pull, CancellationToken cancellationToken)
    {
        var image = pull.Image;
        var config = image.ImageManifest.Config;
        await EnsureBytesAsync(pull, config, image.ConfigBytes, labels: null, cancellationToken).ConfigureAwait(false);

        var manifestLabels = new Dictionary<string, string>(StringComparer.Ordinal) { [ContainerdLabels.GcConfig] = config.Digest.ToString() };
        for (int i = 0; i < image.Layers.Count; i++)
        {
            manifestLabels[ContainerdLabels.GcLayerPrefix + i] = image.Layers[i].Digest.ToString();
        }

        await EnsureBytesAsync(pull, image.Manifest.Descriptor, image.Manifest.Bytes, manifestLabels, cancellationToken).ConfigureAwait(false);
        if (image.Root.Index is { } index)
        {
            var indexLabels = new Dictionary<string, string>(StringComparer.Ordinal);
            for (int i = 0; i < index.Manifests.Count; i++)
            {
                // Only the selected platform's manifest is in the store; a label naming absent content keeps nothing.
                if (index.Manifests[i].Digest == image.Manifest.Digest)
                {
                    indexLabels[ContainerdLabels.GcManifestPrefix + i] = image.Manifest.Digest.ToString();
                }
            }

            await EnsureBytesAsync(pull, image.Root.Descriptor, image.Root.Bytes, indexLabels, cancellationToken).ConfigureAwait(false);
        }
    }

    private Task<long> EnsureBytesAsync(Pull pull, Descriptor blob, ReadOnlyMemory<byte> bytes, IReadOnlyDictionary<string, string>? labels, CancellationToken cancellationToken)
        => EnsureBlobAsync(pull, blob, _ => Task.FromResult<Stream>(new MemoryStream(bytes.ToArray(), writable: false)), labels, cancellationToken);

    /// <summary>
    /// Puts <paramref name="blob"/> into containerd's content store unless it is there already (then it only gets the
    /// labels, and the pull's lease), and returns the bytes read from <paramref name="open"/>'s stream.
    /// </summary>
    private async Task<long> EnsureBlobAsync(
        Pull pull, Descriptor blob, Func<CancellationToken, Task<Stream>> open, IReadOnlyDictionary<string, string>? labels, CancellationToken cancellationToken)
    {
        if (await ContentExistsAsync(pull, blob.Digest, cancellationToken).ConfigureAwait(false))
        {
            await HoldAsync(pull, blob.Digest, cancellationToken).ConfigureAwait(false);
            if (labels is { Count: > 0 })
            {
                await UpdateLabelsAsync(pull, blob.Digest, labels, cancellationToken).ConfigureAwait(false);
            }

            return 0;
        }

        try
        {
            return await WriteAsync(pull, blob, open, labels, cancellationToken).ConfigureAwait(false);
        }
        catch (RpcException ex) when (ex.StatusCode == StatusCode.AlreadyExists)
        {
            // Another writer committed it meanwhile.
            if (labels is { Count: > 0 })
            {
                await UpdateLabelsAsync(pull, blob.Digest, labels, cancellationToken).ConfigureAwait(false);
            }

            return 0;
        }
        catch (RpcException ex)
        {
            throw new ContainerdException($"write of {blob.Digest} into the content store", ex);
        }
    }

    // containerd's Write protocol (content/proxy/content_writer.go): a STAT opens the ingest, WRITEs carry the data at
    // increasing offsets, a COMMIT checks size and digest and stores the blob with its labels; one answer per message.
    // The source stream is verified too (IBlobSource): a mismatch throws from the last read, before the COMMIT.
    private async Task<long> WriteAsync(
        Pull pull, Descriptor blob, Func<CancellationToken, Task<Stream>> open, IReadOnlyDictionary<string, string>? labels, CancellationToken cancellationToken)
    {
        string reference = $"accel-pull-{blob.Digest.Encoded}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4))}";
        using var call = _content.Write(pull.Headers, cancellationToken: cancellationToken);
        await ExchangeAsync(call, new WriteContentRequest
        {
            Action = WriteAction.Stat,
            Ref = reference,
            Total = blob.Size,
            Expected = blob.Digest.ToString(),
        }, cancellationToken).ConfigureAwait(false);

        long offset = 0;
        byte[] buffer = ArrayPool<byte>.Shared.Rent(WriteChunkSize);
        try
        {
            await using var source = await open(cancellationToken).ConfigureAwait(false);
            int n;
            while ((n = await source.ReadAsync(buffer.AsMemory(0, WriteChunkSize), cancellationToken).ConfigureAwait(false)) > 0)
            {
                if (offset + n > blob.Size)
                {
                    throw new InvalidDataException($"{blob.Digest} is larger than its descriptor's {blob.Size} bytes.");
                }

                var written = await ExchangeAsync(call, new WriteContentRequest
                {
                    Action = WriteAction.Write,
                    Offset = offset,
                    Data = ByteString.CopyFrom(buffer, 0, n),
                }, cancellationToken).ConfigureAwait(false);
                offset += n;
                if (written.Offset != offset)
                {
                    throw new IOException($"containerd wrote {blob.Digest} up to offset {written.Offset}, expected {offset}.");
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        if (offset != blob.Size)
        {
            throw new InvalidDataException($"{blob.Digest} has {offset} bytes, its descriptor says {blob.Size}.");
        }

        var commit = new WriteContentRequest { Action = WriteAction.Commit, Offset = offset, Total = blob.Size, Expected = blob.Digest.ToString() };
        foreach (var (key, value) in labels ?? new Dictionary<string, string>())
        {
            commit.Labels[key] = value;
        }

        var committed = await ExchangeAsync(call, commit, cancellationToken).ConfigureAwait(false);
        if (committed.Digest != blob.Digest.ToString())
        {
            throw new InvalidDataException($"containerd committed {committed.Digest} for {blob.Digest}.");
        }

        await call.RequestStream.CompleteAsync().ConfigureAwait(false);
        return offset;
    }

    private static async Task<WriteContentResponse> ExchangeAsync(
        AsyncDuplexStreamingCall<WriteContentRequest, WriteContentResponse> call, WriteContentRequest request, CancellationToken cancellationToken)
    {
        await call.RequestStream.WriteAsync(request, cancellationToken).ConfigureAwait(false);
        return await call.ResponseStream.MoveNext(cancellationToken).ConfigureAwait(false)
            ? call.ResponseStream.Current
            : throw new IOException("containerd ended a content write without answering.");
    }

    private async Task<bool> ContentExistsAsync(Pull pull, Digest digest, CancellationToken cancellationToken)
    {
        try
        {
            await _content.InfoAsync(new InfoRequest { Digest = digest.ToString() }, pull.Headers, cancellationToken: cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (RpcException ex) when (ex.StatusCode == StatusCode.NotFound)
        {
            return false;
        }
        catch (RpcException ex)
        {
            throw new ContainerdException($"info of {digest}", ex);
        }
    }

    // Content already in the store is added to the pull's lease, so GC cannot take it before the image record refers to it.
    private async Task HoldAsync(Pull pull, Digest digest, CancellationToken cancellationToken)
    {
        var request = new AddResourceRequest { Id = pull.Lease, Resource = new Resource { Id = digest.ToString(), Type = "content" } };
        try
        {
            await _leases.AddResourceAsync(request, ContainerdChannel.Headers(_options.Namespace), cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (RpcException ex)
        {
            throw new ContainerdException($"adding {digest} to lease {pull.Lease}", ex);
        }
    }

    private async Task UpdateLabelsAsync(Pull pull, Digest digest, IReadOnlyDictionary<string, string> labels, CancellationToken cancellationToken)
    {
        var request = new UpdateRequest
        {
            Info = new Info { Digest = digest.ToString() },
            UpdateMask = new Google.Protobuf.WellKnownTypes.FieldMask(),
        };
        foreach (var (key, value) in labels)
        {
            request.Info.Labels[key] = value;
            request.UpdateMask.Paths.Add("labels." + key);
        }

        try
        {
            await _content.UpdateAsync(request, pull.Headers, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (RpcException ex)
        {
            throw new ContainerdException($"label update of {digest}", ex);
        }
    }
}
