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

    /// <summary>
    /// Creates a resolver over <paramref name="registries"/>; with <paramref name="mirrors"/>, images are read through
    /// the mirror sets of registries that have them (writes still go to the registry itself).
    /// </summary>
    public ImageStoreResolver(RegistryClient registries, MirroredRegistries? mirrors = null)
    {
        ArgumentNullException.ThrowIfNull(registries);
        _registries = registries;
        Mirrors = mirrors;
    }

    /// <summary>The registry client.</summary>
    public RegistryClient Registries => _registries;

    /// <summary>The mirror sets images are read through, or null.</summary>
    public MirroredRegistries? Mirrors { get; }

    /// <summary>The store to read <paramref name="image"/> from. A layout must exist.</summary>
    public IImageStore GetStore(ImageReference image)
    {
        ArgumentNullException.ThrowIfNull(image);
        return image.Kind == ImageReferenceKind.Layout
            ? OciImageLayout.Open(image.LayoutPath!)
            : Mirrors?.GetStore(image.Registry) ?? _registries.GetStore(image.Registry);
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
