using Accelerator.Oci.Model;

namespace Accelerator.Oci.Layout;

/// <summary>
/// An OCI image layout on disk (OCI image specification, image-layout.md): an <c>oci-layout</c> file, an
/// <c>index.json</c> whose manifests are tagged with <see cref="RefNameAnnotation"/>, and content-addressed blobs
/// under <c>blobs/&lt;algorithm&gt;/&lt;encoded&gt;</c>.
/// </summary>
/// <remarks>
/// <para>References: <c>oci:DIR:TAG</c> resolves the tag in <c>index.json</c>; <c>oci:DIR</c> the only image when
/// there is exactly one; <c>oci:DIR@DIGEST</c> a manifest by digest (listed in <c>index.json</c> or only stored as a
/// blob, such as a platform manifest of an index).</para>
/// <para>Writes are crash-safe: a blob is written to a temporary file in the layout, verified against its digest and
/// size while it is written, and renamed into place; <c>index.json</c> is replaced the same way. Within one process,
/// updates of <c>index.json</c> are serialized (every <see cref="OciImageLayout"/> of the same directory shares one
/// lock). Across processes, blob writes are safe (same content, atomic rename) but <c>index.json</c> updates are
/// read-modify-write without a file lock: two processes tagging at the same moment can lose one of the tags, never
/// corrupt the file. Tools such as umoci and skopeo behave the same way.</para>
/// </remarks>
public sealed partial class OciImageLayout : IImageStore
{
    /// <summary>The annotation that names a manifest of <c>index.json</c> (its tag).</summary>
    public const string RefNameAnnotation = "org.opencontainers.image.ref.name";

    /// <summary>The layout version this library reads and writes.</summary>
    public const string ImageLayoutVersion = "1.0.0";

    /// <summary>The file that marks a directory as an image layout.</summary>
    public const string LayoutFileName = "oci-layout";

    /// <summary>The layout's index.</summary>
    public const string IndexFileName = "index.json";

    /// <summary>The blobs directory.</summary>
    public const string BlobsDirectoryName = "blobs";

    /// <summary>The largest <c>index.json</c> accepted, 16 MiB.</summary>
    public const int MaxIndexSize = 16 * 1024 * 1024;

    // An oci-layout file is a tiny JSON object; anything larger is not one.
    private const int MaxLayoutFileSize = 64 * 1024;

    private OciImageLayout(string root)
    {
        Root = root;
        Blobs = new LayoutBlobSource(this);
        _indexLock = IndexLocks.GetOrAdd(root, static _ => new SemaphoreSlim(1, 1));
    }

    /// <summary>The layout's directory (full path).</summary>
    public string Root { get; }

    /// <summary>
    /// The layout's blobs. Whole reads are verified against the digest (and size when the address has one); ranged
    /// reads seek in the blob file. The source also implements <see cref="IBlobExistence"/>.
    /// </summary>
    public IBlobSource Blobs { get; }

    internal string DisplayName => "oci:" + Root;

    /// <summary>
    /// Opens an existing layout, checking its <c>oci-layout</c> file. Throws <see cref="DirectoryNotFoundException"/> or
    /// <see cref="FileNotFoundException"/> when it is not a layout, <see cref="FormatException"/> when the
    /// <c>oci-layout</c> file is malformed, <see cref="NotSupportedException"/> for another layout version.
    /// </summary>
    public static OciImageLayout Open(string directory)
    {
        string root = NormalizeRoot(directory);
        if (!Directory.Exists(root))
        {
            throw new DirectoryNotFoundException($"OCI image layout '{root}' does not exist.");
        }

        string layoutFile = Path.Combine(root, LayoutFileName);
        if (!File.Exists(layoutFile))
        {
            throw new FileNotFoundException($"'{root}' is not an OCI image layout: it has no {LayoutFileName} file.", layoutFile);
        }

        CheckLayoutFile(layoutFile);
        if (!File.Exists(Path.Combine(root, IndexFileName)))
        {
            throw new FileNotFoundException($"OCI image layout '{root}' has no {IndexFileName}.", Path.Combine(root, IndexFileName));
        }

        return new OciImageLayout(root);
    }

    /// <summary>
    /// Creates a new, empty layout in <paramref name="directory"/> (created when missing). Throws
    /// <see cref="IOException"/> when the directory already holds a layout.
    /// </summary>
    public static OciImageLayout Create(string directory)
    {
        string root = NormalizeRoot(directory);
        Directory.CreateDirectory(root);
        if (File.Exists(Path.Combine(root, LayoutFileName)) || File.Exists(Path.Combine(root, IndexFileName)))
        {
            throw new IOException($"'{root}' already holds an OCI image layout.");
        }

        var layout = new OciImageLayout(root);
        Directory.CreateDirectory(Path.Combine(root, BlobsDirectoryName));
        layout.WriteFileAtomically(LayoutFileName, OciJson.Serialize(new LayoutFile { ImageLayoutVersion = ImageLayoutVersion }));
        layout.WriteFileAtomically(IndexFileName, OciJson.Serialize(new ImageIndex { Manifests = [] }));
        return layout;
    }

    /// <summary>Opens the layout in <paramref name="directory"/>, creating it when the directory holds none.</summary>
    public static OciImageLayout OpenOrCreate(string directory)
    {
        string root = NormalizeRoot(directory);
        return File.Exists(Path.Combine(root, LayoutFileName)) ? Open(root) : Create(root);
    }

    /// <summary>The path of a blob's file (which may not exist). Built only from a parsed digest, so it stays inside the layout.</summary>
    public string GetBlobPath(Digest digest)
    {
        if (digest.IsEmpty)
        {
            throw new ArgumentException("The digest is empty.", nameof(digest));
        }

        return Path.Combine(Root, BlobsDirectoryName, digest.Algorithm, digest.Encoded);
    }

    private static string NormalizeRoot(string directory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        return Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory));
    }

    private static void CheckLayoutFile(string path)
    {
        byte[] bytes = ReadBounded(path, MaxLayoutFileSize, LayoutFileName);
        LayoutFile file;
        try
        {
            file = OciJson.Deserialize<LayoutFile>(bytes, LayoutFileName);
        }
        catch (FormatException ex)
        {
            throw new FormatException($"Invalid {LayoutFileName} file '{path}': {ex.Message}", ex);
        }

        if (file.ImageLayoutVersion is null)
        {
            throw new FormatException($"Invalid {LayoutFileName} file '{path}': no imageLayoutVersion.");
        }

        if (file.ImageLayoutVersion != ImageLayoutVersion)
        {
            throw new NotSupportedException($"OCI image layout version '{file.ImageLayoutVersion}' in '{path}' is not supported (expected {ImageLayoutVersion}).");
        }
    }

    private static byte[] ReadBounded(string path, int maxBytes, string what)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, 1, FileOptions.None);
        if (file.Length > maxBytes)
        {
            throw new ContentTooLargeException($"{what} '{path}' is {file.Length} bytes, over the {maxBytes}-byte limit.");
        }

        byte[] buffer = new byte[file.Length];
        file.ReadExactly(buffer);
        return buffer;
    }

    private sealed class LayoutFile
    {
        public string? ImageLayoutVersion { get; set; }
    }
}
