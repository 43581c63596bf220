using Accelerator.Oci.Layout;
using Accelerator.Oci.Mirrors;
using Accelerator.Oci.Model;
using Accelerator.Oci.Registry;

namespace Accelerator.Oci;

/// <summary>
/// Finds the image store a reference points at: the registry it names (through one shared
/// <see cref="RegistryClient"/>, and through its mirror set when it has one), or the OCI image layout directory of an
/// <c>oci:</c> reference.
/// </summary>
public sealed class ImageStoreResolver
{
    private readonly RegistryClient _registries;

    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, IImageStore> _decorated = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// Creates a resolver over <paramref name="registries"/>; with <paramref name="mirrors"/>, images are read through
    /// the mirror sets of registries that have them (writes still go to the registry itself); with
    /// <paramref name="blobs"/>, registry blobs are read through that layer first (e.g. P2P peers).
    /// </summary>
    public ImageStoreResolver(RegistryClient registries, MirroredRegistries? mirrors = null, IRegistryBlobSourceDecorator? blobs = null)
    {
        ArgumentNullException.ThrowIfNull(registries);
        _registries = registries;
        Mirrors = mirrors;
        BlobDecorator = blobs;
    }

    /// <summary>The layer registry blobs are read through first, or null.</summary>
    public IRegistryBlobSourceDecorator? BlobDecorator { get; }

    /// <summary>The registry client.</summary>
    public RegistryClient Registries => _registries;

    /// <summary>The mirror sets images are read through, or null.</summary>
    public MirroredRegistries? Mirrors { get; }

    /// <summary>The store to read <paramref name="image"/> from. A layout must exist.</summary>
    public IImageStore GetStore(ImageReference image)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (image.Kind == ImageReferenceKind.Layout)
        {
            return OciImageLayout.Open(image.LayoutPath!);
        }

        IImageStore store = Mirrors?.GetStore(image.Registry) ?? _registries.GetStore(image.Registry);
        return BlobDecorator is { } decorator
            ? _decorated.GetOrAdd(image.Registry, registry => new BlobDecoratedImageStore(store, decorator.Decorate(registry, store.Blobs)))
            : store;
    }

    /// <summary>The store to write <paramref name="image"/> to. A layout is created when missing.</summary>
    public IImageStore GetStoreForWrite(ImageReference image)
    {
        ArgumentNullException.ThrowIfNull(image);
        return image.Kind == ImageReferenceKind.Layout
            ? OciImageLayout.OpenOrCreate(image.LayoutPath!)
            : _registries.GetStore(image.Registry);
    }

    /// <summary>
    /// A short name for where blobs of <paramref name="image"/> come from, for statistics: "layout" or "origin" (a mirror
    /// set names the host of each blob itself: "mirror:HOST" or "origin").
    /// </summary>
    public static string SourceName(ImageReference image) => image.Kind == ImageReferenceKind.Layout ? "layout" : "origin";
}
